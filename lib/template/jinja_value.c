/* jinja_value.c — the Jinja engine's values with Python's semantics: truth, equality,
 * ordering, str() and repr() printing, json.dumps, and conversion from JSON input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "error.h"
#include "jinja_internal.h"

/* ---------------------------------------------------------------- strings and containers */

void jsb_put(jrender *r, jsb *b, const char *s, size_t n) {
    if (!n) return;
    if (n > b->cap - b->n) {
        if (n > r->arena.cap || b->n > r->arena.cap - n) jr_fail(r, SL_ETOOBIG, "the template made a string too large");
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + n) cap *= 2;
        char *p = ja_alloc(&r->arena, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
void jsb_str(jrender *r, jsb *b, const char *s) { jsb_put(r, b, s, strlen(s)); }
void jsb_char(jrender *r, jsb *b, char c) { jsb_put(r, b, &c, 1); }
jval jsb_val(jsb *b) { return jv_strn(b->p ? b->p : "", b->n); }

jval jv_str_copy(jrender *r, const char *s, size_t n) { return jv_strn(ja_strndup(&r->arena, s, n), n); }

jval jv_list_new(jrender *r, size_t cap) {
    jlist *l = ja_alloc(&r->arena, sizeof *l);
    if (cap) {
        if (cap > r->arena.cap / sizeof(jval)) jr_fail(r, SL_ETOOBIG, "the template made a list too large");
        l->v = ja_alloc(&r->arena, cap * sizeof(jval));
    }
    l->cap = cap;
    return (jval){.t = JV_LIST, .l = l};
}

void jv_list_push(jrender *r, jlist *l, jval v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        if (cap > r->arena.cap / sizeof(jval)) jr_fail(r, SL_ETOOBIG, "the template made a list too large");
        jval *nv = ja_alloc(&r->arena, cap * sizeof *nv);
        if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

jval jv_dict_new(jrender *r, size_t cap) {
    jdict *d = ja_alloc(&r->arena, sizeof *d);
    if (cap) {
        if (cap > r->arena.cap / sizeof(jval)) jr_fail(r, SL_ETOOBIG, "the template made a dict too large");
        d->k = ja_alloc(&r->arena, cap * sizeof(jval));
        d->v = ja_alloc(&r->arena, cap * sizeof(jval));
    }
    d->cap = cap;
    return (jval){.t = JV_DICT, .d = d};
}

jval *jv_dict_get(const jdict *d, const char *key, size_t klen) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JV_STR && d->k[i].n == klen && !memcmp(d->k[i].s, key, klen)) return &d->v[i];
    return NULL;
}

jval *jv_dict_getv(const jdict *d, jval key) {
    if (key.t == JV_STR) return jv_dict_get(d, key.s, key.n);
    for (size_t i = 0; i < d->n; i++)
        if (jv_equal(d->k[i], key)) return &d->v[i];
    return NULL;
}

void jv_dict_set(jrender *r, jdict *d, jval key, jval v) {
    jval *slot = jv_dict_getv(d, key);
    if (slot) {
        *slot = v;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        if (cap > r->arena.cap / sizeof(jval)) jr_fail(r, SL_ETOOBIG, "the template made a dict too large");
        jval *nk = ja_alloc(&r->arena, cap * sizeof *nk), *nv = ja_alloc(&r->arena, cap * sizeof *nv);
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof *nk);
            memcpy(nv, d->v, d->n * sizeof *nv);
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n++] = v;
}

/* ---------------------------------------------------------------- UTF-8 */

size_t ju_next(const char *s, size_t n, size_t i) {
    i++;
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
    return i;
}
size_t ju_len(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}
size_t ju_offset(const char *s, size_t n, int64_t cp) {
    size_t i = 0;
    while (cp > 0 && i < n) {
        i = ju_next(s, n, i);
        cp--;
    }
    return i;
}

/* ---------------------------------------------------------------- Python semantics */

const char *jv_type_name(jval v) {
    switch (v.t) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v.l->tuple ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    case JV_MACRO: return "Macro";
    case JV_FUNC: return "function";
    case JV_METHOD: return "builtin_function_or_method";
    case JV_LOOP: return "LoopContext";
    }
    return "object";
}

int jv_is_num(jval v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }
double jv_num(jval v) { return v.t == JV_FLOAT ? v.f : (double)v.i; }

int jv_truthy(jval v) {
    switch (v.t) {
    case JV_UNDEF:
    case JV_NONE: return 0;
    case JV_BOOL:
    case JV_INT: return v.i != 0;
    case JV_FLOAT: return v.f != 0;
    case JV_STR: return v.n > 0;
    case JV_LIST: return v.l->n > 0;
    case JV_DICT: return v.d->n > 0;
    default: return 1;
    }
}

