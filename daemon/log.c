/* log.c — text or JSON lines on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int json_mode;
static int min_level = SL_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

void sl_log_setup(const char *format, const char *level) {
    json_mode = format && !strcmp(format, "json");
    for (int i = 0; i < 4; i++)
        if (level && !strcmp(level, names[i])) min_level = i;
}

int sl_log_enabled(int level) { return level >= min_level; }

typedef struct line {
    char b[4096];
    size_t n;
} line;

static void put(line *l, const char *s, size_t n) {
    if (l->n + n >= sizeof l->b - 2) n = sizeof l->b - 2 - l->n;
    memcpy(l->b + l->n, s, n);
    l->n += n;
}
static void puts_(line *l, const char *s) { put(l, s, strlen(s)); }

static void put_json_str(line *l, const char *s) {
    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(l, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            put(l, esc, 6);
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put(l, "\"", 1);
}

static void begin(line *l, int level, const char *msg) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t k = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + k, sizeof ts - k, ".%03dZ", (int)(tv.tv_usec / 1000));
    l->n = 0;
    if (json_mode) {
        puts_(l, "{\"ts\":\"");
        puts_(l, ts);
        puts_(l, "\",\"level\":\"");
        puts_(l, names[level]);
        puts_(l, "\",\"msg\":");
        put_json_str(l, msg);
    } else {
        puts_(l, ts);
        puts_(l, " ");
        char lv[8];
        snprintf(lv, sizeof lv, "%-5s", names[level]);
        for (char *c = lv; *c; c++)
            if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 32);
        puts_(l, lv);
        puts_(l, " ");
        puts_(l, msg);
    }
}

static void field(line *l, const char *key, const char *val) {
    if (json_mode) {
        puts_(l, ",");
        put_json_str(l, key);
        puts_(l, ":");
        if (val[0] == '#') puts_(l, val + 1);
        else put_json_str(l, val);
    } else {
        puts_(l, " ");
        puts_(l, key);
        puts_(l, "=");
        const char *v = val[0] == '#' ? val + 1 : val;
        if (strpbrk(v, " \"=") || !*v) put_json_str(l, v);
        else puts_(l, v);
    }
}

static void end(line *l) {
    if (json_mode) put(l, "}", 1);
    l->b[l->n++] = '\n';
    ssize_t w = write(2, l->b, l->n); /* one write per line: lines of threads never interleave */
    (void)w;
}

void sl_logf(int level, const char *fmt, ...) {
    if (level < min_level) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    line l;
    begin(&l, level, msg);
    end(&l);
}

void sl_log_fields(int level, const char *msg, ...) {
    if (level < min_level) return;
    line l;
    begin(&l, level, msg);
    va_list ap;
    va_start(ap, msg);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        field(&l, k, v ? v : "");
    }
    va_end(ap);
    end(&l);
}
