/* test_constraint.c — the constraint compilers (JSON Schema, regex, GBNF, choice) and token
 * masking against the fixture tokenizers (byte-level BPE and SentencePiece with byte
 * fallback): every masked walk ends in text the constraint accepts. */
#include "check.h"

#include <jansson.h>
#include <time.h>

#include "buf.h"
#include "constraint.h"
#include "error.h"
#include "tokenizer.h"

static const char *const TOKS[] = {"tests/fixtures/tokenizers/llama3-bpe/tokenizer.json",
                                   "tests/fixtures/tokenizers/gpt2-bpe/tokenizer.json",
                                   "tests/fixtures/tokenizers/spm-bpe/tokenizer.json"};

static sl_tokenizer *tok_load(int i) {
    sl_tokenizer *t = NULL;
    char err[256];
    if (sl_tokenizer_load(&t, TOKS[i], err, sizeof err)) printf("    load %s: %s\n", TOKS[i], err);
    return t;
}

static sl_tokenizer *g_tok;
static sl_cvocab *g_voc;

static sl_constraint *compile1(sl_cpiece_kind k, const char *text, char *err, size_t errlen) {
    sl_constraint *c = NULL;
    sl_cpiece p = {k, text, text ? strlen(text) : 0};
    sl_constraint_compile(&c, g_voc, &p, 1, err, errlen);
    return c;
}

/* 1 if TEXT is a complete output of C. */
static int full(sl_constraint *c, const char *text) {
    sl_cmatch *m = sl_cmatch_new(c);
    int ok = sl_cmatch_accept_bytes(m, text, strlen(text)) == 0 && sl_cmatch_complete(m);
    sl_cmatch_free(m);
    return ok;
}

static int refused(sl_cpiece_kind k, const char *text, const char *needle) {
    char err[512] = "";
    sl_constraint *c = compile1(k, text, err, sizeof err);
    if (c) {
        sl_constraint_unref(c);
        printf("    compiled but should not: %s\n", text);
        return 0;
    }
    if (!strstr(err, needle)) printf("    error for %s: '%s' lacks '%s'\n", text, err, needle);
    return strstr(err, needle) != NULL;
}

TEST(regex_full_match) {
    char err[256];
    sl_constraint *c = compile1(SL_CPIECE_REGEX, "[a-z]{2,3}\\d(-x|y)?", err, sizeof err);
    CHECKF(c, "%s", err);
    if (!c) return;
    CHECK(full(c, "ab1"));
    CHECK(full(c, "abc1-x"));
    CHECK(full(c, "abc9y"));
    CHECK(!full(c, "a1"));
    CHECK(!full(c, "abcd1"));
    CHECK(!full(c, "ab1-"));
    sl_constraint_unref(c);
    c = compile1(SL_CPIECE_REGEX, "^(\\+|-)?[0-9]+(\\.[0-9]*)?é[^\\s]$", err, sizeof err);
    CHECKF(c, "%s", err);
    if (c) {
        CHECK(full(c, "-12.5éx"));
        CHECK(full(c, "7éé"));
        CHECK(!full(c, "7é "));
        CHECK(!full(c, "7e"));
        sl_constraint_unref(c);
    }
}

TEST(regex_refusals_name_the_construct) {
    CHECK(refused(SL_CPIECE_REGEX, "(a)\\1", "backreference"));
    CHECK(refused(SL_CPIECE_REGEX, "a(?=b)", "lookahead"));
    CHECK(refused(SL_CPIECE_REGEX, "(?<=a)b", "lookbehind"));
    CHECK(refused(SL_CPIECE_REGEX, "\\bword", "word boundar"));
    CHECK(refused(SL_CPIECE_REGEX, "(?i)abc", "inline flags"));
    CHECK(refused(SL_CPIECE_REGEX, "a{3,2}", "n < m"));
    CHECK(refused(SL_CPIECE_REGEX, "a{1,99999}", "2000"));
    CHECK(refused(SL_CPIECE_REGEX, "(ab", "')'"));
    CHECK(refused(SL_CPIECE_REGEX, "*a", "nothing to repeat"));
    CHECK(refused(SL_CPIECE_REGEX, "a^b", "anchors"));
    char deep[300];
    memset(deep, '(', 100);
    memset(deep + 100, ')', 100);
    deep[200] = 0;
    CHECK(refused(SL_CPIECE_REGEX, deep, "nested"));
}

