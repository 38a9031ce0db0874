/* tokenizer_decode.c — the decoder chain as a stream.
 *
 * The library decodes a whole list of token strings at once. We run the same chain one
 * token at a time: each stage receives either separate items (token strings) or, after a
 * stage that joins (Fuse, ByteLevel), chunks of one growing text, and holds back exactly
 * what a later token could still change (an incomplete UTF-8 tail, a run of <0xNN> bytes,
 * a partial Replace match, trailing Strip characters). A full decode is "push every token,
 * then finish", so full and incremental decoding are one code path and always agree. */
#include "tokenizer_internal.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

typedef struct stage {
    const sl__dec *d;
    int text_in;      /* input is chunks of one text (a joining stage came before) */
    size_t count;     /* items seen */
    size_t start_left; /* Strip in text mode: leading chars still to examine */
    int passthrough;  /* ByteFallback in text mode: text can no longer be one byte token */
    sl_buf hold;     /* held-back input */
    sl_buf tmp;      /* output scratch of push, reused across tokens */
    sl__scratch sc;   /* Replace's pattern matching state, reused across tokens */
} stage;

struct sl__decstream {
    stage *st;
    size_t n;
    sl_buf tmp;
};

static const char FFFD[] = "\xEF\xBF\xBD";

int sl__decstream_init(sl__decstream **out, const sl_tokenizer *tok) {
    sl__decstream *d = calloc(1, sizeof *d);
    if (!d) return SL_ENOMEM;
    d->n = tok->n_dec;
    d->st = calloc(d->n ? d->n : 1, sizeof *d->st);
    if (!d->st) {
        free(d);
        return SL_ENOMEM;
    }
    int text = 0;
    for (size_t i = 0; i < d->n; i++) {
        d->st[i].d = &tok->dec[i];
        d->st[i].text_in = text;
        d->st[i].start_left = tok->dec[i].start;
        enum sl__dec_kind k = tok->dec[i].kind;
        if (k == SL__DEC_FUSE || k == SL__DEC_BYTELEVEL || k == SL__DEC_NONE_JOIN) text = 1;
    }
    *out = d;
    return 0;
}

void sl__decstream_free(sl__decstream *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        sl_buf_free(&d->st[i].hold);
        sl_buf_free(&d->st[i].tmp);
        sl__scratch_free(&d->st[i].sc);
    }
    free(d->st);
    sl_buf_free(&d->tmp);
    free(d);
}

static int push(sl__decstream *d, size_t k, const char *s, size_t n, sl_buf *out);

/* Replace of a whole string with a literal or regex pattern, with the stage's scratch SC
 * (kept across tokens: PCRE2's match data and frames cost more to make than one match). */
static int replace_all(const sl__dec *dc, sl__scratch *sc, const char *s, size_t n, sl_buf *dst) {
    sc->spans.n = 0;
    int rc = sl__pattern_find(&dc->pat, sc, s, n, &sc->spans, NULL, 0);
    for (size_t k = 0; !rc && k < sc->spans.n; k++) {
        sl__span sp = sc->spans.v[k];
        rc = sp.is_match ? sl_buf_put(dst, dc->content, dc->content_len)
                         : sl_buf_put(dst, s + sp.start, sp.end - sp.start);
    }
    return rc;
}

static int metaspace_map(const sl__dec *dc, int first, const char *s, size_t n, sl_buf *dst) {
    int rc = sl_buf_reserve(dst, n);
    if (rc) return rc;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = sl__utf8_next(s + i, n - i, &cp);
        if (cp == dc->ch) {
            if (!(first && dc->prepend != SL__PREPEND_NEVER) && (rc = sl_buf_put(dst, " ", 1)))
                return rc;
        } else if ((rc = sl_buf_put(dst, s + i, l))) {
            return rc;
        }
        i += l;
    }
    return 0;
}

/* Strip of one whole item: up to `start` leading and `stop` trailing content chars. */
static int strip_item(const sl__dec *dc, const char *s, size_t n, sl_buf *dst) {
    size_t a = 0, b = n;
    for (size_t i = 0; i < dc->start && a < b; i++) {
        int32_t cp;
        size_t l = sl__utf8_next(s + a, b - a, &cp);
        if (cp != dc->ch) break;
        a += l;
    }
    for (size_t i = 0; i < dc->stop && b > a; i++) {
        size_t q = b - 1;
        while (q > a && ((unsigned char)s[q] & 0xC0) == 0x80) q--;
        int32_t cp;
        sl__utf8_next(s + q, b - q, &cp);
        if (cp != dc->ch) break;
        b = q;
    }
    return sl_buf_put(dst, s + a, b - a);
}

