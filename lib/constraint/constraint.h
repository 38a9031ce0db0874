/* constraint.h — structured outputs: a constraint on the generated text, enforced while
 * decoding by masking the tokens that cannot continue a valid output.
 *
 * One representation for everything: a context-free grammar over BYTES (rules of
 * alternatives of sequences of byte sets and rule references; Unicode character classes
 * become their UTF-8 byte sequences). Every input language compiles into it:
 *   - JSON Schema (SL_CPIECE_JSON_SCHEMA): the subset listed in README ("Structured outputs");
 *     any other keyword is an error naming it, never silently ignored;
 *   - any JSON object (SL_CPIECE_JSON_OBJECT, OpenAI's json_object);
 *   - regular expressions (SL_CPIECE_REGEX): a safe subset, always a full match (see regex.c);
 *   - GBNF, llama.cpp's grammar format (SL_CPIECE_GBNF), root rule "root";
 *   - a choice among strings (SL_CPIECE_CHOICE: the text is a JSON array of strings);
 *   - a literal (SL_CPIECE_LITERAL: these exact bytes).
 * A constraint is a SEQUENCE of pieces, matched one after the other. E.g. a forced tool call:
 *
 *     sl_cpiece p[3] = {
 *         {SL_CPIECE_LITERAL, "<tool_call>\n", 12},
 *         {SL_CPIECE_JSON_SCHEMA, schema, strlen(schema)},   // {"type":"object","properties":
 *         {SL_CPIECE_LITERAL, "\n</tool_call>", 13},         //  {"name":{"const":"f"},"arguments":{...}},
 *     };                                                     //  "required":["name","arguments"]}
 *     sl_constraint *c;
 *     sl_constraint_cache_get(cache, p, 3, &c, err, sizeof err);   // or sl_constraint_compile
 *
 * (several tools: one schema with "anyOf" over the tools' {name, arguments} objects).
 *
 * Matching (a pushdown automaton over bytes, as llama.cpp's grammar sampler): the state of a
 * sequence is a set of stacks of grammar positions; a byte advances each stack whose top byte
 * set contains it. Left-recursive grammars are refused at compile time. A token is allowed
 * when its bytes (as the tokenizer's decoder appends them to the text: byte-level BPE,
 * SentencePiece `▁`, `<0xNN>` byte fallback) keep at least one stack alive; tokens that end
 * inside a UTF-8 character or span several terminals need nothing special. The vocabulary is
 * a trie of token bytes walked once per mask with the automaton (shared prefixes are
 * advanced once). Masks of expensive states are cached in the compiled constraint, keyed by
 * the state (bounded), so a state seen again costs a lookup. Special tokens are never
 * allowed; the terminators (EOS, a chat template's end of turn) exactly when the output is
 * complete.
 *
 * Hostile input: grammar size, nesting, repetition counts, stacks per state, stack depth and
 * the work of one mask are bounded; exceeding a compile bound is SL_EINVAL with a message;
 * exceeding a per-step bound makes the sequence fail (sl_cmatch_mask returns SL_ETOOBIG).
 *
 * Threads: a vocabulary and a compiled constraint are immutable after creation except for the
 * mask cache, which has its own lock: both may be shared by many threads. A matcher
 * (sl_cmatch) belongs to one sequence and one thread at a time. */
#ifndef SL_CONSTRAINT_H
#define SL_CONSTRAINT_H

#include <stddef.h>
#include <stdint.h>

struct sl_tokenizer;

typedef enum sl_cpiece_kind {
    SL_CPIECE_LITERAL = 0,
    SL_CPIECE_JSON_SCHEMA,
    SL_CPIECE_JSON_OBJECT, /* text ignored */
    SL_CPIECE_REGEX,
    SL_CPIECE_GBNF,
    SL_CPIECE_CHOICE,      /* text: a JSON array of strings */
    SL_CPIECE_JSON_SCHEMA_COMPACT, /* as JSON_SCHEMA / JSON_OBJECT without whitespace between */
    SL_CPIECE_JSON_OBJECT_COMPACT  /* JSON tokens (vLLM's disable_any_whitespace) */
} sl_cpiece_kind;

typedef struct sl_cpiece {
    sl_cpiece_kind kind;
    const char *text; /* (len) bytes, need not be NUL-terminated */
    size_t len;
} sl_cpiece;