static const char *ARITH = "# arithmetic\n"
                           "root ::= expr\n"
                           "expr ::= term ((\"+\" | \"-\") term)*\n"
                           "term ::= factor ((\"*\" | \"/\") factor)*\n"
                           "factor ::= [0-9]+ | \"(\" expr \")\"\n";

TEST(gbnf_arithmetic) {
    char err[256];
    sl_constraint *c = compile1(SL_CPIECE_GBNF, ARITH, err, sizeof err);
    CHECKF(c, "%s", err);
    if (!c) return;
    CHECK(full(c, "1+2*(3-4)"));
    CHECK(full(c, "((7))/12"));
    CHECK(!full(c, "1+"));
    CHECK(!full(c, "(1"));
    CHECK(!full(c, "1 + 2"));
    sl_constraint_unref(c);
    c = compile1(SL_CPIECE_GBNF, "root ::= \"a\" x{2,3} [^a-c\\n] .\nx ::= \"\\x41\" | \"\\u00e9\"", err, sizeof err);
    CHECKF(c, "%s", err);
    if (c) {
        CHECK(full(c, "aAéd€"));
        CHECK(!full(c, "aAbd€"));
        sl_constraint_unref(c);
    }
}

TEST(gbnf_refusals) {
    CHECK(refused(SL_CPIECE_GBNF, "root ::= root \"a\" | \"a\"", "left-recursive"));
    CHECK(refused(SL_CPIECE_GBNF, "root ::= x? root \"a\"\nx ::= \"b\"", "left-recursive"));
    CHECK(refused(SL_CPIECE_GBNF, "root ::= foo", "never defined"));
    CHECK(refused(SL_CPIECE_GBNF, "start ::= \"a\"", "root"));
    CHECK(refused(SL_CPIECE_GBNF, "root ::= \"a\nb\"", "newline"));
    CHECK(refused(SL_CPIECE_GBNF, "root ::= \"a\"\nroot ::= \"b\"", "twice"));
    CHECK(refused(SL_CPIECE_GBNF, "root ::= <think>", "token references"));
}

static const char *PERSON =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":8},"
    "\"age\":{\"type\":\"integer\",\"minimum\":-5,\"maximum\":130},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\",1,null]},\"maxItems\":3},"
    "\"kind\":{\"anyOf\":[{\"type\":\"boolean\"},{\"$ref\":\"#/$defs/k\"}]}},"
    "\"required\":[\"name\",\"age\"],\"additionalProperties\":false,"
    "\"$defs\":{\"k\":{\"type\":\"string\",\"pattern\":\"^k[0-9]$\"}}}";

TEST(schema_object) {
    char err[256];
    sl_constraint *c = compile1(SL_CPIECE_JSON_SCHEMA, PERSON, err, sizeof err);
    CHECKF(c, "%s", err);
    if (!c) return;
    CHECK(full(c, "{\"name\":\"bo\",\"age\":3}"));
    CHECK(full(c, "{ \"name\": \"bo\",\n  \"age\": -5, \"tags\": [\"a\", 1, null], \"kind\": \"k7\" }"));
    CHECK(full(c, "{\"name\":\"\",\"age\":130,\"kind\":true}"));
    CHECK(!full(c, "{\"name\":\"bo\"}"));                   /* age required */
    CHECK(!full(c, "{\"age\":3,\"name\":\"bo\"}"));         /* order of properties */
    CHECK(!full(c, "{\"name\":\"bo\",\"age\":131}"));
    CHECK(!full(c, "{\"name\":\"bo\",\"age\":-6}"));
    CHECK(!full(c, "{\"name\":\"bo\",\"age\":07}"));
    CHECK(!full(c, "{\"name\":\"123456789\",\"age\":1}"));  /* maxLength */
    CHECK(!full(c, "{\"name\":\"b\",\"age\":1,\"tags\":[1,1,1,1]}"));
    CHECK(!full(c, "{\"name\":\"b\",\"age\":1,\"kind\":\"k77\"}"));
    CHECK(!full(c, "{\"name\":\"b\",\"age\":1,\"x\":1}"));
    sl_constraint_unref(c);
}

