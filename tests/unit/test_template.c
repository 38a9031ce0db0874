/* test_template.c — the Jinja engine (lib/template/jinja*.c) against jinja2.
 *
 * corpus: every template of tests/fixtures/chat/templates (real Hugging Face chat templates)
 * with every conversation of cases.json must render byte-identically to expected.json (made
 * with jinja2 in transformers' environment, strftime_now pinned to 2026-07-26), and every
 * recorded error must be an error (raise_exception with the template's own message).
 * The other tests pin Jinja/Python semantics case by case (expected strings from jinja2 3.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "chat.h"
#include "check.h"
#include "error.h"
#include "jinja.h"

#define CORPUS_EPOCH 1785024000 /* 2026-07-26 00:00:00 UTC, as render.py pins strftime_now */

static const sl_jinja_limits pinned = {.now = CORPUS_EPOCH};

/* Renders SRC with CTX (JSON text); returns malloc'ed output or NULL (error in err). */
static char *render(const char *src, const char *ctx_json, int *rc, char *err, size_t errlen) {
    sl_jinja *t;
    *rc = sl_jinja_parse(src, strlen(src), &t, err, errlen);
    if (*rc) return NULL;
    json_t *ctx = ctx_json ? json_loads(ctx_json, 0, NULL) : NULL;
    char *out = NULL;
    *rc = sl_jinja_render(t, ctx, &pinned, &out, NULL, err, errlen);
    json_decref(ctx);
    sl_jinja_free(t);
    return out;
}

#define RENDERS(src, ctx, want)                                                                           \
    do {                                                                                                  \
        char err_[512] = "";                                                                              \
        int rc_;                                                                                          \
        char *out_ = render(src, ctx, &rc_, err_, sizeof err_);                                           \
        CHECKF(out_ && !strcmp(out_, want), "%s\n      got  [%s] (%s)\n      want [%s]", src, out_ ? out_ : "(error)", err_, \
               want);                                                                                     \
        free(out_);                                                                                       \
    } while (0)

#define FAILS(src, ctx, code, msg_part)                                                                   \
    do {                                                                                                  \
        char err_[512] = "";                                                                              \
        int rc_;                                                                                          \
        char *out_ = render(src, ctx, &rc_, err_, sizeof err_);                                           \
        CHECKF(!out_ && rc_ == (code) && strstr(err_, msg_part), "%s: rc %d err [%s] out [%s]", src, rc_, err_, \
               out_ ? out_ : "");                                                                         \
        free(out_);                                                                                       \
    } while (0)

static json_t *load_json(const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "tests/fixtures/chat/%s", rel);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) fprintf(stdout, "    cannot load %s: %s\n", path, je.text);
    return j;
}

static int corpus_pass, corpus_total;

