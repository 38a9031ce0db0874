/* gbnf.c — llama.cpp's GBNF grammar format into the grammar.
 *
 *   name ::= alternatives         (one rule per definition; "root" is the start)
 *   alternatives: sequence ("|" sequence)*   sequence: item*
 *   item: "literal" | [chars] | [^chars] | . | name | ( alternatives ), each optionally
 *         followed by * + ? {m} {m,} {m,n}
 *   escapes in literals and classes: \n \r \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH
 *   comments: # to the end of the line; a newline ends a rule except inside parentheses.
 * Refused: token references (<...>, !<...>), a rule defined twice, an undefined rule,
 * left recursion (checked in sl__gb_finish). Names are [A-Za-z0-9_-]+. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "constraint_internal.h"
#include "error.h"

typedef struct gp {
    sl__gb *g;
    const unsigned char *s;
    size_t n, i;
    int line;
    int depth;
    /* name -> rule, open addressing */
    int32_t *tab;
    size_t tcap, tn;
} gp;

static int gfail(gp *p, const char *what) {
    return sl__gb_fail(p->g, SL_EINVAL, "grammar line %d: %s", p->line, what);
}

static int is_word(unsigned c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint32_t name_hash(const unsigned char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

/* The rule named S (N bytes), created on first use; < 0 on failure. */
static int rule_of(gp *p, const unsigned char *s, size_t n) {
    if (p->tn * 2 >= p->tcap) {
        size_t cap = p->tcap ? p->tcap * 2 : 64;
        int32_t *t = malloc(cap * sizeof *t);
        if (!t) return sl__gb_fail(p->g, SL_ENOMEM, "out of memory");
        for (size_t i = 0; i < cap; i++) t[i] = -1;
        for (size_t i = 0; i < p->tcap; i++) {
            if (p->tab[i] < 0) continue;
            const char *nm = p->g->rules[p->tab[i]].name;
            size_t k = name_hash((const unsigned char *)nm, strlen(nm)) & (cap - 1);
            while (t[k] >= 0) k = (k + 1) & (cap - 1);
            t[k] = p->tab[i];
        }
        free(p->tab);
        p->tab = t;
        p->tcap = cap;
    }
    size_t k = name_hash(s, n) & (p->tcap - 1);
    while (p->tab[k] >= 0) {
        const char *nm = p->g->rules[p->tab[k]].name;
        if (strlen(nm) == n && !memcmp(nm, s, n)) return p->tab[k];
        k = (k + 1) & (p->tcap - 1);
    }
    char name[128];
    if (n >= sizeof name) return gfail(p, "a rule name longer than 127 characters");
    memcpy(name, s, n);
    name[n] = 0;
    int r = sl__gb_rule(p->g, name);
    if (r < 0) return r;
    p->tab[k] = r;
    p->tn++;
    return r;
}

/* Skips blanks and comments; newlines too when NL_OK. */
static void space(gp *p, int nl_ok) {
    while (p->i < p->n) {
        unsigned c = p->s[p->i];
        if (c == ' ' || c == '\t' || c == '\r') p->i++;
        else if (c == '#') {
            while (p->i < p->n && p->s[p->i] != '\n') p->i++;
        } else if (c == '\n' && nl_ok) {
            p->i++;
            p->line++;
        } else break;
    }
}

static int hexv(unsigned c) {
    if (c >= '0' && c <= '9') return (int)c - '0';
    if (c >= 'a' && c <= 'f') return (int)c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return (int)c - 'A' + 10;
    return -1;
}

/* One character of a literal or class. */
static int gchar(gp *p, uint32_t *cp) {
    if (p->i >= p->n) return gfail(p, "unexpected end of the grammar");
    if (p->s[p->i] != '\\') {
        int l = sl__utf8_dec(p->s + p->i, p->n - p->i, cp);
        if (!l) return gfail(p, "invalid UTF-8");
        p->i += (size_t)l;
        return 0;
    }
    if (++p->i >= p->n) return gfail(p, "a trailing backslash");
    unsigned c = p->s[p->i++];
    int digits = 0;
    switch (c) {
    case 'n': *cp = '\n'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 't': *cp = '\t'; return 0;
    case '\\': case '"': case '[': case ']': case '-': case '\'': *cp = c; return 0;
    case 'x': digits = 2; break;
    case 'u': digits = 4; break;
    case 'U': digits = 8; break;
    default: return gfail(p, "an unknown escape");
    }
    uint32_t v = 0;
    for (int k = 0; k < digits; k++) {
        int h = p->i < p->n ? hexv(p->s[p->i]) : -1;
        if (h < 0) return gfail(p, "a bad hex escape");
        v = v * 16 + (uint32_t)h;
        p->i++;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return gfail(p, "an escape outside Unicode scalar values");
    *cp = v;
    return 0;
}

static int galt(gp *p, sl__seq *out);

static int gatom(gp *p, sl__seq *out) {
    unsigned c = p->s[p->i];
    if (c == '"') {
        p->i++;
        while (p->i < p->n && p->s[p->i] != '"') {
            if (p->s[p->i] == '\n') return gfail(p, "a newline inside a string literal");
            uint32_t cp;
            if (gchar(p, &cp)) return SL_EINVAL;
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
            if (sl__seq_lit(p->g, out, (const char *)b, (size_t)l)) return SL_EINVAL;
        }
        if (p->i >= p->n) return gfail(p, "an unterminated string literal");
        p->i++;
        return 0;
    }
    if (c == '[') {
        p->i++;
        int neg = 0;
        if (p->i < p->n && p->s[p->i] == '^') neg = 1, p->i++;
        sl__cprs cl = {0};
        int rc = 0;
        while (!rc && p->i < p->n && p->s[p->i] != ']') {
            if (p->s[p->i] == '\n') { rc = gfail(p, "a newline inside a character class"); break; }
            uint32_t lo, hi;
            if ((rc = gchar(p, &lo))) break;
            hi = lo;
            if (p->i + 1 < p->n && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
                p->i++;
                if ((rc = gchar(p, &hi))) break;
                if (hi < lo) { rc = gfail(p, "a character range with its end before its start"); break; }
            }
            if (sl__cprs_add(&cl, lo, hi)) rc = sl__gb_fail(p->g, SL_ENOMEM, "out of memory");
        }
        if (!rc && p->i >= p->n) rc = gfail(p, "an unterminated character class");
        if (!rc && !cl.n && !neg) rc = gfail(p, "an empty character class");
        if (!rc && neg && sl__cprs_negate(&cl)) rc = sl__gb_fail(p->g, SL_ENOMEM, "out of memory");
        if (!rc) {
            p->i++;
            rc = sl__seq_class(p->g, out, &cl);
        }
        sl__cprs_free(&cl);
        return rc ? SL_EINVAL : 0;
    }
    if (c == '.') {
        p->i++;
        sl__cprs cl = {0};
        int rc = sl__cprs_add(&cl, 0, 0x10FFFF) ? sl__gb_fail(p->g, SL_ENOMEM, "out of memory") : sl__seq_class(p->g, out, &cl);
        sl__cprs_free(&cl);
        return rc ? SL_EINVAL : 0;
    }
    if (c == '(') {
        if (++p->depth > SL__G_MAX_NEST) return gfail(p, "parentheses nested too deeply");
        p->i++;
        space(p, 1);
        if (galt(p, out)) return SL_EINVAL;
        space(p, 1);
        if (p->i >= p->n || p->s[p->i] != ')') return gfail(p, "a missing ')'");
        p->i++;
        p->depth--;
        return 0;
    }
    if (c == '<' || c == '!') return gfail(p, "token references (<...>) are not supported");
    if (is_word(c)) {
        size_t st = p->i;
        while (p->i < p->n && is_word(p->s[p->i])) p->i++;
        int r = rule_of(p, p->s + st, p->i - st);
        return r < 0 ? SL_EINVAL : sl__seq_push(p->g, out, SL__E_REF, r);
    }
    return gfail(p, "unexpected character");
}

static int read_num(gp *p, int *v) {
    int d = 0;
    long x = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        x = x * 10 + (p->s[p->i++] - '0');
        if (x > 1000000) x = 1000000;
        d++;
    }
    *v = (int)x;
    return d;
}

static int gseq(gp *p, sl__seq *out, int nested) {
    for (;;) {
        space(p, nested);
        if (p->i >= p->n) return 0;
        unsigned c = p->s[p->i];
        if (c == '|' || c == ')' || c == '\n') return 0;
        sl__seq atom = {0};
        if (gatom(p, &atom)) {
            sl__seq_free(&atom);
            return SL_EINVAL;
        }
        for (;;) {
            space(p, nested);
            if (p->i >= p->n) break;
            c = p->s[p->i];
            int min = 0, max = 0;
            if (c == '*') min = 0, max = -1;
            else if (c == '+') min = 1, max = -1;
            else if (c == '?') min = 0, max = 1;
            else if (c == '{') {
                p->i++;
                space(p, nested);
                if (!read_num(p, &min)) { sl__seq_free(&atom); return gfail(p, "a bad {m,n} repetition"); }
                max = min;
                space(p, nested);
                if (p->i < p->n && p->s[p->i] == ',') {
                    p->i++;
                    space(p, nested);
                    if (!read_num(p, &max)) max = -1;
                    space(p, nested);
                }
                if (p->i >= p->n || p->s[p->i] != '}') { sl__seq_free(&atom); return gfail(p, "a bad {m,n} repetition"); }
            } else break;
            p->i++;
            sl__seq rep = {0};
            int rc = sl__seq_repeat(p->g, &rep, &atom, min, max);
            sl__seq_free(&atom);
            atom = rep;
            if (rc) {
                sl__seq_free(&atom);
                return SL_EINVAL;
            }
        }
        int rc = sl__seq_append(p->g, out, &atom);
        sl__seq_free(&atom);
        if (rc) return rc;
    }
}

/* Alternatives: appended to OUT directly when there is one, else as a new rule. */
static int galt(gp *p, sl__seq *out) {
    int nested = p->depth > 0;
    sl__seq first = {0};
    if (gseq(p, &first, nested)) {
        sl__seq_free(&first);
        return SL_EINVAL;
    }
    space(p, nested);
    if (p->i >= p->n || p->s[p->i] != '|') {
        int rc = sl__seq_append(p->g, out, &first);
        sl__seq_free(&first);
        return rc;
    }
    int rule = sl__gb_rule(p->g, NULL);
    if (rule < 0 || sl__gb_alt(p->g, rule, &first)) {
        sl__seq_free(&first);
        return SL_EINVAL;
    }
    while (p->i < p->n && p->s[p->i] == '|') {
        p->i++;
        space(p, 1); /* an alternative may start on the next line */
        sl__seq s = {0};
        if (gseq(p, &s, nested) || sl__gb_alt(p->g, rule, &s)) {
            sl__seq_free(&s);
            return SL_EINVAL;
        }
        space(p, nested);
    }
    return sl__seq_push(p->g, out, SL__E_REF, rule);
}

int sl__gbnf_compile(sl__gb *g, const char *text, size_t len) {
    gp p = {g, (const unsigned char *)text, len, 0, 1, 0, NULL, 0, 0};
    int root = -1, rc = 0;
    for (;;) {
        space(&p, 1);
        if (p.i >= p.n) break;
        size_t st = p.i;
        while (p.i < p.n && is_word(p.s[p.i])) p.i++;
        if (p.i == st) { rc = gfail(&p, "expected a rule name"); break; }
        int r = rule_of(&p, p.s + st, p.i - st);
        if (r < 0) { rc = r; break; }
        space(&p, 0);
        if (p.i + 3 > p.n || memcmp(p.s + p.i, "::=", 3)) { rc = gfail(&p, "expected '::=' after the rule name"); break; }
        p.i += 3;
        if (g->rules[r].defined) { rc = gfail(&p, "a rule is defined twice"); break; }
        g->rules[r].defined = 1;
        space(&p, 1);
        p.depth = 0;
        sl__seq s = {0};
        /* The rule's own alternatives (not wrapped in another rule). */
        if ((rc = gseq(&p, &s, 0)) || (rc = sl__gb_alt(g, r, &s))) { sl__seq_free(&s); break; }
        space(&p, 0);
        while (p.i < p.n && p.s[p.i] == '|') {
            p.i++;
            space(&p, 1);
            if ((rc = gseq(&p, &s, 0)) || (rc = sl__gb_alt(g, r, &s))) { sl__seq_free(&s); break; }
            space(&p, 0);
        }
        if (rc) break;
        if (p.i < p.n && p.s[p.i] != '\n') { rc = gfail(&p, p.s[p.i] == ')' ? "an unmatched ')'" : "unexpected character"); break; }
        if (!strcmp(g->rules[r].name, "root")) root = r;
    }
    free(p.tab);
    if (rc || g->failed) return SL_EINVAL;
    if (root < 0) return sl__gb_fail(g, SL_EINVAL, "grammar: there is no 'root' rule");
    for (int r = 0; r < g->n_rules; r++)
        if (g->rules[r].name && !g->rules[r].defined && g->rules[r].n_alts == 0)
            return sl__gb_fail(g, SL_EINVAL, "grammar: rule '%s' is used but never defined", g->rules[r].name);
    return root;
}
