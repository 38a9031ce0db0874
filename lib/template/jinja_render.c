/* jinja_render.c — the Jinja engine's evaluator: statements, expressions, scopes, macros,
 * operators, and the bounded render (see jinja.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jinja_internal.h"

/* ---------------------------------------------------------------- scopes */

struct jframe {
    jframe *parent;
    int n, cap;
    const char **names;
    jval *vals;
};

static jframe *frame_new(jrender *r, jframe *parent) {
    jframe *f = ja_alloc(&r->arena, sizeof *f);
    f->parent = parent;
    return f;
}

static jval *frame_slot(jframe *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->names[i], name)) return &f->vals[i];
    return NULL;
}

static void frame_set(jrender *r, jframe *f, const char *name, jval v) {
    jval *s = frame_slot(f, name);
    if (s) {
        *s = v;
        return;
    }
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 8;
        const char **nn = ja_alloc(&r->arena, (size_t)cap * sizeof *nn);
        jval *nv = ja_alloc(&r->arena, (size_t)cap * sizeof *nv);
        if (f->n) {
            memcpy(nn, f->names, (size_t)f->n * sizeof *nn);
            memcpy(nv, f->vals, (size_t)f->n * sizeof *nv);
        }
        f->names = nn;
        f->vals = nv;
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->vals[f->n++] = v;
}

static const struct {
    const char *name;
    int fn;
} builtin_globals[] = {{"raise_exception", JF_RAISE}, {"strftime_now", JF_STRFTIME}, {"namespace", JF_NAMESPACE},
                       {"range", JF_RANGE},           {"dict", JF_DICT},             {"cycler", JF_CYCLER},
                       {"joiner", JF_JOINER}};

static jval lookup(jrender *r, jframe *f, const char *name) {
    for (; f; f = f->parent) {
        jval *s = frame_slot(f, name);
        if (s) return *s;
    }
    for (size_t i = 0; i < sizeof builtin_globals / sizeof *builtin_globals; i++)
        if (!strcmp(name, builtin_globals[i].name)) return (jval){.t = JV_FUNC, .i = builtin_globals[i].fn};
    return jv_undef(name);
}

/* ---------------------------------------------------------------- failure and budgets */

ja_arena *jr_arena(jrender *r) { return &r->arena; }

void jr_fail(jrender *r, int code, const char *fmt, ...) {
    if (r->err && r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    r->code = code;
    longjmp(r->jb, 1);
}

void jr_step(jrender *r) {
    if (++r->steps > r->lim->max_steps) jr_fail(r, SL_ETOOBIG, "the template ran more than %ld steps", r->lim->max_steps);
    if ((r->steps & 7) == 0) { /* a vDSO clock read: cheap next to a step */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > r->deadline.tv_sec || (now.tv_sec == r->deadline.tv_sec && now.tv_nsec > r->deadline.tv_nsec))
            jr_fail(r, SL_ETOOBIG, "the template ran longer than %u ms", r->lim->max_ms);
    }
}

int64_t jr_now(jrender *r) { return r->now; }

jval *jb_arg(jargs *a, int i, const char *name) {
    if (name)
        for (int k = 0; k < a->nkw; k++)
            if (!strcmp(a->kwn[k], name)) return &a->kwv[k];
    if (i >= 0 && i < a->npos) return &a->pos[i];
    return NULL;
}

/* ---------------------------------------------------------------- operators */

__attribute__((noreturn)) static void undefined_fail(jrender *r, jval v) {
    if (v.n) jr_fail(r, SL_EINVAL, "'%.*s' is undefined", (int)v.n, v.s);
    jr_fail(r, SL_EINVAL, "a value is undefined");
}