TEST(corpus) {
    json_t *cases = load_json("cases.json"), *expected = load_json("expected.json"), *tokens = load_json("tokens.json");
    CHECK(cases && expected && tokens);
    if (!cases || !expected || !tokens) return;
    const char *tname;
    json_t *per;
    int shown = 0;
    double slowest = 0;
    json_object_foreach(expected, tname, per) {
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/chat/templates/%s.jinja", tname);
        size_t len;
        char *src = check_read_file(path, &len);
        CHECKF(src, "cannot read %s", path);
        if (!src) continue;
        sl_jinja *t = NULL;
        char err[512];
        int prc = sl_jinja_parse(src, len, &t, err, sizeof err);
        CHECKF(prc == 0, "%s: parse error %s", tname, err);
        json_t *toks = json_object_get(tokens, tname);
        size_t ci;
        json_t *c;
        json_array_foreach(cases, ci, c) {
            const char *cname = json_string_value(json_object_get(c, "name"));
            json_t *want = json_object_get(per, cname);
            corpus_total++;
            if (prc) continue;
            /* the context as render.py builds it */
            json_t *ctx = json_object();
            json_object_set(ctx, "messages", json_object_get(c, "messages"));
            json_t *tools = json_object_get(c, "tools");
            json_object_set(ctx, "tools", tools ? tools : json_null());
            json_object_set_new(ctx, "documents", json_null());
            json_object_set(ctx, "add_generation_prompt", json_object_get(c, "add_generation_prompt"));
            const char *tk;
            json_t *tv;
            json_object_foreach(toks, tk, tv) {
                size_t kl = strlen(tk);
                if (kl > 6 && !strcmp(tk + kl - 6, "_token") && !json_is_null(tv)) json_object_set(ctx, tk, tv);
            }
            json_object_update(ctx, json_object_get(c, "extra"));
            char *out = NULL;
            size_t olen = 0;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            int rc = sl_jinja_render(t, ctx, &pinned, &out, &olen, err, sizeof err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
            if (ms > slowest) slowest = ms;
            json_decref(ctx);
            json_t *text = json_object_get(want, "text");
            int ok;
            if (text) {
                ok = rc == 0 && olen == json_string_length(text) && !memcmp(out, json_string_value(text), olen);
            } else {
                const char *kind = json_string_value(json_object_get(want, "kind"));
                const char *msg = json_string_value(json_object_get(want, "error"));
                ok = rc != 0 && (strcmp(kind, "raise_exception") != 0 || (rc == SL_JINJA_RAISED && !strcmp(err, msg)));
            }
            if (ok) corpus_pass++;
            else if (shown++ < 6) {
                FILE *f;
                char p2[256];
                snprintf(p2, sizeof p2, "/tmp/jinja_fail_%d.txt", shown);
                if ((f = fopen(p2, "w"))) {
                    fprintf(f, "%s / %s\n--- got (rc %d: %s)\n%s\n--- want\n%s\n", tname, cname, rc, rc ? err : "",
                            out ? out : "", text ? json_string_value(text) : json_string_value(json_object_get(want, "error")));
                    fclose(f);
                }
                CHECKF(ok, "%s / %s: rc %d (%s) (details in %s)", tname, cname, rc, rc ? err : "", p2);
            }
            free(out);
        }
        sl_jinja_free(t);
        free(src);
    }
    fprintf(stdout, "    corpus: %d/%d renders as jinja2 (slowest %.3f ms)\n", corpus_pass, corpus_total, slowest);
    CHECK(corpus_total == 504 && corpus_pass == corpus_total);
    json_decref(cases);
    json_decref(expected);
    json_decref(tokens);
}

/* tests/fixtures/chat/semantics.json: 153 snippets rendered by jinja2 (semantics.py). */
TEST(semantics) {
    json_t *j = load_json("semantics.json");
    CHECK(j != NULL);
    if (!j) return;
    json_t *ctx = json_object_get(j, "context"), *cases = json_object_get(j, "cases");
    size_t i, pass = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *src = json_string_value(json_object_get(c, "template"));
        json_t *text = json_object_get(c, "text");
        const char *want_err = json_string_value(json_object_get(c, "error"));
        sl_jinja *t = NULL;
        char err[512] = "";
        char *out = NULL;
        size_t len = 0;
        int rc = sl_jinja_parse(src, strlen(src), &t, err, sizeof err);
        if (!rc) rc = sl_jinja_render(t, ctx, &pinned, &out, &len, err, sizeof err);
        sl_jinja_free(t);
        int ok;
        if (text) ok = rc == 0 && len == json_string_length(text) && !memcmp(out, json_string_value(text), len);
        else ok = rc != 0 && (strncmp(want_err, "Raised: ", 8) != 0 || (rc == SL_JINJA_RAISED && !strcmp(err, want_err + 8)));
        pass += ok;
        CHECKF(ok, "%s\n      got  [%s] (rc %d %s)\n      want [%s]", src, out ? out : "", rc, err,
               text ? json_string_value(text) : want_err);
        free(out);
    }
    fprintf(stdout, "    semantics: %zu/%zu snippets as jinja2\n", pass, json_array_size(cases));
    CHECK(json_array_size(cases) >= 150);
    json_decref(j);
}

TEST(whitespace_control) {
    RENDERS("a\n  {% if true %}\n  b\n  {% endif %}\nc", NULL, "a\n  b\nc");
    RENDERS("{% for x in [1,2] %}\n{{ x }}\n{% endfor %}\n", NULL, "1\n2\n");
    RENDERS("a  {%- if true -%}  b  {%- endif -%}  c", NULL, "abc");
    RENDERS("  {%+ if true %}x{% endif %}", NULL, "  x");
    RENDERS("{{ 'a' }}  {# c #}\n  {{- 'b' }}", NULL, "a  b");
    RENDERS("x {# comment #}\ny", NULL, "x y");
    RENDERS("  {# comment #}\ny", NULL, "y");
    RENDERS("{% raw %}{{ x }}{% endraw %}", NULL, "{{ x }}");
    RENDERS("a\r\nb\r\n", NULL, "a\nb");
    RENDERS("{{ {'a': {'b': 1}} }}", NULL, "{'a': {'b': 1}}");
}

