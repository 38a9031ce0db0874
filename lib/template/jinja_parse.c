/* jinja_parse.c — Jinja2 lexer and parser: template source to an AST (see jinja.h).
 *
 * The lexer follows jinja2's (lexer.py) with trim_blocks and lstrip_blocks on: newlines are
 * normalised to "\n" and one trailing newline dropped; `{%-`/`-%}` strip all whitespace on
 * that side; a block or comment tag alone on its line loses the line's indentation; a
 * newline right after a block or comment tag is dropped. The parser follows jinja2's
 * parser.py precedence (or < and < not < compare < + - < ~ < * / // % < ** < unary < postfix,
 * filters and tests). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jinja_internal.h"

/* ---------------------------------------------------------------- arena */

struct ja_chunk {
    ja_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void *ja_alloc(ja_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (n > a->cap || a->used > a->cap - n) {
        *a->fail_code = SL_ETOOBIG;
        longjmp(*a->fail, 1);
    }
    ja_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > 32768 ? n : 32768;
        if (c && c->size * 2 > size && c->size < ((size_t)1 << 24)) size = c->size * 2 >= n ? c->size * 2 : size;
        c = malloc(sizeof *c + size);
        if (!c) {
            *a->fail_code = SL_ENOMEM;
            longjmp(*a->fail, 1);
        }
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void ja_free_all(ja_arena *a) {
    ja_chunk *c = a->head;
    while (c) {
        ja_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

char *ja_strndup(ja_arena *a, const char *s, size_t n) {
    char *p = ja_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ---------------------------------------------------------------- lexer */

enum { T_EOF, T_DATA, T_BLOCK_BEGIN, T_BLOCK_END, T_VAR_BEGIN, T_VAR_END, T_NAME, T_STRING, T_INT, T_FLOAT, T_OP };

typedef struct tok {
    int type, line;
    const char *p; /* T_DATA / T_NAME / T_OP / T_STRING (decoded): text */
    size_t n;
    int64_t i;
    double f;
} tok;

#define MAX_DEPTH 200

typedef struct parser {
    ja_arena *a;
    jmp_buf jb;
    int code;
    char *err;
    size_t errlen;
    tok *toks;
    size_t ntok, cap, pos;
    int depth;
    int in_if; /* inside an if block: unknown filters and tests fail when reached, as in jinja2 3 */
} parser;

__attribute__((format(printf, 3, 4), noreturn)) static void perr(parser *p, int line, const char *fmt, ...) {
    if (p->err && p->errlen) {
        int k = snprintf(p->err, p->errlen, "line %d: ", line);
        if (k < 0) k = 0;
        if ((size_t)k < p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    p->code = SL_EFORMAT;
    longjmp(p->jb, 1);
}

static void push_tok(parser *p, tok t) {
    if (p->ntok == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        tok *nt = ja_alloc(p->a, cap * sizeof *nt);
        if (p->ntok) memcpy(nt, p->toks, p->ntok * sizeof *nt);
        p->toks = nt;
        p->cap = cap;
    }
    p->toks[p->ntok++] = t;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_name0(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
static int is_name1(unsigned char c) { return is_name0(c) || (c >= '0' && c <= '9'); }
static int count_nl(const char *s, size_t n) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

/* Appends the UTF-8 encoding of code point CP. */
static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string literal's body with Python's unicode-escape rules (unknown escapes kept). */
static void unescape(parser *p, const char *s, size_t n, tok *t, int line) {
    char *o = ja_alloc(p->a, n + 1), *w = o;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) { *w++ = s[i]; continue; }
        char c = s[++i];
        int digits = 0;
        switch (c) {
        case '\n': break;
        case '\\': *w++ = '\\'; break;
        case '\'': *w++ = '\''; break;
        case '"': *w++ = '"'; break;
        case 'a': *w++ = '\a'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'v': *w++ = '\v'; break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            if (c >= '0' && c <= '7') {
                uint32_t v = 0;
                int k = 0;
                while (k < 3 && i < n && s[i] >= '0' && s[i] <= '7') v = v * 8 + (uint32_t)(s[i++] - '0'), k++;
                i--;
                w += put_utf8(w, v);
            } else {
                *w++ = '\\';
                *w++ = c;
            }
        }
        if (digits) {
            uint32_t v = 0;
            for (int k = 0; k < digits; k++) {
                int h = i + 1 + (size_t)k < n ? hexval(s[i + 1 + k]) : -1;
                if (h < 0) perr(p, line, "truncated \\%c escape in a string literal", c);
                v = v * 16 + (uint32_t)h;
            }
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) perr(p, line, "invalid \\%c escape in a string literal", c);
            i += (size_t)digits;
            w += put_utf8(w, v);
        }
    }
    *w = 0;
    t->p = o;
    t->n = (size_t)(w - o);
}

/* Tokens inside a tag from *pos up to its end (END: "}}" or "%}"). Returns the end token. */
static void lex_tag(parser *p, const char *s, size_t n, size_t *pos, int *line, int var, int *line_starting) {
    size_t i = *pos;
    int balance = 0;
    char stack[64];
    for (;;) {
        while (i < n && is_ws(s[i])) {
            if (s[i] == '\n') (*line)++;
            i++;
        }
        if (i >= n) perr(p, *line, "unexpected end of template inside a %s tag", var ? "{{ }}" : "{% %}");
        const char *end = var ? "}}" : "%}";
        if (balance == 0) {
            int minus = s[i] == '-' && i + 2 < n + 0 && i + 3 <= n && !memcmp(s + i + 1, end, 2);
            int plus = !var && s[i] == '+' && i + 3 <= n && !memcmp(s + i + 1, end, 2);
            if (minus || plus || (i + 2 <= n && !memcmp(s + i, end, 2))) {
                i += minus || plus ? 3 : 2;
                size_t e0 = i;
                if (minus) {
                    while (i < n && is_ws(s[i])) i++;
                } else if (!plus && !var && i < n && s[i] == '\n') {
                    i++;
                }
                *line_starting = i > 0 && s[i - 1] == '\n';
                (void)e0;
                push_tok(p, (tok){.type = var ? T_VAR_END : T_BLOCK_END, .line = *line});
                *line += count_nl(s + e0, i - e0);
                *pos = i;
                return;
            }
        }
        tok t = {.line = *line, .p = s + i};
        unsigned char c = (unsigned char)s[i];
        if (c == '0' && i + 2 < n && strchr("xXoObB", s[i + 1]) && s[i + 1]) { /* 0x1f, 0o17, 0b101 */
            int base = strchr("xX", s[i + 1]) ? 16 : strchr("oO", s[i + 1]) ? 8 : 2;
            size_t j = i + 2;
            uint64_t v = 0;
            int digits = 0;
            while (j < n) {
                if (s[j] == '_') {
                    j++;
                    continue;
                }
                int d = hexval(s[j]);
                if (d < 0 || d >= base) break;
                if (v > (UINT64_MAX >> 4) || (v = v * (uint64_t)base + (uint64_t)d) > (uint64_t)INT64_MAX)
                    perr(p, *line, "integer literal too large");
                digits++;
                j++;
            }
            if (!digits) perr(p, *line, "invalid integer literal");
            t.type = T_INT;
            t.i = (int64_t)v;
            t.n = j - i;
            i = j;
        } else if (c >= '0' && c <= '9') {
            size_t j = i;
            char num[128];
            size_t k = 0;
            int isf = 0;
            while (j < n && ((s[j] >= '0' && s[j] <= '9') || (s[j] == '_' && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '9'))) {
                if (s[j] != '_' && k < sizeof num - 1) num[k++] = s[j];
                j++;
            }
            if (j + 1 < n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9') {
                isf = 1;
                num[k < sizeof num - 1 ? k++ : k] = '.';
                j++;
                while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '_')) {
                    if (s[j] != '_' && k < sizeof num - 1) num[k++] = s[j];
                    j++;
                }
            }
            if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                size_t q = j + 1;
                if (q < n && (s[q] == '+' || s[q] == '-')) q++;
                if (q < n && s[q] >= '0' && s[q] <= '9') {
                    isf = 1;
                    if (k < sizeof num - 1) num[k++] = 'e';
                    for (size_t r = j + 1; r < q; r++)
                        if (k < sizeof num - 1) num[k++] = s[r];
                    j = q;
                    while (j < n && s[j] >= '0' && s[j] <= '9') {
                        if (k < sizeof num - 1) num[k++] = s[j];
                        j++;
                    }
                }
            }
            num[k] = 0;
            if (isf) {
                t.type = T_FLOAT;
                t.f = strtod(num, NULL);
            } else {
                t.type = T_INT;
                errno = 0;
                long long v = strtoll(num, NULL, 10);
                if (errno) perr(p, *line, "integer literal %s is too large", num);
                t.i = v;
            }
            t.n = j - i;
            i = j;
        } else if (is_name0(c)) {
            size_t j = i;
            while (j < n && is_name1((unsigned char)s[j])) j++;
            t.type = T_NAME;
            t.p = ja_strndup(p->a, s + i, j - i);
            t.n = j - i;
            i = j;
        } else if (c == '\'' || c == '"') {
            size_t j = i + 1;
            int nl = 0;
            while (j < n && s[j] != (char)c) {
                if (s[j] == '\\' && j + 1 < n) {
                    nl += s[j + 1] == '\n';
                    j++;
                }
                nl += s[j] == '\n';
                j++;
            }
            if (j >= n) perr(p, *line, "unterminated string literal");
            t.type = T_STRING;
            unescape(p, s + i + 1, j - i - 1, &t, *line);
            *line += nl;
            i = j + 1;
        } else {
            static const char *ops2[] = {"**", "//", "==", "!=", ">=", "<="};
            size_t len = 0;
            for (size_t k = 0; k < sizeof ops2 / sizeof *ops2; k++)
                if (i + 2 <= n && !memcmp(s + i, ops2[k], 2)) len = 2;
            if (!len) {
                if (!strchr("+-/*%~[](){}><=.:|,;", c) || c == 0) perr(p, *line, "unexpected character '%c'", c);
                len = 1;
                if (c == '(' || c == '[' || c == '{') {
                    if (balance >= (int)sizeof stack) perr(p, *line, "brackets nested too deeply");
                    stack[balance++] = c == '(' ? ')' : c == '[' ? ']' : '}';
                } else if (c == ')' || c == ']' || c == '}') {
                    if (!balance) perr(p, *line, "unexpected '%c'", c);
                    if (stack[--balance] != (char)c) perr(p, *line, "unexpected '%c', expected '%c'", c, stack[balance]);
                }
            }
            t.type = T_OP;
            t.p = ja_strndup(p->a, s + i, len);
            t.n = len;
            i += len;
        }
        push_tok(p, t);
    }
}

/* Whether the block tag starting at s[i] ("{%" + sign) is {% NAME %}; sets *after past it. */
static int tag_is(const char *s, size_t n, size_t i, const char *name, size_t *after, int *strip_after) {
    size_t j = i + 2;
    if (j < n && (s[j] == '-' || s[j] == '+')) j++;
    while (j < n && is_ws(s[j])) j++;
    size_t k = strlen(name);
    if (j + k > n || memcmp(s + j, name, k) != 0) return 0;
    j += k;
    if (j < n && is_name1((unsigned char)s[j])) return 0;
    while (j < n && is_ws(s[j])) j++;
    if (j + 3 <= n && s[j] == '-' && s[j + 1] == '%' && s[j + 2] == '}') {
        *after = j + 3;
        *strip_after = 1;
        return 1;
    }
    if (j + 3 <= n && s[j] == '+' && s[j + 1] == '%' && s[j + 2] == '}') {
        *after = j + 3;
        *strip_after = 2;
        return 1;
    }
    if (j + 2 <= n && s[j] == '%' && s[j + 1] == '}') {
        *after = j + 2;
        *strip_after = 0;
        return 1;
    }
    return 0;
}

/* The text before a tag, with the tag's left whitespace control applied. */
static void push_data(parser *p, const char *text, size_t len, char sign, int block_or_comment, int line_starting,
                      int line) {
    if (sign == '-') {
        while (len && is_ws(text[len - 1])) len--;
    } else if (sign != '+' && block_or_comment) {
        size_t l_pos = len;
        while (l_pos && text[l_pos - 1] != '\n') l_pos--;
        if ((l_pos > 0 || line_starting) && l_pos < len) {
            size_t k = l_pos;
            while (k < len && is_ws(text[k])) k++;
            if (k == len) len = l_pos;
        }
    }
    if (len) push_tok(p, (tok){.type = T_DATA, .line = line, .p = text, .n = len});
}

static void lex(parser *p, const char *s, size_t n) {
    size_t pos = 0;
    int line = 1, line_starting = 1;
    while (pos < n) {
        size_t i = pos;
        const char *hit = NULL;
        while (i + 1 < n) {
            hit = memchr(s + i, '{', n - i - 1);
            if (!hit) break;
            i = (size_t)(hit - s);
            char c = s[i + 1];
            if (c == '{' || c == '%' || c == '#') break;
            i++;
            hit = NULL;
        }
        if (!hit) {
            push_tok(p, (tok){.type = T_DATA, .line = line, .p = s + pos, .n = n - pos});
            break;
        }
        char kind = s[i + 1];
        char sign = i + 2 < n ? s[i + 2] : 0;
        if (sign != '-' && sign != '+') sign = 0;
        int dline = line;
        line += count_nl(s + pos, i - pos);
        size_t after;
        int strip_after;
        if (kind == '%' && tag_is(s, n, i, "raw", &after, &strip_after)) {
            push_data(p, s + pos, i - pos, sign, 1, line_starting, dline);
            if (strip_after == 1)
                while (after < n && is_ws(s[after])) after++;
            /* the body up to {% endraw %} */
            size_t j = after, rend = 0;
            int found = 0, sa = 0;
            while (j + 1 < n) {
                const char *h = memchr(s + j, '{', n - j);
                if (!h) break;
                j = (size_t)(h - s);
                if (j + 1 < n && s[j + 1] == '%' && tag_is(s, n, j, "endraw", &rend, &sa)) {
                    found = 1;
                    break;
                }
                j++;
            }
            if (!found) perr(p, line, "missing end of raw directive");
            char esign = j + 2 < n && (s[j + 2] == '-' || s[j + 2] == '+') ? s[j + 2] : 0;
            int raw_ls = after > 0 && s[after - 1] == '\n';
            push_data(p, s + after, j - after, esign, 1, raw_ls, line);
            if (sa == 1)
                while (rend < n && is_ws(s[rend])) rend++;
            else if (sa == 0 && rend < n && s[rend] == '\n')
                rend++;
            line += count_nl(s + i, rend - i);
            line_starting = rend > 0 && s[rend - 1] == '\n';
            pos = rend;
            continue;
        }
        push_data(p, s + pos, i - pos, sign, kind != '{', line_starting, dline);
        size_t j = i + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t k = j;
            const char *e = NULL;
            while (k + 1 < n) {
                e = memchr(s + k, '#', n - k - 1);
                if (!e) break;
                k = (size_t)(e - s);
                if (s[k + 1] == '}') break;
                k++;
                e = NULL;
            }
            if (!e) perr(p, line, "missing end of comment tag");
            size_t end = k + 2;
            if (k > j && s[k - 1] == '-') {
                while (end < n && is_ws(s[end])) end++;
            } else if (!(k > j && s[k - 1] == '+') && end < n && s[end] == '\n') {
                end++;
            }
            line += count_nl(s + i, end - i);
            line_starting = s[end - 1] == '\n';
            pos = end;
            continue;
        }
        push_tok(p, (tok){.type = kind == '{' ? T_VAR_BEGIN : T_BLOCK_BEGIN, .line = line});
        pos = j;
        lex_tag(p, s, n, &pos, &line, kind == '{', &line_starting);
    }
    push_tok(p, (tok){.type = T_EOF, .line = line});
}

/* ---------------------------------------------------------------- parser helpers */

static tok *cur(parser *p) { return &p->toks[p->pos]; }
static tok *peek(parser *p, size_t k) {
    size_t i = p->pos + k;
    return &p->toks[i < p->ntok ? i : p->ntok - 1];
}
static tok *next(parser *p) {
    tok *t = cur(p);
    if (p->pos + 1 < p->ntok) p->pos++;
    return t;
}
static int is_op(const tok *t, const char *op) { return t->type == T_OP && !strcmp(t->p, op); }
static int is_name(const tok *t, const char *name) { return t->type == T_NAME && !strcmp(t->p, name); }

static const char *tok_desc(const tok *t) {
    switch (t->type) {
    case T_EOF: return "end of template";
    case T_DATA: return "template data";
    case T_BLOCK_BEGIN: return "'{%'";
    case T_BLOCK_END: return "end of statement block";
    case T_VAR_BEGIN: return "'{{'";
    case T_VAR_END: return "end of print statement";
    case T_NAME: return t->p;
    case T_STRING: return "string";
    case T_INT: return "integer";
    case T_FLOAT: return "float";
    default: return t->p;
    }
}

static void expect_op(parser *p, const char *op) {
    tok *t = cur(p);
    if (!is_op(t, op)) perr(p, t->line, "expected '%s', got %s", op, tok_desc(t));
    next(p);
}
static void expect_type(parser *p, int type, const char *what) {
    tok *t = cur(p);
    if (t->type != type) perr(p, t->line, "expected %s, got %s", what, tok_desc(t));
    next(p);
}
static const char *expect_name(parser *p) {
    tok *t = cur(p);
    if (t->type != T_NAME) perr(p, t->line, "expected a name, got %s", tok_desc(t));
    next(p);
    return t->p;
}

static jnode *node(parser *p, int kind, int line) {
    jnode *n = ja_alloc(p->a, sizeof *n);
    n->kind = kind;
    n->line = line;
    return n;
}

/* A growable node list while parsing. */
typedef struct nvec {
    jnode **v;
    const char **names;
    int n, cap;
} nvec;
static void nv_push(parser *p, nvec *v, jnode *x, const char *name) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        jnode **nv = ja_alloc(p->a, (size_t)cap * sizeof *nv);
        const char **nn = ja_alloc(p->a, (size_t)cap * sizeof *nn);
        if (v->n) {
            memcpy(nv, v->v, (size_t)v->n * sizeof *nv);
            memcpy(nn, v->names, (size_t)v->n * sizeof *nn);
        }
        v->v = nv;
        v->names = nn;
        v->cap = cap;
    }
    v->names[v->n] = name;
    v->v[v->n++] = x;
}

