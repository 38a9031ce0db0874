/* tokenizer_internal.h — shared internals of the tokenizer module (tokenizer*.c only).
 *
 * Pipeline of sl_tokenizer_encode, as the `tokenizers` library runs it:
 *   text -> lossy UTF-8 -> split on non-normalized added tokens -> normalize each piece
 *        -> split on normalized added tokens -> pre-tokenize -> BPE each piece -> template.
 * Decoding runs the decoder chain as a stream (sl__dec_*), so a full decode and an
 * incremental one are the same code and cannot disagree. */
#ifndef SL_TOKENIZER_INTERNAL_H
#define SL_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- UTF-8 and Unicode ---- */
/* Decodes one code point of a VALID UTF-8 string at s (n bytes left); returns its length. */
size_t sl__utf8_next(const char *s, size_t n, int32_t *cp);
size_t sl__utf8_put(char *dst, int32_t cp); /* dst has room for 4 bytes */
/* Length of the longest valid UTF-8 prefix that, per the WHATWG/Rust "maximal subpart"
 * rule, is an incomplete-but-valid start of a character at the END of s (0..3). */
size_t sl__utf8_incomplete_tail(const char *s, size_t n);
/* Appends s to out with every maximal invalid subpart replaced by U+FFFD (as Rust's
 * String::from_utf8_lossy). */
int sl__utf8_lossy(sl_buf *out, const char *s, size_t n);
int sl__utf8_valid(const char *s, size_t n);
int sl__is_whitespace(int32_t cp); /* Rust char::is_whitespace (White_Space) */
int sl__is_numeric(int32_t cp);    /* Rust char::is_numeric (N*) */
int sl__is_word(int32_t cp);       /* regex crate \w */
int sl__is_punct(int32_t cp);      /* ASCII punctuation or P* */

/* ---- hash maps ---- */
typedef struct sl__strmap {
    struct sl__strslot *slots;
    size_t mask, n;
} sl__strmap;
int sl__strmap_init(sl__strmap *m, size_t expected);
void sl__strmap_free(sl__strmap *m);
/* key is NOT copied: it must outlive the map. Returns 1 if replaced, 0 if new, <0 error. */
int sl__strmap_put(sl__strmap *m, const char *key, size_t len, int32_t val);
int32_t sl__strmap_get(const sl__strmap *m, const char *key, size_t len); /* -1 if none */

typedef struct sl__pairmap {
    struct sl__pairslot *slots;
    size_t mask, n;
} sl__pairmap;
int sl__pairmap_init(sl__pairmap *m, size_t expected);
void sl__pairmap_free(sl__pairmap *m);
int sl__pairmap_put(sl__pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t new_id);
int sl__pairmap_get(const sl__pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *new_id);

/* ---- regex (PCRE2, UTF + UCP, JIT when available) ---- */
typedef struct sl__regex {
    pcre2_code *code;
    int jit;
} sl__regex;
int sl__regex_compile(sl__regex *re, const char *pattern, size_t len, const char *what,
                      char *err, size_t errlen);
void sl__regex_free(sl__regex *re);

/* ---- split patterns (regex, literal string, or character class) ---- */
enum sl__pat_kind { SL__PAT_REGEX, SL__PAT_STRING, SL__PAT_CHARFN };
typedef struct sl__pattern {
    enum sl__pat_kind kind;
    sl__regex re;               /* SL__PAT_REGEX */
    char *str;                  /* SL__PAT_STRING (owned) */
    size_t str_len;
    int (*charfn)(int32_t cp);  /* SL__PAT_CHARFN: a class of characters, each one a match */
    int32_t ch;                 /* SL__PAT_CHARFN with charfn NULL: this one character */
} sl__pattern;
void sl__pattern_free(sl__pattern *p);

/* Match spans over a subject: [start,end) with is_match, covering the whole subject. */
typedef struct sl__span {
    size_t start, end;
    int is_match;
} sl__span;
typedef struct sl__spans {
    sl__span *v;
    size_t n, cap;
} sl__spans;
/* Scratch for one encode call; never shared between threads. */
typedef struct sl__scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    sl__spans spans, spans2;
} sl__scratch;
void sl__scratch_free(sl__scratch *s);
/* Finds all matches of p in s[0..n) as the library does (non-overlapping, leftmost). */
int sl__pattern_find(const sl__pattern *p, sl__scratch *sc, const char *s, size_t n,
                     sl__spans *out, char *err, size_t errlen);

