/* tokenizer.c — loading tokenizer.json, added tokens, and the public API.
 * See tokenizer_internal.h for the pipeline. */
#include "tokenizer.h"

#include "error.h"
#include "tokenizer_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JSON_BYTES (1u << 30) /* tokenizer.json files are tens of MB at most */
#define MAX_DEPTH 16              /* nested Sequence components */

/* ------------------------------------------------------------------ trie */

struct sl__trie_node {
    int32_t first_child, next_sibling, value;
    unsigned char byte;
};

int sl__trie_init(sl__trie *t) {
    t->cap = 16;
    t->nodes = malloc(t->cap * sizeof *t->nodes);
    if (!t->nodes) return SL_ENOMEM;
    t->nodes[0] = (struct sl__trie_node){-1, -1, -1, 0};
    t->n = 1;
    for (int i = 0; i < 256; i++) t->root[i] = -1;
    return 0;
}

void sl__trie_free(sl__trie *t) {
    free(t->nodes);
    t->nodes = NULL;
    t->n = t->cap = 0;
}

static int32_t trie_child(const sl__trie *t, int32_t node, unsigned char b) {
    if (node == 0) return t->root[b];
    for (int32_t c = t->nodes[node].first_child; c >= 0; c = t->nodes[c].next_sibling)
        if (t->nodes[c].byte == b) return c;
    return -1;
}

int sl__trie_add(sl__trie *t, const char *s, size_t n, int32_t value) {
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t c = trie_child(t, node, b);
        if (c < 0) {
            if (t->n == t->cap) {
                struct sl__trie_node *v = realloc(t->nodes, t->cap * 2 * sizeof *v);
                if (!v) return SL_ENOMEM;
                t->nodes = v;
                t->cap *= 2;
            }
            c = (int32_t)t->n++;
            t->nodes[c] = (struct sl__trie_node){-1, t->nodes[node].first_child, -1, b};
            t->nodes[node].first_child = c;
            if (node == 0) t->root[b] = c;
        }
        node = c;
    }
    /* the first token added with a given content wins, as aho-corasick's pattern order */
    if (node > 0 && t->nodes[node].value < 0) t->nodes[node].value = value;
    return 0;
}

