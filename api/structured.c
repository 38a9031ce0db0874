/* structured.c — the structured-output fields of /v1/completions and /v1/chat/completions,
 * compiled (through the server's cache) into one lib/constraint constraint:
 *   OpenAI     response_format {"type": "text" | "json_object" | "json_schema",
 *                               "json_schema": {"name", "schema", "strict"}}
 *              (llama.cpp's {"type": "json_object", "schema": {...}} too)
 *   vLLM       structured_outputs {json | regex | choice | grammar | json_object} (with
 *              disable_any_whitespace: JSON without whitespace between tokens), and the older
 *              guided_json, guided_regex, guided_choice, guided_grammar
 *   llama.cpp  grammar (GBNF), json_schema
 * More than one of them is a 400 naming both; a compile error is a 400 naming the field and
 * the problem. No connection is touched here (the fuzz target calls it as the server does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "constraint.h"
#include "error.h"
#include "request.h"

typedef struct spec {
    const char *field;  /* for messages: "response_format", "structured_outputs.regex", ... */
    sl_cpiece_kind kind;
    json_t *json;       /* a schema or a choice array, dumped to text at compile */
    const char *text;   /* a regex or grammar (borrowed from the body) */
    size_t len;
} spec;

static int set_spec(spec *s, const char *field, sl_cpiece_kind kind, json_t *json, const char *text, size_t len,
                    sl__err *e) {
    if (s->field)
        return sl__err_set(e, 400, "invalid_value", field,
                           "'%s' and '%s' both ask for a structured output; give only one", s->field, field);
    *s = (spec){field, kind, json, text, len};
    return 0;
}

/* A schema given as an object, a boolean or a string holding one. */
static int schema_value(spec *s, const char *field, json_t *v, sl__err *e) {
    if (json_is_object(v) || json_is_boolean(v)) return set_spec(s, field, SL_CPIECE_JSON_SCHEMA, v, NULL, 0, e);
    if (json_is_string(v))
        return set_spec(s, field, SL_CPIECE_JSON_SCHEMA, NULL, json_string_value(v), json_string_length(v), e);
    return sl__err_set(e, 400, "invalid_type", field, "'%s' must be a JSON schema (an object)", field);
}

static int string_value(spec *s, const char *field, sl_cpiece_kind kind, json_t *v, sl__err *e) {
    if (!json_is_string(v)) return sl__err_set(e, 400, "invalid_type", field, "'%s' must be a string", field);
    return set_spec(s, field, kind, NULL, json_string_value(v), json_string_length(v), e);
}

static int choice_value(spec *s, const char *field, json_t *v, sl__err *e) {
    if (!json_is_array(v) || !json_array_size(v))
        return sl__err_set(e, 400, "invalid_type", field, "'%s' must be a non-empty array of strings", field);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_string(x))
        return sl__err_set(e, 400, "invalid_type", field, "'%s' must be a non-empty array of strings", field);
    return set_spec(s, field, SL_CPIECE_CHOICE, v, NULL, 0, e);
}

static int response_format(json_t *rf, spec *s, sl__err *e) {
    if (!json_is_object(rf)) return sl__err_set(e, 400, "invalid_type", "response_format", "'response_format' must be an object");
    json_t *type = json_object_get(rf, "type");
    const char *t = json_string_value(type);
    if (!t) return sl__err_set(e, 400, "invalid_value", "response_format", "'response_format.type' must be a string");
    if (!strcmp(t, "text")) return 0;
    if (!strcmp(t, "json_object")) {
        json_t *schema = json_object_get(rf, "schema"); /* llama.cpp's form */
        if (schema && !json_is_null(schema)) return schema_value(s, "response_format.schema", schema, e);
        return set_spec(s, "response_format", SL_CPIECE_JSON_OBJECT, NULL, "", 0, e);
    }
    if (!strcmp(t, "json_schema")) {
        json_t *js = json_object_get(rf, "json_schema");
        if (!json_is_object(js))
            return sl__err_set(e, 400, "invalid_value", "response_format",
                               "'response_format.json_schema' must be an object with 'name' and 'schema'");
        json_t *name = json_object_get(js, "name"), *strict = json_object_get(js, "strict");
        if (name && !json_is_string(name))
            return sl__err_set(e, 400, "invalid_type", "response_format", "'response_format.json_schema.name' must be a string");
        if (strict && !json_is_boolean(strict) && !json_is_null(strict))
            return sl__err_set(e, 400, "invalid_type", "response_format", "'response_format.json_schema.strict' must be a boolean");
        json_t *schema = json_object_get(js, "schema");
        if (!schema || json_is_null(schema)) /* OpenAI: no schema means any JSON object */
            return set_spec(s, "response_format", SL_CPIECE_JSON_OBJECT, NULL, "", 0, e);
        return schema_value(s, "response_format.json_schema.schema", schema, e);
    }
    return sl__err_set(e, 400, "unsupported", "response_format",
                       "response_format type '%.64s' is not supported (text, json_object, json_schema are)", t);
}

