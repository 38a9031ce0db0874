/* tokenizer_text.c — text machinery of the tokenizer: buffers, UTF-8, Unicode classes,
 * PCRE2 patterns, the library's split behaviours, normalizers and pre-tokenizers. */
#include "tokenizer_internal.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ------------------------------------------------------------------ UTF-8 */

size_t sl__utf8_next(const char *s, size_t n, int32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) { *cp = 0; return 0; }
    if (u[0] < 0x80) { *cp = u[0]; return 1; }
    if (u[0] < 0xE0 && n >= 2) { *cp = ((u[0] & 0x1F) << 6) | (u[1] & 0x3F); return 2; }
    if (u[0] < 0xF0 && n >= 3) {
        *cp = ((u[0] & 0x0F) << 12) | ((u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        return 3;
    }
    if (n >= 4) {
        *cp = ((u[0] & 0x07) << 18) | ((u[1] & 0x3F) << 12) | ((u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        return 4;
    }
    *cp = 0xFFFD; /* only reachable on invalid input; callers validate first */
    return n;
}

size_t sl__utf8_put(char *dst, int32_t cp) {
    unsigned char *d = (unsigned char *)dst;
    if (cp < 0x80) { d[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { d[0] = 0xC0 | (cp >> 6); d[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        d[0] = 0xE0 | (cp >> 12); d[1] = 0x80 | ((cp >> 6) & 0x3F); d[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    d[0] = 0xF0 | (cp >> 18); d[1] = 0x80 | ((cp >> 12) & 0x3F);
    d[2] = 0x80 | ((cp >> 6) & 0x3F); d[3] = 0x80 | (cp & 0x3F);
    return 4;
}

/* Checks the sequence at u[0..n): returns its length if it is a complete valid character,
 * or 0 with *valid_prefix = how many bytes form a valid (incomplete or broken) prefix. */
static size_t utf8_check(const unsigned char *u, size_t n, size_t *valid_prefix) {
    unsigned char b = u[0];
    size_t w;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) w = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        w = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        w = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        *valid_prefix = 1;
        return 0;
    }
    size_t k = 1;
    for (; k < w; k++) {
        if (k >= n) { *valid_prefix = k; return 0; }
        unsigned char c = u[k];
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (c < l || c > h) { *valid_prefix = k; return 0; }
    }
    return w;
}

int sl__utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, vp;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        size_t w = utf8_check(u + i, n - i, &vp);
        if (!w) return 0;
        i += w;
    }
    return 1;
}

int sl__utf8_lossy(sl_buf *out, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0, vp = 0;
    int rc = sl_buf_reserve(out, n);
    if (rc) return rc;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        size_t w = utf8_check(u + i, n - i, &vp);
        if (w) { i += w; continue; }
        if ((rc = sl_buf_put(out, s + run, i - run))) return rc;
        if ((rc = sl_buf_put(out, "\xEF\xBF\xBD", 3))) return rc;
        i += vp;
        run = i;
    }
    return sl_buf_put(out, s + run, n - run);
}

size_t sl__utf8_incomplete_tail(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t k = n < 3 ? n : 3;
    for (size_t back = 1; back <= k; back++) {
        size_t p = n - back;
        if ((u[p] & 0xC0) == 0x80) continue; /* continuation: keep looking for a lead */
        if (u[p] < 0xC2 || u[p] > 0xF4) return 0;
        size_t vp = 0;
        size_t w = utf8_check(u + p, back, &vp);
        if (w) return 0;               /* complete character */
        return vp == back ? back : 0;  /* incomplete but valid so far */
    }
    return 0;
}

/* ------------------------------------------------------------------ Unicode classes */

int sl__is_whitespace(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

int sl__is_numeric(int32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

int sl__is_word(int32_t c) {
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    if (c == 0x200C || c == 0x200D) return 1;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
        return 1;
    default:
        return 0;
    }
}

int sl__is_punct(int32_t c) {
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
               (c >= 0x7B && c <= 0x7E);
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

static int is_mark(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

/* ------------------------------------------------------------------ byte-level alphabet */

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100..
 * A constant table (not filled lazily) keeps the tokenizer thread-safe. */
static const uint16_t byte_cp_tab[256] = {
    256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267,
    268, 269, 270, 271, 272, 273, 274, 275, 276, 277, 278, 279,
    280, 281, 282, 283, 284, 285, 286, 287, 288, 33, 34, 35,
    36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
    48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
    60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71,
    72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83,
    84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
    96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107,
    108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
    120, 121, 122, 123, 124, 125, 126, 289, 290, 291, 292, 293,
    294, 295, 296, 297, 298, 299, 300, 301, 302, 303, 304, 305,
    306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317,
    318, 319, 320, 321, 322, 161, 162, 163, 164, 165, 166, 167,
    168, 169, 170, 171, 172, 323, 174, 175, 176, 177, 178, 179,
    180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191,
    192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203,
    204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215,
    216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 227,
    228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
    240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251,
    252, 253, 254, 255,
};

static int32_t byte_cp(int b) { return byte_cp_tab[b & 0xFF]; }

/* Inverse of the table above for U+0100..U+0143. */
static const uint8_t cp_byte_tab[68] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137,
    138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155,
    156, 157, 158, 159, 160, 173
};

int sl__byte_to_utf8(int b, char out[2]) {
    int32_t cp = byte_cp(b); /* < 0x144: one or two bytes */
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

int sl__char_to_byte(int32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return cp;
    if (cp >= 256 && cp < 256 + 68) return cp_byte_tab[cp - 256];
    return -1;
}

/* ------------------------------------------------------------------ regex */

int sl__regex_compile(sl__regex *re, const char *pattern, size_t len, const char *what,
                      char *err, size_t errlen) {
    int ec = 0;
    PCRE2_SIZE eo = 0;
    re->jit = 0;
    re->code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return sl__errf(err, errlen, SL_EFORMAT, "%s: bad regex at offset %zu: %s", what,
                        (size_t)eo, (const char *)msg);
    }
    /* JIT is an optimisation only: if it is unavailable the interpreter is used. */
    if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0) re->jit = 1;
    return 0;
}

void sl__regex_free(sl__regex *re) {
    if (re->code) pcre2_code_free(re->code);
    re->code = NULL;
}

void sl__scratch_free(sl__scratch *s) {
    if (s->md) pcre2_match_data_free(s->md);
    if (s->mctx) pcre2_match_context_free(s->mctx);
    if (s->jstack) pcre2_jit_stack_free(s->jstack);
    free(s->spans.v);
    free(s->spans2.v);
    memset(s, 0, sizeof *s);
}

void sl__pattern_free(sl__pattern *p) {
    sl__regex_free(&p->re);
    free(p->str);
    p->str = NULL;
}

static int spans_push(sl__spans *sp, size_t start, size_t end, int is_match) {
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 64;
        sl__span *v = realloc(sp->v, cap * sizeof *v);
        if (!v) return SL_ENOMEM;
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[sp->n++] = (sl__span){start, end, is_match};
    return 0;
}

/* One regex search from pos; returns 1 with [*ms,*me), 0 when none, <0 on error. */
static int regex_search(const sl__regex *re, sl__scratch *sc, const char *s, size_t n, size_t pos,
                        size_t *ms, size_t *me, char *err, size_t errlen) {
    if (!sc->md) {
        sc->md = pcre2_match_data_create(16, NULL);
        if (!sc->md) return SL_ENOMEM;
    }
    if (!sc->mctx) {
        if (!(sc->mctx = pcre2_match_context_create(NULL))) return SL_ENOMEM;
        pcre2_set_depth_limit(sc->mctx, UINT32_MAX);
        pcre2_set_heap_limit(sc->mctx, 1u << 22); /* KiB: 4 GiB of backtracking frames at most */
    }
    /* PCRE2's default match limit (10M) is hit by ordinary patterns on long runs, e.g.
     * `\s*[\r\n]+` backtracking over megabytes of spaces; scale it with the subject (set
     * per call: a scratch serves subjects of any length) so a hostile pattern still stops
     * instead of spinning forever. */
    uint64_t lim = 10000000u + 64u * (uint64_t)n;
    pcre2_set_match_limit(sc->mctx, lim > UINT32_MAX ? UINT32_MAX : (uint32_t)lim);
    for (int attempt = 0;; attempt++) {
        int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) return 0;
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && attempt == 0 && !sc->jstack) {
            /* Long runs can outgrow JIT's default 32 KiB stack: retry with a big one. */
            sc->jstack = pcre2_jit_stack_create(32 * 1024, 256u << 20, NULL);
            if (!sc->jstack) return SL_ENOMEM;
            pcre2_jit_stack_assign(sc->mctx, NULL, sc->jstack);
            continue;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return sl__errf(err, errlen, SL_ETOOBIG, "regex match failed: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        *ms = ov[0];
        *me = ov[1];
        if (*me < *ms) *me = *ms; /* \K can report end < start; treat as empty */
        return 1;
    }
}

/* Matches as onig/regex find_iter: leftmost, non-overlapping, and an empty match right
 * after the previous match is skipped. Output spans cover s entirely. */
int sl__pattern_find(const sl__pattern *p, sl__scratch *sc, const char *s, size_t n,
                     sl__spans *out, char *err, size_t errlen) {
    int rc;
    out->n = 0;
    if (n == 0) return spans_push(out, 0, 0, 0);
    size_t prev = 0;
    if (p->kind == SL__PAT_CHARFN) {
        size_t i = 0;
        while (i < n) {
            int32_t cp;
            size_t l = sl__utf8_next(s + i, n - i, &cp);
            int hit = p->charfn ? p->charfn(cp) : cp == p->ch;
            if (hit) {
                if (prev < i && (rc = spans_push(out, prev, i, 0))) return rc;
                if ((rc = spans_push(out, i, i + l, 1))) return rc;
                prev = i + l;
            }
            i += l;
        }
    } else if (p->kind == SL__PAT_STRING) {
        size_t i = 0;
        while (p->str_len && i + p->str_len <= n) {
            const char *hit = memmem(s + i, n - i, p->str, p->str_len);
            if (!hit) break;
            size_t at = (size_t)(hit - s);
            if (prev < at && (rc = spans_push(out, prev, at, 0))) return rc;
            if ((rc = spans_push(out, at, at + p->str_len, 1))) return rc;
            prev = i = at + p->str_len;
        }
    } else {
        size_t pos = 0, last_end = (size_t)-1;
        while (pos <= n) {
            size_t ms = 0, me = 0;
            rc = regex_search(&p->re, sc, s, n, pos, &ms, &me, err, errlen);
            if (rc < 0) return rc;
            if (rc == 0) break;
            if (ms == me && ms == last_end) {
                if (ms >= n) break;
                int32_t cp;
                pos = ms + sl__utf8_next(s + ms, n - ms, &cp);
                continue;
            }
            if (prev < ms && (rc = spans_push(out, prev, ms, 0))) return rc;
            if ((rc = spans_push(out, ms, me, 1))) return rc;
            prev = last_end = me;
            pos = me;
        }
    }
    if (prev < n && (rc = spans_push(out, prev, n, 0))) return rc;
    return 0;
}

/* NormalizedString::split: turns match spans into kept pieces per behaviour. Output spans
 * have is_match = 1 when the piece is removed. */
static int apply_behavior(const sl__spans *in, enum sl__split_behavior b, int invert,
                          sl__spans *out) {
    int rc;
    out->n = 0;
    int prev_match = 0;
    if (b == SL__SPLIT_MERGED_NEXT) {
        for (size_t k = in->n; k-- > 0;) {
            sl__span sp = in->v[k];
            int m = sp.is_match ^ invert;
            if (m && !prev_match && out->n) out->v[out->n - 1].start = sp.start;
            else if ((rc = spans_push(out, sp.start, sp.end, 0))) return rc;
            prev_match = m;
        }
        for (size_t i = 0, j = out->n ? out->n - 1 : 0; i < j; i++, j--) {
            sl__span t = out->v[i];
            out->v[i] = out->v[j];
            out->v[j] = t;
        }
        return 0;
    }
    for (size_t k = 0; k < in->n; k++) {
        sl__span sp = in->v[k];
        int m = sp.is_match ^ invert;
        switch (b) {
        case SL__SPLIT_ISOLATED:
            rc = spans_push(out, sp.start, sp.end, 0);
            break;
        case SL__SPLIT_REMOVED:
            rc = spans_push(out, sp.start, sp.end, m);
            break;
        case SL__SPLIT_CONTIGUOUS:
            if (m == prev_match && out->n) {
                out->v[out->n - 1].end = sp.end;
                rc = 0;
            } else {
                rc = spans_push(out, sp.start, sp.end, 0);
            }
            break;
        case SL__SPLIT_MERGED_PREV:
        default:
            if (m && !prev_match && out->n) {
                out->v[out->n - 1].end = sp.end;
                rc = 0;
            } else {
                rc = spans_push(out, sp.start, sp.end, 0);
            }
            break;
        }
        if (rc) return rc;
        prev_match = m;
    }
    return 0;
}

/* ------------------------------------------------------------------ normalizers */

void sl__norm_free(sl__norm *n) {
    if (!n) return;
    free(n->str);
    sl__pattern_free(&n->pat);
    for (size_t i = 0; i < n->n_sub; i++) sl__norm_free(&n->sub[i]);
    free(n->sub);
}

static int norm_span(utf8proc_option_t opt, const char *s, size_t len, sl_buf *out) {
    utf8proc_uint8_t *dst = NULL;
    if (len == 0) return 0;
    if (len > (size_t)(SIZE_MAX / 32)) return SL_ETOOBIG;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      opt | UTF8PROC_STABLE);
    if (r < 0) return r == UTF8PROC_ERROR_NOMEM ? SL_ENOMEM : SL_EINVAL;
    int rc = sl_buf_put(out, dst, (size_t)r);
    free(dst);
    return rc;
}

/* NF(K)C/D. ASCII is invariant under all four forms and never composes with what follows
 * it, so only runs of non-ASCII text (with the one ASCII char before them, which may take a
 * combining mark) go through utf8proc: plain text costs a copy, not a full mapping. */
static int norm_unicode(utf8proc_option_t opt, const char *s, size_t len, sl_buf *out) {
    size_t i = 0, copied = 0;
    int rc;
    while (i < len) {
        if (!((unsigned char)s[i] & 0x80)) { i++; continue; }
        size_t a = i > copied ? i - 1 : i; /* include the preceding ASCII starter */
        size_t b = i;
        while (b < len && ((unsigned char)s[b] & 0x80)) b++;
        if ((rc = sl_buf_put(out, s + copied, a - copied))) return rc;
        if ((rc = norm_span(opt, s + a, b - a, out))) return rc;
        copied = i = b;
    }
    return sl_buf_put(out, s + copied, len - copied);
}

static int norm_one(const sl__norm *n, sl__scratch *sc, const char *s, size_t len, sl_buf *out,
                    char *err, size_t errlen) {
    int rc = 0;
    out->len = 0;
    if ((rc = sl_buf_reserve(out, len))) return rc;
    switch (n->kind) {
    case SL__NORM_NFC: return norm_unicode(UTF8PROC_COMPOSE, s, len, out);
    case SL__NORM_NFD: return norm_unicode(UTF8PROC_DECOMPOSE, s, len, out);
    case SL__NORM_NFKC: return norm_unicode(UTF8PROC_COMPOSE | UTF8PROC_COMPAT, s, len, out);
    case SL__NORM_NFKD: return norm_unicode(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, s, len, out);
    case SL__NORM_PREPEND:
        if (len && (rc = sl_buf_put(out, n->str, n->str_len))) return rc;
        return sl_buf_put(out, s, len);
    case SL__NORM_LOWERCASE:
    case SL__NORM_STRIP_ACCENTS:
        for (size_t i = 0; i < len;) {
            int32_t cp;
            size_t l = sl__utf8_next(s + i, len - i, &cp);
            char tmp[8];
            size_t k = 0;
            if (n->kind == SL__NORM_STRIP_ACCENTS) {
                if (!is_mark(cp)) { memcpy(tmp, s + i, l); k = l; }
            } else if (cp == 0x130) { /* the one multi-char lowercase mapping: İ -> i̇ */
                memcpy(tmp, "i\xCC\x87", 3);
                k = 3;
            } else {
                k = sl__utf8_put(tmp, cp < 0x80 ? (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp)
                                                : utf8proc_tolower(cp));
            }
            if ((rc = sl_buf_put(out, tmp, k))) return rc;
            i += l;
        }
        return 0;
    case SL__NORM_STRIP: {
        size_t a = 0, b = len;
        if (n->strip_left)
            while (a < b) {
                int32_t cp;
                size_t l = sl__utf8_next(s + a, b - a, &cp);
                if (!sl__is_whitespace(cp)) break;
                a += l;
            }
        if (n->strip_right)
            while (b > a) {
                size_t q = b - 1;
                while (q > a && ((unsigned char)s[q] & 0xC0) == 0x80) q--;
                int32_t cp;
                sl__utf8_next(s + q, b - q, &cp);
                if (!sl__is_whitespace(cp)) break;
                b = q;
            }
        return sl_buf_put(out, s + a, b - a);
    }
    case SL__NORM_REPLACE: {
        if ((rc = sl__pattern_find(&n->pat, sc, s, len, &sc->spans, err, errlen))) return rc;
        for (size_t k = 0; k < sc->spans.n; k++) {
            sl__span sp = sc->spans.v[k];
            rc = sp.is_match ? sl_buf_put(out, n->str, n->str_len)
                             : sl_buf_put(out, s + sp.start, sp.end - sp.start);
            if (rc) return rc;
        }
        return 0;
    }
    case SL__NORM_SEQUENCE: {
        sl_buf a = {0}, b = {0};
        if ((rc = sl_buf_put(&a, s, len))) return rc;
        for (size_t i = 0; i < n->n_sub && !rc; i++) {
            rc = norm_one(&n->sub[i], sc, a.p, a.len, &b, err, errlen);
            sl_buf t = a;
            a = b;
            b = t;
        }
        if (!rc) rc = sl_buf_put(out, a.p, a.len);
        sl_buf_free(&a);
        sl_buf_free(&b);
        return rc;
    }
    }
    return SL_EINVAL;
}

int sl__norm_apply(const sl__norm *n, sl__scratch *sc, const char *s, size_t len, sl_buf *out,
                   char *err, size_t errlen) {
    return norm_one(n, sc, s, len, out, err, errlen);
}

/* ------------------------------------------------------------------ pre-tokenizers */

int sl__pieces_push(sl__pieces *ps, size_t off, size_t len, int first) {
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        sl__piece *v = realloc(ps->v, cap * sizeof *v);
        if (!v) return SL_ENOMEM;
        ps->v = v;
        ps->cap = cap;
    }
    ps->v[ps->n++] = (sl__piece){off, len, first};
    return 0;
}

void sl__pieces_free(sl__pieces *ps) {
    sl_buf_free(&ps->arena);
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

void sl__pretok_free(sl__pretok *p) {
    if (!p) return;
    sl__pattern_free(&p->pat);
    for (size_t i = 0; i < p->n_sub; i++) sl__pretok_free(&p->sub[i]);
    free(p->sub);
}

/* Splits every piece by pattern + behaviour; empty pieces are dropped (as the library). */
static int split_pieces(const sl__pattern *pat, enum sl__split_behavior b, int invert,
                        sl__scratch *sc, sl__pieces *ps, char *err, size_t errlen) {
    sl__piece *old = ps->v;
    size_t n_old = ps->n;
    int rc = 0;
    ps->v = NULL;
    ps->n = ps->cap = 0;
    for (size_t i = 0; i < n_old && !rc; i++) {
        sl__piece pc = old[i];
        rc = sl__pattern_find(pat, sc, ps->arena.p + pc.off, pc.len, &sc->spans, err, errlen);
        if (!rc) rc = apply_behavior(&sc->spans, b, invert, &sc->spans2);
        for (size_t k = 0; !rc && k < sc->spans2.n; k++) {
            sl__span sp = sc->spans2.v[k];
            if (sp.is_match || sp.end == sp.start) continue;
            rc = sl__pieces_push(ps, pc.off + sp.start, sp.end - sp.start,
                                 pc.first && sp.start == 0);
        }
    }
    free(old);
    return rc;
}

/* GPT-2's pattern, as the ByteLevel pre-tokenizer uses it. */
static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int bytelevel(const sl__pretok *p, sl__scratch *sc, sl__pieces *ps, char *err,
                     size_t errlen) {
    int rc;
    if (p->add_prefix_space) {
        for (size_t i = 0; i < ps->n; i++) {
            sl__piece *pc = &ps->v[i];
            if (pc->len && ps->arena.p[pc->off] == ' ') continue;
            if ((rc = sl_buf_reserve(&ps->arena, pc->len + 1))) return rc;
            size_t off = ps->arena.len;
            ps->arena.p[off] = ' ';
            memcpy(ps->arena.p + off + 1, ps->arena.p + pc->off, pc->len);
            ps->arena.len += pc->len + 1;
            pc->off = off;
            pc->len += 1;
        }
    }
    if (p->use_regex && (rc = split_pieces(&p->pat, SL__SPLIT_ISOLATED, 0, sc, ps, err, errlen)))
        return rc;
    for (size_t i = 0; i < ps->n; i++) {
        sl__piece *pc = &ps->v[i];
        if ((rc = sl_buf_reserve(&ps->arena, 2 * pc->len))) return rc;
        const unsigned char *src = (const unsigned char *)ps->arena.p + pc->off;
        char *dst = ps->arena.p + ps->arena.len;
        size_t k = 0;
        for (size_t j = 0; j < pc->len; j++) k += (size_t)sl__byte_to_utf8(src[j], dst + k);
        pc->off = ps->arena.len;
        pc->len = k;
        ps->arena.len += k;
    }
    return 0;
}

static int metaspace(const sl__pretok *p, sl__scratch *sc, sl__pieces *ps, char *err,
                     size_t errlen) {
    int rc;
    for (size_t i = 0; i < ps->n; i++) {
        sl__piece *pc = &ps->v[i];
        size_t spaces = 0;
        for (size_t j = 0; j < pc->len; j++) spaces += ps->arena.p[pc->off + j] == ' ';
        int starts = pc->len >= p->rep_len &&
                     memcmp(ps->arena.p + pc->off, p->rep_utf8, p->rep_len) == 0;
        /* "starts with the replacement" is checked after the space replacement */
        if (!starts && pc->len && ps->arena.p[pc->off] == ' ') starts = 1;
        int pre = (p->prepend == SL__PREPEND_ALWAYS && !starts) ||
                  (p->prepend == SL__PREPEND_FIRST && !starts && pc->first);
        size_t need = pc->len + spaces * p->rep_len + (pre ? p->rep_len : 0);
        if ((rc = sl_buf_reserve(&ps->arena, need))) return rc;
        const char *src = ps->arena.p + pc->off;
        char *dst = ps->arena.p + ps->arena.len;
        size_t k = 0;
        if (pre) { memcpy(dst, p->rep_utf8, p->rep_len); k = p->rep_len; }
        for (size_t j = 0; j < pc->len; j++) {
            if (src[j] == ' ') { memcpy(dst + k, p->rep_utf8, p->rep_len); k += p->rep_len; }
            else dst[k++] = src[j];
        }
        pc->off = ps->arena.len;
        pc->len = k;
        ps->arena.len += k;
    }
    if (p->split) return split_pieces(&p->pat, SL__SPLIT_MERGED_NEXT, 0, sc, ps, err, errlen);
    return 0;
}

int sl__pretok_apply(const sl__pretok *p, sl__scratch *sc, sl__pieces *ps, char *err,
                     size_t errlen) {
    int rc = 0;
    switch (p->kind) {
    case SL__PRE_SEQUENCE:
        for (size_t i = 0; i < p->n_sub && !rc; i++) rc = sl__pretok_apply(&p->sub[i], sc, ps, err, errlen);
        return rc;
    case SL__PRE_BYTELEVEL: return bytelevel(p, sc, ps, err, errlen);
    case SL__PRE_METASPACE: return metaspace(p, sc, ps, err, errlen);
    case SL__PRE_SPLIT:
    case SL__PRE_DIGITS:
    case SL__PRE_WHITESPACE:
    case SL__PRE_WHITESPACE_SPLIT:
    case SL__PRE_PUNCTUATION:
        return split_pieces(&p->pat, p->behavior, p->invert, sc, ps, err, errlen);
    }
    return SL_EINVAL;
}

/* Builds the fixed pattern of the pre-tokenizers that have one. */
int sl__pretok_prepare(sl__pretok *p, char *err, size_t errlen) {
    switch (p->kind) {
    case SL__PRE_BYTELEVEL:
        if (!p->use_regex) return 0;
        p->pat.kind = SL__PAT_REGEX;
        return sl__regex_compile(&p->pat.re, GPT2_RE, sizeof GPT2_RE - 1, "ByteLevel", err, errlen);
    case SL__PRE_WHITESPACE: {
        /* \w+|[^\w\s]+ with the regex crate's Unicode \w, kept as matches (inverted removal) */
        static const char re[] = "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}\\p{Nl}\\x{200C}\\x{200D}]+|"
                                 "[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}\\p{Nl}\\x{200C}\\x{200D}\\s\\x{85}]+";
        p->pat.kind = SL__PAT_REGEX;
        p->behavior = SL__SPLIT_REMOVED;
        p->invert = 1;
        return sl__regex_compile(&p->pat.re, re, sizeof re - 1, "Whitespace", err, errlen);
    }
    case SL__PRE_WHITESPACE_SPLIT:
        p->pat.kind = SL__PAT_CHARFN;
        p->pat.charfn = sl__is_whitespace;
        p->behavior = SL__SPLIT_REMOVED;
        return 0;
    case SL__PRE_PUNCTUATION:
        p->pat.kind = SL__PAT_CHARFN;
        p->pat.charfn = sl__is_punct;
        return 0;
    case SL__PRE_DIGITS:
        p->pat.kind = SL__PAT_CHARFN;
        p->pat.charfn = sl__is_numeric;
        return 0;
    case SL__PRE_METASPACE:
        p->pat.kind = SL__PAT_CHARFN;
        p->pat.charfn = NULL;
        p->pat.ch = p->replacement;
        p->rep_len = sl__utf8_put(p->rep_utf8, p->replacement);
        p->rep_utf8[p->rep_len] = 0;
        return 0;
    default:
        return 0;
    }
}
