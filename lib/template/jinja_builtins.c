/* jinja_builtins.c — the Jinja engine's filters, tests, attribute and item access, and the
 * Python methods of str, list and dict that templates call (jinja2 3.1 semantics; mutating
 * methods are refused as jinja2's ImmutableSandboxedEnvironment refuses them). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "error.h"
#include "jinja_internal.h"

/* ---------------------------------------------------------------- helpers */

static void need_str(jrender *r, jval v, const char *what) {
    if (v.t == JV_UNDEF) {
        if (v.n) jr_fail(r, SL_EINVAL, "'%.*s' is undefined", (int)v.n, v.s);
        jr_fail(r, SL_EINVAL, "a value is undefined");
    }
    if (v.t != JV_STR) jr_fail(r, SL_EINVAL, "%s: expected a string, not %s", what, jv_type_name(v));
}

static int64_t need_int(jrender *r, jval *v, int64_t dflt, const char *what) {
    if (!v || v->t == JV_NONE) return dflt;
    if (v->t != JV_INT && v->t != JV_BOOL) jr_fail(r, SL_EINVAL, "%s: expected an integer, not %s", what, jv_type_name(*v));
    return v->i;
}

static int is_space_cp(int32_t c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static int32_t cp_at(const char *s, size_t n, size_t i, size_t *len) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
    if (k <= 0) {
        *len = 1;
        return (unsigned char)s[i];
    }
    *len = (size_t)k;
    return cp;
}

/* Code point before byte offset I. */
static int32_t cp_before(const char *s, size_t n, size_t i, size_t *start) {
    size_t j = i - 1;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
    size_t len;
    *start = j;
    return cp_at(s, n, j, &len);
}

static int in_chars(int32_t c, jval *chars) {
    if (!chars) return is_space_cp(c);
    size_t i = 0;
    while (i < chars->n) {
        size_t len;
        if (cp_at(chars->s, chars->n, i, &len) == c) return 1;
        i += len;
    }
    return 0;
}

/* Python str.strip / lstrip / rstrip (CHARS NULL: whitespace). */
static jval strip(jrender *r, jval s, jval *chars, int left, int right) {
    if (chars && chars->t == JV_NONE) chars = NULL;
    if (chars) need_str(r, *chars, "strip");
    size_t b = 0, e = s.n, len;
    if (left)
        while (b < e && in_chars(cp_at(s.s, s.n, b, &len), chars)) b += len;
    if (right)
        while (e > b) {
            size_t st;
            if (!in_chars(cp_before(s.s, s.n, e, &st), chars)) break;
            e = st;
        }
    return jv_strn(s.s + b, e - b);
}

typedef int32_t (*cpmap)(int32_t);
static int32_t to_lower(int32_t c) { return utf8proc_tolower(c); }
static int32_t to_upper(int32_t c) { return utf8proc_toupper(c); }

static jval map_case(jrender *r, jval s, cpmap f) {
    jsb b = {0};
    size_t i = 0, len;
    while (i < s.n) {
        int32_t c = cp_at(s.s, s.n, i, &len);
        int32_t m = f(c);
        if (c == 0xDF && f == to_upper) jsb_str(r, &b, "SS"); /* the one common special casing */
        else if (m == c) jsb_put(r, &b, s.s + i, len);
        else {
            utf8proc_uint8_t o[4];
            utf8proc_ssize_t k = utf8proc_encode_char(m, o);
            jsb_put(r, &b, (const char *)o, (size_t)k);
        }
        i += len;
    }
    return jsb_val(&b);
}