static jval arith(jrender *r, int op, jval a, jval b) {
    static const char *const opname[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    if (a.t == JV_UNDEF) undefined_fail(r, a);
    if (b.t == JV_UNDEF) undefined_fail(r, b);
    if (jv_is_num(a) && jv_is_num(b)) {
        int ints = a.t != JV_FLOAT && b.t != JV_FLOAT;
        if (ints) {
            int64_t x = a.i, y = b.i, z;
            switch (op) {
            case OP_ADD:
                if (__builtin_add_overflow(x, y, &z)) break;
                return jv_int(z);
            case OP_SUB:
                if (__builtin_sub_overflow(x, y, &z)) break;
                return jv_int(z);
            case OP_MUL:
                if (__builtin_mul_overflow(x, y, &z)) break;
                return jv_int(z);
            case OP_DIV:
                if (!y) jr_fail(r, SL_EINVAL, "division by zero");
                return jv_float((double)x / (double)y);
            case OP_FLOORDIV:
            case OP_MOD: {
                if (!y) jr_fail(r, SL_EINVAL, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1) break;
                int64_t q = x / y, m = x % y;
                if (m && ((m < 0) != (y < 0))) {
                    q--;
                    m += y;
                }
                return jv_int(op == OP_MOD ? m : q);
            }
            case OP_POW:
                if (y >= 0) {
                    int64_t res = 1, base = x;
                    int64_t e = y;
                    int ovf = 0;
                    while (e > 0 && !ovf) {
                        if (e & 1) ovf |= __builtin_mul_overflow(res, base, &res);
                        e >>= 1;
                        if (e) ovf |= __builtin_mul_overflow(base, base, &base);
                    }
                    if (!ovf) return jv_int(res);
                    jr_fail(r, SL_ETOOBIG, "integer too large");
                }
                return jv_float(pow((double)x, (double)y));
            }
            jr_fail(r, SL_ETOOBIG, "integer overflow");
        }
        double x = jv_num(a), y = jv_num(b);
        switch (op) {
        case OP_ADD: return jv_float(x + y);
        case OP_SUB: return jv_float(x - y);
        case OP_MUL: return jv_float(x * y);
        case OP_DIV:
            if (y == 0) jr_fail(r, SL_EINVAL, "float division by zero");
            return jv_float(x / y);
        case OP_FLOORDIV:
        case OP_MOD: {
            if (y == 0) jr_fail(r, SL_EINVAL, "float modulo");
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            if (op == OP_MOD) return jv_float(m);
            double div = (x - m) / y, fl = floor(div); /* as CPython's float_floor_div */
            if (div - fl > 0.5) fl += 1.0;
            return jv_float(fl);
        }
        case OP_POW: return jv_float(pow(x, y));
        }
    }
    if (op == OP_ADD && a.t == JV_STR && b.t == JV_STR) {
        jsb s = {0};
        jsb_put(r, &s, a.s, a.n);
        jsb_put(r, &s, b.s, b.n);
        return jsb_val(&s);
    }
    if (op == OP_ADD && a.t == JV_LIST && b.t == JV_LIST && !a.l->tuple == !b.l->tuple) {
        jval l = jv_list_new(r, a.l->n + b.l->n);
        l.l->tuple = a.l->tuple != 0;
        for (size_t i = 0; i < a.l->n; i++) jv_list_push(r, l.l, a.l->v[i]);
        for (size_t i = 0; i < b.l->n; i++) jv_list_push(r, l.l, b.l->v[i]);
        return l;
    }
    if (op == OP_MUL && (a.t == JV_INT || a.t == JV_BOOL) && (b.t == JV_STR || b.t == JV_LIST)) {
        jval t = a;
        a = b;
        b = t;
    }
    if (op == OP_MUL && (a.t == JV_STR || a.t == JV_LIST) && (b.t == JV_INT || b.t == JV_BOOL)) {
        int64_t k = b.i < 0 ? 0 : b.i;
        size_t unit = a.t == JV_STR ? a.n : a.l->n * sizeof(jval);
        if (unit && (uint64_t)k > r->arena.cap / unit) jr_fail(r, SL_ETOOBIG, "the template made a value too large");
        if (a.t == JV_STR) {
            jsb s = {0};
            for (int64_t i = 0; i < k; i++) jsb_put(r, &s, a.s, a.n);
            return jsb_val(&s);
        }
        jval l = jv_list_new(r, a.l->n * (size_t)k);
        l.l->tuple = a.l->tuple != 0;
        for (int64_t i = 0; i < k; i++)
            for (size_t j = 0; j < a.l->n; j++) jv_list_push(r, l.l, a.l->v[j]);
        return l;
    }
    if (op == OP_MOD && a.t == JV_STR) {
        jargs args = {0};
        jval fmt = a;
        if (b.t == JV_LIST && b.l->tuple) {
            args.pos = b.l->v;
            args.npos = (int)b.l->n;
        } else {
            args.pos = &b;
            args.npos = 1;
        }
        jval tuple_or_one = jv_list_new(r, (size_t)args.npos);
        for (int i = 0; i < args.npos; i++) jv_list_push(r, tuple_or_one.l, args.pos[i]);
        jargs pa = {.pos = &tuple_or_one, .npos = 1};
        if (b.t == JV_DICT) pa.pos = &b;
        return jb_method(r, fmt, "__mod__", &pa);
    }
    jr_fail(r, SL_EINVAL, "unsupported operand type(s) for %s: '%s' and '%s'", opname[op], jv_type_name(a),
            jv_type_name(b));
}

static int contains(jrender *r, jval hay, jval needle) {
    switch (hay.t) {
    case JV_UNDEF: return 0;
    case JV_STR:
        if (needle.t != JV_STR)
            jr_fail(r, SL_EINVAL, "'in <string>' requires string as left operand, not %s", jv_type_name(needle));
        if (!needle.n) return 1;
        if (needle.n > hay.n) return 0;
        return memmem(hay.s, hay.n, needle.s, needle.n) != NULL;
    case JV_LIST:
        for (size_t i = 0; i < hay.l->n; i++)
            if (jv_equal(hay.l->v[i], needle)) return 1;
        return 0;
    case JV_DICT:
    case JV_NS: return jv_dict_getv(hay.d, needle) != NULL;
    default: jr_fail(r, SL_EINVAL, "argument of type '%s' is not iterable", jv_type_name(hay));
    }
}

static int compare_op(jrender *r, int op, jval a, jval b) {
    switch (op) {
    case OP_EQ: return jv_equal(a, b);
    case OP_NE: return !jv_equal(a, b);
    case OP_IN: return contains(r, b, a);
    case OP_NOTIN: return !contains(r, b, a);
    }
    if (a.t == JV_UNDEF) undefined_fail(r, a);
    if (b.t == JV_UNDEF) undefined_fail(r, b);
    int c = jv_compare(r, a, b);
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* Python slice of a list, tuple or string. */
static jval slice(jrender *r, jval obj, jval *start, jval *stop, jval *step) {
    int64_t st = 1;
    if (step && step->t != JV_NONE) {
        if (step->t != JV_INT && step->t != JV_BOOL) jr_fail(r, SL_EINVAL, "slice indices must be integers or None");
        st = step->i;
        if (!st) jr_fail(r, SL_EINVAL, "slice step cannot be zero");
    }
    int64_t len;
    size_t *offs = NULL; /* string: byte offset of each code point (+ end) */
    if (obj.t == JV_STR) {
        len = (int64_t)ju_len(obj.s, obj.n);
        offs = ja_alloc(&r->arena, ((size_t)len + 1) * sizeof *offs);
        size_t i = 0;
        for (int64_t k = 0; k < len; k++) {
            offs[k] = i;
            i = ju_next(obj.s, obj.n, i);
        }
        offs[len] = obj.n;
    } else if (obj.t == JV_LIST) {
        len = (int64_t)obj.l->n;
    } else if (obj.t == JV_UNDEF) {
        undefined_fail(r, obj);
    } else {
        jr_fail(r, SL_EINVAL, "'%s' object is not subscriptable", jv_type_name(obj));
    }
    int64_t lo, hi;
    jval *bounds[2] = {start, stop};
    int64_t res[2];
    for (int k = 0; k < 2; k++) {
        jval *b = bounds[k];
        if (!b || b->t == JV_NONE) {
            res[k] = k == 0 ? (st > 0 ? 0 : len - 1) : (st > 0 ? len : -1);
            continue;
        }
        if (b->t != JV_INT && b->t != JV_BOOL) jr_fail(r, SL_EINVAL, "slice indices must be integers or None");
        int64_t v = b->i;
        if (v < 0) {
            v += len;
            if (v < 0) v = st > 0 ? 0 : -1;
        } else if (v >= len) {
            v = st > 0 ? len : len - 1;
        }
        res[k] = v;
    }
    lo = res[0];
    hi = res[1];
    if (obj.t == JV_STR) {
        jsb s = {0};
        if (st == 1) {
            if (hi > lo) jsb_put(r, &s, obj.s + offs[lo], offs[hi] - offs[lo]);
        } else {
            for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) jsb_put(r, &s, obj.s + offs[i], offs[i + 1] - offs[i]);
        }
        return jsb_val(&s);
    }
    jval l = jv_list_new(r, 0);
    l.l->tuple = obj.l->tuple != 0;
    for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) jv_list_push(r, l.l, obj.l->v[i]);
    return l;
}