static void enter(parser *p) {
    if (++p->depth > MAX_DEPTH) perr(p, cur(p)->line, "template nested too deeply");
}
static void leave(parser *p) { p->depth--; }

/* ---------------------------------------------------------------- expressions */

static jnode *parse_expr(parser *p);
static jnode *parse_or(parser *p);
static jnode *parse_unary(parser *p, int with_filter);
static jnode *parse_primary(parser *p);
static jnode *parse_postfix(parser *p, jnode *n);

/* A tuple or a single expression (jinja's parse_tuple): `a, b` without parentheses.
 * SIMPLIFIED: names only (assignment targets). EXTRA_END: a name ending the tuple ("in"). */
static jnode *parse_tuple(parser *p, int simplified, int with_condexpr, const char *extra_end, int explicit_paren) {
    int line = cur(p)->line;
    nvec items = {0};
    int is_tuple = 0;
    for (;;) {
        if (items.n) expect_op(p, ",");
        tok *t = cur(p);
        if (t->type == T_VAR_END || t->type == T_BLOCK_END || is_op(t, ")") || (extra_end && is_name(t, extra_end)) ||
            (t->type == T_OP && (!strcmp(t->p, "=") || !strcmp(t->p, ")"))))
            break;
        jnode *x;
        if (simplified) {
            x = node(p, N_NAME, t->line);
            x->name = expect_name(p);
        } else {
            x = with_condexpr ? parse_expr(p) : parse_or(p);
        }
        nv_push(p, &items, x, NULL);
        if (is_op(cur(p), ","))
            is_tuple = 1;
        else
            break;
    }
    if (!is_tuple) {
        if (items.n) return items.v[0];
        if (!explicit_paren) perr(p, line, "expected an expression, got %s", tok_desc(cur(p)));
    }
    jnode *n = node(p, N_TUPLE, line);
    n->list = items.v;
    n->n = items.n;
    return n;
}