static int is_alpha_cp(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
static int is_alnum_cp(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

/* Python str.capitalize: first upper (title), rest lower. */
static jval capitalize(jrender *r, jval s) {
    if (!s.n) return s;
    size_t len;
    int32_t c = cp_at(s.s, s.n, 0, &len);
    jsb b = {0};
    utf8proc_uint8_t o[4];
    utf8proc_ssize_t k = utf8proc_encode_char(utf8proc_totitle(c), o);
    jsb_put(r, &b, (const char *)o, (size_t)k);
    jval rest = map_case(r, jv_strn(s.s + len, s.n - len), to_lower);
    jsb_put(r, &b, rest.s, rest.n);
    return jsb_val(&b);
}

/* Python str.title: a letter after a non-letter (cased) is upper, others lower. */
static jval py_title(jrender *r, jval s) {
    jsb b = {0};
    size_t i = 0, len;
    int prev_cased = 0;
    while (i < s.n) {
        int32_t c = cp_at(s.s, s.n, i, &len);
        int32_t m = prev_cased ? utf8proc_tolower(c) : utf8proc_totitle(c);
        utf8proc_uint8_t o[4];
        utf8proc_ssize_t k = utf8proc_encode_char(m, o);
        jsb_put(r, &b, (const char *)o, (size_t)k);
        prev_cased = is_alpha_cp(c);
        i += len;
    }
    return jsb_val(&b);
}

static jval replace(jrender *r, jval s, jval old, jval nw, int64_t count) {
    jsb b = {0};
    if (!old.n) { /* Python: insert NEW between characters (and at both ends) */
        size_t i = 0;
        int64_t done = 0;
        while (count < 0 || done < count) {
            jsb_put(r, &b, nw.s, nw.n);
            done++;
            if (i >= s.n) break;
            size_t nx = ju_next(s.s, s.n, i);
            jsb_put(r, &b, s.s + i, nx - i);
            i = nx;
        }
        if (i < s.n) jsb_put(r, &b, s.s + i, s.n - i);
        return jsb_val(&b);
    }
    size_t i = 0;
    int64_t done = 0;
    while (i < s.n && (count < 0 || done < count)) {
        const char *h = memmem(s.s + i, s.n - i, old.s, old.n);
        if (!h) break;
        size_t at = (size_t)(h - s.s);
        jsb_put(r, &b, s.s + i, at - i);
        jsb_put(r, &b, nw.s, nw.n);
        i = at + old.n;
        done++;
    }
    jsb_put(r, &b, s.s + i, s.n - i);
    return b.p ? jsb_val(&b) : jv_strn("", 0);
}

/* Python str.split / rsplit. SEP NULL: runs of whitespace. */
static jval split(jrender *r, jval s, jval *sep, int64_t maxsplit, int from_right) {
    jval out = jv_list_new(r, 0);
    if (sep && sep->t == JV_NONE) sep = NULL;
    if (sep) {
        need_str(r, *sep, "split");
        if (!sep->n) jr_fail(r, SL_EINVAL, "empty separator");
        if (!from_right) {
            size_t i = 0;
            int64_t k = 0;
            for (;;) {
                const char *h = (maxsplit < 0 || k < maxsplit) ? memmem(s.s + i, s.n - i, sep->s, sep->n) : NULL;
                if (!h) break;
                jv_list_push(r, out.l, jv_strn(s.s + i, (size_t)(h - s.s) - i));
                i = (size_t)(h - s.s) + sep->n;
                k++;
            }
            jv_list_push(r, out.l, jv_strn(s.s + i, s.n - i));
            return out;
        }
        /* from the right: collect, then reverse */
        size_t e = s.n;
        int64_t k = 0;
        jval rev = jv_list_new(r, 0);
        while (maxsplit < 0 || k < maxsplit) {
            size_t found = (size_t)-1;
            if (e >= sep->n)
                for (size_t j = e - sep->n + 1; j-- > 0;)
                    if (!memcmp(s.s + j, sep->s, sep->n)) {
                        found = j;
                        break;
                    }
            if (found == (size_t)-1) break;
            jv_list_push(r, rev.l, jv_strn(s.s + found + sep->n, e - found - sep->n));
            e = found;
            k++;
        }
        jv_list_push(r, rev.l, jv_strn(s.s, e));
        for (size_t i = rev.l->n; i-- > 0;) jv_list_push(r, out.l, rev.l->v[i]);
        return out;
    }
    /* whitespace */
    size_t len;
    if (!from_right) {
        size_t i = 0;
        int64_t k = 0;
        while (i < s.n) {
            while (i < s.n && is_space_cp(cp_at(s.s, s.n, i, &len))) i += len;
            if (i >= s.n) break;
            if (maxsplit >= 0 && k >= maxsplit) {
                jval rest = strip(r, jv_strn(s.s + i, s.n - i), NULL, 0, 1);
                jv_list_push(r, out.l, rest);
                break;
            }
            size_t st = i;
            while (i < s.n && !is_space_cp(cp_at(s.s, s.n, i, &len))) i += len;
            jv_list_push(r, out.l, jv_strn(s.s + st, i - st));
            k++;
        }
        return out;
    }
    jval rev = jv_list_new(r, 0);
    size_t e = s.n;
    int64_t k = 0;
    while (e > 0) {
        size_t st;
        while (e > 0 && is_space_cp(cp_before(s.s, s.n, e, &st))) e = st;
        if (!e) break;
        if (maxsplit >= 0 && k >= maxsplit) {
            jv_list_push(r, rev.l, strip(r, jv_strn(s.s, e), NULL, 1, 0));
            break;
        }
        size_t w = e;
        while (w > 0 && !is_space_cp(cp_before(s.s, s.n, w, &st))) w = st;
        jv_list_push(r, rev.l, jv_strn(s.s + w, e - w));
        e = w;
        k++;
    }
    for (size_t i = rev.l->n; i-- > 0;) jv_list_push(r, out.l, rev.l->v[i]);
    return out;
}

/* Python str.splitlines (keepends=False). */
static jval splitlines(jrender *r, jval s, int keepends) {
    jval out = jv_list_new(r, 0);
    size_t i = 0, st = 0, len;
    while (i < s.n) {
        int32_t c = cp_at(s.s, s.n, i, &len);
        int brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) || c == 0x85 ||
                  c == 0x2028 || c == 0x2029;
        if (!brk) {
            i += len;
            continue;
        }
        size_t end = i + len;
        if (c == '\r' && end < s.n && s.s[end] == '\n') end++;
        jv_list_push(r, out.l, jv_strn(s.s + st, (keepends ? end : i) - st));
        i = st = end;
    }
    if (st < s.n) jv_list_push(r, out.l, jv_strn(s.s + st, s.n - st));
    return out;
}

static int64_t find(jval s, jval sub, int from_right) {
    if (sub.n > s.n) return -1;
    if (!from_right) {
        if (!sub.n) return 0;
        const char *h = memmem(s.s, s.n, sub.s, sub.n);
        return h ? (int64_t)ju_len(s.s, (size_t)(h - s.s)) : -1;
    }
    for (size_t j = s.n - sub.n + 1; j-- > 0;)
        if (!memcmp(s.s + j, sub.s, sub.n)) return (int64_t)ju_len(s.s, j);
    return -1;
}

static int64_t count_sub(jval s, jval sub) {
    if (!sub.n) return (int64_t)ju_len(s.s, s.n) + 1;
    int64_t k = 0;
    size_t i = 0;
    const char *h;
    while (i <= s.n && (h = memmem(s.s + i, s.n - i, sub.s, sub.n))) {
        k++;
        i = (size_t)(h - s.s) + sub.n;
    }
    return k;
}

static jval pad(jrender *r, jval s, int64_t width, jval *fill, int where) { /* where: 0 center, 1 ljust, 2 rjust */
    int64_t len = (int64_t)ju_len(s.s, s.n);
    if (width > 1000000) jr_fail(r, SL_ETOOBIG, "width too large");
    if (width <= len) return s;
    const char *f = " ";
    size_t fl = 1;
    if (fill && fill->t == JV_STR) {
        if (ju_len(fill->s, fill->n) != 1) jr_fail(r, SL_EINVAL, "The fill character must be exactly one character long");
        f = fill->s;
        fl = fill->n;
    }
    int64_t total = width - len, left;
    if (where == 1) left = 0;
    else if (where == 2) left = total;
    else left = total / 2 + (total & width & 1); /* CPython's pad(): left = marg/2 + (marg & width & 1) */
    jsb b = {0};
    for (int64_t i = 0; i < left; i++) jsb_put(r, &b, f, fl);
    jsb_put(r, &b, s.s, s.n);
    for (int64_t i = 0; i < total - left; i++) jsb_put(r, &b, f, fl);
    return jsb_val(&b);
}

/* Python printf-style formatting: FMT % ARGS (a list of values, or a dict for %(name)s). */
static jval percent_format(jrender *r, jval fmt, jval args) {
    jsb b = {0};
    size_t ai = 0;
    int is_map = args.t == JV_DICT;
    size_t nargs = args.t == JV_LIST ? args.l->n : 0;
    for (size_t i = 0; i < fmt.n; i++) {
        char c = fmt.s[i];
        if (c != '%') {
            jsb_char(r, &b, c);
            continue;
        }
        if (++i >= fmt.n) jr_fail(r, SL_EINVAL, "incomplete format");
        jval v;
        int have = 0;
        if (fmt.s[i] == '(') {
            size_t e = i + 1;
            while (e < fmt.n && fmt.s[e] != ')') e++;
            if (e >= fmt.n || !is_map) jr_fail(r, SL_EINVAL, "format requires a mapping");
            jval *x = jv_dict_get(args.d, fmt.s + i + 1, e - i - 1);
            if (!x) jr_fail(r, SL_EINVAL, "format key '%.*s' is missing", (int)(e - i - 1), fmt.s + i + 1);
            v = *x;
            have = 1;
            i = e + 1;
        }
        char spec[32];
        size_t k = 0;
        spec[k++] = '%';
        while (i < fmt.n && strchr("-+ #0", fmt.s[i]) && k < 20) spec[k++] = fmt.s[i++];
        while (i < fmt.n && isdigit((unsigned char)fmt.s[i]) && k < 26) spec[k++] = fmt.s[i++];
        if (i < fmt.n && fmt.s[i] == '.') {
            spec[k++] = fmt.s[i++];
            while (i < fmt.n && isdigit((unsigned char)fmt.s[i]) && k < 30) spec[k++] = fmt.s[i++];
        }
        if (i >= fmt.n) jr_fail(r, SL_EINVAL, "incomplete format");
        char conv = fmt.s[i];
        if (conv == '%') {
            jsb_char(r, &b, '%');
            continue;
        }
        if (!have) {
            if (is_map) v = args;
            else if (ai < nargs) v = args.l->v[ai++];
            else jr_fail(r, SL_EINVAL, "not enough arguments for format string");
        }
        char out[512];
        switch (conv) {
        case 's':
        case 'r': {
            jsb t = {0};
            if (conv == 's') jv_str_into(r, &t, v);
            else jv_repr_into(r, &t, v);
            spec[k++] = 's';
            spec[k] = 0;
            if (k == 2) jsb_put(r, &b, t.p, t.n);
            else {
                char *z = ja_strndup(&r->arena, t.p ? t.p : "", t.n);
                int m = snprintf(out, sizeof out, spec, z);
                if (m >= (int)sizeof out) jsb_str(r, &b, z);
                else jsb_str(r, &b, out);
            }
            break;
        }
        case 'd':
        case 'i':
        case 'x':
        case 'X':
        case 'o':
            if (!jv_is_num(v)) jr_fail(r, SL_EINVAL, "%%%c format: a real number is required, not %s", conv, jv_type_name(v));
            spec[k++] = 'l';
            spec[k++] = 'l';
            spec[k++] = conv == 'i' ? 'd' : conv;
            spec[k] = 0;
            snprintf(out, sizeof out, spec, (long long)(v.t == JV_FLOAT ? (long long)v.f : v.i));
            jsb_str(r, &b, out);
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (!jv_is_num(v)) jr_fail(r, SL_EINVAL, "must be real number, not %s", jv_type_name(v));
            spec[k++] = conv;
            spec[k] = 0;
            snprintf(out, sizeof out, spec, jv_num(v));
            jsb_str(r, &b, out);
            break;
        case 'c':
            if (v.t == JV_STR) jsb_put(r, &b, v.s, v.n);
            else jr_fail(r, SL_EINVAL, "%%c requires a character");
            break;
        default: jr_fail(r, SL_EINVAL, "unsupported format character '%c'", conv);
        }
    }
    if (!is_map && ai < nargs) jr_fail(r, SL_EINVAL, "not all arguments converted during string formatting");
    return b.p ? jsb_val(&b) : jv_strn("", 0);
}

/* One field of str.format with a Python format spec [[fill]align][sign][0][width][,][.prec][type]
 * (V; or REPR: the repr of *REPR as a string). */
static void format_spec(jrender *r, jsb *b, jval v, jval *repr, jval spec) {
    const char *p = spec.s, *end = spec.s + spec.n;
    char fill = ' ', align = 0, sign = 0, type = 0;
    int zero = 0, comma = 0;
    long width = 0, prec = -1;
    if (end - p >= 2 && strchr("<>^=", p[1])) {
        fill = p[0];
        align = p[1];
        p += 2;
    } else if (p < end && strchr("<>^=", *p)) {
        align = *p++;
    }
    if (p < end && strchr("+- ", *p)) sign = *p++;
    if (p < end && *p == '0') {
        zero = 1;
        p++;
    }
    while (p < end && isdigit((unsigned char)*p) && width < 100000) width = width * 10 + (*p++ - '0');
    if (p < end && *p == ',') {
        comma = 1;
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        prec = 0;
        while (p < end && isdigit((unsigned char)*p) && prec < 1000) prec = prec * 10 + (*p++ - '0');
    }
    if (p < end) type = *p++;
    if (p != end || width >= 100000 || prec >= 1000 || comma)
        jr_fail(r, SL_EINVAL, "unsupported format spec '%.*s'", (int)spec.n, spec.s);
    jsb body = {0};
    int numeric = 0;
    if (repr) {
        jv_repr_into(r, &body, *repr);
        v = jsb_val(&body);
        body = (jsb){0};
    }
    if (v.t == JV_STR && (!type || type == 's')) {
        size_t n = prec >= 0 ? ju_offset(v.s, v.n, prec) : v.n;
        jsb_put(r, &body, v.s, n);
    } else if (jv_is_num(v) && type != 's') {
        char fmt[32], out[1200];
        numeric = 1;
        int is_int = v.t != JV_FLOAT;
        if (!type && !is_int && prec < 0 && !sign) { /* no type, no precision: str(float) */
            jv_float_repr(v.f, out, sizeof out);
            type = 'r';
        }
        if (!type) type = is_int ? 'd' : 'g';
        if (type == 'r') {
            /* done above */
        } else if (strchr("dxXob", type)) {
            if (!is_int) jr_fail(r, SL_EINVAL, "Unknown format code '%c' for object of type 'float'", type);
            if (type == 'b') jr_fail(r, SL_EINVAL, "format code 'b' is not supported");
            snprintf(fmt, sizeof fmt, "%%%s%sll%c", sign == '+' ? "+" : sign == ' ' ? " " : "", "", type);
            snprintf(out, sizeof out, fmt, (long long)v.i);
        } else if (strchr("fFeEgG%", type)) {
            double x = jv_num(v) * (type == '%' ? 100.0 : 1.0);
            snprintf(fmt, sizeof fmt, "%%%s.%ld%c", sign == '+' ? "+" : sign == ' ' ? " " : "", prec < 0 ? 6 : prec,
                     type == '%' ? 'f' : type);
            snprintf(out, sizeof out, fmt, x);
            if (type == '%') strcat(out, "%");
        } else {
            jr_fail(r, SL_EINVAL, "Unknown format code '%c'", type);
        }
        jsb_str(r, &body, out);
    } else {
        jr_fail(r, SL_EINVAL, "unsupported format spec '%.*s' for %s", (int)spec.n, spec.s, jv_type_name(v));
    }
    if (!align) align = numeric ? '>' : '<';
    if (zero && !align) fill = '0';
    if (zero && numeric) {
        fill = '0';
        align = '=';
    }
    long len = (long)ju_len(body.p ? body.p : "", body.n), padn = width > len ? width - len : 0;
    long left = align == '>' ? padn : align == '^' ? padn / 2 : 0;
    size_t signlen = align == '=' && body.n && strchr("+- ", body.p[0]) ? 1 : 0;
    if (align == '=') left = padn;
    jsb_put(r, b, body.p, signlen);
    for (long k = 0; k < left; k++) jsb_char(r, b, fill);
    jsb_put(r, b, body.p + signlen, body.n - signlen);
    for (long k = 0; k < padn - left; k++) jsb_char(r, b, fill);
}

/* Python str.format with {} / {0} / {name} fields, conversion !r/!s and format specs. */
static jval brace_format(jrender *r, jval fmt, jargs *a) {
    jsb b = {0};
    int auto_i = 0;
    for (size_t i = 0; i < fmt.n; i++) {
        char c = fmt.s[i];
        if (c == '{' && i + 1 < fmt.n && fmt.s[i + 1] == '{') {
            jsb_char(r, &b, '{');
            i++;
            continue;
        }
        if (c == '}' && i + 1 < fmt.n && fmt.s[i + 1] == '}') {
            jsb_char(r, &b, '}');
            i++;
            continue;
        }
        if (c != '{') {
            jsb_char(r, &b, c);
            continue;
        }
        size_t e = i + 1;
        while (e < fmt.n && fmt.s[e] != '}') e++;
        if (e >= fmt.n) jr_fail(r, SL_EINVAL, "Single '{' encountered in format string");
        const char *f = fmt.s + i + 1;
        size_t fl = e - i - 1;
        int conv_r = 0;
        const char *bang = memchr(f, '!', fl), *colon = memchr(f, ':', fl);
        size_t name_len = bang ? (size_t)(bang - f) : colon ? (size_t)(colon - f) : fl;
        if (bang && bang + 1 < f + fl && bang[1] == 'r') conv_r = 1;
        jval spec = colon ? jv_strn(colon + 1, (size_t)(f + fl - colon - 1)) : jv_strn("", 0);
        jval *v;
        if (!name_len) v = jb_arg(a, auto_i++, NULL);
        else if (isdigit((unsigned char)f[0])) v = jb_arg(a, atoi(f), NULL);
        else {
            char nm[64];
            snprintf(nm, sizeof nm, "%.*s", (int)(name_len < 63 ? name_len : 63), f);
            v = jb_arg(a, -1, nm);
        }
        if (!v) jr_fail(r, SL_EINVAL, "str.format: missing argument for field '%.*s'", (int)fl, f);
        if (spec.n) {
            format_spec(r, &b, conv_r ? jv_strn(NULL, 0) : *v, conv_r ? v : NULL, spec);
        } else if (conv_r) {
            jv_repr_into(r, &b, *v);
        } else {
            jv_str_into(r, &b, *v);
        }
        i = e;
    }
    return b.p ? jsb_val(&b) : jv_strn("", 0);
}

/* ---------------------------------------------------------------- iteration, attributes, items */

jval jv_iterate(jrender *r, jval v) {
    switch (v.t) {
    case JV_LIST: return v;
    case JV_UNDEF: return jv_list_new(r, 0);
    case JV_DICT: {
        jval l = jv_list_new(r, v.d->n);
        for (size_t i = 0; i < v.d->n; i++) l.l->v[l.l->n++] = v.d->k[i];
        return l;
    }
    case JV_STR: {
        jval l = jv_list_new(r, 0);
        size_t i = 0;
        while (i < v.n) {
            size_t nx = ju_next(v.s, v.n, i);
            jv_list_push(r, l.l, jv_strn(v.s + i, nx - i));
            i = nx;
        }
        return l;
    }
    case JV_LOOP: return (jval){.t = JV_LIST, .l = v.lp->items};
    default: jr_fail(r, SL_EINVAL, "'%s' object is not iterable", jv_type_name(v));
    }
}

static const char *const str_methods[] = {
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index", "isalnum", "isalpha", "isdigit",
    "isnumeric", "isdecimal", "islower", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "partition",
    "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill", NULL};
static const char *const list_methods[] = {"count", "index", "copy", NULL};
static const char *const list_unsafe[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort", NULL};
static const char *const dict_methods[] = {"get", "items", "keys", "values", "copy", NULL};
static const char *const dict_unsafe[] = {"clear", "pop", "popitem", "setdefault", "update", NULL};

static int in_names(const char *const *names, const char *n, size_t len) {
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], n, len)) return 1;
    return 0;
}