TEST(schema_ranges_and_recursion) {
    char err[256];
    sl_constraint *c = compile1(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"integer\",\"exclusiveMinimum\":99,\"maximum\":1234}", err,
                                sizeof err);
    CHECKF(c, "%s", err);
    if (c) {
        char b[16];
        int bad = 0;
        for (int i = -20; i < 1300; i++) {
            snprintf(b, sizeof b, "%d", i);
            if (full(c, b) != (i >= 100 && i <= 1234)) bad++;
        }
        CHECKF(!bad, "%d integers misjudged", bad);
        sl_constraint_unref(c);
    }
    c = compile1(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"number\",\"minimum\":-2.5,\"exclusiveMaximum\":3.5}", err, sizeof err);
    CHECKF(c, "%s", err);
    if (c) {
        const char *in[] = {"3", "3.0", "-2", "-2.000", "-1.99", "0", "0.7", "-0.25", "2.999"};
        const char *out[] = {"3.5", "4", "-3", "3.01", "1e2", "-2.01", "03", "."};
        for (size_t i = 0; i < sizeof in / sizeof *in; i++) CHECKF(full(c, in[i]), "%s refused", in[i]);
        for (size_t i = 0; i < sizeof out / sizeof *out; i++) CHECKF(!full(c, out[i]), "%s accepted", out[i]);
        sl_constraint_unref(c);
    }
    c = compile1(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"number\",\"exclusiveMinimum\":1e300}", err, sizeof err);
    CHECK(!c && strstr(err, "enclose"));
    c = compile1(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"integer\",\"maximum\":-1e300}", err, sizeof err);
    CHECK(!c && strstr(err, "no integer"));
    c = compile1(SL_CPIECE_JSON_SCHEMA,
                 "{\"$ref\":\"#/definitions/node\",\"definitions\":{\"node\":{\"type\":\"object\",\"properties\":{"
                 "\"v\":{\"type\":\"integer\"},\"next\":{\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#/definitions/node\"}]}},"
                 "\"required\":[\"v\",\"next\"]}}}",
                 err, sizeof err);
    CHECKF(c, "%s", err);
    if (c) {
        CHECK(full(c, "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}"));
        CHECK(!full(c, "{\"v\":1,\"next\":{\"v\":2}}"));
        sl_constraint_unref(c);
    }
}

TEST(schema_additional_keys_never_repeat_listed_ones) {
    char err[256];
    sl_constraint *c = compile1(SL_CPIECE_JSON_SCHEMA,
                                "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"ab\":{\"type\":\"null\"},"
                                "\"é\":{\"type\":\"null\"}},\"additionalProperties\":{\"type\":\"boolean\"}}",
                                err, sizeof err);
    CHECKF(c, "%s", err);
    if (!c) return;
    CHECK(full(c, "{\"a\":1,\"ab\":null,\"b\":true,\"abc\":false,\"\":true,\"x y\":false}"));
    CHECK(full(c, "{\"aa\":true}"));
    CHECK(!full(c, "{\"a\":1,\"a\":true}"));   /* a listed key again */
    CHECK(!full(c, "{\"ab\":null,\"ab\":true}"));
    CHECK(!full(c, "{\"b\":1}"));               /* an extra value must match its schema */
    sl_constraint_unref(c);
}

TEST(schema_compact_has_no_whitespace) {
    char err[256];
    const char *t = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}},"
                    "\"required\":[\"a\"]}";
    sl_cpiece p = {SL_CPIECE_JSON_SCHEMA_COMPACT, t, strlen(t)}, q = {SL_CPIECE_JSON_OBJECT_COMPACT, "", 0};
    sl_constraint *c = NULL, *o = NULL;
    CHECKF(sl_constraint_compile(&c, g_voc, &p, 1, err, sizeof err) == 0, "%s", err);
    CHECKF(sl_constraint_compile(&o, g_voc, &q, 1, err, sizeof err) == 0, "%s", err);
    if (c) {
        CHECK(full(c, "{\"a\":[1,2]}") && full(c, "{\"a\":[]}"));
        CHECK(!full(c, "{\"a\": [1,2]}") && !full(c, "{ \"a\":[1]}") && !full(c, "{\"a\":[1, 2]}"));
        sl_constraint_unref(c);
    }
    if (o) {
        CHECK(full(o, "{\"k\":{\"x\":[true,null,\"a b\"]}}") && full(o, "{}"));
        CHECK(!full(o, "{\"k\": 1}") && !full(o, "{ }"));
        sl_constraint_unref(o);
    }
}

