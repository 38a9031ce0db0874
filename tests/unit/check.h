/* check.h — the unit-test harness: no dependencies, one binary per module.
 *
 *   TEST(name) { CHECK(x == 1); CHECKF(ok, "got %d", v); }
 *   int main(void) { RUN(name); return check_summary(); }
 *
 * Each binary prints "ok NAME" or "FAIL NAME" per test, the first failing
 * checks' messages, and finally "# N passed, N failed", which tests/run.sh sums. */
#ifndef SL_CHECK_H
#define SL_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed, check_cur_failed;

#define CHECK(cond) CHECKF((cond), "%s", #cond)
#define CHECKF(cond, ...)                                                    \
    do {                                                                     \
        if (!(cond)) {                                                       \
            if (check_cur_failed++ < 8) {                                    \
                fprintf(stdout, "    %s:%d: ", __FILE__, __LINE__);          \
                fprintf(stdout, __VA_ARGS__);                                \
                fputc('\n', stdout);                                         \
            }                                                                \
        }                                                                    \
    } while (0)

#define TEST(name) static void name(void)
#define RUN(name) check_run(#name, name)

static inline void check_run(const char *name, void (*fn)(void)) {
    check_cur_failed = 0;
    fn();
    if (check_cur_failed) {
        check_failed++;
        fprintf(stdout, "FAIL %s\n", name);
    } else {
        check_passed++;
        fprintf(stdout, "ok   %s\n", name);
    }
    fflush(stdout);
}

static inline int check_summary(void) {
    fprintf(stdout, "# %d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

/* Reads a whole file into a malloc'ed, NUL-terminated buffer (caller frees); NULL on error. */
static inline char *check_read_file(const char *path, size_t *len) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (!b) return NULL;
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

/* Path of a fixture relative to the repository root; tests run from the root. */
#define FIXTURE(rel) ("tests/fixtures/" rel)

#endif
