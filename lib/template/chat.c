/* chat.c — recognition and rendering of chat templates (see chat.h). */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"

const char *sl_chat_format_name(sl_chat_format f) {
    switch (f) {
    case SL_CHAT_CHATML: return "chatml";
    case SL_CHAT_LLAMA3: return "llama3";
    case SL_CHAT_LLAMA2: return "llama2";
    case SL_CHAT_MISTRAL: return "mistral";
    default: return "unknown";
    }
}

int sl_chat_format_parse(const char *name) {
    if (!name || !*name || !strcmp(name, "auto")) return SL_CHAT_UNKNOWN;
    for (int f = SL_CHAT_CHATML; f <= SL_CHAT_MISTRAL; f++)
        if (!strcmp(name, sl_chat_format_name((sl_chat_format)f))) return f;
    return -1;
}

sl_chat_format sl_chat_detect(const char *t) {
    if (!t) return SL_CHAT_UNKNOWN;
    if (strstr(t, "<|start_header_id|>") && strstr(t, "<|eot_id|>")) return SL_CHAT_LLAMA3;
    if (strstr(t, "<|im_start|>") && strstr(t, "<|im_end|>")) return SL_CHAT_CHATML;
    if (strstr(t, "[INST]") && strstr(t, "[/INST]")) return strstr(t, "<<SYS>>") ? SL_CHAT_LLAMA2 : SL_CHAT_MISTRAL;
    return SL_CHAT_UNKNOWN;
}

/* A special token in tokenizer_config.json: "text" or {"content": "text", ...}. */
static void token_field(const json_t *cfg, const char *key, char *out, size_t outlen) {
    const json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (json_is_string(v) && json_string_length(v) < outlen) snprintf(out, outlen, "%s", json_string_value(v));
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char tmp[4096];
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        memcpy(buf + len, tmp, n);
        len += n;
    }
    fclose(f);
    if (!buf) buf = calloc(1, 1);
    else buf[len] = 0;
    return buf;
}