TEST(schema_refusals_name_the_keyword) {
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"string\",\"not\":{}}", "'not'"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"object\",\"patternProperties\":{}}", "'patternProperties'"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"array\",\"uniqueItems\":true}", "'uniqueItems'"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"string\",\"format\":\"hostname\"}", "hostname"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"number\",\"minimum\":0.2,\"maximum\":0.8}", "enclose an integer"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"string\",\"minItems\":1}", "'minItems'"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"$ref\":\"http://x/y\"}", "$ref"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"strin\"}", "strin"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":", "not valid JSON"));
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, "{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}", "backreference"));
    sl_buf deep = {0};
    for (int i = 0; i < 100; i++) sl_buf_put(&deep, "{\"type\":\"array\",\"items\":", 24);
    sl_buf_put(&deep, "{}", 2);
    for (int i = 0; i < 100; i++) sl_buf_put(&deep, "}", 1);
    CHECK(refused(SL_CPIECE_JSON_SCHEMA, deep.p, "nested"));
    sl_buf_free(&deep);
}

TEST(choice_and_pieces) {
    char err[256];
    sl_constraint *c = compile1(SL_CPIECE_CHOICE, "[\"yes\",\"no\",\"yes!\",\"nö\"]", err, sizeof err);
    CHECKF(c, "%s", err);
    if (c) {
        CHECK(full(c, "yes") && full(c, "no") && full(c, "yes!") && full(c, "nö"));
        CHECK(!full(c, "ye") && !full(c, "maybe"));
        sl_constraint_unref(c);
    }
    /* A forced tool call: literal + schema + literal. */
    const char *schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"const\":\"get_weather\"},"
                         "\"arguments\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                         "\"required\":[\"city\"]}},\"required\":[\"name\",\"arguments\"]}";
    sl_cpiece p[3] = {{SL_CPIECE_LITERAL, "<tool_call>\n", 12},
                      {SL_CPIECE_JSON_SCHEMA, schema, strlen(schema)},
                      {SL_CPIECE_LITERAL, "\n</tool_call>", 13}};
    sl_constraint *t = NULL;
    CHECK(sl_constraint_compile(&t, g_voc, p, 3, err, sizeof err) == 0);
    if (t) {
        CHECK(full(t, "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}\n</tool_call>"));
        CHECK(!full(t, "<tool_call>\n{\"name\":\"other\",\"arguments\":{\"city\":\"Oslo\"}}\n</tool_call>"));
        sl_constraint_unref(t);
    }
    CHECK(refused(SL_CPIECE_CHOICE, "[]", "non-empty"));
    CHECK(refused(SL_CPIECE_CHOICE, "[1]", "not a string"));
}

/* Walks the mask with a fixed pseudo-random choice until complete (or MAX tokens); returns
 * the token ids' decoded text in OUT and whether it completed. Checks that every chosen
 * token was allowed and that the text replays through a fresh matcher. */
static int masked_walk(sl_tokenizer *tok, sl_cvocab *v, sl_constraint *c, uint64_t seed, int max, sl_buf *out) {
    int nv = sl_cvocab_size(v), words = (nv + 63) / 64, complete = 0, n = 0;
    uint64_t *mask = malloc((size_t)words * 8);
    int32_t ids[512];
    sl_cmatch *m = sl_cmatch_new(c);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    while (n < max && n < 512) {
        if (sl_cmatch_mask(m, mask) != 0) break;
        int cnt = 0;
        for (int i = 0; i < nv; i++) cnt += (int)((mask[i >> 6] >> (i & 63)) & 1);
        /* a complete output ends half of the time, or always when nothing else may follow */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (sl_cmatch_complete(m) && (cnt == 0 || (x & 1))) {
            complete = 1;
            break;
        }
        if (!cnt) break;
        int k = (int)((x >> 8) % (uint64_t)cnt), pick = -1;
        for (int i = 0; i < nv && pick < 0; i++)
            if (((mask[i >> 6] >> (i & 63)) & 1) && k-- == 0) pick = i;
        if (sl_cmatch_accept(m, pick) != 0) {
            printf("    allowed token %d was refused\n", pick);
            break;
        }
        ids[n++] = pick;
    }
    sl_cmatch_free(m);
    free(mask);
    char *text = NULL;
    size_t tl = 0;
    out->len = 0;
    if (sl_tokenizer_decode(tok, ids, (size_t)n, 1, &text, &tl, NULL, 0) == 0) sl_buf_put(out, text, tl);
    free(text);
    if (complete && !full(c, out->p ? out->p : "")) {
        printf("    decoded text does not match: '%.*s'\n", (int)out->len, out->p ? out->p : "");
        return -1;
    }
    return complete;
}

