/* toolcall.c — generated text → content, reasoning and tool calls (see toolcall.h).
 *
 * One state machine serves the one-shot and the streaming parse: the parser keeps the text it
 * has not decided yet in PEND and, at each feed, decides as much of it as the text seen so far
 * allows; a decision never depends on where the text was cut, only on the bytes up to the point
 * decided. A failed call (bad JSON or shape) gives back its marker as content and scanning goes
 * on right after the marker, so what follows is judged as it would be anyway. */
#include "toolcall.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define THINK_OPEN "<think>"
#define THINK_CLOSE "</think>"
#define HERMES_OPEN "<tool_call>"
#define HERMES_CLOSE "</tool_call>"
#define MISTRAL_OPEN "[TOOL_CALLS]"
#define MISTRAL_ARGS "[ARGS]"
#define PYTHON_TAG "<|python_tag|>"
#define JSON_MAX_DEPTH 256  /* deeper call JSON is not a call */
#define NAME_MAX_LEN 256    /* longer function names are not calls */

const char *sl_toolcall_format_name(sl_toolcall_format f) {
    switch (f) {
    case SL_TOOLCALL_HERMES: return "hermes";
    case SL_TOOLCALL_LLAMA3_JSON: return "llama3_json";
    case SL_TOOLCALL_MISTRAL: return "mistral";
    default: return "none";
    }
}

int sl_toolcall_format_parse(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "auto") == 0) return -2;
    for (int f = SL_TOOLCALL_NONE; f <= SL_TOOLCALL_MISTRAL; f++)
        if (strcmp(name, sl_toolcall_format_name((sl_toolcall_format)f)) == 0) return f;
    return -1;
}

sl_toolcall_format sl_toolcall_detect(const char *t) {
    if (!t) return SL_TOOLCALL_NONE;
    if (strstr(t, HERMES_OPEN)) return SL_TOOLCALL_HERMES;
    if (strstr(t, MISTRAL_OPEN)) return SL_TOOLCALL_MISTRAL;
    if (strstr(t, PYTHON_TAG) || strstr(t, "ipython")) return SL_TOOLCALL_LLAMA3_JSON;
    return SL_TOOLCALL_NONE;
}

int sl_toolcall_detect_reasoning(const char *t) { return t && (strstr(t, THINK_OPEN) || strstr(t, THINK_CLOSE)); }

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int sl_toolcall_prompt_opens_think(const char *s, size_t n) {
    while (n && is_ws(s[n - 1])) n--;
    size_t k = sizeof THINK_OPEN - 1;
    return n >= k && memcmp(s + n - k, THINK_OPEN, k) == 0;
}

void sl_toolcall_out_clear(sl_toolcall_out *o) {
    for (int i = 0; i < o->n_calls; i++) {
        free(o->calls[i].name);
        free(o->calls[i].arguments);
    }
    o->n_calls = 0;
    o->content.len = 0;
    o->reasoning.len = 0;
    if (o->content.p) o->content.p[0] = 0;
    if (o->reasoning.p) o->reasoning.p[0] = 0;
}

void sl_toolcall_out_free(sl_toolcall_out *o) {
    sl_toolcall_out_clear(o);
    sl_buf_free(&o->content);
    sl_buf_free(&o->reasoning);
    free(o->calls);
    memset(o, 0, sizeof *o);
}

/* ---------------------------------------------------------------- JSON pieces */

/* The length of the JSON object or array at S (S[0] is '{' or '['), found by matching brackets
 * outside strings: > 0 complete; 0 not complete within N bytes; -1 it can never be (a closing
 * bracket that does not match, or deeper than JSON_MAX_DEPTH). The content is checked later by
 * jansson; this only finds where a value ends. */
static long json_span(const char *s, size_t n) {
    char stack[JSON_MAX_DEPTH];
    int depth = 0, in_str = 0, esc = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (depth == JSON_MAX_DEPTH) return -1;
            stack[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c) return -1;
            if (--depth == 0) return (long)(i + 1);
        }
        if (depth == 0) return -1; /* S did not start with a bracket */
    }
    return 0;
}

/* The arguments of a call as compact JSON text: an object, a string holding an object (some
 * models quote it), or absent/null (no arguments: "{}"). NULL when it is anything else. */
