/* test_safetensors.c — every check the loader promises, on hand-made hostile files. */
#include "check.h"

#include "error.h"
#include "safetensors.h"

#include <math.h>
#include <stdint.h>

/* Builds header length + HEADER + DATA_LEN bytes of data into buf; returns the total length. */
static size_t build(unsigned char *buf, const char *header, size_t data_len) {
    uint64_t n = strlen(header);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, n);
    memset(buf + 8 + n, 0, data_len);
    return 8 + n + data_len;
}

static int parse(const char *header, size_t data_len, char *err, size_t errlen) {
    static unsigned char buf[1 << 16];
    size_t len = build(buf, header, data_len);
    sl_safetensors *st = NULL;
    int rc = sl_safetensors_parse(&st, buf, len, "t.safetensors", err, errlen);
    sl_safetensors_free(st);
    return rc;
}

TEST(valid_file_and_lookup) {
    static unsigned char buf[4096];
    const char *h = "{\"__metadata__\": {\"format\": \"pt\"}, \"b\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [8, 12]},"
                    " \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"e\": {\"dtype\": \"F16\", \"shape\": [0, 3], \"data_offsets\": [12, 12]}}";
    size_t len = build(buf, h, 12);
    float one = 1.5f, two = -2.0f;
    unsigned char *data = buf + 8 + strlen(h);
    memcpy(data, &one, 4);
    memcpy(data + 4, &two, 4);
    uint16_t b0 = sl_f32_to_bf16(3.0f), b1 = sl_f32_to_bf16(-0.5f);
    memcpy(data + 8, &b0, 2);
    memcpy(data + 10, &b1, 2);
    sl_safetensors *st = NULL;
    char err[256] = "";
    CHECKF(sl_safetensors_parse(&st, buf, len, "t", err, sizeof err) == 0, "%s", err);
    if (!st) return;
    CHECK(sl_safetensors_count(st) == 3);
    const sl_tensor *a = sl_safetensors_find(st, "a"), *b = sl_safetensors_find(st, "b");
    CHECK(a && b && !sl_safetensors_find(st, "c") && !sl_safetensors_find(st, "__metadata__"));
    float out[2];
    CHECK(a && sl_tensor_to_f32(a, out, 2) == 0 && out[0] == 1.5f && out[1] == -2.0f);
    CHECK(b && sl_tensor_to_f32(b, out, 2) == 0 && out[0] == 3.0f && out[1] == -0.5f);
    CHECK(b && sl_tensor_to_f32(b, out, 3) == SL_ERANGE);
    CHECK(sl_safetensors_find(st, "e") && sl_safetensors_find(st, "e")->nelem == 0);
    sl_safetensors_free(st);
}

TEST(hostile_headers_are_rejected_with_a_reason) {
    struct { const char *header; size_t data; const char *want; } cases[] = {
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 16, "JSON"},
        {"{\"a\": {\"dtype\": \"F33\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "dtype"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8, "shape[0]"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", 8, "shape[0]"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296], \"data_offsets\": [0, 8]}}", 8, "overflow"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8, "needs 12"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12, "overlap"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12, "gap"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 9, "after the last"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4, "past the end"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8, "begin <= end"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8, "data_offsets"},
        {"[1, 2, 3]", 0, "not a JSON object"},
        {"{\"a\": 5}", 0, "not an object"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}", 8, "JSON"},
        {"{\"\xff\xfe\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "JSON"},
        {"{\"__metadata__\": 3}", 0, "__metadata__"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4, "at most"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        int rc = parse(cases[i].header, cases[i].data, err, sizeof err);
        CHECKF(rc == SL_EFORMAT && strstr(err, cases[i].want) && strstr(err, "t.safetensors"),
               "case %zu: rc %d err '%s' (want '%s')", i, rc, err, cases[i].want);
    }
}

TEST(header_length_bounds) {
    unsigned char buf[64] = {0};
    sl_safetensors *st = NULL;
    char err[256] = "";
    CHECK(sl_safetensors_parse(&st, buf, 7, "t", err, sizeof err) == SL_EFORMAT && strstr(err, "too short"));
    uint64_t huge = (uint64_t)1 << 40;
    memcpy(buf, &huge, 8);
    CHECK(sl_safetensors_parse(&st, buf, 64, "t", err, sizeof err) == SL_EFORMAT && strstr(err, "100 MiB"));
    uint64_t past = 100;
    memcpy(buf, &past, 8);
    CHECK(sl_safetensors_parse(&st, buf, 64, "t", err, sizeof err) == SL_EFORMAT && strstr(err, "past the end"));
    CHECK(sl_safetensors_open(&st, "tests/fixtures/nope.safetensors", err, sizeof err) == SL_ENOENT && strstr(err, "nope"));
    CHECK(st == NULL);
}

TEST(half_precision_conversions) {
    CHECK(sl_f16_to_f32(0x3c00) == 1.0f);
    CHECK(sl_f16_to_f32(0xc000) == -2.0f);
    CHECK(sl_f16_to_f32(0x0001) == 5.9604644775390625e-08f); /* smallest subnormal */
    CHECK(sl_f16_to_f32(0x7c00) == INFINITY);
    CHECK(sl_f16_to_f32(0x7e00) != sl_f16_to_f32(0x7e00)); /* NaN */
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite positive half round-trips */
        if (sl_f32_to_f16(sl_f16_to_f32((uint16_t)h)) != h) { CHECKF(0, "f16 0x%04x", h); break; }
    CHECK(sl_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(sl_f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80); /* ties to even */
    CHECK(sl_f32_to_bf16(1.0f + 3.0f / 256) == 0x3f82);
}

TEST(fixture_checkpoints_open) {
    const char *dirs[] = {"tests/fixtures/models/llama-tiny", "tests/fixtures/models/llama-tiny-bf16", "tests/fixtures/models/qwen2-tiny"};
    for (size_t i = 0; i < 3; i++) {
        sl_st_set *set = NULL;
        char err[256] = "";
        CHECKF(sl_st_set_open_dir(&set, dirs[i], err, sizeof err) == 0, "%s", err);
        CHECK(set && sl_st_set_find(set, "model.embed_tokens.weight") != NULL);
        sl_st_set_free(set);
    }
}

int main(void) {
    RUN(valid_file_and_lookup);
    RUN(hostile_headers_are_rejected_with_a_reason);
    RUN(header_length_bounds);
    RUN(half_precision_conversions);
    RUN(fixture_checkpoints_open);
    return check_summary();
}