/* ---------------------------------------------------------------- evaluation */

static jval eval(jrender *r, jframe *f, const jnode *n);
static void exec(jrender *r, jframe *f, const jnode *n, jsb *out);
static jval call_loop(jrender *r, jloop *lp, jargs *a);

typedef struct argbuf {
    jval pos[16], kwv[16];
    const char *kwn[16];
} argbuf;

/* Evaluates the arguments of a call / filter / test node (after SKIP leading slots). */
static jargs eval_args(jrender *r, jframe *f, const jnode *n, int skip, jval first) {
    jargs a = {0};
    int np = skip, nk = 0;
    for (int i = 0; i < n->n; i++) {
        if (n->names && n->names[i]) nk++;
        else np++;
    }
    a.pos = ja_alloc(&r->arena, (size_t)(np ? np : 1) * sizeof(jval));
    a.kwv = ja_alloc(&r->arena, (size_t)(nk ? nk : 1) * sizeof(jval));
    a.kwn = ja_alloc(&r->arena, (size_t)(nk ? nk : 1) * sizeof(char *));
    if (skip) a.pos[a.npos++] = first;
    for (int i = 0; i < n->n; i++) {
        jval v = eval(r, f, n->list[i]);
        if (n->names && n->names[i]) {
            a.kwn[a.nkw] = n->names[i];
            a.kwv[a.nkw++] = v;
        } else {
            a.pos[a.npos++] = v;
        }
    }
    return a;
}

