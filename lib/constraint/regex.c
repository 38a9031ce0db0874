/* regex.c — regular expressions into the grammar, always as a FULL match.
 *
 * The subset (what structured-output regexes use; ECMAScript/Python/PCRE spelling):
 *   literals (UTF-8), '.' (any character but newline), classes [...] and [^...] with ranges
 *   and the escapes \d \w \s \D \W \S inside or outside, escapes \n \r \t \f \v \0 \xHH
 *   \uHHHH \u{H..} and any escaped punctuation; groups (...), (?:...), (?<name>...),
 *   (?P<name>...); alternation |; quantifiers * + ? {m} {m,} {m,n} (m, n <= 2000), lazy
 *   forms (*? ...) accepted as the same language; ^ at the very start and $ at the very end.
 * Refused with a message naming the construct: backreferences (\1, \k<..>), lookaround
 * ((?=, (?!, (?<=, (?<!), word boundaries (\b \B), inline flags ((?i) ...), atomic groups
 * and possessive quantifiers, Unicode property classes (\p{..}), POSIX classes ([:alpha:]),
 * anchors elsewhere. Nesting is bounded (SL__G_MAX_NEST). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "constraint_internal.h"
#include "error.h"

enum { RX_JSON = 1, RX_SEARCH = 2 };

typedef struct rx {
    sl__gb *g;
    const unsigned char *s;
    size_t n, i;
    int flags;
    int depth;
} rx;

static int rfail(rx *r, const char *what) {
    return sl__gb_fail(r->g, SL_EINVAL, "regex: %s (at offset %zu)", what, r->i);
}

/* JSON strings cannot hold these unescaped: drop them from classes. */
static int json_trim(rx *r, sl__cprs *c) {
    if (!(r->flags & RX_JSON)) return 0;
    sl__cprs bad = {0};
    int rc = sl__cprs_add(&bad, 0, 0x1F) || sl__cprs_add(&bad, '"', '"') || sl__cprs_add(&bad, '\\', '\\') ||
             sl__cprs_negate(&bad);
    /* intersection of C with NOT bad */
    sl__cprs o = {0};
    sl__cprs_norm(c);
    for (int i = 0; i < c->n && !rc; i++)
        for (int k = 0; k < bad.n && !rc; k++) {
            uint32_t lo = c->v[i].lo > bad.v[k].lo ? c->v[i].lo : bad.v[k].lo;
            uint32_t hi = c->v[i].hi < bad.v[k].hi ? c->v[i].hi : bad.v[k].hi;
            if (lo <= hi) rc = sl__cprs_add(&o, lo, hi);
        }
    sl__cprs_free(&bad);
    sl__cprs_free(c);
    *c = o;
    if (rc) return sl__gb_fail(r->g, SL_ENOMEM, "out of memory");
    if (!c->n) return rfail(r, "the class only holds characters a JSON string must escape");
    return 0;
}

