/* json.c — typed access to request fields for the route handlers: the parsers of request.c,
 * with their refusal turned into the 400 reply. */
#include "internal.h"

int sl__json_int(sl__req *q, json_t *obj, const char *f, long long lo, long long hi, long long *out,
                 enum MHD_Result *ret) {
    sl__err e;
    int rc = sl__jint(obj, f, lo, hi, out, &e);
    if (rc < 0) *ret = sl__reply_err(q, &e);
    return rc;
}

int sl__json_num(sl__req *q, json_t *obj, const char *f, double lo, double hi, double *out, enum MHD_Result *ret) {
    sl__err e;
    int rc = sl__jnum(obj, f, lo, hi, out, &e);
    if (rc < 0) *ret = sl__reply_err(q, &e);
    return rc;
}

int sl__json_bool(sl__req *q, json_t *obj, const char *f, int *out, enum MHD_Result *ret) {
    sl__err e;
    int rc = sl__jbool(obj, f, out, &e);
    if (rc < 0) *ret = sl__reply_err(q, &e);
    return rc;
}

int sl__json_str(sl__req *q, json_t *obj, const char *f, const char **out, enum MHD_Result *ret) {
    sl__err e;
    int rc = sl__jstr(obj, f, out, &e);
    if (rc < 0) *ret = sl__reply_err(q, &e);
    return rc;
}
