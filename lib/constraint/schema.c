/* schema.c — JSON Schema, any JSON object and choice lists into the grammar.
 *
 * Supported (everything else is an error naming the keyword):
 *   type (one or a list): object, array, string, number, integer, boolean, null
 *   object: properties (emitted in the order given), required, additionalProperties
 *     (false or absent: only the listed properties; true or a schema: more keys may follow
 *     the listed ones, printable ASCII without escapes and never one of them); without
 *     properties, "type": "object" is any object
 *   array: items, minItems, maxItems (<= 2000)
 *   string: minLength, maxLength (<= 2000), pattern (a regex of regex.c, searched as JSON
 *     Schema does: unanchored ends match anything), format date, time, date-time, uuid, email
 *   integer: minimum, maximum, exclusiveMinimum, exclusiveMaximum (bounds beyond 16 digits clamped)
 *   number: the same bounds; the numbers generated are those whose integer part keeps them in
 *     range (a subset when a bound is not an integer: maximum 3.5 gives up to 3.0...; bounds
 *     that enclose no integer are refused), without exponent
 *   enum, const (the values as compact JSON), anyOf, oneOf (as anyOf: exclusivity is not
 *   enforced), allOf with one schema, $ref to "#", "#/$defs/..." or "#/definitions/...",
 *   recursion through $ref, boolean schemas (true; false is an error)
 *   annotations ignored: title, description, $schema, $id, $comment, default, examples,
 *   deprecated, readOnly, writeOnly, strict, name
 * Output form: JSON whitespace is free but bounded (at most a newline and 20 blanks between
 * tokens), numbers have at most 16 integer and 15 fraction digits and a 2-digit exponent
 * (any JSON parser reads them as finite doubles). Nesting of schemas is bounded (SL__G_MAX_NEST). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "constraint_internal.h"
#include "error.h"

typedef struct sc {
    sl__gb *g;
    json_t *root;
    int ws, str, chr, num, intg, value, object, array, boolean, null_;
    struct { json_t *s; int rule; } *refs;
    int n_refs, cap_refs;
    int depth;
    int compact; /* no whitespace between JSON tokens */
} sc;

#define CHK(x) do { if ((x) < 0 || c->g->failed) return SL_EINVAL; } while (0)

static int sfail(sc *c, const char *fmt, const char *arg) {
    return sl__gb_fail(c->g, SL_EINVAL, fmt, arg);
}

/* A rule from one alternative built by the callback-free helpers below. */
static int rule1(sc *c, sl__seq *s) {
    int r = sl__gb_rule(c->g, NULL);
    if (r < 0 || sl__gb_alt(c->g, r, s)) {
        sl__seq_free(s);
        return SL_EINVAL;
    }
    return r;
}

static int push_ref(sc *c, sl__seq *s, int rule) { return sl__seq_push(c->g, s, SL__E_REF, rule); }

/* Compiles a tiny regex (our own, trusted) into a rule. */
static int rx_rule(sc *c, const char *re) { return sl__regex_compile_rule(c->g, re, strlen(re), 0); }

static int ws_rule(sc *c) {
    if (c->ws < 0) c->ws = rx_rule(c, c->compact ? "" : "( |\\n[ \\t]{0,20})?");
    return c->ws;
}

static int chr_rule(sc *c) {
    if (c->chr < 0) c->chr = rx_rule(c, "[^\"\\\\\\x00-\\x1f]|\\\\([\"\\\\/bfnrt]|u[0-9a-fA-F]{4})");
    return c->chr;
}

static int str_rule(sc *c) {
    if (c->str < 0) {
        sl__seq s = {0}, one = {0};
        int ch = chr_rule(c);
        CHK(ch);
        CHK(sl__seq_lit(c->g, &s, "\"", 1));
        CHK(push_ref(c, &one, ch));
        int rc = sl__seq_repeat(c->g, &s, &one, 0, -1);
        sl__seq_free(&one);
        CHK(rc);
        CHK(sl__seq_lit(c->g, &s, "\"", 1));
        c->str = rule1(c, &s);
    }
    return c->str;
}

static int num_rule(sc *c) {
    if (c->num < 0) c->num = rx_rule(c, "-?(0|[1-9][0-9]{0,15})(\\.[0-9]{1,15})?([eE][-+]?[0-9]{1,2})?");
    return c->num;
}

static int int_rule(sc *c) {
    if (c->intg < 0) c->intg = rx_rule(c, "-?(0|[1-9][0-9]{0,15})");
    return c->intg;
}

/* "{" ws ( "}" | member ws rest ),  rest ::= "," ws member ws rest | "}" — one path always. */
static int value_rule(sc *c);