static int add_perl(sl__cprs *c, int ch) {
    int rc = 0;
    sl__cprs t = {0};
    int lower = ch | 0x20;
    if (lower == 'd') rc = sl__cprs_add(&t, '0', '9');
    else if (lower == 'w')
        rc = sl__cprs_add(&t, '0', '9') || sl__cprs_add(&t, 'A', 'Z') || sl__cprs_add(&t, 'a', 'z') ||
             sl__cprs_add(&t, '_', '_');
    else
        rc = sl__cprs_add(&t, ' ', ' ') || sl__cprs_add(&t, '\t', '\r');
    if (!rc && ch != lower) rc = sl__cprs_negate(&t);
    for (int i = 0; i < t.n && !rc; i++) rc = sl__cprs_add(c, t.v[i].lo, t.v[i].hi);
    sl__cprs_free(&t);
    return rc;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character (possibly an escape) at r->i; *cp gets it, or *perl the class letter. */
static int read_char(rx *r, uint32_t *cp, int *perl, int in_class) {
    *perl = 0;
    if (r->i >= r->n) return rfail(r, "unexpected end");
    unsigned c = r->s[r->i];
    if (c != '\\') {
        int l = sl__utf8_dec(r->s + r->i, r->n - r->i, cp);
        if (!l) return rfail(r, "invalid UTF-8");
        r->i += (size_t)l;
        return 0;
    }
    if (++r->i >= r->n) return rfail(r, "a trailing backslash");
    c = r->s[r->i++];
    switch (c) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S': *perl = (int)c; return 0;
    case 'n': *cp = '\n'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 't': *cp = '\t'; return 0;
    case 'f': *cp = '\f'; return 0;
    case 'v': *cp = '\v'; return 0;
    case '0': *cp = 0; return 0;
    case 'b': if (in_class) { *cp = '\b'; return 0; } return rfail(r, "word boundaries (\\b) are not supported");
    case 'B': return rfail(r, "word boundaries (\\B) are not supported");
    case 'A': case 'z': case 'Z': case 'G': return rfail(r, "anchors other than ^ at the start and $ at the end are not supported");
    case 'k': return rfail(r, "backreferences are not supported");
    case 'p': case 'P': return rfail(r, "Unicode property classes (\\p{..}) are not supported");
    case 'x': case 'u': {
        uint32_t v = 0;
        int digits = 0, max = c == 'x' ? 2 : 4;
        if (c == 'u' && r->i < r->n && r->s[r->i] == '{') {
            r->i++;
            while (r->i < r->n && r->s[r->i] != '}' && digits < 6) {
                int h = hexval(r->s[r->i]);
                if (h < 0) return rfail(r, "a bad \\u{...} escape");
                v = v * 16 + (uint32_t)h;
                r->i++;
                digits++;
            }
            if (r->i >= r->n || r->s[r->i] != '}' || !digits) return rfail(r, "a bad \\u{...} escape");
            r->i++;
        } else {
            for (; digits < max; digits++) {
                int h = r->i < r->n ? hexval(r->s[r->i]) : -1;
                if (h < 0) return rfail(r, c == 'x' ? "\\x needs two hex digits" : "\\u needs four hex digits");
                v = v * 16 + (uint32_t)h;
                r->i++;
            }
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return rfail(r, "an escape outside Unicode scalar values");
        *cp = v;
        return 0;
    }
    default:
        if (c >= '1' && c <= '9') return rfail(r, "backreferences are not supported");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return rfail(r, "an unknown escape");
        if (c >= 0x80) {
            r->i--;
            int l = sl__utf8_dec(r->s + r->i, r->n - r->i, cp);
            if (!l) return rfail(r, "invalid UTF-8");
            r->i += (size_t)l;
            return 0;
        }
        *cp = c;
        return 0;
    }
}

static int emit_class(rx *r, sl__seq *out, sl__cprs *c) {
    int rc = json_trim(r, c);
    if (!rc) rc = sl__seq_class(r->g, out, c);
    sl__cprs_free(c);
    return rc ? SL_EINVAL : 0;
}

static int parse_class(rx *r, sl__seq *out) {
    r->i++; /* [ */
    int neg = 0;
    if (r->i < r->n && r->s[r->i] == '^') neg = 1, r->i++;
    sl__cprs c = {0};
    int first = 1, rc = 0;
    for (;;) {
        if (r->i >= r->n) {
            rc = rfail(r, "an unterminated character class");
            break;
        }
        if (r->s[r->i] == ']' && !first) {
            r->i++;
            break;
        }
        if (r->s[r->i] == '[' && r->i + 1 < r->n && (r->s[r->i + 1] == ':' || r->s[r->i + 1] == '=' || r->s[r->i + 1] == '.')) {
            rc = rfail(r, "POSIX classes ([:name:]) are not supported");
            break;
        }
        first = 0;
        uint32_t lo, hi;
        int perl;
        if ((rc = read_char(r, &lo, &perl, 1))) break;
        if (perl) {
            if (add_perl(&c, perl)) rc = sl__gb_fail(r->g, SL_ENOMEM, "out of memory");
            if (rc) break;
            continue;
        }
        hi = lo;
        if (r->i + 1 < r->n && r->s[r->i] == '-' && r->s[r->i + 1] != ']') {
            r->i++;
            if ((rc = read_char(r, &hi, &perl, 1))) break;
            if (perl || hi < lo) {
                rc = rfail(r, "a bad range in a character class");
                break;
            }
        }
        if (sl__cprs_add(&c, lo, hi)) {
            rc = sl__gb_fail(r->g, SL_ENOMEM, "out of memory");
            break;
        }
    }
    if (!rc && neg && sl__cprs_negate(&c)) rc = sl__gb_fail(r->g, SL_ENOMEM, "out of memory");
    if (rc) {
        sl__cprs_free(&c);
        return SL_EINVAL;
    }
    if (!c.n) {
        sl__cprs_free(&c);
        return rfail(r, "an empty character class");
    }
    return emit_class(r, out, &c);
}

static int parse_alt(rx *r, sl__seq *out);

static int read_int(rx *r, int *v) {
    int d = 0;
    long x = 0;
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') {
        x = x * 10 + (r->s[r->i++] - '0');
        if (x > 1000000) x = 1000000;
        d++;
    }
    *v = (int)x;
    return d;
}