TEST(values_print_like_python) {
    RENDERS("{{ none }} {{ true }} {{ 1.0 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 0.1 + 0.2 }} {{ 10 / 4 }}", NULL,
            "None True 1.0 1e+20 1.5e-07 0.30000000000000004 2.5");
    RENDERS("{{ ['a', \"it's\", 1, none, [true]] }} {{ (1,) }} {{ {'k': 'v'} }}", NULL,
            "['a', \"it's\", 1, None, [True]] (1,) {'k': 'v'}");
    RENDERS("{{ x }}", "{\"x\": [\"line\\nbreak\", \"tab\\t\", \"\\u00e9\\u00a0\"]}", "['line\\nbreak', 'tab\\t', '\xc3\xa9\\xa0']");
    RENDERS("{{ undefined_thing }}|{{ none.attr }}|{{ 'ab'.nope }}|{{ [1][5] }}", NULL, "|||");
    RENDERS("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7.5 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}", NULL, "3 -4 3.0 2 1024 0.5");
    RENDERS("{{ 'a' ~ 1 ~ none ~ undefined_x }}", NULL, "a1None");
    RENDERS("{{ '%s-%d' % (1, 2) }} {{ '%s' % 'x' }} {{ '%05.1f' % 3.14159 }}", NULL, "1-2 x 003.1");
    RENDERS("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'b' in 'abc' }} {{ 1 not in [1] }}", NULL, "True False True False");
    RENDERS("{{ 'yes' if 0 else 'no' }}{{ 'x' if false }}", NULL, "no");
}

TEST(strings_and_slices) {
    RENDERS("{{ '  hi  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}", NULL,
            "hi|hi|['a', 'b', '', 'c']|['a', 'b']");
    RENDERS("{{ 'a.b.c'.rsplit('.', 1) }} {{ 'abc'[::-1] }} {{ [1,2,3,4][1:3] }} {{ 'héllo'[1:3] }} {{ 'abc'[-1] }}", NULL,
            "['a.b', 'c'] cba [2, 3] él c");
    RENDERS("{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} {{ 'abcabc'.find('c') }} {{ 'abc'.count('') }}",
            NULL, "True True 2 4");
    RENDERS("{{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'x'.upper() }} {{ '{} and {name}'.format(1, name='n') }}",
            NULL, "Hello World Hello X 1 and n");
    RENDERS("{{ 'a\\nb\\r\\nc'.splitlines() }} {{ '-'.join(['a', 'b']) }} {{ 'aXbX'.replace('X', '-', 1) }}", NULL,
            "['a', 'b', 'c'] a-b a-bX");
}

TEST(filters) {
    RENDERS("{{ [3,1,2]|sort|join(',') }} {{ ['b','A','a']|sort }} {{ [1,2,2,3]|unique|list }} {{ [1,2,3]|reverse|list }}",
            NULL, "1,2,3 ['A', 'a', 'b'] [1, 2, 3] [3, 2, 1]");
    RENDERS("{{ x|tojson }} {{ x|tojson(indent=2) }}", "{\"x\": {\"a\": [1, 2.5, \"é\\n\"], \"b\": null}}",
            "{\"a\": [1, 2.5, \"é\\n\"], \"b\": null} {\n  \"a\": [\n    1,\n    2.5,\n    \"é\\n\"\n  ],\n  \"b\": null\n}");
    RENDERS("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true, separators=(',', ':')) }}", NULL, "{\"a\":2,\"b\":1}");
    RENDERS("{{ users|map(attribute='name')|join(', ') }} {{ users|selectattr('admin')|map(attribute='name')|list }}",
            "{\"users\": [{\"name\": \"a\", \"admin\": true}, {\"name\": \"b\", \"admin\": false}]}", "a, b ['a']");
    RENDERS("{{ [1,2,3,4]|select('odd')|list }} {{ [1,2,3,4]|reject('divisibleby', 2)|list }} {{ ['a','b']|map('upper')|list }}",
            NULL, "[1, 3] [1, 3] ['A', 'B']");
    RENDERS("{{ x|default('d') }} {{ ''|default('d', true) }} {{ 'abc'|length }} {{ {'a':1}|items|list }} {{ {'b':1,'a':2}|dictsort }}",
            NULL, "d d 3 [('a', 1)] [('a', 2), ('b', 1)]");
    RENDERS("{{ 'a\\nb'|indent(2) }}|{{ 'a\\n\\nb'|indent(2, true) }}|{{ 'x'|center(5) }}|", NULL, "a\n  b|  a\n\n  b|  x  |");
    RENDERS("{{ '3'|int + 1 }} {{ '2.5'|float }} {{ 'x'|int(7) }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 1|round }} {{ -3|abs }} {{ [1,2,3]|sum }}", NULL,
            "4 2.5 7 2.57 2.0 1 3 6");
    RENDERS("{{ [1,2,3,4,5]|batch(2)|list }} {{ 'hello world foo'|wordcount }} {{ 'a&<'|escape }} {{ [3,1]|max }}", NULL,
            "[[1, 2], [3, 4], [5]] 3 a&amp;&lt; 3");
    RENDERS("{{ 'foo bar baz qux'|truncate(9, leeway=0) }} {{ 'hello WORLD-x'|title }} {{ '%s=%s'|format('a', 1) }}", NULL,
            "foo... Hello World-X a=1");
}

