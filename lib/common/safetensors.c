/* safetensors.c — see safetensors.h for the checks made. */
#include "safetensors.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct sl_safetensors {
    sl_tensor *tensors; /* sorted by data offset */
    size_t count;
    size_t *by_name;    /* indices into tensors, sorted by name (binary search) */
    char *names;        /* one block holding every name */
    void *map;          /* mmap base, or NULL when parsed from a caller's buffer */
    size_t map_len;
};

static const struct {
    const char *name;
    size_t size;
} dtype_info[SL_DTYPE_COUNT] = {
    [SL_DTYPE_F32] = {"F32", 4},   [SL_DTYPE_F16] = {"F16", 2},     [SL_DTYPE_BF16] = {"BF16", 2},
    [SL_DTYPE_F64] = {"F64", 8},   [SL_DTYPE_I64] = {"I64", 8},     [SL_DTYPE_I32] = {"I32", 4},
    [SL_DTYPE_I16] = {"I16", 2},   [SL_DTYPE_I8] = {"I8", 1},       [SL_DTYPE_U64] = {"U64", 8},
    [SL_DTYPE_U32] = {"U32", 4},   [SL_DTYPE_U16] = {"U16", 2},     [SL_DTYPE_U8] = {"U8", 1},
    [SL_DTYPE_BOOL] = {"BOOL", 1}, [SL_DTYPE_F8_E4M3] = {"F8_E4M3", 1},
    [SL_DTYPE_F8_E5M2] = {"F8_E5M2", 1},
};

const char *sl_dtype_name(sl_dtype dt) {
    return (unsigned)dt < SL_DTYPE_COUNT ? dtype_info[dt].name : "?";
}
size_t sl_dtype_size(sl_dtype dt) { return (unsigned)dt < SL_DTYPE_COUNT ? dtype_info[dt].size : 0; }

static int dtype_parse(const char *s, sl_dtype *out) {
    for (int i = 0; i < SL_DTYPE_COUNT; i++)
        if (strcmp(s, dtype_info[i].name) == 0) { *out = (sl_dtype)i; return 0; }
    return -1;
}

/* ---- number conversions ---- */

float sl_bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float sl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t sl_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

uint16_t sl_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;
    uint32_t man = u & 0x7fffffu;
    if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = 1u << (shift - 1), rem = man & ((1u << shift) - 1), v = man >> shift;
        if (rem > half || (rem == half && (v & 1u))) v++;
        return (uint16_t)(sign | v);
    }
    uint32_t v = ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) v++; /* may carry into inf: correct */
    return (uint16_t)(sign | v);
}

int sl_tensor_to_f32(const sl_tensor *t, float *dst, size_t n) {
    if ((int64_t)n > t->nelem) return SL_ERANGE;
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case SL_DTYPE_F32: memcpy(dst, p, n * 4); return 0;
    case SL_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = sl_bf16_to_f32(h);
        }
        return 0;
    case SL_DTYPE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = sl_f16_to_f32(h);
        }
        return 0;
    default: return SL_ENOTSUP;
    }
}

/* ---- header parsing ---- */