static int generic_containers(sc *c) {
    int ws = ws_rule(c), str = str_rule(c);
    CHK(ws);
    CHK(str);
    c->value = sl__gb_rule(c->g, NULL);
    c->object = sl__gb_rule(c->g, NULL);
    c->array = sl__gb_rule(c->g, NULL);
    CHK(c->value);
    CHK(c->object);
    CHK(c->array);
    int orest = sl__gb_rule(c->g, NULL), arest = sl__gb_rule(c->g, NULL);
    CHK(orest);
    CHK(arest);
    sl__seq s = {0};
    /* member: string ws ":" ws value */
#define MEMBER() (push_ref(c, &s, str) || push_ref(c, &s, ws) || sl__seq_lit(c->g, &s, ":", 1) || push_ref(c, &s, ws) || push_ref(c, &s, c->value))
    if (sl__seq_lit(c->g, &s, "}", 1) || sl__gb_alt(c->g, orest, &s)) goto fail;
    if (sl__seq_lit(c->g, &s, ",", 1) || push_ref(c, &s, ws) || MEMBER() || push_ref(c, &s, ws) || push_ref(c, &s, orest) ||
        sl__gb_alt(c->g, orest, &s))
        goto fail;
    if (sl__seq_lit(c->g, &s, "{", 1) || push_ref(c, &s, ws) || sl__seq_lit(c->g, &s, "}", 1) || sl__gb_alt(c->g, c->object, &s))
        goto fail;
    if (sl__seq_lit(c->g, &s, "{", 1) || push_ref(c, &s, ws) || MEMBER() || push_ref(c, &s, ws) || push_ref(c, &s, orest) ||
        sl__gb_alt(c->g, c->object, &s))
        goto fail;
#undef MEMBER
    if (sl__seq_lit(c->g, &s, "]", 1) || sl__gb_alt(c->g, arest, &s)) goto fail;
    if (sl__seq_lit(c->g, &s, ",", 1) || push_ref(c, &s, ws) || push_ref(c, &s, c->value) || push_ref(c, &s, ws) ||
        push_ref(c, &s, arest) || sl__gb_alt(c->g, arest, &s))
        goto fail;
    if (sl__seq_lit(c->g, &s, "[", 1) || push_ref(c, &s, ws) || sl__seq_lit(c->g, &s, "]", 1) || sl__gb_alt(c->g, c->array, &s))
        goto fail;
    if (sl__seq_lit(c->g, &s, "[", 1) || push_ref(c, &s, ws) || push_ref(c, &s, c->value) || push_ref(c, &s, ws) ||
        push_ref(c, &s, arest) || sl__gb_alt(c->g, c->array, &s))
        goto fail;
    int num = num_rule(c);
    CHK(num);
    static const char *const lits[] = {"true", "false", "null"};
    int alts[] = {c->object, c->array, str, num};
    for (int i = 0; i < 4; i++)
        if (push_ref(c, &s, alts[i]) || sl__gb_alt(c->g, c->value, &s)) goto fail;
    for (int i = 0; i < 3; i++)
        if (sl__seq_lit(c->g, &s, lits[i], strlen(lits[i])) || sl__gb_alt(c->g, c->value, &s)) goto fail;
    return 0;
fail:
    sl__seq_free(&s);
    return SL_EINVAL;
}

static int value_rule(sc *c) {
    if (c->value < 0 && generic_containers(c)) return SL_EINVAL;
    return c->value;
}

static void sc_init(sc *c, sl__gb *g) {
    memset(c, 0, sizeof *c);
    c->g = g;
    c->ws = c->str = c->chr = c->num = c->intg = c->value = c->object = c->array = c->boolean = c->null_ = -1;
}

int sl__json_object_rule(sl__gb *g, int compact) {
    sc c;
    sc_init(&c, g);
    c.compact = compact;
    if (value_rule(&c) < 0) return SL_EINVAL;
    return c.object;
}

