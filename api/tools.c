/* tools.c — OpenAI function tools: the request's tools and tool_choice checked, the parsed
 * output's calls as OpenAI JSON (see tools.h). */
#include "tools.h"

#include <string.h>

#include "constraint.h"
#include "error.h"
#include "request.h"
#include "tokenizer.h"

/* OpenAI's rule for function names: a-z, A-Z, 0-9, '_' and '-', at most 64. */
static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return 0;
    }
    return 1;
}

/* tools[i].function.parameters: a JSON Schema of an object. */
static int check_parameters(json_t *p, size_t i, sl__err *e) {
    if (!json_is_object(p))
        return sl__err_set(e, 400, "invalid_type", "tools", "tools[%zu].function.parameters must be a JSON Schema object", i);
    json_t *type = json_object_get(p, "type"), *props = json_object_get(p, "properties"), *req = json_object_get(p, "required");
    if (type && !(json_is_string(type) && strcmp(json_string_value(type), "object") == 0))
        return sl__err_set(e, 400, "invalid_value", "tools",
                           "tools[%zu].function.parameters must be a JSON Schema of type \"object\"", i);
    if (props) {
        const char *k;
        json_t *v;
        if (!json_is_object(props))
            return sl__err_set(e, 400, "invalid_type", "tools", "tools[%zu].function.parameters.properties must be an object", i);
        json_object_foreach(props, k, v) {
            if (!json_is_object(v) && !json_is_boolean(v))
                return sl__err_set(e, 400, "invalid_type", "tools",
                                   "tools[%zu].function.parameters.properties.%s must be a JSON Schema (an object)", i, k);
        }
    }
    if (req) {
        size_t k;
        json_t *v;
        if (!json_is_array(req))
            return sl__err_set(e, 400, "invalid_type", "tools", "tools[%zu].function.parameters.required must be an array of strings", i);
        json_array_foreach(req, k, v) {
            if (!json_is_string(v))
                return sl__err_set(e, 400, "invalid_type", "tools",
                                   "tools[%zu].function.parameters.required must be an array of strings", i);
        }
    }
    return 0;
}

static int check_tools(json_t *tools, sl__tools *t, sl__err *e) {
    if (!json_is_array(tools))
        return sl__err_set(e, 400, "invalid_type", "tools", "'tools' must be an array of {\"type\": \"function\", \"function\": {...}}");
    size_t n = json_array_size(tools);
    if (n == 0) return sl__err_set(e, 400, "invalid_value", "tools", "'tools' must not be empty (leave it out instead)");
    if (n > SL__MAX_TOOLS) return sl__err_set(e, 400, "invalid_value", "tools", "at most %d tools", SL__MAX_TOOLS);
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(tools, i);
        const char *type = json_string_value(json_object_get(it, "type"));
        json_t *fn = json_object_get(it, "function");
        if (!json_is_object(it) || !type)
            return sl__err_set(e, 400, "invalid_type", "tools", "tools[%zu] must be an object with a string 'type'", i);
        if (strcmp(type, "function") != 0)
            return sl__err_set(e, 400, "unsupported", "tools", "tools[%zu]: only tools of type \"function\" are supported, not \"%s\"", i,
                               type);
        if (!json_is_object(fn))
            return sl__err_set(e, 400, "invalid_type", "tools", "tools[%zu].function must be an object", i);
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name) return sl__err_set(e, 400, "missing_field", "tools", "tools[%zu].function.name must be a string", i);
        if (!valid_name(name))
            return sl__err_set(e, 400, "invalid_value", "tools",
                               "tools[%zu].function.name must be 1 to 64 of a-z, A-Z, 0-9, '_' and '-'", i);
        for (size_t k = 0; k < i; k++)
            if (strcmp(name, json_string_value(json_object_get(json_object_get(json_array_get(tools, k), "function"), "name"))) == 0)
                return sl__err_set(e, 400, "invalid_value", "tools", "tools[%zu]: the function name '%s' is given twice", i, name);
        json_t *d = json_object_get(fn, "description"), *p = json_object_get(fn, "parameters"), *st = json_object_get(fn, "strict");
        if (d && !json_is_null(d) && !json_is_string(d))
            return sl__err_set(e, 400, "invalid_type", "tools", "tools[%zu].function.description must be a string", i);
        if (p && !json_is_null(p) && check_parameters(p, i, e) < 0) return -1;
        if (st && !json_is_null(st) && !json_is_boolean(st))
            return sl__err_set(e, 400, "invalid_type", "tools", "tools[%zu].function.strict must be a boolean", i);
    }
    t->tools = tools;
    t->n_tools = (int)n;
    return 0;
}

