/* test_tokenizer.c — parity with Hugging Face `tokenizers` 0.23, streaming decode, hostile input.
 *
 * Fixture note: cases.json "decoded" is decode(ids_with_special, skip_special_tokens=True)
 * (with skip_special=0 the spm tokenizer gives "<s> Hello world" and llama3 prefixes
 * "<|begin_of_text|>"). The VARIANTS table below was produced by `tokenizers` 0.23 (its Node
 * binding) on patched copies of the fixtures, to cover components the fixtures do not use. */
#include "check.h"

#include "error.h"
#include "tokenizer.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <utf8proc.h>

#define TOK(name) FIXTURE("tokenizers/" name "/tokenizer.json")

static const char *const NAMES[3] = {"llama3-bpe", "gpt2-bpe", "spm-bpe"};

static sl_tokenizer *load_named(const char *name) {
    char path[256], err[512] = "";
    snprintf(path, sizeof path, "tests/fixtures/tokenizers/%s/tokenizer.json", name);
    sl_tokenizer *t = NULL;
    int rc = sl_tokenizer_load(&t, path, err, sizeof err);
    CHECKF(rc == 0, "load %s: %d %s", path, rc, err);
    return t;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Strict UTF-8 check (no overlongs, surrogates or values past U+10FFFF). */
static int utf8_ok(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char b = u[i];
        size_t w;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b < 0x80) { i++; continue; }
        if (b >= 0xC2 && b <= 0xDF) w = 2;
        else if (b >= 0xE0 && b <= 0xEF) { w = 3; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
        else if (b >= 0xF0 && b <= 0xF4) { w = 4; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
        else return 0;
        if (i + w > n) return 0;
        if (u[i + 1] < lo || u[i + 1] > hi) return 0;
        for (size_t k = 2; k < w; k++)
            if (u[i + k] < 0x80 || u[i + k] > 0xBF) return 0;
        i += w;
    }
    return 1;
}

static int ids_match(json_t *arr, const int32_t *ids, size_t n) {
    if (json_array_size(arr) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (json_integer_value(json_array_get(arr, i)) != ids[i]) return 0;
    return 1;
}

static char *fmt_ids(const int32_t *ids, size_t n) {
    static char buf[512];
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && k < sizeof buf - 16; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, "%d ", ids[i]);
    return buf;
}

/* Streams ids through a detok one by one; checks every delta is valid UTF-8 on its own and
 * that the concatenation equals the full decode. Returns 1 when all holds. */
static int stream_equals_full(const sl_tokenizer *t, const int32_t *ids, size_t n, int skip) {
    char *full = NULL;
    size_t flen = 0;
    if (sl_tokenizer_decode(t, ids, n, skip, &full, &flen, NULL, 0) != 0) return 0;
    sl_detok *d = NULL;
    if (sl_detok_init(&d, t, skip) != 0) { free(full); return 0; }
    char *acc = malloc(flen + 64);
    size_t alen = 0, cap = flen + 64;
    int ok = 1;
    for (size_t i = 0; i <= n && ok; i++) {
        const char *delta;
        size_t dl;
        int rc = i < n ? sl_detok_feed(d, ids[i], &delta, &dl) : sl_detok_flush(d, &delta, &dl);
        if (rc != 0 || !utf8_ok(delta, dl) || delta[dl] != 0) { ok = 0; break; }
        if (alen + dl > cap) { ok = 0; break; }
        memcpy(acc + alen, delta, dl);
        alen += dl;
    }
    ok = ok && alen == flen && memcmp(acc, full, flen) == 0;
    free(acc);
    free(full);
    sl_detok_free(d);
    return ok;
}

/* ------------------------------------------------------------------ golden fixtures */

static void check_cases(const sl_tokenizer *t, const char *cases_path, const char *label) {
    json_error_t je;
    json_t *cases = json_load_file(cases_path, 0, &je);
    CHECKF(json_is_array(cases), "%s: %s", cases_path, je.text);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        size_t tl = json_string_length(json_object_get(c, "text"));
        int32_t *ids = NULL, *ids2 = NULL;
        size_t n = 0, n2 = 0;
        char err[256] = "";
        CHECK(sl_tokenizer_encode(t, text, tl, 0, &ids, &n, err, sizeof err) == 0);
        CHECKF(ids_match(json_object_get(c, "ids"), ids, n), "%s case %zu ids: got %s", label, i, fmt_ids(ids, n));
        json_t *toks = json_object_get(c, "tokens");
        int tok_ok = json_array_size(toks) == n;
        for (size_t k = 0; tok_ok && k < n; k++) {
            const char *s = sl_tokenizer_id_to_token(t, ids[k]);
            tok_ok = s && strcmp(s, json_string_value(json_array_get(toks, k))) == 0;
        }
        CHECKF(tok_ok, "%s case %zu tokens", label, i);
        CHECK(sl_tokenizer_encode(t, text, tl, 1, &ids2, &n2, err, sizeof err) == 0);
        CHECKF(ids_match(json_object_get(c, "ids_with_special"), ids2, n2), "%s case %zu ids_with_special: got %s",
               label, i, fmt_ids(ids2, n2));
        char *dec = NULL;
        size_t dl = 0;
        CHECK(sl_tokenizer_decode(t, ids2, n2, 1, &dec, &dl, err, sizeof err) == 0);
        const char *want = json_string_value(json_object_get(c, "decoded"));
        CHECKF(dec && dl == strlen(want) && memcmp(dec, want, dl) == 0, "%s case %zu decoded: got \"%s\"", label, i,
               dec ? dec : "(null)");
        CHECKF(stream_equals_full(t, ids2, n2, 1) && stream_equals_full(t, ids2, n2, 0), "%s case %zu stream", label, i);
        free(dec);
        free(ids);
        free(ids2);
    }
    json_decref(cases);
}

TEST(fixture_cases_all_three) {
    for (int k = 0; k < 3; k++) {
        sl_tokenizer *t = load_named(NAMES[k]);
        if (!t) continue;
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/tokenizers/%s/cases.json", NAMES[k]);
        check_cases(t, path, NAMES[k]);
        sl_tokenizer_free(t);
    }
}

TEST(model_directories_tokenizers) {
    /* llama-tiny ships the llama3 tokenizer, qwen2-tiny the gpt2 one */
    const char *models[2] = {"llama-tiny", "qwen2-tiny"}, *cases[2] = {"llama3-bpe", "gpt2-bpe"};
    for (int k = 0; k < 2; k++) {
        char path[256], err[256] = "";
        snprintf(path, sizeof path, "tests/fixtures/models/%s/tokenizer.json", models[k]);
        sl_tokenizer *t = NULL;
        CHECKF(sl_tokenizer_load(&t, path, err, sizeof err) == 0, "%s: %s", path, err);
        if (!t) continue;
        snprintf(path, sizeof path, "tests/fixtures/tokenizers/%s/cases.json", cases[k]);
        check_cases(t, path, models[k]);
        sl_tokenizer_free(t);
    }
}

TEST(lookups_and_bos) {
    sl_tokenizer *l = load_named("llama3-bpe"), *g = load_named("gpt2-bpe"), *s = load_named("spm-bpe");
    if (!l || !g || !s) goto out;
    CHECK(sl_tokenizer_bos_id(l) == 0);
    CHECK(sl_tokenizer_bos_id(g) == -1);
    CHECK(sl_tokenizer_bos_id(s) == 1);
    CHECK(sl_tokenizer_vocab_size(l) == 1024);
    CHECK(sl_tokenizer_token_to_id(l, "<|eot_id|>") == 2);
    CHECK(sl_tokenizer_is_special(l, 2) && !sl_tokenizer_is_special(l, 42));
    CHECK(sl_tokenizer_token_to_id(l, "Ġw") == 285);
    CHECK(strcmp(sl_tokenizer_id_to_token(l, 285), "Ġw") == 0);
    CHECK(sl_tokenizer_id_to_token(l, 1024) == NULL && sl_tokenizer_id_to_token(l, -1) == NULL);
    CHECK(sl_tokenizer_token_to_id(l, "no such token") == -1);
    CHECK(sl_tokenizer_token_to_id(s, "<0x0A>") == 13);
    CHECK(sl_tokenizer_token_to_id(s, "<unk>") == 0 && sl_tokenizer_is_special(s, 0));
    /* a special token in the text is matched before the model, even inside words */
    int32_t *ids;
    size_t n;
    const char *txt = "hi<|eot_id|>there<|eot_id";
    CHECK(sl_tokenizer_encode(l, txt, strlen(txt), 0, &ids, &n, NULL, 0) == 0);
    int found = 0;
    for (size_t i = 0; i < n; i++) found += ids[i] == 2;
    CHECK(found == 1);
    free(ids);
out:
    sl_tokenizer_free(l);
    sl_tokenizer_free(g);
    sl_tokenizer_free(s);
}

/* ------------------------------------------------------------------ components (oracle table) */

/* [{name, base, set: {root key: value}, model: {model key: value}, added: [tokens],
 *   cases: [{text, ids, ids_with_special, decoded, decoded_raw}]}] */