static jval call_macro(jrender *r, jmacro *m, jargs *a, jval caller, int line) {
    const jnode *def = m->def;
    if (r->depth >= r->lim->max_depth) jr_fail(r, SL_ETOOBIG, "macros nested deeper than %d calls", r->lim->max_depth);
    jr_step(r);
    jframe *f = frame_new(r, m->closure);
    int np = def->nnames;
    jval varargs = jv_list_new(r, 0);
    varargs.l->tuple = 1;
    for (int i = 0; i < a->npos; i++) {
        if (i < np) frame_set(r, f, def->names[i], a->pos[i]);
        else if (def->op & MACRO_USES_VARARGS) jv_list_push(r, varargs.l, a->pos[i]);
        else jr_fail(r, SL_EINVAL, "macro '%s' takes not more than %d argument(s)", def->name, np);
    }
    jval kwargs = jv_dict_new(r, 0);
    for (int k = 0; k < a->nkw; k++) {
        int found = 0;
        for (int i = 0; i < np; i++)
            if (!strcmp(a->kwn[k], def->names[i])) {
                if (i < a->npos)
                    jr_fail(r, SL_EINVAL, "macro '%s' got multiple values for argument '%s'", def->name, a->kwn[k]);
                frame_set(r, f, def->names[i], a->kwv[k]);
                found = 1;
            }
        if (!found) {
            if (!strcmp(a->kwn[k], "caller")) caller = a->kwv[k];
            else if (!(def->op & MACRO_USES_KWARGS))
                jr_fail(r, SL_EINVAL, "macro '%s' takes no keyword argument '%s'", def->name, a->kwn[k]);
            else jv_dict_set(r, kwargs.d, jv_strn(a->kwn[k], strlen(a->kwn[k])), a->kwv[k]);
        }
    }
    for (int i = 0; i < np; i++) {
        if (frame_slot(f, def->names[i])) continue;
        frame_set(r, f, def->names[i], def->list[i] ? eval(r, f, def->list[i]) : jv_undef(def->names[i]));
    }
    frame_set(r, f, "varargs", varargs);
    frame_set(r, f, "kwargs", kwargs);
    if (caller.t != JV_UNDEF) frame_set(r, f, "caller", caller);
    jsb out = {0};
    r->depth++;
    int ctl = r->ctl;
    r->ctl = 0;
    exec(r, f, def->b, &out);
    r->ctl = ctl;
    r->depth--;
    (void)line;
    return jsb_val(&out);
}