static int check_choice(json_t *c, sl__tools *t, int can_force, sl__err *e) {
    if (!c || json_is_null(c)) {
        t->choice = t->tools ? SL__TOOL_CHOICE_AUTO : SL__TOOL_CHOICE_NONE;
        return 0;
    }
    if (json_is_string(c)) {
        const char *s = json_string_value(c);
        if (strcmp(s, "none") == 0) t->choice = SL__TOOL_CHOICE_NONE;
        else if (strcmp(s, "auto") == 0) t->choice = SL__TOOL_CHOICE_AUTO;
        else if (strcmp(s, "required") == 0) t->choice = SL__TOOL_CHOICE_REQUIRED;
        else
            return sl__err_set(e, 400, "invalid_value", "tool_choice",
                               "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\"}}");
    } else if (json_is_object(c)) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *name = json_string_value(json_object_get(json_object_get(c, "function"), "name"));
        if (!type || strcmp(type, "function") != 0 || !name)
            return sl__err_set(e, 400, "invalid_value", "tool_choice",
                               "a named 'tool_choice' is {\"type\": \"function\", \"function\": {\"name\": ...}}");
        t->choice = SL__TOOL_CHOICE_NAMED;
        t->named = -1;
        for (int i = 0; i < t->n_tools; i++)
            if (strcmp(name, json_string_value(json_object_get(json_object_get(json_array_get(t->tools, (size_t)i), "function"),
                                                                "name"))) == 0)
                t->named = i;
        if (t->tools && t->named < 0)
            return sl__err_set(e, 400, "invalid_value", "tool_choice", "'tool_choice' names the function '%s', which is not in 'tools'",
                               name);
    } else {
        return sl__err_set(e, 400, "invalid_type", "tool_choice", "'tool_choice' must be a string or an object");
    }
    if (t->choice != SL__TOOL_CHOICE_NONE && !t->tools)
        return sl__err_set(e, 400, "invalid_value", "tool_choice", "'tool_choice' needs 'tools'");
    if ((t->choice == SL__TOOL_CHOICE_REQUIRED || t->choice == SL__TOOL_CHOICE_NAMED) && !can_force)
        return sl__err_set(e, 400, "unsupported", "tool_choice", "tool_choice %s needs constrained decoding, not available",
                           t->choice == SL__TOOL_CHOICE_REQUIRED ? "required" : "with a named function");
    return 0;
}