TEST(statements) {
    RENDERS("{% for k, v in d.items() %}{{ k }}={{ v }}{% if not loop.last %},{% endif %}{% endfor %}",
            "{\"d\": {\"x\": 1, \"y\": 2}}", "x=1,y=2");
    RENDERS("{% for x in [1,2,3,4] if x is even %}{{ loop.index }}:{{ x }} {% else %}none{% endfor %}", NULL, "1:2 2:4 ");
    RENDERS("{% for x in [] %}x{% else %}empty{% endfor %}", NULL, "empty");
    RENDERS("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
            NULL, "13");
    RENDERS("{% for x in 'ab' %}{{ loop.previtem }}{{ x }}{{ loop.nextitem }}{{ loop.revindex }} {% endfor %}", NULL,
            "ab2 ab1 ");
    RENDERS("{% set ns = namespace(n=0) %}{% for x in [1,2] %}{% set ns.n = ns.n + x %}{% set local = x %}{% endfor %}{{ ns.n }}{{ local }}",
            NULL, "3");
    RENDERS("{% macro m(a, b='B') %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}{{ m() }}", NULL, "[1B][12][B]");
    RENDERS("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", NULL, "321");
    RENDERS("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}", NULL, "<in>");
    RENDERS("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c %}x{{ a }}{% endset %}{{ c }}", NULL, "12x1");
    RENDERS("{% filter upper %}abc{% endfilter %}{% with q = 5 %}{{ q }}{% endwith %}{{ q }}", NULL, "ABC5");
    RENDERS("{% if a %}1{% elif b %}2{% else %}3{% endif %}", "{\"b\": true}", "2");
    RENDERS("{% generation %}g{% endgeneration %}", NULL, "g");
    RENDERS("{% for x in t recursive %}[{{ loop.depth }}{{ x.n }}{{ loop(x.c) if x.c }}]{% endfor %}",
            "{\"t\": [{\"n\": \"a\", \"c\": [{\"n\": \"b\"}, {\"n\": \"c\", \"c\": [{\"n\": \"d\"}]}]}, {\"n\": \"e\"}]}",
            "[1a[2b][2c[3d]]][1e]");
    RENDERS("{{ x is defined }}{{ x is none }}{{ 1 is number }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}"
            "{{ 3 is odd }}{{ 4 is divisibleby 2 }}{{ 'ab' is lower }}{{ 2 is eq 2 }}{{ none is none }}",
            NULL, "FalseFalseTrueTrueTrueTrueTrueTrueTrueTrueTrue");
    RENDERS("{{ strftime_now('%Y-%m-%d %B') }}", NULL, "2026-07-26 July");
    RENDERS("{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ dict(a=1) }}", NULL, "[0, 1, 2] [1, 3, 5] {'a': 1}");
}