static int cmp_offset(const void *a, const void *b) {
    const sl_tensor *x = a, *y = b;
    uintptr_t xa = (uintptr_t)x->data, ya = (uintptr_t)y->data;
    return xa < ya ? -1 : xa > ya ? 1 : (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static int cmp_name_idx(const void *a, const void *b, void *ctx) { /* for qsort_r: thread-safe */
    const sl_tensor *t = ctx;
    return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

/* Reads a JSON integer >= 0 that fits in int64. */
static int json_nonneg(const json_t *v, int64_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < 0) return -1;
    *out = (int64_t)x;
    return 0;
}

int sl_safetensors_parse(sl_safetensors **out, const void *buf, size_t len, const char *label,
                         char *err, size_t errlen) {
    *out = NULL;
    const unsigned char *base = buf;
    if (len < 8) return sl__errf(err, errlen, SL_EFORMAT, "%s: file too short (%zu bytes) for a safetensors header", label, len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | base[i];
    if (n > SL_ST_MAX_HEADER)
        return sl__errf(err, errlen, SL_EFORMAT, "%s: header length %llu exceeds the 100 MiB limit", label, (unsigned long long)n);
    if (n > len - 8)
        return sl__errf(err, errlen, SL_EFORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", label, (unsigned long long)n, len);
    if (n < 2) return sl__errf(err, errlen, SL_EFORMAT, "%s: header too short", label);
    const unsigned char *data = base + 8 + n;
    size_t data_len = len - 8 - (size_t)n;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)base + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return sl__errf(err, errlen, SL_EFORMAT, "%s: header is not valid JSON: %s (at byte %d)", label, jerr.text, jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return sl__errf(err, errlen, SL_EFORMAT, "%s: header is not a JSON object", label);
    }

    int rc = SL_ENOMEM;
    sl_safetensors *st = calloc(1, sizeof *st);
    size_t cap = json_object_size(root), names_len = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) names_len += strlen(key) + 1;
    if (!st) goto fail;
    st->tensors = calloc(cap ? cap : 1, sizeof *st->tensors);
    st->by_name = calloc(cap ? cap : 1, sizeof *st->by_name);
    st->names = malloc(names_len ? names_len : 1);
    if (!st->tensors || !st->by_name || !st->names) goto fail;

    rc = SL_EFORMAT;
    char *np = st->names;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) { sl__errf(err, errlen, rc, "%s: __metadata__ is not an object", label); goto fail; }
            continue;
        }
        if (key[0] == 0) {
            sl__errf(err, errlen, rc, "%s: empty tensor name", label);
            goto fail;
        }
        if (!json_is_object(val)) { sl__errf(err, errlen, rc, "%s: tensor '%s': entry is not an object", label, key); goto fail; }
        sl_tensor *t = &st->tensors[st->count];
        json_t *jd = json_object_get(val, "dtype"), *js = json_object_get(val, "shape"),
               *jo = json_object_get(val, "data_offsets");
        if (!json_is_string(jd) || dtype_parse(json_string_value(jd), &t->dtype)) {
            sl__errf(err, errlen, rc, "%s: tensor '%s': missing or unknown dtype", label, key);
            goto fail;
        }
        if (!json_is_array(js) || json_array_size(js) > SL_ST_MAX_DIMS) {
            sl__errf(err, errlen, rc, "%s: tensor '%s': shape must be an array of at most %d integers", label, key, SL_ST_MAX_DIMS);
            goto fail;
        }
        t->ndim = (int)json_array_size(js);
        uint64_t nelem = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (json_nonneg(json_array_get(js, (size_t)d), &t->shape[d])) {
                sl__errf(err, errlen, rc, "%s: tensor '%s': shape[%d] is not a non-negative integer", label, key, d);
                goto fail;
            }
            if (t->shape[d] && nelem > (uint64_t)INT64_MAX / (uint64_t)t->shape[d]) {
                sl__errf(err, errlen, rc, "%s: tensor '%s': shape overflows", label, key);
                goto fail;
            }
            nelem *= (uint64_t)t->shape[d];
        }
        uint64_t esz = sl_dtype_size(t->dtype);
        if (nelem > UINT64_MAX / esz || nelem * esz > SIZE_MAX) {
            sl__errf(err, errlen, rc, "%s: tensor '%s': byte size overflows", label, key);
            goto fail;
        }
        int64_t b0, b1;
        if (!json_is_array(jo) || json_array_size(jo) != 2 || json_nonneg(json_array_get(jo, 0), &b0) ||
            json_nonneg(json_array_get(jo, 1), &b1) || b1 < b0) {
            sl__errf(err, errlen, rc, "%s: tensor '%s': data_offsets must be [begin, end] with 0 <= begin <= end", label, key);
            goto fail;
        }
        if ((uint64_t)b1 > data_len) {
            sl__errf(err, errlen, rc, "%s: tensor '%s': data_offsets [%lld, %lld] run past the end of the data (%zu bytes)",
                     label, key, (long long)b0, (long long)b1, data_len);
            goto fail;
        }
        if ((uint64_t)(b1 - b0) != nelem * esz) {
            sl__errf(err, errlen, rc, "%s: tensor '%s': span of %lld bytes but shape x %s needs %llu", label, key,
                     (long long)(b1 - b0), sl_dtype_name(t->dtype), (unsigned long long)(nelem * esz));
            goto fail;
        }
        t->nelem = (int64_t)nelem;
        t->data = data + b0;
        t->nbytes = (size_t)(b1 - b0);
        size_t kl = strlen(key) + 1;
        memcpy(np, key, kl);
        t->name = np;
        np += kl;
        st->count++;
    }
    /* Spans: contiguous from 0, no gaps, no overlaps, nothing after the last. */
    qsort(st->tensors, st->count, sizeof *st->tensors, cmp_offset);
    size_t pos = 0;
    for (size_t i = 0; i < st->count; i++) {
        size_t off = (size_t)((const unsigned char *)st->tensors[i].data - data);
        if (off != pos) {
            sl__errf(err, errlen, rc, "%s: tensor '%s' starts at byte %zu but the previous span ends at %zu (%s)", label,
                     st->tensors[i].name, off, pos, off < pos ? "overlap" : "gap");
            goto fail;
        }
        pos = off + st->tensors[i].nbytes;
    }
    if (pos != data_len) {
        sl__errf(err, errlen, rc, "%s: %zu bytes after the last tensor (the data block is %zu bytes, tensors cover %zu)", label,
                 data_len - pos, data_len, pos);
        goto fail;
    }
    for (size_t i = 0; i < st->count; i++) st->by_name[i] = i;
    qsort_r(st->by_name, st->count, sizeof *st->by_name, cmp_name_idx, st->tensors);
    json_decref(root);
    *out = st;
    return 0;
fail:
    if (rc == SL_ENOMEM) sl__errf(err, errlen, rc, "%s: out of memory reading the header", label);
    json_decref(root);
    sl_safetensors_free(st);
    return rc;
}

