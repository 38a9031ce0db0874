/* constraint_internal.h — the grammar builder shared by the compilers (gbnf.c, regex.c,
 * schema.c) and the matcher (matcher.c).
 *
 * A grammar: rules, each a list of alternatives, each a sequence of elements:
 *   SET r   one byte of byte set r (256 bits)
 *   REF r   rule r
 * Compilers build alternatives in an sl__seq and add them with sl__gb_alt; sl__gb_finish
 * flattens everything into one element array (each alternative ends with an END element),
 * checks it (undefined rules, left recursion) and hands it to the matcher. */
#ifndef SL_CONSTRAINT_INTERNAL_H
#define SL_CONSTRAINT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "constraint.h"

/* Compile bounds (hostile input). */
#define SL__G_MAX_ELEMS 400000  /* elements of a grammar */
#define SL__G_MAX_RULES 100000
#define SL__G_MAX_SETS 100000
#define SL__G_MAX_NEST 64       /* nesting of groups, schemas, brackets */
#define SL__G_MAX_REPEAT 2000   /* m and n of {m,n} */

enum { SL__E_END = 0, SL__E_SET = 1, SL__E_REF = 2 };
typedef struct sl__elem {
    int32_t kind;
    int32_t arg; /* SET: set index; REF: rule; END: rule it ends */
} sl__elem;

typedef struct sl__bset {
    uint64_t w[4];
} sl__bset;
static inline int sl__bset_has(const sl__bset *s, unsigned b) { return (int)((s->w[b >> 6] >> (b & 63)) & 1); }
static inline void sl__bset_add(sl__bset *s, unsigned b) { s->w[b >> 6] |= 1ull << (b & 63); }

typedef struct sl__seq {
    sl__elem *v;
    int n, cap;
} sl__seq;

typedef struct sl__rule {
    sl__seq *alts; /* (n_alts) */
    int n_alts, cap_alts;
    int defined;   /* GBNF: a definition was seen */
    char *name;    /* for messages; may be NULL */
} sl__rule;

typedef struct sl__gb {
    sl__rule *rules;
    int n_rules, cap_rules;
    sl__bset *sets;
    int n_sets, cap_sets;
    long n_elems; /* total so far, for the bound */
    int32_t single[256]; /* set index of each one-byte set, or -1 */
    int failed;   /* sticky: out of memory or over a bound */
    char *err;
    size_t errlen;
    int err_set;
} sl__gb;

/* Sticky error: the first message wins; returns CODE. */
int sl__gb_fail(sl__gb *g, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int sl__gb_init(sl__gb *g, char *err, size_t errlen);
void sl__gb_free(sl__gb *g);
int sl__gb_rule(sl__gb *g, const char *name); /* a new empty rule; its id or < 0 */
int sl__gb_set(sl__gb *g, const sl__bset *s);  /* the set's index or < 0 */
/* Adds SEQ (copied) as an alternative of RULE; SEQ is emptied for reuse. */
int sl__gb_alt(sl__gb *g, int rule, sl__seq *seq);

int sl__seq_push(sl__gb *g, sl__seq *s, int kind, int arg);
int sl__seq_append(sl__gb *g, sl__seq *s, const sl__seq *t);
void sl__seq_free(sl__seq *s);
int sl__seq_lit(sl__gb *g, sl__seq *s, const char *bytes, size_t n);  /* exact bytes */
int sl__seq_byte(sl__gb *g, sl__seq *s, unsigned lo, unsigned hi);  /* one byte in [lo, hi] */

/* Code point ranges (sorted, merged, within 0..0x10FFFF, surrogates excluded by the UTF-8
 * expansion) -> the rule id matching one such character as UTF-8 (or, for ASCII only, a SET
 * pushed directly: returns 0 after pushing). Appends the element matching it to S. */
typedef struct sl__cpr {
    uint32_t lo, hi;
} sl__cpr;
typedef struct sl__cprs {
    sl__cpr *v;
    int n, cap;
} sl__cprs;
int sl__cprs_add(sl__cprs *c, uint32_t lo, uint32_t hi);
void sl__cprs_norm(sl__cprs *c);                     /* sort and merge */
int sl__cprs_negate(sl__cprs *c);                    /* complement in 0..0x10FFFF */
void sl__cprs_free(sl__cprs *c);
int sl__seq_class(sl__gb *g, sl__seq *s, sl__cprs *c); /* normalises C */

/* Repetition of BODY (a sequence, not emptied) MIN..MAX times (MAX < 0: unbounded) appended
 * to S as rule references; refuses a nullable body under an unbounded repeat later, in the
 * left-recursion check. */
int sl__seq_repeat(sl__gb *g, sl__seq *s, const sl__seq *body, int min, int max);
/* A rule matching exactly one of N byte strings (a trie: one deterministic path per string). */
int sl__gb_strings(sl__gb *g, const char *const *strs, const size_t *lens, int n);

/* Finished grammar for the matcher. */
typedef struct sl__grammar {
    sl__elem *elems;   /* (n_elems) */
    int n_elems;
    int32_t *alt_off;  /* (n_rules + 1): rule r's alternatives are alts[alt_off[r] .. alt_off[r+1]) */
    int32_t *alts;     /* start element of each alternative */
    int n_rules;
    sl__bset *sets;
    int n_sets;
    int root;
} sl__grammar;
/* Flattens G (freed) into GR with ROOT as the start rule; checks that every referenced rule
 * has an alternative and that no rule is left-recursive. */
int sl__gb_finish(sl__gb *g, int root, sl__grammar *gr);
void sl__grammar_free(sl__grammar *gr);

/* The compilers: each adds rules to G and returns the rule id of the piece (or < 0 with the
 * message in G). */
int sl__gbnf_compile(sl__gb *g, const char *text, size_t len);
int sl__regex_compile_rule(sl__gb *g, const char *text, size_t len, int json_string_safe);
int sl__schema_compile(sl__gb *g, const char *text, size_t len, int compact);
int sl__json_object_rule(sl__gb *g, int compact); /* COMPACT: no whitespace between JSON tokens */
int sl__choice_compile(sl__gb *g, const char *text, size_t len);

/* UTF-8 decode of one code point at S (N bytes left): its length, or 0 if invalid. */
int sl__utf8_dec(const unsigned char *s, size_t n, uint32_t *cp);

#endif