static int structured_outputs(json_t *so, spec *s, sl__err *e) {
    if (!json_is_object(so))
        return sl__err_set(e, 400, "invalid_type", "structured_outputs", "'structured_outputs' must be an object");
    const char *k;
    json_t *v;
    int compact = 0;
    json_object_foreach(so, k, v) {
        if (json_is_null(v)) continue;
        int rc = 0;
        if (!strcmp(k, "json")) rc = schema_value(s, "structured_outputs.json", v, e);
        else if (!strcmp(k, "regex")) rc = string_value(s, "structured_outputs.regex", SL_CPIECE_REGEX, v, e);
        else if (!strcmp(k, "grammar")) rc = string_value(s, "structured_outputs.grammar", SL_CPIECE_GBNF, v, e);
        else if (!strcmp(k, "choice")) rc = choice_value(s, "structured_outputs.choice", v, e);
        else if (!strcmp(k, "json_object")) {
            if (!json_is_boolean(v))
                return sl__err_set(e, 400, "invalid_type", "structured_outputs", "'structured_outputs.json_object' must be a boolean");
            if (json_is_true(v)) rc = set_spec(s, "structured_outputs.json_object", SL_CPIECE_JSON_OBJECT, NULL, "", 0, e);
        } else if (!strcmp(k, "disable_fallback")) {
            continue; /* there is one backend and no fallback */
        } else if (!strcmp(k, "disable_any_whitespace")) {
            if (!json_is_boolean(v))
                return sl__err_set(e, 400, "invalid_type", "structured_outputs",
                                   "'structured_outputs.disable_any_whitespace' must be a boolean");
            compact = json_is_true(v);
        } else
            return sl__err_set(e, 400, "unsupported", "structured_outputs",
                               "'structured_outputs.%.64s' is not supported (json, regex, choice, grammar, json_object, "
                               "disable_any_whitespace are)", k);
        if (rc) return rc;
    }
    if (compact && s->field && !strncmp(s->field, "structured_outputs", 18)) { /* JSON without whitespace */
        if (s->kind == SL_CPIECE_JSON_SCHEMA) s->kind = SL_CPIECE_JSON_SCHEMA_COMPACT;
        else if (s->kind == SL_CPIECE_JSON_OBJECT) s->kind = SL_CPIECE_JSON_OBJECT_COMPACT;
    }
    return 0;
}

int sl__structured_parse(json_t *body, sl_constraint_cache *cc, struct sl_constraint **out, sl__err *e) {
    *out = NULL;
    spec s = {0};
    json_t *v;
    if ((v = json_object_get(body, "response_format")) && !json_is_null(v) && response_format(v, &s, e)) return -1;
    if ((v = json_object_get(body, "structured_outputs")) && !json_is_null(v) && structured_outputs(v, &s, e)) return -1;
    if ((v = json_object_get(body, "guided_json")) && !json_is_null(v) && schema_value(&s, "guided_json", v, e)) return -1;
    if ((v = json_object_get(body, "guided_regex")) && !json_is_null(v) &&
        string_value(&s, "guided_regex", SL_CPIECE_REGEX, v, e))
        return -1;
    if ((v = json_object_get(body, "guided_choice")) && !json_is_null(v) && choice_value(&s, "guided_choice", v, e)) return -1;
    if ((v = json_object_get(body, "guided_grammar")) && !json_is_null(v) &&
        string_value(&s, "guided_grammar", SL_CPIECE_GBNF, v, e))
        return -1;
    if ((v = json_object_get(body, "grammar")) && !json_is_null(v) && string_value(&s, "grammar", SL_CPIECE_GBNF, v, e))
        return -1;
    if ((v = json_object_get(body, "json_schema")) && !json_is_null(v) && schema_value(&s, "json_schema", v, e)) return -1;
    if ((v = json_object_get(body, "guided_whitespace_pattern")) && !json_is_null(v))
        return sl__err_set(e, 400, "unsupported", "guided_whitespace_pattern", "'guided_whitespace_pattern' is not supported");
    if (!s.field) return 0;
    if (!cc) return sl__err_set(e, 400, "unsupported", s.field, "structured outputs are not available on this server");
    char *dumped = NULL;
    if (s.json) {
        dumped = json_dumps(s.json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!dumped) return sl__err_set(e, 500, "internal_error", NULL, "out of memory");
        s.text = dumped;
        s.len = strlen(dumped);
    }
    sl_cpiece p = {s.kind, s.text ? s.text : "", s.len};
    char err[512];
    int rc = sl_constraint_cache_get(cc, &p, 1, out, err, sizeof err);
    free(dumped);
    if (rc == SL_ENOMEM) return sl__err_set(e, 500, "internal_error", NULL, "out of memory compiling '%s'", s.field);
    if (rc) return sl__err_set(e, 400, "invalid_value", s.field, "cannot use '%s': %s", s.field, err);
    return 0;
}