static const char VARIANTS[] =
    "[{\"name\":\"gpt2 ByteLevel add_prefix_space\",\"base\":\"gpt2-bpe\",\"set\":{\"pre_tokenizer\":{\"type\":\"ByteLev"
    "el\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true}},\"model\":{},\"added\":[],\"cases\":[{\""
    "text\":\"Hello World  x\",\"ids\":[628,71,600,81,473,264,505,223,753],\"ids_with_special\":[628,71,600,81,4"
    "73,264,505,223,753],\"decoded\":\" Hello World  x\",\"decoded_raw\":\" Hello World  x\"},{\"text\":\"  leading "
    "and trailing  \",\"ids\":[223,760,375,287,308,260,84,479,287,259],\"ids_with_special\":[223,760,375,287,3"
    "08,260,84,479,287,259],\"decoded\":\"  leading and trailing  \",\"decoded_raw\":\"  leading and trailing  \""
    "},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[671,694,339,32,89,264,70,261,68"
    ",69,30,78,32,671,84,32,223,753,671,78,84,32,261,68,69,70,223,266,600,81,285,264,505,223,51,92],\"ids_"
    "with_special\":[671,694,339,32,89,264,70,261,68,69,30,78,32,671,84,32,223,753,671,78,84,32,261,68,69,"
    "70,223,266,600,81,285,264,505,223,51,92],\"decoded\":\" <tool>word abc<l> <r>  x <lr> abcd hello world "
    "Qz\",\"decoded_raw\":\" <tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\"
    "u0664\",\"ids\":[405,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_special\":[405,20,617,22"
    ",23,223,24,25,26,27,223,152,99,152,100],\"decoded\":\" 12 345 6789 \\u0663\\u0664\",\"decoded_raw\":\" 12 345"
    " 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[301,"
    "67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257]"
    ",\"ids_with_special\":[301,67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,174"
    ",108,226,223,161,242,257],\"decoded\":\" na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"de"
    "coded_raw\":\" na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3"
    "000d\",\"ids\":[261,129,230,68,129,257,69,162,225,225,70],\"ids_with_special\":[261,129,230,68,129,257,69"
    ",162,225,225,70],\"decoded\":\" a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\" a\\u0085b\\u00a0c\\u3000d\"},{\"text"
    "\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[223,163,124,257,164,101,124,223,175,256,242,238,"
    "175,256,240,124,279,77],\"ids_with_special\":[223,163,124,257,164,101,124,223,175,256,242,238,175,256,"
    "240,124,279,77],\"decoded\":\" \\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\" \\u4f60\\u597d \\"
    "ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[411,574,223,9,46,46,289,263,9,86],\"ids_"
    "with_special\":[411,574,223,9,46,46,289,263,9,86],\"decoded\":\" it's 'LL don't\",\"decoded_raw\":\" it's 'L"
    "L don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[223,161,247,226,161,247,226,90,200,54,324,201,2"
    "01,48,456],\"ids_with_special\":[223,161,247,226,161,247,226,90,200,54,324,201,201,48,456],\"decoded\":\""
    " \\u2581\\u2581x\\tTab\\n\\nNew\",\"decoded_raw\":\" \\u2581\\u2581x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; Word"
    ".\",\"ids\":[261,285,264,70,14,285,264,70,85,29,473,264,70,16],\"ids_with_special\":[261,285,264,70,14,28"
    "5,264,70,85,29,473,264,70,16],\"decoded\":\" a word, words; Word.\",\"decoded_raw\":\" a word, words; Word."
    "\"}]},{\"name\":\"llama3 Split Removed\",\"base\":\"llama3-bpe\",\"set\":{\"pre_tokenizer\":{\"type\":\"Sequence\",\"p"
    "retokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}"
    "]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Re"
    "moved\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":"
    "false}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[],\"ids_with_special\":[0],\"d"
    "ecoded\":\"\",\"decoded_raw\":\"<|begin_of_text|>\"},{\"text\":\"  leading and trailing  \",\"ids\":[],\"ids_with_"
    "special\":[0],\"decoded\":\"\",\"decoded_raw\":\"<|begin_of_text|>\"},{\"text\":\"<tool>word abc<l> <r>  x <lr> "
    "abcd hello world Qz\",\"ids\":[],\"ids_with_special\":[0],\"decoded\":\"\",\"decoded_raw\":\"<|begin_of_text|>\"}"
    ",{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[],\"ids_with_special\":[0],\"decoded\":\"\",\"decoded_raw\":\"<|be"
    "gin_of_text|>\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[],\"ids_wi"
    "th_special\":[0],\"decoded\":\"\",\"decoded_raw\":\"<|begin_of_text|>\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"id"
    "s\":[],\"ids_with_special\":[0],\"decoded\":\"\",\"decoded_raw\":\"<|begin_of_text|>\"},{\"text\":\"\\u4f60\\u597d \\"
    "ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[],\"ids_with_special\":[0],\"decoded\":\"\",\"decoded_raw\":\"<|begin_of_t"
    "ext|>\"},{\"text\":\"it's 'LL don't\",\"ids\":[],\"ids_with_special\":[0],\"decoded\":\"\",\"decoded_raw\":\"<|begin"
    "_of_text|>\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[],\"ids_with_special\":[0],\"decoded\":\"\",\"decod"
    "ed_raw\":\"<|begin_of_text|>\"},{\"text\":\"a word, words; Word.\",\"ids\":[],\"ids_with_special\":[0],\"decoded"
    "\":\"\",\"decoded_raw\":\"<|begin_of_text|>\"}]},{\"name\":\"llama3 Split MergedWithPrevious\",\"base\":\"llama3-b"
    "pe\",\"set\":{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"("
    "?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*"
    "|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"MergedWithPrevious\",\"invert\":false},{\"type\":\"ByteLevel"
    "\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]}},\"model\":{},\"added\":[],\"cases\":["
    "{\"text\":\"Hello World  x\",\"ids\":[42,71,602,81,473,264,504,223,757],\"ids_with_special\":[0,42,71,602,81"
    ",473,264,504,223,757],\"decoded\":\"Hello World  x\",\"decoded_raw\":\"<|begin_of_text|>Hello World  x\"},{\""
    "text\":\"  leading and trailing  \",\"ids\":[223,765,375,287,308,820,479,287,259],\"ids_with_special\":[0,2"
    "23,765,375,287,308,820,479,287,259],\"decoded\":\"  leading and trailing  \",\"decoded_raw\":\"<|begin_of_t"
    "ext|>  leading and trailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[3"
    "0,807,339,32,89,264,70,821,69,30,78,32,676,84,32,223,757,676,78,84,32,821,69,70,223,266,602,81,285,2"
    "64,504,223,51,92],\"ids_with_special\":[0,30,807,339,32,89,264,70,821,69,30,78,32,676,84,32,223,757,67"
    "6,78,84,32,821,69,70,223,266,602,81,285,264,504,223,51,92],\"decoded\":\"<tool>word abc<l> <r>  x <lr> "
    "abcd hello world Qz\",\"decoded_raw\":\"<|begin_of_text|><tool>word abc<l> <r>  x <lr> abcd hello world "
    "Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[818,223,21,22,23,223,24,25,26,27,223,152,99,152,100],"
    "\"ids_with_special\":[0,818,223,21,22,23,223,24,25,26,27,223,152,99,152,100],\"decoded\":\"12 345 6789 \\u"
    "0663\\u0664\",\"decoded_raw\":\"<|begin_of_text|>12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130sta"
    "nbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,326,223,131,111,307,282,68,388,223,141,9"
    "9,141,242,141,99,223,174,108,226,223,161,242,257],\"ids_with_special\":[0,80,67,130,110,326,223,131,11"
    "1,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257],\"decoded\":\"na\\u00efve \\u"
    "0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decoded_raw\":\"<|begin_of_text|>na\\u00efve \\u0130stanb"
    "ul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,129,230,68,129,257,"
    "69,162,225,225,70],\"ids_with_special\":[0,67,129,230,68,129,257,69,162,225,225,70],\"decoded\":\"a\\u0085"
    "b\\u00a0c\\u3000d\",\"decoded_raw\":\"<|begin_of_text|>a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud8"
    "3d\\udc4d\\ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],"
    "\"ids_with_special\":[0,163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"decoded\":"
    "\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<|begin_of_text|>\\u4f60\\u597d \\ud83d\\udc4d"
    "\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[277,578,886,46,46,289,263,948],\"ids_with_special\":"
    "[0,277,578,886,46,46,289,263,948],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<|begin_of_text|>it's 'L"
    "L don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,226,90,200,54,324,201,201,4"
    "8,454],\"ids_with_special\":[0,161,247,226,161,247,226,90,200,54,324,201,201,48,454],\"decoded\":\"\\u2581"
    "\\u2581x\\tTab\\n\\nNew\",\"decoded_raw\":\"<|begin_of_text|>\\u2581\\u2581x\\tTab\\n\\nNew\"},{\"text\":\"a word, wo"
    "rds; Word.\",\"ids\":[67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"ids_with_special\":[0,67,285,264"
    ",70,14,285,264,70,85,29,473,264,70,16],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"<|begin_of_te"
    "xt|>a word, words; Word.\"}]},{\"name\":\"llama3 Split MergedWithNext\",\"base\":\"llama3-bpe\",\"set\":{\"pre_t"
    "okenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|"
    "'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\"
    "s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"MergedWithNext\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
    "false,\"trim_offsets\":true,\"use_regex\":false}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World "
    " x\",\"ids\":[42,71,602,81,473,264,504,223,757],\"ids_with_special\":[0,42,71,602,81,473,264,504,223,757]"
    ",\"decoded\":\"Hello World  x\",\"decoded_raw\":\"<|begin_of_text|>Hello World  x\"},{\"text\":\"  leading and "
    "trailing  \",\"ids\":[223,765,375,287,308,820,479,287,259],\"ids_with_special\":[0,223,765,375,287,308,82"
    "0,479,287,259],\"decoded\":\"  leading and trailing  \",\"decoded_raw\":\"<|begin_of_text|>  leading and tr"
    "ailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[30,807,339,32,89,264,7"
    "0,821,69,30,78,32,676,84,32,223,757,676,78,84,32,821,69,70,223,266,602,81,285,264,504,223,51,92],\"id"
    "s_with_special\":[0,30,807,339,32,89,264,70,821,69,30,78,32,676,84,32,223,757,676,78,84,32,821,69,70,"
    "223,266,602,81,285,264,504,223,51,92],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\","
    "\"decoded_raw\":\"<|begin_of_text|><tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 "
    "6789 \\u0663\\u0664\",\"ids\":[818,223,21,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_special\":[0"
    ",818,223,21,22,23,223,24,25,26,27,223,152,99,152,100],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decoded_"
    "raw\":\"<|begin_of_text|>12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03"
    "a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,"
    "174,108,226,223,161,242,257],\"ids_with_special\":[0,80,67,130,110,326,223,131,111,307,282,68,388,223,"
    "141,99,141,242,141,99,223,174,108,226,223,161,242,257],\"decoded\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0"
    "391\\u03a3 \\ufb01 \\u2460\",\"decoded_raw\":\"<|begin_of_text|>na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3"
    " \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,129,230,68,129,257,69,162,225,225,70],\"i"
    "ds_with_special\":[0,67,129,230,68,129,257,69,162,225,225,70],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"dec"
    "oded_raw\":\"<|begin_of_text|>a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd "
    "ok\",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"ids_with_special\":[0"
    ",163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"decoded\":\"\\u4f60\\u597d \\ud83d\\"
    "udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<|begin_of_text|>\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"t"
    "ext\":\"it's 'LL don't\",\"ids\":[277,578,886,46,46,289,263,948],\"ids_with_special\":[0,277,578,886,46,46,"
    "289,263,948],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<|begin_of_text|>it's 'LL don't\"},{\"text\":\"\\u"
    "2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,226,90,200,54,324,201,201,48,454],\"ids_with_spec"
    "ial\":[0,161,247,226,161,247,226,90,200,54,324,201,201,48,454],\"decoded\":\"\\u2581\\u2581x\\tTab\\n\\nNew\","
    "\"decoded_raw\":\"<|begin_of_text|>\\u2581\\u2581x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; Word.\",\"ids\":[67"
    ",285,264,70,14,285,264,70,85,29,473,264,70,16],\"ids_with_special\":[0,67,285,264,70,14,285,264,70,85,"
    "29,473,264,70,16],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"<|begin_of_text|>a word, words; Wo"
    "rd.\"}]},{\"name\":\"llama3 Split Contiguous\",\"base\":\"llama3-bpe\",\"set\":{\"pre_tokenizer\":{\"type\":\"Sequen"
    "ce\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}"
    "\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavio"
    "r\":\"Contiguous\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"us"
    "e_regex\":false}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[42,71,602,81,473,2"
    "64,504,259,90],\"ids_with_special\":[0,42,71,602,81,473,264,504,259,90],\"decoded\":\"Hello World  x\",\"de"
    "coded_raw\":\"<|begin_of_text|>Hello World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[259,292,375,"
    "287,308,820,479,287,259],\"ids_with_special\":[0,259,292,375,287,308,820,479,287,259],\"decoded\":\"  lea"
    "ding and trailing  \",\"decoded_raw\":\"<|begin_of_text|>  leading and trailing  \"},{\"text\":\"<tool>word "
    "abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[30,807,339,32,89,264,70,821,69,30,78,32,676,84,32,259"
    ",90,676,78,84,32,821,69,70,223,266,602,81,285,264,504,223,51,92],\"ids_with_special\":[0,30,807,339,32"
    ",89,264,70,821,69,30,78,32,676,84,32,259,90,676,78,84,32,821,69,70,223,266,602,81,285,264,504,223,51"
    ",92],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"decoded_raw\":\"<|begin_of_text|><"
    "tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[818,223"
    ",21,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_special\":[0,818,223,21,22,23,223,24,25,26,27"
    ",223,152,99,152,100],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw\":\"<|begin_of_text|>12 345 678"
    "9 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,13"
    "0,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257],\"ids"
    "_with_special\":[0,80,67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,174,108"
    ",226,223,161,242,257],\"decoded\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decoded"
    "_raw\":\"<|begin_of_text|>na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085"
    "b\\u00a0c\\u3000d\",\"ids\":[67,129,230,68,129,257,69,162,225,225,70],\"ids_with_special\":[0,67,129,230,68"
    ",129,257,69,162,225,225,70],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\"<|begin_of_text|>a\\u00"
    "85b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,12"
    "4,223,175,256,242,238,175,256,240,124,279,77],\"ids_with_special\":[0,163,124,257,164,101,124,223,175,"
    "256,242,238,175,256,240,124,279,77],\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_ra"
    "w\":\"<|begin_of_text|>\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[277,"
    "578,886,46,46,289,263,948],\"ids_with_special\":[0,277,578,886,46,46,289,263,948],\"decoded\":\"it's 'LL "
    "don't\",\"decoded_raw\":\"<|begin_of_text|>it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[1"
    "61,247,226,161,247,226,90,200,54,324,201,201,48,454],\"ids_with_special\":[0,161,247,226,161,247,226,9"
    "0,200,54,324,201,201,48,454],\"decoded\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"decoded_raw\":\"<|begin_of_text|>\\"
    "u2581\\u2581x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; Word.\",\"ids\":[67,285,264,70,14,285,264,70,85,29,4"
    "73,264,70,16],\"ids_with_special\":[0,67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"decoded\":\"a wo"
    "rd, words; Word.\",\"decoded_raw\":\"<|begin_of_text|>a word, words; Word.\"}]},{\"name\":\"llama3 Split inv"
    "ert Removed\",\"base\":\"llama3-bpe\",\"set\":{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
    "\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Removed\",\"invert\":true},{"
    "\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]}},\"model\":{},\"ad"
    "ded\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[42,71,602,81,473,264,504,223,757],\"ids_with_special"
    "\":[0,42,71,602,81,473,264,504,223,757],\"decoded\":\"Hello World  x\",\"decoded_raw\":\"<|begin_of_text|>He"
    "llo World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[223,765,375,287,308,820,479,287,259],\"ids_w"
    "ith_special\":[0,223,765,375,287,308,820,479,287,259],\"decoded\":\"  leading and trailing  \",\"decoded_r"
    "aw\":\"<|begin_of_text|>  leading and trailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello w"
    "orld Qz\",\"ids\":[30,807,339,32,89,264,70,821,69,30,78,32,676,84,32,223,757,676,78,84,32,821,69,70,223"
    ",266,602,81,285,264,504,223,51,92],\"ids_with_special\":[0,30,807,339,32,89,264,70,821,69,30,78,32,676"
    ",84,32,223,757,676,78,84,32,821,69,70,223,266,602,81,285,264,504,223,51,92],\"decoded\":\"<tool>word ab"
    "c<l> <r>  x <lr> abcd hello world Qz\",\"decoded_raw\":\"<|begin_of_text|><tool>word abc<l> <r>  x <lr> "
    "abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[818,223,21,22,23,223,24,25,26,27,223"
    ",152,99,152,100],\"ids_with_special\":[0,818,223,21,22,23,223,24,25,26,27,223,152,99,152,100],\"decoded"
    "\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw\":\"<|begin_of_text|>12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\"
    "u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,326,223,131,111,307,282"
    ",68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257],\"ids_with_special\":[0,80,67,130,1"
    "10,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257],\"decode"
    "d\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decoded_raw\":\"<|begin_of_text|>na\\u0"
    "0efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,12"
    "9,230,68,129,257,69,162,225,225,70],\"ids_with_special\":[0,67,129,230,68,129,257,69,162,225,225,70],\""
    "decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\"<|begin_of_text|>a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\""
    "\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256"
    ",240,124,279,77],\"ids_with_special\":[0,163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,2"
    "79,77],\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<|begin_of_text|>\\u4f60\\u"
    "597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[277,578,886,46,46,289,263,948],\"i"
    "ds_with_special\":[0,277,578,886,46,46,289,263,948],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<|begin"
    "_of_text|>it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,226,90,200"
    ",54,324,201,201,48,454],\"ids_with_special\":[0,161,247,226,161,247,226,90,200,54,324,201,201,48,454],"
    "\"decoded\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"decoded_raw\":\"<|begin_of_text|>\\u2581\\u2581x\\tTab\\n\\nNew\"},{\""
    "text\":\"a word, words; Word.\",\"ids\":[67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"ids_with_speci"
    "al\":[0,67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"decoded\":\"a word, words; Word.\",\"decoded_ra"
    "w\":\"<|begin_of_text|>a word, words; Word.\"}]},{\"name\":\"llama3 Split String MergedWithNext\",\"base\":\"l"
    "lama3-bpe\",\"set\":{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"St"
    "ring\":\" \"},\"behavior\":\"MergedWithNext\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
    "\"trim_offsets\":true,\"use_regex\":false}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"i"
    "ds\":[42,71,602,81,473,264,504,223,757],\"ids_with_special\":[0,42,71,602,81,473,264,504,223,757],\"deco"
    "ded\":\"Hello World  x\",\"decoded_raw\":\"<|begin_of_text|>Hello World  x\"},{\"text\":\"  leading and traili"
    "ng  \",\"ids\":[223,765,375,287,308,820,479,287,223,223],\"ids_with_special\":[0,223,765,375,287,308,820,"
    "479,287,223,223],\"decoded\":\"  leading and trailing  \",\"decoded_raw\":\"<|begin_of_text|>  leading and "
    "trailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[30,807,339,32,89,264"
    ",70,821,69,30,78,32,676,84,32,223,757,676,78,84,32,821,69,70,223,266,602,81,285,264,504,223,51,92],\""
    "ids_with_special\":[0,30,807,339,32,89,264,70,821,69,30,78,32,676,84,32,223,757,676,78,84,32,821,69,7"
    "0,223,266,602,81,285,264,504,223,51,92],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz"
    "\",\"decoded_raw\":\"<|begin_of_text|><tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 34"
    "5 6789 \\u0663\\u0664\",\"ids\":[818,223,21,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_special\":"
    "[0,818,223,21,22,23,223,24,25,26,27,223,152,99,152,100],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decode"
    "d_raw\":\"<|begin_of_text|>12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u"
    "03a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,22"
    "3,174,108,226,223,161,242,257],\"ids_with_special\":[0,80,67,130,110,326,223,131,111,307,282,68,388,22"
    "3,141,99,141,242,141,99,223,174,108,226,223,161,242,257],\"decoded\":\"na\\u00efve \\u0130stanbul \\u03a3\\"
    "u0391\\u03a3 \\ufb01 \\u2460\",\"decoded_raw\":\"<|begin_of_text|>na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03"
    "a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,129,230,68,129,257,69,162,225,225,70],"
    "\"ids_with_special\":[0,67,129,230,68,129,257,69,162,225,225,70],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"d"
    "ecoded_raw\":\"<|begin_of_text|>a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udff"
    "d ok\",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"ids_with_special\":"
    "[0,163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"decoded\":\"\\u4f60\\u597d \\ud83"
    "d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<|begin_of_text|>\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{"
    "\"text\":\"it's 'LL don't\",\"ids\":[277,578,886,46,46,289,263,948],\"ids_with_special\":[0,277,578,886,46,4"
    "6,289,263,948],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<|begin_of_text|>it's 'LL don't\"},{\"text\":\""
    "\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,226,90,200,54,324,201,201,48,454],\"ids_with_sp"
    "ecial\":[0,161,247,226,161,247,226,90,200,54,324,201,201,48,454],\"decoded\":\"\\u2581\\u2581x\\tTab\\n\\nNew"
    "\",\"decoded_raw\":\"<|begin_of_text|>\\u2581\\u2581x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; Word.\",\"ids\":["
    "67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"ids_with_special\":[0,67,285,264,70,14,285,264,70,8"
    "5,29,473,264,70,16],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"<|begin_of_text|>a word, words; "
    "Word.\"}]},{\"name\":\"spm Metaspace first split\",\"base\":\"spm-bpe\",\"set\":{\"normalizer\":null,\"pre_tokeniz"
    "er\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":true},\"decoder\":{\"ty"
    "pe\":\"Sequence\",\"decoders\":[{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"spli"
    "t\":true},{\"type\":\"ByteFallback\"}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[8"
    "15,328,811,338,621,463,703,421,962],\"ids_with_special\":[1,815,328,811,338,621,463,703,421,962],\"deco"
    "ded\":\"Hello World  x\",\"decoded_raw\":\"<s> Hello World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":["
    "421,977,577,488,504,1007,682,488,421,421],\"ids_with_special\":[1,421,977,577,488,504,1007,682,488,421"
    ",421],\"decoded\":\" leading and trailing  \",\"decoded_raw\":\"<s>  leading and trailing  \"},{\"text\":\"<too"
    "l>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[793,343,1138,289,346,463,327,1014,326,287,335,"
    "289,793,341,289,421,962,793,335,341,289,1014,326,327,1140,811,338,483,463,703,421,308,349],\"ids_with"
    "_special\":[1,793,343,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1"
    "014,326,327,1140,811,338,483,463,703,421,308,349],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hell"
    "o world Qz\",\"decoded_raw\":\"<s> <tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6"
    "789 \\u0663\\u0664\",\"ids\":[598,277,713,279,280,421,281,282,283,284,421,220,166,220,167],\"ids_with_spec"
    "ial\":[1,598,277,713,279,280,421,281,282,283,284,421,220,166,220,167],\"decoded\":\"12 345 6789 \\u0663\\u"
    "0664\",\"decoded_raw\":\"<s> 12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u"
    "03a3 \\ufb01 \\u2460\",\"ids\":[498,324,198,178,524,421,199,179,505,482,325,589,421,209,166,209,148,209,1"
    "66,421,242,175,132,421,229,148,163],\"ids_with_special\":[1,498,324,198,178,524,421,199,179,505,482,32"
    "5,589,421,209,166,209,148,209,166,421,242,175,132,421,229,148,163],\"decoded\":\"na\\u00efve \\u0130stanb"
    "ul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decoded_raw\":\"<s> na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 "
    "\\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[460,197,136,325,197,163,326,230,131,131,327]"
    ",\"ids_with_special\":[1,460,197,136,325,197,163,326,230,131,131,327],\"decoded\":\"a\\u0085b\\u00a0c\\u3000"
    "d\",\"decoded_raw\":\"<s> a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"i"
    "ds\":[421,433,232,168,192,421,458,243,162,146,192,477,334],\"ids_with_special\":[1,421,433,232,168,192,"
    "421,458,243,162,146,192,477,334],\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":"
    "\"<s> \\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[610,778,1130,303,303"
    ",484,462,1154],\"ids_with_special\":[1,610,778,1130,303,303,484,462,1154],\"decoded\":\"it's 'LL don't\",\""
    "decoded_raw\":\"<s> it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[421,962,259,311,525,13"
    ",13,305,655],\"ids_with_special\":[1,421,962,259,311,525,13,13,305,655],\"decoded\":\" x\\tTab\\n\\nNew\",\"de"
    "coded_raw\":\"<s>  x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; Word.\",\"ids\":[460,483,463,327,271,483,463,3"
    "27,342,286,621,463,327,273],\"ids_with_special\":[1,460,483,463,327,271,483,463,327,342,286,621,463,32"
    "7,273],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"<s> a word, words; Word.\"}]},{\"name\":\"spm Met"
    "aspace always nosplit\",\"base\":\"spm-bpe\",\"set\":{\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Metaspace\""
    ",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":false},\"decoder\":{\"type\":\"Sequence\",\"decod"
    "ers\":[{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":false},{\"type\":\"B"
    "yteFallback\"}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[815,328,811,338,621,"
    "463,703,421,962],\"ids_with_special\":[1,815,328,811,338,621,463,703,421,962],\"decoded\":\"Hello World  "
    "x\",\"decoded_raw\":\"<s> Hello World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[421,977,577,488,504"
    ",1007,682,488,421,421],\"ids_with_special\":[1,421,977,577,488,504,1007,682,488,421,421],\"decoded\":\" l"
    "eading and trailing  \",\"decoded_raw\":\"<s>  leading and trailing  \"},{\"text\":\"<tool>word abc<l> <r>  "
    "x <lr> abcd hello world Qz\",\"ids\":[793,343,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421"
    ",962,793,335,341,289,1014,326,327,1140,811,338,483,463,703,421,308,349],\"ids_with_special\":[1,793,34"
    "3,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,326,327,1140,81"
    "1,338,483,463,703,421,308,349],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"decode"
    "d_raw\":\"<s> <tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\""
    "ids\":[598,277,713,279,280,421,281,282,283,284,421,220,166,220,167],\"ids_with_special\":[1,598,277,713"
    ",279,280,421,281,282,283,284,421,220,166,220,167],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw\""
    ":\"<s> 12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\""
    ",\"ids\":[498,324,198,178,524,421,199,179,505,482,325,589,421,209,166,209,148,209,166,421,242,175,132,"
    "421,229,148,163],\"ids_with_special\":[1,498,324,198,178,524,421,199,179,505,482,325,589,421,209,166,2"
    "09,148,209,166,421,242,175,132,421,229,148,163],\"decoded\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03"
    "a3 \\ufb01 \\u2460\",\"decoded_raw\":\"<s> na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"t"
    "ext\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[460,197,136,325,197,163,326,230,131,131,327],\"ids_with_special\""
    ":[1,460,197,136,325,197,163,326,230,131,131,327],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\"<"
    "s> a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[421,433,232,16"
    "8,192,421,458,243,162,146,192,477,334],\"ids_with_special\":[1,421,433,232,168,192,421,458,243,162,146"
    ",192,477,334],\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<s> \\u4f60\\u597d \\"
    "ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[610,778,1130,303,303,484,462,1154],\"ids"
    "_with_special\":[1,610,778,1130,303,303,484,462,1154],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<s> i"
    "t's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[421,962,259,311,525,13,13,305,655],\"ids_w"
    "ith_special\":[1,421,962,259,311,525,13,13,305,655],\"decoded\":\" x\\tTab\\n\\nNew\",\"decoded_raw\":\"<s>  x\\"
    "tTab\\n\\nNew\"},{\"text\":\"a word, words; Word.\",\"ids\":[460,483,463,327,271,483,463,327,342,286,621,463,"
    "327,273],\"ids_with_special\":[1,460,483,463,327,271,483,463,327,342,286,621,463,327,273],\"decoded\":\"a"
    " word, words; Word.\",\"decoded_raw\":\"<s> a word, words; Word.\"}]},{\"name\":\"spm Metaspace never split\""
    ",\"base\":\"spm-bpe\",\"set\":{\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581"
    "\",\"prepend_scheme\":\"never\",\"split\":true},\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Metaspace"
    "\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"never\",\"split\":true},{\"type\":\"ByteFallback\"}]}},\"model\":{"
    "},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[299,328,811,338,621,463,703,421,962],\"ids_with"
    "_special\":[1,299,328,811,338,621,463,703,421,962],\"decoded\":\"Hello World  x\",\"decoded_raw\":\"<s>Hello"
    " World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[421,977,577,488,504,1007,682,488,421,421],\"ids"
    "_with_special\":[1,421,977,577,488,504,1007,682,488,421,421],\"decoded\":\"  leading and trailing  \",\"de"
    "coded_raw\":\"<s>  leading and trailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz"
    "\",\"ids\":[287,343,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,"
    "326,327,1140,811,338,483,463,703,421,308,349],\"ids_with_special\":[1,287,343,1138,289,346,463,327,101"
    "4,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,326,327,1140,811,338,483,463,703,421,308,"
    "349],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"decoded_raw\":\"<s><tool>word abc<"
    "l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[276,277,713,279,280,4"
    "21,281,282,283,284,421,220,166,220,167],\"ids_with_special\":[1,276,277,713,279,280,421,281,282,283,28"
    "4,421,220,166,220,167],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw\":\"<s>12 345 6789 \\u0663\\u06"
    "64\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[337,324,198,178,524,"
    "421,199,179,505,482,325,589,421,209,166,209,148,209,166,421,242,175,132,421,229,148,163],\"ids_with_s"
    "pecial\":[1,337,324,198,178,524,421,199,179,505,482,325,589,421,209,166,209,148,209,166,421,242,175,1"
    "32,421,229,148,163],\"decoded\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decoded_r"
    "aw\":\"<s>na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\""
    ",\"ids\":[324,197,136,325,197,163,326,230,131,131,327],\"ids_with_special\":[1,324,197,136,325,197,163,3"
    "26,230,131,131,327],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\"<s>a\\u0085b\\u00a0c\\u3000d\"},{\""
    "text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[433,232,168,192,421,458,243,162,146,192,477,"
    "334],\"ids_with_special\":[1,433,232,168,192,421,458,243,162,146,192,477,334],\"decoded\":\"\\u4f60\\u597d "
    "\\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<s>\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"i"
    "t's 'LL don't\",\"ids\":[476,778,1130,303,303,484,462,1154],\"ids_with_special\":[1,476,778,1130,303,303,"
    "484,462,1154],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<s>it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\t"
    "Tab\\n\\nNew\",\"ids\":[421,962,259,311,525,13,13,305,655],\"ids_with_special\":[1,421,962,259,311,525,13,1"
    "3,305,655],\"decoded\":\"  x\\tTab\\n\\nNew\",\"decoded_raw\":\"<s>  x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; W"
    "ord.\",\"ids\":[324,483,463,327,271,483,463,327,342,286,621,463,327,273],\"ids_with_special\":[1,324,483,"
    "463,327,271,483,463,327,342,286,621,463,327,273],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"<s>"
    "a word, words; Word.\"}]},{\"name\":\"spm unk fused\",\"base\":\"spm-bpe\",\"set\":{},\"model\":{\"byte_fallback\":"
    "false},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[815,328,811,338,621,463,703,421,962],\"ids"
    "_with_special\":[1,815,328,811,338,621,463,703,421,962],\"decoded\":\"Hello World  x\",\"decoded_raw\":\"<s>"
    " Hello World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[421,421,977,577,488,504,1007,682,488,421"
    ",421],\"ids_with_special\":[1,421,421,977,577,488,504,1007,682,488,421,421],\"decoded\":\"  leading and t"
    "railing  \",\"decoded_raw\":\"<s>   leading and trailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd"
    " hello world Qz\",\"ids\":[793,343,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,33"
    "5,341,289,1014,326,327,1140,811,338,483,463,703,421,308,349],\"ids_with_special\":[1,793,343,1138,289,"
    "346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,326,327,1140,811,338,483,4"
    "63,703,421,308,349],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"decoded_raw\":\"<s>"
    " <tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[598,2"
    "77,713,279,280,421,281,282,283,284,421,0],\"ids_with_special\":[1,598,277,713,279,280,421,281,282,283,"
    "284,421,0],\"decoded\":\"12 345 6789 \",\"decoded_raw\":\"<s> 12 345 6789 <unk>\"},{\"text\":\"na\\u00efve \\u013"
    "0stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[498,324,0,524,421,0,505,482,325,589,421,0,421,0,42"
    "1,0],\"ids_with_special\":[1,498,324,0,524,421,0,505,482,325,589,421,0,421,0,421,0],\"decoded\":\"nave st"
    "anbul   \",\"decoded_raw\":\"<s> na<unk>ve <unk>stanbul <unk> <unk> <unk>\"},{\"text\":\"a\\u0085b\\u00a0c\\u30"
    "00d\",\"ids\":[460,0,325,0,326,0,327],\"ids_with_special\":[1,460,0,325,0,326,0,327],\"decoded\":\"abcd\",\"de"
    "coded_raw\":\"<s> a<unk>b<unk>c<unk>d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[421,"
    "433,0,421,458,0,477,334],\"ids_with_special\":[1,421,433,0,421,458,0,477,334],\"decoded\":\"\\u4f60 \\ud83d"
    "\\udc4d ok\",\"decoded_raw\":\"<s> \\u4f60<unk> \\ud83d\\udc4d<unk> ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[610"
    ",778,1130,303,303,484,462,1154],\"ids_with_special\":[1,610,778,1130,303,303,484,462,1154],\"decoded\":\""
    "it's 'LL don't\",\"decoded_raw\":\"<s> it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[421,4"
    "21,962,259,311,525,0,305,655],\"ids_with_special\":[1,421,421,962,259,311,525,0,305,655],\"decoded\":\"  "
    "x\\tTabNew\",\"decoded_raw\":\"<s>   x\\tTab<unk>New\"},{\"text\":\"a word, words; Word.\",\"ids\":[460,483,463,3"
    "27,271,483,463,327,342,286,621,463,327,273],\"ids_with_special\":[1,460,483,463,327,271,483,463,327,34"
    "2,286,621,463,327,273],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"<s> a word, words; Word.\"}]},"
    "{\"name\":\"spm unk not fused\",\"base\":\"spm-bpe\",\"set\":{},\"model\":{\"byte_fallback\":false,\"fuse_unk\":fals"
    "e},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[815,328,811,338,621,463,703,421,962],\"ids_wit"
    "h_special\":[1,815,328,811,338,621,463,703,421,962],\"decoded\":\"Hello World  x\",\"decoded_raw\":\"<s> Hel"
    "lo World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[421,421,977,577,488,504,1007,682,488,421,421"
    "],\"ids_with_special\":[1,421,421,977,577,488,504,1007,682,488,421,421],\"decoded\":\"  leading and trail"
    "ing  \",\"decoded_raw\":\"<s>   leading and trailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hel"
    "lo world Qz\",\"ids\":[793,343,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,34"
    "1,289,1014,326,327,1140,811,338,483,463,703,421,308,349],\"ids_with_special\":[1,793,343,1138,289,346,"
    "463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,326,327,1140,811,338,483,463,7"
    "03,421,308,349],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"decoded_raw\":\"<s> <to"
    "ol>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[598,277,7"
    "13,279,280,421,281,282,283,284,421,0,0],\"ids_with_special\":[1,598,277,713,279,280,421,281,282,283,28"
    "4,421,0,0],\"decoded\":\"12 345 6789 \",\"decoded_raw\":\"<s> 12 345 6789 <unk><unk>\"},{\"text\":\"na\\u00efve "
    "\\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[498,324,0,524,421,0,505,482,325,589,421,0,0,0"
    ",421,0,421,0],\"ids_with_special\":[1,498,324,0,524,421,0,505,482,325,589,421,0,0,0,421,0,421,0],\"deco"
    "ded\":\"nave stanbul   \",\"decoded_raw\":\"<s> na<unk>ve <unk>stanbul <unk><unk><unk> <unk> <unk>\"},{\"tex"
    "t\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[460,0,325,0,326,0,327],\"ids_with_special\":[1,460,0,325,0,326,0,32"
    "7],\"decoded\":\"abcd\",\"decoded_raw\":\"<s> a<unk>b<unk>c<unk>d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83"
    "c\\udffd ok\",\"ids\":[421,433,0,421,458,0,477,334],\"ids_with_special\":[1,421,433,0,421,458,0,477,334],\""
    "decoded\":\"\\u4f60 \\ud83d\\udc4d ok\",\"decoded_raw\":\"<s> \\u4f60<unk> \\ud83d\\udc4d<unk> ok\"},{\"text\":\"it'"
    "s 'LL don't\",\"ids\":[610,778,1130,303,303,484,462,1154],\"ids_with_special\":[1,610,778,1130,303,303,48"
    "4,462,1154],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<s> it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tT"
    "ab\\n\\nNew\",\"ids\":[421,421,962,259,311,525,0,0,305,655],\"ids_with_special\":[1,421,421,962,259,311,525"
    ",0,0,305,655],\"decoded\":\"  x\\tTabNew\",\"decoded_raw\":\"<s>   x\\tTab<unk><unk>New\"},{\"text\":\"a word, wo"
    "rds; Word.\",\"ids\":[460,483,463,327,271,483,463,327,342,286,621,463,327,273],\"ids_with_special\":[1,46"
    "0,483,463,327,271,483,463,327,342,286,621,463,327,273],\"decoded\":\"a word, words; Word.\",\"decoded_raw"
    "\":\"<s> a word, words; Word.\"}]},{\"name\":\"spm no unk\",\"base\":\"spm-bpe\",\"set\":{},\"model\":{\"byte_fallba"
    "ck\":false,\"unk_token\":null},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[815,328,811,338,621,"
    "463,703,421,962],\"ids_with_special\":[1,815,328,811,338,621,463,703,421,962],\"decoded\":\"Hello World  "
    "x\",\"decoded_raw\":\"<s> Hello World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[421,421,977,577,488"
    ",504,1007,682,488,421,421],\"ids_with_special\":[1,421,421,977,577,488,504,1007,682,488,421,421],\"deco"
    "ded\":\"  leading and trailing  \",\"decoded_raw\":\"<s>   leading and trailing  \"},{\"text\":\"<tool>word ab"
    "c<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[793,343,1138,289,346,463,327,1014,326,287,335,289,793,3"
    "41,289,421,962,793,335,341,289,1014,326,327,1140,811,338,483,463,703,421,308,349],\"ids_with_special\""
    ":[1,793,343,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,326,3"
    "27,1140,811,338,483,463,703,421,308,349],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Q"
    "z\",\"decoded_raw\":\"<s> <tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u066"
    "3\\u0664\",\"ids\":[598,277,713,279,280,421,281,282,283,284,421],\"ids_with_special\":[1,598,277,713,279,2"
    "80,421,281,282,283,284,421],\"decoded\":\"12 345 6789 \",\"decoded_raw\":\"<s> 12 345 6789 \"},{\"text\":\"na\\u"
    "00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[498,874,623,482,325,589,421,421,421],\""
    "ids_with_special\":[1,498,874,623,482,325,589,421,421,421],\"decoded\":\"nave stanbul   \",\"decoded_raw\":"
    "\"<s> nave stanbul   \"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[1014,326,327],\"ids_with_special\":[1,1"
    "014,326,327],\"decoded\":\"abcd\",\"decoded_raw\":\"<s> abcd\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udf"
    "fd ok\",\"ids\":[421,433,421,458,477,334],\"ids_with_special\":[1,421,433,421,458,477,334],\"decoded\":\"\\u4"
    "f60 \\ud83d\\udc4d ok\",\"decoded_raw\":\"<s> \\u4f60 \\ud83d\\udc4d ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[610"
    ",778,1130,303,303,484,462,1154],\"ids_with_special\":[1,610,778,1130,303,303,484,462,1154],\"decoded\":\""
    "it's 'LL don't\",\"decoded_raw\":\"<s> it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[421,4"
    "21,962,259,311,525,305,655],\"ids_with_special\":[1,421,421,962,259,311,525,305,655],\"decoded\":\"  x\\tT"
    "abNew\",\"decoded_raw\":\"<s>   x\\tTabNew\"},{\"text\":\"a word, words; Word.\",\"ids\":[460,483,463,327,271,48"
    "3,463,327,342,286,621,463,327,273],\"ids_with_special\":[1,460,483,463,327,271,483,463,327,342,286,621"
    ",463,327,273],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"<s> a word, words; Word.\"}]},{\"name\":\""
    "gpt2 NFKC Lowercase\",\"base\":\"gpt2-bpe\",\"set\":{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\""
    ":\"NFKC\"},{\"type\":\"Lowercase\"}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[266,"
    "600,81,285,264,505,223,753],\"ids_with_special\":[266,600,81,285,264,505,223,753],\"decoded\":\"hello wor"
    "ld  x\",\"decoded_raw\":\"hello world  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[223,760,375,287,308"
    ",260,84,479,287,259],\"ids_with_special\":[223,760,375,287,308,260,84,479,287,259],\"decoded\":\"  leadin"
    "g and trailing  \",\"decoded_raw\":\"  leading and trailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> a"
    "bcd hello world Qz\",\"ids\":[30,694,339,32,89,264,70,261,68,69,30,78,32,671,84,32,223,753,671,78,84,32"
    ",261,68,69,70,223,266,600,81,285,264,505,223,83,92],\"ids_with_special\":[30,694,339,32,89,264,70,261,"
    "68,69,30,78,32,671,84,32,223,753,671,78,84,32,261,68,69,70,223,266,600,81,285,264,505,223,83,92],\"de"
    "coded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world qz\",\"decoded_raw\":\"<tool>word abc<l> <r>  x <"
    "lr> abcd hello world qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[19,20,617,22,23,223,24,25,26,27,"
    "223,152,99,152,100],\"ids_with_special\":[19,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"decoded"
    "\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw\":\"12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130sta"
    "nbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,326,223,75,139,232,307,282,68,388,223,14"
    "2,228,141,112,142,228,278,75,405],\"ids_with_special\":[80,67,130,110,326,223,75,139,232,307,282,68,38"
    "8,223,142,228,141,112,142,228,278,75,405],\"decoded\":\"na\\u00efve i\\u0307stanbul \\u03c3\\u03b1\\u03c3 fi"
    " 1\",\"decoded_raw\":\"na\\u00efve i\\u0307stanbul \\u03c3\\u03b1\\u03c3 fi 1\"},{\"text\":\"a\\u0085b\\u00a0c\\u300"
    "0d\",\"ids\":[67,129,230,68,272,289],\"ids_with_special\":[67,129,230,68,272,289],\"decoded\":\"a\\u0085b c d"
    "\",\"decoded_raw\":\"a\\u0085b c d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[163,124,25"
    "7,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"ids_with_special\":[163,124,257,164,101,12"
    "4,223,175,256,242,238,175,256,240,124,279,77],\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\""
    "decoded_raw\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[277,574,223"
    ",9,600,289,263,9,86],\"ids_with_special\":[277,574,223,9,600,289,263,9,86],\"decoded\":\"it's 'll don't\","
    "\"decoded_raw\":\"it's 'll don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,226,9"
    "0,200,86,324,201,201,80,456],\"ids_with_special\":[161,247,226,161,247,226,90,200,86,324,201,201,80,45"
    "6],\"decoded\":\"\\u2581\\u2581x\\ttab\\n\\nnew\",\"decoded_raw\":\"\\u2581\\u2581x\\ttab\\n\\nnew\"},{\"text\":\"a word,"
    " words; Word.\",\"ids\":[67,285,264,70,14,285,264,70,85,29,285,264,70,16],\"ids_with_special\":[67,285,26"
    "4,70,14,285,264,70,85,29,285,264,70,16],\"decoded\":\"a word, words; word.\",\"decoded_raw\":\"a word, word"
    "s; word.\"}]},{\"name\":\"gpt2 NFD StripAccents Strip\",\"base\":\"gpt2-bpe\",\"set\":{\"normalizer\":{\"type\":\"Se"
    "quence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"StripAccents\"},{\"type\":\"Strip\",\"strip_left\":true,\"str"
    "ip_right\":true}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[42,71,600,81,473,2"
    "64,505,223,753],\"ids_with_special\":[42,71,600,81,473,264,505,223,753],\"decoded\":\"Hello World  x\",\"de"
    "coded_raw\":\"Hello World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[292,375,287,308,260,84,479,28"
    "7],\"ids_with_special\":[292,375,287,308,260,84,479,287],\"decoded\":\"leading and trailing\",\"decoded_raw"
    "\":\"leading and trailing\"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[30,694,"
    "339,32,89,264,70,261,68,69,30,78,32,671,84,32,223,753,671,78,84,32,261,68,69,70,223,266,600,81,285,2"
    "64,505,223,51,92],\"ids_with_special\":[30,694,339,32,89,264,70,261,68,69,30,78,32,671,84,32,223,753,6"
    "71,78,84,32,261,68,69,70,223,266,600,81,285,264,505,223,51,92],\"decoded\":\"<tool>word abc<l> <r>  x <"
    "lr> abcd hello world Qz\",\"decoded_raw\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":"
    "\"12 345 6789 \\u0663\\u0664\",\"ids\":[19,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_spec"
    "ial\":[19,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"deco"
    "ded_raw\":\"12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2"
    "460\",\"ids\":[80,67,511,374,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257],"
    "\"ids_with_special\":[80,67,511,374,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,2"
    "42,257],\"decoded\":\"naive Istanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decoded_raw\":\"naive Istanbul \\u"
    "03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,129,230,68,129,257,69,16"
    "2,225,225,70],\"ids_with_special\":[67,129,230,68,129,257,69,162,225,225,70],\"decoded\":\"a\\u0085b\\u00a0"
    "c\\u3000d\",\"decoded_raw\":\"a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\""
    ",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"ids_with_special\":[163,"
    "124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d"
    "\\ud83c\\udffd ok\",\"decoded_raw\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\","
    "\"ids\":[277,574,223,9,46,46,289,263,9,86],\"ids_with_special\":[277,574,223,9,46,46,289,263,9,86],\"deco"
    "ded\":\"it's 'LL don't\",\"decoded_raw\":\"it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161"
    ",247,226,161,247,226,90,200,54,324,201,201,48,456],\"ids_with_special\":[161,247,226,161,247,226,90,20"
    "0,54,324,201,201,48,456],\"decoded\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"decoded_raw\":\"\\u2581\\u2581x\\tTab\\n\\n"
    "New\"},{\"text\":\"a word, words; Word.\",\"ids\":[67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"ids_wi"
    "th_special\":[67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"decoded\":\"a word, words; Word.\",\"deco"
    "ded_raw\":\"a word, words; Word.\"}]},{\"name\":\"gpt2 NFKD Replace regex\",\"base\":\"gpt2-bpe\",\"set\":{\"norma"
    "lizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKD\"},{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s+\""
    "},\"content\":\" \"}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[42,71,600,81,473,"
    "264,505,753],\"ids_with_special\":[42,71,600,81,473,264,505,753],\"decoded\":\"Hello World x\",\"decoded_ra"
    "w\":\"Hello World x\"},{\"text\":\"  leading and trailing  \",\"ids\":[760,375,287,308,260,84,479,287,223],\"i"
    "ds_with_special\":[760,375,287,308,260,84,479,287,223],\"decoded\":\" leading and trailing \",\"decoded_ra"
    "w\":\" leading and trailing \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[30,6"
    "94,339,32,89,264,70,261,68,69,30,78,32,671,84,32,753,671,78,84,32,261,68,69,70,223,266,600,81,285,26"
    "4,505,223,51,92],\"ids_with_special\":[30,694,339,32,89,264,70,261,68,69,30,78,32,671,84,32,753,671,78"
    ",84,32,261,68,69,70,223,266,600,81,285,264,505,223,51,92],\"decoded\":\"<tool>word abc<l> <r> x <lr> ab"
    "cd hello world Qz\",\"decoded_raw\":\"<tool>word abc<l> <r> x <lr> abcd hello world Qz\"},{\"text\":\"12 345"
    " 6789 \\u0663\\u0664\",\"ids\":[19,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_special\":[1"
    "9,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw"
    "\":\"12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"i"
    "ds\":[80,67,75,139,233,326,374,139,232,307,282,68,388,223,141,99,141,242,141,99,278,75,405],\"ids_with"
    "_special\":[80,67,75,139,233,326,374,139,232,307,282,68,388,223,141,99,141,242,141,99,278,75,405],\"de"
    "coded\":\"nai\\u0308ve I\\u0307stanbul \\u03a3\\u0391\\u03a3 fi 1\",\"decoded_raw\":\"nai\\u0308ve I\\u0307stanbu"
    "l \\u03a3\\u0391\\u03a3 fi 1\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,284,272,289],\"ids_with_specia"
    "l\":[67,284,272,289],\"decoded\":\"a b c d\",\"decoded_raw\":\"a b c d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\"
    "ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"ids_with"
    "_special\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"decoded\":\"\\u4f60\\u59"
    "7d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"i"
    "t's 'LL don't\",\"ids\":[277,574,223,9,46,46,289,263,9,86],\"ids_with_special\":[277,574,223,9,46,46,289,"
    "263,9,86],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\n"
    "New\",\"ids\":[161,247,226,161,247,226,90,328,324,559,456],\"ids_with_special\":[161,247,226,161,247,226,"
    "90,328,324,559,456],\"decoded\":\"\\u2581\\u2581x Tab New\",\"decoded_raw\":\"\\u2581\\u2581x Tab New\"},{\"text\""
    ":\"a word, words; Word.\",\"ids\":[67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"ids_with_special\":["
    "67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"a w"
    "ord, words; Word.\"}]},{\"name\":\"gpt2 Whitespace Digits\",\"base\":\"gpt2-bpe\",\"set\":{\"pre_tokenizer\":{\"ty"
    "pe\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Whitespace\"},{\"type\":\"Digits\",\"individual_digits\":true},{\"t"
    "ype\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]}},\"model\":{},\"adde"
    "d\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[42,71,600,81,57,264,505,90],\"ids_with_special\":[42,71"
    ",600,81,57,264,505,90],\"decoded\":\"HelloWorldx\",\"decoded_raw\":\"HelloWorldx\"},{\"text\":\"  leading and t"
    "railing  \",\"ids\":[292,375,287,422,360,479,287],\"ids_with_special\":[292,375,287,422,360,479,287],\"dec"
    "oded\":\"leadingandtrailing\",\"decoded_raw\":\"leadingandtrailing\"},{\"text\":\"<tool>word abc<l> <r>  x <lr"
    "> abcd hello world Qz\",\"ids\":[30,694,339,32,89,264,70,324,69,30,78,32,30,84,32,90,30,78,84,32,324,69"
    ",70,266,600,81,89,264,505,51,92],\"ids_with_special\":[30,694,339,32,89,264,70,324,69,30,78,32,30,84,3"
    "2,90,30,78,84,32,324,69,70,266,600,81,89,264,505,51,92],\"decoded\":\"<tool>wordabc<l><r>x<lr>abcdhello"
    "worldQz\",\"decoded_raw\":\"<tool>wordabc<l><r>x<lr>abcdhelloworldQz\"},{\"text\":\"12 345 6789 \\u0663\\u0664"
    "\",\"ids\":[19,20,21,22,23,24,25,26,27,152,99,152,100],\"ids_with_special\":[19,20,21,22,23,24,25,26,27,1"
    "52,99,152,100],\"decoded\":\"123456789\\u0663\\u0664\",\"decoded_raw\":\"123456789\\u0663\\u0664\"},{\"text\":\"na\\"
    "u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,326,131,111,307,282,68,"
    "388,141,99,141,242,141,99,174,108,226,161,242,257],\"ids_with_special\":[80,67,130,110,326,131,111,307"
    ",282,68,388,141,99,141,242,141,99,174,108,226,161,242,257],\"decoded\":\"na\\u00efve\\u0130stanbul\\u03a3\\"
    "u0391\\u03a3\\ufb01\\u2460\",\"decoded_raw\":\"na\\u00efve\\u0130stanbul\\u03a3\\u0391\\u03a3\\ufb01\\u2460\"},{\"te"
    "xt\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,68,69,70],\"ids_with_special\":[67,68,69,70],\"decoded\":\"abcd\",\""
    "decoded_raw\":\"abcd\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,1"
    "24,175,256,242,238,175,256,240,124,81,77],\"ids_with_special\":[163,124,257,164,101,124,175,256,242,23"
    "8,175,256,240,124,81,77],\"decoded\":\"\\u4f60\\u597d\\ud83d\\udc4d\\ud83c\\udffdok\",\"decoded_raw\":\"\\u4f60\\u5"
    "97d\\ud83d\\udc4d\\ud83c\\udffdok\"},{\"text\":\"it's 'LL don't\",\"ids\":[277,9,85,9,46,46,70,263,9,86],\"ids_w"
    "ith_special\":[277,9,85,9,46,46,70,263,9,86],\"decoded\":\"it's'LLdon't\",\"decoded_raw\":\"it's'LLdon't\"},{"
    "\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,226,90,54,324,48,456],\"ids_with_specia"
    "l\":[161,247,226,161,247,226,90,54,324,48,456],\"decoded\":\"\\u2581\\u2581xTabNew\",\"decoded_raw\":\"\\u2581\\"
    "u2581xTabNew\"},{\"text\":\"a word, words; Word.\",\"ids\":[67,89,264,70,14,89,264,70,85,29,57,264,70,16],\""
    "ids_with_special\":[67,89,264,70,14,89,264,70,85,29,57,264,70,16],\"decoded\":\"aword,words;Word.\",\"deco"
    "ded_raw\":\"aword,words;Word.\"}]},{\"name\":\"gpt2 WhitespaceSplit Punctuation Digits\",\"base\":\"gpt2-bpe\","
    "\"set\":{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},{\"type\":\"Punct"
    "uation\",\"behavior\":\"Contiguous\"},{\"type\":\"Digits\",\"individual_digits\":false},{\"type\":\"ByteLevel\",\"ad"
    "d_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":false}]}},\"model\":{},\"added\":[],\"cases\":[{\"text"
    "\":\"Hello World  x\",\"ids\":[628,71,600,81,473,264,505,753],\"ids_with_special\":[628,71,600,81,473,264,5"
    "05,753],\"decoded\":\" Hello World x\",\"decoded_raw\":\" Hello World x\"},{\"text\":\"  leading and trailing  "
    "\",\"ids\":[760,375,287,308,260,84,479,287],\"ids_with_special\":[760,375,287,308,260,84,479,287],\"decode"
    "d\":\" leading and trailing\",\"decoded_raw\":\" leading and trailing\"},{\"text\":\"<tool>word abc<l> <r>  x "
    "<lr> abcd hello world Qz\",\"ids\":[671,296,339,223,32,285,264,70,261,68,69,671,305,223,32,671,471,223,"
    "32,753,671,305,84,223,32,261,68,69,70,223,266,600,81,285,264,505,223,51,92],\"ids_with_special\":[671,"
    "296,339,223,32,285,264,70,261,68,69,671,305,223,32,671,471,223,32,753,671,305,84,223,32,261,68,69,70"
    ",223,266,600,81,285,264,505,223,51,92],\"decoded\":\" < tool > word abc < l > < r > x < lr > abcd hello"
    " world Qz\",\"decoded_raw\":\" < tool > word abc < l > < r > x < lr > abcd hello world Qz\"},{\"text\":\"12 "
    "345 6789 \\u0663\\u0664\",\"ids\":[405,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_special"
    "\":[405,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"decoded\":\" 12 345 6789 \\u0663\\u0664\",\"decod"
    "ed_raw\":\" 12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2"
    "460\",\"ids\":[301,67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,"
    "223,161,242,257],\"ids_with_special\":[301,67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,24"
    "2,141,99,223,174,108,226,223,161,242,257],\"decoded\":\" na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\u"
    "fb01 \\u2460\",\"decoded_raw\":\" na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\"
    "u0085b\\u00a0c\\u3000d\",\"ids\":[261,284,272,289],\"ids_with_special\":[261,284,272,289],\"decoded\":\" a b c"
    " d\",\"decoded_raw\":\" a b c d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[223,163,124,"
    "257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"ids_with_special\":[223,163,124,257,164,"
    "101,124,223,175,256,242,238,175,256,240,124,279,77],\"decoded\":\" \\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udff"
    "d ok\",\"decoded_raw\":\" \\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[411"
    ",223,9,270,223,9,346,46,289,263,223,9,260],\"ids_with_special\":[411,223,9,270,223,9,346,46,289,263,22"
    "3,9,260],\"decoded\":\" it ' s ' LL don ' t\",\"decoded_raw\":\" it ' s ' LL don ' t\"},{\"text\":\"\\u2581\\u258"
    "1x\\tTab\\n\\nNew\",\"ids\":[223,161,247,226,161,247,226,90,328,324,559,456],\"ids_with_special\":[223,161,2"
    "47,226,161,247,226,90,328,324,559,456],\"decoded\":\" \\u2581\\u2581x Tab New\",\"decoded_raw\":\" \\u2581\\u25"
    "81x Tab New\"},{\"text\":\"a word, words; Word.\",\"ids\":[261,285,264,70,223,14,285,264,70,85,223,29,473,2"
    "64,70,223,16],\"ids_with_special\":[261,285,264,70,223,14,285,264,70,85,223,29,473,264,70,223,16],\"dec"
    "oded\":\" a word , words ; Word .\",\"decoded_raw\":\" a word , words ; Word .\"}]},{\"name\":\"gpt2 no decode"
    "r, Sequence post-processor with EOS\",\"base\":\"gpt2-bpe\",\"set\":{\"decoder\":null,\"post_processor\":{\"type"
    "\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_reg"
    "ex\":true},{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<|im_start|>\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"<|endoftext|>\",\"type_id\":0}}],\"pair\":[{\"S"
    "equence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{\"<|im_start|"
    ">\":{\"id\":\"<|im_start|>\",\"ids\":[1],\"tokens\":[\"<|im_start|>\"]},\"<|endoftext|>\":{\"id\":\"<|endoftext|>\",\""
    "ids\":[0],\"tokens\":[\"<|endoftext|>\"]}}}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"i"
    "ds\":[42,71,600,81,473,264,505,223,753],\"ids_with_special\":[1,42,71,600,81,473,264,505,223,753,0],\"de"
    "coded\":\"H e ll o \\u0120W or ld \\u0120 \\u0120x\",\"decoded_raw\":\"<|im_start|> H e ll o \\u0120W or ld \\u"
    "0120 \\u0120x <|endoftext|>\"},{\"text\":\"  leading and trailing  \",\"ids\":[223,760,375,287,308,260,84,47"
    "9,287,259],\"ids_with_special\":[1,223,760,375,287,308,260,84,479,287,259,0],\"decoded\":\"\\u0120 \\u0120l"
    "e ad ing \\u0120and \\u0120t r ail ing \\u0120\\u0120\",\"decoded_raw\":\"<|im_start|> \\u0120 \\u0120le ad in"
    "g \\u0120and \\u0120t r ail ing \\u0120\\u0120 <|endoftext|>\"},{\"text\":\"<tool>word abc<l> <r>  x <lr> ab"
    "cd hello world Qz\",\"ids\":[30,694,339,32,89,264,70,261,68,69,30,78,32,671,84,32,223,753,671,78,84,32,"
    "261,68,69,70,223,266,600,81,285,264,505,223,51,92],\"ids_with_special\":[1,30,694,339,32,89,264,70,261"
    ",68,69,30,78,32,671,84,32,223,753,671,78,84,32,261,68,69,70,223,266,600,81,285,264,505,223,51,92,0],"
    "\"decoded\":\"< to ol > w or d \\u0120a b c < l > \\u0120< r > \\u0120 \\u0120x \\u0120< l r > \\u0120a b c d"
    " \\u0120 he ll o \\u0120w or ld \\u0120 Q z\",\"decoded_raw\":\"<|im_start|> < to ol > w or d \\u0120a b c <"
    " l > \\u0120< r > \\u0120 \\u0120x \\u0120< l r > \\u0120a b c d \\u0120 he ll o \\u0120w or ld \\u0120 Q z "
    "<|endoftext|>\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[19,20,617,22,23,223,24,25,26,27,223,152,99"
    ",152,100],\"ids_with_special\":[1,19,20,617,22,23,223,24,25,26,27,223,152,99,152,100,0],\"decoded\":\"1 2"
    " \\u01203 4 5 \\u0120 6 7 8 9 \\u0120 \\u00d9 \\u00a3 \\u00d9 \\u00a4\",\"decoded_raw\":\"<|im_start|> 1 2 \\u01"
    "203 4 5 \\u0120 6 7 8 9 \\u0120 \\u00d9 \\u00a3 \\u00d9 \\u00a4 <|endoftext|>\"},{\"text\":\"na\\u00efve \\u0130"
    "stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,326,223,131,111,307,282,68,388,223,14"
    "1,99,141,242,141,99,223,174,108,226,223,161,242,257],\"ids_with_special\":[1,80,67,130,110,326,223,131"
    ",111,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257,0],\"decoded\":\"n a \\u00"
    "c3 \\u00af ve \\u0120 \\u00c4 \\u00b0 st an b ul \\u0120 \\u00ce \\u00a3 \\u00ce \\u0133 \\u00ce \\u00a3 \\u0120"
    " \\u00ef \\u00ac \\u0123 \\u0120 \\u00e2 \\u0133 \\u0142\",\"decoded_raw\":\"<|im_start|> n a \\u00c3 \\u00af ve "
    "\\u0120 \\u00c4 \\u00b0 st an b ul \\u0120 \\u00ce \\u00a3 \\u00ce \\u0133 \\u00ce \\u00a3 \\u0120 \\u00ef \\u00a"
    "c \\u0123 \\u0120 \\u00e2 \\u0133 \\u0142 <|endoftext|>\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,129,"
    "230,68,129,257,69,162,225,225,70],\"ids_with_special\":[1,67,129,230,68,129,257,69,162,225,225,70,0],\""
    "decoded\":\"a \\u00c2 \\u0127 b \\u00c2 \\u0142 c \\u00e3 \\u0122 \\u0122 d\",\"decoded_raw\":\"<|im_start|> a \\u"
    "00c2 \\u0127 b \\u00c2 \\u0142 c \\u00e3 \\u0122 \\u0122 d <|endoftext|>\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\ud"
    "c4d\\ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],\"ids_"
    "with_special\":[1,163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77,0],\"decoded\":\"\\u"
    "00e4 \\u00bd \\u0142 \\u00e5 \\u00a5 \\u00bd \\u0120 \\u00f0 \\u0141 \\u0133 \\u012f \\u00f0 \\u0141 \\u0131 \\u00"
    "bd \\u0120o k\",\"decoded_raw\":\"<|im_start|> \\u00e4 \\u00bd \\u0142 \\u00e5 \\u00a5 \\u00bd \\u0120 \\u00f0 \\u"
    "0141 \\u0133 \\u012f \\u00f0 \\u0141 \\u0131 \\u00bd \\u0120o k <|endoftext|>\"},{\"text\":\"it's 'LL don't\",\"i"
    "ds\":[277,574,223,9,46,46,289,263,9,86],\"ids_with_special\":[1,277,574,223,9,46,46,289,263,9,86,0],\"de"
    "coded\":\"it 's \\u0120 ' L L \\u0120d on ' t\",\"decoded_raw\":\"<|im_start|> it 's \\u0120 ' L L \\u0120d on"
    " ' t <|endoftext|>\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,226,90,200,54,32"
    "4,201,201,48,456],\"ids_with_special\":[1,161,247,226,161,247,226,90,200,54,324,201,201,48,456,0],\"dec"
    "oded\":\"\\u00e2 \\u0138 \\u0123 \\u00e2 \\u0138 \\u0123 x \\u0109 T ab \\u010a \\u010a N ew\",\"decoded_raw\":\"<|"
    "im_start|> \\u00e2 \\u0138 \\u0123 \\u00e2 \\u0138 \\u0123 x \\u0109 T ab \\u010a \\u010a N ew <|endoftext|>\""
    "},{\"text\":\"a word, words; Word.\",\"ids\":[67,285,264,70,14,285,264,70,85,29,473,264,70,16],\"ids_with_s"
    "pecial\":[1,67,285,264,70,14,285,264,70,85,29,473,264,70,16,0],\"decoded\":\"a \\u0120w or d , \\u0120w or"
    " d s ; \\u0120W or d .\",\"decoded_raw\":\"<|im_start|> a \\u0120w or d , \\u0120w or d s ; \\u0120W or d . "
    "<|endoftext|>\"}]},{\"name\":\"gpt2 RobertaProcessing\",\"base\":\"gpt2-bpe\",\"set\":{\"post_processor\":{\"type\""
    ":\"RobertaProcessing\",\"sep\":[\"<|im_end|>\",2],\"cls\":[\"<|im_start|>\",1],\"trim_offsets\":true,\"add_prefix"
    "_space\":false}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[42,71,600,81,473,264,"
    "505,223,753],\"ids_with_special\":[1,42,71,600,81,473,264,505,223,753,2],\"decoded\":\"Hello World  x\",\"d"
    "ecoded_raw\":\"<|im_start|>Hello World  x<|im_end|>\"},{\"text\":\"  leading and trailing  \",\"ids\":[223,76"
    "0,375,287,308,260,84,479,287,259],\"ids_with_special\":[1,223,760,375,287,308,260,84,479,287,259,2],\"d"
    "ecoded\":\"  leading and trailing  \",\"decoded_raw\":\"<|im_start|>  leading and trailing  <|im_end|>\"},{"
    "\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[30,694,339,32,89,264,70,261,68,69,"
    "30,78,32,671,84,32,223,753,671,78,84,32,261,68,69,70,223,266,600,81,285,264,505,223,51,92],\"ids_with"
    "_special\":[1,30,694,339,32,89,264,70,261,68,69,30,78,32,671,84,32,223,753,671,78,84,32,261,68,69,70,"
    "223,266,600,81,285,264,505,223,51,92,2],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz"
    "\",\"decoded_raw\":\"<|im_start|><tool>word abc<l> <r>  x <lr> abcd hello world Qz<|im_end|>\"},{\"text\":\""
    "12 345 6789 \\u0663\\u0664\",\"ids\":[19,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_speci"
    "al\":[1,19,20,617,22,23,223,24,25,26,27,223,152,99,152,100,2],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"d"
    "ecoded_raw\":\"<|im_start|>12 345 6789 \\u0663\\u0664<|im_end|>\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03"
    "a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,242"
    ",141,99,223,174,108,226,223,161,242,257],\"ids_with_special\":[1,80,67,130,110,326,223,131,111,307,282"
    ",68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257,2],\"decoded\":\"na\\u00efve \\u0130sta"
    "nbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decoded_raw\":\"<|im_start|>na\\u00efve \\u0130stanbul \\u03a3\\u0"
    "391\\u03a3 \\ufb01 \\u2460<|im_end|>\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[67,129,230,68,129,257,69"
    ",162,225,225,70],\"ids_with_special\":[1,67,129,230,68,129,257,69,162,225,225,70,2],\"decoded\":\"a\\u0085"
    "b\\u00a0c\\u3000d\",\"decoded_raw\":\"<|im_start|>a\\u0085b\\u00a0c\\u3000d<|im_end|>\"},{\"text\":\"\\u4f60\\u597d"
    " \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279"
    ",77],\"ids_with_special\":[1,163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77,2],\"de"
    "coded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<|im_start|>\\u4f60\\u597d \\ud83d\\udc"
    "4d\\ud83c\\udffd ok<|im_end|>\"},{\"text\":\"it's 'LL don't\",\"ids\":[277,574,223,9,46,46,289,263,9,86],\"ids"
    "_with_special\":[1,277,574,223,9,46,46,289,263,9,86,2],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<|im"
    "_start|>it's 'LL don't<|im_end|>\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,22"
    "6,90,200,54,324,201,201,48,456],\"ids_with_special\":[1,161,247,226,161,247,226,90,200,54,324,201,201,"
    "48,456,2],\"decoded\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"decoded_raw\":\"<|im_start|>\\u2581\\u2581x\\tTab\\n\\nNew"
    "<|im_end|>\"},{\"text\":\"a word, words; Word.\",\"ids\":[67,285,264,70,14,285,264,70,85,29,473,264,70,16],"
    "\"ids_with_special\":[1,67,285,264,70,14,285,264,70,85,29,473,264,70,16,2],\"decoded\":\"a word, words; W"
    "ord.\",\"decoded_raw\":\"<|im_start|>a word, words; Word.<|im_end|>\"}]},{\"name\":\"llama3 added tokens\",\"b"
    "ase\":\"llama3-bpe\",\"set\":{},\"model\":{},\"added\":[{\"content\":\"<tool>\",\"id\":1024,\"single_word\":false,\"ls"
    "trip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false},{\"content\":\"<l>\",\"id\":1025,\"single_wo"
    "rd\":false,\"lstrip\":true,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"content\":\"<r>\",\"id\":1026"
    ",\"single_word\":false,\"lstrip\":false,\"rstrip\":true,\"normalized\":false,\"special\":true},{\"content\":\"<lr"
    ">\",\"id\":1027,\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":false},{\"c"
    "ontent\":\"word\",\"id\":1028,\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special"
    "\":false},{\"content\":\"hello world\",\"id\":1029,\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"norma"
    "lized\":true,\"special\":false},{\"content\":\"abc\",\"id\":1030,\"single_word\":false,\"lstrip\":false,\"rstrip\":"
    "false,\"normalized\":false,\"special\":false},{\"content\":\"abcd\",\"id\":1031,\"single_word\":false,\"lstrip\":f"
    "alse,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"content\":\"Qz\",\"id\":1032,\"single_word\":false"
    ",\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":true}],\"cases\":[{\"text\":\"Hello World  x\","
    "\"ids\":[42,71,602,81,473,264,504,223,757],\"ids_with_special\":[0,42,71,602,81,473,264,504,223,757],\"de"
    "coded\":\"Hello World  x\",\"decoded_raw\":\"<|begin_of_text|>Hello World  x\"},{\"text\":\"  leading and trai"
    "ling  \",\"ids\":[223,765,375,287,308,820,479,287,259],\"ids_with_special\":[0,223,765,375,287,308,820,47"
    "9,287,259],\"decoded\":\"  leading and trailing  \",\"decoded_raw\":\"<|begin_of_text|>  leading and traili"
    "ng  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[1024,1028,223,1030,1025,22"
    "3,1026,90,1027,1031,223,1029,223,1032],\"ids_with_special\":[0,1024,1028,223,1030,1025,223,1026,90,102"
    "7,1031,223,1029,223,1032],\"decoded\":\"<tool>word abc x<lr> hello world \",\"decoded_raw\":\"<|begin_of_te"
    "xt|><tool>word abc<l> <r>x<lr>abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[818,22"
    "3,21,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_special\":[0,818,223,21,22,23,223,24,25,26,2"
    "7,223,152,99,152,100],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw\":\"<|begin_of_text|>12 345 67"
    "89 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,1"
    "30,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,174,108,226,223,161,242,257],\"id"
    "s_with_special\":[0,80,67,130,110,326,223,131,111,307,282,68,388,223,141,99,141,242,141,99,223,174,10"
    "8,226,223,161,242,257],\"decoded\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decode"
    "d_raw\":\"<|begin_of_text|>na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u008"
    "5b\\u00a0c\\u3000d\",\"ids\":[67,129,230,68,129,257,69,162,225,225,70],\"ids_with_special\":[0,67,129,230,6"
    "8,129,257,69,162,225,225,70],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\"<|begin_of_text|>a\\u0"
    "085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,1"
    "24,223,175,256,242,238,175,256,240,124,279,77],\"ids_with_special\":[0,163,124,257,164,101,124,223,175"
    ",256,242,238,175,256,240,124,279,77],\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_r"
    "aw\":\"<|begin_of_text|>\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[277"
    ",578,886,46,46,289,263,948],\"ids_with_special\":[0,277,578,886,46,46,289,263,948],\"decoded\":\"it's 'LL"
    " don't\",\"decoded_raw\":\"<|begin_of_text|>it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":["
    "161,247,226,161,247,226,90,200,54,324,201,201,48,454],\"ids_with_special\":[0,161,247,226,161,247,226,"
    "90,200,54,324,201,201,48,454],\"decoded\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"decoded_raw\":\"<|begin_of_text|>"
    "\\u2581\\u2581x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; Word.\",\"ids\":[67,223,1028,14,285,264,70,85,29,47"
    "3,264,70,16],\"ids_with_special\":[0,67,223,1028,14,285,264,70,85,29,473,264,70,16],\"decoded\":\"a word,"
    " words; Word.\",\"decoded_raw\":\"<|begin_of_text|>a word, words; Word.\"}]},{\"name\":\"spm added tokens\",\""
    "base\":\"spm-bpe\",\"set\":{},\"model\":{},\"added\":[{\"content\":\"<tool>\",\"id\":1256,\"single_word\":false,\"lstr"
    "ip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false},{\"content\":\"<l>\",\"id\":1257,\"single_word"
    "\":false,\"lstrip\":true,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"content\":\"<r>\",\"id\":1258,\""
    "single_word\":false,\"lstrip\":false,\"rstrip\":true,\"normalized\":false,\"special\":true},{\"content\":\"<lr>\""
    ",\"id\":1259,\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":false},{\"con"
    "tent\":\"word\",\"id\":1260,\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":"
    "false},{\"content\":\"hello world\",\"id\":1261,\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normali"
    "zed\":true,\"special\":false},{\"content\":\"abc\",\"id\":1262,\"single_word\":false,\"lstrip\":false,\"rstrip\":fa"
    "lse,\"normalized\":false,\"special\":false},{\"content\":\"abcd\",\"id\":1263,\"single_word\":false,\"lstrip\":fal"
    "se,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"content\":\"Qz\",\"id\":1264,\"single_word\":false,\""
    "lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":true}],\"cases\":[{\"text\":\"Hello World  x\",\"i"
    "ds\":[815,328,811,338,621,463,703,421,962],\"ids_with_special\":[1,815,328,811,338,621,463,703,421,962]"
    ",\"decoded\":\"Hello World  x\",\"decoded_raw\":\"<s> Hello World  x\"},{\"text\":\"  leading and trailing  \",\""
    "ids\":[421,421,977,577,488,504,1007,682,488,421,421],\"ids_with_special\":[1,421,421,977,577,488,504,10"
    "07,682,488,421,421],\"decoded\":\"  leading and trailing  \",\"decoded_raw\":\"<s>   leading and trailing  "
    "\"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[1256,1260,421,1262,1257,421,42"
    "1,1258,962,1259,1263,421,1261,1264],\"ids_with_special\":[1,1256,1260,421,1262,1257,421,421,1258,962,1"
    "259,1263,421,1261,1264],\"decoded\":\"<tool> word abc   x<lr>  hello world Qz\",\"decoded_raw\":\"<s><tool>"
    " word abc<l>  <r> x<lr>abcd  hello world Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[598,277,713,"
    "279,280,421,281,282,283,284,421,220,166,220,167],\"ids_with_special\":[1,598,277,713,279,280,421,281,2"
    "82,283,284,421,220,166,220,167],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw\":\"<s> 12 345 6789 "
    "\\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[498,324,19"
    "8,178,524,421,199,179,505,482,325,589,421,209,166,209,148,209,166,421,242,175,132,421,229,148,163],\""
    "ids_with_special\":[1,498,324,198,178,524,421,199,179,505,482,325,589,421,209,166,209,148,209,166,421"
    ",242,175,132,421,229,148,163],\"decoded\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\","
    "\"decoded_raw\":\"<s> na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00"
    "a0c\\u3000d\",\"ids\":[460,197,136,325,197,163,326,230,131,131,327],\"ids_with_special\":[1,460,197,136,32"
    "5,197,163,326,230,131,131,327],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\"<s> a\\u0085b\\u00a0c"
    "\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[421,433,232,168,192,421,458,243,"
    "162,146,192,477,334],\"ids_with_special\":[1,421,433,232,168,192,421,458,243,162,146,192,477,334],\"dec"
    "oded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<s> \\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\"
    "udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[610,778,1130,303,303,484,462,1154],\"ids_with_special\":[1,"
    "610,778,1130,303,303,484,462,1154],\"decoded\":\"it's 'LL don't\",\"decoded_raw\":\"<s> it's 'LL don't\"},{\""
    "text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[421,421,962,259,311,525,13,13,305,655],\"ids_with_special\":["
    "1,421,421,962,259,311,525,13,13,305,655],\"decoded\":\"  x\\tTab\\n\\nNew\",\"decoded_raw\":\"<s>   x\\tTab\\n\\n"
    "New\"},{\"text\":\"a word, words; Word.\",\"ids\":[460,483,463,327,271,483,463,327,342,286,621,463,327,273]"
    ",\"ids_with_special\":[1,460,483,463,327,271,483,463,327,342,286,621,463,327,273],\"decoded\":\"a word, w"
    "ords; Word.\",\"decoded_raw\":\"<s> a word, words; Word.\"}]},{\"name\":\"gpt2 added tokens + Lowercase\",\"ba"
    "se\":\"gpt2-bpe\",\"set\":{\"normalizer\":{\"type\":\"Lowercase\"}},\"model\":{},\"added\":[{\"content\":\"<tool>\",\"id"
    "\":800,\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false},{\"conten"
    "t\":\"<l>\",\"id\":801,\"single_word\":false,\"lstrip\":true,\"rstrip\":false,\"normalized\":false,\"special\":true"
    "},{\"content\":\"<r>\",\"id\":802,\"single_word\":false,\"lstrip\":false,\"rstrip\":true,\"normalized\":false,\"spe"
    "cial\":true},{\"content\":\"<lr>\",\"id\":803,\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":"
    "false,\"special\":false},{\"content\":\"word\",\"id\":804,\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\""
    "normalized\":true,\"special\":false},{\"content\":\"hello world\",\"id\":805,\"single_word\":false,\"lstrip\":fal"
    "se,\"rstrip\":false,\"normalized\":true,\"special\":false},{\"content\":\"abc\",\"id\":806,\"single_word\":false,\""
    "lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false},{\"content\":\"abcd\",\"id\":807,\"single_"
    "word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},{\"content\":\"Qz\",\"id\":80"
    "8,\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":true}],\"cases\":[{\"te"
    "xt\":\"Hello World  x\",\"ids\":[805,223,753],\"ids_with_special\":[805,223,753],\"decoded\":\"hello world  x\""
    ",\"decoded_raw\":\"hello world  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[223,760,375,287,308,260,8"
    "4,479,287,259],\"ids_with_special\":[223,760,375,287,308,260,84,479,287,259],\"decoded\":\"  leading and "
    "trailing  \",\"decoded_raw\":\"  leading and trailing  \"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd he"
    "llo world Qz\",\"ids\":[800,804,223,806,801,223,802,90,803,807,223,805,223,808],\"ids_with_special\":[800"
    ",804,223,806,801,223,802,90,803,807,223,805,223,808],\"decoded\":\"<tool>word abc x<lr> hello world qz\""
    ",\"decoded_raw\":\"<tool>word abc<l> <r>x<lr>abcd hello world qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\""
    "ids\":[19,20,617,22,23,223,24,25,26,27,223,152,99,152,100],\"ids_with_special\":[19,20,617,22,23,223,24"
    ",25,26,27,223,152,99,152,100],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"decoded_raw\":\"12 345 6789 \\u0663"
    "\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[80,67,130,110,32"
    "6,223,75,139,232,307,282,68,388,223,142,228,141,112,142,228,223,174,108,226,223,161,242,257],\"ids_wi"
    "th_special\":[80,67,130,110,326,223,75,139,232,307,282,68,388,223,142,228,141,112,142,228,223,174,108"
    ",226,223,161,242,257],\"decoded\":\"na\\u00efve i\\u0307stanbul \\u03c3\\u03b1\\u03c3 \\ufb01 \\u2460\",\"decode"
    "d_raw\":\"na\\u00efve i\\u0307stanbul \\u03c3\\u03b1\\u03c3 \\ufb01 \\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d"
    "\",\"ids\":[67,129,230,68,129,257,69,162,225,225,70],\"ids_with_special\":[67,129,230,68,129,257,69,162,2"
    "25,225,70],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\"a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f6"
    "0\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,"
    "124,279,77],\"ids_with_special\":[163,124,257,164,101,124,223,175,256,242,238,175,256,240,124,279,77],"
    "\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\"
    "udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[277,574,223,9,600,289,263,9,86],\"ids_with_special\":[277,5"
    "74,223,9,600,289,263,9,86],\"decoded\":\"it's 'll don't\",\"decoded_raw\":\"it's 'll don't\"},{\"text\":\"\\u258"
    "1\\u2581x\\tTab\\n\\nNew\",\"ids\":[161,247,226,161,247,226,90,200,86,324,201,201,80,456],\"ids_with_special"
    "\":[161,247,226,161,247,226,90,200,86,324,201,201,80,456],\"decoded\":\"\\u2581\\u2581x\\ttab\\n\\nnew\",\"deco"
    "ded_raw\":\"\\u2581\\u2581x\\ttab\\n\\nnew\"},{\"text\":\"a word, words; Word.\",\"ids\":[67,223,804,14,285,264,70"
    ",85,29,223,804,16],\"ids_with_special\":[67,223,804,14,285,264,70,85,29,223,804,16],\"decoded\":\"a word,"
    " words; word.\",\"decoded_raw\":\"a word, words; word.\"}]},{\"name\":\"spm decoders Fuse Replace Strip(2,2)"
    "\",\"base\":\"spm-bpe\",\"set\":{\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\""
    "Fuse\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},{\"type\":\"Strip\",\"content\":\" \","
    "\"start\":2,\"stop\":2}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[815,328,811,33"
    "8,621,463,703,421,962],\"ids_with_special\":[1,815,328,811,338,621,463,703,421,962],\"decoded\":\"Hello W"
    "orld  x\",\"decoded_raw\":\"<s> Hello World  x\"},{\"text\":\"  leading and trailing  \",\"ids\":[421,421,977,5"
    "77,488,504,1007,682,488,421,421],\"ids_with_special\":[1,421,421,977,577,488,504,1007,682,488,421,421]"
    ",\"decoded\":\" leading and trailing\",\"decoded_raw\":\"<s>   leading and trailing\"},{\"text\":\"<tool>word a"
    "bc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[793,343,1138,289,346,463,327,1014,326,287,335,289,793,"
    "341,289,421,962,793,335,341,289,1014,326,327,1140,811,338,483,463,703,421,308,349],\"ids_with_special"
    "\":[1,793,343,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,326,"
    "327,1140,811,338,483,463,703,421,308,349],\"decoded\":\"<tool>word abc<l> <r>  x <lr> abcd hello world "
    "Qz\",\"decoded_raw\":\"<s> <tool>word abc<l> <r>  x <lr> abcd hello world Qz\"},{\"text\":\"12 345 6789 \\u06"
    "63\\u0664\",\"ids\":[598,277,713,279,280,421,281,282,283,284,421,220,166,220,167],\"ids_with_special\":[1,"
    "598,277,713,279,280,421,281,282,283,284,421,220,166,220,167],\"decoded\":\"12 345 6789 \\u0663\\u0664\",\"d"
    "ecoded_raw\":\"<s> 12 345 6789 \\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\uf"
    "b01 \\u2460\",\"ids\":[498,324,198,178,524,421,199,179,505,482,325,589,421,209,166,209,148,209,166,421,2"
    "42,175,132,421,229,148,163],\"ids_with_special\":[1,498,324,198,178,524,421,199,179,505,482,325,589,42"
    "1,209,166,209,148,209,166,421,242,175,132,421,229,148,163],\"decoded\":\"na\\u00efve \\u0130stanbul \\u03a"
    "3\\u0391\\u03a3 \\ufb01 \\u2460\",\"decoded_raw\":\"<s> na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03a3 \\ufb01 \\"
    "u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[460,197,136,325,197,163,326,230,131,131,327],\"ids_wi"
    "th_special\":[1,460,197,136,325,197,163,326,230,131,131,327],\"decoded\":\"a\\u0085b\\u00a0c\\u3000d\",\"deco"
    "ded_raw\":\"<s> a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[421"
    ",433,232,168,192,421,458,243,162,146,192,477,334],\"ids_with_special\":[1,421,433,232,168,192,421,458,"
    "243,162,146,192,477,334],\"decoded\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"decoded_raw\":\"<s> \\u4"
    "f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[610,778,1130,303,303,484,462"
    ",1154],\"ids_with_special\":[1,610,778,1130,303,303,484,462,1154],\"decoded\":\"it's 'LL don't\",\"decoded_"
    "raw\":\"<s> it's 'LL don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[421,421,962,259,311,525,13,13,"
    "305,655],\"ids_with_special\":[1,421,421,962,259,311,525,13,13,305,655],\"decoded\":\" x\\tTab\\n\\nNew\",\"de"
    "coded_raw\":\"<s>   x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; Word.\",\"ids\":[460,483,463,327,271,483,463,"
    "327,342,286,621,463,327,273],\"ids_with_special\":[1,460,483,463,327,271,483,463,327,342,286,621,463,3"
    "27,273],\"decoded\":\"a word, words; Word.\",\"decoded_raw\":\"<s> a word, words; Word.\"}]},{\"name\":\"spm de"
    "coders Replace after Fuse\",\"base\":\"spm-bpe\",\"set\":{\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":"
    "\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\\u2581\"},\"content\":\"_\"}"
    ",{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"l+\"},\"content\":\"L\"}]}},\"model\":{},\"added\":[],\"cases\":[{\"text\""
    ":\"Hello World  x\",\"ids\":[815,328,811,338,621,463,703,421,962],\"ids_with_special\":[1,815,328,811,338,"
    "621,463,703,421,962],\"decoded\":\"\\u2581HeLo\\u2581WorLd_x\",\"decoded_raw\":\"<s>\\u2581HeLo\\u2581WorLd_x\"}"
    ",{\"text\":\"  leading and trailing  \",\"ids\":[421,421,977,577,488,504,1007,682,488,421,421],\"ids_with_s"
    "pecial\":[1,421,421,977,577,488,504,1007,682,488,421,421],\"decoded\":\"_\\u2581Leading\\u2581and\\u2581tra"
    "iLing_\",\"decoded_raw\":\"<s>_\\u2581Leading\\u2581and\\u2581traiLing_\"},{\"text\":\"<tool>word abc<l> <r>  x"
    " <lr> abcd hello world Qz\",\"ids\":[793,343,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,"
    "962,793,335,341,289,1014,326,327,1140,811,338,483,463,703,421,308,349],\"ids_with_special\":[1,793,343"
    ",1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,326,327,1140,811"
    ",338,483,463,703,421,308,349],\"decoded\":\"\\u2581<tooL>word\\u2581abc<L>\\u2581<r>_x\\u2581<Lr>\\u2581abcd"
    "\\u2581heLo\\u2581worLd\\u2581Qz\",\"decoded_raw\":\"<s>\\u2581<tooL>word\\u2581abc<L>\\u2581<r>_x\\u2581<Lr>\\u"
    "2581abcd\\u2581heLo\\u2581worLd\\u2581Qz\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[598,277,713,279,28"
    "0,421,281,282,283,284,421,220,166,220,167],\"ids_with_special\":[1,598,277,713,279,280,421,281,282,283"
    ",284,421,220,166,220,167],\"decoded\":\"\\u258112\\u2581345\\u25816789\\u2581\\u0663\\u0664\",\"decoded_raw\":\"<"
    "s>\\u258112\\u2581345\\u25816789\\u2581\\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul \\u03a3\\u0391\\u03"
    "a3 \\ufb01 \\u2460\",\"ids\":[498,324,198,178,524,421,199,179,505,482,325,589,421,209,166,209,148,209,166"
    ",421,242,175,132,421,229,148,163],\"ids_with_special\":[1,498,324,198,178,524,421,199,179,505,482,325,"
    "589,421,209,166,209,148,209,166,421,242,175,132,421,229,148,163],\"decoded\":\"\\u2581na\\u00efve\\u2581\\u"
    "0130stanbuL\\u2581\\u03a3\\u0391\\u03a3\\u2581\\ufb01\\u2581\\u2460\",\"decoded_raw\":\"<s>\\u2581na\\u00efve\\u258"
    "1\\u0130stanbuL\\u2581\\u03a3\\u0391\\u03a3\\u2581\\ufb01\\u2581\\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"i"
    "ds\":[460,197,136,325,197,163,326,230,131,131,327],\"ids_with_special\":[1,460,197,136,325,197,163,326,"
    "230,131,131,327],\"decoded\":\"\\u2581a\\u0085b\\u00a0c\\u3000d\",\"decoded_raw\":\"<s>\\u2581a\\u0085b\\u00a0c\\u3"
    "000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok\",\"ids\":[421,433,232,168,192,421,458,243,162"
    ",146,192,477,334],\"ids_with_special\":[1,421,433,232,168,192,421,458,243,162,146,192,477,334],\"decode"
    "d\":\"\\u2581\\u4f60\\u597d\\u2581\\ud83d\\udc4d\\ud83c\\udffd\\u2581ok\",\"decoded_raw\":\"<s>\\u2581\\u4f60\\u597d\\u"
    "2581\\ud83d\\udc4d\\ud83c\\udffd\\u2581ok\"},{\"text\":\"it's 'LL don't\",\"ids\":[610,778,1130,303,303,484,462,"
    "1154],\"ids_with_special\":[1,610,778,1130,303,303,484,462,1154],\"decoded\":\"\\u2581it's\\u2581'LL\\u2581d"
    "on't\",\"decoded_raw\":\"<s>\\u2581it's\\u2581'LL\\u2581don't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":["
    "421,421,962,259,311,525,13,13,305,655],\"ids_with_special\":[1,421,421,962,259,311,525,13,13,305,655],"
    "\"decoded\":\"_\\u2581x\\tTab\\n\\nNew\",\"decoded_raw\":\"<s>_\\u2581x\\tTab\\n\\nNew\"},{\"text\":\"a word, words; Wo"
    "rd.\",\"ids\":[460,483,463,327,271,483,463,327,342,286,621,463,327,273],\"ids_with_special\":[1,460,483,4"
    "63,327,271,483,463,327,342,286,621,463,327,273],\"decoded\":\"\\u2581a\\u2581word,\\u2581words;\\u2581Word."
    "\",\"decoded_raw\":\"<s>\\u2581a\\u2581word,\\u2581words;\\u2581Word.\"}]},{\"name\":\"spm decoders per-token St"
    "rip, Metaspace\",\"base\":\"spm-bpe\",\"set\":{\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\""
    "pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0},{\"type"
    "\":\"ByteFallback\"},{\"type\":\"Metaspace\",\"replacement\":\"e\",\"prepend_scheme\":\"always\"}]}},\"model\":{},\"ad"
    "ded\":[],\"cases\":[{\"text\":\"Hello World  x\",\"ids\":[815,328,811,338,621,463,703,421,962],\"ids_with_spec"
    "ial\":[1,815,328,811,338,621,463,703,421,962],\"decoded\":\"H lloWorldx\",\"decoded_raw\":\"<s>H lloWorldx\"}"
    ",{\"text\":\"  leading and trailing  \",\"ids\":[421,421,977,577,488,504,1007,682,488,421,421],\"ids_with_s"
    "pecial\":[1,421,421,977,577,488,504,1007,682,488,421,421],\"decoded\":\"l adingandtrailing\",\"decoded_raw"
    "\":\"<s>l adingandtrailing\"},{\"text\":\"<tool>word abc<l> <r>  x <lr> abcd hello world Qz\",\"ids\":[793,34"
    "3,1138,289,346,463,327,1014,326,287,335,289,793,341,289,421,962,793,335,341,289,1014,326,327,1140,81"
    "1,338,483,463,703,421,308,349],\"ids_with_special\":[1,793,343,1138,289,346,463,327,1014,326,287,335,2"
    "89,793,341,289,421,962,793,335,341,289,1014,326,327,1140,811,338,483,463,703,421,308,349],\"decoded\":"
    "\"<tool>wordabc<l><r>x<lr>abcdh lloworldQz\",\"decoded_raw\":\"<s><tool>wordabc<l><r>x<lr>abcdh lloworldQ"
    "z\"},{\"text\":\"12 345 6789 \\u0663\\u0664\",\"ids\":[598,277,713,279,280,421,281,282,283,284,421,220,166,22"
    "0,167],\"ids_with_special\":[1,598,277,713,279,280,421,281,282,283,284,421,220,166,220,167],\"decoded\":"
    "\"123456789\\u0663\\u0664\",\"decoded_raw\":\"<s>123456789\\u0663\\u0664\"},{\"text\":\"na\\u00efve \\u0130stanbul "
    "\\u03a3\\u0391\\u03a3 \\ufb01 \\u2460\",\"ids\":[498,324,198,178,524,421,199,179,505,482,325,589,421,209,166"
    ",209,148,209,166,421,242,175,132,421,229,148,163],\"ids_with_special\":[1,498,324,198,178,524,421,199,"
    "179,505,482,325,589,421,209,166,209,148,209,166,421,242,175,132,421,229,148,163],\"decoded\":\"na\\u00ef"
    "v \\u0130stanbul\\u03a3\\u0391\\u03a3\\ufb01\\u2460\",\"decoded_raw\":\"<s>na\\u00efv \\u0130stanbul\\u03a3\\u0391"
    "\\u03a3\\ufb01\\u2460\"},{\"text\":\"a\\u0085b\\u00a0c\\u3000d\",\"ids\":[460,197,136,325,197,163,326,230,131,131"
    ",327],\"ids_with_special\":[1,460,197,136,325,197,163,326,230,131,131,327],\"decoded\":\"a\\u0085b\\u00a0c\\"
    "u3000d\",\"decoded_raw\":\"<s>a\\u0085b\\u00a0c\\u3000d\"},{\"text\":\"\\u4f60\\u597d \\ud83d\\udc4d\\ud83c\\udffd ok"
    "\",\"ids\":[421,433,232,168,192,421,458,243,162,146,192,477,334],\"ids_with_special\":[1,421,433,232,168,"
    "192,421,458,243,162,146,192,477,334],\"decoded\":\"\\u4f60\\u597d\\ud83d\\udc4d\\ud83c\\udffdok\",\"decoded_raw"
    "\":\"<s>\\u4f60\\u597d\\ud83d\\udc4d\\ud83c\\udffdok\"},{\"text\":\"it's 'LL don't\",\"ids\":[610,778,1130,303,303,"
    "484,462,1154],\"ids_with_special\":[1,610,778,1130,303,303,484,462,1154],\"decoded\":\"it's'LLdon't\",\"dec"
    "oded_raw\":\"<s>it's'LLdon't\"},{\"text\":\"\\u2581\\u2581x\\tTab\\n\\nNew\",\"ids\":[421,421,962,259,311,525,13,1"
    "3,305,655],\"ids_with_special\":[1,421,421,962,259,311,525,13,13,305,655],\"decoded\":\"x\\tTab\\n\\nN w\",\"d"
    "ecoded_raw\":\"<s>x\\tTab\\n\\nN w\"},{\"text\":\"a word, words; Word.\",\"ids\":[460,483,463,327,271,483,463,32"
    "7,342,286,621,463,327,273],\"ids_with_special\":[1,460,483,463,327,271,483,463,327,342,286,621,463,327"
    ",273],\"decoded\":\"aword,words;Word.\",\"decoded_raw\":\"<s>aword,words;Word.\"}]}]";

static sl_tokenizer *build_variant(json_t *v, char *err, size_t errlen) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/tokenizers/%s/tokenizer.json", json_string_value(json_object_get(v, "base")));
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return NULL;
    const char *k;
    json_t *x;
    json_object_foreach(json_object_get(v, "set"), k, x) json_object_set(root, k, x);
    json_object_update(json_object_get(root, "model"), json_object_get(v, "model"));
    json_array_extend(json_object_get(root, "added_tokens"), json_object_get(v, "added"));
    char *s = json_dumps(root, JSON_COMPACT);
    sl_tokenizer *t = NULL;
    int rc = sl_tokenizer_load_buffer(&t, s, strlen(s), err, errlen);
    free(s);
    json_decref(root);
    return rc ? NULL : t;
}