/* A quantifier at r->i: 1 with min/max (max -1: unbounded), 0 none, < 0 error. */
static int parse_quant(rx *r, int *min, int *max) {
    if (r->i >= r->n) return 0;
    unsigned c = r->s[r->i];
    if (c == '*') *min = 0, *max = -1;
    else if (c == '+') *min = 1, *max = -1;
    else if (c == '?') *min = 0, *max = 1;
    else if (c == '{') {
        size_t save = r->i++;
        int a, b;
        if (!read_int(r, &a)) { r->i = save; return 0; } /* a literal '{' */
        b = a;
        if (r->i < r->n && r->s[r->i] == ',') {
            r->i++;
            if (!read_int(r, &b)) b = -1;
        }
        if (r->i >= r->n || r->s[r->i] != '}') { r->i = save; return 0; }
        if (a > SL__G_MAX_REPEAT || b > SL__G_MAX_REPEAT) return rfail(r, "a repetition count over 2000");
        if (b >= 0 && b < a) return rfail(r, "a repetition {m,n} with n < m");
        *min = a;
        *max = b;
    } else return 0;
    r->i++;
    if (r->i < r->n && r->s[r->i] == '?') r->i++; /* lazy: same language */
    else if (r->i < r->n && r->s[r->i] == '+') return rfail(r, "possessive quantifiers are not supported");
    return 1;
}

static int parse_atom(rx *r, sl__seq *out) {
    unsigned c = r->s[r->i];
    if (c == '(') {
        if (++r->depth > SL__G_MAX_NEST) return rfail(r, "groups nested too deeply");
        r->i++;
        if (r->i < r->n && r->s[r->i] == '?') {
            r->i++;
            unsigned d = r->i < r->n ? r->s[r->i] : 0;
            if (d == ':') r->i++;
            else if (d == '=' || d == '!') return rfail(r, "lookahead is not supported");
            else if (d == '<' && r->i + 1 < r->n && (r->s[r->i + 1] == '=' || r->s[r->i + 1] == '!'))
                return rfail(r, "lookbehind is not supported");
            else if (d == '>') return rfail(r, "atomic groups are not supported");
            else if (d == '<' || (d == 'P' && r->i + 1 < r->n && r->s[r->i + 1] == '<')) {
                while (r->i < r->n && r->s[r->i] != '>') r->i++;
                if (r->i >= r->n) return rfail(r, "an unterminated group name");
                r->i++;
            } else if (d == 'P' && r->i + 1 < r->n && r->s[r->i + 1] == '=')
                return rfail(r, "backreferences are not supported");
            else return rfail(r, "inline flags and other (?...) groups are not supported");
        }
        if (parse_alt(r, out)) return SL_EINVAL;
        if (r->i >= r->n || r->s[r->i] != ')') return rfail(r, "a missing ')'");
        r->i++;
        r->depth--;
        return 0;
    }
    if (c == '[') return parse_class(r, out);
    if (c == '.') {
        r->i++;
        sl__cprs cl = {0};
        if (sl__cprs_add(&cl, '\n', '\n') || sl__cprs_negate(&cl)) return sl__gb_fail(r->g, SL_ENOMEM, "out of memory");
        return emit_class(r, out, &cl);
    }
    if (c == '^' || c == '$') return rfail(r, "anchors are only supported at the start (^) and the end ($)");
    if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (c == '{') { /* a literal '{' unless it is a quantifier */
            int a = 0, b = 0;
            size_t save = r->i;
            int q = parse_quant(r, &a, &b);
            if (q != 0) { r->i = save; return rfail(r, "a quantifier with nothing to repeat"); }
        } else return rfail(r, "a quantifier with nothing to repeat");
    }
    if (c == ')') return rfail(r, "an unmatched ')'");
    uint32_t cp;
    int perl;
    if (read_char(r, &cp, &perl, 0)) return SL_EINVAL;
    sl__cprs cl = {0};
    if (perl ? add_perl(&cl, perl) : sl__cprs_add(&cl, cp, cp)) return sl__gb_fail(r->g, SL_ENOMEM, "out of memory");
    if (!perl && !(r->flags & RX_JSON)) { /* a plain literal: its bytes */
        unsigned char b[4];
        int l;
        if (cp < 0x80) b[0] = (unsigned char)cp, l = 1;
        else if (cp < 0x800) b[0] = (unsigned char)(0xC0 | (cp >> 6)), b[1] = (unsigned char)(0x80 | (cp & 0x3F)), l = 2;
        else if (cp < 0x10000)
            b[0] = (unsigned char)(0xE0 | (cp >> 12)), b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
            b[2] = (unsigned char)(0x80 | (cp & 0x3F)), l = 3;
        else
            b[0] = (unsigned char)(0xF0 | (cp >> 18)), b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
            b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (unsigned char)(0x80 | (cp & 0x3F)), l = 4;
        sl__cprs_free(&cl);
        return sl__seq_lit(r->g, out, (const char *)b, (size_t)l) ? SL_EINVAL : 0;
    }
    return emit_class(r, out, &cl);
}

