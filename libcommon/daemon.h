/* What every daemon does the same way at start: command line (-f FILE,
 * -n check, -N print effective config, -d foreground debug), config
 * loading, the event base, and SIGTERM/SIGINT/SIGHUP wiring. */
#ifndef ENCLAVR_DAEMON_H
#define ENCLAVR_DAEMON_H

#include <event2/event.h>
#include <stdbool.h>

#include "config.h"

struct daemon_opts {
	const char *conf_path;
	bool check_only;	/* -n */
	bool print_conf;	/* -N */
	bool debug;		/* -d */
};

/* Exits 2 with a usage line on a bad command line. */
void daemon_parse_args(int argc, char **argv, const char *default_conf,
    struct daemon_opts *o);
/* Loads the config; with -n prints "OK" and exits 0, on error prints
 * "FILE:LINE: why" and exits 1; with -N prints the effective config. */
void daemon_load_config(const char *prog, const struct cfg_opt *table,
    void *conf, const struct daemon_opts *o);
/* daemon_load_config with a check of the whole loaded config, run before
 * -n says OK: check returns NULL or why the config is refused (printed as
 * "FILE: why", exit 1). */
void daemon_load_config_checked(const char *prog, const struct cfg_opt *table,
    void *conf, const struct daemon_opts *o, const char *(*check)(const void *conf));
/* Re-reads the config for SIGHUP into a scratch copy and applies its
 * reloadable options to conf; a bad file is logged and ignored. */
void daemon_reload_config(const struct cfg_opt *table, void *conf,
    size_t conf_size, const char *path);
/* The same, returning how many options changed, or -1 with why (the file
 * and line, as logged) when the old config is kept. */
int daemon_reload_config_why(const struct cfg_opt *table, void *conf,
    size_t conf_size, const char *path, char *why, size_t whylen);
/* The daemon's event loop; everything runs on its thread. */
struct event_base *daemon_base_new(void);

/* What a daemon does on signals. SIGTERM and SIGINT drain: STOPPING=1 is
 * sent, drain_start stops new work, and the loop ends once busy() is 0 or
 * drain_timeout_ms() has passed; a second such signal ends it at once.
 * SIGHUP runs reload between RELOADING=1 and READY=1. SIGPIPE is ignored. */
struct daemon_hooks {
	void (*drain_start)(void *arg);
	int (*busy)(void *arg);
	long long (*drain_timeout_ms)(void *arg);
	const char *busy_what;		/* "request(s) in flight", for the log */
	void (*reload)(void *arg);
};

struct daemon_signals;
struct daemon_signals *daemon_signals_new(struct event_base *base,
    const struct daemon_hooks *hooks, void *arg);
void daemon_signals_free(struct daemon_signals *s);

#endif
