#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "enclavr";
static int log_threshold = LOG_LVL_INFO;
static int log_journald;

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "error", LOG_LVL_ERR },
	{ "warn", LOG_LVL_WARN },
	{ "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG },
};

/* Under systemd, stderr is the journal and it adds its own timestamps;
 * JOURNAL_STREAM tells us so. */
void
log_init(const char *progname, int level)
{
	const char *js = getenv("JOURNAL_STREAM");

	log_progname = progname;
	log_threshold = level;
	log_journald = js != NULL && *js != '\0';
}

void
log_set_level(int level)
{
	log_threshold = level;
}

int
log_get_level(void)
{
	return log_threshold;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcmp(log_levels[i].name, name) == 0)
			return log_levels[i].level;
	return -1;
}

const char *
log_level_name(int level)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (log_levels[i].level == level)
			return log_levels[i].name;
	return "?";
}

static void
log_emit(int level, const char *rid, int err, const char *fmt, va_list ap)
{
	char msg[2048], stamp[40];
	size_t n = 0;

	if (level > log_threshold)
		return;
	if (rid != NULL)
		n = (size_t)snprintf(msg, sizeof(msg), "rid=%s ", rid);
	if (n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	if (log_journald) {
		if (err)
			fprintf(stderr, "<%d>%s: %s\n", level, msg, strerror(err));
		else
			fprintf(stderr, "<%d>%s\n", level, msg);
		return;
	}
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%d] %s %s%s%s\n", stamp,
	    (long)(tv.tv_usec / 1000), log_progname, (int)getpid(),
	    log_level_name(level), msg, err ? ": " : "",
	    err ? strerror(err) : "");
}

#define LOG_BODY(level, rid, err)                 \
	do {                                      \
		va_list ap;                       \
		va_start(ap, fmt);                \
		log_emit(level, rid, err, fmt, ap); \
		va_end(ap);                       \
	} while (0)

void log_warn(const char *fmt, ...) { int e = errno; LOG_BODY(LOG_LVL_WARN, NULL, e); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LVL_WARN, NULL, 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LVL_INFO, NULL, 0); }
void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LVL_DEBUG, NULL, 0); }

void
log_req(int level, const char *request_id, const char *fmt, ...)
{
	LOG_BODY(level, request_id ? request_id : "-", 0);
}

void
fatal(const char *fmt, ...)
{
	int e = errno;
	LOG_BODY(LOG_LVL_ERR, NULL, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERR, NULL, 0);
	exit(1);
}