enum sl__split_behavior {
    SL__SPLIT_REMOVED, SL__SPLIT_ISOLATED, SL__SPLIT_MERGED_PREV, SL__SPLIT_MERGED_NEXT,
    SL__SPLIT_CONTIGUOUS
};

/* ---- normalizers ---- */
enum sl__norm_kind {
    SL__NORM_NFC, SL__NORM_NFD, SL__NORM_NFKC, SL__NORM_NFKD, SL__NORM_LOWERCASE,
    SL__NORM_PREPEND, SL__NORM_REPLACE, SL__NORM_STRIP, SL__NORM_STRIP_ACCENTS,
    SL__NORM_SEQUENCE
};
typedef struct sl__norm {
    enum sl__norm_kind kind;
    char *str; /* Prepend: prepend; Replace: content */
    size_t str_len;
    sl__pattern pat; /* Replace */
    int strip_left, strip_right;
    struct sl__norm *sub;
    size_t n_sub;
} sl__norm;
void sl__norm_free(sl__norm *n);
/* Normalizes s (valid UTF-8) into out (cleared first). */
int sl__norm_apply(const sl__norm *n, sl__scratch *sc, const char *s, size_t len, sl_buf *out,
                   char *err, size_t errlen);

/* ---- pre-tokenizers ---- */
enum sl__pretok_kind {
    SL__PRE_BYTELEVEL, SL__PRE_SPLIT, SL__PRE_METASPACE, SL__PRE_DIGITS, SL__PRE_WHITESPACE,
    SL__PRE_WHITESPACE_SPLIT, SL__PRE_PUNCTUATION, SL__PRE_SEQUENCE
};
enum sl__prepend_scheme { SL__PREPEND_ALWAYS, SL__PREPEND_NEVER, SL__PREPEND_FIRST };
typedef struct sl__pretok {
    enum sl__pretok_kind kind;
    int add_prefix_space, use_regex;     /* ByteLevel */
    sl__pattern pat;                     /* Split, and the fixed regex of others */
    enum sl__split_behavior behavior;
    int invert;
    int32_t replacement;                 /* Metaspace */
    char rep_utf8[5];
    size_t rep_len;
    enum sl__prepend_scheme prepend;
    int split;                           /* Metaspace split */
    struct sl__pretok *sub;
    size_t n_sub;
} sl__pretok;
void sl__pretok_free(sl__pretok *p);

/* Pieces of text being pre-tokenized: spans into one arena. `first` marks the piece that
 * starts at offset 0 of the original input (Metaspace prepend_scheme "first"). */
typedef struct sl__piece {
    size_t off, len;
    int first;
} sl__piece;
typedef struct sl__pieces {
    sl_buf arena;
    sl__piece *v;
    size_t n, cap;
} sl__pieces;
int sl__pieces_push(sl__pieces *ps, size_t off, size_t len, int first);
void sl__pieces_free(sl__pieces *ps);
/* Runs the pre-tokenizer over every piece of ps in place. */
int sl__pretok_apply(const sl__pretok *p, sl__scratch *sc, sl__pieces *ps, char *err,
                     size_t errlen);
int sl__pretok_prepare(sl__pretok *p, char *err, size_t errlen); /* builds fixed patterns */
/* GPT-2's byte-level alphabet: byte -> char as UTF-8 (returns 1 or 2 bytes written). */
int sl__byte_to_utf8(int b, char out[2]);
/* Char -> byte (inverse), -1 if the code point is not in the alphabet. */
int sl__char_to_byte(int32_t cp);

/* ---- BPE model ---- */
typedef struct sl__bpe {
    sl__strmap vocab;          /* token -> id; keys point into the tokenizer's strings */
    sl__pairmap merges;        /* (id, id) -> (rank, merged id) */
    int32_t unk_id;            /* -1 when none or not in the vocabulary */
    int has_unk;               /* unk_token was set (error if needed but unresolved) */
    char *unk_token;
    char *prefix, *suffix;     /* continuing_subword_prefix, end_of_word_suffix (or NULL) */
    size_t prefix_len, suffix_len;
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_ids[256];     /* ids of <0xNN>, -1 if absent */
    /* (last char of left, first char of right) of every merge: where no pair matches, a
     * word can be cut into independent segments (see tokenizer_bpe.c) */
    sl__pairmap cross;
    int32_t *first_cp, *last_cp; /* (n_cp) per model id */
    int32_t n_cp;
} sl__bpe;
/* Builds the cross table from the model's merges (pairs: 2*n_pairs ids). */
int sl__bpe_build_cross(sl__bpe *m, char *const *id_to_tok, int32_t n_ids, const int32_t *pairs,
                        size_t n_pairs);