static int parse_concat(rx *r, sl__seq *out) {
    while (r->i < r->n && r->s[r->i] != '|' && r->s[r->i] != ')') {
        if ((r->flags & 4) && r->s[r->i] == '$' && r->i + 1 == r->n) break; /* the final anchor */
        sl__seq atom = {0};
        if (parse_atom(r, &atom)) {
            sl__seq_free(&atom);
            return SL_EINVAL;
        }
        int min = 0, max = 0, q, rc = 0;
        while ((q = parse_quant(r, &min, &max)) == 1) {
            sl__seq rep = {0};
            rc = sl__seq_repeat(r->g, &rep, &atom, min, max);
            sl__seq_free(&atom);
            atom = rep;
            if (rc) break;
        }
        if (q < 0 || rc || sl__seq_append(r->g, out, &atom)) {
            sl__seq_free(&atom);
            return SL_EINVAL;
        }
        sl__seq_free(&atom);
    }
    return 0;
}

static int parse_alt(rx *r, sl__seq *out) {
    sl__seq first = {0};
    if (parse_concat(r, &first)) {
        sl__seq_free(&first);
        return SL_EINVAL;
    }
    if (r->i >= r->n || r->s[r->i] != '|') {
        int rc = sl__seq_append(r->g, out, &first);
        sl__seq_free(&first);
        return rc;
    }
    int rule = sl__gb_rule(r->g, NULL);
    if (rule < 0 || sl__gb_alt(r->g, rule, &first)) {
        sl__seq_free(&first);
        return SL_EINVAL;
    }
    while (r->i < r->n && r->s[r->i] == '|') {
        r->i++;
        sl__seq s = {0};
        if (parse_concat(r, &s) || sl__gb_alt(r->g, rule, &s)) {
            sl__seq_free(&s);
            return SL_EINVAL;
        }
    }
    return sl__seq_push(r->g, out, SL__E_REF, rule);
}

/* ".*" over the characters allowed here, for unanchored (search) ends. */
static int any_star(rx *r, sl__seq *out) {
    sl__cprs cl = {0};
    if (sl__cprs_add(&cl, '\n', '\n') || sl__cprs_negate(&cl)) return sl__gb_fail(r->g, SL_ENOMEM, "out of memory");
    sl__seq one = {0};
    int rc = emit_class(r, &one, &cl) || sl__seq_repeat(r->g, out, &one, 0, -1);
    sl__seq_free(&one);
    return rc ? SL_EINVAL : 0;
}

int sl__regex_compile_rule(sl__gb *g, const char *text, size_t len, int flags) {
    rx r = {g, (const unsigned char *)text, len, 0, flags | 4, 0};
    int rule = sl__gb_rule(g, NULL);
    if (rule < 0) return rule;
    sl__seq s = {0};
    int anchored_start = len > 0 && text[0] == '^';
    int anchored_end = len > 0 && text[len - 1] == '$' && (len < 2 || text[len - 2] != '\\');
    if (anchored_start) r.i = 1;
    int rc = 0;
    if ((flags & RX_SEARCH) && !anchored_start) rc = any_star(&r, &s);
    if (!rc) rc = parse_alt(&r, &s);
    if (!rc && r.i < r.n && r.s[r.i] == '$' && r.i + 1 == r.n && anchored_end) r.i++;
    if (!rc && r.i < r.n) rc = rfail(&r, r.s[r.i] == ')' ? "an unmatched ')'" : "unexpected text");
    if (!rc && (flags & RX_SEARCH) && !anchored_end) rc = any_star(&r, &s);
    if (!rc) rc = sl__gb_alt(g, rule, &s);
    sl__seq_free(&s);
    return rc ? (g->failed ? SL_EINVAL : rc) : rule;
}