static jnode *parse_expr(parser *p) {
    enter(p);
    jnode *e = parse_or(p);
    while (is_name(cur(p), "if")) {
        int line = next(p)->line;
        jnode *c = node(p, N_COND, line);
        c->a = parse_or(p);
        c->b = e;
        if (is_name(cur(p), "else")) {
            next(p);
            c->c = parse_expr(p);
        }
        e = c;
    }
    leave(p);
    return e;
}

static jnode *parse_not(parser *p);
/* `a or b` (KIND N_OR, operands: and-expressions) and `a and b` (N_AND, operands: not-expressions). */
static jnode *parse_bool(parser *p, int kind) {
    const char *kw = kind == N_OR ? "or" : "and";
    jnode *l = kind == N_OR ? parse_bool(p, N_AND) : parse_not(p);
    while (is_name(cur(p), kw)) {
        jnode *n = node(p, kind, next(p)->line);
        n->a = l;
        n->b = kind == N_OR ? parse_bool(p, N_AND) : parse_not(p);
        l = n;
    }
    return l;
}
static jnode *parse_or(parser *p) { return parse_bool(p, N_OR); }
static jnode *parse_compare(parser *p);
static jnode *parse_not(parser *p) {
    if (is_name(cur(p), "not")) {
        enter(p);
        jnode *n = node(p, N_NOT, next(p)->line);
        n->a = parse_not(p);
        leave(p);
        return n;
    }
    return parse_compare(p);
}
static jnode *parse_math1(parser *p);
static jnode *parse_compare(parser *p) {
    int line = cur(p)->line;
    jnode *e = parse_math1(p);
    nvec ops = {0};
    int opv[64];
    for (;;) {
        tok *t = cur(p);
        int op = 0;
        if (t->type == T_OP) {
            if (!strcmp(t->p, "==")) op = OP_EQ;
            else if (!strcmp(t->p, "!=")) op = OP_NE;
            else if (!strcmp(t->p, "<")) op = OP_LT;
            else if (!strcmp(t->p, "<=")) op = OP_LE;
            else if (!strcmp(t->p, ">")) op = OP_GT;
            else if (!strcmp(t->p, ">=")) op = OP_GE;
            if (op) next(p);
        } else if (is_name(t, "in")) {
            op = OP_IN;
            next(p);
        } else if (is_name(t, "not") && is_name(peek(p, 1), "in")) {
            op = OP_NOTIN;
            next(p);
            next(p);
        }
        if (!op) break;
        if (ops.n >= 64) perr(p, t->line, "comparison chain too long");
        opv[ops.n] = op;
        nv_push(p, &ops, parse_math1(p), NULL);
    }
    if (!ops.n) return e;
    jnode *n = node(p, N_COMPARE, line);
    n->a = e;
    n->list = ops.v;
    n->n = ops.n;
    n->ops = ja_alloc(p->a, (size_t)ops.n * sizeof(int));
    memcpy(n->ops, opv, (size_t)ops.n * sizeof(int));
    return n;
}
static jnode *binop(parser *p, int op, jnode *l, jnode *r, int line) {
    jnode *n = node(p, N_BIN, line);
    n->op = op;
    n->a = l;
    n->b = r;
    return n;
}
static jnode *parse_concat(parser *p);
static jnode *parse_math1(parser *p) {
    jnode *l = parse_concat(p);
    for (;;) {
        tok *t = cur(p);
        if (is_op(t, "+") || is_op(t, "-")) {
            next(p);
            l = binop(p, t->p[0] == '+' ? OP_ADD : OP_SUB, l, parse_concat(p), t->line);
        } else {
            return l;
        }
    }
}
static jnode *parse_math2(parser *p);
static jnode *parse_concat(parser *p) {
    jnode *l = parse_math2(p);
    while (is_op(cur(p), "~")) {
        int line = next(p)->line;
        l = binop(p, OP_CONCAT, l, parse_math2(p), line);
    }
    return l;
}
static jnode *parse_pow(parser *p);
static jnode *parse_math2(parser *p) {
    jnode *l = parse_pow(p);
    for (;;) {
        tok *t = cur(p);
        int op = is_op(t, "*") ? OP_MUL : is_op(t, "/") ? OP_DIV : is_op(t, "//") ? OP_FLOORDIV : is_op(t, "%") ? OP_MOD : 0;
        if (!op) return l;
        next(p);
        l = binop(p, op, l, parse_pow(p), t->line);
    }
}
static jnode *parse_pow(parser *p) {
    jnode *l = parse_unary(p, 1);
    while (is_op(cur(p), "**")) {
        int line = next(p)->line;
        l = binop(p, OP_POW, l, parse_unary(p, 1), line);
    }
    return l;
}