TEST(errors) {
    FAILS("{{ raise_exception('Only user and assistant roles') }}", NULL, SL_JINJA_RAISED, "Only user and assistant roles");
    FAILS("{{ x.y }}", NULL, SL_EINVAL, "'x' is undefined");
    FAILS("{{ 1 + 'a' }}", NULL, SL_EINVAL, "unsupported operand");
    FAILS("{{ x|tojson }}", NULL, SL_EINVAL, "not JSON serializable");
    FAILS("{% for x in none %}{% endfor %}", NULL, SL_EINVAL, "not iterable");
    FAILS("{% set ns = namespace(l=[]) %}{{ ns.l.append(1) }}", NULL, SL_EINVAL, "unsafe");
    FAILS("{% for x in y %}{{ x|nosuchfilter }}{% endfor %}", NULL, SL_EFORMAT, "line 1: No filter named 'nosuchfilter'");
    RENDERS("{% if false %}{{ x|nosuchfilter }}{% endif %}", NULL, ""); /* jinja2 3: fails only when reached */
    FAILS("{% if true %}{{ x|nosuchfilter }}{% endif %}", NULL, SL_EINVAL, "No filter named 'nosuchfilter'");
    FAILS("\n{{ x is nosuchtest }}", NULL, SL_EFORMAT, "line 2: No test named 'nosuchtest'");
    FAILS("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", NULL, SL_EINVAL, "takes not more than 1 argument");
    FAILS("{% set x = 1 %}{{ x.__class__.__mro__ }}", NULL, SL_EINVAL, "undefined");
    /* syntax errors name their line */
    FAILS("line one\n{% if x %}\nno end", NULL, SL_EFORMAT, "line 3");
    FAILS("\n\n{{ x + }}", NULL, SL_EFORMAT, "line 3");
    FAILS("{% include 'other' %}", NULL, SL_EFORMAT, "not supported");
    FAILS("{% do x %}", NULL, SL_EFORMAT, "unknown tag 'do'");
    FAILS("{{ 'unterminated }}", NULL, SL_EFORMAT, "line 1");
}

TEST(hostile_templates_are_bounded) {
    /* nested loops past the step budget, deep recursion, huge output, huge strings */
    FAILS("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", NULL, SL_ETOOBIG, "steps");
    FAILS("{% set ns = namespace(l=[]) %}{% for a in range(1000) %}{% set ns.l = ns.l + range(100000)|list %}{% endfor %}",
          NULL, SL_ETOOBIG, "memory");
    FAILS("{% set r = range(100000) %}{% for a in r %}{% for b in r %}{% endfor %}{% endfor %}", NULL, SL_ETOOBIG, "steps");
    FAILS("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", NULL, SL_ETOOBIG, "nested deeper");
    FAILS("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", NULL, SL_ETOOBIG, "nested deeper");
    FAILS("{% for x in [1] %}{{ loop([1]) }}{% endfor %}", NULL, SL_EINVAL, "recursive");
    FAILS("{% for a in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", NULL, SL_ETOOBIG, "longer than");
    FAILS("{{ 'x' * 10000000000 }}", NULL, SL_ETOOBIG, "too large");
    FAILS("{% set ns = namespace(s='x') %}{% for a in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", NULL,
          SL_ETOOBIG, "");
    char deep[4000];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "{{ ");
    for (int i = 0; i < 1000; i++) deep[k++] = '(';
    deep[k] = 0;
    FAILS(deep, NULL, SL_EFORMAT, "nested too deeply");
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *chat_render(const sl_chat *c, const char *ctx_json, int *rc, char *err, size_t errlen) {
    json_t *ctx = json_loads(ctx_json, 0, NULL);
    char *out = NULL;
    *rc = sl_chat_render(c, ctx, &out, NULL, err, errlen);
    json_decref(ctx);
    return out;
}