int jv_equal(jval a, jval b) {
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT) return a.i == b.i;
        return jv_num(a) == jv_num(b);
    }
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JV_UNDEF:
    case JV_NONE: return 1;
    case JV_STR: return a.n == b.n && !memcmp(a.s, b.s, a.n);
    case JV_LIST:
        if (a.l->n != b.l->n || !a.l->tuple != !b.l->tuple) return 0;
        for (size_t i = 0; i < a.l->n; i++)
            if (!jv_equal(a.l->v[i], b.l->v[i])) return 0;
        return 1;
    case JV_DICT:
        if (a.d->n != b.d->n) return 0;
        for (size_t i = 0; i < a.d->n; i++) {
            jval *o = jv_dict_getv(b.d, a.d->k[i]);
            if (!o || !jv_equal(a.d->v[i], *o)) return 0;
        }
        return 1;
    case JV_NS: return a.d == b.d;
    case JV_MACRO: return a.mc == b.mc;
    case JV_FUNC: return a.i == b.i;
    case JV_LOOP: return a.lp == b.lp;
    case JV_METHOD: return a.me == b.me;
    }
    return 0;
}

int jv_compare(jrender *r, jval a, jval b) {
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT) return a.i < b.i ? -1 : a.i > b.i;
        double x = jv_num(a), y = jv_num(b);
        return x < y ? -1 : x > y;
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        size_t m = a.n < b.n ? a.n : b.n;
        int c = m ? memcmp(a.s, b.s, m) : 0;
        if (c) return c < 0 ? -1 : 1;
        return a.n < b.n ? -1 : a.n > b.n;
    }
    if (a.t == JV_LIST && b.t == JV_LIST && !a.l->tuple == !b.l->tuple) {
        for (size_t i = 0; i < a.l->n && i < b.l->n; i++)
            if (!jv_equal(a.l->v[i], b.l->v[i])) return jv_compare(r, a.l->v[i], b.l->v[i]);
        return a.l->n < b.l->n ? -1 : a.l->n > b.l->n;
    }
    jr_fail(r, SL_EINVAL, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a), jv_type_name(b));
}

/* ---------------------------------------------------------------- printing */

void jv_float_repr(double f, char *out, size_t outlen) {
    if (isnan(f)) {
        snprintf(out, outlen, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(out, outlen, f < 0 ? "-inf" : "inf");
        return;
    }
    if (f == 0) {
        snprintf(out, outlen, signbit(f) ? "-0.0" : "0.0");
        return;
    }
    char buf[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
        if (strtod(buf, NULL) == f) break;
    }
    /* buf: [-]d.ddde[+-]XX → digits and exponent */
    char digits[32];
    int nd = 0, neg = buf[0] == '-';
    const char *q = buf + neg;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9' && nd < 31) digits[nd++] = *q;
    digits[nd] = 0;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = 0;
    char *w = out;
    size_t left = outlen;
#define PUT(...)                                         \
    do {                                                 \
        int k_ = snprintf(w, left, __VA_ARGS__);         \
        if (k_ < 0 || (size_t)k_ >= left) return;        \
        w += k_;                                         \
        left -= (size_t)k_;                              \
    } while (0)
    if (neg) PUT("-");
    if (exp < -4 || exp >= 16) {
        PUT("%c", digits[0]);
        if (nd > 1) PUT(".%s", digits + 1);
        PUT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        PUT("0.");
        for (int i = 0; i < -exp - 1; i++) PUT("0");
        PUT("%s", digits);
    } else {
        for (int i = 0; i <= exp; i++) PUT("%c", i < nd ? digits[i] : '0');
        PUT(".");
        if (nd > exp + 1)
            PUT("%s", digits + exp + 1);
        else
            PUT("0");
    }
#undef PUT
}

/* Python's str.isprintable() for one code point. */
static int cp_printable(int32_t cp) {
    if (cp == ' ') return 1;
    if (cp < 0x20 || cp == 0x7f) return 0;
    if (cp < 0x7f) return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS: return 0;
    default: return 1;
    }
}

static void repr_str(jrender *r, jsb *b, const char *s, size_t n) {
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    jsb_char(r, b, q);
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            char e[8];
            if (c == '\\') jsb_str(r, b, "\\\\");
            else if (c == (unsigned char)q) { jsb_char(r, b, '\\'); jsb_char(r, b, q); }
            else if (c == '\n') jsb_str(r, b, "\\n");
            else if (c == '\r') jsb_str(r, b, "\\r");
            else if (c == '\t') jsb_str(r, b, "\\t");
            else if (c < 0x20 || c == 0x7f) { snprintf(e, sizeof e, "\\x%02x", c); jsb_str(r, b, e); }
            else jsb_char(r, b, (char)c);
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) { /* invalid UTF-8 (cannot come from JSON input): the byte as is */
            jsb_char(r, b, (char)c);
            i++;
            continue;
        }
        if (cp_printable(cp)) {
            jsb_put(r, b, s + i, (size_t)k);
        } else {
            char e[16];
            if (cp < 0x100) snprintf(e, sizeof e, "\\x%02x", (unsigned)cp);
            else if (cp < 0x10000) snprintf(e, sizeof e, "\\u%04x", (unsigned)cp);
            else snprintf(e, sizeof e, "\\U%08x", (unsigned)cp);
            jsb_str(r, b, e);
        }
        i += (size_t)k;
    }
    jsb_char(r, b, q);
}