/* Call arguments after '(' up to ')': positional and keyword (names[i] != NULL). */
static void parse_args(parser *p, jnode *n) {
    nvec args = {0};
    expect_op(p, "(");
    while (!is_op(cur(p), ")")) {
        if (args.n) {
            expect_op(p, ",");
            if (is_op(cur(p), ")")) break;
        }
        if (is_op(cur(p), "*") || is_op(cur(p), "**")) perr(p, cur(p)->line, "*args and **kwargs in calls are not supported");
        const char *kw = NULL;
        if (cur(p)->type == T_NAME && is_op(peek(p, 1), "=")) {
            kw = expect_name(p);
            next(p);
        } else {
            for (int i = 0; i < args.n; i++)
                if (args.names[i]) perr(p, cur(p)->line, "positional argument follows keyword argument");
        }
        nv_push(p, &args, parse_expr(p), kw);
    }
    expect_op(p, ")");
    n->list = args.v;
    n->names = args.names;
    n->n = args.n;
}

static jnode *parse_filter_expr(parser *p, jnode *e) {
    for (;;) {
        tok *t = cur(p);
        if (is_op(t, "|")) {
            next(p);
            jnode *f = node(p, N_FILTER, t->line);
            f->a = e;
            const char *name = expect_name(p);
            while (is_op(cur(p), ".")) { /* dotted filter names: joined */
                next(p);
                const char *more = expect_name(p);
                size_t k = strlen(name), m = strlen(more);
                char *s = ja_alloc(p->a, k + m + 2);
                memcpy(s, name, k);
                s[k] = '.';
                memcpy(s + k + 1, more, m + 1);
                name = s;
            }
            f->name = name;
            if (!jb_has_filter(name) && !p->in_if) perr(p, t->line, "No filter named '%s'.", name);
            if (is_op(cur(p), "(")) parse_args(p, f);
            e = f;
        } else if (is_name(t, "is")) {
            next(p);
            jnode *x = node(p, N_TEST, t->line);
            if (is_name(cur(p), "not")) {
                next(p);
                x->op = 1;
            }
            x->a = e;
            x->name = expect_name(p);
            if (!jb_has_test(x->name) && !p->in_if) perr(p, t->line, "No test named '%s'.", x->name);
            tok *u = cur(p);
            if (is_op(u, "(")) {
                parse_args(p, x);
            } else if ((u->type == T_NAME || u->type == T_STRING || u->type == T_INT || u->type == T_FLOAT || is_op(u, "[") ||
                        is_op(u, "{")) &&
                       !is_name(u, "else") && !is_name(u, "or") && !is_name(u, "and")) {
                if (is_name(u, "is")) perr(p, u->line, "you cannot chain multiple tests with is");
                jnode *arg = parse_postfix(p, parse_primary(p));
                x->list = ja_alloc(p->a, sizeof *x->list);
                x->names = ja_alloc(p->a, sizeof *x->names);
                x->list[0] = arg;
                x->n = 1;
            }
            e = x;
        } else if (is_op(t, "(")) {
            jnode *c = node(p, N_CALL, t->line);
            c->a = e;
            parse_args(p, c);
            e = c;
        } else {
            return e;
        }
    }
}

