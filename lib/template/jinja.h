/* jinja.h — a Jinja2 template engine for chat templates (no HTTP, no files).
 *
 * Renders a model's `chat_template` the way Hugging Face transformers' apply_chat_template
 * does: jinja2's ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loop
 * controls extension (break/continue), transformers' `tojson` (json.dumps with
 * ensure_ascii=False), the globals raise_exception(msg) and strftime_now(fmt), and the
 * {% generation %} block. Values follow Python: `{{ none }}` prints "None", lists and dicts
 * print as Python reprs, strings have Python's methods (strip, split, startswith, ...),
 * undefined variables behave like jinja2's default Undefined.
 *
 * A template is untrusted code: parsing is bounded (nesting depth), rendering is bounded in
 * output size, memory, loop iterations, macro recursion and wall time (sl_jinja_limits). The
 * only things a template can reach are the context it is given and the builtins above:
 * no files, no environment, no Python attributes.
 *
 * A parsed template (sl_jinja) is immutable: several threads may render it at once. */
#ifndef SL_JINJA_H
#define SL_JINJA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct sl_jinja sl_jinja;

/* Parses SRC (LEN bytes, UTF-8). *out is owned by the caller (sl_jinja_free). On a syntax
 * error returns SL_EFORMAT with "line N: what" in err. */
int sl_jinja_parse(const char *src, size_t len, sl_jinja **out, char *err, size_t errlen);
void sl_jinja_free(sl_jinja *t);

typedef struct sl_jinja_limits {
    size_t max_output;  /* bytes of rendered text (0: 4 MiB) */
    size_t max_memory;  /* bytes of values made while rendering (0: 64 MiB) */
    long max_steps;     /* loop iterations + macro calls + filter calls (0: 1,000,000) */
    int max_depth;      /* nested macro calls (0: 64) */
    unsigned max_ms;    /* wall time (0: 2000 ms) */
    int64_t now;        /* strftime_now's clock, seconds since the epoch (UTC); -1: the clock, or
                           SOURCE_DATE_EPOCH when set */
} sl_jinja_limits;

/* Error codes of sl_jinja_render beyond SL_E*: the template called raise_exception(msg)
 * (err holds msg exactly). */
#define SL_JINJA_RAISED (-100)

/* Renders T with the variables of CTX (a JSON object; NULL: none). Variables absent from CTX
 * are undefined. *out is malloc'ed and NUL-terminated (caller frees), *len its length.
 * Errors: SL_JINJA_RAISED (raise_exception), SL_EINVAL (the template failed: a type error,
 * an undefined value used, ...), SL_ETOOBIG (a limit of LIM was reached), SL_ENOMEM. */
int sl_jinja_render(const sl_jinja *t, const json_t *ctx, const sl_jinja_limits *lim, char **out, size_t *len,
                    char *err, size_t errlen);

#endif