TEST(components_match_library) {
    json_error_t je;
    json_t *all = json_loads(VARIANTS, 0, &je);
    CHECKF(json_is_array(all), "variants table: %s", je.text);
    size_t i, j;
    json_t *v, *c;
    json_array_foreach(all, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        char err[512] = "";
        sl_tokenizer *t = build_variant(v, err, sizeof err);
        CHECKF(t != NULL, "%s: %s", name, err);
        if (!t) continue;
        json_array_foreach(json_object_get(v, "cases"), j, c) {
            json_t *jt = json_object_get(c, "text");
            int32_t *ids = NULL;
            size_t n = 0;
            for (int sp = 0; sp < 2; sp++) {
                CHECK(sl_tokenizer_encode(t, json_string_value(jt), json_string_length(jt), sp, &ids, &n, err, sizeof err) == 0);
                CHECKF(ids_match(json_object_get(c, sp ? "ids_with_special" : "ids"), ids, n), "%s / \"%s\" %s: got %s",
                       name, json_string_value(jt), sp ? "ids_with_special" : "ids", fmt_ids(ids, n));
                if (sp)
                    for (int skip = 0; skip < 2; skip++) {
                        char *dec = NULL;
                        size_t dl = 0;
                        const char *want = json_string_value(json_object_get(c, skip ? "decoded" : "decoded_raw"));
                        CHECK(sl_tokenizer_decode(t, ids, n, skip, &dec, &dl, NULL, 0) == 0);
                        CHECKF(dec && dl == strlen(want) && memcmp(dec, want, dl) == 0, "%s / \"%s\" decode skip=%d: \"%s\"",
                               name, json_string_value(jt), skip, dec ? dec : "");
                        CHECKF(stream_equals_full(t, ids, n, skip), "%s / \"%s\" stream skip=%d", name, json_string_value(jt), skip);
                        free(dec);
                    }
                free(ids);
            }
        }
        sl_tokenizer_free(t);
    }
    json_decref(all);
}

