/* Logging: one line per event on stderr, journald priority prefixes under
 * systemd, timestamps otherwise. OpenBSD naming: the plain forms append
 * strerror(errno), the x forms do not. */
#ifndef ENCLAVR_LOG_H
#define ENCLAVR_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

#define PRINTFLIKE(a, b) __attribute__((format(printf, a, b)))

void log_init(const char *progname, int level);
void log_set_level(int level);
int log_get_level(void);
/* Returns the level named by name ("error", "warn", "info", "debug"), or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

void log_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void log_debug(const char *fmt, ...) PRINTFLIKE(1, 2);
/* A line about one request: it always carries the request id. */
void log_req(int level, const char *request_id, const char *fmt, ...) PRINTFLIKE(3, 4);
__attribute__((noreturn)) void fatal(const char *fmt, ...) PRINTFLIKE(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) PRINTFLIKE(1, 2);

#endif