int sl_chat_init(sl_chat *c, const char *model_dir, const char *force, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    int forced = sl_chat_format_parse(force);
    if (forced < 0)
        return sl__errf(err, errlen, SL_EINVAL, "unknown chat template '%s' (auto, chatml, llama3, llama2, mistral)",
                        force);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", model_dir);
    json_error_t je;
    json_t *cfg = json_load_file(path, JSON_DECODE_INT_AS_REAL, &je); /* model_max_length is often 1e30 */
    if (!cfg) {
        FILE *f = fopen(path, "rb");
        if (!f) cfg = json_object(); /* no tokenizer_config.json: no template, default tokens */
        else {
            fclose(f);
            return sl__errf(err, errlen, SL_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
        }
    }
    token_field(cfg, "bos_token", c->bos, sizeof c->bos);
    token_field(cfg, "eos_token", c->eos, sizeof c->eos);
    const char *tmpl = NULL;
    char *file_tmpl = NULL;
    const json_t *ct = json_object_get(cfg, "chat_template");
    if (json_is_string(ct)) {
        tmpl = json_string_value(ct);
    } else if (json_is_array(ct)) { /* [{name, template}]: the one named "default", else the first */
        size_t i;
        const json_t *it;
        json_array_foreach(ct, i, it) {
            const json_t *t = json_object_get(it, "template");
            if (!json_is_string(t)) continue;
            const char *name = json_string_value(json_object_get(it, "name"));
            if (!tmpl || (name && !strcmp(name, "default"))) tmpl = json_string_value(t);
        }
    }
    if (!tmpl) {
        snprintf(path, sizeof path, "%s/chat_template.jinja", model_dir);
        tmpl = file_tmpl = read_file(path);
    }
    c->has_template = tmpl != NULL;
    sl_chat_format detected = sl_chat_detect(tmpl);
    c->fmt = forced ? (sl_chat_format)forced : detected;
    c->forced = forced != 0;
    if (c->fmt == SL_CHAT_CHATML && tmpl && strstr(tmpl, "You are a helpful assistant."))
        snprintf(c->default_system, sizeof c->default_system, "You are a helpful assistant.");
    if (!c->bos[0]) snprintf(c->bos, sizeof c->bos, "%s", c->fmt == SL_CHAT_LLAMA3 ? "<|begin_of_text|>" : "<s>");
    if (!c->eos[0]) snprintf(c->eos, sizeof c->eos, "%s", c->fmt == SL_CHAT_LLAMA3 ? "<|end_of_text|>" : "</s>");
    free(file_tmpl);
    json_decref(cfg);
    return 0;
}

const char *sl_chat_end_token(const sl_chat *c) {
    switch (c->fmt) {
    case SL_CHAT_CHATML: return "<|im_end|>";
    case SL_CHAT_LLAMA3: return "<|eot_id|>";
    default: return c->eos;
    }
}

/* A text buffer whose first failure sticks (checked once at the end). */
typedef struct sbuf {
    sl_buf b;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    /* The size guard also tells GCC -O3 that n is sane (else a -Wstringop-overflow false positive). */
    if (b->oom || n > ((size_t)1 << 30) || b->b.len > ((size_t)1 << 30) || sl_buf_put(&b->b, s, n)) b->oom = 1;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Jinja's trim / Python's strip: leading and trailing whitespace. */
static void sb_trimmed(sbuf *b, const char *s, size_t n) {
    while (n && strchr(" \t\n\r\f\v", s[0])) s++, n--;
    while (n && strchr(" \t\n\r\f\v", s[n - 1])) n--;
    sb_put(b, s, n);
}

enum { R_SYSTEM, R_USER, R_ASSISTANT };

static int role_of(const char *r) {
    if (!r) return -1;
    if (!strcmp(r, "system") || !strcmp(r, "developer")) return R_SYSTEM;
    if (!strcmp(r, "user")) return R_USER;
    if (!strcmp(r, "assistant")) return R_ASSISTANT;
    return -1;
}

int sl_chat_render(const sl_chat *c, const sl_chat_msg *m, int n, int add_gen, char **out, size_t *outlen,
                   char *err, size_t errlen) {
    *out = NULL;
    if (outlen) *outlen = 0;
    if (c->fmt == SL_CHAT_UNKNOWN)
        return sl__errf(err, errlen, SL_ENOTSUP,
                        "the model has no chat template this server recognises (start it with --chat-template)");
    if (n < 1) return sl__errf(err, errlen, SL_EINVAL, "messages must not be empty");
    for (int i = 0; i < n; i++) {
        if (role_of(m[i].role) < 0)
            return sl__errf(err, errlen, SL_EINVAL, "messages[%d].role '%s' is not supported (system, user, assistant)",
                            i, m[i].role ? m[i].role : "");
    }
    sbuf b = {0};
    switch (c->fmt) {
    case SL_CHAT_CHATML:
        if (role_of(m[0].role) != R_SYSTEM && c->default_system[0]) {
            sb_str(&b, "<|im_start|>system\n");
            sb_str(&b, c->default_system);
            sb_str(&b, "<|im_end|>\n");
        }
        for (int i = 0; i < n; i++) {
            sb_str(&b, "<|im_start|>");
            sb_str(&b, role_of(m[i].role) == R_SYSTEM ? "system" : m[i].role);
            sb_str(&b, "\n");
            sb_put(&b, m[i].content, m[i].content_len);
            sb_str(&b, "<|im_end|>\n");
        }
        if (add_gen) sb_str(&b, "<|im_start|>assistant\n");
        break;
    case SL_CHAT_LLAMA3:
        sb_str(&b, c->bos);
        for (int i = 0; i < n; i++) {
            sb_str(&b, "<|start_header_id|>");
            sb_str(&b, role_of(m[i].role) == R_SYSTEM ? "system" : m[i].role);
            sb_str(&b, "<|end_header_id|>\n\n");
            sb_trimmed(&b, m[i].content, m[i].content_len);
            sb_str(&b, "<|eot_id|>");
        }
        if (add_gen) sb_str(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case SL_CHAT_LLAMA2:
    case SL_CHAT_MISTRAL: {
        /* System text (all system messages, in order) goes into the first user turn. */
        sbuf sys = {0};
        for (int i = 0; i < n; i++) {
            if (role_of(m[i].role) != R_SYSTEM) continue;
            if (sys.b.len) sb_str(&sys, "\n\n");
            sb_put(&sys, m[i].content, m[i].content_len);
        }
        int first_user = 1;
        if (c->fmt == SL_CHAT_MISTRAL) sb_str(&b, c->bos);
        for (int i = 0; i < n; i++) {
            int role = role_of(m[i].role);
            if (role == R_SYSTEM) continue;
            if (role == R_USER) {
                sbuf u = {0};
                if (first_user && sys.b.len) {
                    if (c->fmt == SL_CHAT_LLAMA2) {
                        sb_str(&u, "<<SYS>>\n");
                        sb_put(&u, sys.b.p, sys.b.len);
                        sb_str(&u, "\n<</SYS>>\n\n");
                    } else {
                        sb_put(&u, sys.b.p, sys.b.len);
                        sb_str(&u, "\n\n");
                    }
                }
                sb_put(&u, m[i].content, m[i].content_len);
                first_user = 0;
                if (c->fmt == SL_CHAT_LLAMA2) {
                    sb_str(&b, c->bos);
                    sb_str(&b, "[INST] ");
                    sb_trimmed(&b, u.b.p ? u.b.p : "", u.b.len);
                    sb_str(&b, " [/INST]");
                } else {
                    sb_str(&b, "[INST] ");
                    sb_put(&b, u.b.p ? u.b.p : "", u.b.len);
                    sb_str(&b, " [/INST]");
                }
                b.oom |= u.oom;
                free(u.b.p);
            } else {
                if (c->fmt == SL_CHAT_LLAMA2) {
                    sb_str(&b, " ");
                    sb_trimmed(&b, m[i].content, m[i].content_len);
                    sb_str(&b, " ");
                } else {
                    sb_put(&b, m[i].content, m[i].content_len);
                }
                sb_str(&b, c->eos);
            }
        }
        b.oom |= sys.oom;
        free(sys.b.p);
        (void)add_gen; /* the [INST] turn already asks for the answer */
        break;
    }
    default: break;
    }
    if (b.oom || !b.b.p) {
        free(b.b.p);
        return sl__errf(err, errlen, SL_ENOMEM, "out of memory rendering the chat");
    }
    *out = b.b.p;
    if (outlen) *outlen = b.b.len;
    return 0;
}