int32_t sl__trie_longest(const sl__trie *t, const char *s, size_t n, size_t *mlen) {
    int32_t node = 0, best = -1;
    for (size_t i = 0; i < n; i++) {
        node = trie_child(t, node, (unsigned char)s[i]);
        if (node < 0) break;
        if (t->nodes[node].value >= 0) {
            best = t->nodes[node].value;
            *mlen = i + 1;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ JSON helpers */

static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jbool(json_t *o, const char *k, int dflt) {
    json_t *v = json_object_get(o, k);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static char *dupn(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* {"String": s} or {"Regex": r}. */
static int parse_pattern(json_t *j, sl__pattern *p, const char *what, char *err, size_t errlen) {
    json_t *s = json_object_get(j, "String"), *r = json_object_get(j, "Regex");
    if (json_is_string(s)) {
        p->kind = SL__PAT_STRING;
        p->str_len = json_string_length(s);
        if (p->str_len == 0)
            return sl__errf(err, errlen, SL_ENOTSUP, "%s: empty String pattern is not supported", what);
        p->str = dupn(json_string_value(s), p->str_len);
        return p->str ? 0 : SL_ENOMEM;
    }
    if (json_is_string(r)) {
        p->kind = SL__PAT_REGEX;
        return sl__regex_compile(&p->re, json_string_value(r), json_string_length(r), what, err, errlen);
    }
    return sl__errf(err, errlen, SL_EFORMAT, "%s: pattern must be {\"String\": ...} or {\"Regex\": ...}",
                    what);
}

/* A one-character string field (Metaspace replacement, Strip content). */
static int parse_char(json_t *o, const char *k, int32_t dflt, int32_t *out, const char *what,
                      char *err, size_t errlen) {
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) { *out = dflt; return 0; }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int32_t cp;
    if (!s || n == 0 || sl__utf8_next(s, n, &cp) != n)
        return sl__errf(err, errlen, SL_EFORMAT, "%s: \"%s\" must be one character", what, k);
    *out = cp;
    return 0;
}

static int parse_prepend(json_t *o, enum sl__prepend_scheme *out, const char *what, char *err,
                         size_t errlen) {
    const char *ps = jstr(o, "prepend_scheme");
    if (!ps) { /* older files: add_prefix_space */
        *out = jbool(o, "add_prefix_space", 1) ? SL__PREPEND_ALWAYS : SL__PREPEND_NEVER;
        return 0;
    }
    if (!strcmp(ps, "always")) *out = SL__PREPEND_ALWAYS;
    else if (!strcmp(ps, "never")) *out = SL__PREPEND_NEVER;
    else if (!strcmp(ps, "first")) *out = SL__PREPEND_FIRST;
    else return sl__errf(err, errlen, SL_ENOTSUP, "%s: prepend_scheme \"%s\" is not supported", what, ps);
    return 0;
}

/* ------------------------------------------------------------------ normalizers */

static int parse_norm(json_t *j, sl__norm *n, int depth, char *err, size_t errlen) {
    const char *type = jstr(j, "type");
    if (!json_is_object(j) || !type)
        return sl__errf(err, errlen, SL_EFORMAT, "normalizer: missing \"type\"");
    if (depth > MAX_DEPTH) return sl__errf(err, errlen, SL_EFORMAT, "normalizer: nested too deeply");
    if (!strcmp(type, "NFC")) n->kind = SL__NORM_NFC;
    else if (!strcmp(type, "NFD")) n->kind = SL__NORM_NFD;
    else if (!strcmp(type, "NFKC")) n->kind = SL__NORM_NFKC;
    else if (!strcmp(type, "NFKD")) n->kind = SL__NORM_NFKD;
    else if (!strcmp(type, "Lowercase")) n->kind = SL__NORM_LOWERCASE;
    else if (!strcmp(type, "StripAccents")) n->kind = SL__NORM_STRIP_ACCENTS;
    else if (!strcmp(type, "Strip")) {
        n->kind = SL__NORM_STRIP;
        n->strip_left = jbool(j, "strip_left", 1);
        n->strip_right = jbool(j, "strip_right", 1);
    } else if (!strcmp(type, "Prepend")) {
        json_t *v = json_object_get(j, "prepend");
        if (!json_is_string(v)) return sl__errf(err, errlen, SL_EFORMAT, "normalizer Prepend: missing \"prepend\"");
        n->kind = SL__NORM_PREPEND;
        n->str_len = json_string_length(v);
        if (!(n->str = dupn(json_string_value(v), n->str_len))) return SL_ENOMEM;
    } else if (!strcmp(type, "Replace")) {
        json_t *c = json_object_get(j, "content");
        if (!json_is_string(c)) return sl__errf(err, errlen, SL_EFORMAT, "normalizer Replace: missing \"content\"");
        n->kind = SL__NORM_REPLACE;
        n->str_len = json_string_length(c);
        if (!(n->str = dupn(json_string_value(c), n->str_len))) return SL_ENOMEM;
        return parse_pattern(json_object_get(j, "pattern"), &n->pat, "normalizer Replace", err, errlen);
    } else if (!strcmp(type, "Sequence")) {
        json_t *a = json_object_get(j, "normalizers");
        if (!json_is_array(a)) return sl__errf(err, errlen, SL_EFORMAT, "normalizer Sequence: missing \"normalizers\"");
        n->kind = SL__NORM_SEQUENCE;
        n->n_sub = json_array_size(a);
        n->sub = calloc(n->n_sub ? n->n_sub : 1, sizeof *n->sub);
        if (!n->sub) return SL_ENOMEM;
        for (size_t i = 0; i < n->n_sub; i++) {
            int rc = parse_norm(json_array_get(a, i), &n->sub[i], depth + 1, err, errlen);
            if (rc) return rc;
        }
    } else {
        return sl__errf(err, errlen, SL_ENOTSUP, "normalizer \"%s\" is not supported", type);
    }
    return 0;
}

/* ------------------------------------------------------------------ pre-tokenizers */

static int parse_behavior(json_t *j, enum sl__split_behavior *b, const char *what, char *err,
                          size_t errlen) {
    const char *s = jstr(j, "behavior");
    if (!s) { *b = SL__SPLIT_ISOLATED; return 0; }
    if (!strcmp(s, "Removed")) *b = SL__SPLIT_REMOVED;
    else if (!strcmp(s, "Isolated")) *b = SL__SPLIT_ISOLATED;
    else if (!strcmp(s, "MergedWithPrevious")) *b = SL__SPLIT_MERGED_PREV;
    else if (!strcmp(s, "MergedWithNext")) *b = SL__SPLIT_MERGED_NEXT;
    else if (!strcmp(s, "Contiguous")) *b = SL__SPLIT_CONTIGUOUS;
    else return sl__errf(err, errlen, SL_ENOTSUP, "%s: behavior \"%s\" is not supported", what, s);
    return 0;
}

static int parse_pretok(json_t *j, sl__pretok *p, int depth, char *err, size_t errlen) {
    const char *type = jstr(j, "type");
    int rc;
    if (!json_is_object(j) || !type)
        return sl__errf(err, errlen, SL_EFORMAT, "pre_tokenizer: missing \"type\"");
    if (depth > MAX_DEPTH) return sl__errf(err, errlen, SL_EFORMAT, "pre_tokenizer: nested too deeply");
    if (!strcmp(type, "ByteLevel")) {
        p->kind = SL__PRE_BYTELEVEL;
        p->add_prefix_space = jbool(j, "add_prefix_space", 1);
        p->use_regex = jbool(j, "use_regex", 1);
    } else if (!strcmp(type, "Split")) {
        p->kind = SL__PRE_SPLIT;
        p->invert = jbool(j, "invert", 0);
        if ((rc = parse_behavior(j, &p->behavior, "pre_tokenizer Split", err, errlen))) return rc;
        return parse_pattern(json_object_get(j, "pattern"), &p->pat, "pre_tokenizer Split", err, errlen);
    } else if (!strcmp(type, "Metaspace")) {
        p->kind = SL__PRE_METASPACE;
        p->split = jbool(j, "split", 1);
        if ((rc = parse_char(j, "replacement", 0x2581, &p->replacement, "pre_tokenizer Metaspace", err, errlen)))
            return rc;
        if ((rc = parse_prepend(j, &p->prepend, "pre_tokenizer Metaspace", err, errlen))) return rc;
    } else if (!strcmp(type, "Digits")) {
        p->kind = SL__PRE_DIGITS;
        p->behavior = jbool(j, "individual_digits", 0) ? SL__SPLIT_ISOLATED : SL__SPLIT_CONTIGUOUS;
    } else if (!strcmp(type, "Whitespace")) {
        p->kind = SL__PRE_WHITESPACE;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        p->kind = SL__PRE_WHITESPACE_SPLIT;
    } else if (!strcmp(type, "Punctuation")) {
        p->kind = SL__PRE_PUNCTUATION;
        if ((rc = parse_behavior(j, &p->behavior, "pre_tokenizer Punctuation", err, errlen))) return rc;
    } else if (!strcmp(type, "Sequence")) {
        json_t *a = json_object_get(j, "pretokenizers");
        if (!json_is_array(a))
            return sl__errf(err, errlen, SL_EFORMAT, "pre_tokenizer Sequence: missing \"pretokenizers\"");
        p->kind = SL__PRE_SEQUENCE;
        p->n_sub = json_array_size(a);
        p->sub = calloc(p->n_sub ? p->n_sub : 1, sizeof *p->sub);
        if (!p->sub) return SL_ENOMEM;
        for (size_t i = 0; i < p->n_sub; i++)
            if ((rc = parse_pretok(json_array_get(a, i), &p->sub[i], depth + 1, err, errlen))) return rc;
        return 0;
    } else {
        return sl__errf(err, errlen, SL_ENOTSUP, "pre_tokenizer \"%s\" is not supported", type);
    }
    return sl__pretok_prepare(p, err, errlen);
}

/* ------------------------------------------------------------------ decoders */

static int dec_push(sl_tokenizer *t, sl__dec **slot) {
    sl__dec *v = realloc(t->dec, (t->n_dec + 1) * sizeof *v);
    if (!v) return SL_ENOMEM;
    t->dec = v;
    memset(&v[t->n_dec], 0, sizeof *v);
    *slot = &v[t->n_dec++];
    return 0;
}

/* Flattens Sequence decoders into t->dec. */
static int parse_dec(sl_tokenizer *t, json_t *j, int depth, char *err, size_t errlen) {
    const char *type = jstr(j, "type");
    sl__dec *d;
    int rc;
    if (!json_is_object(j) || !type) return sl__errf(err, errlen, SL_EFORMAT, "decoder: missing \"type\"");
    if (depth > MAX_DEPTH) return sl__errf(err, errlen, SL_EFORMAT, "decoder: nested too deeply");
    if (!strcmp(type, "Sequence")) {
        json_t *a = json_object_get(j, "decoders");
        if (!json_is_array(a)) return sl__errf(err, errlen, SL_EFORMAT, "decoder Sequence: missing \"decoders\"");
        for (size_t i = 0; i < json_array_size(a); i++)
            if ((rc = parse_dec(t, json_array_get(a, i), depth + 1, err, errlen))) return rc;
        return 0;
    }
    enum sl__dec_kind kind;
    if (!strcmp(type, "ByteLevel")) kind = SL__DEC_BYTELEVEL;
    else if (!strcmp(type, "Metaspace")) kind = SL__DEC_METASPACE;
    else if (!strcmp(type, "Replace")) kind = SL__DEC_REPLACE;
    else if (!strcmp(type, "ByteFallback")) kind = SL__DEC_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) kind = SL__DEC_FUSE;
    else if (!strcmp(type, "Strip")) kind = SL__DEC_STRIP;
    else return sl__errf(err, errlen, SL_ENOTSUP, "decoder \"%s\" is not supported", type);
    if ((rc = dec_push(t, &d))) return rc;
    d->kind = kind;
    switch (kind) {
    case SL__DEC_METASPACE:
        if ((rc = parse_char(j, "replacement", 0x2581, &d->ch, "decoder Metaspace", err, errlen))) return rc;
        return parse_prepend(j, &d->prepend, "decoder Metaspace", err, errlen);
    case SL__DEC_REPLACE: {
        json_t *c = json_object_get(j, "content");
        if (!json_is_string(c)) return sl__errf(err, errlen, SL_EFORMAT, "decoder Replace: missing \"content\"");
        d->content_len = json_string_length(c);
        if (!(d->content = dupn(json_string_value(c), d->content_len))) return SL_ENOMEM;
        return parse_pattern(json_object_get(j, "pattern"), &d->pat, "decoder Replace", err, errlen);
    }
    case SL__DEC_STRIP: {
        json_t *a = json_object_get(j, "start"), *b = json_object_get(j, "stop");
        if ((rc = parse_char(j, "content", ' ', &d->ch, "decoder Strip", err, errlen))) return rc;
        json_int_t sa = json_is_integer(a) ? json_integer_value(a) : 0;
        json_int_t sb = json_is_integer(b) ? json_integer_value(b) : 0;
        if (sa < 0 || sb < 0 || sa > 1 << 20 || sb > 1 << 20)
            return sl__errf(err, errlen, SL_EFORMAT, "decoder Strip: bad start/stop");
        d->start = (size_t)sa;
        d->stop = (size_t)sb;
        return 0;
    }
    default:
        return 0;
    }
}

void sl__dec_free(sl__dec *d) {
    free(d->content);
    sl__pattern_free(&d->pat);
}

/* ------------------------------------------------------------------ post-processor */

static int ids_append(int32_t **v, size_t *n, const int32_t *add, size_t k, int front) {
    if (k == 0) return 0;
    int32_t *p = realloc(*v, (*n + k) * sizeof *p);
    if (!p) return SL_ENOMEM;
    if (front) {
        memmove(p + k, p, *n * sizeof *p);
        memcpy(p, add, k * sizeof *p);
    } else {
        memcpy(p + *n, add, k * sizeof *p);
    }
    *v = p;
    *n += k;
    return 0;
}

/* ["[CLS]", 101] */
static int special_pair(json_t *j, int32_t *id, const char *what, char *err, size_t errlen) {
    json_t *v = json_array_get(j, 1);
    if (!json_is_array(j) || !json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > INT32_MAX)
        return sl__errf(err, errlen, SL_EFORMAT, "%s: bad special token", what);
    *id = (int32_t)json_integer_value(v);
    return 0;
}

static int parse_post(sl_tokenizer *t, json_t *j, int depth, char *err, size_t errlen) {
    const char *type = jstr(j, "type");
    sl__post *p = &t->post;
    int rc;
    if (!json_is_object(j) || !type) return sl__errf(err, errlen, SL_EFORMAT, "post_processor: missing \"type\"");
    if (depth > MAX_DEPTH) return sl__errf(err, errlen, SL_EFORMAT, "post_processor: nested too deeply");
    if (!strcmp(type, "ByteLevel")) return 0; /* only trims offsets */
    if (!strcmp(type, "Sequence")) {
        json_t *a = json_object_get(j, "processors");
        if (!json_is_array(a)) return sl__errf(err, errlen, SL_EFORMAT, "post_processor Sequence: missing \"processors\"");
        for (size_t i = 0; i < json_array_size(a); i++)
            if ((rc = parse_post(t, json_array_get(a, i), depth + 1, err, errlen))) return rc;
        return 0;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        int32_t cls = -1, sep = -1;
        if ((rc = special_pair(json_object_get(j, "cls"), &cls, type, err, errlen))) return rc;
        if ((rc = special_pair(json_object_get(j, "sep"), &sep, type, err, errlen))) return rc;
        if ((rc = ids_append(&p->prefix, &p->n_prefix, &cls, 1, 1))) return rc;
        return ids_append(&p->suffix, &p->n_suffix, &sep, 1, 0);
    }
    if (strcmp(type, "TemplateProcessing"))
        return sl__errf(err, errlen, SL_ENOTSUP, "post_processor \"%s\" is not supported", type);
    json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens");
    if (!json_is_array(single))
        return sl__errf(err, errlen, SL_EFORMAT, "post_processor TemplateProcessing: missing \"single\"");
    int32_t *pre = NULL, *suf = NULL;
    size_t npre = 0, nsuf = 0;
    int seen_a = 0;
    rc = 0;
    for (size_t i = 0; i < json_array_size(single) && !rc; i++) {
        json_t *piece = json_array_get(single, i);
        json_t *sp = json_object_get(piece, "SpecialToken"), *sq = json_object_get(piece, "Sequence");
        if (sq) {
            const char *id = jstr(sq, "id");
            if (!id || strcmp(id, "A") || seen_a) {
                rc = sl__errf(err, errlen, SL_ENOTSUP,
                              "post_processor TemplateProcessing: single template must hold sequence A once");
                break;
            }
            seen_a = 1;
            continue;
        }
        const char *name = sp ? jstr(sp, "id") : NULL;
        json_t *st = name ? json_object_get(specials, name) : NULL;
        json_t *ids = json_object_get(st, "ids");
        if (!json_is_array(ids)) {
            rc = sl__errf(err, errlen, SL_EFORMAT,
                          "post_processor TemplateProcessing: unknown special token \"%s\"", name ? name : "?");
            break;
        }
        for (size_t k = 0; k < json_array_size(ids) && !rc; k++) {
            json_t *v = json_array_get(ids, k);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
                rc = sl__errf(err, errlen, SL_EFORMAT, "post_processor TemplateProcessing: bad id of \"%s\"", name);
                break;
            }
            int32_t id = (int32_t)json_integer_value(v);
            rc = seen_a ? ids_append(&suf, &nsuf, &id, 1, 0) : ids_append(&pre, &npre, &id, 1, 0);
        }
    }
    if (!rc && !seen_a)
        rc = sl__errf(err, errlen, SL_ENOTSUP, "post_processor TemplateProcessing: single template lacks sequence A");
    /* an outer processor wraps what the inner ones produced */
    if (!rc) rc = ids_append(&p->prefix, &p->n_prefix, pre, npre, 1);
    if (!rc) rc = ids_append(&p->suffix, &p->n_suffix, suf, nsuf, 0);
    free(pre);
    free(suf);
    return rc;
}

/* ------------------------------------------------------------------ model */

static int parse_model(sl_tokenizer *t, json_t *m, char *err, size_t errlen) {
    sl__bpe *b = &t->bpe;
    const char *type = jstr(m, "type");
    json_t *vocab = json_object_get(m, "vocab"), *merges = json_object_get(m, "merges");
    int rc;
    b->unk_id = -1;
    for (int i = 0; i < 256; i++) b->byte_ids[i] = -1;
    if (!json_is_object(m)) return sl__errf(err, errlen, SL_EFORMAT, "tokenizer.json: missing \"model\"");
    if (type ? strcmp(type, "BPE") != 0 : !merges)
        return sl__errf(err, errlen, SL_ENOTSUP, "model \"%s\" is not supported (only BPE)", type ? type : "?");
    if (!json_is_object(vocab)) return sl__errf(err, errlen, SL_EFORMAT, "model BPE: missing \"vocab\" object");
    json_t *dropout = json_object_get(m, "dropout");
    if (dropout && !json_is_null(dropout) && json_number_value(dropout) != 0.0)
        return sl__errf(err, errlen, SL_ENOTSUP, "model BPE: dropout is not supported");
    b->fuse_unk = jbool(m, "fuse_unk", 0);
    b->byte_fallback = jbool(m, "byte_fallback", 0);
    b->ignore_merges = jbool(m, "ignore_merges", 0);
    const char *s;
    if ((s = jstr(m, "continuing_subword_prefix"))) {
        b->prefix_len = strlen(s);
        if (!(b->prefix = dupn(s, b->prefix_len))) return SL_ENOMEM;
    }
    if ((s = jstr(m, "end_of_word_suffix"))) {
        b->suffix_len = strlen(s);
        if (!(b->suffix = dupn(s, b->suffix_len))) return SL_ENOMEM;
    }

    /* vocabulary: all keys copied into one arena, so token pointers stay valid */
    size_t nv = json_object_size(vocab), total = 0;
    const char *key;
    json_t *val;
    int64_t max_id = -1;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) > INT32_MAX - 1)
            return sl__errf(err, errlen, SL_EFORMAT, "model BPE: vocab id of \"%.64s\" is not a valid id", key);
        if (json_integer_value(val) > max_id) max_id = json_integer_value(val);
        total += strlen(key) + 1;
    }
    /* ids index a dense table: refuse absurdly sparse ones instead of allocating gigabytes */
    if (max_id >= 0 && (uint64_t)max_id > 4 * (uint64_t)nv + (1u << 20))
        return sl__errf(err, errlen, SL_EFORMAT, "model BPE: vocab ids too sparse (max %lld for %zu tokens)",
                        (long long)max_id, nv);
    t->n_model_ids = (int32_t)(max_id + 1);
    if (!(t->vocab_arena = malloc(total ? total : 1))) return SL_ENOMEM;
    if (!(t->id_to_tok = calloc(t->n_model_ids ? (size_t)t->n_model_ids : 1, sizeof *t->id_to_tok))) return SL_ENOMEM;
    if (!(t->tok_len = calloc(t->n_model_ids ? (size_t)t->n_model_ids : 1, sizeof *t->tok_len))) return SL_ENOMEM;
    if ((rc = sl__strmap_init(&b->vocab, nv))) return rc;
    char *w = t->vocab_arena;
    json_object_foreach(vocab, key, val) {
        size_t l = strlen(key);
        memcpy(w, key, l + 1);
        int32_t id = (int32_t)json_integer_value(val);
        if ((rc = sl__strmap_put(&b->vocab, w, l, id)) < 0) return rc;
        t->id_to_tok[id] = w;
        t->tok_len[id] = (uint32_t)l;
        w += l + 1;
    }
    if (b->byte_fallback) {
        for (int i = 0; i < 256; i++) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", i);
            b->byte_ids[i] = sl__strmap_get(&b->vocab, name, 6);
        }
    }
    if ((s = jstr(m, "unk_token"))) {
        b->has_unk = 1;
        if (!(b->unk_token = dupn(s, strlen(s)))) return SL_ENOMEM;
        b->unk_id = sl__strmap_get(&b->vocab, s, strlen(s));
    }

    /* merges: ["a b", ...] (older files) or [["a", "b"], ...] */
    size_t nm = json_is_array(merges) ? json_array_size(merges) : 0;
    if (merges && !json_is_array(merges) && !json_is_null(merges))
        return sl__errf(err, errlen, SL_EFORMAT, "model BPE: \"merges\" must be an array");
    if ((rc = sl__pairmap_init(&b->merges, nm))) return rc;
    int32_t *pairs = malloc((nm ? nm : 1) * 2 * sizeof *pairs);
    if (!pairs) return SL_ENOMEM;
    char *buf = NULL;
    size_t bufcap = 0;
    for (size_t r = 0; r < nm; r++) {
        json_t *e = json_array_get(merges, r);
        const char *a, *c;
        size_t al, cl;
        char *split = NULL;
        if (json_is_string(e)) {
            const char *line = json_string_value(e);
            split = strchr(line, ' ');
            if (!split || strchr(split + 1, ' ')) {
                free(buf);
                free(pairs);
                return sl__errf(err, errlen, SL_EFORMAT, "model BPE: merge %zu \"%.64s\" is not two tokens", r + 1, line);
            }
            a = line;
            al = (size_t)(split - line);
            c = split + 1;
            cl = strlen(c);
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) {
            a = json_string_value(json_array_get(e, 0));
            al = json_string_length(json_array_get(e, 0));
            c = json_string_value(json_array_get(e, 1));
            cl = json_string_length(json_array_get(e, 1));
        } else {
            free(buf);
                free(pairs);
            return sl__errf(err, errlen, SL_EFORMAT, "model BPE: merge %zu is not a pair of strings", r + 1);
        }
        int32_t ia = sl__strmap_get(&b->vocab, a, al), ic = sl__strmap_get(&b->vocab, c, cl);
        if (ia < 0 || ic < 0) {
            free(buf);
                free(pairs);
            return sl__errf(err, errlen, SL_EFORMAT, "model BPE: merge %zu names unknown token \"%.*s\"", r + 1,
                            (int)(ia < 0 ? (al > 64 ? 64 : al) : (cl > 64 ? 64 : cl)), ia < 0 ? a : c);
        }
        size_t skip = b->prefix_len;
        if (cl < skip || (skip && memcmp(c, b->prefix, skip) != 0)) skip = 0;
        if (al + cl + 1 > bufcap) {
            bufcap = (al + cl + 1) * 2;
            char *nb = realloc(buf, bufcap);
            if (!nb) {
                free(buf);
                free(pairs);
                return SL_ENOMEM;
            }
            buf = nb;
        }
        memcpy(buf, a, al);
        memcpy(buf + al, c + skip, cl - skip);
        int32_t inew = sl__strmap_get(&b->vocab, buf, al + cl - skip);
        if (inew < 0) {
            rc = sl__errf(err, errlen, SL_EFORMAT, "model BPE: merge %zu result \"%.*s\" is not in the vocabulary",
                          r + 1, (int)((al + cl - skip) > 64 ? 64 : al + cl - skip), buf);
            free(buf);
                free(pairs);
            return rc;
        }
        if ((rc = sl__pairmap_put(&b->merges, ia, ic, (int32_t)r, inew)) < 0) {
            free(buf);
            free(pairs);
            return rc;
        }
        pairs[2 * r] = ia;
        pairs[2 * r + 1] = ic;
    }
    free(buf);
    rc = sl__bpe_build_cross(b, t->id_to_tok, t->n_model_ids, pairs, nm);
    free(pairs);
    return rc;
}