/* "<0xNN>" -> byte, or -1 (Rust u8::from_str_radix accepts a leading '+'). */
static int byte_token(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int x;
        if (i == 3 && c == '+') continue;
        if (c >= '0' && c <= '9') x = c - '0';
        else if (c >= 'a' && c <= 'f') x = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') x = c - 'A' + 10;
        else return -1;
        v = v * 16 + x;
    }
    return s[3] == '+' && s[4] == '+' ? -1 : v;
}

/* Emits a finished run of byte-fallback bytes: the string if valid UTF-8, else one U+FFFD
 * item per byte (the library's rule). */
static int flush_bytes(sl__decstream *d, size_t k, sl_buf *out) {
    stage *st = &d->st[k];
    if (!st->hold.len) return 0;
    sl_buf run = st->hold;
    st->hold = (sl_buf){0};
    int rc = 0;
    if (sl__utf8_valid(run.p, run.len)) rc = push(d, k + 1, run.p, run.len, out);
    else
        for (size_t i = 0; i < run.len && !rc; i++) rc = push(d, k + 1, FFFD, 3, out);
    sl_buf_free(&run);
    return rc;
}

/* ByteLevel: token chars -> bytes (raw bytes if any char is outside the alphabet). */
static int bytelevel_bytes(const char *s, size_t n, sl_buf *dst) {
    size_t mark = dst->len;
    int rc = sl_buf_reserve(dst, n);
    if (rc) return rc;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = sl__utf8_next(s + i, n - i, &cp);
        int b = sl__char_to_byte(cp);
        if (b < 0) {
            dst->len = mark;
            return sl_buf_put(dst, s, n);
        }
        dst->p[dst->len++] = (char)b;
        i += l;
    }
    return 0;
}

/* Literal Replace over a growing text: emit all but a tail that could start a match. */
static int replace_stream(sl__decstream *d, size_t k, int final, sl_buf *out) {
    stage *st = &d->st[k];
    const sl__dec *dc = st->d;
    const char *s = st->hold.p;
    size_t n = st->hold.len, pl = dc->pat.str_len, i = 0, emit_from = 0;
    sl_buf o = {0};
    int rc = 0;
    while (pl && i + pl <= n) {
        const char *hit = memmem(s + i, n - i, dc->pat.str, pl);
        if (!hit) break;
        size_t at = (size_t)(hit - s);
        if ((rc = sl_buf_put(&o, s + emit_from, at - emit_from))) goto done;
        if ((rc = sl_buf_put(&o, dc->content, dc->content_len))) goto done;
        i = emit_from = at + pl;
    }
    size_t keep = 0;
    if (!final && pl > 1) {
        size_t maxk = n - emit_from < pl - 1 ? n - emit_from : pl - 1;
        for (size_t t = maxk; t > 0; t--)
            if (memcmp(s + n - t, dc->pat.str, t) == 0) { keep = t; break; }
    }
    if ((rc = sl_buf_put(&o, s + emit_from, n - emit_from - keep))) goto done;
    memmove(st->hold.p, s + n - keep, keep);
    st->hold.len = keep;
    if (o.len) rc = push(d, k + 1, o.p, o.len, out);
done:
    sl_buf_free(&o);
    return rc;
}