static char *args_text(json_t *a) {
    if (!a || json_is_null(a)) return strdup("{}");
    if (json_is_object(a)) return json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (json_is_string(a)) {
        json_t *o = json_loadb(json_string_value(a), json_string_length(a), JSON_REJECT_DUPLICATES, NULL);
        char *s = json_is_object(o) ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        return s;
    }
    return NULL;
}

static int valid_name(const char *s, size_t n) { return n > 0 && n <= NAME_MAX_LEN && !memchr(s, 0, n); }

/* Appends a call to OUT: 0, -1 not a valid call (nothing appended), SL_ENOMEM. */
static int add_call(sl_toolcall_out *out, const char *name, size_t name_len, json_t *args) {
    if (!valid_name(name, name_len)) return -1;
    char *a = args_text(args);
    if (!a) return -1;
    if (out->n_calls == out->cap_calls) {
        int cap = out->cap_calls ? 2 * out->cap_calls : 4;
        sl_toolcall *c = realloc(out->calls, (size_t)cap * sizeof *c);
        if (!c) {
            free(a);
            return SL_ENOMEM;
        }
        out->calls = c;
        out->cap_calls = cap;
    }
    char *nm = strndup(name, name_len);
    if (!nm) {
        free(a);
        return SL_ENOMEM;
    }
    out->calls[out->n_calls++] = (sl_toolcall){.name = nm, .arguments = a};
    return 0;
}

/* A call object {"name": N, ARGS_KEY: {...}} (ARGS_KEY2 as an alternative key). */
static int add_call_obj(sl_toolcall_out *out, json_t *o, const char *args_key, const char *args_key2) {
    json_t *name = json_object_get(o, "name");
    if (!json_is_object(o) || !json_is_string(name)) return -1;
    json_t *args = json_object_get(o, args_key);
    if (!args && args_key2) args = json_object_get(o, args_key2);
    return add_call(out, json_string_value(name), json_string_length(name), args);
}

/* The calls of one JSON text (an object, or for ARRAY_OK an array of them) appended to OUT all
 * or none: 0, -1 not calls, SL_ENOMEM. */
static int add_calls_json(sl_toolcall_out *out, const char *s, size_t n, int array_ok, const char *args_key,
                          const char *args_key2) {
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return -1;
    int first = out->n_calls, rc = 0;
    if (json_is_array(j) && array_ok) {
        size_t i;
        json_t *o;
        if (json_array_size(j) == 0) rc = -1;
        json_array_foreach(j, i, o) {
            if ((rc = add_call_obj(out, o, args_key, args_key2)) != 0) break;
        }
    } else {
        rc = add_call_obj(out, j, args_key, args_key2);
    }
    json_decref(j);
    if (rc) { /* all or none */
        for (int i = first; i < out->n_calls; i++) {
            free(out->calls[i].name);
            free(out->calls[i].arguments);
        }
        out->n_calls = first;
    }
    return rc;
}

/* ---------------------------------------------------------------- the parser */

enum state {
    ST_START,   /* at the start of the answer (output start, or after </think>) */
    ST_CONTENT, /* plain text, looking for a call marker */
    ST_THINK,   /* inside <think> */
    ST_CALL     /* PEND holds [whitespace] marker ...: a call being read */
};

struct sl_toolcall_parser {
    sl_toolcall_format fmt;
    int reasoning;
    enum state st;
    int think_done; /* a <think> block was seen (or can no longer start) */
    int drop_ws;    /* leading whitespace is layout (after a call or </think>) */
    int final;
    int n_calls;
    size_t mark;    /* ST_CALL: offset of the marker in PEND (whitespace before it) */
    size_t resume;  /* ST_CALL hermes: where to go on looking for the close marker */
    size_t scan;    /* ST_CALL llama3_json: where the next unchecked piece starts (0: none checked) */
    sl_toolcall_out held; /* llama3_json: the calls checked so far, until the answer ends */
    sl_buf pend;    /* text not decided yet */
};

int sl_toolcall_parser_new(sl_toolcall_parser **out, sl_toolcall_format fmt, int reasoning, int think_open) {
    sl_toolcall_parser *p = calloc(1, sizeof *p);
    if (!p) return SL_ENOMEM;
    p->fmt = fmt;
    p->reasoning = reasoning;
    p->st = reasoning && think_open ? ST_THINK : ST_START;
    p->think_done = !reasoning || think_open;
    *out = p;
    return 0;
}