/* Where templates come from (chat.h) and which one a request gets. */
TEST(chat_sources) {
    char dir[] = "/tmp/sl-chat-XXXXXX", err[512];
    CHECK(mkdtemp(dir) != NULL);
    sl_chat c;
    int rc;
    char *out;
    const char *one = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": null}";
    const char *with_tools = "{\"messages\": [], \"tools\": [{\"type\": \"function\"}]}";
    /* no template: not ready, chat answers SL_ENOTSUP with the reason */
    CHECK(sl_chat_init(&c, FIXTURE("models/qwen2-tiny"), NULL, err, sizeof err) == 0 && !sl_chat_ready(&c));
    out = chat_render(&c, one, &rc, err, sizeof err);
    CHECK(!out && rc == SL_ENOTSUP && strstr(err, "no chat template"));
    CHECK(!strcmp(sl_chat_end_token(&c), "<|endoftext|>") && !c.bos);
    sl_chat_free(&c);
    /* --chat-template FILE over the model's; bos/eos of tokenizer_config.json reach the template */
    CHECK(sl_chat_init(&c, FIXTURE("models/llama-tiny"), "nonexistent.jinja", err, sizeof err) == SL_ENOENT);
    CHECK(sl_chat_init(&c, FIXTURE("models/llama-tiny"), FIXTURE("chat/templates/meta-llama-Llama-3.1-8B-Instruct.jinja"),
                       err, sizeof err) == 0 && sl_chat_ready(&c));
    out = chat_render(&c, one, &rc, err, sizeof err);
    CHECKF(out && !strncmp(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>", 58), "%s", out ? out : err);
    free(out);
    CHECK(sl_template_source(&c, 0) && strstr(sl_template_source(&c, 1), "<|python_tag|>"));
    sl_chat_free(&c);
    /* a model directory: tokenizer_config.json with named templates and AddedToken dicts */
    write_file(dir, "tokenizer_config.json",
               "{\"bos_token\": {\"content\": \"<B>\", \"lstrip\": false}, \"eos_token\": \"<E>\", \"chat_template\": ["
               "{\"name\": \"default\", \"template\": \"D{{ bos_token }}{{ eos_token }}\"},"
               "{\"name\": \"tool_use\", \"template\": \"T{{ tools|length }}\"}]}");
    CHECK(sl_chat_init(&c, dir, NULL, err, sizeof err) == 0 && sl_chat_ready(&c) && c.tmpl_tools);
    out = chat_render(&c, one, &rc, err, sizeof err);
    CHECKF(out && !strcmp(out, "D<B><E>"), "%s", out ? out : err);
    free(out);
    out = chat_render(&c, with_tools, &rc, err, sizeof err);
    CHECKF(out && !strcmp(out, "T1"), "%s", out ? out : err);
    free(out);
    CHECK(!strcmp(sl_chat_end_token(&c), "<E>"));
    sl_chat_free(&c);
    /* chat_template.json over tokenizer_config.json; chat_template.jinja over both */
    write_file(dir, "chat_template.json", "{\"chat_template\": \"J\"}");
    CHECK(sl_chat_init(&c, dir, NULL, err, sizeof err) == 0 && !strcmp(sl_template_source(&c, 0), "J"));
    sl_chat_free(&c);
    /* chat_template.jinja + additional_chat_templates/tool_use.jinja (newer transformers) */
    write_file(dir, "chat_template.jinja", "plain");
    char sub[64];
    snprintf(sub, sizeof sub, "%s/additional_chat_templates", dir);
    CHECK(mkdir(sub, 0700) == 0);
    write_file(sub, "tool_use.jinja", "tools{{ tools|length }}");
    CHECK(sl_chat_init(&c, dir, NULL, err, sizeof err) == 0 && sl_chat_ready(&c));
    out = chat_render(&c, with_tools, &rc, err, sizeof err);
    CHECKF(out && !strcmp(out, "tools1"), "%s", out ? out : err);
    free(out);
    out = chat_render(&c, one, &rc, err, sizeof err);
    CHECKF(out && !strcmp(out, "plain"), "%s", out ? out : err);
    free(out);
    sl_chat_free(&c);
    write_file(dir, "chat_template.jinja", "{% if %}\n");
    /* a template that does not parse: not fatal, reported with its file and line */
    CHECK(sl_chat_init(&c, dir, NULL, err, sizeof err) == 0 && !sl_chat_ready(&c));
    CHECKF(strstr(c.error, "chat_template.jinja") && strstr(c.error, "line 1"), "%s", c.error);
    out = chat_render(&c, one, &rc, err, sizeof err);
    CHECK(!out && rc == SL_ENOTSUP && strstr(err, "line 1"));
    sl_chat_free(&c);
    /* an inline template, as vLLM's --chat-template accepts */
    CHECK(sl_chat_init(&c, dir, "{{ messages[0].content }}!", err, sizeof err) == 0);
    out = chat_render(&c, one, &rc, err, sizeof err);
    CHECK(out && !strcmp(out, "hi!"));
    free(out);
    sl_chat_free(&c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    RUN(corpus);
    RUN(semantics);
    RUN(whitespace_control);
    RUN(values_print_like_python);
    RUN(strings_and_slices);
    RUN(filters);
    RUN(statements);
    RUN(errors);
    RUN(hostile_templates_are_bounded);
    RUN(chat_sources);
    return check_summary();
}