TEST(masked_walks_on_every_tokenizer) {
    const char *schemas[] = {PERSON, "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},\"n\":{\"type\":\"number\"},"
                                     "\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":5}},\"required\":[\"ok\",\"n\",\"s\"]}"};
    for (int t = 0; t < 3; t++) {
        sl_tokenizer *tok = tok_load(t);
        CHECK(tok);
        if (!tok) continue;
        sl_cvocab *v = NULL;
        char err[256];
        CHECK(sl_cvocab_init(&v, tok, sl_tokenizer_vocab_size(tok) + 7, err, sizeof err) == 0);
        sl_constraint *cs[5] = {0};
        sl_cpiece p[5] = {{SL_CPIECE_JSON_SCHEMA, schemas[0], strlen(schemas[0])},
                          {SL_CPIECE_JSON_SCHEMA, schemas[1], strlen(schemas[1])},
                          {SL_CPIECE_REGEX, "(cat|dog|ü+) [0-9]{1,3}", 23},
                          {SL_CPIECE_GBNF, ARITH, strlen(ARITH)},
                          {SL_CPIECE_JSON_OBJECT, "", 0}};
        for (int k = 0; k < 5; k++) CHECKF(sl_constraint_compile(&cs[k], v, &p[k], 1, err, sizeof err) == 0, "%s", err);
        sl_buf out = {0};
        int completed = 0;
        for (int k = 0; k < 5; k++) {
            if (!cs[k]) continue;
            for (int s = 0; s < 6; s++) {
                int rc = masked_walk(tok, v, cs[k], (uint64_t)(s + 1) * 31 + (uint64_t)k, 200, &out);
                CHECKF(rc >= 0, "tokenizer %d piece %d seed %d", t, k, s);
                completed += rc == 1;
                if (rc == 1 && p[k].kind != SL_CPIECE_REGEX && p[k].kind != SL_CPIECE_GBNF) {
                    json_error_t je;
                    json_t *j = json_loadb(out.p, out.len, 0, &je);
                    CHECKF(j, "not JSON: %.*s", (int)out.len, out.p);
                    json_decref(j);
                }
            }
            sl_constraint_unref(cs[k]);
        }
        CHECKF(completed >= 10, "only %d walks completed", completed);
        sl_buf_free(&out);
        sl_cvocab_free(v);
        sl_tokenizer_free(tok);
    }
}

TEST(special_tokens_never_terminators_only_when_complete) {
    char err[256];
    sl_constraint *c = compile1(SL_CPIECE_CHOICE, "[\"ab\"]", err, sizeof err);
    CHECK(c);
    if (!c) return;
    int nv = sl_cvocab_size(g_voc);
    uint64_t *mask = calloc((size_t)(nv + 63) / 64, 8);
    sl_cmatch *m = sl_cmatch_new(c);
    CHECK(sl_cmatch_mask(m, mask) == 0);
    for (int i = 0; i < nv; i++)
        if (sl_tokenizer_is_special(g_tok, i)) CHECK(!((mask[i >> 6] >> (i & 63)) & 1));
    CHECK(!sl_cmatch_complete(m));
    CHECK(sl_cmatch_accept_bytes(m, "a", 1) == 0);
    CHECK(sl_cmatch_accept_bytes(m, "x", 1) == SL_EINVAL); /* refused; state kept */
    CHECK(sl_cmatch_accept_bytes(m, "b", 1) == 0);
    CHECK(sl_cmatch_complete(m) && sl_cmatch_finished(m));
    CHECK(sl_cmatch_mask(m, mask) == 0);
    int any = 0;
    for (int i = 0; i < (nv + 63) / 64; i++) any |= mask[i] != 0;
    CHECK(!any);
    sl_cmatch_free(m);
    free(mask);
    sl_constraint_unref(c);
}