/* Feeds s to stage k (k == n: the output). */
static int push(sl__decstream *d, size_t k, const char *s, size_t n, sl_buf *out) {
    if (k == d->n) return sl_buf_put(out, s, n);
    stage *st = &d->st[k];
    const sl__dec *dc = st->d;
    sl_buf o = st->tmp; /* this stage's scratch: push never re-enters the same stage */
    o.len = 0;
    int rc = 0;
    if (!st->text_in) {
        size_t idx = st->count++;
        switch (dc->kind) {
        case SL__DEC_REPLACE:
            if (!(rc = replace_all(dc, &st->sc, s, n, &o))) rc = push(d, k + 1, o.p ? o.p : "", o.len, out);
            break;
        case SL__DEC_METASPACE:
            if (!(rc = metaspace_map(dc, idx == 0, s, n, &o))) rc = push(d, k + 1, o.p ? o.p : "", o.len, out);
            break;
        case SL__DEC_STRIP:
            if (!(rc = strip_item(dc, s, n, &o))) rc = push(d, k + 1, o.p ? o.p : "", o.len, out);
            break;
        case SL__DEC_BYTEFALLBACK: {
            int b = byte_token(s, n);
            if (b >= 0) {
                char c = (char)b;
                rc = sl_buf_put(&st->hold, &c, 1);
            } else if (!(rc = flush_bytes(d, k, out))) {
                rc = push(d, k + 1, s, n, out);
            }
            break;
        }
        case SL__DEC_FUSE:
            rc = push(d, k + 1, s, n, out);
            break;
        case SL__DEC_NONE_JOIN:
            if (idx > 0 && (rc = push(d, k + 1, " ", 1, out))) break;
            rc = push(d, k + 1, s, n, out);
            break;
        case SL__DEC_BYTELEVEL: {
            if ((rc = bytelevel_bytes(s, n, &st->hold))) break;
            size_t tail = sl__utf8_incomplete_tail(st->hold.p, st->hold.len);
            size_t ready = st->hold.len - tail;
            if ((rc = sl__utf8_lossy(&o, st->hold.p, ready))) break;
            memmove(st->hold.p, st->hold.p + ready, tail);
            st->hold.len = tail;
            if (o.len) rc = push(d, k + 1, o.p, o.len, out);
            break;
        }
        }
        st->tmp = o;
        return rc;
    }
    /* text mode: s continues one text */
    switch (dc->kind) {
    case SL__DEC_REPLACE:
        rc = sl_buf_put(&st->hold, s, n);
        if (!rc && dc->pat.kind == SL__PAT_STRING) rc = replace_stream(d, k, 0, out);
        break; /* a regex can match across chunks: the whole text waits for finish */
    case SL__DEC_METASPACE: /* the whole text is the library's token 0 */
        if (!(rc = metaspace_map(dc, 1, s, n, &o)) && o.len) rc = push(d, k + 1, o.p, o.len, out);
        break;
    case SL__DEC_STRIP: {
        size_t a = 0;
        while (st->start_left && a < n) {
            int32_t cp;
            size_t l = sl__utf8_next(s + a, n - a, &cp);
            if (cp != dc->ch) { st->start_left = 0; break; }
            a += l;
            st->start_left--;
        }
        if (a < n) st->start_left = 0;
        if ((rc = sl_buf_put(&st->hold, s + a, n - a))) break;
        /* hold back up to `stop` trailing content chars: they are stripped if nothing follows */
        size_t b = st->hold.len;
        for (size_t i = 0; i < dc->stop && b > 0; i++) {
            size_t q = b - 1;
            while (q > 0 && ((unsigned char)st->hold.p[q] & 0xC0) == 0x80) q--;
            int32_t cp;
            sl__utf8_next(st->hold.p + q, b - q, &cp);
            if (cp != dc->ch) break;
            b = q;
        }
        if (b && (rc = push(d, k + 1, st->hold.p, b, out))) break;
        memmove(st->hold.p, st->hold.p + b, st->hold.len - b);
        st->hold.len -= b;
        break;
    }
    case SL__DEC_BYTEFALLBACK: /* only a whole text of exactly "<0xNN>" is a byte */
        if (st->passthrough) { rc = push(d, k + 1, s, n, out); break; }
        if ((rc = sl_buf_put(&st->hold, s, n))) break;
        if (st->hold.len > 6) {
            st->passthrough = 1;
            rc = push(d, k + 1, st->hold.p, st->hold.len, out);
            st->hold.len = 0;
        }
        break;
    case SL__DEC_FUSE:
    case SL__DEC_NONE_JOIN:
        rc = push(d, k + 1, s, n, out);
        break;
    case SL__DEC_BYTELEVEL: /* chars of one token: raw or mapped depends on all of them */
        rc = sl_buf_put(&st->hold, s, n);
        break;
    }
    st->tmp = o;
    return rc;
}