/* ------------------------------------------------------------------ added tokens */

static int parse_added(sl_tokenizer *t, json_t *arr, char *err, size_t errlen) {
    int rc;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (arr && !json_is_null(arr) && !json_is_array(arr))
        return sl__errf(err, errlen, SL_EFORMAT, "added_tokens must be an array");
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added) return SL_ENOMEM;
    if ((rc = sl__strmap_init(&t->added_map, n))) return rc;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i), *id = json_object_get(e, "id"), *c = json_object_get(e, "content");
        if (!json_is_string(c) || !json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) > INT32_MAX - 1)
            return sl__errf(err, errlen, SL_EFORMAT, "added_tokens[%zu]: needs \"id\" and \"content\"", i);
        if (json_string_length(c) == 0) continue; /* the library ignores empty tokens */
        size_t ai = t->n_added;
        sl__added *a = &t->added[ai];
        a->len = json_string_length(c);
        if (!(a->content = dupn(json_string_value(c), a->len))) return SL_ENOMEM;
        t->n_added++; /* counted now, so an error below still frees content with the tokenizer */
        if (memchr(a->content, 0, a->len)) return sl__errf(err, errlen, SL_EFORMAT, "added_tokens[%zu]: NUL in content", i);
        a->special = jbool(e, "special", 0);
        a->single_word = jbool(e, "single_word", 0);
        a->lstrip = jbool(e, "lstrip", 0);
        a->rstrip = jbool(e, "rstrip", 0);
        a->normalized = jbool(e, "normalized", !a->special);
        /* the library keeps the model's id when the content is already in the vocabulary */
        int32_t mid = sl__strmap_get(&t->bpe.vocab, a->content, a->len);
        a->id = mid >= 0 ? mid : (int32_t)json_integer_value(id);
        /* ids index dense tables, as the vocabulary's */
        if ((uint64_t)a->id > 4 * ((uint64_t)t->n_model_ids + n) + (1u << 20))
            return sl__errf(err, errlen, SL_EFORMAT, "added_tokens[%zu]: id %d is far past the vocabulary", i,
                            (int)a->id);
        if ((rc = sl__strmap_put(&t->added_map, a->content, a->len, (int32_t)ai)) < 0) return rc;
    }
    return 0;
}