int jb_is_method(jval self, const char *name) {
    size_t n = strlen(name);
    switch (self.t) {
    case JV_STR: return in_names(str_methods, name, n);
    case JV_LIST: return in_names(list_methods, name, n) ? 1 : in_names(list_unsafe, name, n) ? 2 : 0;
    case JV_DICT: return in_names(dict_methods, name, n) ? 1 : in_names(dict_unsafe, name, n) ? 2 : 0;
    default: return 0;
    }
}

static jval method_value(jrender *r, jval self, const char *name, size_t n) {
    jmethod *m = ja_alloc(&r->arena, sizeof *m);
    m->self = self;
    m->name = ja_strndup(&r->arena, name, n);
    return (jval){.t = JV_METHOD, .me = m};
}

static jval loop_attr(jrender *r, jloop *lp, const char *name) {
    int64_t i = lp->index0, len = lp->length;
    if (!strcmp(name, "index")) return jv_int(i + 1);
    if (!strcmp(name, "index0")) return jv_int(i);
    if (!strcmp(name, "revindex")) return jv_int(len - i);
    if (!strcmp(name, "revindex0")) return jv_int(len - i - 1);
    if (!strcmp(name, "first")) return jv_bool(i == 0);
    if (!strcmp(name, "last")) return jv_bool(i == len - 1);
    if (!strcmp(name, "length")) return jv_int(len);
    if (!strcmp(name, "depth")) return jv_int(lp->depth0 + 1);
    if (!strcmp(name, "depth0")) return jv_int(lp->depth0);
    if (!strcmp(name, "previtem")) return i > 0 ? lp->items->v[i - 1] : jv_undef("previtem");
    if (!strcmp(name, "nextitem")) return i + 1 < len ? lp->items->v[i + 1] : jv_undef("nextitem");
    if (!strcmp(name, "cycle") || !strcmp(name, "changed"))
        return method_value(r, (jval){.t = JV_LOOP, .lp = lp}, name, strlen(name));
    return jv_undef(name);
}

jval jb_getattr(jrender *r, jval obj, const char *name, size_t n) {
    switch (obj.t) {
    case JV_UNDEF:
        if (obj.n) jr_fail(r, SL_EINVAL, "'%.*s' is undefined", (int)obj.n, obj.s);
        jr_fail(r, SL_EINVAL, "a value is undefined (attribute '%.*s')", (int)n, name);
    case JV_DICT: {
        if (jb_is_method(obj, name)) return method_value(r, obj, name, n);
        jval *v = jv_dict_get(obj.d, name, n);
        return v ? *v : jv_undef(name);
    }
    case JV_NS: {
        jval *v = jv_dict_get(obj.d, name, n);
        return v ? *v : jv_undef(name);
    }
    case JV_LOOP: return loop_attr(r, obj.lp, name);
    case JV_INT:
    case JV_BOOL:
    case JV_FLOAT: /* the number attributes Python has */
        if (!strcmp(name, "real")) return obj.t == JV_FLOAT ? obj : jv_int(obj.i);
        if (!strcmp(name, "imag")) return obj.t == JV_FLOAT ? jv_float(0) : jv_int(0);
        if (obj.t != JV_FLOAT && !strcmp(name, "numerator")) return jv_int(obj.i);
        if (obj.t != JV_FLOAT && !strcmp(name, "denominator")) return jv_int(1);
        return jv_undef(name);
    case JV_STR:
    case JV_LIST:
        if (obj.t == JV_LIST && obj.l->tuple == 2 && obj.l->n == 2) {
            if (!strcmp(name, "grouper")) return obj.l->v[0];
            if (!strcmp(name, "list")) return obj.l->v[1];
        }
        if (jb_is_method(obj, name)) return method_value(r, obj, name, n);
        return jv_undef(name);
    default: return jv_undef(name);
    }
}

jval jb_getitem(jrender *r, jval obj, jval key) {
    switch (obj.t) {
    case JV_UNDEF:
        if (obj.n) jr_fail(r, SL_EINVAL, "'%.*s' is undefined", (int)obj.n, obj.s);
        jr_fail(r, SL_EINVAL, "a value is undefined");
    case JV_DICT:
    case JV_NS: {
        jval *v = jv_dict_getv(obj.d, key);
        if (v) return *v;
        break;
    }
    case JV_LIST:
    case JV_STR:
        if (key.t == JV_INT || key.t == JV_BOOL) {
            int64_t len = obj.t == JV_LIST ? (int64_t)obj.l->n : (int64_t)ju_len(obj.s, obj.n);
            int64_t i = key.i < 0 ? key.i + len : key.i;
            if (i < 0 || i >= len) return jv_undef(NULL);
            if (obj.t == JV_LIST) return obj.l->v[i];
            size_t off = ju_offset(obj.s, obj.n, i);
            return jv_strn(obj.s + off, ju_next(obj.s, obj.n, off) - off);
        }
        break;
    case JV_LOOP:
        if (key.t == JV_STR) return loop_attr(r, obj.lp, ja_strndup(&r->arena, key.s, key.n));
        break;
    default: break;
    }
    if (key.t == JV_STR && obj.t != JV_NS && obj.t != JV_LOOP) { /* jinja2: then the attribute */
        char *nm = ja_strndup(&r->arena, key.s, key.n);
        jval v = jb_getattr(r, obj, nm, key.n);
        if (v.t != JV_UNDEF) return v;
    }
    return jv_undef(NULL);
}