TEST(cache_and_hostile_bounds) {
    sl_constraint_cache *cc = NULL;
    CHECK(sl_constraint_cache_init(&cc, g_voc, 2) == 0);
    sl_cpiece p = {SL_CPIECE_REGEX, "[0-9]+", 6};
    sl_constraint *a = NULL, *b = NULL, *d = NULL;
    char err[256];
    CHECK(sl_constraint_cache_get(cc, &p, 1, &a, err, sizeof err) == 0);
    CHECK(sl_constraint_cache_get(cc, &p, 1, &b, err, sizeof err) == 0);
    CHECK(a && a == b);
    sl_cpiece q = {SL_CPIECE_REGEX, "x", 1}, r = {SL_CPIECE_REGEX, "y", 1};
    CHECK(sl_constraint_cache_get(cc, &q, 1, &d, err, sizeof err) == 0);
    sl_constraint_unref(d);
    CHECK(sl_constraint_cache_get(cc, &r, 1, &d, err, sizeof err) == 0); /* evicts the oldest */
    sl_constraint_unref(d);
    sl_constraint_cache_free(cc);
    CHECK(full(a, "123")); /* still alive through its references */
    sl_constraint_unref(a);
    sl_constraint_unref(b);
    /* Ambiguity that explodes is refused or bounded, quickly. */
    clock_t t0 = clock();
    sl_constraint *c = compile1(SL_CPIECE_REGEX, "((a?){50}){50}", err, sizeof err);
    if (c) {
        sl_cmatch *m = sl_cmatch_new(c);
        uint64_t *mask = calloc((size_t)(sl_cvocab_size(g_voc) + 63) / 64, 8);
        int rc = sl_cmatch_mask(m, mask);
        CHECK(rc == 0 || rc == SL_ETOOBIG);
        free(mask);
        sl_cmatch_free(m);
        sl_constraint_unref(c);
    }
    CHECKF((double)(clock() - t0) / CLOCKS_PER_SEC < 20, "bounded work took %.1f s", (double)(clock() - t0) / CLOCKS_PER_SEC);
}

TEST(spm_first_token_drops_its_space) {
    sl_tokenizer *tok = tok_load(2);
    if (!tok) return;
    sl_buf b = {0};
    int32_t id = -1;
    for (int32_t i = 0; i < sl_tokenizer_vocab_size(tok) && id < 0; i++) {
        const char *s = sl_tokenizer_id_to_token(tok, i);
        if (s && !strncmp(s, "\xe2\x96\x81", 3) && strlen(s) > 4) id = i;
    }
    CHECK(id >= 0);
    if (id >= 0) {
        CHECK(sl_tokenizer_token_bytes(tok, id, 0, &b) == 0 && b.len && b.p[0] == ' ');
        b.len = 0;
        CHECK(sl_tokenizer_token_bytes(tok, id, 1, &b) == 0 && b.len && b.p[0] != ' ');
    }
    int32_t bf = sl_tokenizer_token_to_id(tok, "<0xE2>");
    if (bf >= 0) {
        b.len = 0;
        CHECK(sl_tokenizer_token_bytes(tok, bf, 0, &b) == 0 && b.len == 1 && (unsigned char)b.p[0] == 0xE2);
    }
    sl_buf_free(&b);
    sl_tokenizer_free(tok);
}

int main(void) {
    g_tok = tok_load(0);
    char err[256];
    if (!g_tok || sl_cvocab_init(&g_voc, g_tok, sl_tokenizer_vocab_size(g_tok), err, sizeof err)) {
        printf("cannot load the fixture tokenizer\n# 0 passed, 1 failed\n");
        return 1;
    }
    RUN(regex_full_match);
    RUN(regex_refusals_name_the_construct);
    RUN(gbnf_arithmetic);
    RUN(gbnf_refusals);
    RUN(schema_object);
    RUN(schema_ranges_and_recursion);
    RUN(schema_additional_keys_never_repeat_listed_ones);
    RUN(schema_compact_has_no_whitespace);
    RUN(schema_refusals_name_the_keyword);
    RUN(choice_and_pieces);
    RUN(masked_walks_on_every_tokenizer);
    RUN(special_tokens_never_terminators_only_when_complete);
    RUN(cache_and_hostile_bounds);
    RUN(spm_first_token_drops_its_space);
    sl_cvocab_free(g_voc);
    sl_tokenizer_free(g_tok);
    return check_summary();
}