static int build_added(sl_tokenizer *t, char *err, size_t errlen) {
    int rc;
    sl__scratch sc = {0};
    sl_buf nb = {0};
    int32_t vs = t->n_model_ids;
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].id + 1 > vs) vs = t->added[i].id + 1;
    t->vocab_size = vs;
    t->added_by_id = malloc((vs ? (size_t)vs : 1) * sizeof *t->added_by_id);
    if (!t->added_by_id) return SL_ENOMEM;
    for (int32_t i = 0; i < vs; i++) t->added_by_id[i] = -1;
    if ((rc = sl__trie_init(&t->trie_raw)) || (rc = sl__trie_init(&t->trie_norm))) return rc;
    /* special tokens first, as the library orders its matchers */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < t->n_added; i++) {
            sl__added *a = &t->added[i];
            if (a->special != (pass == 0)) continue;
            if (t->added_by_id[a->id] < 0) t->added_by_id[a->id] = (int32_t)i;
            if (!a->normalized) {
                rc = sl__trie_add(&t->trie_raw, a->content, a->len, (int32_t)i);
            } else {
                const char *s = a->content;
                size_t l = a->len;
                if (t->norm) {
                    if ((rc = sl__norm_apply(t->norm, &sc, a->content, a->len, &nb, err, errlen))) break;
                    s = nb.p ? nb.p : "";
                    l = nb.len;
                    if (!(a->norm_content = dupn(s, l))) { rc = SL_ENOMEM; break; }
                    a->norm_len = l;
                }
                rc = l ? sl__trie_add(&t->trie_norm, s, l, (int32_t)i) : 0;
            }
            if (rc) break;
        }
        if (rc) break;
    }
    for (size_t i = 0; !rc && i < t->n_added; i++) {
        sl__added *a = &t->added[i];
        int32_t k = a->norm_content ? sl__strmap_get(&t->added_map, a->norm_content, a->norm_len)
                                    : (int32_t)i;
        a->skip_on_decode = k >= 0 && t->added[k].special;
    }
    sl_buf_free(&nb);
    sl__scratch_free(&sc);
    return rc;
}