#define SL_CONSTRAINT_MAX_PIECES 8
#define SL_CONSTRAINT_MAX_TEXT (1 << 20) /* bytes of all pieces' text together */

/* ---------------------------------------------------------------- vocabulary */

/* The token bytes of a tokenizer, as a trie, for N_VOCAB logit rows. Never allowed: ids the
 * tokenizer does not know, special tokens, tokens that add no bytes or more than 4096. Built
 * once (tens of ms for 50k tokens). */
typedef struct sl_cvocab sl_cvocab;
int sl_cvocab_init(sl_cvocab **out, const struct sl_tokenizer *tok, int n_vocab, char *err, size_t errlen);
void sl_cvocab_free(sl_cvocab *v);
int sl_cvocab_size(const sl_cvocab *v);

/* ---------------------------------------------------------------- compiled constraints */

typedef struct sl_constraint sl_constraint;

/* Compiles N pieces (1..SL_CONSTRAINT_MAX_PIECES) for vocabulary V (borrowed: it must outlive
 * the constraint). 0 and *out with one reference; SL_EINVAL with the problem in ERR (which
 * piece, which keyword or position); SL_ETOOBIG over a size bound; SL_ENOMEM. */
int sl_constraint_compile(sl_constraint **out, const sl_cvocab *v, const sl_cpiece *pieces, int n, char *err,
                          size_t errlen);
sl_constraint *sl_constraint_ref(sl_constraint *c);
void sl_constraint_unref(sl_constraint *c); /* NULL is fine */

/* Grammar size (elements), for tests and logs. */
int sl_constraint_size(const sl_constraint *c);
/* The vocabulary size it was compiled for (the mask's length in bits). */
int sl_constraint_n_vocab(const sl_constraint *c);

/* A bounded, thread-safe cache of compiled constraints keyed by their pieces (kind + text):
 * at most MAX entries, least recently used evicted (an evicted constraint lives on while
 * sequences hold references). */
typedef struct sl_constraint_cache sl_constraint_cache;
int sl_constraint_cache_init(sl_constraint_cache **out, const sl_cvocab *v, int max);
void sl_constraint_cache_free(sl_constraint_cache *cc);
/* As sl_constraint_compile, through the cache: *out gets a new reference. Compile errors are
 * not cached. */
int sl_constraint_cache_get(sl_constraint_cache *cc, const sl_cpiece *pieces, int n, sl_constraint **out, char *err,
                            size_t errlen);

/* ---------------------------------------------------------------- per-sequence matching */

typedef struct sl_cmatch sl_cmatch;

/* A matcher at the start of C (takes its own reference to C). NULL: out of memory. */
sl_cmatch *sl_cmatch_new(sl_constraint *c);
void sl_cmatch_free(sl_cmatch *m); /* NULL is fine */

/* The tokens that may come next: MASK ((n_vocab + 63) / 64 words, bit i of word i/64 set =
 * allowed) gets every non-special token whose bytes continue a valid output. Terminators are
 * not set: allow them exactly when sl_cmatch_complete. 0 ok (the mask may be empty only if
 * complete); SL_ETOOBIG when the step's work bound was hit (too ambiguous a grammar);
 * SL_ENOMEM. */
int sl_cmatch_mask(sl_cmatch *m, uint64_t *mask);
/* 1 when the text so far is a complete output (a terminator may come now). */
int sl_cmatch_complete(const sl_cmatch *m);
/* 1 when nothing but a terminator can follow. */
int sl_cmatch_finished(const sl_cmatch *m);
/* Advances over token ID (not a terminator). 0 ok; SL_EINVAL if the token is not allowed
 * (the state is then unchanged). */
int sl_cmatch_accept(sl_cmatch *m, int32_t id);
/* Advances over raw bytes (tests, and text forced by the caller). 0 ok; SL_EINVAL if they do
 * not continue a valid output (state unchanged). */
int sl_cmatch_accept_bytes(sl_cmatch *m, const char *s, size_t n);

/* Statistics of a constraint's mask cache (tests, bench). */
typedef struct sl_cmask_stats {
    uint64_t hits, misses, nodes; /* nodes: trie nodes walked by misses */
    int entries;
} sl_cmask_stats;
void sl_constraint_mask_stats(sl_constraint *c, sl_cmask_stats *out);

#endif
