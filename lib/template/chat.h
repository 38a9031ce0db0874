/* chat.h — chat templates of the common model families, without a Jinja interpreter.
 *
 * A model's tokenizer_config.json carries its chat template as Jinja source
 * ("chat_template", a string or a list of {name, template}; or a chat_template.jinja file
 * beside it). Rather than run arbitrary Jinja, the template is recognised by its markers and
 * rendered by a fixed C implementation of that family:
 *   ChatML   "<|im_start|>"         Qwen2, SmolLM   (Qwen2's default system prompt kept)
 *   Llama 3  "<|start_header_id|>"  Llama 3.x
 *   Llama 2  "[INST]" + "<<SYS>>"   Llama 2 chat
 *   Mistral  "[INST]" only          Mistral instruct (system text joins the first user turn)
 * A template that matches none is SL_CHAT_UNKNOWN: the daemon warns at startup and answers
 * chat requests with 400, unless a format is forced by name. */
#ifndef SL_CHAT_H
#define SL_CHAT_H

#include <stddef.h>

typedef enum sl_chat_format {
    SL_CHAT_UNKNOWN = 0,
    SL_CHAT_CHATML,
    SL_CHAT_LLAMA3,
    SL_CHAT_LLAMA2,
    SL_CHAT_MISTRAL
} sl_chat_format;

const char *sl_chat_format_name(sl_chat_format f); /* "chatml", "llama3", "llama2", "mistral", "unknown" */
/* "chatml", "llama3", "llama2", "mistral" → the format; "auto" or "" → SL_CHAT_UNKNOWN; else -1. */
int sl_chat_format_parse(const char *name);
/* Recognises Jinja template source; SL_CHAT_UNKNOWN when no family matches (or NULL). */
sl_chat_format sl_chat_detect(const char *tmpl);

typedef struct sl_chat {
    sl_chat_format fmt;
    int forced;              /* 1: fmt was forced by name, not recognised */
    int has_template;        /* the model ships a chat template at all */
    char bos[64];            /* bos_token of tokenizer_config.json, or the family's default */
    char eos[64];            /* eos_token likewise */
    char default_system[96]; /* ChatML: Qwen2's built-in system prompt when the template has it */
} sl_chat;

/* Reads MODEL_DIR/tokenizer_config.json (and chat_template.jinja). FORCE: NULL, "" or "auto"
 * to recognise the model's template, else a format name. Unrecognised is not an error
 * (c->fmt == SL_CHAT_UNKNOWN); a bad FORCE name or an unreadable config is. */
int sl_chat_init(sl_chat *c, const char *model_dir, const char *force, char *err, size_t errlen);

typedef struct sl_chat_msg {
    const char *role;    /* "system" (or "developer"), "user", "assistant" */
    const char *content; /* (content_len) bytes */
    size_t content_len;
} sl_chat_msg;

/* Renders MSGS as the prompt text the family's template makes (BOS included where the
 * template writes it: encode it without adding special tokens). add_generation_prompt: end
 * with the assistant header. *out is malloc'ed, NUL-terminated (caller frees).
 * SL_ENOTSUP when c->fmt is unknown; SL_EINVAL for an unknown role or no messages. */
int sl_chat_render(const sl_chat *c, const sl_chat_msg *msgs, int n, int add_generation_prompt, char **out,
                   size_t *len, char *err, size_t errlen);

/* The text of the token that ends an assistant turn ("<|im_end|>", "<|eot_id|>", or eos). */
const char *sl_chat_end_token(const sl_chat *c);

#endif