static void print_value(jrender *r, jsb *b, jval v, int repr);

static void print_dict_items(jrender *r, jsb *b, const jdict *d) {
    jsb_char(r, b, '{');
    for (size_t i = 0; i < d->n; i++) {
        if (i) jsb_str(r, b, ", ");
        print_value(r, b, d->k[i], 1);
        jsb_str(r, b, ": ");
        print_value(r, b, d->v[i], 1);
    }
    jsb_char(r, b, '}');
}

static void print_value(jrender *r, jsb *b, jval v, int repr) {
    char tmp[64];
    switch (v.t) {
    case JV_UNDEF:
        if (repr) jsb_str(r, b, "Undefined");
        break;
    case JV_NONE: jsb_str(r, b, "None"); break;
    case JV_BOOL: jsb_str(r, b, v.i ? "True" : "False"); break;
    case JV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.i);
        jsb_str(r, b, tmp);
        break;
    case JV_FLOAT:
        jv_float_repr(v.f, tmp, sizeof tmp);
        jsb_str(r, b, tmp);
        break;
    case JV_STR:
        if (repr) repr_str(r, b, v.s, v.n);
        else jsb_put(r, b, v.s, v.n);
        break;
    case JV_LIST:
        if (r->depth > 500) jr_fail(r, SL_ETOOBIG, "value nested too deeply to print");
        r->depth++;
        jsb_char(r, b, v.l->tuple ? '(' : '[');
        for (size_t i = 0; i < v.l->n; i++) {
            if (i) jsb_str(r, b, ", ");
            print_value(r, b, v.l->v[i], 1);
        }
        if (v.l->tuple && v.l->n == 1) jsb_char(r, b, ',');
        jsb_char(r, b, v.l->tuple ? ')' : ']');
        r->depth--;
        break;
    case JV_DICT:
        if (r->depth > 500) jr_fail(r, SL_ETOOBIG, "value nested too deeply to print");
        r->depth++;
        print_dict_items(r, b, v.d);
        r->depth--;
        break;
    case JV_NS:
        jsb_str(r, b, "<Namespace ");
        print_dict_items(r, b, v.d);
        jsb_char(r, b, '>');
        break;
    case JV_MACRO:
        jsb_str(r, b, "<Macro '");
        jsb_str(r, b, v.mc->def->name ? v.mc->def->name : "caller");
        jsb_str(r, b, "'>");
        break;
    case JV_FUNC: jsb_str(r, b, "<built-in function>"); break;
    case JV_METHOD:
        jsb_str(r, b, "<built-in method ");
        jsb_str(r, b, v.me->name);
        jsb_str(r, b, " of ");
        jsb_str(r, b, jv_type_name(v.me->self));
        jsb_str(r, b, " object>");
        break;
    case JV_LOOP:
        snprintf(tmp, sizeof tmp, "<LoopContext %lld/%lld>", (long long)v.lp->index0 + 1, (long long)v.lp->length);
        jsb_str(r, b, tmp);
        break;
    }
}

void jv_str_into(jrender *r, jsb *b, jval v) { print_value(r, b, v, 0); }
void jv_repr_into(jrender *r, jsb *b, jval v) { print_value(r, b, v, 1); }

jval jv_to_str(jrender *r, jval v) {
    if (v.t == JV_STR) return v;
    jsb b = {0};
    print_value(r, &b, v, 0);
    return jsb_val(&b);
}

/* ---------------------------------------------------------------- JSON */

static void json_str(jrender *r, jsb *b, const char *s, size_t n) {
    jsb_char(r, b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        char u[8];
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c == '\b') e = "\\b";
        else if (c == '\f') e = "\\f";
        else if (c < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", c);
            e = u;
        }
        if (e) {
            jsb_put(r, b, s + run, i - run);
            jsb_str(r, b, e);
            run = i + 1;
        }
    }
    jsb_put(r, b, s + run, n - run);
    jsb_char(r, b, '"');
}

static void json_newline(jrender *r, jsb *b, const char *indent, size_t indent_n, int level) {
    jsb_char(r, b, '\n');
    for (int i = 0; i < level; i++) jsb_put(r, b, indent, indent_n);
}