static jval call_builtin(jrender *r, int fn, jargs *a, int line) {
    switch (fn) {
    case JF_RAISE: {
        jval *m = jb_arg(a, 0, "message");
        jval s = m ? jv_to_str(r, *m) : jv_strn("", 0);
        jr_fail(r, SL_JINJA_RAISED, "%.*s", (int)s.n, s.s);
    }
    case JF_STRFTIME: {
        jval *fmt = jb_arg(a, 0, NULL);
        if (!fmt || fmt->t != JV_STR) jr_fail(r, SL_EINVAL, "strftime_now() takes a format string");
        if (fmt->n > 256) jr_fail(r, SL_EINVAL, "strftime_now(): format too long");
        char fbuf[260], out[1024];
        memcpy(fbuf, fmt->s, fmt->n);
        fbuf[fmt->n] = 0;
        time_t t = (time_t)r->now;
        struct tm tm;
        gmtime_r(&t, &tm);
        size_t k = fmt->n ? strftime(out, sizeof out, fbuf, &tm) : 0;
        return jv_str_copy(r, out, k);
    }
    case JF_NAMESPACE: {
        jval ns = jv_dict_new(r, 0);
        ns.t = JV_NS;
        for (int i = 0; i < a->npos; i++) {
            jval d = a->pos[i];
            if (d.t != JV_DICT && d.t != JV_NS) jr_fail(r, SL_EINVAL, "namespace() takes a dict or keyword arguments");
            for (size_t k = 0; k < d.d->n; k++) jv_dict_set(r, ns.d, d.d->k[k], d.d->v[k]);
        }
        for (int k = 0; k < a->nkw; k++) jv_dict_set(r, ns.d, jv_strn(a->kwn[k], strlen(a->kwn[k])), a->kwv[k]);
        return ns;
    }
    case JF_DICT: {
        jval d = jv_dict_new(r, 0);
        for (int i = 0; i < a->npos; i++) {
            jval s = a->pos[i];
            if (s.t == JV_DICT) {
                for (size_t k = 0; k < s.d->n; k++) jv_dict_set(r, d.d, s.d->k[k], s.d->v[k]);
            } else {
                jval it = jv_iterate(r, s);
                for (size_t k = 0; k < it.l->n; k++) {
                    jval p = it.l->v[k];
                    if (p.t != JV_LIST || p.l->n != 2) jr_fail(r, SL_EINVAL, "dict() needs pairs");
                    jv_dict_set(r, d.d, p.l->v[0], p.l->v[1]);
                }
            }
        }
        for (int k = 0; k < a->nkw; k++) jv_dict_set(r, d.d, jv_strn(a->kwn[k], strlen(a->kwn[k])), a->kwv[k]);
        return d;
    }
    case JF_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (a->npos < 1 || a->npos > 3) jr_fail(r, SL_EINVAL, "range expected 1 to 3 arguments, got %d", a->npos);
        for (int i = 0; i < a->npos; i++) {
            if (a->pos[i].t != JV_INT && a->pos[i].t != JV_BOOL)
                jr_fail(r, SL_EINVAL, "'%s' object cannot be interpreted as an integer", jv_type_name(a->pos[i]));
        }
        if (a->npos == 1) v[1] = a->pos[0].i;
        else {
            v[0] = a->pos[0].i;
            v[1] = a->pos[1].i;
            if (a->npos == 3) v[2] = a->pos[2].i;
        }
        if (!v[2]) jr_fail(r, SL_EINVAL, "range() arg 3 must not be zero");
        double count = v[2] > 0 ? ceil(((double)v[1] - (double)v[0]) / (double)v[2])
                                : ceil(((double)v[0] - (double)v[1]) / (double)-v[2]);
        if (count < 0) count = 0;
        if (count > 100000) jr_fail(r, SL_ETOOBIG, "range too big (at most 100000 items)");
        jval l = jv_list_new(r, (size_t)count);
        for (int64_t i = 0; i < (int64_t)count; i++) l.l->v[l.l->n++] = jv_int(v[0] + i * v[2]);
        return l;
    }
    default: jr_fail(r, SL_EINVAL, "line %d: '%s' is not supported", line, fn == JF_CYCLER ? "cycler" : "joiner");
    }
}

jval jr_call_value(jrender *r, jval fn, jargs *a, int line) {
    switch (fn.t) {
    case JV_MACRO: return call_macro(r, fn.mc, a, fn.mc->caller, line);
    case JV_FUNC: return call_builtin(r, (int)fn.i, a, line);
    case JV_METHOD: return jb_method(r, fn.me->self, fn.me->name, a);
    case JV_LOOP: return call_loop(r, fn.lp, a);
    case JV_UNDEF: undefined_fail(r, fn);
    default: jr_fail(r, SL_EINVAL, "'%s' object is not callable", jv_type_name(fn));
    }
}

static void assign(jrender *r, jframe *f, const jnode *target, jval v) {
    if (target->kind == N_NAME) {
        frame_set(r, f, target->name, v);
        return;
    }
    if (target->kind == N_GETATTR) { /* ns.attr */
        jval ns = lookup(r, f, target->a->name);
        if (ns.t != JV_NS) jr_fail(r, SL_EINVAL, "line %d: cannot assign attribute on non-namespace object", target->line);
        jv_dict_set(r, ns.d, jv_strn(target->name, strlen(target->name)), v);
        return;
    }
    /* tuple of names */
    jval items = v.t == JV_LIST ? v : jv_iterate(r, v);
    if (items.l->n != (size_t)target->n)
        jr_fail(r, SL_EINVAL, "%s values to unpack (expected %d, got %zu)",
                items.l->n > (size_t)target->n ? "too many" : "not enough", target->n, items.l->n);
    for (int i = 0; i < target->n; i++) assign(r, f, target->list[i], items.l->v[i]);
}