static jnode *parse_unary(parser *p, int with_filter) {
    enter(p);
    tok *t = cur(p);
    jnode *e;
    if (is_op(t, "-") || is_op(t, "+")) {
        next(p);
        e = node(p, t->p[0] == '-' ? N_NEG : N_POS, t->line);
        e->a = parse_unary(p, 0);
    } else {
        e = parse_primary(p);
    }
    e = parse_postfix(p, e);
    if (with_filter) e = parse_filter_expr(p, e);
    leave(p);
    return e;
}

static jnode *lit(parser *p, jval v, int line) {
    jnode *n = node(p, N_LIT, line);
    n->lit = v;
    return n;
}

static jnode *parse_primary(parser *p) {
    enter(p);
    tok *t = cur(p);
    jnode *e = NULL;
    switch (t->type) {
    case T_NAME:
        next(p);
        if (!strcmp(t->p, "true") || !strcmp(t->p, "True")) e = lit(p, jv_bool(1), t->line);
        else if (!strcmp(t->p, "false") || !strcmp(t->p, "False")) e = lit(p, jv_bool(0), t->line);
        else if (!strcmp(t->p, "none") || !strcmp(t->p, "None")) e = lit(p, jv_none(), t->line);
        else {
            e = node(p, N_NAME, t->line);
            e->name = t->p;
        }
        break;
    case T_STRING: {
        next(p);
        /* adjacent string literals join */
        size_t total = t->n;
        size_t k = 0;
        while (peek(p, k)->type == T_STRING) total += peek(p, k++)->n;
        if (k == 0) {
            e = lit(p, jv_strn(t->p, t->n), t->line);
        } else {
            char *s = ja_alloc(p->a, total + 1), *w = s;
            memcpy(w, t->p, t->n);
            w += t->n;
            while (cur(p)->type == T_STRING) {
                tok *u = next(p);
                memcpy(w, u->p, u->n);
                w += u->n;
            }
            e = lit(p, jv_strn(s, total), t->line);
        }
        break;
    }
    case T_INT: next(p); e = lit(p, jv_int(t->i), t->line); break;
    case T_FLOAT: next(p); e = lit(p, jv_float(t->f), t->line); break;
    case T_OP:
        if (!strcmp(t->p, "(")) {
            next(p);
            e = parse_tuple(p, 0, 1, NULL, 1);
            expect_op(p, ")");
        } else if (!strcmp(t->p, "[")) {
            next(p);
            nvec items = {0};
            while (!is_op(cur(p), "]")) {
                if (items.n) {
                    expect_op(p, ",");
                    if (is_op(cur(p), "]")) break;
                }
                nv_push(p, &items, parse_expr(p), NULL);
            }
            expect_op(p, "]");
            e = node(p, N_LIST, t->line);
            e->list = items.v;
            e->n = items.n;
        } else if (!strcmp(t->p, "{")) {
            next(p);
            nvec keys = {0}, vals = {0};
            while (!is_op(cur(p), "}")) {
                if (keys.n) {
                    expect_op(p, ",");
                    if (is_op(cur(p), "}")) break;
                }
                nv_push(p, &keys, parse_expr(p), NULL);
                expect_op(p, ":");
                nv_push(p, &vals, parse_expr(p), NULL);
            }
            expect_op(p, "}");
            e = node(p, N_DICT, t->line);
            e->list = keys.v;
            e->list2 = vals.v;
            e->n = keys.n;
            e->n2 = keys.n;
        }
        break;
    default: break;
    }
    if (!e) perr(p, t->line, "unexpected %s", tok_desc(t));
    leave(p);
    return e;
}