/* A rule matching exactly one of the values of ARR, as compact JSON. */
static int values_rule(sc *c, json_t *const *vals, size_t n) {
    if (!n) return sfail(c, "JSON schema: '%s' has no values (it would match nothing)", "enum");
    char **s = calloc(n, sizeof *s);
    size_t *l = calloc(n, sizeof *l);
    int r = SL_EINVAL;
    if (!s || !l) {
        sl__gb_fail(c->g, SL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        s[i] = json_dumps(vals[i], JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s[i]) {
            sl__gb_fail(c->g, SL_ENOMEM, "out of memory");
            goto out;
        }
        l[i] = strlen(s[i]);
    }
    r = sl__gb_strings(c->g, (const char *const *)s, l, (int)n);
out:
    for (size_t i = 0; s && i < n; i++) free(s[i]);
    free(s);
    free(l);
    return r;
}

/* ---------------------------------------------------------------- integer ranges */

/* Same-length digit strings X <= Y: numbers between them, digit by digit. */
static int fixed_range(sc *c, sl__seq *out, const char *x, const char *y, int len) {
    if (len == 0) return 0;
    if (x[0] == y[0]) {
        CHK(sl__seq_lit(c->g, out, x, 1));
        return fixed_range(c, out, x + 1, y + 1, len - 1);
    }
    int low_all0 = 1, high_all9 = 1;
    for (int i = 1; i < len; i++) {
        if (x[i] != '0') low_all0 = 0;
        if (y[i] != '9') high_all9 = 0;
    }
    sl__seq d = {0};
    if (low_all0 && high_all9) {
        CHK(sl__seq_byte(c->g, out, (unsigned char)x[0], (unsigned char)y[0]));
        if (len > 1) {
            CHK(sl__seq_byte(c->g, &d, '0', '9'));
            int rc = sl__seq_repeat(c->g, out, &d, len - 1, len - 1);
            sl__seq_free(&d);
            CHK(rc);
        }
        return 0;
    }
    int r = sl__gb_rule(c->g, NULL);
    CHK(r);
    char nines[20], zeros[20];
    memset(nines, '9', sizeof nines);
    memset(zeros, '0', sizeof zeros);
    sl__seq s = {0};
    /* x0 followed by [x1.., 99..] */
    if (sl__seq_lit(c->g, &s, x, 1) || fixed_range(c, &s, x + 1, nines, len - 1) || sl__gb_alt(c->g, r, &s)) goto fail;
    if (y[0] - x[0] > 1) {
        if (sl__seq_byte(c->g, &s, (unsigned char)(x[0] + 1), (unsigned char)(y[0] - 1))) goto fail;
        if (len > 1) {
            if (sl__seq_byte(c->g, &d, '0', '9') || sl__seq_repeat(c->g, &s, &d, len - 1, len - 1)) goto fail;
            sl__seq_free(&d);
        }
        if (sl__gb_alt(c->g, r, &s)) goto fail;
    }
    if (sl__seq_lit(c->g, &s, y, 1) || fixed_range(c, &s, zeros, y + 1, len - 1) || sl__gb_alt(c->g, r, &s)) goto fail;
    return push_ref(c, out, r);
fail:
    sl__seq_free(&s);
    sl__seq_free(&d);
    return SL_EINVAL;
}

/* Non-negative integers in [a, b] without leading zeros, as alternatives of RULE. */
static int nonneg_range(sc *c, int rule, unsigned long long a, unsigned long long b) {
    char sa[24], sb[24];
    int la = snprintf(sa, sizeof sa, "%llu", a), lb = snprintf(sb, sizeof sb, "%llu", b);
    for (int L = la; L <= lb; L++) {
        char x[24], y[24];
        if (L == la) memcpy(x, sa, (size_t)L);
        else { x[0] = '1'; memset(x + 1, '0', (size_t)L - 1); }
        if (L == lb) memcpy(y, sb, (size_t)L);
        else memset(y, '9', (size_t)L);
        sl__seq s = {0};
        if (fixed_range(c, &s, x, y, L) || sl__gb_alt(c->g, rule, &s)) {
            sl__seq_free(&s);
            return SL_EINVAL;
        }
    }
    return 0;
}

#define INT_BOUND 9999999999999999LL /* 16 digits: bounds beyond are clamped (a valid subset) */

static int int_range(sc *c, long long lo, long long hi) {
    if (lo > hi) return sfail(c, "JSON schema: %s: the integer bounds leave no value", "minimum/maximum");
    int r = sl__gb_rule(c->g, NULL);
    CHK(r);
    if (lo < 0) { /* "-" then |x| in [max(1, -hi), -lo] */
        unsigned long long a = hi < 0 ? (unsigned long long)(-hi) : 1, b = (unsigned long long)(-lo);
        int neg = sl__gb_rule(c->g, NULL);
        CHK(neg);
        CHK(nonneg_range(c, neg, a, b));
        sl__seq s = {0};
        if (sl__seq_lit(c->g, &s, "-", 1) || push_ref(c, &s, neg) || sl__gb_alt(c->g, r, &s)) {
            sl__seq_free(&s);
            return SL_EINVAL;
        }
    }
    if (hi >= 0) CHK(nonneg_range(c, r, (unsigned long long)(lo > 0 ? lo : 0), (unsigned long long)hi));
    return r;
}

/* ---------------------------------------------------------------- schemas */

static int gen(sc *c, json_t *s);

static int is_annotation(const char *k) {
    static const char *const a[] = {"title", "description", "$schema", "$id", "$comment", "default", "examples",
                                    "deprecated", "readOnly", "writeOnly", "strict", "name", "$defs", "definitions", NULL};
    for (int i = 0; a[i]; i++)
        if (!strcmp(k, a[i])) return 1;
    return 0;
}

/* Keywords each type understands (besides type and the annotations). */
static int keyword_ok(const char *type, const char *k) {
    static const char *const common[] = {"enum", "const", "anyOf", "oneOf", "allOf", "$ref", NULL};
    for (int i = 0; common[i]; i++)
        if (!strcmp(k, common[i])) return 1;
    const char *obj[] = {"properties", "required", "additionalProperties", NULL};
    const char *arr[] = {"items", "minItems", "maxItems", NULL};
    const char *str[] = {"minLength", "maxLength", "pattern", "format", NULL};
    const char *num[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", NULL};
    const char *const *set = NULL;
    if (!type) return 0;
    if (!strcmp(type, "object")) set = obj;
    else if (!strcmp(type, "array")) set = arr;
    else if (!strcmp(type, "string")) set = str;
    else if (!strcmp(type, "number") || !strcmp(type, "integer")) set = num;
    for (int i = 0; set && set[i]; i++)
        if (!strcmp(k, set[i])) return 1;
    return 0;
}

static int get_uint(sc *c, json_t *s, const char *k, long long max, long long *out) {
    json_t *v = json_object_get(s, k);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return sfail(c, "JSON schema: '%s' must be a non-negative integer", k);
    if (json_integer_value(v) > max) {
        char m[120];
        snprintf(m, sizeof m, "JSON schema: '%%s' is larger than %lld, the most supported", max);
        return sfail(c, m, k);
    }
    *out = json_integer_value(v);
    return 1;
}

static int gen_string(sc *c, json_t *s) {
    long long mn = 0, mx = -1;
    int a = get_uint(c, s, "minLength", SL__G_MAX_REPEAT, &mn), b = get_uint(c, s, "maxLength", SL__G_MAX_REPEAT, &mx);
    CHK(a);
    CHK(b);
    json_t *pat = json_object_get(s, "pattern"), *fmt = json_object_get(s, "format");
    const char *re = NULL;
    if (fmt) {
        if (!json_is_string(fmt)) return sfail(c, "JSON schema: '%s' must be a string", "format");
        const char *f = json_string_value(fmt);
        if (!strcmp(f, "date")) re = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";
        else if (!strcmp(f, "time")) re = "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";
        else if (!strcmp(f, "date-time"))
            re = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";
        else if (!strcmp(f, "uuid")) re = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
        else if (!strcmp(f, "email")) re = "^[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63}){1,4}$";
        else return sfail(c, "JSON schema: format '%s' is not supported (date, time, date-time, uuid, email are)", f);
    }
    if (pat && !json_is_string(pat)) return sfail(c, "JSON schema: '%s' must be a string", "pattern");
    if ((pat || re) && (a > 0 || b > 0))
        return sfail(c, "JSON schema: '%s' together with minLength/maxLength is not supported", pat ? "pattern" : "format");
    if (pat && re) return sfail(c, "JSON schema: '%s' together with format is not supported", "pattern");
    sl__seq q = {0};
    CHK(sl__seq_lit(c->g, &q, "\"", 1));
    if (pat || re) {
        const char *p = pat ? json_string_value(pat) : re;
        size_t pl = pat ? json_string_length(pat) : strlen(re);
        int r = sl__regex_compile_rule(c->g, p, pl, 1 | 2);
        if (r < 0) {
            sl__seq_free(&q);
            return SL_EINVAL;
        }
        CHK(push_ref(c, &q, r));
    } else if (a > 0 || b > 0) {
        if (b > 0 && mx < mn) {
            sl__seq_free(&q);
            return sfail(c, "JSON schema: %s: maxLength is below minLength", "maxLength");
        }
        sl__seq one = {0};
        int ch = chr_rule(c);
        CHK(ch);
        CHK(push_ref(c, &one, ch));
        int rc = sl__seq_repeat(c->g, &q, &one, (int)mn, b > 0 ? (int)mx : -1);
        sl__seq_free(&one);
        CHK(rc);
    } else {
        sl__seq_free(&q);
        return str_rule(c);
    }
    CHK(sl__seq_lit(c->g, &q, "\"", 1));
    return rule1(c, &q);
}

/* A bound as a double clamped into the 16-digit range (JSON may carry 1e300). */
static double clampd(double v) {
    if (v < -(double)INT_BOUND - 1) return -(double)INT_BOUND - 1;
    if (v > (double)INT_BOUND + 1) return (double)INT_BOUND + 1;
    return v;
}

/* Appends to RULE: "-"? then I (a non-negative integer in [a, b], b >= a) and FRAC. */
static int num_part(sc *c, int rule, int neg, long long a, long long b, int frac) {
    int r = sl__gb_rule(c->g, NULL);
    CHK(r);
    CHK(nonneg_range(c, r, (unsigned long long)a, (unsigned long long)b));
    sl__seq q = {0};
    if ((neg && sl__seq_lit(c->g, &q, "-", 1)) || push_ref(c, &q, r) || (frac >= 0 && push_ref(c, &q, frac)) ||
        sl__gb_alt(c->g, rule, &q)) {
        sl__seq_free(&q);
        return SL_EINVAL;
    }
    return 0;
}

static int gen_number(sc *c, json_t *s, int integer) {
    json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
    json_t *emn = json_object_get(s, "exclusiveMinimum"), *emx = json_object_get(s, "exclusiveMaximum");
    if (!mn && !mx && !emn && !emx) return integer ? int_rule(c) : num_rule(c);
    const char *names[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
    json_t *vals[] = {mn, mx, emn, emx};
    for (int i = 0; i < 4; i++)
        if (vals[i] && !json_is_number(vals[i])) return sfail(c, "JSON schema: '%s' must be a number", names[i]);
    /* Integer bounds L <= v <= H that keep every value in range (for a number, the integer
     * part decides: v in [L, H] with I in [L, H-1] and any fraction, or I = H and a zero one). */
    long long L = -INT_BOUND, H = INT_BOUND;
    if (mn) {
        double v = ceil(clampd(json_number_value(mn)));
        if (v > (double)L) L = (long long)v;
    }
    if (emn) {
        double v = floor(clampd(json_number_value(emn))) + 1;
        if (v > (double)L) L = (long long)v;
    }
    if (mx) {
        double v = floor(clampd(json_number_value(mx)));
        if (v < (double)H) H = (long long)v;
    }
    if (emx) {
        double v = ceil(clampd(json_number_value(emx))) - 1;
        if (v < (double)H) H = (long long)v;
    }
    if (L < -INT_BOUND) L = -INT_BOUND;
    if (H > INT_BOUND) H = INT_BOUND;
    if (L > H)
        return sfail(c, integer ? "JSON schema: %s: the bounds leave no integer"
                                : "JSON schema: %s: bounds on a number must enclose an integer (a subset of "
                                  "their range is generated: the integers and the numbers between them)",
                     "minimum/maximum");
    if (integer) return int_range(c, L, H);
    int frac = rx_rule(c, "(\\.[0-9]{1,15})?"), zfrac = rx_rule(c, "(\\.0{1,15})?");
    int r = sl__gb_rule(c->g, NULL);
    CHK(frac);
    CHK(zfrac);
    CHK(r);
    long long a = L > 0 ? L : 0;
    if (H >= 0) { /* v >= 0 */
        if (a <= H - 1) CHK(num_part(c, r, 0, a, H - 1, frac));
        if (a <= H) CHK(num_part(c, r, 0, H, H, zfrac));
    }
    if (L < 0) { /* v < 0: v = -(I.F) with I.F in [max(-H, 0), -L] */
        long long b = H < 0 ? -H : 0, top = -L;
        if (b <= top - 1) CHK(num_part(c, r, 1, b, top - 1, frac));
        CHK(num_part(c, r, 1, top, top, zfrac));
    }
    return r;
}

static int gen_array(sc *c, json_t *s) {
    long long mn = 0, mx = -1;
    int a = get_uint(c, s, "minItems", SL__G_MAX_REPEAT, &mn), b = get_uint(c, s, "maxItems", SL__G_MAX_REPEAT, &mx);
    CHK(a);
    CHK(b);
    if (b > 0 && mx < mn) return sfail(c, "JSON schema: %s: maxItems is below minItems", "maxItems");
    json_t *items = json_object_get(s, "items");
    int item = items ? gen(c, items) : value_rule(c);
    CHK(item);
    int ws = ws_rule(c);
    CHK(ws);
    int r = sl__gb_rule(c->g, NULL);
    CHK(r);
    sl__seq q = {0}, more = {0};
    if (mn == 0) {
        if (sl__seq_lit(c->g, &q, "[", 1) || push_ref(c, &q, ws) || sl__seq_lit(c->g, &q, "]", 1) || sl__gb_alt(c->g, r, &q))
            goto fail;
    }
    if (b > 0 && mx == 0) return r;
    if (sl__seq_lit(c->g, &q, "[", 1) || push_ref(c, &q, ws) || push_ref(c, &q, item) || push_ref(c, &q, ws)) goto fail;
    if (sl__seq_lit(c->g, &more, ",", 1) || push_ref(c, &more, ws) || push_ref(c, &more, item) || push_ref(c, &more, ws))
        goto fail;
    if (sl__seq_repeat(c->g, &q, &more, mn > 1 ? (int)mn - 1 : 0, b > 0 ? (int)mx - 1 : -1)) goto fail;
    if (sl__seq_lit(c->g, &q, "]", 1) || sl__gb_alt(c->g, r, &q)) goto fail;
    sl__seq_free(&more);
    return r;
fail:
    sl__seq_free(&q);
    sl__seq_free(&more);
    return SL_EINVAL;
}

/* A key other than the N listed ones (so an additional property never repeats a listed
 * property, which a JSON parser would read as that property): a string of printable ASCII
 * without escapes whose bytes leave the trie of the listed keys. Listed keys outside that
 * alphabet can never be equal to it and are left out of the trie. */
static int other_key_rule(sc *c, const char *const *keys, int n) {
    size_t total = 1;
    for (int i = 0; i < n; i++) total += strlen(keys[i]);
    struct knode {
        int child, sibling, terminal, rule;
        unsigned char byte;
    } *t = calloc(total, sizeof *t);
    if (!t) return sl__gb_fail(c->g, SL_ENOMEM, "out of memory");
    int nn = 1, r = SL_EINVAL;
    t[0].child = t[0].sibling = -1;
    for (int i = 0; i < n; i++) {
        const unsigned char *k = (const unsigned char *)keys[i];
        int ok = 1;
        for (size_t j = 0; k[j]; j++) ok &= k[j] >= 0x20 && k[j] < 0x7F && k[j] != '"' && k[j] != '\\';
        if (!ok) continue;
        int cur = 0;
        for (size_t j = 0; k[j]; j++) {
            int ch = t[cur].child;
            while (ch >= 0 && t[ch].byte != k[j]) ch = t[ch].sibling;
            if (ch < 0) {
                ch = nn++;
                t[ch] = (struct knode){-1, t[cur].child, 0, -1, k[j]};
                t[cur].child = ch;
            }
            cur = ch;
        }
        t[cur].terminal = 1;
    }
    /* free ::= [safe]* '"' */
    sl__seq q = {0}, one = {0};
    int fr = sl__gb_rule(c->g, NULL);
    if (fr < 0) goto out;
    {
        sl__bset b = {{0}};
        for (unsigned x = 0x20; x < 0x7F; x++)
            if (x != '"' && x != '\\') sl__bset_add(&b, x);
        int si = sl__gb_set(c->g, &b);
        if (si < 0) goto out;
        if (sl__seq_push(c->g, &one, SL__E_SET, si) || sl__seq_repeat(c->g, &q, &one, 0, -1) ||
            sl__seq_lit(c->g, &q, "\"", 1) || sl__gb_alt(c->g, fr, &q))
            goto out;
        for (int i = 0; i < nn; i++)
            if ((t[i].rule = sl__gb_rule(c->g, NULL)) < 0) goto out;
        for (int i = 0; i < nn; i++) {
            if (!t[i].terminal && (sl__seq_lit(c->g, &q, "\"", 1) || sl__gb_alt(c->g, t[i].rule, &q))) goto out;
            sl__bset rest = b;
            for (int ch = t[i].child; ch >= 0; ch = t[ch].sibling) {
                rest.w[t[ch].byte >> 6] &= ~(1ull << (t[ch].byte & 63));
                if (sl__seq_byte(c->g, &q, t[ch].byte, t[ch].byte) || push_ref(c, &q, t[ch].rule) ||
                    sl__gb_alt(c->g, t[i].rule, &q))
                    goto out;
            }
            int ri = sl__gb_set(c->g, &rest);
            if (ri < 0 || sl__seq_push(c->g, &q, SL__E_SET, ri) || push_ref(c, &q, fr) || sl__gb_alt(c->g, t[i].rule, &q))
                goto out;
        }
        if (sl__seq_lit(c->g, &q, "\"", 1) || push_ref(c, &q, t[0].rule)) goto out;
        r = rule1(c, &q);
    }
out:
    sl__seq_free(&q);
    sl__seq_free(&one);
    free(t);
    return c->g->failed ? SL_EINVAL : r;
}

static int gen_object(sc *c, json_t *s) {
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
    json_t *addl = json_object_get(s, "additionalProperties");
    if (props && !json_is_object(props)) return sfail(c, "JSON schema: '%s' must be an object", "properties");
    if (req && !json_is_array(req)) return sfail(c, "JSON schema: '%s' must be an array of strings", "required");
    if (addl && !json_is_boolean(addl) && !json_is_object(addl))
        return sfail(c, "JSON schema: '%s' must be a boolean or a schema", "additionalProperties");
    size_t i;
    json_t *v;
    json_array_foreach(req, i, v) if (!json_is_string(v)) return sfail(c, "JSON schema: '%s' must be an array of strings", "required");
    if (!props && !req) {
        if (addl && json_is_false(addl)) return rx_rule(c, c->compact ? "\\{\\}" : "\\{( |\\n[ \\t]{0,20})?\\}");
        if (!addl || json_is_true(addl)) {
            CHK(value_rule(c));
            return c->object;
        }
    }
    /* The keys: properties in order, then required names not among them (any value). */
    int n = (int)(props ? json_object_size(props) : 0) + (int)(req ? json_array_size(req) : 0);
    const char **keys = calloc((size_t)n + 1, sizeof *keys);
    json_t **schemas = calloc((size_t)n + 1, sizeof *schemas);
    int *required = calloc((size_t)n + 1, sizeof *required);
    int *rules = calloc(2 * ((size_t)n + 1), sizeof *rules);
    int nk = 0, rc = SL_EINVAL;
    sl__seq q = {0};
    if (!keys || !schemas || !required || !rules) {
        sl__gb_fail(c->g, SL_ENOMEM, "out of memory");
        goto out;
    }
    const char *k;
    json_object_foreach(props, k, v) {
        keys[nk] = k;
        schemas[nk++] = v;
    }
    json_array_foreach(req, i, v) {
        const char *name = json_string_value(v);
        int found = -1;
        for (int j = 0; j < nk; j++)
            if (!strcmp(keys[j], name)) found = j;
        if (found < 0) {
            keys[nk] = name;
            schemas[nk] = NULL;
            found = nk++;
        }
        required[found] = 1;
    }
    int ws = ws_rule(c);
    if (ws < 0) goto out;
    /* kv_j ::= "key" ws ":" ws value ws */
    int *kv = rules + nk + 1;
    for (int j = 0; j < nk; j++) {
        json_t *ks = json_string(keys[j]);
        char *lit = ks ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;
        json_decref(ks);
        if (!lit) {
            sl__gb_fail(c->g, SL_ENOMEM, "out of memory");
            goto out;
        }
        int val = schemas[j] ? gen(c, schemas[j]) : value_rule(c);
        int bad = val < 0 || sl__seq_lit(c->g, &q, lit, strlen(lit)) || push_ref(c, &q, ws) || sl__seq_lit(c->g, &q, ":", 1) ||
                  push_ref(c, &q, ws) || push_ref(c, &q, val) || push_ref(c, &q, ws);
        free(lit);
        if (bad || (kv[j] = rule1(c, &q)) < 0) goto out;
    }
    /* R(j, comma): the properties from j on; R(nk, .) = the additional ones, or nothing. */
    int rn[2];
    int extra = addl && (json_is_true(addl) || json_is_object(addl));
    for (int cm = 0; cm < 2; cm++)
        if ((rn[cm] = sl__gb_rule(c->g, NULL)) < 0) goto out;
    if (sl__gb_alt(c->g, rn[0], &q) || sl__gb_alt(c->g, rn[1], &q)) goto out;
    if (extra) {
        int val = json_is_object(addl) ? gen(c, addl) : value_rule(c);
        int str = nk ? other_key_rule(c, keys, nk) : str_rule(c);
        for (int cm = 0; cm < 2; cm++)
            if (val < 0 || str < 0 || (cm && (sl__seq_lit(c->g, &q, ",", 1) || push_ref(c, &q, ws))) ||
                push_ref(c, &q, str) || push_ref(c, &q, ws) || sl__seq_lit(c->g, &q, ":", 1) || push_ref(c, &q, ws) ||
                push_ref(c, &q, val) || push_ref(c, &q, ws) || push_ref(c, &q, rn[1]) || sl__gb_alt(c->g, rn[cm], &q))
                goto out;
    }
    int next[2] = {rn[0], rn[1]};
    for (int j = nk - 1; j >= 0; j--) {
        int cur[2];
        for (int cm = 0; cm < 2; cm++) {
            if ((cur[cm] = sl__gb_rule(c->g, NULL)) < 0) goto out;
            if ((cm && (sl__seq_lit(c->g, &q, ",", 1) || push_ref(c, &q, ws))) || push_ref(c, &q, kv[j]) ||
                push_ref(c, &q, next[1]) || sl__gb_alt(c->g, cur[cm], &q))
                goto out;
            if (!required[j] && (push_ref(c, &q, next[cm]) || sl__gb_alt(c->g, cur[cm], &q))) goto out;
        }
        next[0] = cur[0];
        next[1] = cur[1];
    }
    if (sl__seq_lit(c->g, &q, "{", 1) || push_ref(c, &q, ws) || push_ref(c, &q, next[0]) || sl__seq_lit(c->g, &q, "}", 1))
        goto out;
    rc = rule1(c, &q);
out:
    sl__seq_free(&q);
    free(keys);
    free(schemas);
    free(required);
    free(rules);
    return c->g->failed ? SL_EINVAL : rc;
}

static const char *const TYPES[] = {"object", "array", "string", "number", "integer", "boolean", "null", NULL};

static int gen_type(sc *c, json_t *s, const char *t) {
    if (!strcmp(t, "object")) return gen_object(c, s);
    if (!strcmp(t, "array")) return gen_array(c, s);
    if (!strcmp(t, "string")) return gen_string(c, s);
    if (!strcmp(t, "number")) return gen_number(c, s, 0);
    if (!strcmp(t, "integer")) return gen_number(c, s, 1);
    if (!strcmp(t, "boolean")) return rx_rule(c, "true|false");
    if (!strcmp(t, "null")) return rx_rule(c, "null");
    return sfail(c, "JSON schema: unknown type '%s'", t);
}

static json_t *resolve(sc *c, const char *ref) {
    if (!strcmp(ref, "#")) return c->root;
    if (strncmp(ref, "#/", 2)) return NULL;
    json_t *cur = c->root;
    const char *p = ref + 2;
    while (cur && *p) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char seg[256];
        size_t k = 0;
        for (size_t i = 0; i < l && k + 1 < sizeof seg; i++) {
            if (p[i] == '~' && i + 1 < l && (p[i + 1] == '0' || p[i + 1] == '1')) {
                seg[k++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else seg[k++] = p[i];
        }
        seg[k] = 0;
        cur = json_is_object(cur) ? json_object_get(cur, seg) : NULL;
        p += l;
        if (*p == '/') p++;
    }
    return cur;
}

static int gen(sc *c, json_t *s) {
    if (json_is_true(s)) return value_rule(c);
    if (json_is_false(s)) return sfail(c, "JSON schema: the schema %s matches nothing", "false");
    if (!json_is_object(s)) return sfail(c, "JSON schema: a schema must be an object or a boolean%s", "");
    if (++c->depth > SL__G_MAX_NEST) return sfail(c, "JSON schema: schemas nested more than 64 deep%s", "");
    int r = SL_EINVAL;
    json_t *ref = json_object_get(s, "$ref"), *type = json_object_get(s, "type");
    const char *k;
    json_t *v;
    if (ref) {
        if (!json_is_string(ref)) { r = sfail(c, "JSON schema: '%s' must be a string", "$ref"); goto out; }
        json_object_foreach(s, k, v) if (strcmp(k, "$ref") && !is_annotation(k)) {
            r = sfail(c, "JSON schema: keyword '%s' alongside $ref is not supported", k);
            goto out;
        }
        json_t *t = resolve(c, json_string_value(ref));
        if (!t) { r = sfail(c, "JSON schema: $ref '%s' does not resolve (only local #/... references are supported)", json_string_value(ref)); goto out; }
        for (int i = 0; i < c->n_refs; i++)
            if (c->refs[i].s == t) { r = c->refs[i].rule; goto out; }
        /* A rule first (recursion finds it), then its single alternative. */
        int rr = sl__gb_rule(c->g, NULL);
        if (rr < 0) goto out;
        if (c->n_refs == c->cap_refs) {
            int cap = c->cap_refs ? c->cap_refs * 2 : 8;
            void *n = realloc(c->refs, (size_t)cap * sizeof *c->refs);
            if (!n) { r = sl__gb_fail(c->g, SL_ENOMEM, "out of memory"); goto out; }
            c->refs = n;
            c->cap_refs = cap;
        }
        c->refs[c->n_refs].s = t;
        c->refs[c->n_refs++].rule = rr;
        int body = gen(c, t);
        sl__seq q = {0};
        if (body < 0 || push_ref(c, &q, body) || sl__gb_alt(c->g, rr, &q)) { sl__seq_free(&q); goto out; }
        r = rr;
        goto out;
    }
    /* Every keyword must be understood by some type given (or by all, when none is). */
    const char *types[8];
    int nt = 0;
    if (type) {
        if (json_is_string(type)) types[nt++] = json_string_value(type);
        else if (json_is_array(type) && json_array_size(type) >= 1 && json_array_size(type) <= 7) {
            size_t i;
            json_array_foreach(type, i, v) {
                if (!json_is_string(v)) { r = sfail(c, "JSON schema: '%s' must be a string or an array of strings", "type"); goto out; }
                types[nt++] = json_string_value(v);
            }
        } else { r = sfail(c, "JSON schema: '%s' must be a string or an array of strings", "type"); goto out; }
        for (int i = 0; i < nt; i++) {
            int known = 0;
            for (int j = 0; TYPES[j]; j++) known |= !strcmp(types[i], TYPES[j]);
            if (!known) { r = sfail(c, "JSON schema: unknown type '%s'", types[i]); goto out; }
        }
    }
    json_object_foreach(s, k, v) {
        if (!strcmp(k, "type") || is_annotation(k)) continue;
        int ok = 0;
        if (nt) for (int i = 0; i < nt; i++) ok |= keyword_ok(types[i], k);
        else for (int j = 0; TYPES[j]; j++) ok |= keyword_ok(TYPES[j], k);
        if (!ok) {
            int anywhere = 0;
            for (int j = 0; TYPES[j]; j++) anywhere |= keyword_ok(TYPES[j], k);
            r = anywhere ? sfail(c, "JSON schema: keyword '%s' does not apply to the schema's type", k)
                         : sfail(c, "JSON schema: keyword '%s' is not supported", k);
            goto out;
        }
    }
    json_t *en = json_object_get(s, "enum"), *cst = json_object_get(s, "const");
    json_t *any = json_object_get(s, "anyOf"), *one = json_object_get(s, "oneOf"), *all = json_object_get(s, "allOf");
    if (en || cst) {
        if (en && !json_is_array(en)) { r = sfail(c, "JSON schema: '%s' must be an array", "enum"); goto out; }
        if (en && cst) { r = sfail(c, "JSON schema: '%s' together with enum is not supported", "const"); goto out; }
        /* Other keywords beside enum/const would have to filter the values: refuse them. */
        json_object_foreach(s, k, v) if (strcmp(k, "enum") && strcmp(k, "const") && strcmp(k, "type") && !is_annotation(k)) {
            r = sfail(c, "JSON schema: keyword '%s' beside enum/const is not supported", k);
            goto out;
        }
        if (cst) r = values_rule(c, &cst, 1);
        else {
            size_t n = json_array_size(en);
            json_t **vals = malloc((n ? n : 1) * sizeof *vals);
            if (!vals) { r = sl__gb_fail(c->g, SL_ENOMEM, "out of memory"); goto out; }
            for (size_t i = 0; i < n; i++) vals[i] = json_array_get(en, i);
            r = values_rule(c, vals, n);
            free(vals);
        }
        goto out;
    }
    if (any || one || all) {
        if ((any != NULL) + (one != NULL) + (all != NULL) > 1 || type) {
            json_object_foreach(s, k, v) if (!strcmp(k, "anyOf") || !strcmp(k, "oneOf") || !strcmp(k, "allOf")) break;
            r = sfail(c, "JSON schema: '%s' combined with type or another combinator is not supported", k);
            goto out;
        }
        json_object_foreach(s, k, v) if (strcmp(k, "anyOf") && strcmp(k, "oneOf") && strcmp(k, "allOf") && !is_annotation(k)) {
            r = sfail(c, "JSON schema: keyword '%s' beside anyOf/oneOf/allOf is not supported", k);
            goto out;
        }
        json_t *list = any ? any : one ? one : all;
        const char *kw = any ? "anyOf" : one ? "oneOf" : "allOf";
        if (!json_is_array(list) || !json_array_size(list)) { r = sfail(c, "JSON schema: '%s' must be a non-empty array", kw); goto out; }
        if (all && json_array_size(all) != 1) { r = sfail(c, "JSON schema: '%s' with more than one schema is not supported", kw); goto out; }
        int rr = sl__gb_rule(c->g, NULL);
        if (rr < 0) goto out;
        size_t i;
        json_array_foreach(list, i, v) {
            int sub = gen(c, v);
            sl__seq q = {0};
            if (sub < 0 || push_ref(c, &q, sub) || sl__gb_alt(c->g, rr, &q)) { sl__seq_free(&q); goto out; }
        }
        r = rr;
        goto out;
    }
    if (!nt) { /* no type: infer one from the keywords, else any value */
        int obj = 0, arr = 0, str = 0, num = 0;
        json_object_foreach(s, k, v) {
            obj |= keyword_ok("object", k);
            arr |= keyword_ok("array", k);
            str |= keyword_ok("string", k);
            num |= keyword_ok("number", k);
        }
        if (obj + arr + str + num > 1) { r = sfail(c, "JSON schema: keywords of several types without '%s'", "type"); goto out; }
        if (obj) types[nt++] = "object";
        else if (arr) types[nt++] = "array";
        else if (str) types[nt++] = "string";
        else if (num) types[nt++] = "number";
        else { r = value_rule(c); goto out; }
    }
    if (nt == 1) { r = gen_type(c, s, types[0]); goto out; }
    int rr = sl__gb_rule(c->g, NULL);
    if (rr < 0) goto out;
    for (int i = 0; i < nt; i++) {
        int sub = gen_type(c, s, types[i]);
        sl__seq q = {0};
        if (sub < 0 || push_ref(c, &q, sub) || sl__gb_alt(c->g, rr, &q)) { sl__seq_free(&q); goto out; }
    }
    r = rr;
out:
    c->depth--;
    return c->g->failed ? SL_EINVAL : r;
}

int sl__schema_compile(sl__gb *g, const char *text, size_t len, int compact) {
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) return sl__gb_fail(g, SL_EINVAL, "JSON schema: not valid JSON: %s (line %d)", je.text, je.line);
    sc c;
    sc_init(&c, g);
    c.root = root;
    c.compact = compact;
    int r = gen(&c, root);
    free(c.refs);
    json_decref(root);
    return g->failed ? SL_EINVAL : r;
}

int sl__choice_compile(sl__gb *g, const char *text, size_t len) {
    json_error_t je;
    json_t *arr = json_loadb(text, len, 0, &je);
    if (!json_is_array(arr) || !json_array_size(arr)) {
        json_decref(arr);
        return sl__gb_fail(g, SL_EINVAL, "choice: a non-empty array of strings is expected");
    }
    size_t n = json_array_size(arr);
    const char **s = calloc(n, sizeof *s);
    size_t *l = calloc(n, sizeof *l);
    int r = SL_EINVAL;
    if (!s || !l) {
        sl__gb_fail(g, SL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v)) {
            sl__gb_fail(g, SL_EINVAL, "choice: option %zu is not a string", i);
            goto out;
        }
        s[i] = json_string_value(v);
        l[i] = json_string_length(v);
    }
    r = sl__gb_strings(g, s, l, (int)n);
out:
    free(s);
    free(l);
    json_decref(arr);
    return r;
}