void sl_toolcall_parser_free(sl_toolcall_parser *p) {
    if (!p) return;
    sl_buf_free(&p->pend);
    sl_toolcall_out_free(&p->held);
    free(p);
}

int sl_toolcall_count(const sl_toolcall_parser *p) { return p->n_calls; }

/* Drops the first K bytes of PEND. */
static void consume(sl_toolcall_parser *p, size_t k) {
    if (!k) return;
    memmove(p->pend.p, p->pend.p + k, p->pend.len - k);
    p->pend.len -= k;
    if (p->pend.p) p->pend.p[p->pend.len] = 0;
}

/* Moves the first K bytes of PEND to DST. */
static int emit(sl_toolcall_parser *p, sl_buf *dst, size_t k) {
    if (k && sl_buf_put(dst, p->pend.p, k) != 0) return SL_ENOMEM;
    consume(p, k);
    return 0;
}

/* Where a suffix of S[0..N) that is a proper prefix of MARKER begins (N if none). */
static size_t partial_at(const char *s, size_t n, const char *marker) {
    size_t m = strlen(marker);
    for (size_t k = m - 1 < n ? m - 1 : n; k > 0; k--)
        if (memcmp(s + n - k, marker, k) == 0) return n - k;
    return n;
}

/* 1: S[0..N) starts with MARKER; 0: it cannot; -1: too short to tell yet. */
static int starts(const char *s, size_t n, const char *marker) {
    size_t m = strlen(marker);
    if (n >= m) return memcmp(s, marker, m) == 0;
    return memcmp(s, marker, n) == 0 ? -1 : 0;
}

static const char *call_marker(sl_toolcall_format f) {
    return f == SL_TOOLCALL_HERMES ? HERMES_OPEN : f == SL_TOOLCALL_MISTRAL ? MISTRAL_OPEN : NULL;
}

/* A call that did not come true: its whitespace and marker become content, and scanning goes
 * on right after the marker. */
static int call_failed(sl_toolcall_parser *p, sl_toolcall_out *out, size_t marker_len) {
    p->st = ST_CONTENT;
    p->drop_ws = 0;
    return emit(p, &out->content, p->mark + marker_len);
}

/* A call that came true: its text (from the whitespace before it up to END) is gone. */
static void call_done(sl_toolcall_parser *p, sl_toolcall_out *out, int first, size_t end) {
    p->n_calls += out->n_calls - first;
    p->st = ST_CONTENT;
    p->drop_ws = 1;
    consume(p, end);
}

/* Result of a step: go on, or wait for more text. */
enum { GO = 0, WAIT = 1 };

static int step_start(sl_toolcall_parser *p) {
    const char *s = p->pend.p;
    size_t n = p->pend.len, i = 0;
    while (i < n && is_ws(s[i])) i++;
    if (i == n && !p->final) return WAIT;
    if (i < n && !p->think_done) {
        int t = starts(s + i, n - i, THINK_OPEN);
        if (t < 0 && !p->final) return WAIT;
        if (t > 0) {
            consume(p, i + strlen(THINK_OPEN));
            p->think_done = 1;
            p->st = ST_THINK;
            return GO;
        }
    }
    p->think_done = 1;
    if (p->drop_ws) { /* after </think> */
        consume(p, i);
        s = p->pend.p;
        n = p->pend.len;
        i = 0;
        p->drop_ws = 0;
    }
    if (i < n && p->fmt == SL_TOOLCALL_LLAMA3_JSON) {
        int t = s[i] == '{' ? 1 : starts(s + i, n - i, PYTHON_TAG);
        if (t < 0 && !p->final) return WAIT;
        if (t > 0) {
            p->mark = 0; /* the whole answer is the call, or content */
            p->st = ST_CALL;
            return GO;
        }
    }
    p->st = ST_CONTENT;
    return GO;
}

static int step_think(sl_toolcall_parser *p, sl_toolcall_out *out) {
    const char *s = p->pend.p;
    size_t n = p->pend.len;
    const char *e = n ? memmem(s, n, THINK_CLOSE, strlen(THINK_CLOSE)) : NULL;
    if (e) {
        if (emit(p, &out->reasoning, (size_t)(e - s)) != 0) return SL_ENOMEM;
        consume(p, strlen(THINK_CLOSE));
        p->st = ST_START;
        p->drop_ws = 1;
        return GO;
    }
    if (emit(p, &out->reasoning, p->final ? n : partial_at(s, n, THINK_CLOSE)) != 0) return SL_ENOMEM;
    return WAIT;
}