/* A dict key as json.dumps makes it: str keys as they are, others converted. */
static jval json_key(jrender *r, jval k) {
    char tmp[64];
    switch (k.t) {
    case JV_STR: return k;
    case JV_BOOL: return jv_strn(k.i ? "true" : "false", k.i ? 4 : 5);
    case JV_NONE: return jv_strn("null", 4);
    case JV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)k.i);
        return jv_str_copy(r, tmp, strlen(tmp));
    case JV_FLOAT:
        jv_float_repr(k.f, tmp, sizeof tmp);
        return jv_str_copy(r, tmp, strlen(tmp));
    default: jr_fail(r, SL_EINVAL, "keys must be str, int, float, bool or None, not %s", jv_type_name(k));
    }
}

void jv_json_into(jrender *r, jsb *b, jval v, const char *indent, size_t indent_n, const char *item_sep,
                  const char *key_sep, int sort_keys, int level) {
    char tmp[64];
    if (level > 500) jr_fail(r, SL_ETOOBIG, "value nested too deeply for tojson");
    switch (v.t) {
    case JV_NONE: jsb_str(r, b, "null"); break;
    case JV_BOOL: jsb_str(r, b, v.i ? "true" : "false"); break;
    case JV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.i);
        jsb_str(r, b, tmp);
        break;
    case JV_FLOAT:
        if (isnan(v.f)) jsb_str(r, b, "NaN");
        else if (isinf(v.f)) jsb_str(r, b, v.f < 0 ? "-Infinity" : "Infinity");
        else {
            jv_float_repr(v.f, tmp, sizeof tmp);
            jsb_str(r, b, tmp);
        }
        break;
    case JV_STR: json_str(r, b, v.s, v.n); break;
    case JV_LIST:
        if (!v.l->n) {
            jsb_str(r, b, "[]");
            break;
        }
        jsb_char(r, b, '[');
        for (size_t i = 0; i < v.l->n; i++) {
            if (i) jsb_str(r, b, item_sep);
            if (indent) json_newline(r, b, indent, indent_n, level + 1);
            jv_json_into(r, b, v.l->v[i], indent, indent_n, item_sep, key_sep, sort_keys, level + 1);
        }
        if (indent) json_newline(r, b, indent, indent_n, level);
        jsb_char(r, b, ']');
        break;
    case JV_DICT: {
        const jdict *d = v.d;
        if (!d->n) {
            jsb_str(r, b, "{}");
            break;
        }
        size_t *order = ja_alloc(&r->arena, d->n * sizeof *order);
        jval *keys = ja_alloc(&r->arena, d->n * sizeof *keys);
        for (size_t i = 0; i < d->n; i++) {
            order[i] = i;
            keys[i] = json_key(r, d->k[i]);
        }
        if (sort_keys) /* insertion sort: stable, dicts are small */
            for (size_t i = 1; i < d->n; i++)
                for (size_t j = i; j > 0 && jv_compare(r, keys[order[j - 1]], keys[order[j]]) > 0; j--) {
                    size_t t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
        jsb_char(r, b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) jsb_str(r, b, item_sep);
            if (indent) json_newline(r, b, indent, indent_n, level + 1);
            jval k = keys[order[i]];
            json_str(r, b, k.s, k.n);
            jsb_str(r, b, key_sep);
            jv_json_into(r, b, d->v[order[i]], indent, indent_n, item_sep, key_sep, sort_keys, level + 1);
        }
        if (indent) json_newline(r, b, indent, indent_n, level);
        jsb_char(r, b, '}');
        break;
    }
    default: jr_fail(r, SL_EINVAL, "Object of type %s is not JSON serializable", jv_type_name(v));
    }
}

jval jv_from_json(jrender *r, const json_t *j) {
    if (!j) return jv_undef(NULL);
    switch (json_typeof(j)) {
    case JSON_NULL: return jv_none();
    case JSON_TRUE: return jv_bool(1);
    case JSON_FALSE: return jv_bool(0);
    case JSON_INTEGER: return jv_int(json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_STRING: return jv_strn(json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        if (r->depth > 200) jr_fail(r, SL_ETOOBIG, "input nested too deeply");
        r->depth++;
        jval l = jv_list_new(r, json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++) l.l->v[l.l->n++] = jv_from_json(r, json_array_get(j, i));
        r->depth--;
        return l;
    }
    case JSON_OBJECT: {
        if (r->depth > 200) jr_fail(r, SL_ETOOBIG, "input nested too deeply");
        r->depth++;
        jval d = jv_dict_new(r, json_object_size(j));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)j, k, x) {
            d.d->k[d.d->n] = jv_strn(k, strlen(k));
            d.d->v[d.d->n++] = jv_from_json(r, x);
        }
        r->depth--;
        return d;
    }
    }
    return jv_none();
}