int sl_safetensors_open(sl_safetensors **out, const char *path, char *err, size_t errlen) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sl__errf(err, errlen, errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sl__errf(err, errlen, SL_EIO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return sl__errf(err, errlen, SL_EIO, "%s: mmap: %s", path, strerror(e));
        }
    }
    close(fd);
    static const unsigned char empty[1];
    int rc = sl_safetensors_parse(out, map ? map : empty, len, path, err, errlen);
    if (rc) {
        if (map) munmap(map, len);
        return rc;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return 0;
}

void sl_safetensors_free(sl_safetensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->map_len);
    free(st->tensors);
    free(st->by_name);
    free(st->names);
    free(st);
}

size_t sl_safetensors_count(const sl_safetensors *st) { return st->count; }
const sl_tensor *sl_safetensors_at(const sl_safetensors *st, size_t i) { return i < st->count ? &st->tensors[i] : NULL; }

const sl_tensor *sl_safetensors_find(const sl_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const sl_tensor *t = &st->tensors[st->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return NULL;
}

/* ---- sets of shards ---- */

struct sl_st_set {
    sl_safetensors **files;
    size_t n;
};

void sl_st_set_free(sl_st_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) sl_safetensors_free(set->files[i]);
    free(set->files);
    free(set);
}

const sl_tensor *sl_st_set_find(const sl_st_set *set, const char *name) {
    for (size_t i = 0; i < set->n; i++) {
        const sl_tensor *t = sl_safetensors_find(set->files[i], name);
        if (t) return t;
    }
    return NULL;
}

size_t sl_st_set_total_bytes(const sl_st_set *set) {
    size_t b = 0;
    for (size_t i = 0; i < set->n; i++)
        for (size_t j = 0; j < set->files[i]->count; j++) b += set->files[i]->tensors[j].nbytes;
    return b;
}

size_t sl_st_set_count(const sl_st_set *set) {
    size_t c = 0;
    for (size_t i = 0; i < set->n; i++) c += set->files[i]->count;
    return c;
}

/* A shard name from the index must be a plain file name in DIR: no path tricks. */
static int shard_name_ok(const char *s) {
    return s[0] && s[0] != '.' && !strchr(s, '/') && strlen(s) < 256;
}

int sl_st_set_open_dir(sl_st_set **out, const char *dir, char *err, size_t errlen) {
    *out = NULL;
    char path[4096];
    sl_st_set *set = calloc(1, sizeof *set);
    if (!set) return SL_ENOMEM;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (access(path, F_OK) != 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        set->files = calloc(1, sizeof *set->files);
        if (!set->files) { free(set); return SL_ENOMEM; }
        int rc = sl_safetensors_open(&set->files[0], path, err, errlen);
        if (rc) { sl_st_set_free(set); return rc; }
        set->n = 1;
        *out = set;
        return 0;
    }
    json_error_t jerr;
    json_t *idx = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    int rc = SL_EFORMAT;
    if (!idx) { sl__errf(err, errlen, rc, "%s: %s (line %d)", path, jerr.text, jerr.line); goto fail; }
    json_t *wm = json_object_get(idx, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        sl__errf(err, errlen, rc, "%s: missing or empty \"weight_map\" object", path);
        goto fail;
    }
    /* Collect distinct shard names (a few at most: linear de-duplication is fine). */
    const char **names = calloc(json_object_size(wm), sizeof *names);
    set->files = calloc(json_object_size(wm), sizeof *set->files);
    if (!names || !set->files) { free(names); rc = SL_ENOMEM; goto fail; }
    const char *key;
    json_t *v;
    size_t nn = 0;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v) || !shard_name_ok(json_string_value(v))) {
            sl__errf(err, errlen, rc, "%s: weight_map[\"%s\"] is not a plain file name", path, key);
            free(names);
            goto fail;
        }
        size_t k;
        for (k = 0; k < nn && strcmp(names[k], json_string_value(v)); k++) {}
        if (k == nn) names[nn++] = json_string_value(v);
    }
    for (size_t k = 0; k < nn; k++) {
        char sp[4096];
        snprintf(sp, sizeof sp, "%s/%s", dir, names[k]);
        rc = sl_safetensors_open(&set->files[set->n], sp, err, errlen);
        if (rc) { free(names); goto fail; }
        set->n++;
    }
    free(names);
    /* Every mapped tensor must be in the shard the index names, and no tensor twice. */
    rc = SL_EFORMAT;
    json_object_foreach(wm, key, v) {
        const sl_tensor *t = sl_st_set_find(set, key);
        if (!t) { sl__errf(err, errlen, rc, "%s: tensor '%s' is listed but missing from %s", path, key, json_string_value(v)); goto fail; }
    }
    if (sl_st_set_count(set) != json_object_size(wm)) {
        sl__errf(err, errlen, rc, "%s: the shards hold %zu tensors but the index lists %zu (duplicate or unlisted tensors)", path,
                 sl_st_set_count(set), json_object_size(wm));
        goto fail;
    }
    json_decref(idx);
    *out = set;
    return 0;
fail:
    json_decref(idx);
    sl_st_set_free(set);
    return rc;
}