static jval eval(jrender *r, jframe *f, const jnode *n) {
    switch (n->kind) {
    case N_LIT: return n->lit;
    case N_NAME: return lookup(r, f, n->name);
    case N_GETATTR: return jb_getattr(r, eval(r, f, n->a), n->name, strlen(n->name));
    case N_GETITEM: {
        jval o = eval(r, f, n->a);
        return jb_getitem(r, o, eval(r, f, n->b));
    }
    case N_SLICE: {
        jval o = eval(r, f, n->a);
        jval b, c, d;
        if (n->b) b = eval(r, f, n->b);
        if (n->c) c = eval(r, f, n->c);
        if (n->d) d = eval(r, f, n->d);
        return slice(r, o, n->b ? &b : NULL, n->c ? &c : NULL, n->d ? &d : NULL);
    }
    case N_CALL: {
        jval fn = eval(r, f, n->a);
        jargs a = eval_args(r, f, n, 0, jv_none());
        return jr_call_value(r, fn, &a, n->line);
    }
    case N_FILTER: {
        jval v = eval(r, f, n->a);
        jargs a = eval_args(r, f, n, 1, v);
        jr_step(r);
        return jb_filter(r, n->name, &a, n->line);
    }
    case N_TEST: {
        jval v = eval(r, f, n->a);
        jargs a = eval_args(r, f, n, 1, v);
        int res = jb_test(r, n->name, &a, n->line);
        return jv_bool(n->op ? !res : res);
    }
    case N_BIN: {
        jval a = eval(r, f, n->a);
        jval b = eval(r, f, n->b);
        if (n->op == OP_CONCAT) {
            jsb s = {0};
            jv_str_into(r, &s, a);
            jv_str_into(r, &s, b);
            return jsb_val(&s);
        }
        return arith(r, n->op, a, b);
    }
    case N_NEG:
    case N_POS: {
        jval a = eval(r, f, n->a);
        if (a.t == JV_UNDEF) undefined_fail(r, a);
        if (a.t == JV_FLOAT) return jv_float(n->kind == N_NEG ? -a.f : a.f);
        if (a.t == JV_INT || a.t == JV_BOOL) {
            if (n->kind == N_POS) return jv_int(a.i);
            if (a.i == INT64_MIN) jr_fail(r, SL_ETOOBIG, "integer overflow");
            return jv_int(-a.i);
        }
        jr_fail(r, SL_EINVAL, "bad operand type for unary %c: '%s'", n->kind == N_NEG ? '-' : '+', jv_type_name(a));
    }
    case N_NOT: return jv_bool(!jv_truthy(eval(r, f, n->a)));
    case N_AND: {
        jval a = eval(r, f, n->a);
        return jv_truthy(a) ? eval(r, f, n->b) : a;
    }
    case N_OR: {
        jval a = eval(r, f, n->a);
        return jv_truthy(a) ? a : eval(r, f, n->b);
    }
    case N_COMPARE: {
        jval a = eval(r, f, n->a);
        for (int i = 0; i < n->n; i++) {
            jval b = eval(r, f, n->list[i]);
            if (!compare_op(r, n->ops[i], a, b)) return jv_bool(0);
            a = b;
        }
        return jv_bool(1);
    }
    case N_COND:
        if (jv_truthy(eval(r, f, n->a))) return eval(r, f, n->b);
        return n->c ? eval(r, f, n->c) : jv_undef(NULL);
    case N_LIST:
    case N_TUPLE: {
        jval l = jv_list_new(r, (size_t)n->n);
        l.l->tuple = n->kind == N_TUPLE;
        for (int i = 0; i < n->n; i++) l.l->v[l.l->n++] = eval(r, f, n->list[i]);
        return l;
    }
    case N_DICT: {
        jval d = jv_dict_new(r, (size_t)n->n);
        for (int i = 0; i < n->n; i++) {
            jval k = eval(r, f, n->list[i]);
            if (k.t == JV_LIST && !k.l->tuple) jr_fail(r, SL_EINVAL, "unhashable type: 'list'");
            if (k.t == JV_DICT) jr_fail(r, SL_EINVAL, "unhashable type: 'dict'");
            jv_dict_set(r, d.d, k, eval(r, f, n->list2[i]));
        }
        return d;
    }
    default: jr_fail(r, SL_EINVAL, "line %d: not an expression", n->line);
    }
}