static int step_content(sl_toolcall_parser *p, sl_toolcall_out *out) {
    if (p->drop_ws) { /* after a call: whitespace up to the next call or the end is layout */
        size_t i = 0;
        while (i < p->pend.len && is_ws(p->pend.p[i])) i++;
        if (i == p->pend.len) {
            if (p->final) consume(p, i);
            return WAIT;
        }
        p->drop_ws = 0;
    }
    const char *s = p->pend.p, *marker = call_marker(p->fmt);
    size_t n = p->pend.len;
    if (!marker) /* no markers to look for: everything is content */
        return emit(p, &out->content, n) ? SL_ENOMEM : WAIT;
    const char *m = n ? memmem(s, n, marker, strlen(marker)) : NULL;
    size_t upto = m ? (size_t)(m - s) : p->final ? n : partial_at(s, n, marker);
    size_t w = upto; /* whitespace before a (possible) marker waits with it */
    if (m || !p->final)
        while (w > 0 && is_ws(s[w - 1])) w--;
    if (emit(p, &out->content, w) != 0) return SL_ENOMEM;
    if (!m) return WAIT;
    p->mark = upto - w;
    p->resume = p->mark + strlen(marker);
    p->st = ST_CALL;
    return GO;
}

/* Hermes: <tool_call> JSON </tool_call>, or to the end of the text. */
static int step_hermes(sl_toolcall_parser *p, sl_toolcall_out *out) {
    const char *s = p->pend.p;
    size_t n = p->pend.len, body = p->mark + strlen(HERMES_OPEN), cl = strlen(HERMES_CLOSE);
    const char *e = p->resume < n ? memmem(s + p->resume, n - p->resume, HERMES_CLOSE, cl) : NULL;
    if (!e && !p->final) {
        p->resume = n >= cl ? (n - cl + 1 > body ? n - cl + 1 : body) : body;
        return WAIT;
    }
    size_t end = e ? (size_t)(e - s) : n;
    int first = out->n_calls;
    int rc = add_calls_json(out, s + body, end - body, 0, "arguments", "parameters");
    if (rc == SL_ENOMEM) return rc;
    if (rc) return call_failed(p, out, strlen(HERMES_OPEN));
    call_done(p, out, first, e ? end + cl : n);
    return GO;
}

/* Mistral: [TOOL_CALLS] then a JSON array of calls (or one call object), or name[ARGS]{...}. */
static int step_mistral(sl_toolcall_parser *p, sl_toolcall_out *out) {
    const char *s = p->pend.p;
    size_t n = p->pend.len, ml = strlen(MISTRAL_OPEN), i = p->mark + ml;
    while (i < n && is_ws(s[i])) i++;
    if (i == n) return p->final ? call_failed(p, out, ml) : WAIT;
    int first = out->n_calls, rc;
    if (s[i] == '[' || s[i] == '{') {
        long sp = json_span(s + i, n - i);
        if (sp == 0 && !p->final) return WAIT;
        if (sp <= 0) return call_failed(p, out, ml);
        rc = add_calls_json(out, s + i, (size_t)sp, 1, "arguments", NULL);
        if (rc == SL_ENOMEM) return rc;
        if (rc) return call_failed(p, out, ml);
        call_done(p, out, first, i + (size_t)sp);
        return GO;
    }
    /* name[ARGS]{...} */
    size_t k = i;
    while (k < n && k - i <= NAME_MAX_LEN &&
           (s[k] == '_' || s[k] == '-' || s[k] == '.' || (s[k] >= '0' && s[k] <= '9') || ((s[k] | 32) >= 'a' && (s[k] | 32) <= 'z')))
        k++;
    if (k == i || k - i > NAME_MAX_LEN) return call_failed(p, out, ml);
    int t = starts(s + k, n - k, MISTRAL_ARGS);
    if (t < 0 || (t > 0 && k + strlen(MISTRAL_ARGS) == n)) return p->final ? call_failed(p, out, ml) : WAIT;
    if (t == 0) return call_failed(p, out, ml);
    size_t a = k + strlen(MISTRAL_ARGS);
    if (s[a] != '{') return call_failed(p, out, ml);
    long sp = json_span(s + a, n - a);
    if (sp == 0 && !p->final) return WAIT;
    if (sp <= 0) return call_failed(p, out, ml);
    json_t *args = json_loadb(s + a, (size_t)sp, JSON_REJECT_DUPLICATES, NULL);
    rc = args ? add_call(out, s + i, k - i, args) : -1;
    json_decref(args);
    if (rc == SL_ENOMEM) return rc;
    if (rc) return call_failed(p, out, ml);
    call_done(p, out, first, a + (size_t)sp);
    return GO;
}