/* Scratch of the merge loop, reused across words of one encode call. */
typedef struct sl__bpe_scratch {
    struct sl__sym *sym;
    size_t sym_cap;
    struct sl__merge *heap;
    size_t heap_cap;
} sl__bpe_scratch;
void sl__bpe_scratch_free(sl__bpe_scratch *s);
void sl__bpe_free(sl__bpe *m);
/* Tokenizes one pre-token (valid UTF-8), appending ids to *ids. */
int sl__bpe_tokenize(const sl__bpe *m, sl__bpe_scratch *sc, const char *w, size_t n,
                     int32_t **ids, size_t *n_ids, size_t *cap_ids, char *err, size_t errlen);

/* ---- decoders ---- */
enum sl__dec_kind {
    SL__DEC_BYTELEVEL, SL__DEC_METASPACE, SL__DEC_REPLACE, SL__DEC_BYTEFALLBACK, SL__DEC_FUSE,
    SL__DEC_STRIP, SL__DEC_NONE_JOIN /* no decoder: tokens joined with " " */
};
typedef struct sl__dec {
    enum sl__dec_kind kind;
    int32_t ch;          /* Metaspace replacement, Strip content */
    enum sl__prepend_scheme prepend;
    sl__pattern pat;     /* Replace */
    char *content;
    size_t content_len;
    size_t start, stop;  /* Strip */
} sl__dec;
void sl__dec_free(sl__dec *d);

/* ---- post-processor ---- */
typedef struct sl__post {
    int32_t *prefix, *suffix; /* ids added before / after sequence A */
    size_t n_prefix, n_suffix;
} sl__post;

/* ---- added tokens ---- */
typedef struct sl__added {
    char *content;
    size_t len;
    int32_t id;
    int special, single_word, lstrip, rstrip, normalized;
    /* The library stores a normalized token's content after the normalizer: that string is
     * what id_to_token and decode give, and decode skips it only if it is itself the content
     * of a special token. */
    char *norm_content; /* NULL: same as content */
    size_t norm_len;
    int skip_on_decode;
} sl__added;

/* Leftmost-longest multi-pattern matcher (a trie walked from each start position). */
typedef struct sl__trie {
    struct sl__trie_node *nodes; /* nodes[0] is the root */
    size_t n, cap;
    int32_t root[256];           /* root's child per first byte, -1 if none */
} sl__trie;

struct sl_tokenizer {
    sl__bpe bpe;
    char **id_to_tok;          /* (n_model_ids) model tokens, NULL where none */
    uint32_t *tok_len;         /* (n_model_ids) their lengths */
    int32_t n_model_ids;       /* highest model id + 1 */
    sl__added *added;
    size_t n_added;
    sl__strmap added_map;      /* content -> index into added */
    int32_t *added_by_id;      /* (vocab_size) index into added or -1 */
    int32_t vocab_size;
    sl__trie trie_raw, trie_norm;
    sl__norm *norm;            /* NULL: none */
    sl__pretok *pretok;        /* NULL: none */
    sl__dec *dec;              /* flattened decoder chain */
    size_t n_dec;
    sl__post post;
    int32_t bos_id;
    char *vocab_arena;         /* model token strings, NUL-separated; owned */
};

/* Decoder stream over a flattened chain (see tokenizer_decode.c). */
typedef struct sl__decstream sl__decstream;
int sl__decstream_init(sl__decstream **out, const sl_tokenizer *tok);
/* Pushes one token's text (NUL-free, valid UTF-8) and appends stable output to out. */
int sl__decstream_push(sl__decstream *d, const char *tok, size_t len, sl_buf *out);
int sl__decstream_finish(sl__decstream *d, sl_buf *out);
void sl__decstream_free(sl__decstream *d);
/* The raw bytes of one token string as the decoder chain appends them (FIRST: at the start of
 * a text), without UTF-8 repair. */
int sl__token_bytes(const sl_tokenizer *tok, const char *s, size_t n, int first, sl_buf *out);

int sl__trie_init(sl__trie *t);
void sl__trie_free(sl__trie *t);
int sl__trie_add(sl__trie *t, const char *s, size_t n, int32_t value);
/* Longest match starting exactly at s[0..n): returns value (>= 0) and *mlen, or -1. */
int32_t sl__trie_longest(const sl__trie *t, const char *s, size_t n, size_t *mlen);

#endif