static jnode *parse_subscript_part(parser *p) {
    tok *t = cur(p);
    if (is_op(t, ":") || is_op(t, "]") || is_op(t, ",")) return NULL;
    return parse_expr(p);
}

static jnode *parse_postfix(parser *p, jnode *e) {
    for (;;) {
        tok *t = cur(p);
        if (is_op(t, ".")) {
            next(p);
            tok *u = next(p);
            jnode *n;
            if (u->type == T_NAME) {
                n = node(p, N_GETATTR, t->line);
                n->name = u->p;
            } else if (u->type == T_INT) {
                n = node(p, N_GETITEM, t->line);
                n->b = lit(p, jv_int(u->i), u->line);
            } else {
                perr(p, u->line, "expected name or number after '.'");
            }
            n->a = e;
            e = n;
        } else if (is_op(t, "[")) {
            next(p);
            jnode *start = parse_subscript_part(p);
            if (is_op(cur(p), ":")) {
                next(p);
                jnode *n = node(p, N_SLICE, t->line);
                n->a = e;
                n->b = start;
                n->c = parse_subscript_part(p);
                if (is_op(cur(p), ":")) {
                    next(p);
                    n->d = parse_subscript_part(p);
                }
                expect_op(p, "]");
                e = n;
            } else {
                if (!start) perr(p, t->line, "expected a subscript");
                if (is_op(cur(p), ",")) { /* x[a, b]: a tuple key */
                    jnode *tu = node(p, N_TUPLE, t->line);
                    nvec items = {0};
                    nv_push(p, &items, start, NULL);
                    while (is_op(cur(p), ",")) {
                        next(p);
                        if (is_op(cur(p), "]")) break;
                        nv_push(p, &items, parse_expr(p), NULL);
                    }
                    tu->list = items.v;
                    tu->n = items.n;
                    start = tu;
                }
                expect_op(p, "]");
                jnode *n = node(p, N_GETITEM, t->line);
                n->a = e;
                n->b = start;
                e = n;
            }
        } else if (is_op(t, "(")) {
            jnode *c = node(p, N_CALL, t->line);
            c->a = e;
            parse_args(p, c);
            e = c;
        } else {
            return e;
        }
    }
}

/* ---------------------------------------------------------------- statements */

static jnode *subparse(parser *p, const char *const *ends, const char **found);

static void end_block(parser *p) { expect_type(p, T_BLOCK_END, "end of statement block ('%}')"); }

/* An assignment target: a name, `ns.attr`, or a tuple of names. */
static jnode *parse_assign_target(parser *p, int allow_attr, const char *extra_end) {
    tok *t = cur(p);
    if (allow_attr && t->type == T_NAME && is_op(peek(p, 1), ".") && peek(p, 2)->type == T_NAME) {
        jnode *n = node(p, N_GETATTR, t->line);
        jnode *base = node(p, N_NAME, t->line);
        base->name = t->p;
        next(p);
        next(p);
        n->name = expect_name(p);
        n->a = base;
        return n;
    }
    jnode *x = parse_tuple(p, 1, 0, extra_end, 0);
    if (x->kind == N_TUPLE && x->n == 0) perr(p, t->line, "can't assign to an empty tuple");
    for (int i = 0; x->kind == N_TUPLE && i < x->n; i++)
        if (!strcmp(x->list[i]->name, "loop") || !strcmp(x->list[i]->name, "true") || !strcmp(x->list[i]->name, "none"))
            perr(p, t->line, "can't assign to '%s'", x->list[i]->name);
    return x;
}

static jnode *body_node(parser *p, nvec *v, int line) {
    jnode *b = node(p, N_BODY, line);
    b->list = v->v;
    b->n = v->n;
    return b;
}

