/* fuzz_common.h — helpers shared by the libFuzzer targets in tests/fuzz/ (not part of lib/).
 *
 * FUZZ_CHECK(cond) aborts with a message when an invariant promised by a header does not hold:
 * libFuzzer reports the abort as a crash and saves the input, like any sanitizer report. */
#ifndef SL_FUZZ_COMMON_H
#define SL_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* The error text contract of error.h: NUL-terminated within ERRLEN. */
#define FUZZ_CHECK_ERR(err, errlen) FUZZ_CHECK(memchr((err), 0, (errlen)) != NULL)

/* With SL_FUZZ_VERBOSE=1 in the environment, each rejection's error text is printed: useful to
 * see how far seed inputs get (e.g. `SL_FUZZ_VERBOSE=1 build/fuzz/fuzz_adapter corpus/...`). */
static inline void fuzz_note(int rc, const char *err) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("SL_FUZZ_VERBOSE") && *getenv("SL_FUZZ_VERBOSE") == '1';
    if (verbose) fprintf(stderr, "fuzz: rc %d%s%s\n", rc, rc ? ": " : "", rc ? err : "");
}

/* Directory of tests/fixtures: $SL_FUZZ_FIXTURES, else the path compiled in by fuzz.mk. */
static inline const char *fuzz_fixtures_dir(void) {
    const char *d = getenv("SL_FUZZ_FIXTURES");
    if (d && *d) return d;
#ifdef SL_FUZZ_FIXTURES_DIR
    return SL_FUZZ_FIXTURES_DIR;
#else
    return "tests/fixtures";
#endif
}

/* An exact-size heap copy of N bytes (never NULL for n == 0: one byte is allocated), so that
 * ASan catches a read even one byte past the part of the input handed to the parser.
 * The caller frees. */
static inline void *fuzz_dup(const void *p, size_t n) {
    void *q = malloc(n ? n : 1);
    if (!q) abort();
    if (n) memcpy(q, p, n);
    return q;
}

/* Reads every byte of [p, p+n) so that an out-of-bounds span is caught by ASan. */
static inline unsigned fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

#endif