static void emit(jrender *r, jsb *out, const char *s, size_t n) {
    if (out->n + n > r->out_max) jr_fail(r, SL_ETOOBIG, "the rendered text is longer than %zu bytes", r->out_max);
    jsb_put(r, out, s, n);
}

/* The body of the for loop N over SEQ (DEPTH0: 0, or the depth of a recursive loop() call). */
static void exec_for_items(jrender *r, jframe *f, const jnode *n, jval seq, int depth0, jsb *out) {
    jval items = jv_iterate(r, seq);
    jframe *lf = frame_new(r, f);
    if (n->c) { /* for x in y if cond: filtered first, loop.* counts what is left */
        jval kept = jv_list_new(r, 0);
        for (size_t i = 0; i < items.l->n; i++) {
            jr_step(r);
            assign(r, lf, n->a, items.l->v[i]);
            if (jv_truthy(eval(r, lf, n->c))) jv_list_push(r, kept.l, items.l->v[i]);
        }
        items = kept;
    }
    jloop *lp = ja_alloc(&r->arena, sizeof *lp);
    lp->items = items.l;
    lp->length = (int64_t)items.l->n;
    lp->depth0 = depth0;
    lp->node = n;
    lp->frame = f;
    for (size_t i = 0; i < items.l->n; i++) {
        jr_step(r);
        lp->index0 = (int64_t)i;
        lf->n = 0; /* each iteration starts with a fresh scope, as in jinja2 */
        assign(r, lf, n->a, items.l->v[i]);
        frame_set(r, lf, "loop", (jval){.t = JV_LOOP, .lp = lp});
        exec(r, lf, n->d, out);
        if (r->ctl == 1) {
            r->ctl = 0;
            break;
        }
        r->ctl = 0;
    }
    if (!items.l->n && n->n2) exec(r, f, n->list2[0], out);
}

/* loop(items) inside a `recursive` for loop: the loop's body over ITEMS, one level deeper. */
static jval call_loop(jrender *r, jloop *lp, jargs *a) {
    if (!lp->node || lp->node->op != 1)
        jr_fail(r, SL_EINVAL, "The loop must have the 'recursive' marker to be called recursively.");
    if (a->npos != 1 || a->nkw) jr_fail(r, SL_EINVAL, "loop() takes one argument, the items");
    if (r->depth >= r->lim->max_depth) jr_fail(r, SL_ETOOBIG, "recursive loops nested deeper than %d", r->lim->max_depth);
    jsb s = {0};
    r->depth++;
    int ctl = r->ctl;
    r->ctl = 0;
    exec_for_items(r, lp->frame, lp->node, a->pos[0], lp->depth0 + 1, &s);
    r->ctl = ctl;
    r->depth--;
    return jsb_val(&s);
}

static jval apply_filter_chain(jrender *r, jframe *f, const jnode *chain, const jnode *holder, jval v) {
    /* CHAIN is a filter expression whose innermost operand is HOLDER (a placeholder). */
    if (chain == holder) return v;
    jval inner = apply_filter_chain(r, f, chain->a, holder, v);
    jargs a = eval_args(r, f, chain, 1, inner);
    if (chain->kind != N_FILTER) jr_fail(r, SL_EINVAL, "line %d: expected a filter", chain->line);
    return jb_filter(r, chain->name, &a, chain->line);
}