/* ---------------------------------------------------------------- methods */

static jval bool_all(jrender *r, jval s, int (*pred)(int32_t)) {
    if (!s.n) return jv_bool(0);
    size_t i = 0, len;
    while (i < s.n) {
        if (!pred(cp_at(s.s, s.n, i, &len))) return jv_bool(0);
        i += len;
    }
    return jv_bool(1);
}
static int pred_digit(int32_t c) { return utf8proc_category(c) == UTF8PROC_CATEGORY_ND; }
static int pred_space(int32_t c) { return is_space_cp(c); }

/* islower / isupper: at least one cased character and no cased character of the other case. */
static jval case_test(jval s, int upper) {
    int cased = 0;
    size_t i = 0, len;
    while (i < s.n) {
        int32_t c = cp_at(s.s, s.n, i, &len);
        if (utf8proc_tolower(c) != c || utf8proc_toupper(c) != c) {
            int is_up = utf8proc_tolower(c) != c;
            if (is_up != upper) return jv_bool(0);
            cased = 1;
        }
        i += len;
    }
    return jv_bool(cased);
}

static int prefix_match(jrender *r, jval s, jval p, int end) {
    if (p.t == JV_LIST && p.l->tuple) {
        for (size_t i = 0; i < p.l->n; i++)
            if (prefix_match(r, s, p.l->v[i], end)) return 1;
        return 0;
    }
    need_str(r, p, end ? "endswith" : "startswith");
    if (p.n > s.n) return 0;
    return !memcmp(end ? s.s + s.n - p.n : s.s, p.s, p.n);
}

static jval str_method(jrender *r, jval s, const char *m, jargs *a) {
    jval *a0 = jb_arg(a, 0, NULL), *a1 = jb_arg(a, 1, NULL);
    if (!strcmp(m, "strip")) return strip(r, s, jb_arg(a, 0, "chars"), 1, 1);
    if (!strcmp(m, "lstrip")) return strip(r, s, jb_arg(a, 0, "chars"), 1, 0);
    if (!strcmp(m, "rstrip")) return strip(r, s, jb_arg(a, 0, "chars"), 0, 1);
    if (!strcmp(m, "lower") || !strcmp(m, "casefold")) return map_case(r, s, to_lower);
    if (!strcmp(m, "upper")) return map_case(r, s, to_upper);
    if (!strcmp(m, "title")) return py_title(r, s);
    if (!strcmp(m, "capitalize")) return capitalize(r, s);
    if (!strcmp(m, "swapcase")) {
        jsb b = {0};
        size_t i = 0, len;
        while (i < s.n) {
            int32_t c = cp_at(s.s, s.n, i, &len);
            int32_t x = utf8proc_tolower(c) != c ? utf8proc_tolower(c) : utf8proc_toupper(c);
            utf8proc_uint8_t o[4];
            jsb_put(r, &b, (const char *)o, (size_t)utf8proc_encode_char(x, o));
            i += len;
        }
        return jsb_val(&b);
    }
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
        if (!a0) jr_fail(r, SL_EINVAL, "%s() takes at least 1 argument", m);
        return jv_bool(prefix_match(r, s, *a0, m[0] == 'e'));
    }
    if (!strcmp(m, "split") || !strcmp(m, "rsplit"))
        return split(r, s, jb_arg(a, 0, "sep"), need_int(r, jb_arg(a, 1, "maxsplit"), -1, m), m[0] == 'r');
    if (!strcmp(m, "splitlines")) return splitlines(r, s, a0 && jv_truthy(*a0));
    if (!strcmp(m, "replace")) {
        jval *c = jb_arg(a, 2, "count");
        if (!a0 || !a1) jr_fail(r, SL_EINVAL, "replace() takes at least 2 arguments");
        need_str(r, *a0, "replace");
        need_str(r, *a1, "replace");
        return replace(r, s, *a0, *a1, need_int(r, c, -1, "replace"));
    }
    if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "index") || !strcmp(m, "rindex")) {
        if (!a0) jr_fail(r, SL_EINVAL, "%s() takes at least 1 argument", m);
        need_str(r, *a0, m);
        int64_t k = find(s, *a0, m[0] == 'r');
        if (k < 0 && strstr(m, "index")) jr_fail(r, SL_EINVAL, "substring not found");
        return jv_int(k);
    }
    if (!strcmp(m, "count")) {
        if (!a0) jr_fail(r, SL_EINVAL, "count() takes at least 1 argument");
        need_str(r, *a0, "count");
        return jv_int(count_sub(s, *a0));
    }
    if (!strcmp(m, "join")) {
        if (!a0) jr_fail(r, SL_EINVAL, "join() takes exactly one argument");
        jval items = jv_iterate(r, *a0);
        jsb b = {0};
        for (size_t i = 0; i < items.l->n; i++) {
            if (items.l->v[i].t != JV_STR)
                jr_fail(r, SL_EINVAL, "sequence item %zu: expected str instance, %s found", i, jv_type_name(items.l->v[i]));
            if (i) jsb_put(r, &b, s.s, s.n);
            jsb_put(r, &b, items.l->v[i].s, items.l->v[i].n);
        }
        return jsb_val(&b);
    }
    if (!strcmp(m, "format")) return brace_format(r, s, a);
    if (!strcmp(m, "__mod__")) return percent_format(r, s, *a0);
    if (!strcmp(m, "center") || !strcmp(m, "ljust") || !strcmp(m, "rjust"))
        return pad(r, s, need_int(r, a0, 0, m), a1, m[0] == 'c' ? 0 : m[0] == 'l' ? 1 : 2);
    if (!strcmp(m, "zfill")) {
        int64_t w = need_int(r, a0, 0, m), len = (int64_t)ju_len(s.s, s.n);
        if (w > 1000000) jr_fail(r, SL_ETOOBIG, "width too large");
        if (w <= len) return s;
        jsb b = {0};
        size_t sign = s.n && (s.s[0] == '-' || s.s[0] == '+');
        jsb_put(r, &b, s.s, sign);
        for (int64_t i = 0; i < w - len; i++) jsb_char(r, &b, '0');
        jsb_put(r, &b, s.s + sign, s.n - sign);
        return jsb_val(&b);
    }
    if (!strcmp(m, "removeprefix") || !strcmp(m, "removesuffix")) {
        if (!a0) jr_fail(r, SL_EINVAL, "%s() takes exactly one argument", m);
        need_str(r, *a0, m);
        if (a0->n <= s.n) {
            if (m[6] == 'p' && !memcmp(s.s, a0->s, a0->n)) return jv_strn(s.s + a0->n, s.n - a0->n);
            if (m[6] == 's' && !memcmp(s.s + s.n - a0->n, a0->s, a0->n)) return jv_strn(s.s, s.n - a0->n);
        }
        return s;
    }
    if (!strcmp(m, "partition") || !strcmp(m, "rpartition")) {
        if (!a0) jr_fail(r, SL_EINVAL, "%s() takes exactly one argument", m);
        need_str(r, *a0, m);
        if (!a0->n) jr_fail(r, SL_EINVAL, "empty separator");
        jval t = jv_list_new(r, 3);
        t.l->tuple = 1;
        const char *h = NULL;
        if (m[0] == 'p') h = memmem(s.s, s.n, a0->s, a0->n);
        else if (a0->n <= s.n)
            for (size_t j = s.n - a0->n + 1; j-- > 0;)
                if (!memcmp(s.s + j, a0->s, a0->n)) {
                    h = s.s + j;
                    break;
                }
        if (!h) {
            jval e = jv_strn("", 0);
            if (m[0] == 'p') { jv_list_push(r, t.l, s); jv_list_push(r, t.l, e); jv_list_push(r, t.l, e); }
            else { jv_list_push(r, t.l, e); jv_list_push(r, t.l, e); jv_list_push(r, t.l, s); }
            return t;
        }
        size_t at = (size_t)(h - s.s);
        jv_list_push(r, t.l, jv_strn(s.s, at));
        jv_list_push(r, t.l, *a0);
        jv_list_push(r, t.l, jv_strn(s.s + at + a0->n, s.n - at - a0->n));
        return t;
    }
    if (!strcmp(m, "isdigit") || !strcmp(m, "isnumeric") || !strcmp(m, "isdecimal")) return bool_all(r, s, pred_digit);
    if (!strcmp(m, "isalpha")) return bool_all(r, s, is_alpha_cp);
    if (!strcmp(m, "isalnum")) return bool_all(r, s, is_alnum_cp);
    if (!strcmp(m, "isspace")) return bool_all(r, s, pred_space);
    if (!strcmp(m, "islower")) return case_test(s, 0);
    if (!strcmp(m, "isupper")) return case_test(s, 1);
    if (!strcmp(m, "istitle")) {
        jval t = py_title(r, s);
        return jv_bool(t.n == s.n && !memcmp(t.s, s.s, s.n) && case_test(s, 0).i + case_test(s, 1).i >= 0 &&
                       (case_test(s, 0).i || case_test(s, 1).i || s.n));
    }
    jr_fail(r, SL_EINVAL, "str has no method '%s'", m);
}