static jnode *parse_for(parser *p, int line) {
    jnode *n = node(p, N_FOR, line);
    n->a = parse_assign_target(p, 0, "in");
    if (!is_name(cur(p), "in")) perr(p, cur(p)->line, "expected 'in' in the for loop, got %s", tok_desc(cur(p)));
    next(p);
    n->b = parse_tuple(p, 0, 0, "recursive", 0);
    if (is_name(cur(p), "if")) {
        next(p);
        n->c = parse_expr(p);
    }
    if (is_name(cur(p), "recursive")) {
        next(p);
        n->op = 1;
    }
    end_block(p);
    static const char *const ends[] = {"endfor", "else", NULL};
    const char *found;
    n->d = subparse(p, ends, &found);
    if (!strcmp(found, "else")) {
        next(p);
        end_block(p);
        static const char *const ends2[] = {"endfor", NULL};
        n->list2 = ja_alloc(p->a, sizeof *n->list2);
        n->list2[0] = subparse(p, ends2, &found);
        n->n2 = 1;
    }
    next(p);
    end_block(p);
    return n;
}

static jnode *parse_if(parser *p, int line) {
    jnode *n = node(p, N_IF, line);
    n->a = parse_tuple(p, 0, 1, NULL, 0);
    end_block(p);
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    const char *found;
    p->in_if++;
    n->b = subparse(p, ends, &found);
    jnode *tail = n;
    while (!strcmp(found, "elif")) {
        int l = next(p)->line;
        jnode *e = node(p, N_IF, l);
        e->a = parse_tuple(p, 0, 1, NULL, 0);
        end_block(p);
        e->b = subparse(p, ends, &found);
        tail->c = e;
        tail = e;
    }
    if (!strcmp(found, "else")) {
        next(p);
        end_block(p);
        static const char *const ends2[] = {"endif", NULL};
        tail->c = subparse(p, ends2, &found);
    }
    p->in_if--;
    next(p);
    end_block(p);
    return n;
}

/* Macro / call-block parameters: (a, b=default, ...). */
static void parse_signature(parser *p, jnode *n) {
    nvec params = {0};
    nvec defs = {0};
    expect_op(p, "(");
    while (!is_op(cur(p), ")")) {
        if (params.n) expect_op(p, ",");
        if (is_op(cur(p), ")")) break;
        const char *name = expect_name(p);
        jnode *d = NULL;
        if (is_op(cur(p), "=")) {
            next(p);
            d = parse_expr(p);
        } else if (defs.n && defs.v[defs.n - 1]) {
            perr(p, cur(p)->line, "non-default argument follows default argument");
        }
        nv_push(p, &params, NULL, name);
        nv_push(p, &defs, d, NULL);
    }
    expect_op(p, ")");
    n->names = params.names;
    n->nnames = params.n;
    n->list = defs.v;
    n->n = defs.n;
}

/* Whether the subtree N reads the variable NAME (macros: varargs / kwargs). */
static int uses_name(const jnode *n, const char *name) {
    if (!n) return 0;
    if (n->kind == N_NAME && !strcmp(n->name, name)) return 1;
    if (n->kind == N_MACRO && n->name && strcmp(n->name, "caller")) return 0; /* a nested macro has its own */
    if (uses_name(n->a, name) || uses_name(n->b, name) || uses_name(n->c, name) || uses_name(n->d, name)) return 1;
    for (int i = 0; i < n->n; i++)
        if (n->list && uses_name(n->list[i], name)) return 1;
    for (int i = 0; i < n->n2; i++)
        if (n->list2 && uses_name(n->list2[i], name)) return 1;
    return 0;
}

