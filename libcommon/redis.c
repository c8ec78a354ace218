#include "redis.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

#define REDIS_RETRY_MS 1000

struct redis_conn {
	struct event_base *base;
	char *host;
	int port;
	redisAsyncContext *ac;
	bool up;
	bool closing;
	bool warned;
	struct event *retry;
	void (*connected)(struct redis_conn *, void *);
	void *connected_arg;
};

struct redis_cb {
	redis_reply_fn fn;
	void *arg;
};

/* Redis metric families (docs/operations.md, "Metrics"). */
static struct {
	struct metric *up, *commands, *errors, *connects;
} redis_m;

static void redis_connect(struct redis_conn *r);

static void
redis_schedule_retry(struct redis_conn *r)
{
	struct timeval tv = { REDIS_RETRY_MS / 1000, 0 };
	if (!r->closing)
		event_add(r->retry, &tv);
}

static void
redis_connected_cb(const redisAsyncContext *ac, int status)
{
	struct redis_conn *r = ac->data;

	if (status != REDIS_OK) {
		if (!r->warned)
			log_warnx("redis: cannot connect to %s:%d: %s", r->host,
			    r->port, ac->errstr);
		r->warned = true;
		r->ac = NULL;	/* hiredis frees the context */
		redis_schedule_retry(r);
		return;
	}
	r->up = true;
	r->warned = false;
	metrics_set(redis_m.up, NULL, 1);
	metrics_inc(redis_m.connects, NULL);
	log_info("redis: connected to %s:%d", r->host, r->port);
	if (r->connected != NULL)
		r->connected(r, r->connected_arg);
}

static void
redis_disconnected_cb(const redisAsyncContext *ac, int status)
{
	struct redis_conn *r = ac->data;

	r->ac = NULL;
	r->up = false;
	if (!r->closing)
		metrics_set(redis_m.up, NULL, 0);
	if (status != REDIS_OK && !r->closing)
		log_warnx("redis: connection lost: %s", ac->errstr);
	redis_schedule_retry(r);
}

static void
redis_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	redis_connect(arg);
}

static void
redis_connect(struct redis_conn *r)
{
	redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);

	if (ac == NULL || ac->err) {
		if (!r->warned)
			log_warnx("redis: %s", ac ? ac->errstr : "out of memory");
		r->warned = true;
		if (ac)
			redisAsyncFree(ac);
		redis_schedule_retry(r);
		return;
	}
	ac->data = r;
	redisLibeventAttach(ac, r->base);
	redisAsyncSetConnectCallback(ac, redis_connected_cb);
	redisAsyncSetDisconnectCallback(ac, redis_disconnected_cb);
	r->ac = ac;
}

struct redis_conn *
redis_open(struct event_base *base, const char *host, int port)
{
	struct redis_conn *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->host = strdup(host)) == NULL)
		fatalx("redis: out of memory");
	redis_m.up = metrics_gauge("enclavr_redis_up",
	    "1 while the Redis connection is up.", NULL);
	redis_m.commands = metrics_counter("enclavr_redis_commands_total",
	    "Redis commands sent.", NULL);
	redis_m.errors = metrics_counter("enclavr_redis_errors_total",
	    "Redis commands not sent (down), failed or answered with an error.", NULL);
	redis_m.connects = metrics_counter("enclavr_redis_connects_total",
	    "Connections made to Redis (1 + reconnections).", NULL);
	r->base = base, r->port = port;
	r->retry = evtimer_new(base, redis_retry_cb, r);
	redis_connect(r);
	return r;
}

void
redis_on_connect(struct redis_conn *r, void (*fn)(struct redis_conn *, void *), void *arg)
{
	r->connected = fn;
	r->connected_arg = arg;
}

bool
redis_up(const struct redis_conn *r)
{
	return r != NULL && r->up;
}

static void
redis_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_cb *cb = privdata;
	const redisReply *rep = reply;
	(void)ac;

	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		metrics_inc(redis_m.errors, NULL);
	if (cb->fn != NULL)
		cb->fn(reply, cb->arg);
	free(cb);
}

int
redis_command(struct redis_conn *r, redis_reply_fn fn, void *arg,
    const char *fmt, ...)
{
	struct redis_cb *cb;
	va_list ap;
	int rv;

	if (!redis_up(r) || (cb = malloc(sizeof(*cb))) == NULL) {
		metrics_inc(redis_m.errors, NULL);
		return -1;
	}
	cb->fn = fn, cb->arg = arg;
	va_start(ap, fmt);
	rv = redisvAsyncCommand(r->ac, redis_reply_cb, cb, fmt, ap);
	va_end(ap);
	if (rv != REDIS_OK) {
		free(cb);
		metrics_inc(redis_m.errors, NULL);
		return -1;
	}
	metrics_inc(redis_m.commands, NULL);
	return 0;
}

void
redis_close(struct redis_conn *r)
{
	if (r == NULL)
		return;
	r->closing = true;
	if (r->ac != NULL)
		redisAsyncFree(r->ac);
	event_free(r->retry);
	free(r->host);
	free(r);
}