static jval items_of(jrender *r, jval d) {
    jval l = jv_list_new(r, d.d->n);
    for (size_t i = 0; i < d.d->n; i++) {
        jval t = jv_list_new(r, 2);
        t.l->tuple = 1;
        t.l->v[0] = d.d->k[i];
        t.l->v[1] = d.d->v[i];
        t.l->n = 2;
        l.l->v[l.l->n++] = t;
    }
    return l;
}

jval jb_method(jrender *r, jval self, const char *m, jargs *a) {
    jval *a0 = jb_arg(a, 0, NULL);
    if (self.t == JV_STR) return str_method(r, self, m, a);
    if (self.t == JV_LOOP) {
        if (!strcmp(m, "cycle")) {
            if (!a->npos) jr_fail(r, SL_EINVAL, "no items for cycling given");
            return a->pos[self.lp->index0 % a->npos];
        }
        /* changed(*args) */
        jval now = jv_list_new(r, (size_t)a->npos);
        for (int i = 0; i < a->npos; i++) now.l->v[now.l->n++] = a->pos[i];
        if (self.lp->changed_set && jv_equal(self.lp->last_changed, now)) return jv_bool(0);
        self.lp->last_changed = now;
        self.lp->changed_set = 1;
        return jv_bool(1);
    }
    if (jb_is_method(self, m) == 2)
        jr_fail(r, SL_EINVAL, "access to attribute '%s' of '%s' object is unsafe.", m, jv_type_name(self));
    if (self.t == JV_LIST) {
        if (!strcmp(m, "copy")) {
            jval l = jv_list_new(r, self.l->n);
            for (size_t i = 0; i < self.l->n; i++) l.l->v[l.l->n++] = self.l->v[i];
            return l;
        }
        if (!a0) jr_fail(r, SL_EINVAL, "%s() takes exactly one argument", m);
        int64_t k = 0;
        for (size_t i = 0; i < self.l->n; i++)
            if (jv_equal(self.l->v[i], *a0)) {
                if (!strcmp(m, "index")) return jv_int((int64_t)i);
                k++;
            }
        if (!strcmp(m, "index")) jr_fail(r, SL_EINVAL, "value is not in list");
        return jv_int(k);
    }
    if (self.t == JV_DICT) {
        if (!strcmp(m, "items")) return items_of(r, self);
        if (!strcmp(m, "keys")) return jv_iterate(r, self);
        if (!strcmp(m, "values")) {
            jval l = jv_list_new(r, self.d->n);
            for (size_t i = 0; i < self.d->n; i++) l.l->v[l.l->n++] = self.d->v[i];
            return l;
        }
        if (!strcmp(m, "get")) {
            if (!a0) jr_fail(r, SL_EINVAL, "get expected at least 1 argument, got 0");
            jval *v = jv_dict_getv(self.d, *a0);
            if (v) return *v;
            jval *d = jb_arg(a, 1, NULL);
            return d ? *d : jv_none();
        }
        if (!strcmp(m, "copy")) {
            jval d = jv_dict_new(r, self.d->n);
            for (size_t i = 0; i < self.d->n; i++) jv_dict_set(r, d.d, self.d->k[i], self.d->v[i]);
            return d;
        }
    }
    jr_fail(r, SL_EINVAL, "'%s' object has no method '%s'", jv_type_name(self), m);
}

/* ---------------------------------------------------------------- tests */

static const char *const test_names[] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter", "float",
    "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower", "lt", "lessthan", "<",
    "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper",
    NULL};

int jb_has_test(const char *name) { return in_names(test_names, name, strlen(name)); }

static const char *const filter_names[];
static int has_filter(const char *name) { return in_names(filter_names, name, strlen(name)); }

int jb_test(jrender *r, const char *name, jargs *a, int line) {
    if (!jb_has_test(name)) jr_fail(r, SL_EINVAL, "line %d: No test named '%s'.", line, name);
    jval v = a->pos[0];
    jval *x = jb_arg(a, 1, NULL);
    if (!strcmp(name, "defined")) return v.t != JV_UNDEF;
    if (!strcmp(name, "undefined")) return v.t == JV_UNDEF;
    if (!strcmp(name, "none")) return v.t == JV_NONE;
    if (!strcmp(name, "boolean")) return v.t == JV_BOOL;
    if (!strcmp(name, "true")) return v.t == JV_BOOL && v.i;
    if (!strcmp(name, "false")) return v.t == JV_BOOL && !v.i;
    if (!strcmp(name, "string")) return v.t == JV_STR;
    if (!strcmp(name, "number")) return jv_is_num(v);
    if (!strcmp(name, "integer")) return v.t == JV_INT;
    if (!strcmp(name, "float")) return v.t == JV_FLOAT;
    if (!strcmp(name, "mapping")) return v.t == JV_DICT;
    if (!strcmp(name, "iterable")) return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF || v.t == JV_LOOP;
    if (!strcmp(name, "sequence")) return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF;
    if (!strcmp(name, "callable")) return v.t == JV_MACRO || v.t == JV_FUNC || v.t == JV_METHOD || v.t == JV_LOOP;
    if (!strcmp(name, "escaped")) return 0;
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        need_str(r, v, name);
        return case_test(v, name[0] == 'u').i != 0;
    }
    if (!strcmp(name, "odd") || !strcmp(name, "even")) {
        if (v.t != JV_INT && v.t != JV_BOOL) jr_fail(r, SL_EINVAL, "line %d: %s test needs an integer", line, name);
        int odd = (v.i % 2) != 0;
        return name[0] == 'o' ? odd : !odd;
    }
    if (!strcmp(name, "filter")) return v.t == JV_STR && has_filter(ja_strndup(&r->arena, v.s, v.n));
    if (!strcmp(name, "test")) return v.t == JV_STR && jb_has_test(ja_strndup(&r->arena, v.s, v.n));
    if (!x) jr_fail(r, SL_EINVAL, "line %d: test '%s' needs an argument", line, name);
    if (!strcmp(name, "divisibleby")) {
        if (!jv_is_num(v) || !jv_is_num(*x)) jr_fail(r, SL_EINVAL, "divisibleby needs numbers");
        if (v.t != JV_FLOAT && x->t != JV_FLOAT) {
            if (!x->i) jr_fail(r, SL_EINVAL, "integer division or modulo by zero");
            return v.i % x->i == 0;
        }
        if (jv_num(*x) == 0) jr_fail(r, SL_EINVAL, "float modulo");
        return fmod(jv_num(v), jv_num(*x)) == 0;
    }
    if (!strcmp(name, "eq") || !strcmp(name, "equalto") || !strcmp(name, "==")) return jv_equal(v, *x);
    if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !jv_equal(v, *x);
    if (!strcmp(name, "sameas")) {
        if (v.t != x->t) return 0;
        switch (v.t) {
        case JV_NONE:
        case JV_UNDEF: return 1;
        case JV_BOOL:
        case JV_INT: return v.i == x->i;
        case JV_STR: return v.s == x->s && v.n == x->n;
        default: return v.l == x->l;
        }
    }
    if (!strcmp(name, "in")) {
        switch (x->t) {
        case JV_STR:
            need_str(r, v, "in");
            return !v.n || (v.n <= x->n && memmem(x->s, x->n, v.s, v.n));
        case JV_LIST:
            for (size_t i = 0; i < x->l->n; i++)
                if (jv_equal(x->l->v[i], v)) return 1;
            return 0;
        case JV_DICT: return jv_dict_getv(x->d, v) != NULL;
        case JV_UNDEF: return 0;
        default: jr_fail(r, SL_EINVAL, "argument of type '%s' is not iterable", jv_type_name(*x));
        }
    }
    int c;
    if (v.t == JV_UNDEF || x->t == JV_UNDEF) jr_fail(r, SL_EINVAL, "line %d: comparison with an undefined value", line);
    c = jv_compare(r, v, *x);
    if (!strcmp(name, "ge") || !strcmp(name, ">=")) return c >= 0;
    if (!strcmp(name, "gt") || !strcmp(name, "greaterthan") || !strcmp(name, ">")) return c > 0;
    if (!strcmp(name, "le") || !strcmp(name, "<=")) return c <= 0;
    if (!strcmp(name, "lt") || !strcmp(name, "lessthan") || !strcmp(name, "<")) return c < 0;
    jr_fail(r, SL_EINVAL, "line %d: no test named '%s'", line, name);
}

/* ---------------------------------------------------------------- filters */

static const char *const filter_names[] = {
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
    "pprint", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice", "sort",
    "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount", "wordwrap",
    "xmlattr", "urlencode", "filesizeformat", "groupby", NULL};

/* groupby(attribute, default=None, case_sensitive=False): sorted by the attribute, then runs of
 * equal keys as (grouper, list) pairs; the grouper is the first item's own value. */
static jval sort_key(jrender *r, jval v, jval *attr, int case_sensitive);
static void sort_vals(jrender *r, jval *v, jval *keys, size_t n, int reverse);
static jval attr_path(jrender *r, jval v, jval path);
static jval groupby(jrender *r, jargs *a, int line) {
    jval *attr = jb_arg(a, 1, "attribute"), *dflt = jb_arg(a, 2, "default"), *cs = jb_arg(a, 3, "case_sensitive");
    if (!attr) jr_fail(r, SL_EINVAL, "line %d: groupby needs an attribute", line);
    jval items = jv_iterate(r, a->pos[0]);
    size_t n = items.l->n;
    jval *vals = ja_alloc(&r->arena, (n + 1) * sizeof *vals), *keys = ja_alloc(&r->arena, (n + 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        vals[i] = items.l->v[i];
        jval k = attr_path(r, vals[i], *attr);
        if (k.t == JV_UNDEF && dflt) k = *dflt;
        if (!(cs && jv_truthy(*cs)) && k.t == JV_STR) k = sort_key(r, k, NULL, 0);
        keys[i] = k;
    }
    sort_vals(r, vals, keys, n, 0);
    jval out = jv_list_new(r, 0);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        jval group = jv_list_new(r, 0);
        while (j < n && jv_equal(keys[j], keys[i])) jv_list_push(r, group.l, vals[j++]);
        jval g = jv_list_new(r, 2);
        g.l->tuple = 2;
        jval first = attr_path(r, vals[i], *attr);
        jv_list_push(r, g.l, first.t == JV_UNDEF && dflt ? *dflt : first);
        jv_list_push(r, g.l, group);
        jv_list_push(r, out.l, g);
        i = j;
    }
    return out;
}