/* ------------------------------------------------------------------ properties */

static uint64_t rng_state;
static uint32_t rnd(void) { /* xorshift64*: fixed seed, same strings on every run */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Random valid UTF-8 mixing ASCII words, spaces, digits, punctuation, multi-byte letters,
 * emoji, odd whitespace and combining marks. Returns the length written (< cap). */
static size_t random_text(char *out, size_t cap) {
    static const char *const pool[] = {
        "the", "Hello", "world", "a", "I", "'s", "'LL", "don't", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n",
        "0", "42", "12345", "3.14", "-", ".", ",", "!?", "...", "(", ")", "{}", "<", ">", "\"", "#", "@", "_",
        "é", "ü", "ß", "Ñ", "naïve", "İ", "Σ", "ﬁ", "Å", "е", "мир", "你好", "世界", "日本語", "한국어",
        "👍", "🏽", "🚀", "😀", "🇫🇷", "👨‍👩‍👧", "\xC2\x85", "\xC2\xA0", "\xE2\x80\xA8", "\xE3\x80\x80",
        "e\xCC\x81", "\xCC\x88", "\xEF\xBF\xBD", "\xF4\x8F\xBF\xBF", "\xC2\x80", "\x7F", "\x01", "▁", "<s>",
        "<|eot_id|>", "<|endoftext|>", "<0x41>", "ĠĠ", "٣", "①", "²"};
    size_t n = 0, parts = 1 + rnd() % 24;
    for (size_t p = 0; p < parts; p++) {
        const char *s = pool[rnd() % (sizeof pool / sizeof *pool)];
        size_t l = strlen(s);
        if (n + l >= cap) break;
        memcpy(out + n, s, l);
        n += l;
    }
    out[n] = 0;
    return n;
}

TEST(roundtrip_and_streaming_property) {
    rng_state = 0x5EED5EED12345ull;
    for (int k = 0; k < 3; k++) {
        sl_tokenizer *t = load_named(NAMES[k]);
        if (!t) continue;
        int rt_fail = 0, st_fail = 0;
        for (int iter = 0; iter < 3000; iter++) {
            char s[512];
            size_t n = random_text(s, sizeof s);
            int32_t *ids = NULL;
            size_t m = 0;
            if (sl_tokenizer_encode(t, s, n, iter & 1, &ids, &m, NULL, 0) != 0) { rt_fail++; continue; }
            char *dec = NULL;
            size_t dl = 0;
            CHECK(sl_tokenizer_decode(t, ids, m, 1, &dec, &dl, NULL, 0) == 0);
            /* gpt2-bpe normalizes to NFC first, so it round-trips NFC(s); spm-bpe decodes
             * every U+2581 as a space, so it round-trips s with those replaced */
            char *want = k == 1 ? (char *)utf8proc_NFC((const utf8proc_uint8_t *)s) : strdup(s);
            if (k == 2)
                for (char *p; (p = strstr(want, "\xE2\x96\x81"));) {
                    *p = ' ';
                    memmove(p + 1, p + 3, strlen(p + 3) + 1);
                }
            /* special-token text is encoded as the special token, which skip_special drops */
            int has_special = strstr(s, "<s>") || strstr(s, "<|eot_id|>") || strstr(s, "<|endoftext|>");
            if (!has_special && (!dec || dl != strlen(want) || memcmp(dec, want, dl) != 0)) {
                if (rt_fail++ < 3) CHECKF(0, "%s round trip: \"%s\" -> \"%s\"", NAMES[k], s, dec ? dec : "");
            }
            if (!stream_equals_full(t, ids, m, 0) || !stream_equals_full(t, ids, m, 1)) {
                if (st_fail++ < 3) CHECKF(0, "%s stream != full for \"%s\"", NAMES[k], s);
            }
            free(want);
            free(dec);
            free(ids);
        }
        CHECKF(rt_fail == 0 && st_fail == 0, "%s: %d round-trip, %d stream failures", NAMES[k], rt_fail, st_fail);
        sl_tokenizer_free(t);
    }
}

TEST(streaming_random_ids) {
    /* arbitrary id sequences: lone UTF-8 fragments, <0xNN> runs, special tokens */
    rng_state = 0xDEC0DE;
    for (int k = 0; k < 3; k++) {
        sl_tokenizer *t = load_named(NAMES[k]);
        if (!t) continue;
        int32_t vs = sl_tokenizer_vocab_size(t);
        int fails = 0;
        for (int iter = 0; iter < 2000; iter++) {
            int32_t ids[40];
            size_t n = 1 + rnd() % 40;
            for (size_t i = 0; i < n; i++) {
                uint32_t r = rnd() % 10;
                ids[i] = r < 3 ? (int32_t)(rnd() % 4) : r < 6 ? (int32_t)(100 + rnd() % 160) : (int32_t)(rnd() % (uint32_t)vs);
            }
            for (int skip = 0; skip < 2; skip++)
                if (!stream_equals_full(t, ids, n, skip) && fails++ < 3) CHECKF(0, "%s stream skip=%d: %s", NAMES[k], skip, fmt_ids(ids, n));
        }
        CHECKF(fails == 0, "%s: %d stream failures", NAMES[k], fails);
        sl_tokenizer_free(t);
    }
}

TEST(streaming_holds_partial_utf8) {
    sl_tokenizer *t = load_named("llama3-bpe");
    if (!t) return;
    /* "你" is three byte-level tokens: nothing may come out before the third */
    int32_t *ids;
    size_t n;
    CHECK(sl_tokenizer_encode(t, "你", 3, 0, &ids, &n, NULL, 0) == 0 && n == 3);
    sl_detok *d;
    CHECK(sl_detok_init(&d, t, 1) == 0);
    const char *delta;
    size_t dl;
    CHECK(sl_detok_feed(d, ids[0], &delta, &dl) == 0 && dl == 0);
    CHECK(sl_detok_feed(d, ids[1], &delta, &dl) == 0 && dl == 0);
    CHECK(sl_detok_feed(d, ids[2], &delta, &dl) == 0 && dl == 3 && memcmp(delta, "你", 3) == 0);
    /* an unfinished character at the end becomes U+FFFD, as in a full decode */
    CHECK(sl_detok_feed(d, ids[0], &delta, &dl) == 0 && dl == 0);
    CHECK(sl_detok_flush(d, &delta, &dl) == 0 && dl == 3 && memcmp(delta, "\xEF\xBF\xBD", 3) == 0);
    CHECK(sl_detok_feed(d, 5000, &delta, &dl) == SL_ERANGE && dl == 0);
    /* special tokens: skipped with skip_special, else their text */
    CHECK(sl_detok_feed(d, 0, &delta, &dl) == 0 && dl == 0);
    sl_detok_free(d);
    CHECK(sl_detok_init(&d, t, 0) == 0);
    CHECK(sl_detok_feed(d, 2, &delta, &dl) == 0 && dl == strlen("<|eot_id|>"));
    sl_detok_free(d);
    free(ids);
    sl_tokenizer_free(t);
}

/* ------------------------------------------------------------------ hostile input */

TEST(invalid_utf8_is_replaced_like_from_utf8_lossy) {
    /* each maximal invalid subpart becomes one U+FFFD: \xE2\x82 is one, \xFF is one */
    static const char bad[] = "ok \xFF\xFE x\xE2\x82 y\xC3 \xED\xA0\x80 z\xF0\x9F\x98";
    static const char good[] = "ok \xEF\xBF\xBD\xEF\xBF\xBD x\xEF\xBF\xBD y\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD z\xEF\xBF\xBD";
    for (int k = 0; k < 3; k++) {
        sl_tokenizer *t = load_named(NAMES[k]);
        if (!t) continue;
        int32_t *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        CHECK(sl_tokenizer_encode(t, bad, sizeof bad - 1, 1, &a, &na, NULL, 0) == 0);
        CHECK(sl_tokenizer_encode(t, good, sizeof good - 1, 1, &b, &nb, NULL, 0) == 0);
        CHECKF(na == nb && a && b && memcmp(a, b, na * sizeof *a) == 0, "%s: lossy encode differs", NAMES[k]);
        char *dec = NULL;
        size_t dl;
        CHECK(sl_tokenizer_decode(t, a, na, 1, &dec, &dl, NULL, 0) == 0 && utf8_ok(dec, dl));
        if (k < 2) CHECKF(dl == sizeof good - 1 && memcmp(dec, good, dl) == 0, "%s: \"%s\"", NAMES[k], dec);
        free(dec);
        free(a);
        free(b);
        /* NUL bytes are ordinary characters */
        CHECK(sl_tokenizer_encode(t, "a\0b", 3, 0, &a, &na, NULL, 0) == 0 && na >= 2);
        free(a);
        /* NULL with zero length is the empty string; NULL with a length is refused */
        CHECK(sl_tokenizer_encode(t, NULL, 0, 0, &a, &na, NULL, 0) == 0 && na == 0);
        free(a);
        CHECK(sl_tokenizer_encode(t, NULL, 5, 0, &a, &na, NULL, 0) == SL_EINVAL);
        sl_tokenizer_free(t);
    }
}

TEST(decode_rejects_unknown_ids) {
    sl_tokenizer *t = load_named("gpt2-bpe");
    if (!t) return;
    char err[256] = "", *s = NULL;
    size_t n = 7;
    int32_t bad[3] = {42, 800, 43};
    CHECK(sl_tokenizer_decode(t, bad, 3, 0, &s, &n, err, sizeof err) == SL_ERANGE && s == NULL);
    CHECKF(strstr(err, "800") != NULL, "err: %s", err);
    int32_t neg = -1;
    CHECK(sl_tokenizer_decode(t, &neg, 1, 0, &s, &n, NULL, 0) == SL_ERANGE);
    CHECK(sl_tokenizer_decode(t, NULL, 0, 0, &s, &n, NULL, 0) == 0 && s && n == 0 && s[0] == 0);
    free(s);
    sl_tokenizer_free(t);
}

static char *repeat(const char *unit, size_t total) {
    size_t ul = strlen(unit);
    char *s = malloc(total + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < total; i++) s[i] = unit[i % ul];
    s[total] = 0;
    return s;
}

static int encode_roundtrip(const sl_tokenizer *t, const char *s, size_t n, double *secs) {
    int32_t *ids = NULL;
    size_t m = 0;
    char *dec = NULL, err[256] = "";
    size_t dl = 0;
    double t0 = now_s();
    int rc = sl_tokenizer_encode(t, s, n, 0, &ids, &m, err, sizeof err);
    if (secs) *secs = now_s() - t0;
    CHECKF(rc == 0, "encode of %zu bytes: %d %s", n, rc, err);
    if (rc) return 0;
    rc = sl_tokenizer_decode(t, ids, m, 0, &dec, &dl, NULL, 0);
    int ok = rc == 0 && dl == n && memcmp(dec, s, n) == 0;
    free(dec);
    free(ids);
    return ok;
}

TEST(ten_megabytes) {
    const size_t MB10 = 10u << 20;
    sl_tokenizer *l = load_named("llama3-bpe"), *s = load_named("spm-bpe");
    if (!l || !s) goto out;
    /* mixed text */
    char *txt = malloc(MB10 + 600);
    size_t n = 0;
    rng_state = 77;
    while (n < MB10) {
        char w[512];
        size_t k = random_text(w, sizeof w);
        if (strstr(w, "<|eot_id|>") || strstr(w, "<s>")) continue;
        memcpy(txt + n, w, k);
        n += k;
    }
    CHECK(encode_roundtrip(l, txt, n, NULL));
    free(txt);
    /* one 10 MB run without spaces: a single pre-token for the BPE merge loop */
    char *run = repeat("abcdefghij", MB10);
    CHECK(encode_roundtrip(l, run, MB10, NULL));
    CHECK(encode_roundtrip(s, run, MB10, NULL));
    free(run);
    char *sp = repeat(" ", MB10); /* regexes that backtrack over whitespace runs */
    CHECK(encode_roundtrip(l, sp, MB10 / 4, NULL));
    free(sp);
out:
    sl_tokenizer_free(l);
    sl_tokenizer_free(s);
}

TEST(bpe_is_not_quadratic) {
    /* one word of n chars with many merges: 4x the length must cost far less than 16x */
    sl_tokenizer *t = load_named("gpt2-bpe");
    if (!t) return;
    char *s = repeat("inthe", 4u << 20);
    double a = 0, b = 0, best = 1e9;
    for (int attempt = 0; attempt < 3 && best > 10.0; attempt++) {
        CHECK(encode_roundtrip(t, s, 1u << 20, &a));
        CHECK(encode_roundtrip(t, s, 4u << 20, &b));
        if (a > 0 && b / a < best) best = b / a;
    }
    CHECKF(best < 10.0, "1 MiB run %.3fs, 4 MiB run %.3fs: ratio %.1f", a, b, best);
    free(s);
    sl_tokenizer_free(t);
}

struct broken_case {
    const char *file;
    int rc;
    const char *needle; /* must appear in the error text */
};

TEST(broken_tokenizer_files) {
    static const struct broken_case cases[] = {
        {"missing_vocab.json", SL_EFORMAT, "vocab"},
        {"vocab_not_object.json", SL_EFORMAT, "vocab"},
        {"missing_model.json", SL_EFORMAT, "model"},
        {"merge_unknown_token.json", SL_EFORMAT, "unknown token \"zz\""},
        {"merge_result_not_in_vocab.json", SL_EFORMAT, "\"ba\" is not in the vocabulary"},
        {"merge_bad_shape.json", SL_EFORMAT, "merge 1"},
        {"merge_not_pair.json", SL_EFORMAT, "merge 1"},
        {"bad_regex.json", SL_EFORMAT, "pre_tokenizer Split: bad regex"},
        {"bad_regex_property.json", SL_EFORMAT, "normalizer Replace: bad regex"},
        {"unsupported_model.json", SL_ENOTSUP, "Unigram"},
        {"unsupported_normalizer.json", SL_ENOTSUP, "Precompiled"},
        {"unsupported_pre_tokenizer.json", SL_ENOTSUP, "BertPreTokenizer"},
        {"unsupported_decoder.json", SL_ENOTSUP, "WordPiece"},
        {"unsupported_post_processor.json", SL_ENOTSUP, "PairwiseMagic"},
        {"unsupported_split_behavior.json", SL_ENOTSUP, "Sideways"},
        {"dropout.json", SL_ENOTSUP, "dropout"},
        {"bad_vocab_id.json", SL_EFORMAT, "\"b\""},
        {"vocab_id_not_integer.json", SL_EFORMAT, "\"b\""},
        {"sparse_vocab.json", SL_EFORMAT, "sparse"},
        {"bad_template.json", SL_EFORMAT, "<bos>"},
        {"bad_metaspace.json", SL_EFORMAT, "replacement"},
        {"added_token_no_id.json", SL_EFORMAT, "added_tokens[1]"},
        {"added_token_far_id.json", SL_EFORMAT, "added_tokens[1]: id 1500000000"},
        {"template_id_out_of_vocab.json", SL_EFORMAT, "special id 77"},
        {"component_without_type.json", SL_EFORMAT, "decoder"},
        {"deep_nesting.json", SL_EFORMAT, "nested"},
        {"truncated.json", SL_EFORMAT, "tokenizer.json"},
        {"not_json.json", SL_EFORMAT, "tokenizer.json"},
        {"empty.json", SL_EFORMAT, "tokenizer.json"},
        {"array_root.json", SL_EFORMAT, "object"},
        {"duplicate_keys.json", SL_EFORMAT, "duplicate"},
        {"invalid_utf8.json", SL_EFORMAT, "decode byte 0xc3"},
        {"no_such_file.json", SL_ENOENT, "no_such_file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[256], err[512] = "";
        snprintf(path, sizeof path, "tests/fixtures/tokenizers/broken/%s", cases[i].file);
        sl_tokenizer *t = (sl_tokenizer *)1;
        int rc = sl_tokenizer_load(&t, path, err, sizeof err);
        CHECKF(rc == cases[i].rc && t == NULL, "%s: rc %d (want %d): %s", cases[i].file, rc, cases[i].rc, err);
        CHECKF(strstr(err, cases[i].needle) != NULL, "%s: error \"%s\" lacks \"%s\"", cases[i].file, err, cases[i].needle);
    }
    /* the valid minimal file loads; the one whose unk_token is missing fails only when needed */
    sl_tokenizer *t = NULL;
    char err[256] = "";
    CHECK(sl_tokenizer_load(&t, "tests/fixtures/tokenizers/broken/valid_minimal.json", err, sizeof err) == 0);
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(t && sl_tokenizer_encode(t, "abab<s>", 7, 0, &ids, &n, NULL, 0) == 0 && n == 3 && ids[0] == 2 && ids[2] == 3);
    free(ids);
    sl_tokenizer_free(t);
    CHECK(sl_tokenizer_load(&t, "tests/fixtures/tokenizers/broken/unk_not_in_vocab.json", err, sizeof err) == 0);
    CHECK(t && sl_tokenizer_encode(t, "ab", 2, 0, &ids, &n, NULL, 0) == 0 && n == 1);
    free(ids);
    CHECK(t && sl_tokenizer_encode(t, "abc", 3, 0, &ids, &n, err, sizeof err) == SL_EFORMAT && strstr(err, "<unk>"));
    sl_tokenizer_free(t);
    /* a pattern with catastrophic backtracking stops at PCRE2's match limit: an error, fast */
    CHECK(sl_tokenizer_load(&t, "tests/fixtures/tokenizers/broken/catastrophic_regex.json", err, sizeof err) == 0);
    char evil[80];
    memset(evil, 'a', 70);
    evil[70] = '!';
    double t0 = now_s();
    CHECK(t && sl_tokenizer_encode(t, evil, 71, 0, &ids, &n, err, sizeof err) == SL_ETOOBIG && strstr(err, "regex"));
    CHECKF(now_s() - t0 < 10.0, "catastrophic regex took %.1fs", now_s() - t0);
    sl_tokenizer_free(t);
    /* load_buffer takes arbitrary bytes */
    CHECK(sl_tokenizer_load_buffer(&t, "{\"model\":", 9, err, sizeof err) == SL_EFORMAT && t == NULL);
    CHECK(sl_tokenizer_load_buffer(&t, "\0\0\0", 3, err, sizeof err) == SL_EFORMAT && t == NULL);
}

/* ------------------------------------------------------------------ threads */

struct thread_arg {
    const sl_tokenizer *t;
    int ok;
};

static void *encode_worker(void *p) {
    struct thread_arg *a = p;
    char s[512];
    uint64_t st = (uint64_t)(uintptr_t)p | 1;
    a->ok = 1;
    for (int i = 0; i < 300; i++) {
        size_t n = 0;
        for (; n < 200; n++) { /* thread-local generator: rnd() is not thread-safe */
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            s[n] = " abcdefghijklmnopqrstuvwxyz0123456789.,\n"[st % 40];
        }
        int32_t *ids;
        size_t m;
        char *dec;
        size_t dl;
        if (sl_tokenizer_encode(a->t, s, n, 0, &ids, &m, NULL, 0) != 0) { a->ok = 0; break; }
        if (sl_tokenizer_decode(a->t, ids, m, 0, &dec, &dl, NULL, 0) != 0 || dl != n || memcmp(dec, s, n)) a->ok = 0;
        free(dec);
        free(ids);
    }
    return NULL;
}

TEST(concurrent_use) {
    sl_tokenizer *t = load_named("llama3-bpe");
    if (!t) return;
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){t, 0};
        pthread_create(&th[i], NULL, encode_worker, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].ok);
    }
    sl_tokenizer_free(t);
}

int main(void) {
    RUN(fixture_cases_all_three);
    RUN(model_directories_tokenizers);
    RUN(lookups_and_bos);
    RUN(components_match_library);
    RUN(roundtrip_and_streaming_property);
    RUN(streaming_random_ids);
    RUN(streaming_holds_partial_utf8);
    RUN(invalid_utf8_is_replaced_like_from_utf8_lossy);
    RUN(decode_rejects_unknown_ids);
    RUN(broken_tokenizer_files);
    RUN(concurrent_use);
    RUN(bpe_is_not_quadratic);
    RUN(ten_megabytes);
    return check_summary();
}