static jnode *parse_statement(parser *p) {
    tok *bt = next(p); /* T_BLOCK_BEGIN */
    tok *t = cur(p);
    if (t->type != T_NAME) perr(p, bt->line, "tag name expected");
    const char *tag = t->p;
    int line = t->line;
    next(p);
    const char *found;
    jnode *n;
    enter(p);
    if (!strcmp(tag, "for")) {
        n = parse_for(p, line);
    } else if (!strcmp(tag, "if")) {
        n = parse_if(p, line);
    } else if (!strcmp(tag, "set")) {
        jnode *target = parse_assign_target(p, 1, NULL);
        if (is_op(cur(p), "=")) {
            next(p);
            n = node(p, N_SET, line);
            n->a = target;
            n->b = parse_tuple(p, 0, 1, NULL, 0);
            end_block(p);
        } else {
            n = node(p, N_SETBLOCK, line);
            n->a = target;
            if (is_op(cur(p), "|")) { /* {% set x | filter %}: applied to the body */
                jnode *holder = node(p, N_LIT, line);
                n->c = parse_filter_expr(p, holder);
                n->d = holder;
            }
            end_block(p);
            static const char *const ends[] = {"endset", NULL};
            n->b = subparse(p, ends, &found);
            next(p);
            end_block(p);
        }
    } else if (!strcmp(tag, "macro")) {
        n = node(p, N_MACRO, line);
        n->name = expect_name(p);
        parse_signature(p, n);
        end_block(p);
        static const char *const ends[] = {"endmacro", NULL};
        n->b = subparse(p, ends, &found);
        n->op = (uses_name(n->b, "varargs") ? MACRO_USES_VARARGS : 0) | (uses_name(n->b, "kwargs") ? MACRO_USES_KWARGS : 0);
        next(p);
        if (cur(p)->type == T_NAME) next(p); /* {% endmacro name %} */
        end_block(p);
    } else if (!strcmp(tag, "call")) {
        n = node(p, N_CALLBLOCK, line);
        jnode *sig = node(p, N_MACRO, line);
        sig->name = "caller";
        if (is_op(cur(p), "(")) parse_signature(p, sig);
        n->a = parse_expr(p);
        if (n->a->kind != N_CALL) perr(p, line, "expected a call in {%% call %%}");
        end_block(p);
        static const char *const ends[] = {"endcall", NULL};
        sig->b = subparse(p, ends, &found);
        sig->op = (uses_name(sig->b, "varargs") ? MACRO_USES_VARARGS : 0) | (uses_name(sig->b, "kwargs") ? MACRO_USES_KWARGS : 0);
        n->b = sig;
        next(p);
        end_block(p);
    } else if (!strcmp(tag, "filter")) {
        n = node(p, N_FILTERBLOCK, line);
        jnode *holder = node(p, N_LIT, line), *chain = holder;
        for (;;) { /* name(args) | name(args) ... */
            jnode *f = node(p, N_FILTER, cur(p)->line);
            f->name = expect_name(p);
            if (!jb_has_filter(f->name) && !p->in_if) perr(p, f->line, "No filter named '%s'.", f->name);
            f->a = chain;
            if (is_op(cur(p), "(")) parse_args(p, f);
            chain = f;
            if (!is_op(cur(p), "|")) break;
            next(p);
        }
        n->c = chain;
        n->d = holder;
        end_block(p);
        static const char *const ends[] = {"endfilter", NULL};
        n->b = subparse(p, ends, &found);
        next(p);
        end_block(p);
    } else if (!strcmp(tag, "with")) {
        n = node(p, N_WITH, line);
        nvec targets = {0};
        while (cur(p)->type != T_BLOCK_END) {
            if (targets.n) expect_op(p, ",");
            const char *name = expect_name(p);
            expect_op(p, "=");
            nv_push(p, &targets, parse_expr(p), name);
        }
        n->list = targets.v;
        n->names = targets.names;
        n->n = targets.n;
        end_block(p);
        static const char *const ends[] = {"endwith", NULL};
        n->b = subparse(p, ends, &found);
        next(p);
        end_block(p);
    } else if (!strcmp(tag, "generation") || !strcmp(tag, "autoescape")) {
        /* transformers' {% generation %} only outputs its body; autoescape has no effect
         * on plain-text output beyond what |escape does */
        if (!strcmp(tag, "autoescape")) parse_expr(p);
        end_block(p);
        static const char *const ends_g[] = {"endgeneration", NULL}, *const ends_a[] = {"endautoescape", NULL};
        n = subparse(p, tag[0] == 'g' ? ends_g : ends_a, &found);
        next(p);
        end_block(p);
    } else if (!strcmp(tag, "break") || !strcmp(tag, "continue")) {
        n = node(p, tag[0] == 'b' ? N_BREAK : N_CONTINUE, line);
        end_block(p);
    } else if (!strcmp(tag, "include") || !strcmp(tag, "import") || !strcmp(tag, "from") || !strcmp(tag, "extends") ||
               !strcmp(tag, "block")) {
        perr(p, line, "'%s' is not supported: a chat template cannot load other templates", tag);
    } else {
        perr(p, line, "Encountered unknown tag '%s'", tag);
    }
    leave(p);
    return n;
}

/* Nodes up to a block tag whose name is in ENDS (NULL-terminated; NULL ENDS: up to EOF).
 * Leaves the parser on that name token; *found is the name. */
static jnode *subparse(parser *p, const char *const *ends, const char **found) {
    nvec body = {0};
    int line = cur(p)->line;
    for (;;) {
        tok *t = cur(p);
        if (t->type == T_EOF) {
            if (ends) perr(p, t->line, "unexpected end of template: expected '%s'", ends[0]);
            break;
        }
        if (t->type == T_DATA) {
            next(p);
            nv_push(p, &body, lit(p, jv_strn(t->p, t->n), t->line), NULL);
            body.v[body.n - 1]->kind = N_TEXT;
        } else if (t->type == T_VAR_BEGIN) {
            next(p);
            jnode *o = node(p, N_OUTPUT, t->line);
            o->a = parse_tuple(p, 0, 1, NULL, 0);
            expect_type(p, T_VAR_END, "end of print statement ('}}')");
            nv_push(p, &body, o, NULL);
        } else if (t->type == T_BLOCK_BEGIN) {
            tok *name = peek(p, 1);
            if (ends && name->type == T_NAME) {
                for (int i = 0; ends[i]; i++)
                    if (!strcmp(name->p, ends[i])) {
                        next(p);
                        *found = ends[i];
                        return body_node(p, &body, line);
                    }
            }
            if (name->type == T_NAME &&
                (!strncmp(name->p, "end", 3) || !strcmp(name->p, "else") || !strcmp(name->p, "elif")))
                perr(p, name->line, "Encountered unknown tag '%s'%s%s%s", name->p, ends ? ": expected '" : "",
                     ends ? ends[0] : "", ends ? "'" : "");
            nv_push(p, &body, parse_statement(p), NULL);
        } else {
            perr(p, t->line, "unexpected %s", tok_desc(t));
        }
    }
    return body_node(p, &body, line);
}

int sl_jinja_parse(const char *src, size_t len, sl_jinja **out, char *err, size_t errlen) {
    *out = NULL;
    sl_jinja *t = calloc(1, sizeof *t);
    if (!t) return sl__errf(err, errlen, SL_ENOMEM, "out of memory");
    parser p = {.a = &t->arena, .err = err, .errlen = errlen};
    t->arena.cap = (size_t)1 << 30;
    t->arena.fail = &p.jb;
    t->arena.fail_code = &p.code;
    if (setjmp(p.jb)) {
        ja_free_all(&t->arena);
        free(t);
        if (p.code != SL_EFORMAT) return sl__errf(err, errlen, p.code, "out of memory parsing the template");
        return p.code;
    }
    /* newlines normalised to \n, one trailing newline dropped (keep_trailing_newline=False) */
    char *s = ja_alloc(&t->arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            s[n++] = src[i];
        }
    }
    if (n && s[n - 1] == '\n') n--;
    s[n] = 0;
    lex(&p, s, n);
    const char *found = NULL;
    t->root = subparse(&p, NULL, &found);
    p.toks = NULL; /* tokens stay in the arena (strings point into them) */
    t->arena.fail = NULL;
    t->arena.fail_code = NULL;
    *out = t;
    return 0;
}

void sl_jinja_free(sl_jinja *t) {
    if (!t) return;
    ja_free_all(&t->arena);
    free(t);
}