int jb_has_filter(const char *name) { return has_filter(name); }

static int64_t length_of(jrender *r, jval v) {
    switch (v.t) {
    case JV_UNDEF: return 0;
    case JV_STR: return (int64_t)ju_len(v.s, v.n);
    case JV_LIST: return (int64_t)v.l->n;
    case JV_DICT:
    case JV_NS: return (int64_t)v.d->n;
    case JV_LOOP: return v.lp->length;
    default: jr_fail(r, SL_EINVAL, "object of type '%s' has no len()", jv_type_name(v));
    }
}

/* Attribute lookup as jinja2's make_attrgetter: dotted path, integer parts as indexes. */
static jval attr_path(jrender *r, jval v, jval path) {
    if (path.t == JV_INT) return jb_getitem(r, v, path);
    need_str(r, path, "attribute");
    size_t i = 0;
    while (i <= path.n) {
        const char *dot = memchr(path.s + i, '.', path.n - i);
        size_t e = dot ? (size_t)(dot - path.s) : path.n;
        const char *part = path.s + i;
        size_t pl = e - i;
        int digits = pl > 0;
        for (size_t k = 0; k < pl; k++) digits &= isdigit((unsigned char)part[k]) != 0;
        if (digits) v = jb_getitem(r, v, jv_int(strtoll(part, NULL, 10)));
        else v = jb_getitem(r, v, jv_strn(part, pl));
        if (!dot) break;
        i = e + 1;
    }
    return v;
}

/* Sort key: case folded for strings unless case-sensitive; attribute path. */
static jval sort_key(jrender *r, jval v, jval *attr, int case_sensitive) {
    if (attr && attr->t != JV_NONE) v = attr_path(r, v, *attr);
    if (!case_sensitive && v.t == JV_STR) v = map_case(r, v, to_lower);
    return v;
}

static void sort_vals(jrender *r, jval *v, jval *keys, size_t n, int reverse) {
    /* stable merge sort by keys */
    if (n < 2) return;
    jval *tv = ja_alloc(&r->arena, n * sizeof *tv), *tk = ja_alloc(&r->arena, n * sizeof *tk);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int c = jv_compare(r, keys[j], keys[i]);
                int take_right = reverse ? c > 0 : c < 0;
                if (take_right) { tv[k] = v[j]; tk[k++] = keys[j++]; }
                else { tv[k] = v[i]; tk[k++] = keys[i++]; }
            }
            while (i < mid) { tv[k] = v[i]; tk[k++] = keys[i++]; }
            while (j < hi) { tv[k] = v[j]; tk[k++] = keys[j++]; }
        }
        memcpy(v, tv, n * sizeof *v);
        memcpy(keys, tk, n * sizeof *keys);
    }
}

static jval html_escape(jrender *r, jval s) {
    jsb b = {0};
    for (size_t i = 0; i < s.n; i++) {
        switch (s.s[i]) {
        case '&': jsb_str(r, &b, "&amp;"); break;
        case '<': jsb_str(r, &b, "&lt;"); break;
        case '>': jsb_str(r, &b, "&gt;"); break;
        case '"': jsb_str(r, &b, "&#34;"); break;
        case '\'': jsb_str(r, &b, "&#39;"); break;
        default: jsb_char(r, &b, s.s[i]);
        }
    }
    return b.p ? jsb_val(&b) : jv_strn("", 0);
}

/* select / reject / selectattr / rejectattr */
static jval select_items(jrender *r, jargs *a, int attr, int keep, int line) {
    jval items = jv_iterate(r, a->pos[0]);
    jval out = jv_list_new(r, 0);
    int ti = attr ? 2 : 1;
    jval *tname = jb_arg(a, ti, NULL);
    if (attr && !jb_arg(a, 1, NULL)) jr_fail(r, SL_EINVAL, "line %d: missing parameter for attribute name", line);
    const char *test = NULL;
    if (tname) {
        need_str(r, *tname, "select");
        test = ja_strndup(&r->arena, tname->s, tname->n);
        if (!jb_has_test(test)) jr_fail(r, SL_EINVAL, "line %d: No test named '%s'", line, test);
    }
    int extra = a->npos - ti - 1;
    if (extra < 0) extra = 0;
    jval *targs = ja_alloc(&r->arena, (size_t)(extra + 1) * sizeof *targs);
    for (size_t i = 0; i < items.l->n; i++) {
        jr_step(r);
        jval v = items.l->v[i];
        jval tv = attr ? attr_path(r, v, a->pos[1]) : v;
        int ok;
        if (test) {
            targs[0] = tv;
            for (int k = 0; k < extra; k++) targs[k + 1] = a->pos[ti + 1 + k];
            jargs ta = {.pos = targs, .npos = extra + 1};
            ok = jb_test(r, test, &ta, line);
        } else {
            ok = jv_truthy(tv);
        }
        if (ok == keep) jv_list_push(r, out.l, v);
    }
    return out;
}

static jval to_int(jrender *r, jval v, jval dflt, int64_t base) {
    switch (v.t) {
    case JV_INT:
    case JV_BOOL: return jv_int(v.i);
    case JV_FLOAT:
        if (!isfinite(v.f) || fabs(v.f) > 9.2e18) return dflt;
        return jv_int((int64_t)v.f);
    case JV_STR: {
        char buf[128];
        jval t = strip(r, v, NULL, 1, 1);
        if (!t.n || t.n >= sizeof buf) return dflt;
        size_t k = 0;
        for (size_t i = 0; i < t.n; i++)
            if (t.s[i] != '_') buf[k++] = t.s[i];
        buf[k] = 0;
        char *end;
        errno = 0;
        long long x = strtoll(buf, &end, (int)base);
        if (!*end && !errno) return jv_int(x);
        double d = strtod(buf, &end);
        if (!*end && isfinite(d) && fabs(d) < 9.2e18) return jv_int((int64_t)d);
        return dflt;
    }
    default: return dflt;
    }
}

static jval tojson(jrender *r, jargs *a) {
    jval *ind = jb_arg(a, 1, "indent"), *seps = jb_arg(a, -1, "separators"), *sk = jb_arg(a, -1, "sort_keys");
    jval *ea = jb_arg(a, -1, "ensure_ascii");
    if (ea && jv_truthy(*ea)) jr_fail(r, SL_EINVAL, "tojson(ensure_ascii=True) is not supported");
    const char *indent = NULL;
    size_t indent_n = 0;
    char spaces[256];
    if (ind && ind->t != JV_NONE) {
        if (ind->t == JV_INT) {
            int64_t k = ind->i < 0 ? 0 : ind->i;
            if (k > 255) jr_fail(r, SL_EINVAL, "tojson: indent too large");
            memset(spaces, ' ', (size_t)k);
            indent = spaces;
            indent_n = (size_t)k;
        } else if (ind->t == JV_STR) {
            indent = ind->s;
            indent_n = ind->n;
        } else {
            jr_fail(r, SL_EINVAL, "tojson: indent must be an integer or a string");
        }
    }
    const char *item_sep = indent ? "," : ", ", *key_sep = ": ";
    if (seps && seps->t != JV_NONE) {
        if (seps->t != JV_LIST || seps->l->n != 2 || seps->l->v[0].t != JV_STR || seps->l->v[1].t != JV_STR)
            jr_fail(r, SL_EINVAL, "tojson: separators must be a pair of strings");
        item_sep = ja_strndup(&r->arena, seps->l->v[0].s, seps->l->v[0].n);
        key_sep = ja_strndup(&r->arena, seps->l->v[1].s, seps->l->v[1].n);
    }
    jsb b = {0};
    jv_json_into(r, &b, a->pos[0], indent, indent_n, item_sep, key_sep, sk && jv_truthy(*sk), 0);
    return jsb_val(&b);
}

static jval indent_filter(jrender *r, jargs *a) {
    jval s = jv_to_str(r, a->pos[0]);
    jval *w = jb_arg(a, 1, "width"), *first = jb_arg(a, 2, "first"), *blank = jb_arg(a, 3, "blank");
    jval ind;
    if (w && w->t == JV_STR) ind = *w;
    else {
        int64_t k = need_int(r, w, 4, "indent");
        if (k > 10000) jr_fail(r, SL_EINVAL, "indent: width too large");
        if (k < 0) k = 0;
        char *sp = ja_alloc(&r->arena, (size_t)k + 1);
        memset(sp, ' ', (size_t)k);
        ind = jv_strn(sp, (size_t)k);
    }
    jsb t = {0};
    jsb_put(r, &t, s.s, s.n);
    jsb_char(r, &t, '\n');
    jval lines = splitlines(r, jsb_val(&t), 0);
    jsb b = {0};
    for (size_t i = 0; i < lines.l->n; i++) {
        jval ln = lines.l->v[i];
        if (i) {
            jsb_char(r, &b, '\n');
            if (ln.n || (blank && jv_truthy(*blank))) jsb_put(r, &b, ind.s, ind.n);
        }
        jsb_put(r, &b, ln.s, ln.n);
    }
    jval rv = b.p ? jsb_val(&b) : jv_strn("", 0);
    if (first && jv_truthy(*first)) {
        jsb f = {0};
        jsb_put(r, &f, ind.s, ind.n);
        jsb_put(r, &f, rv.s, rv.n);
        rv = jsb_val(&f);
    }
    return rv;
}

