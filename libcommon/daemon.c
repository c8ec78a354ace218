#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "uuid.h"

void
daemon_parse_args(int argc, char **argv, const char *default_conf,
    struct daemon_opts *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->conf_path = default_conf;
	while ((ch = getopt(argc, argv, "df:nN")) != -1) {
		switch (ch) {
		case 'd': o->debug = true; break;
		case 'f': o->conf_path = optarg; break;
		case 'n': o->check_only = true; break;
		case 'N': o->print_conf = true; break;
		default:
			fprintf(stderr, "usage: %s [-dnN] [-f file]\n", argv[0]);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s [-dnN] [-f file]\n", argv[0]);
		exit(2);
	}
}

void
daemon_load_config(const char *prog, const struct cfg_opt *table, void *conf,
    const struct daemon_opts *o)
{
	daemon_load_config_checked(prog, table, conf, o, NULL);
}

void
daemon_load_config_checked(const char *prog, const struct cfg_opt *table,
    void *conf, const struct daemon_opts *o, const char *(*check)(const void *conf))
{
	struct cfg_error err;
	const char *why;

	if (cfg_load(table, conf, o->conf_path, &err) < 0) {
		if (err.line > 0)
			fprintf(stderr, "%s: %s:%d: %s\n", prog, o->conf_path,
			    err.line, err.msg);
		else
			fprintf(stderr, "%s: %s\n", prog, err.msg);
		cfg_free(table, conf);
		exit(1);
	}
	if (check != NULL && (why = check(conf)) != NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, o->conf_path, why);
		cfg_free(table, conf);
		exit(1);
	}
	if (o->print_conf)
		cfg_dump(table, conf, stdout);
	if (o->check_only) {
		printf("%s: %s: OK\n", prog, o->conf_path);
		cfg_free(table, conf);
		exit(0);
	}
	if (o->print_conf) {
		cfg_free(table, conf);
		exit(0);
	}
}

int
daemon_reload_config_why(const struct cfg_opt *table, void *conf,
    size_t conf_size, const char *path, char *why, size_t whylen)
{
	struct cfg_error err;
	void *next = calloc(1, conf_size);
	int n = -1;

	if (next == NULL) {
		snprintf(why, whylen, "out of memory");
		log_warnx("reload: out of memory; keeping the old config");
		return -1;
	}
	if (cfg_load(table, next, path, &err) < 0) {
		snprintf(why, whylen, "%s:%d: %s", path, err.line, err.msg);
		log_warnx("reload: %s; keeping the old config", why);
	} else {
		n = cfg_apply_reloadable(table, conf, next);
		log_info("reload: %d option%s changed", n, n == 1 ? "" : "s");
	}
	cfg_free(table, next);
	free(next);
	return n;
}

void
daemon_reload_config(const struct cfg_opt *table, void *conf,
    size_t conf_size, const char *path)
{
	char why[512];

	daemon_reload_config_why(table, conf, conf_size, path, why, sizeof(why));
}

struct event_base *
daemon_base_new(void)
{
	struct event_base *base = event_base_new();

	/* Events run at the middle priority by default; the lowest runs after
	 * everything else ready in a turn (IPC batches go out then). */
	if (base == NULL || event_base_priority_init(base, 3) < 0)
		fatalx("cannot create the event loop");
	return base;
}

#define DAEMON_DRAIN_POLL_MS 50

struct daemon_signals {
	struct event_base *base;
	struct event *term, *intr, *hup, *drain;
	const struct daemon_hooks *hooks;
	void *arg;
	long long drain_deadline;
};

static void
daemon_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_signals *s = arg;
	int busy = s->hooks->busy(s->arg);
	(void)fd, (void)what;

	if (busy == 0 || time_mono_ms() >= s->drain_deadline) {
		log_info("stopping with %d %s", busy, s->hooks->busy_what);
		event_base_loopbreak(s->base);
	}
}

static void
daemon_drain(struct daemon_signals *s)
{
	struct timeval tv = { 0, DAEMON_DRAIN_POLL_MS * 1000 };

	if (s->drain != NULL) {
		log_info("stopping now");
		event_base_loopbreak(s->base);
		return;
	}
	log_info("draining");
	notify_send("STOPPING=1");
	s->hooks->drain_start(s->arg);
	s->drain_deadline = time_mono_ms() + s->hooks->drain_timeout_ms(s->arg);
	s->drain = event_new(s->base, -1, EV_PERSIST, daemon_drain_cb, s);
	if (s->drain == NULL || event_add(s->drain, &tv) < 0)
		fatalx("cannot start draining");
}

static void
daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_signals *s = arg;
	(void)what;

	if (sig != SIGHUP) {
		daemon_drain(s);
		return;
	}
	notify_send("RELOADING=1");
	s->hooks->reload(s->arg);
	notify_send("READY=1");
}

struct daemon_signals *
daemon_signals_new(struct event_base *base, const struct daemon_hooks *hooks,
    void *arg)
{
	struct daemon_signals *s = calloc(1, sizeof(*s));

	if (s == NULL)
		fatalx("out of memory");
	signal(SIGPIPE, SIG_IGN);
	s->base = base, s->hooks = hooks, s->arg = arg;
	s->term = evsignal_new(base, SIGTERM, daemon_signal_cb, s);
	s->intr = evsignal_new(base, SIGINT, daemon_signal_cb, s);
	s->hup = evsignal_new(base, SIGHUP, daemon_signal_cb, s);
	if (s->term == NULL || s->intr == NULL || s->hup == NULL ||
	    event_add(s->term, NULL) < 0 || event_add(s->intr, NULL) < 0 ||
	    event_add(s->hup, NULL) < 0)
		fatalx("cannot install signal handlers");
	return s;
}

void
daemon_signals_free(struct daemon_signals *s)
{
	if (s == NULL)
		return;
	event_free(s->term);
	event_free(s->intr);
	event_free(s->hup);
	if (s->drain != NULL)
		event_free(s->drain);
	free(s);
}
