/* chat.h — a model's chat template: found, parsed once, rendered per request (with jinja.h).
 *
 * Where the template comes from, as transformers loads it:
 *   1. --chat-template FILE (a .jinja file; a .json file with "chat_template"; or, if no such
 *      file exists and the text holds "{{" or "{%", the template itself, as vLLM accepts);
 *   2. MODEL_DIR/chat_template.jinja;
 *   3. MODEL_DIR/chat_template.json ({"chat_template": ...});
 *   4. MODEL_DIR/tokenizer_config.json "chat_template";
 *   and MODEL_DIR/additional_chat_templates/{tool_use,default}.jinja (named templates as newer
 *   transformers save them) where those gave none.
 * A "chat_template" value is a string or a list of {name, template}: then "default" is used,
 * and "tool_use" when the request has tools (as transformers picks). bos_token / eos_token come
 * from tokenizer_config.json (strings or AddedToken objects {"content": ...}).
 *
 * A template that fails to parse is not fatal: sl_chat_init succeeds, c->error holds the
 * reason with its line, and sl_chat_render answers SL_ENOTSUP with that reason. */
#ifndef SL_CHAT_H
#define SL_CHAT_H

#include <stddef.h>

#include <jansson.h>

#include "jinja.h"

typedef struct sl_chat {
    sl_jinja *tmpl;       /* the default template; NULL: none, or it failed to parse */
    sl_jinja *tmpl_tools; /* the "tool_use" template of a named list, or NULL */
    char *src;            /* their sources (malloc'ed), or NULL */
    char *src_tools;
    char origin[4096];    /* where the template came from ("" none), for logs */
    char error[5120];     /* why there is no usable template ("" when there is one) */
    char *bos, *eos;      /* special tokens of tokenizer_config.json, or NULL when absent */
    sl_jinja_limits limits;
} sl_chat;

/* Finds and parses MODEL_DIR's template, or TEMPLATE_FILE when not NULL/"". Errors (returned):
 * an unreadable TEMPLATE_FILE, a malformed tokenizer_config.json. A missing or unparsable
 * template is not an error (c->error says why). Free with sl_chat_free. */
int sl_chat_init(sl_chat *c, const char *model_dir, const char *template_file, char *err, size_t errlen);
void sl_chat_free(sl_chat *c);

/* 1 when chat requests can be rendered. */
int sl_chat_ready(const sl_chat *c);

/* The Jinja source of the template a request with (WITH_TOOLS) or without tools renders, or
 * NULL (e.g. to recognise the tool-call format the template writes). */
const char *sl_template_source(const sl_chat *c, int with_tools);

/* Renders the template with the context CTX (a JSON object: messages, tools, documents,
 * add_generation_prompt, chat_template_kwargs merged; see api/prompt.c), adding bos_token and
 * eos_token unless CTX sets them. Picks the "tool_use" template when CTX's tools is an array
 * and one exists. *out malloc'ed (caller frees). Errors: SL_ENOTSUP no usable template
 * (err says why), SL_JINJA_RAISED the template's raise_exception (err = its message),
 * SL_EINVAL the template failed on this input, SL_ETOOBIG a render limit. */
int sl_chat_render(const sl_chat *c, const json_t *ctx, char **out, size_t *len, char *err, size_t errlen);

/* The text of the token that ends an assistant turn: tokenizer_config.json's eos_token, or NULL. */
const char *sl_chat_end_token(const sl_chat *c);

#endif
