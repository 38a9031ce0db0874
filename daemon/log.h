/* log.h — the daemon's log: one line per event on stderr, as text or as a JSON object.
 * Thread-safe (each line is one write). */
#ifndef SL_LOG_H
#define SL_LOG_H

enum sl_log_level { SL_LOG_DEBUG = 0, SL_LOG_INFO = 1, SL_LOG_WARN = 2, SL_LOG_ERROR = 3 };

/* FORMAT "text" or "json"; LEVEL "debug", "info", "warn", "error". */
void sl_log_setup(const char *format, const char *level);
int sl_log_enabled(int level);
void sl_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* MSG plus string fields: KEY, VALUE pairs ending with NULL. Numbers go as text in text mode
 * and as JSON numbers when the value starts with '#' (e.g. "#12.5"). */
void sl_log_fields(int level, const char *msg, ...);

#endif
