/* json.c — typed access to request fields with one consistent 400 for every mistake. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int sl__json_int(sl__req *q, json_t *obj, const char *f, long long lo, long long hi, long long *out,
                 enum MHD_Result *ret) {
    json_t *v = json_object_get(obj, f);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) {
        *ret = sl__reply_error(q, 400, "invalid_type", f, "'%s' must be an integer, not %s", f, type_name(v));
        return -1;
    }
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        *ret = sl__reply_error(q, 400, "invalid_value", f, "'%s' must be between %lld and %lld, got %lld", f, lo, hi, x);
        return -1;
    }
    *out = x;
    return 1;
}

int sl__json_num(sl__req *q, json_t *obj, const char *f, double lo, double hi, double *out, enum MHD_Result *ret) {
    json_t *v = json_object_get(obj, f);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) {
        *ret = sl__reply_error(q, 400, "invalid_type", f, "'%s' must be a number, not %s", f, type_name(v));
        return -1;
    }
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) {
        *ret = sl__reply_error(q, 400, "invalid_value", f, "'%s' must be between %g and %g, got %g", f, lo, hi, x);
        return -1;
    }
    *out = x;
    return 1;
}

int sl__json_bool(sl__req *q, json_t *obj, const char *f, int *out, enum MHD_Result *ret) {
    json_t *v = json_object_get(obj, f);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        *ret = sl__reply_error(q, 400, "invalid_type", f, "'%s' must be a boolean, not %s", f, type_name(v));
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

int sl__json_str(sl__req *q, json_t *obj, const char *f, const char **out, enum MHD_Result *ret) {
    json_t *v = json_object_get(obj, f);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        *ret = sl__reply_error(q, 400, "invalid_type", f, "'%s' must be a string, not %s", f, type_name(v));
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

int sl__json_messages(sl__req *q, json_t *obj, sl_chat_msg **msgs, int *n, char ***texts, enum MHD_Result *ret) {
    *msgs = NULL;
    *n = 0;
    *texts = NULL;
    json_t *arr = json_object_get(obj, "messages");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        *ret = sl__reply_error(q, 400, arr ? "invalid_type" : "missing_field", "messages",
                               "'messages' must be a non-empty array of {role, content} objects");
        return -1;
    }
    size_t cnt = json_array_size(arr);
    if (cnt > 4096) {
        *ret = sl__reply_error(q, 400, "invalid_value", "messages", "at most 4096 messages");
        return -1;
    }
    sl_chat_msg *m = calloc(cnt, sizeof *m);
    char **t = calloc(cnt, sizeof *t);
    if (!m || !t) {
        free(m);
        free(t);
        *ret = sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *it = json_array_get(arr, i);
        json_t *role = json_object_get(it, "role");
        json_t *content = json_object_get(it, "content");
        if (!json_is_object(it) || !json_is_string(role)) {
            *ret = sl__reply_error(q, 400, "invalid_type", "messages", "messages[%zu] must be an object with a string 'role'", i);
            goto fail;
        }
        m[i].role = json_string_value(role);
        if (!content || json_is_null(content)) {
            m[i].content = "";
        } else if (json_is_string(content)) {
            m[i].content = json_string_value(content);
            m[i].content_len = json_string_length(content);
        } else if (json_is_array(content)) { /* [{type: "text", text}], joined with newlines as vLLM does */
            sl__abuf b = {0};
            size_t k;
            json_t *part;
            json_array_foreach(content, k, part) {
                const char *type = json_string_value(json_object_get(part, "type"));
                json_t *text = json_object_get(part, "text");
                if (!type || strcmp(type, "text") != 0 || !json_is_string(text)) {
                    sl__abuf_free(&b);
                    *ret = sl__reply_error(q, 400, "invalid_value", "messages",
                                           "messages[%zu].content[%zu]: only parts of type 'text' are supported", i, k);
                    goto fail;
                }
                if (k && sl__abuf_put(&b, "\n", 1) != 0) goto oom;
                if (sl__abuf_put(&b, json_string_value(text), json_string_length(text)) != 0) goto oom;
            }
            t[i] = b.p ? b.p : strdup("");
            m[i].content = t[i];
            m[i].content_len = b.len;
        } else {
            *ret = sl__reply_error(q, 400, "invalid_type", "messages", "messages[%zu].content must be a string or an array", i);
            goto fail;
        }
    }
    *msgs = m;
    *n = (int)cnt;
    *texts = t;
    return 1;
oom:
    *ret = sl__reply_error(q, 500, "internal_error", NULL, "out of memory");
fail:
    for (size_t i = 0; i < cnt; i++) free(t[i]);
    free(t);
    free(m);
    return -1;
}