/* ------------------------------------------------------------------ load / free */

static const char *tok_str(const sl_tokenizer *t, int32_t id, size_t *len);

void sl_tokenizer_free(sl_tokenizer *t) {
    if (!t) return;
    sl__bpe_free(&t->bpe);
    free(t->id_to_tok);
    free(t->tok_len);
    free(t->vocab_arena);
    for (size_t i = 0; i < t->n_added; i++) {
        free(t->added[i].content);
        free(t->added[i].norm_content);
    }
    free(t->added);
    sl__strmap_free(&t->added_map);
    free(t->added_by_id);
    sl__trie_free(&t->trie_raw);
    sl__trie_free(&t->trie_norm);
    if (t->norm) { sl__norm_free(t->norm); free(t->norm); }
    if (t->pretok) { sl__pretok_free(t->pretok); free(t->pretok); }
    for (size_t i = 0; i < t->n_dec; i++) sl__dec_free(&t->dec[i]);
    free(t->dec);
    free(t->post.prefix);
    free(t->post.suffix);
    free(t);
}

int sl_tokenizer_load_buffer(sl_tokenizer **out, const char *json, size_t len, char *err,
                             size_t errlen) {
    json_error_t je;
    int rc;
    *out = NULL;
    if (!json) return sl__errf(err, errlen, SL_EINVAL, "tokenizer: no JSON given");
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) return sl__errf(err, errlen, SL_EFORMAT, "tokenizer.json: line %d: %s", je.line, je.text);
    sl_tokenizer *t = calloc(1, sizeof *t);
    if (!t) { json_decref(root); return SL_ENOMEM; }
    t->bos_id = -1;
    if (!json_is_object(root)) {
        rc = sl__errf(err, errlen, SL_EFORMAT, "tokenizer.json: not a JSON object");
        goto fail;
    }
    /* truncation/padding are the caller's business: a server enforces its own limits */
    if ((rc = parse_model(t, json_object_get(root, "model"), err, errlen))) goto fail;
    json_t *j = json_object_get(root, "normalizer");
    if (j && !json_is_null(j)) {
        if (!(t->norm = calloc(1, sizeof *t->norm))) { rc = SL_ENOMEM; goto fail; }
        if ((rc = parse_norm(j, t->norm, 0, err, errlen))) goto fail;
    }
    j = json_object_get(root, "pre_tokenizer");
    if (j && !json_is_null(j)) {
        if (!(t->pretok = calloc(1, sizeof *t->pretok))) { rc = SL_ENOMEM; goto fail; }
        if ((rc = parse_pretok(j, t->pretok, 0, err, errlen))) goto fail;
    }
    j = json_object_get(root, "decoder");
    if (j && !json_is_null(j)) {
        if ((rc = parse_dec(t, j, 0, err, errlen))) goto fail;
    } else {
        sl__dec *d;
        if ((rc = dec_push(t, &d))) goto fail;
        d->kind = SL__DEC_NONE_JOIN;
    }
    j = json_object_get(root, "post_processor");
    if (j && !json_is_null(j) && (rc = parse_post(t, j, 0, err, errlen))) goto fail;
    if ((rc = parse_added(t, json_object_get(root, "added_tokens"), err, errlen))) goto fail;
    if ((rc = build_added(t, err, errlen))) goto fail;
    for (size_t i = 0; i < t->post.n_prefix + t->post.n_suffix; i++) {
        int32_t id = i < t->post.n_prefix ? t->post.prefix[i] : t->post.suffix[i - t->post.n_prefix];
        size_t l;
        if (!tok_str(t, id, &l)) {
            rc = sl__errf(err, errlen, SL_EFORMAT, "post_processor: special id %d is not in the vocabulary", (int)id);
            goto fail;
        }
    }
    t->bos_id = t->post.n_prefix ? t->post.prefix[0] : -1;
    json_decref(root);
    *out = t;
    return 0;
