/* chat.c — finding, parsing and rendering a model's chat template (see chat.h). */
#include "chat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* A special token in tokenizer_config.json: "text" or {"content": "text", ...}; NULL if absent. */
static char *token_field(const json_t *cfg, const char *key) {
    const json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* The whole file (NUL-terminated, malloc'ed; at most 16 MiB), or NULL with errno. */
static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, k;
    char tmp[8192];
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (n + k + 1 > cap) {
            cap = (n + k + 1) * 2;
            char *b = cap <= ((size_t)32 << 20) ? realloc(buf, cap) : NULL;
            if (!b) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            buf = b;
        }
        memcpy(buf + n, tmp, k);
        n += k;
    }
    fclose(f);
    if (!buf) buf = calloc(1, 1);
    else buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Takes the template(s) of a "chat_template" value: a string, or a list of {name, template}. */
static void take_value(sl_chat *c, const json_t *v) {
    if (json_is_string(v)) {
        c->src = strdup(json_string_value(v));
        return;
    }
    if (!json_is_array(v)) {
        if (v) snprintf(c->error, sizeof c->error, "%s: chat_template is neither a string nor a list", c->origin);
        return;
    }
    const char *dflt = NULL, *tools = NULL, *only = NULL;
    size_t i, n_named = 0;
    const json_t *it;
    json_array_foreach(v, i, it) {
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *t = json_string_value(json_object_get(it, "template"));
        if (!name || !t) continue;
        n_named++;
        only = t;
        if (!strcmp(name, "default")) dflt = t;
        else if (!strcmp(name, "tool_use")) tools = t;
    }
    if (!dflt && n_named == 1) dflt = only;
    if (!dflt && !tools) {
        snprintf(c->error, sizeof c->error, "%s: the list of chat templates has no 'default' one", c->origin);
        return;
    }
    if (dflt) c->src = strdup(dflt);
    if (tools) c->src_tools = strdup(tools);
}

static void parse_one(sl_chat *c, const char *src, sl_jinja **out, const char *which) {
    char perr[512];
    if (!src) return;
    if (sl_jinja_parse(src, strlen(src), out, perr, sizeof perr) != 0)
        snprintf(c->error, sizeof c->error, "%s%s: %s", c->origin, which, perr);
}

int sl_chat_init(sl_chat *c, const char *model_dir, const char *template_file, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->limits.now = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", model_dir);
    json_error_t je;
    json_t *cfg = json_load_file(path, JSON_DECODE_INT_AS_REAL, &je); /* model_max_length is often 1e30 */
    if (!cfg) {
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return sl__errf(err, errlen, SL_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
        }
        cfg = json_object(); /* no tokenizer_config.json: no template, no special tokens */
    }
    c->bos = token_field(cfg, "bos_token");
    c->eos = token_field(cfg, "eos_token");
    int rc = 0;
    if (template_file && *template_file) {
        snprintf(c->origin, sizeof c->origin, "%s", template_file);
        if (ends_with(template_file, ".json")) {
            json_t *j = json_load_file(template_file, 0, &je);
            if (!j) rc = sl__errf(err, errlen, SL_EFORMAT, "--chat-template %s: line %d: %s", template_file, je.line, je.text);
            else take_value(c, json_object_get(j, "chat_template"));
            if (j && !c->src && !c->src_tools && !c->error[0])
                snprintf(c->error, sizeof c->error, "%s has no \"chat_template\"", template_file);
            json_decref(j);
        } else if (!(c->src = read_text(template_file, NULL))) {
            if (strstr(template_file, "{{") || strstr(template_file, "{%")) { /* the template itself, as vLLM accepts */
                snprintf(c->origin, sizeof c->origin, "--chat-template (inline)");
                c->src = strdup(template_file);
            } else {
                rc = sl__errf(err, errlen, SL_ENOENT, "--chat-template %s: %s", template_file, strerror(errno));
            }
        }
    } else {
        snprintf(path, sizeof path, "%s/chat_template.jinja", model_dir);
        if ((c->src = read_text(path, NULL))) {
            snprintf(c->origin, sizeof c->origin, "%s", path);
        } else {
            snprintf(path, sizeof path, "%s/chat_template.json", model_dir);
            json_t *j = json_load_file(path, 0, &je);
            if (j && json_object_get(j, "chat_template")) {
                snprintf(c->origin, sizeof c->origin, "%s", path);
                take_value(c, json_object_get(j, "chat_template"));
            } else if (json_object_get(cfg, "chat_template")) {
                snprintf(c->origin, sizeof c->origin, "%s/tokenizer_config.json", model_dir);
                take_value(c, json_object_get(cfg, "chat_template"));
            }
            json_decref(j);
        }
    }
    json_decref(cfg);
    if (rc) {
        sl_chat_free(c);
        return rc;
    }
    if (!(template_file && *template_file) && !c->error[0]) {
        /* newer transformers save named templates as additional_chat_templates/NAME.jinja */
        snprintf(path, sizeof path, "%s/additional_chat_templates/tool_use.jinja", model_dir);
        if (!c->src_tools && (c->src_tools = read_text(path, NULL)) && !c->src)
            snprintf(c->origin, sizeof c->origin, "%s", path);
        snprintf(path, sizeof path, "%s/additional_chat_templates/default.jinja", model_dir);
        if (!c->src && (c->src = read_text(path, NULL))) snprintf(c->origin, sizeof c->origin, "%s", path);
    }
    if (!c->src && !c->src_tools && !c->error[0])
        snprintf(c->error, sizeof c->error, "the model has no chat template");
    parse_one(c, c->src, &c->tmpl, "");
    if (!c->error[0]) parse_one(c, c->src_tools, &c->tmpl_tools, " (tool_use)");
    if (c->error[0]) { /* nothing half-usable */
        sl_jinja_free(c->tmpl);
        sl_jinja_free(c->tmpl_tools);
        c->tmpl = c->tmpl_tools = NULL;
    }
    return 0;
}

void sl_chat_free(sl_chat *c) {
    sl_jinja_free(c->tmpl);
    sl_jinja_free(c->tmpl_tools);
    free(c->src);
    free(c->src_tools);
    free(c->bos);
    free(c->eos);
    memset(c, 0, sizeof *c);
}

int sl_chat_ready(const sl_chat *c) { return c->tmpl || c->tmpl_tools; }

const char *sl_template_source(const sl_chat *c, int with_tools) {
    if (with_tools && c->src_tools) return c->src_tools;
    return c->src ? c->src : c->src_tools;
}

int sl_chat_render(const sl_chat *c, const json_t *ctx, char **out, size_t *len, char *err, size_t errlen) {
    *out = NULL;
    if (len) *len = 0;
    if (!sl_chat_ready(c)) return sl__errf(err, errlen, SL_ENOTSUP, "%s", c->error[0] ? c->error : "no chat template");
    const json_t *tools = json_object_get(ctx, "tools");
    const sl_jinja *t = c->tmpl;
    if ((json_is_array(tools) && c->tmpl_tools) || !t) t = c->tmpl_tools; /* as transformers: tools is not None */
    json_t *full = json_copy((json_t *)ctx); /* shallow: the caller's object stays untouched */
    if (!full) full = json_object();
    if (c->bos && !json_object_get(full, "bos_token")) json_object_set_new(full, "bos_token", json_string(c->bos));
    if (c->eos && !json_object_get(full, "eos_token")) json_object_set_new(full, "eos_token", json_string(c->eos));
    int rc = sl_jinja_render(t, full, &c->limits, out, len, err, errlen);
    json_decref(full);
    return rc;
}

const char *sl_chat_end_token(const sl_chat *c) { return c->eos; }
