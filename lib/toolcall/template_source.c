/* template_source.c — the chat template's Jinja source of a model directory, read only to
 * recognise its tool-call format and <think> blocks (sl_toolcall_detect_model). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "toolcall.h"

/* Appends the chat_template value V (a string, or a list of {name, template}) to B. */
static void put_templates(sl_buf *b, const json_t *v) {
    if (json_is_string(v)) {
        sl_buf_put(b, json_string_value(v), json_string_length(v));
        sl_buf_put(b, "\n", 1);
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *t;
        json_array_foreach(v, i, t) put_templates(b, json_object_get(t, "template"));
    }
}

static void put_file(sl_buf *b, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b->len < (16u << 20)) sl_buf_put(b, chunk, n);
    fclose(f);
}

int sl_toolcall_detect_model(const char *model_dir, const char *template_file, sl_toolcall_format *fmt, int *reasoning) {
    sl_buf b = {0};
    char path[4096];
    if (template_file && *template_file) {
        put_file(&b, template_file);
    } else {
        static const char *const json_files[] = {"tokenizer_config.json", "chat_template.json"};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s", model_dir, json_files[i]);
            json_t *cfg = json_load_file(path, JSON_DECODE_INT_AS_REAL, NULL);
            put_templates(&b, json_object_get(cfg, "chat_template"));
            json_decref(cfg);
        }
        snprintf(path, sizeof path, "%s/chat_template.jinja", model_dir);
        put_file(&b, path);
    }
    *fmt = sl_toolcall_detect(b.p);
    *reasoning = sl_toolcall_detect_reasoning(b.p);
    int found = b.len > 0;
    sl_buf_free(&b);
    return found;
}
