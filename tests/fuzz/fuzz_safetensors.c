/* fuzz_safetensors.c — sl_safetensors_parse on arbitrary bytes.
 *
 * Beyond "no crash, no leak, no UB", a successful parse must keep the promises of
 * safetensors.h: every tensor's span lies inside the input and after the header, spans are
 * contiguous from the start of the data block and cover it exactly, nbytes = nelem x dtype
 * size, lookups by name find each tensor, and conversion to F32 stays in bounds. */
#include "fuzz_common.h"

#include "error.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    err[0] = 'x';
    sl_safetensors *st = NULL;
    int rc = sl_safetensors_parse(&st, data, size, "fuzz.safetensors", err, sizeof err);
    fuzz_note(rc, err);
    if (rc != 0) {
        FUZZ_CHECK(rc < 0 && st == NULL);
        FUZZ_CHECK_ERR(err, sizeof err);
        FUZZ_CHECK(err[0] != 0);
        return 0;
    }
    FUZZ_CHECK(st != NULL && size >= 8);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | data[i];
    FUZZ_CHECK(hlen <= SL_ST_MAX_HEADER && hlen <= size - 8);
    const uint8_t *block = data + 8 + hlen, *end = data + size;

    size_t n = sl_safetensors_count(st), pos = 0;
    for (size_t i = 0; i < n; i++) {
        const sl_tensor *t = sl_safetensors_at(st, i);
        FUZZ_CHECK(t != NULL && t->name != NULL && t->name[0] != 0);
        FUZZ_CHECK((unsigned)t->dtype < SL_DTYPE_COUNT && sl_dtype_size(t->dtype) > 0);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= SL_ST_MAX_DIMS);
        int64_t ne = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0);
            ne *= t->shape[d]; /* cannot overflow: the parser bounded the product */
        }
        FUZZ_CHECK(ne == t->nelem);
        FUZZ_CHECK((uint64_t)t->nelem * sl_dtype_size(t->dtype) == t->nbytes);
        const uint8_t *p = t->data;
        FUZZ_CHECK(p >= block && p <= end && t->nbytes <= (size_t)(end - p));
        FUZZ_CHECK((size_t)(p - block) == pos); /* sorted by offset, contiguous */
        pos += t->nbytes;
        fuzz_touch(p, t->nbytes);
        FUZZ_CHECK(sl_safetensors_find(st, t->name) == t);
        if (t->dtype == SL_DTYPE_F32 || t->dtype == SL_DTYPE_F16 || t->dtype == SL_DTYPE_BF16) {
            size_t k = (size_t)t->nelem;
            float *f = malloc((k ? k : 1) * sizeof *f);
            FUZZ_CHECK(f != NULL);
            FUZZ_CHECK(sl_tensor_to_f32(t, f, k) == 0);
            FUZZ_CHECK(sl_tensor_to_f32(t, f, k + 1) == SL_ERANGE);
            free(f);
        } else {
            float f;
            FUZZ_CHECK(sl_tensor_to_f32(t, &f, 0) == SL_ENOTSUP);
        }
    }
    FUZZ_CHECK(block + pos == end); /* nothing after the last span */
    FUZZ_CHECK(sl_safetensors_at(st, n) == NULL);
    FUZZ_CHECK(sl_safetensors_find(st, "") == NULL);
    sl_safetensors_free(st);
    return 0;
}