static void exec(jrender *r, jframe *f, const jnode *n, jsb *out) {
    switch (n->kind) {
    case N_BODY:
        for (int i = 0; i < n->n && !r->ctl; i++) exec(r, f, n->list[i], out);
        return;
    case N_TEXT: emit(r, out, n->lit.s, n->lit.n); return;
    case N_OUTPUT: {
        jval v = eval(r, f, n->a);
        if (v.t == JV_STR) {
            emit(r, out, v.s, v.n);
        } else {
            jsb s = {0};
            jv_str_into(r, &s, v);
            emit(r, out, s.p, s.n);
        }
        return;
    }
    case N_IF:
        if (jv_truthy(eval(r, f, n->a))) exec(r, f, n->b, out);
        else if (n->c) exec(r, f, n->c, out);
        return;
    case N_FOR: exec_for_items(r, f, n, eval(r, f, n->b), 0, out); return;
    case N_SET: assign(r, f, n->a, eval(r, f, n->b)); return;
    case N_SETBLOCK: {
        jsb s = {0};
        exec(r, f, n->b, &s);
        jval v = jsb_val(&s);
        if (n->c) v = apply_filter_chain(r, f, n->c, n->d, v);
        assign(r, f, n->a, v);
        return;
    }
    case N_MACRO: {
        jmacro *m = ja_alloc(&r->arena, sizeof *m);
        m->def = n;
        m->closure = f;
        m->caller = jv_undef(NULL);
        frame_set(r, f, n->name, (jval){.t = JV_MACRO, .mc = m});
        return;
    }
    case N_CALLBLOCK: {
        jmacro *c = ja_alloc(&r->arena, sizeof *c);
        c->def = n->b;
        c->closure = f;
        c->caller = jv_undef(NULL);
        jval fn = eval(r, f, n->a->a);
        jargs a = eval_args(r, f, n->a, 0, jv_none());
        jval res;
        jval cv = {.t = JV_MACRO, .mc = c};
        if (fn.t == JV_MACRO) res = call_macro(r, fn.mc, &a, cv, n->line);
        else res = jr_call_value(r, fn, &a, n->line);
        jsb s = {0};
        jv_str_into(r, &s, res);
        emit(r, out, s.p, s.n);
        return;
    }
    case N_FILTERBLOCK: {
        jsb s = {0};
        exec(r, f, n->b, &s);
        jval v = apply_filter_chain(r, f, n->c, n->d, jsb_val(&s));
        jsb o = {0};
        jv_str_into(r, &o, v);
        emit(r, out, o.p, o.n);
        return;
    }
    case N_BREAK: r->ctl = 1; return;
    case N_CONTINUE: r->ctl = 2; return;
    case N_WITH: {
        jframe *wf = frame_new(r, f);
        for (int i = 0; i < n->n; i++) frame_set(r, wf, n->names[i], eval(r, f, n->list[i]));
        exec(r, wf, n->b, out);
        return;
    }
    default: {
        jval v = eval(r, f, n);
        (void)v;
    }
    }
}

/* ---------------------------------------------------------------- entry */

static int64_t clock_now(void) {
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        char *end;
        long long v = strtoll(sde, &end, 10);
        if (!*end && v >= 0) return v;
    }
    return (int64_t)time(NULL);
}

int sl_jinja_render(const sl_jinja *t, const json_t *ctx, const sl_jinja_limits *lim, char **out, size_t *len,
                    char *err, size_t errlen) {
    *out = NULL;
    if (len) *len = 0;
    sl_jinja_limits L = lim ? *lim : (sl_jinja_limits){.now = -1};
    if (!L.max_output) L.max_output = (size_t)4 << 20;
    if (!L.max_memory) L.max_memory = (size_t)64 << 20;
    if (!L.max_steps) L.max_steps = 1000000;
    if (!L.max_depth) L.max_depth = 64;
    if (!L.max_ms) L.max_ms = 2000;
    jrender *r = calloc(1, sizeof *r);
    if (!r) return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    r->err = err;
    r->errlen = errlen;
    r->lim = &L;
    r->out_max = L.max_output;
    r->now = L.now >= 0 ? L.now : clock_now();
    r->arena.cap = L.max_memory + 2 * L.max_output;
    r->arena.fail = &r->jb;
    r->arena.fail_code = &r->code;
    clock_gettime(CLOCK_MONOTONIC, &r->deadline);
    r->deadline.tv_sec += L.max_ms / 1000;
    r->deadline.tv_nsec += (long)(L.max_ms % 1000) * 1000000L;
    if (r->deadline.tv_nsec >= 1000000000L) {
        r->deadline.tv_sec++;
        r->deadline.tv_nsec -= 1000000000L;
    }
    int rc;
    if (setjmp(r->jb)) {
        rc = r->code ? r->code : SL_EINVAL;
        if (rc == SL_ENOMEM) sl__errf(err, errlen, rc, "out of memory rendering the template");
        else if (rc == SL_ETOOBIG && err && errlen && !err[0])
            sl__errf(err, errlen, rc, "the template used more than %zu bytes of memory", L.max_memory);
        ja_free_all(&r->arena);
        free(r);
        return rc;
    }
    if (err && errlen) err[0] = 0;
    jframe *g = frame_new(r, NULL);
    r->globals = g;
    if (json_is_object(ctx)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)ctx, k, v) frame_set(r, g, k, jv_from_json(r, v));
    }
    jsb o = {0};
    exec(r, g, t->root, &o);
    char *res = malloc(o.n + 1);
    if (!res) {
        ja_free_all(&r->arena);
        free(r);
        return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    }
    if (o.n) memcpy(res, o.p, o.n);
    res[o.n] = 0;
    *out = res;
    if (len) *len = o.n;
    ja_free_all(&r->arena);
    free(r);
    return 0;
}
