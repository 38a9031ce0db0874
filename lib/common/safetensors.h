/* safetensors.h — a hostile-input-safe reader of the safetensors format.
 *
 * Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the data block. The reader checks: N bounded, JSON object without duplicate keys,
 * known dtypes, non-negative integer shapes, shape x dtype size computed without overflow
 * and equal to the byte span, spans contiguous from 0 without gaps or overlaps, and nothing
 * after the last one. Files are mmapped read-only; tensor data pointers point into the map
 * and may be unaligned (use sl_tensor_to_f32 to read them). */
#ifndef SL_SAFETENSORS_H
#define SL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SL_ST_MAX_HEADER (100u << 20) /* the format's own limit: 100 MiB of JSON */
#define SL_ST_MAX_DIMS 8

typedef enum sl_dtype {
    SL_DTYPE_F32, SL_DTYPE_F16, SL_DTYPE_BF16, SL_DTYPE_F64,
    SL_DTYPE_I64, SL_DTYPE_I32, SL_DTYPE_I16, SL_DTYPE_I8,
    SL_DTYPE_U64, SL_DTYPE_U32, SL_DTYPE_U16, SL_DTYPE_U8,
    SL_DTYPE_BOOL, SL_DTYPE_F8_E4M3, SL_DTYPE_F8_E5M2,
    SL_DTYPE_COUNT
} sl_dtype;

typedef struct sl_tensor {
    const char *name;              /* owned by the container */
    sl_dtype dtype;
    int ndim;
    int64_t shape[SL_ST_MAX_DIMS];
    int64_t nelem;                 /* product of shape (1 for a scalar) */
    const void *data;              /* into the map or buffer; maybe unaligned */
    size_t nbytes;
} sl_tensor;

typedef struct sl_safetensors sl_safetensors;

/* Opens and validates PATH (mmap, read-only). Error text names the file. */
int sl_safetensors_open(sl_safetensors **out, const char *path, char *err, size_t errlen);
/* Validates an in-memory file. BUF is not copied: it must outlive the result.
 * LABEL names the input in error messages. */
int sl_safetensors_parse(sl_safetensors **out, const void *buf, size_t len, const char *label,
                         char *err, size_t errlen);
void sl_safetensors_free(sl_safetensors *st);

size_t sl_safetensors_count(const sl_safetensors *st);
const sl_tensor *sl_safetensors_at(const sl_safetensors *st, size_t i); /* sorted by offset */
const sl_tensor *sl_safetensors_find(const sl_safetensors *st, const char *name);

/* A model's weights: one model.safetensors, or shards listed by
 * model.safetensors.index.json ("weight_map": {tensor: file}). */
typedef struct sl_st_set sl_st_set;
int sl_st_set_open_dir(sl_st_set **out, const char *dir, char *err, size_t errlen);
void sl_st_set_free(sl_st_set *set);
const sl_tensor *sl_st_set_find(const sl_st_set *set, const char *name);
size_t sl_st_set_total_bytes(const sl_st_set *set);
size_t sl_st_set_count(const sl_st_set *set);

const char *sl_dtype_name(sl_dtype dt);
size_t sl_dtype_size(sl_dtype dt);
/* Converts N elements of an F32/F16/BF16 tensor (from element 0) to float.
 * Returns SL_ENOTSUP for other dtypes, SL_ERANGE if n > t->nelem. */
int sl_tensor_to_f32(const sl_tensor *t, float *dst, size_t n);
float sl_f16_to_f32(uint16_t h);
float sl_bf16_to_f32(uint16_t b);
uint16_t sl_f32_to_bf16(float f); /* round to nearest even */
uint16_t sl_f32_to_f16(float f);  /* round to nearest even */

#endif