fail:
    if (rc == SL_ENOMEM) sl__errf(err, errlen, SL_ENOMEM, "tokenizer: out of memory");
    json_decref(root);
    sl_tokenizer_free(t);
    return rc;
}

int sl_tokenizer_load(sl_tokenizer **out, const char *path, char *err, size_t errlen) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return sl__errf(err, errlen, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
    sl_buf b = {0};
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_JSON_BYTES) { rc = sl__errf(err, errlen, SL_ETOOBIG, "%s: larger than 1 GiB", path); break; }
        if ((rc = sl_buf_put(&b, chunk, n))) break;
    }
    if (!rc && ferror(f)) rc = sl__errf(err, errlen, SL_EIO, "%s: read error", path);
    fclose(f);
    if (!rc) {
        rc = sl_tokenizer_load_buffer(out, b.p ? b.p : "", b.len, err, errlen);
        if (rc && err && errlen) { /* prefix the path for context */
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s: %s", path, err);
            snprintf(err, errlen, "%s", tmp);
        }
    }
    sl_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------ lookups */

int32_t sl_tokenizer_vocab_size(const sl_tokenizer *t) { return t->vocab_size; }

int32_t sl_tokenizer_token_to_id(const sl_tokenizer *t, const char *token) {
    if (!token) return -1;
    size_t l = strlen(token);
    int32_t a = sl__strmap_get(&t->added_map, token, l);
    if (a >= 0) return t->added[a].id;
    return sl__strmap_get(&t->bpe.vocab, token, l);
}

static const char *tok_str(const sl_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->vocab_size) return NULL;
    int32_t a = t->added_by_id[id];
    if (a >= 0) {
        const sl__added *ad = &t->added[a];
        *len = ad->norm_content ? ad->norm_len : ad->len;
        return ad->norm_content ? ad->norm_content : ad->content;
    }
    if (id < t->n_model_ids && t->id_to_tok[id]) { *len = t->tok_len[id]; return t->id_to_tok[id]; }
    return NULL;
}

/* As the library's id_to_token: an added token's own content (what token_to_id finds), not
 * the normalized form that decoding uses (fuzzer finding tokenizer_load-2). */
const char *sl_tokenizer_id_to_token(const sl_tokenizer *t, int32_t id) {
    if (id >= 0 && id < t->vocab_size && t->added_by_id[id] >= 0) return t->added[t->added_by_id[id]].content;
    size_t l;
    return tok_str(t, id, &l);
}

int sl_tokenizer_is_special(const sl_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->vocab_size) return 0;
    int32_t a = t->added_by_id[id];
    return a >= 0 && t->added[a].special;
}

int32_t sl_tokenizer_bos_id(const sl_tokenizer *t) { return t->bos_id; }

int sl_tokenizer_token_bytes(const sl_tokenizer *t, int32_t id, int first, sl_buf *out) {
    size_t l;
    const char *s = tok_str(t, id, &l);
    if (!s) return SL_ERANGE;
    return sl__token_bytes(t, s, l, first, out);
}

/* skip_special_tokens as the library applies it (see sl__added.skip_on_decode) */
static int skip_on_decode(const sl_tokenizer *t, int32_t id) {
    int32_t a = t->added_by_id[id];
    return a >= 0 && t->added[a].skip_on_decode;
}

/* ------------------------------------------------------------------ encode */

typedef struct enc {
    const sl_tokenizer *t;
    sl__scratch sc;
    sl__bpe_scratch bs;
    sl__pieces ps;
    sl_buf norm;
    int32_t *ids;
    size_t n, cap;
    int seg_first; /* the current raw segment starts at offset 0 of the input */
    char *err;
    size_t errlen;
    /* Word cache for this call (the library keeps one too): natural text repeats its
     * pre-tokens, so most pieces of a long input skip the merge loop. Keys live in blocks
     * that never move; values index cache_ent, whose ids are in cache_ids. */
    sl__strmap cache;
    struct cache_blk *blocks;
    struct { uint32_t off, len; } *cache_ent;
    size_t n_ent, cap_ent;
    int32_t *cache_ids;
    size_t n_cids, cap_cids;
} enc;