/* The tool parts of messages: an assistant's tool_calls, and tool results answering them. */
static int check_messages(json_t *body, sl__err *e) {
    json_t *msgs = json_object_get(body, "messages"), *last_calls = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role) continue; /* sl__jmessages says what is wrong */
        json_t *calls = json_object_get(m, "tool_calls");
        if (calls && !json_is_null(calls)) {
            if (strcmp(role, "assistant") != 0)
                return sl__err_set(e, 400, "invalid_value", "messages", "messages[%zu]: only assistant messages have 'tool_calls'", i);
            if (!json_is_array(calls) || json_array_size(calls) > SL__MAX_TOOLS)
                return sl__err_set(e, 400, "invalid_type", "messages", "messages[%zu].tool_calls must be an array (at most %d)", i,
                                   SL__MAX_TOOLS);
            size_t k;
            json_t *c;
            json_array_foreach(calls, k, c) {
                json_t *fn = json_object_get(c, "function");
                const char *type = json_string_value(json_object_get(c, "type"));
                if (!json_is_object(c) || !json_is_string(json_object_get(c, "id")) || (type && strcmp(type, "function") != 0) ||
                    !json_is_object(fn) || !json_is_string(json_object_get(fn, "name")) ||
                    !json_is_string(json_object_get(fn, "arguments")))
                    return sl__err_set(e, 400, "invalid_value", "messages",
                                       "messages[%zu].tool_calls[%zu] must be {\"id\", \"type\": \"function\", \"function\": "
                                       "{\"name\", \"arguments\" (a string of JSON)}}",
                                       i, k);
            }
            last_calls = calls;
        } else if (strcmp(role, "tool") == 0) {
            json_t *id = json_object_get(m, "tool_call_id");
            if (!json_is_string(id))
                return sl__err_set(e, 400, "missing_field", "messages", "messages[%zu]: a tool message needs a string 'tool_call_id'", i);
            int found = 0;
            size_t k;
            json_t *c;
            json_array_foreach(last_calls, k, c) {
                if (strcmp(json_string_value(json_object_get(c, "id")), json_string_value(id)) == 0) found = 1;
            }
            if (!found)
                return sl__err_set(e, 400, "invalid_value", "messages",
                                   "messages[%zu]: tool_call_id '%s' answers no tool call of the assistant message before it", i,
                                   json_string_value(id));
        }
    }
    return 0;
}

int sl__tools_parse(json_t *body, int can_force, sl__tools *t, sl__err *e) {
    memset(t, 0, sizeof *t);
    t->parallel = 1;
    json_t *tools = json_object_get(body, "tools");
    if (tools && !json_is_null(tools) && check_tools(tools, t, e) < 0) return -1;
    if (check_choice(json_object_get(body, "tool_choice"), t, can_force, e) < 0) return -1;
    if (sl__jbool(body, "parallel_tool_calls", &t->parallel, e) < 0) return -1;
    if (json_object_get(body, "functions") || json_object_get(body, "function_call"))
        return sl__err_set(e, 400, "unsupported", "functions",
                           "the deprecated 'functions' and 'function_call' are not supported; use 'tools' and 'tool_choice'");
    return check_messages(body, e);
}

/* {"type": "object", "properties": {"name": {"const": NAME}, ARGS: PARAMETERS}, "required": [...],
 * "additionalProperties": false} for tool I. */
static json_t *call_schema(const sl__tools *t, int i, const char *args_key) {
    json_t *fn = json_object_get(json_array_get(t->tools, (size_t)i), "function");
    json_t *params = json_object_get(fn, "parameters");
    json_t *name = json_object(), *props = json_object(), *o = json_object();
    json_object_set(name, "const", json_object_get(fn, "name"));
    json_object_set_new(props, "name", name);
    if (json_is_object(params)) {
        json_t *ps = json_deep_copy(params);
        if (!json_object_get(ps, "type")) json_object_set_new(ps, "type", json_string("object"));
        json_object_set_new(props, args_key, ps);
    } else {
        json_t *ps = json_object();
        json_object_set_new(ps, "type", json_string("object"));
        json_object_set_new(props, args_key, ps);
    }
    json_object_set_new(o, "type", json_string("object"));
    json_object_set_new(o, "properties", props);
    json_object_set_new(o, "required", json_pack("[ss]", "name", args_key));
    json_object_set_new(o, "additionalProperties", json_false());
    return o;
}