/* Flushes stage k and everything after it. */
static int finish(sl__decstream *d, size_t k, sl_buf *out) {
    if (k == d->n) return 0;
    stage *st = &d->st[k];
    const sl__dec *dc = st->d;
    sl_buf o = {0};
    int rc = 0;
    if (!st->text_in) {
        if (dc->kind == SL__DEC_BYTEFALLBACK) rc = flush_bytes(d, k, out);
        else if (dc->kind == SL__DEC_BYTELEVEL && st->hold.len) {
            if (!(rc = sl__utf8_lossy(&o, st->hold.p, st->hold.len)))
                rc = push(d, k + 1, o.p, o.len, out);
            st->hold.len = 0;
        }
    } else {
        switch (dc->kind) {
        case SL__DEC_REPLACE:
            if (dc->pat.kind == SL__PAT_STRING) rc = replace_stream(d, k, 1, out);
            else if (st->hold.len && !(rc = replace_all(dc, &st->sc, st->hold.p, st->hold.len, &o)))
                rc = push(d, k + 1, o.p ? o.p : "", o.len, out);
            st->hold.len = 0;
            break;
        case SL__DEC_STRIP: /* what is still held is the stripped tail */
            st->hold.len = 0;
            break;
        case SL__DEC_BYTEFALLBACK:
            if (st->hold.len) {
                int b = byte_token(st->hold.p, st->hold.len);
                if (b < 0) rc = push(d, k + 1, st->hold.p, st->hold.len, out);
                else if (b < 0x80) {
                    char c = (char)b;
                    rc = push(d, k + 1, &c, 1, out);
                } else {
                    rc = push(d, k + 1, FFFD, 3, out);
                }
                st->hold.len = 0;
            }
            break;
        case SL__DEC_BYTELEVEL:
            if (st->hold.len) {
                sl_buf bytes = {0};
                rc = bytelevel_bytes(st->hold.p, st->hold.len, &bytes);
                if (!rc) rc = sl__utf8_lossy(&o, bytes.p, bytes.len);
                if (!rc) rc = push(d, k + 1, o.p, o.len, out);
                sl_buf_free(&bytes);
                st->hold.len = 0;
            }
            break;
        default:
            break;
        }
    }
    sl_buf_free(&o);
    if (rc) return rc;
    return finish(d, k + 1, out);
}

int sl__decstream_push(sl__decstream *d, const char *tok, size_t len, sl_buf *out) {
    return push(d, 0, tok, len, out);
}

int sl__decstream_finish(sl__decstream *d, sl_buf *out) {
    int rc = finish(d, 0, out);
    /* ready for a new text */
    for (size_t i = 0; i < d->n; i++) {
        d->st[i].count = 0;
        d->st[i].start_left = d->st[i].d->start;
        d->st[i].passthrough = 0;
        d->st[i].hold.len = 0;
    }
    return rc;
}

/* The raw bytes one token adds to a text (see sl_tokenizer_token_bytes): each decoder stage
 * applied to this one item as the stream would, but with no UTF-8 repair (a byte-level or
 * <0xNN> token that ends inside a character gives its raw bytes). A Replace whose pattern
 * could straddle two tokens is applied to the token alone. */
int sl__token_bytes(const sl_tokenizer *tok, const char *s, size_t n, int first, sl_buf *out) {
    sl_buf a = {0}, b = {0};
    sl__scratch sc;
    memset(&sc, 0, sizeof sc);
    int rc = sl_buf_put(&a, s, n), text = 0;
    for (size_t k = 0; k < tok->n_dec && !rc; k++) {
        const sl__dec *dc = &tok->dec[k];
        b.len = 0;
        switch (dc->kind) {
        case SL__DEC_REPLACE:
            rc = replace_all(dc, &sc, a.p ? a.p : "", a.len, &b);
            break;
        case SL__DEC_METASPACE:
            rc = metaspace_map(dc, text ? 1 : first, a.p ? a.p : "", a.len, &b);
            break;
        case SL__DEC_STRIP:
            if (!text) rc = strip_item(dc, a.p ? a.p : "", a.len, &b);
            else if (first) { /* the start of the text loses up to `start` content chars */
                size_t i = 0;
                for (size_t c = 0; c < dc->start && i < a.len; c++) {
                    int32_t cp;
                    size_t l = sl__utf8_next(a.p + i, a.len - i, &cp);
                    if (cp != dc->ch) break;
                    i += l;
                }
                rc = sl_buf_put(&b, a.p + i, a.len - i);
            } else rc = sl_buf_put(&b, a.p ? a.p : "", a.len);
            break;
        case SL__DEC_BYTEFALLBACK: {
            int v = text ? -1 : byte_token(a.p ? a.p : "", a.len);
            if (v >= 0) {
                char c = (char)v;
                rc = sl_buf_put(&b, &c, 1);
            } else rc = sl_buf_put(&b, a.p ? a.p : "", a.len);
            break;
        }
        case SL__DEC_FUSE:
            rc = sl_buf_put(&b, a.p ? a.p : "", a.len);
            text = 1;
            break;
        case SL__DEC_NONE_JOIN:
            if (!first) rc = sl_buf_put(&b, " ", 1);
            if (!rc) rc = sl_buf_put(&b, a.p ? a.p : "", a.len);
            text = 1;
            break;
        case SL__DEC_BYTELEVEL:
            rc = bytelevel_bytes(a.p ? a.p : "", a.len, &b);
            text = 1;
            break;
        }
        sl_buf t = a;
        a = b;
        b = t;
    }
    if (!rc) rc = sl_buf_put(out, a.p ? a.p : "", a.len);
    sl_buf_free(&a);
    sl_buf_free(&b);
    sl__scratch_free(&sc);
    return rc;
}