/* Every part of the cache starts small and doubles (the blocks up to CACHE_BLOCK): most
 * inputs are short prompts, and a fixed 600 KB per call cost more than the cache saved. */
#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES 65536
#define CACHE_FIRST_BLOCK 1024
#define CACHE_BLOCK 65536

struct cache_blk {
    struct cache_blk *next;
    size_t used, cap;
    char data[];
};

static void enc_cache_free(enc *e) {
    sl__strmap_free(&e->cache);
    while (e->blocks) {
        struct cache_blk *b = e->blocks;
        e->blocks = b->next;
        free(b);
    }
    free(e->cache_ent);
    free(e->cache_ids);
}

/* Remembers that the piece w tokenizes to ids[from..e->n). Failure to cache is harmless. */
static void enc_cache_put(enc *e, const char *w, size_t n, size_t from) {
    size_t k = e->n - from;
    if (e->n_ent >= CACHE_MAX_ENTRIES) return;
    if (!e->cache.slots && sl__strmap_init(&e->cache, 32)) return;
    if (e->n_ent == e->cap_ent) {
        size_t c = e->cap_ent ? e->cap_ent * 2 : 32;
        void *v = realloc(e->cache_ent, c * sizeof *e->cache_ent);
        if (!v) return;
        e->cache_ent = v;
        e->cap_ent = c;
    }
    if (!e->blocks || e->blocks->used + n > e->blocks->cap) {
        size_t cap = e->blocks ? e->blocks->cap * 2 : CACHE_FIRST_BLOCK;
        if (cap > CACHE_BLOCK) cap = CACHE_BLOCK; /* n <= CACHE_MAX_WORD < CACHE_FIRST_BLOCK */
        struct cache_blk *b = malloc(sizeof *b + cap);
        if (!b) return;
        b->next = e->blocks;
        b->used = 0;
        b->cap = cap;
        e->blocks = b;
    }
    if (e->n_cids + k > e->cap_cids) {
        size_t c = e->cap_cids ? e->cap_cids * 2 : 64;
        while (c < e->n_cids + k) c *= 2;
        int32_t *v = realloc(e->cache_ids, c * sizeof *v);
        if (!v) return;
        e->cache_ids = v;
        e->cap_cids = c;
    }
    char *key = e->blocks->data + e->blocks->used;
    memcpy(key, w, n);
    if (sl__strmap_put(&e->cache, key, n, (int32_t)e->n_ent) != 0) return;
    e->blocks->used += n;
    if (k) memcpy(e->cache_ids + e->n_cids, e->ids + from, k * sizeof *e->ids);
    e->cache_ent[e->n_ent].off = (uint32_t)e->n_cids;
    e->cache_ent[e->n_ent].len = (uint32_t)k;
    e->n_ent++;
    e->n_cids += k;
}

static int enc_push(enc *e, int32_t id) {
    if (e->n == e->cap) {
        size_t c = e->cap ? e->cap * 2 : 256;
        int32_t *v = realloc(e->ids, c * sizeof *v);
        if (!v) return SL_ENOMEM;
        e->ids = v;
        e->cap = c;
    }
    e->ids[e->n++] = id;
    return 0;
}

/* Pre-tokenizes and runs the model on one piece of normalized text. */
static int enc_text(enc *e, const char *s, size_t n, int first) {
    int rc;
    if (n == 0) return 0;
    e->ps.arena.len = 0;
    e->ps.n = 0;
    if ((rc = sl_buf_put(&e->ps.arena, s, n))) return rc;
    if ((rc = sl__pieces_push(&e->ps, 0, n, first))) return rc;
    if (e->t->pretok && (rc = sl__pretok_apply(e->t->pretok, &e->sc, &e->ps, e->err, e->errlen))) return rc;
    for (size_t i = 0; i < e->ps.n; i++) {
        sl__piece pc = e->ps.v[i];
        const char *w = e->ps.arena.p + pc.off;
        int cacheable = pc.len <= CACHE_MAX_WORD;
        if (cacheable && e->n_ent) {
            int32_t hit = sl__strmap_get(&e->cache, w, pc.len);
            if (hit >= 0) {
                for (uint32_t k = 0; k < e->cache_ent[hit].len; k++)
                    if ((rc = enc_push(e, e->cache_ids[e->cache_ent[hit].off + k]))) return rc;
                continue;
            }
        }
        size_t from = e->n;
        if ((rc = sl__bpe_tokenize(&e->t->bpe, &e->bs, w, pc.len, &e->ids, &e->n, &e->cap, e->err, e->errlen)))
            return rc;
        if (cacheable) enc_cache_put(e, w, pc.len, from);
    }
    return 0;
}

static int ends_with_word(const char *s, size_t n) {
    if (!n) return 0;
    size_t q = n - 1;
    while (q > 0 && ((unsigned char)s[q] & 0xC0) == 0x80) q--;
    int32_t cp;
    sl__utf8_next(s + q, n - q, &cp);
    return sl__is_word(cp);
}

static int starts_with_word(const char *s, size_t n) {
    if (!n) return 0;
    int32_t cp;
    sl__utf8_next(s, n, &cp);
    return sl__is_word(cp);
}

/* AddedVocabulary::find_matches: leftmost-longest matches of added tokens, honouring
 * single_word, lstrip and rstrip; calls back with text spans and token ids in order. */
typedef int (*seg_fn)(enc *e, const char *s, size_t n, int32_t added, size_t at);

static int split_added(enc *e, const sl__trie *trie, const char *s, size_t n, seg_fn fn) {
    int rc;
    size_t start_off = 0, pos = 0;
    if (trie->n <= 1) return n ? fn(e, s, n, -1, 0) : 0;
    while (pos < n) {
        size_t i = pos, mlen = 0;
        int32_t hit = -1;
        for (; i < n; i++) {
            if (trie->root[(unsigned char)s[i]] < 0) continue;
            if ((hit = sl__trie_longest(trie, s + i, n - i, &mlen)) >= 0) break;
        }
        if (hit < 0) break;
        size_t start = i, stop = i + mlen;
        pos = stop;
        const sl__added *a = &e->t->added[hit];
        if (a->single_word) {
            int sp_start = start == 0 || !ends_with_word(s, start);
            int sp_stop = stop == n || !starts_with_word(s + stop, n - stop);
            if (!sp_start || !sp_stop) continue;
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t q = ns - 1;
                while (q > 0 && ((unsigned char)s[q] & 0xC0) == 0x80) q--;
                int32_t cp;
                sl__utf8_next(s + q, ns - q, &cp);
                if (!sl__is_whitespace(cp)) break;
                ns = q;
            }
            start = ns > start_off ? ns : start_off;
        }
        if (a->rstrip) {
            while (stop < n) {
                int32_t cp;
                size_t l = sl__utf8_next(s + stop, n - stop, &cp);
                if (!sl__is_whitespace(cp)) break;
                stop += l;
            }
        }
        if (start_off < start && (rc = fn(e, s + start_off, start - start_off, -1, start_off))) return rc;
        if ((rc = fn(e, s + start, stop - start, a->id, start))) return rc;
        start_off = stop;
    }
    if (start_off < n) return fn(e, s + start_off, n - start_off, -1, start_off);
    return 0;
}