json_t *sl__tools_forced_schema(const sl__tools *t, sl_toolcall_format fmt, const char **prefix, const char **suffix) {
    if (fmt == SL_TOOLCALL_NONE || !t->tools ||
        (t->choice != SL__TOOL_CHOICE_REQUIRED && t->choice != SL__TOOL_CHOICE_NAMED))
        return NULL;
    const char *args_key = fmt == SL_TOOLCALL_LLAMA3_JSON ? "parameters" : "arguments";
    json_t *call;
    if (t->choice == SL__TOOL_CHOICE_NAMED || t->n_tools == 1) {
        call = call_schema(t, t->choice == SL__TOOL_CHOICE_NAMED ? t->named : 0, args_key);
    } else {
        json_t *any = json_array();
        for (int i = 0; i < t->n_tools; i++) json_array_append_new(any, call_schema(t, i, args_key));
        call = json_object();
        json_object_set_new(call, "anyOf", any);
    }
    *prefix = *suffix = "";
    switch (fmt) {
    case SL_TOOLCALL_HERMES:
        *prefix = "<tool_call>\n";
        *suffix = "\n</tool_call>";
        return call;
    case SL_TOOLCALL_MISTRAL: {
        *prefix = "[TOOL_CALLS]";
        json_t *arr = json_object();
        json_object_set_new(arr, "type", json_string("array"));
        json_object_set_new(arr, "items", call);
        json_object_set_new(arr, "minItems", json_integer(1));
        json_object_set_new(arr, "maxItems", json_integer(1));
        return arr;
    }
    default: return call;
    }
}

int sl__tools_constrain(const sl__tools *t, sl_toolcall_format fmt, struct sl_constraint_cache *cc,
                        struct sl_constraint **out, sl__err *e) {
    if (t->choice != SL__TOOL_CHOICE_REQUIRED && t->choice != SL__TOOL_CHOICE_NAMED) return 0;
    const char *what = t->choice == SL__TOOL_CHOICE_REQUIRED ? "required" : "with a named function";
    if (*out)
        return sl__err_set(e, 400, "invalid_value", "tool_choice",
                           "tool_choice %s and a structured output (response_format, ...) both constrain the answer; "
                           "give only one",
                           what);
    const char *prefix, *suffix;
    json_t *schema = sl__tools_forced_schema(t, fmt, &prefix, &suffix);
    if (!schema)
        return sl__err_set(e, 400, "unsupported", "tool_choice",
                           "tool_choice %s: this model's chat template writes no tool-call format this server knows "
                           "(start it with --tool-call-parser hermes, llama3_json or mistral)",
                           what);
    char *text = json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(schema);
    if (!text) return sl__err_set(e, 500, "internal_error", NULL, "out of memory");
    sl_cpiece p[3];
    int n = 0;
    if (*prefix) p[n++] = (sl_cpiece){SL_CPIECE_LITERAL, prefix, strlen(prefix)};
    p[n++] = (sl_cpiece){SL_CPIECE_JSON_SCHEMA, text, strlen(text)};
    if (*suffix) p[n++] = (sl_cpiece){SL_CPIECE_LITERAL, suffix, strlen(suffix)};
    char err[512] = "";
    int rc = sl_constraint_cache_get(cc, p, n, out, err, sizeof err);
    free(text);
    if (rc == SL_ENOMEM) return sl__err_set(e, 500, "internal_error", NULL, "out of memory");
    if (rc) {
        *out = NULL;
        return sl__err_set(e, 400, "invalid_value", "tools", "tool_choice %s: the tools' parameters cannot be enforced: %s",
                           what, err[0] ? err : sl_strerror(rc));
    }
    return 0;
}

int sl__prompt_opens_think(const struct sl_tokenizer *tok, const int32_t *ids, size_t n) {
    size_t k = n < 4 ? n : 4;
    char *s = NULL;
    size_t len = 0;
    if (!k || sl_tokenizer_decode(tok, ids + n - k, k, 0, &s, &len, NULL, 0) != 0) return 0;
    int r = sl_toolcall_prompt_opens_think(s, len);
    free(s);
    return r;
}

json_t *sl__tool_call_json(const sl_toolcall *c, const char *id, int index) {
    json_t *j = json_object(), *fn = json_object();
    if (index >= 0) json_object_set_new(j, "index", json_integer(index));
    json_object_set_new(j, "id", json_string(id));
    json_object_set_new(j, "type", json_string("function"));
    json_object_set_new(fn, "name", json_string(c->name));
    json_object_set_new(fn, "arguments", json_string(c->arguments));
    json_object_set_new(j, "function", fn);
    return j;
}
