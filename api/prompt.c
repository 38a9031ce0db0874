/* prompt.c — the chat template's context built from a request body and rendered: the prompt
 * of /v1/chat/completions, /tokenize with messages, and /apply-template. No connection here
 * (the fuzz targets call it as the server does). */
#include <string.h>

#include "error.h"
#include "request.h"

#define MAX_MESSAGES 4096

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* messages: a non-empty array of objects with a string role; content a string, null or a list
 * of text parts (other parts, e.g. images, are refused: the model only reads text). Everything
 * else of a message (tool_calls, name, reasoning_content, ...) goes to the template as given. */
static int check_messages(json_t *msgs, sl__err *e) {
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return sl__err_set(e, 400, msgs ? "invalid_type" : "missing_field", "messages",
                           "'messages' must be a non-empty array of {role, content} objects");
    if (json_array_size(msgs) > MAX_MESSAGES) return sl__err_set(e, 400, "invalid_value", "messages", "at most %d messages", MAX_MESSAGES);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        if (!json_is_object(m) || !json_is_string(json_object_get(m, "role")))
            return sl__err_set(e, 400, "invalid_type", "messages", "messages[%zu] must be an object with a string 'role'", i);
        json_t *content = json_object_get(m, "content");
        if (!content || json_is_null(content) || json_is_string(content)) continue;
        if (!json_is_array(content))
            return sl__err_set(e, 400, "invalid_type", "messages", "messages[%zu].content must be a string or an array", i);
        size_t k;
        json_t *part;
        json_array_foreach(content, k, part) {
            const char *type = json_string_value(json_object_get(part, "type"));
            if (!type || strcmp(type, "text") != 0 || !json_is_string(json_object_get(part, "text")))
                return sl__err_set(e, 400, "invalid_value", "messages",
                                   "messages[%zu].content[%zu]: only parts of type 'text' are supported", i, k);
        }
    }
    return 0;
}

/* transformers' continue_final_message: the render cut right after the last message's text. */
static int cut_after_final(json_t *msgs, char *text, size_t *len, sl__err *e) {
    json_t *content = json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "content");
    if (json_is_array(content)) {
        json_t *last = NULL;
        size_t k;
        json_t *part;
        json_array_foreach(content, k, part) if (json_is_string(json_object_get(part, "text"))) last = json_object_get(part, "text");
        content = last;
    }
    if (!json_is_string(content))
        return sl__err_set(e, 400, "invalid_value", "continue_final_message", "the final message has no text to continue");
    const char *m = json_string_value(content);
    size_t n = json_string_length(content), b = 0, s = n;
    while (b < n && is_ws(m[b])) b++;
    while (s > b && is_ws(m[s - 1])) s--;
    /* the last occurrence of the stripped text */
    const char *at = NULL, *p = text;
    while (s > b && (p = memmem(p, *len - (size_t)(p - text), m + b, s - b)) != NULL) at = p++;
    if (!at || s == b)
        return sl__err_set(e, 400, "invalid_value", "continue_final_message",
                           "the final message does not appear in the chat the template renders");
    size_t off = (size_t)(at - text), keep = n - b; /* the text without its leading space */
    if (!(off + keep <= *len && !memcmp(at, m + b, keep) && b == 0)) keep = s - b;
    *len = off + keep;
    text[*len] = 0;
    return 0;
}

int sl__chat_prompt(const sl_chat *chat, json_t *body, char **text, size_t *len, sl__err *e) {
    *text = NULL;
    *len = 0;
    json_t *msgs = json_object_get(body, "messages");
    if (check_messages(msgs, e) < 0) return -1;
    int add_gen = 1, cont = 0;
    if (sl__jbool(body, "add_generation_prompt", &add_gen, e) < 0) return -1;
    if (sl__jbool(body, "continue_final_message", &cont, e) < 0) return -1;
    if (cont && add_gen && json_is_true(json_object_get(body, "add_generation_prompt")))
        return sl__err_set(e, 400, "invalid_value", "continue_final_message",
                           "continue_final_message and add_generation_prompt cannot both be true");
    if (cont) add_gen = 0;
    json_t *tools = json_object_get(body, "tools"), *docs = json_object_get(body, "documents");
    json_t *kwargs = json_object_get(body, "chat_template_kwargs");
    if (tools && !json_is_null(tools) && !json_is_array(tools))
        return sl__err_set(e, 400, "invalid_type", "tools", "'tools' must be an array");
    if (docs && !json_is_null(docs) && !json_is_array(docs))
        return sl__err_set(e, 400, "invalid_type", "documents", "'documents' must be an array of objects");
    if (kwargs && !json_is_null(kwargs) && !json_is_object(kwargs))
        return sl__err_set(e, 400, "invalid_type", "chat_template_kwargs", "'chat_template_kwargs' must be an object");
    json_t *own = json_object_get(body, "chat_template");
    if (own && !json_is_null(own))
        return sl__err_set(e, 400, "unsupported", "chat_template",
                           "a chat template in the request is not supported; the server renders with its own (--chat-template)");
    if (!sl_chat_ready(chat))
        return sl__err_set(e, 400, "no_chat_template", NULL,
                           "%s; use /v1/completions, or start the server with --chat-template FILE", chat->error);
    /* as transformers: messages, tools, documents, add_generation_prompt, then the kwargs */
    json_t *ctx = json_object();
    json_object_set(ctx, "messages", msgs);
    json_object_set_new(ctx, "tools", json_is_array(tools) ? json_incref(tools) : json_null());
    json_object_set_new(ctx, "documents", docs && json_is_array(docs) ? json_incref(docs) : json_null());
    json_object_set_new(ctx, "add_generation_prompt", json_boolean(add_gen));
    if (json_is_object(kwargs)) json_object_update(ctx, kwargs);
    char err[640];
    int rc = sl_chat_render(chat, ctx, text, len, err, sizeof err);
    json_decref(ctx);
    switch (rc) {
    case 0: break;
    case SL_JINJA_RAISED: return sl__err_set(e, 400, "invalid_value", "messages", "chat template: %s", err);
    case SL_ETOOBIG: return sl__err_set(e, 400, "invalid_value", "messages", "chat template: a limit was reached: %s", err);
    case SL_ENOMEM: return sl__err_set(e, 500, "internal_error", NULL, "out of memory rendering the chat template");
    case SL_ENOTSUP: return sl__err_set(e, 400, "no_chat_template", NULL, "%s", err);
    default: return sl__err_set(e, 400, "invalid_value", "messages", "the chat template failed on these messages: %s", err);
    }
    if (cont && cut_after_final(msgs, *text, len, e) < 0) {
        free(*text);
        *text = NULL;
        *len = 0;
        return -1;
    }
    return 0;
}