/* Pieces of normalized text, after the normalized added tokens are split out. */
static int on_norm_seg(enc *e, const char *s, size_t n, int32_t added, size_t at) {
    if (added >= 0) return enc_push(e, added);
    return enc_text(e, s, n, e->seg_first && at == 0);
}

/* Pieces of the raw input, after the non-normalized added tokens are split out: each is
 * normalized on its own (as the library does), then split on normalized added tokens. */
static int on_raw_seg(enc *e, const char *s, size_t n, int32_t added, size_t at) {
    int rc;
    if (added >= 0) return enc_push(e, added);
    if (e->t->norm) {
        if ((rc = sl__norm_apply(e->t->norm, &e->sc, s, n, &e->norm, e->err, e->errlen))) return rc;
        s = e->norm.p ? e->norm.p : "";
        n = e->norm.len;
    }
    e->seg_first = at == 0;
    /* e->norm is not touched again until the next raw segment */
    return split_added(e, &e->t->trie_norm, s, n, on_norm_seg);
}

int sl_tokenizer_encode(const sl_tokenizer *t, const char *text, size_t len, int add_special,
                        int32_t **ids, size_t *n_ids, char *err, size_t errlen) {
    int rc;
    *ids = NULL;
    *n_ids = 0;
    if (!t || (!text && len)) return sl__errf(err, errlen, SL_EINVAL, "tokenizer encode: bad arguments");
    enc e = {.t = t, .err = err, .errlen = errlen};
    sl_buf clean = {0};
    const char *s = text ? text : "";
    /* invalid UTF-8 is replaced by U+FFFD, as String::from_utf8_lossy would */
    if (!sl__utf8_valid(s, len)) {
        if ((rc = sl__utf8_lossy(&clean, s, len))) goto out;
        s = clean.p;
        len = clean.len;
    }
    if (add_special)
        for (size_t i = 0; i < t->post.n_prefix; i++)
            if ((rc = enc_push(&e, t->post.prefix[i]))) goto out;
    if ((rc = split_added(&e, &t->trie_raw, s, len, on_raw_seg))) goto out;
    if (add_special)
        for (size_t i = 0; i < t->post.n_suffix; i++)
            if ((rc = enc_push(&e, t->post.suffix[i]))) goto out;
    if (!e.ids && !(e.ids = malloc(sizeof *e.ids))) { rc = SL_ENOMEM; goto out; }
    *ids = e.ids;
    *n_ids = e.n;
    e.ids = NULL;
out:
    if (rc == SL_ENOMEM) sl__errf(err, errlen, SL_ENOMEM, "tokenizer encode: out of memory");
    free(e.ids);
    sl_buf_free(&clean);
    sl_buf_free(&e.norm);
    sl__pieces_free(&e.ps);
    sl__scratch_free(&e.sc);
    sl__bpe_scratch_free(&e.bs);
    enc_cache_free(&e);
    return rc;
}

/* ------------------------------------------------------------------ decode */

int sl_tokenizer_decode(const sl_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                        char **text, size_t *len, char *err, size_t errlen) {
    *text = NULL;
    if (len) *len = 0;
    if (!t || (!ids && n)) return sl__errf(err, errlen, SL_EINVAL, "tokenizer decode: bad arguments");
    size_t tl;
    for (size_t i = 0; i < n; i++)
        if (!tok_str(t, ids[i], &tl))
            return sl__errf(err, errlen, SL_ERANGE, "tokenizer decode: id %d at %zu is not in the vocabulary",
                            (int)ids[i], i);
    sl__decstream *ds;
    sl_buf out = {0};
    int rc = sl__decstream_init(&ds, t);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        if (skip_special && skip_on_decode(t, ids[i])) continue;
        const char *s = tok_str(t, ids[i], &tl);
        rc = sl__decstream_push(ds, s, tl, &out);
    }
    if (!rc) rc = sl__decstream_finish(ds, &out);
    if (!rc) rc = sl_buf_put(&out, "", 0); /* ensures a NUL-terminated buffer */
    sl__decstream_free(ds);
    if (rc) {
        sl_buf_free(&out);
        return rc == SL_ENOMEM ? sl__errf(err, errlen, rc, "tokenizer decode: out of memory") : rc;
    }
    *text = out.p;
    if (len) *len = out.len;
    return 0;
}

struct sl_detok {
    const sl_tokenizer *t;
    int skip;
    sl__decstream *ds;
    sl_buf out;
};

int sl_detok_init(sl_detok **out, const sl_tokenizer *t, int skip_special) {
    *out = NULL;
    if (!t) return SL_EINVAL;
    sl_detok *d = calloc(1, sizeof *d);
    if (!d) return SL_ENOMEM;
    d->t = t;
    d->skip = skip_special;
    int rc = sl__decstream_init(&d->ds, t);
    if (!rc) rc = sl_buf_reserve(&d->out, 64);
    if (rc) {
        sl_detok_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int sl_detok_feed(sl_detok *d, int32_t id, const char **delta, size_t *delta_len) {
    size_t tl;
    d->out.len = 0;
    d->out.p[0] = 0;
    *delta = d->out.p;
    *delta_len = 0;
    const char *s = tok_str(d->t, id, &tl);
    if (!s) return SL_ERANGE;
    if (d->skip && skip_on_decode(d->t, id)) return 0;
    int rc = sl__decstream_push(d->ds, s, tl, &d->out);
    *delta = d->out.p;
    *delta_len = d->out.len;
    return rc;
}

int sl_detok_flush(sl_detok *d, const char **delta, size_t *delta_len) {
    d->out.len = 0;
    d->out.p[0] = 0;
    int rc = sl__decstream_finish(d->ds, &d->out);
    *delta = d->out.p;
    *delta_len = d->out.len;
    return rc;
}

void sl_detok_free(sl_detok *d) {
    if (!d) return;
    sl__decstream_free(d->ds);
    sl_buf_free(&d->out);
    free(d);
}
