/* tokenizer.h — Hugging Face tokenizer.json in C, identical to the `tokenizers` library.
 *
 * Supported: BPE models (merges, ignore_merges, byte_fallback, unk_token, fuse_unk);
 * normalizers NFC/NFD/NFKC/NFKD (utf8proc), Prepend, Replace, Sequence, Lowercase;
 * pre-tokenizers ByteLevel, Split (PCRE2 regex, behaviours), Metaspace, Sequence, Digits,
 * Whitespace; decoders ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence;
 * post-processors TemplateProcessing, ByteLevel, Sequence; added tokens (special or not,
 * lstrip/rstrip/single_word/normalized). Anything else is a load error naming the component.
 *
 * A loaded tokenizer is immutable and may be used from many threads at once. */
#ifndef SL_TOKENIZER_H
#define SL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_tokenizer sl_tokenizer;

int sl_tokenizer_load(sl_tokenizer **out, const char *path, char *err, size_t errlen);
int sl_tokenizer_load_buffer(sl_tokenizer **out, const char *json, size_t len,
                             char *err, size_t errlen);
void sl_tokenizer_free(sl_tokenizer *tok);

/* Encodes LEN bytes of TEXT (need not be NUL-terminated). add_special: apply the
 * post-processor (e.g. prepend BOS). On success *ids is malloc'ed (caller frees) and
 * holds *n_ids ids. Invalid UTF-8 is handled as the library does (lossy) or rejected
 * with SL_EINVAL; never a crash. */
int sl_tokenizer_encode(const sl_tokenizer *tok, const char *text, size_t len, int add_special,
                        int32_t **ids, size_t *n_ids, char *err, size_t errlen);

/* Decodes ids to text; *text is malloc'ed, NUL-terminated (caller frees), *len its length.
 * Ids outside the vocabulary give SL_ERANGE. */
int sl_tokenizer_decode(const sl_tokenizer *tok, const int32_t *ids, size_t n, int skip_special,
                        char **text, size_t *len, char *err, size_t errlen);

int32_t sl_tokenizer_vocab_size(const sl_tokenizer *tok); /* highest id + 1, added tokens included */
int32_t sl_tokenizer_token_to_id(const sl_tokenizer *tok, const char *token); /* -1 if none */
const char *sl_tokenizer_id_to_token(const sl_tokenizer *tok, int32_t id);   /* NULL if none */
int sl_tokenizer_is_special(const sl_tokenizer *tok, int32_t id);
/* The id the post-processor prepends (BOS), or -1 when it adds none. */
int32_t sl_tokenizer_bos_id(const sl_tokenizer *tok);

/* The raw bytes token ID adds to a decoded text (appended to OUT, a struct sl_buf): the
 * decoder chain applied to this token alone, with no UTF-8 repair, so a byte-level or <0xNN>
 * token that ends inside a character gives its raw bytes. FIRST: the token starts the text
 * (SentencePiece decoders drop its leading space). Special tokens give their content. 0, or
 * SL_ERANGE for an id outside the vocabulary, SL_ENOMEM. Used by structured outputs. */
struct sl_buf;
int sl_tokenizer_token_bytes(const sl_tokenizer *tok, int32_t id, int first, struct sl_buf *out);

/* Incremental decoding for streams: feed ids one at a time, get text deltas that never
 * split a UTF-8 character and whose concatenation equals sl_tokenizer_decode of all ids. */
typedef struct sl_detok sl_detok;
int sl_detok_init(sl_detok **out, const sl_tokenizer *tok, int skip_special);
/* Appends id; *delta (owned by the detok, valid until the next call) gets the new text,
 * possibly empty; *delta_len its length. */
int sl_detok_feed(sl_detok *d, int32_t id, const char **delta, size_t *delta_len);
/* Text held back at the end (e.g. an incomplete UTF-8 sequence), emitted as the library
 * would at the end of a full decode. After a flush the detok starts a new text. */
int sl_detok_flush(sl_detok *d, const char **delta, size_t *delta_len);
void sl_detok_free(sl_detok *d);

#endif