static jval minmax(jrender *r, jargs *a, int want_max) {
    jval items = jv_iterate(r, a->pos[0]);
    jval *cs = jb_arg(a, 1, "case_sensitive"), *attr = jb_arg(a, 2, "attribute");
    if (!items.l->n) return jv_undef(NULL);
    size_t best = 0;
    jval bk = sort_key(r, items.l->v[0], attr, cs && jv_truthy(*cs));
    for (size_t i = 1; i < items.l->n; i++) {
        jval k = sort_key(r, items.l->v[i], attr, cs && jv_truthy(*cs));
        int c = jv_compare(r, k, bk);
        if (want_max ? c > 0 : c < 0) {
            best = i;
            bk = k;
        }
    }
    return items.l->v[best];
}

jval jb_filter(jrender *r, const char *f, jargs *a, int line) {
    jval v = a->pos[0];
    jval *a1 = jb_arg(a, 1, NULL), *a2 = jb_arg(a, 2, NULL);
    if (!strcmp(f, "default") || !strcmp(f, "d")) {
        jval *dv = jb_arg(a, 1, "default_value"), *bo = jb_arg(a, 2, "boolean");
        int use = v.t == JV_UNDEF || (bo && jv_truthy(*bo) && !jv_truthy(v));
        return use ? (dv ? *dv : jv_strn("", 0)) : v;
    }
    if (!strcmp(f, "safe") || !strcmp(f, "pprint")) return !strcmp(f, "safe") ? v : jv_to_str(r, v);
    if (!strcmp(f, "string")) return jv_to_str(r, v);
    if (!strcmp(f, "tojson")) return tojson(r, a);
    if (!strcmp(f, "length") || !strcmp(f, "count")) return jv_int(length_of(r, v));
    if (!strcmp(f, "trim")) return strip(r, jv_to_str(r, v), jb_arg(a, 1, "chars"), 1, 1);
    if (!strcmp(f, "upper")) return map_case(r, jv_to_str(r, v), to_upper);
    if (!strcmp(f, "lower")) return map_case(r, jv_to_str(r, v), to_lower);
    if (!strcmp(f, "capitalize")) return capitalize(r, jv_to_str(r, v));
    if (!strcmp(f, "title")) { /* jinja2: words split at -, whitespace, ( { [ < */
        jval s = jv_to_str(r, v);
        jsb b = {0};
        int start = 1;
        size_t i = 0, len;
        while (i < s.n) {
            int32_t c = cp_at(s.s, s.n, i, &len);
            int sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space_cp(c);
            int32_t m = sep ? c : start ? utf8proc_toupper(c) : utf8proc_tolower(c);
            utf8proc_uint8_t o[4];
            jsb_put(r, &b, (const char *)o, (size_t)utf8proc_encode_char(m, o));
            start = sep;
            i += len;
        }
        return b.p ? jsb_val(&b) : jv_strn("", 0);
    }
    if (!strcmp(f, "center")) return pad(r, jv_to_str(r, v), need_int(r, jb_arg(a, 1, "width"), 80, f), NULL, 0);
    if (!strcmp(f, "replace")) {
        if (!a1 || !a2) jr_fail(r, SL_EINVAL, "line %d: replace needs two arguments", line);
        jval o = jv_to_str(r, *a1), nw = jv_to_str(r, *a2);
        return replace(r, jv_to_str(r, v), o, nw, need_int(r, jb_arg(a, 3, "count"), -1, f));
    }
    if (!strcmp(f, "escape") || !strcmp(f, "e") || !strcmp(f, "forceescape")) return html_escape(r, jv_to_str(r, v));
    if (!strcmp(f, "striptags")) {
        jval s = jv_to_str(r, v);
        jsb b = {0};
        int in_tag = 0;
        for (size_t i = 0; i < s.n; i++) {
            if (s.s[i] == '<') in_tag = 1;
            else if (s.s[i] == '>' && in_tag) in_tag = 0;
            else if (!in_tag) jsb_char(r, &b, s.s[i]);
        }
        jval t = split(r, b.p ? jsb_val(&b) : jv_strn("", 0), NULL, -1, 0);
        jval sp = jv_strn(" ", 1);
        jargs ja = {.pos = &t, .npos = 1};
        return str_method(r, sp, "join", &ja);
    }
    if (!strcmp(f, "wordcount")) {
        jval s = jv_to_str(r, v);
        int64_t k = 0;
        int in = 0;
        size_t i = 0, len;
        while (i < s.n) {
            int32_t c = cp_at(s.s, s.n, i, &len);
            int w = c == '_' || is_alnum_cp(c);
            if (w && !in) k++;
            in = w;
            i += len;
        }
        return jv_int(k);
    }
    if (!strcmp(f, "truncate")) {
        jval s = jv_to_str(r, v);
        int64_t length = need_int(r, jb_arg(a, 1, "length"), 255, f);
        jval *kw = jb_arg(a, 2, "killwords"), *end = jb_arg(a, 3, "end"), *lw = jb_arg(a, 4, "leeway");
        jval e = end && end->t == JV_STR ? *end : jv_strn("...", 3);
        int64_t leeway = need_int(r, lw, 5, f);
        int64_t n = (int64_t)ju_len(s.s, s.n), el = (int64_t)ju_len(e.s, e.n);
        if (length < el) jr_fail(r, SL_EINVAL, "expected length >= %lld, got %lld", (long long)el, (long long)length);
        if (leeway < 0) jr_fail(r, SL_EINVAL, "expected leeway >= 0");
        if (n <= length + leeway) return s;
        jval head = jv_strn(s.s, ju_offset(s.s, s.n, length - el));
        if (!(kw && jv_truthy(*kw))) {
            jval sp = jv_strn(" ", 1);
            jval parts = split(r, head, &sp, 1, 1);
            head = parts.l->v[0];
        }
        jsb b = {0};
        jsb_put(r, &b, head.s, head.n);
        jsb_put(r, &b, e.s, e.n);
        return jsb_val(&b);
    }
    if (!strcmp(f, "indent")) return indent_filter(r, a);
    if (!strcmp(f, "format")) {
        jval s = jv_to_str(r, v);
        if (a->nkw) {
            jval d = jv_dict_new(r, 0);
            for (int k = 0; k < a->nkw; k++) jv_dict_set(r, d.d, jv_strn(a->kwn[k], strlen(a->kwn[k])), a->kwv[k]);
            return percent_format(r, s, d);
        }
        jval l = jv_list_new(r, 0);
        for (int i = 1; i < a->npos; i++) jv_list_push(r, l.l, a->pos[i]);
        return percent_format(r, s, l);
    }
    if (!strcmp(f, "int")) {
        jval *dflt = jb_arg(a, 1, "default");
        return to_int(r, v, dflt ? *dflt : jv_int(0), need_int(r, jb_arg(a, 2, "base"), 10, f));
    }
    if (!strcmp(f, "float")) {
        jval *dflt = jb_arg(a, 1, "default");
        jval dv = dflt ? *dflt : jv_float(0);
        if (v.t == JV_FLOAT) return v;
        if (v.t == JV_INT || v.t == JV_BOOL) return jv_float((double)v.i);
        if (v.t == JV_STR) {
            jval t = strip(r, v, NULL, 1, 1);
            char *z = ja_strndup(&r->arena, t.s, t.n), *end;
            double d = strtod(z, &end);
            if (t.n && !*end) return jv_float(d);
        }
        return dv;
    }
    if (!strcmp(f, "abs")) {
        if (v.t == JV_FLOAT) return jv_float(fabs(v.f));
        if (v.t == JV_INT || v.t == JV_BOOL) {
            if (v.i == INT64_MIN) jr_fail(r, SL_ETOOBIG, "integer overflow");
            return jv_int(v.i < 0 ? -v.i : v.i);
        }
        jr_fail(r, SL_EINVAL, "bad operand type for abs(): '%s'", jv_type_name(v));
    }
    if (!strcmp(f, "round")) {
        int64_t prec = need_int(r, jb_arg(a, 1, "precision"), 0, f);
        jval *meth = jb_arg(a, 2, "method");
        if (!jv_is_num(v)) jr_fail(r, SL_EINVAL, "round: expected a number, not %s", jv_type_name(v));
        if (prec > 300 || prec < -300) jr_fail(r, SL_EINVAL, "round: precision out of range");
        double x = jv_num(v), p = pow(10.0, (double)prec), y;
        const char *m = meth && meth->t == JV_STR ? ja_strndup(&r->arena, meth->s, meth->n) : "common";
        if (!strcmp(m, "common")) {
            if (v.t != JV_FLOAT) return jv_int(v.i); /* Python: round(int, n) is the int */
            if (prec >= 0) { /* Python rounds the exact binary value, half to even: as printf does */
                char buf[400];
                snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
                y = strtod(buf, NULL);
            } else {
                y = nearbyint(x * p) / p;
            }
        }
        else if (!strcmp(m, "ceil")) y = ceil(x * p) / p;
        else if (!strcmp(m, "floor")) y = floor(x * p) / p;
        else jr_fail(r, SL_EINVAL, "method must be common, ceil or floor");
        return jv_float(y);
    }
    if (!strcmp(f, "first") || !strcmp(f, "last")) {
        jval items = jv_iterate(r, v);
        if (!items.l->n) return jv_undef(NULL);
        return items.l->v[f[0] == 'f' ? 0 : items.l->n - 1];
    }
    if (!strcmp(f, "list")) {
        jval items = jv_iterate(r, v);
        jval l = jv_list_new(r, items.l->n);
        for (size_t i = 0; i < items.l->n; i++) l.l->v[l.l->n++] = items.l->v[i];
        return l;
    }
    if (!strcmp(f, "items")) {
        if (v.t == JV_UNDEF) return jv_list_new(r, 0);
        if (v.t != JV_DICT) jr_fail(r, SL_EINVAL, "line %d: can only get item pairs from a mapping", line);
        return items_of(r, v);
    }
    if (!strcmp(f, "dictsort")) {
        if (v.t != JV_DICT) jr_fail(r, SL_EINVAL, "line %d: dictsort needs a mapping", line);
        jval *cs = jb_arg(a, 1, "case_sensitive"), *by = jb_arg(a, 2, "by"), *rev = jb_arg(a, 3, "reverse");
        int pos = 0;
        if (by && by->t == JV_STR) {
            if (by->n == 5 && !memcmp(by->s, "value", 5)) pos = 1;
            else if (!(by->n == 3 && !memcmp(by->s, "key", 3))) jr_fail(r, SL_EINVAL, "You can only sort by either \"key\" or \"value\"");
        }
        jval items = items_of(r, v);
        jval *keys = ja_alloc(&r->arena, (items.l->n + 1) * sizeof *keys);
        for (size_t i = 0; i < items.l->n; i++) keys[i] = sort_key(r, items.l->v[i].l->v[pos], NULL, cs && jv_truthy(*cs));
        sort_vals(r, items.l->v, keys, items.l->n, rev && jv_truthy(*rev));
        return items;
    }
    if (!strcmp(f, "sort")) {
        jval *rev = jb_arg(a, 1, "reverse"), *cs = jb_arg(a, 2, "case_sensitive"), *attr = jb_arg(a, 3, "attribute");
        jval items = jv_iterate(r, v);
        jval l = jv_list_new(r, items.l->n);
        jval *keys = ja_alloc(&r->arena, (items.l->n + 1) * sizeof *keys);
        for (size_t i = 0; i < items.l->n; i++) {
            l.l->v[l.l->n++] = items.l->v[i];
            keys[i] = sort_key(r, items.l->v[i], attr, cs && jv_truthy(*cs));
        }
        sort_vals(r, l.l->v, keys, l.l->n, rev && jv_truthy(*rev));
        return l;
    }
    if (!strcmp(f, "unique")) {
        jval *cs = jb_arg(a, 1, "case_sensitive"), *attr = jb_arg(a, 2, "attribute");
        jval items = jv_iterate(r, v);
        jval out = jv_list_new(r, 0), seen = jv_list_new(r, 0);
        for (size_t i = 0; i < items.l->n; i++) {
            jr_step(r);
            jval k = sort_key(r, items.l->v[i], attr, cs && jv_truthy(*cs));
            int dup = 0;
            for (size_t j = 0; j < seen.l->n && !dup; j++) dup = jv_equal(seen.l->v[j], k);
            if (!dup) {
                jv_list_push(r, seen.l, k);
                jv_list_push(r, out.l, items.l->v[i]);
            }
        }
        return out;
    }
    if (!strcmp(f, "reverse")) {
        if (v.t == JV_STR) {
            jsb b = {0};
            size_t e = v.n;
            while (e > 0) {
                size_t st;
                cp_before(v.s, v.n, e, &st);
                jsb_put(r, &b, v.s + st, e - st);
                e = st;
            }
            return b.p ? jsb_val(&b) : jv_strn("", 0);
        }
        jval items = jv_iterate(r, v);
        jval l = jv_list_new(r, items.l->n);
        for (size_t i = items.l->n; i-- > 0;) l.l->v[l.l->n++] = items.l->v[i];
        return l;
    }
    if (!strcmp(f, "join")) {
        jval items = jv_iterate(r, v);
        jval *sep = jb_arg(a, 1, "d"), *attr = jb_arg(a, 2, "attribute");
        jval sp = sep ? jv_to_str(r, *sep) : jv_strn("", 0);
        jsb b = {0};
        for (size_t i = 0; i < items.l->n; i++) {
            if (i) jsb_put(r, &b, sp.s, sp.n);
            jval x = attr && attr->t != JV_NONE ? attr_path(r, items.l->v[i], *attr) : items.l->v[i];
            jv_str_into(r, &b, x);
        }
        return b.p ? jsb_val(&b) : jv_strn("", 0);
    }
    if (!strcmp(f, "sum")) {
        jval *attr = jb_arg(a, 1, "attribute"), *start = jb_arg(a, 2, "start");
        jval items = jv_iterate(r, v);
        jval acc = start ? *start : jv_int(0);
        for (size_t i = 0; i < items.l->n; i++) {
            jval x = attr && attr->t != JV_NONE ? attr_path(r, items.l->v[i], *attr) : items.l->v[i];
            if (!jv_is_num(acc) || !jv_is_num(x))
                jr_fail(r, SL_EINVAL, "unsupported operand type(s) for +: '%s' and '%s'", jv_type_name(acc), jv_type_name(x));
            if (acc.t == JV_FLOAT || x.t == JV_FLOAT) acc = jv_float(jv_num(acc) + jv_num(x));
            else if (__builtin_add_overflow(acc.i, x.i, &acc.i)) jr_fail(r, SL_ETOOBIG, "integer overflow");
            else acc.t = JV_INT;
        }
        return acc;
    }
    if (!strcmp(f, "min") || !strcmp(f, "max")) return minmax(r, a, f[1] == 'a');
    if (!strcmp(f, "map")) {
        jval items = jv_iterate(r, v);
        jval out = jv_list_new(r, items.l->n);
        jval *attr = jb_arg(a, -1, "attribute");
        if (attr) {
            jval *dflt = jb_arg(a, -1, "default");
            for (size_t i = 0; i < items.l->n; i++) {
                jval x = attr_path(r, items.l->v[i], *attr);
                if (x.t == JV_UNDEF && dflt) x = *dflt;
                out.l->v[out.l->n++] = x;
            }
            return out;
        }
        if (!a1) jr_fail(r, SL_EINVAL, "line %d: map requires a filter argument", line);
        need_str(r, *a1, "map");
        const char *fname = ja_strndup(&r->arena, a1->s, a1->n);
        if (!has_filter(fname)) jr_fail(r, SL_EINVAL, "line %d: No filter named '%s'", line, fname);
        int extra = a->npos - 2;
        jval *fargs = ja_alloc(&r->arena, (size_t)(extra + 1) * sizeof *fargs);
        for (size_t i = 0; i < items.l->n; i++) {
            jr_step(r);
            fargs[0] = items.l->v[i];
            for (int k = 0; k < extra; k++) fargs[k + 1] = a->pos[2 + k];
            jargs fa = {.pos = fargs, .npos = extra + 1, .kwv = a->kwv, .kwn = a->kwn, .nkw = a->nkw};
            out.l->v[out.l->n++] = jb_filter(r, fname, &fa, line);
        }
        return out;
    }
    if (!strcmp(f, "select")) return select_items(r, a, 0, 1, line);
    if (!strcmp(f, "reject")) return select_items(r, a, 0, 0, line);
    if (!strcmp(f, "selectattr")) return select_items(r, a, 1, 1, line);
    if (!strcmp(f, "rejectattr")) return select_items(r, a, 1, 0, line);
    if (!strcmp(f, "attr")) {
        if (!a1) jr_fail(r, SL_EINVAL, "line %d: attr needs a name", line);
        need_str(r, *a1, "attr");
        if (v.t == JV_UNDEF) return jv_undef(NULL);
        char *nm = ja_strndup(&r->arena, a1->s, a1->n);
        if (jb_is_method(v, nm) == 1) return jb_getattr(r, v, nm, a1->n);
        if (v.t == JV_NS || v.t == JV_LOOP) return jb_getattr(r, v, nm, a1->n);
        return jv_undef(nm);
    }
    if (!strcmp(f, "batch") || !strcmp(f, "slice")) {
        int64_t k = need_int(r, a1, 0, f);
        jval *fill = jb_arg(a, 2, "fill_with");
        jval items = jv_iterate(r, v);
        jval out = jv_list_new(r, 0);
        if (k <= 0) jr_fail(r, SL_EINVAL, "%s: the count must be positive", f);
        size_t n = items.l->n;
        if (f[0] == 'b') {
            jval cur = {0};
            for (size_t i = 0; i < n; i++) {
                if (i % (size_t)k == 0) {
                    cur = jv_list_new(r, 0);
                    jv_list_push(r, out.l, cur);
                }
                jv_list_push(r, cur.l, items.l->v[i]);
            }
            if (fill && cur.t == JV_LIST)
                while (cur.l->n < (size_t)k) jv_list_push(r, cur.l, *fill);
            return out;
        }
        if ((uint64_t)k > 100000) jr_fail(r, SL_ETOOBIG, "slice: too many slices");
        size_t per = n / (size_t)k, extra = n % (size_t)k, offset = 0;
        for (int64_t s = 0; s < k; s++) {
            size_t start = offset + (size_t)s * per, end;
            if ((size_t)s < extra) offset++;
            end = offset + ((size_t)s + 1) * per;
            jval part = jv_list_new(r, 0);
            for (size_t i = start; i < end && i < n; i++) jv_list_push(r, part.l, items.l->v[i]);
            if (fill && (size_t)s >= extra) jv_list_push(r, part.l, *fill);
            jv_list_push(r, out.l, part);
        }
        return out;
    }
    if (!strcmp(f, "groupby")) return groupby(r, a, line);
    if (has_filter(f)) jr_fail(r, SL_ENOTSUP, "line %d: the filter '%s' is not supported", line, f);
    jr_fail(r, SL_EINVAL, "line %d: No filter named '%s'", line, f);
}