/* Llama 3 JSON: the whole answer is [<|python_tag|>] call (; call)*, each call an object with
 * "name" and "parameters" (or "arguments"). Decided when a complete piece fails, or at the end;
 * the pieces checked so far wait in p->held (p->scan: where the next one starts). */
static int step_llama3(sl_toolcall_parser *p, sl_toolcall_out *out) {
    const char *s = p->pend.p;
    size_t n = p->pend.len, i = p->scan;
    if (i == 0) {
        while (i < n && is_ws(s[i])) i++;
        if (starts(s + i, n - i, PYTHON_TAG) > 0) i += strlen(PYTHON_TAG);
    }
    int ok = 1;
    for (;;) {
        while (i < n && is_ws(s[i])) i++;
        if (i == n) {
            if (!p->final) ok = -1; /* wait */
            else if (!p->held.n_calls) ok = 0;
            break;
        }
        if (s[i] == ';' && p->held.n_calls) {
            i++;
            continue;
        }
        if (s[i] != '{') {
            ok = 0;
            break;
        }
        long sp = json_span(s + i, n - i);
        if (sp == 0 && !p->final) {
            ok = -1;
            break;
        }
        int rc = sp > 0 ? add_calls_json(&p->held, s + i, (size_t)sp, 0, "parameters", "arguments") : -1;
        if (rc == SL_ENOMEM) return rc;
        if (rc) {
            ok = 0;
            break;
        }
        i += (size_t)sp;
        p->scan = i;
    }
    if (ok < 0) return WAIT;
    if (ok == 0) { /* not calls: the answer is content */
        sl_toolcall_out_clear(&p->held);
        p->st = ST_CONTENT;
        return emit(p, &out->content, n) ? SL_ENOMEM : WAIT;
    }
    int first = out->n_calls;
    for (int k = 0; k < p->held.n_calls; k++) { /* hand the calls over */
        if (out->n_calls == out->cap_calls) {
            int cap = out->cap_calls ? 2 * out->cap_calls : 4;
            sl_toolcall *c = realloc(out->calls, (size_t)cap * sizeof *c);
            if (!c) return SL_ENOMEM;
            out->calls = c;
            out->cap_calls = cap;
        }
        out->calls[out->n_calls++] = p->held.calls[k];
        p->held.calls[k] = (sl_toolcall){0};
    }
    p->held.n_calls = 0;
    call_done(p, out, first, n);
    return GO;
}

int sl_toolcall_feed(sl_toolcall_parser *p, const char *text, size_t n, int final, sl_toolcall_out *out) {
    if (p->final) return SL_EINVAL;
    if (n && sl_buf_put(&p->pend, text, n) != 0) return SL_ENOMEM;
    p->final = final;
    for (;;) {
        int rc;
        switch (p->st) {
        case ST_START: rc = step_start(p); break;
        case ST_THINK: rc = step_think(p, out); break;
        case ST_CONTENT: rc = step_content(p, out); break;
        default:
            rc = p->fmt == SL_TOOLCALL_HERMES ? step_hermes(p, out)
                 : p->fmt == SL_TOOLCALL_MISTRAL ? step_mistral(p, out)
                                                 : step_llama3(p, out);
        }
        if (rc < 0) return rc;
        if (rc == WAIT) break;
    }
    return 0;
}

int sl_toolcall_parse(sl_toolcall_format fmt, int reasoning, int think_open, const char *text, size_t n,
                      sl_toolcall_out *out) {
    sl_toolcall_parser *p;
    int rc = sl_toolcall_parser_new(&p, fmt, reasoning, think_open);
    if (rc) return rc;
    rc = sl_toolcall_feed(p, text, n, 1, out);
    sl_toolcall_parser_free(p);
    return rc;
}
