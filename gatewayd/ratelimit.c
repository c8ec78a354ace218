/* Per-client rate limits by route class. Each route a daemon announces
 * carries a rate class ("auth" for sign-in, registration, refresh, 2FA
 * verification, password reset...; "default" for the rest); [ratelimit]
 * sets requests per minute per client for each, 0 meaning unlimited.
 *
 * The count is a fixed one-minute window on the wall clock, so that every
 * gatewayd sharing a Redis uses the same key: one INCR (and EXPIRE on the
 * first) in a Lua script on enclavr:rl:<class>:<client>:<minute>. When
 * Redis is off, down, failing or slow, the same count is kept in this
 * process (one warning when that starts, one when Redis answers again), in
 * a bounded table purged every few seconds. The client is r->client (the
 * peer, or behind a trusted proxy the forwarded one: client.c); an IPv6
 * client counts by its /64, the smallest block one subscriber usually gets. */
#include "gatewayd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "uuid.h"

#define GW_RL_WINDOW_S 60
#define GW_RL_KEY_TTL_S (2 * GW_RL_WINDOW_S)	/* outlives clock skew */
#define GW_RL_REDIS_TIMEOUT_MS 250
#define GW_RL_PROBE_MS 1000
#define GW_RL_PURGE_MS 5000
#define GW_RL_BUCKETS 4096
#define GW_RL_MAX_ENTRIES 65536		/* about 8 MiB at most */
#define GW_RL_CLIENT_MAX 64
#define GW_RL_KEY_MAX 96

static const char gw_rl_script[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return n";

/* One client's count in one class for one window, when counting here. */
struct gw_rl_entry {
	struct gw_rl_entry *next;
	long long window;
	long long count;
	char key[GW_RL_KEY_MAX];	/* "<class> <client>" */
};

/* A check waiting for Redis. The Redis callback owns and frees it: hiredis
 * runs every callback exactly once (with a NULL reply when the connection
 * drops or is closed). The request points at it (work) only while it
 * waits; if the request dies first, work_free detaches it. */
struct gw_rl_pending {
	struct gw_request *r;
	void (*resume)(struct gw_request *);
	struct event *timeout;
	long long limit, window;
	char key[GW_RL_KEY_MAX];
};

static struct {
	struct gw_rl_entry *table[GW_RL_BUCKETS];
	int nentries;
	bool degraded;		/* Redis failed: counting here */
	bool full_warned;
	bool probing;
	long long last_probe_ms;
	struct event *purge;
} gw_rl;

/* ------------------------------------------------------------ helpers */

static long long
gw_rl_limit(const struct gw_conf *conf, const char *rate_class)
{
	if (rate_class != NULL && strcmp(rate_class, "auth") == 0)
		return conf->rl_auth_per_minute;
	return conf->rl_default_per_minute;
}

/* The counted client of a peer address: IPv4 as is, IPv6 by its /64, an
 * IPv4-mapped IPv6 address as the IPv4 one. */
static void
gw_rl_client(const char *peer, char *out, size_t len)
{
	struct in6_addr a;
	char buf[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, peer, &a) != 1) {
		snprintf(out, len, "%s", peer);
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED(&a) &&
	    inet_ntop(AF_INET, &a.s6_addr[12], buf, sizeof(buf)) != NULL) {
		snprintf(out, len, "%s", buf);
		return;
	}
	memset(&a.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &a, buf, sizeof(buf)) == NULL)
		snprintf(out, len, "%s", peer);
	else
		snprintf(out, len, "%s/64", buf);
}

/* 429 with the seconds left in the window, or lets the request go on. */
static bool
gw_rl_decide(struct gw_request *r, const char *key, long long count,
    long long limit, long long window)
{
	char secs[24];
	long long left = (window + 1) * GW_RL_WINDOW_S - (long long)time(NULL);

	if (count <= limit)
		return true;
	snprintf(secs, sizeof(secs), "%lld", left < 1 ? 1 : left);
	log_req(LOG_LVL_DEBUG, r->request_id, "rate limited: %s, %lld/min", key, limit);
	gw_respond_error_with(r, 429, "rate_limited", "Too many requests; try again later",
	    "Retry-After", secs);
	return false;
}

static void
gw_rl_degrade(const char *why)
{
	if (gw_rl.degraded)
		return;
	gw_rl.degraded = true;
	log_warnx("ratelimit: %s; counting in this process until Redis answers", why);
}

static void
gw_rl_recover(void)
{
	if (!gw_rl.degraded)
		return;
	gw_rl.degraded = false;
	log_warnx("ratelimit: Redis answers again; counting in Redis");
}

static bool
gw_rl_reply_ok(const redisReply *reply)
{
	return reply != NULL && reply->type == REDIS_REPLY_INTEGER;
}

/* ------------------------------------------------------------ local table */

static unsigned
gw_rl_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % GW_RL_BUCKETS;
}

/* Counts one request of key in window here. When the table is full the
 * request is not counted (0): a flood of distinct clients must not cost
 * unbounded memory, and refusing newcomers would turn it into an outage. */
static long long
gw_rl_local_count(const char *key, long long window)
{
	struct gw_rl_entry **b = &gw_rl.table[gw_rl_hash(key)], *e;

	for (e = *b; e != NULL; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			if (e->window != window)
				e->window = window, e->count = 0;
			return ++e->count;
		}
	}
	if (gw_rl.nentries >= GW_RL_MAX_ENTRIES || (e = calloc(1, sizeof(*e))) == NULL) {
		if (!gw_rl.full_warned)
			log_warnx("ratelimit: %d clients counted in this process; "
			    "not limiting new ones until the next purge", gw_rl.nentries);
		gw_rl.full_warned = true;
		return 0;
	}
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->window = window;
	e->count = 1;
	e->next = *b;
	*b = e;
	gw_rl.nentries++;
	return 1;
}

/* Forgets the counts of past windows. */
static void
gw_rl_purge_cb(evutil_socket_t fd, short what, void *arg)
{
	long long window = (long long)time(NULL) / GW_RL_WINDOW_S;
	(void)fd, (void)what, (void)arg;

	if (gw_rl.nentries == 0)
		return;
	for (int i = 0; i < GW_RL_BUCKETS; i++) {
		struct gw_rl_entry **pp = &gw_rl.table[i], *e;
		while ((e = *pp) != NULL) {
			if (e->window >= window) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			gw_rl.nentries--;
		}
	}
	if (gw_rl.nentries < GW_RL_MAX_ENTRIES)
		gw_rl.full_warned = false;
}

/* ------------------------------------------------------------ Redis */

static void
gw_rl_pending_detach(struct gw_rl_pending *p)
{
	struct gw_request *r = p->r;

	p->r = NULL;
	event_del(p->timeout);
	r->work = NULL;
	r->work_free = NULL;
}

/* work_free of a request that dies while its check waits for Redis. */
static void
gw_rl_pending_orphan(void *work)
{
	struct gw_rl_pending *p = work;

	p->r = NULL;
	event_del(p->timeout);
}

/* Counts here instead and goes on with the request (or answers 429). */
static void
gw_rl_pending_local(struct gw_rl_pending *p)
{
	struct gw_request *r = p->r;
	long long count = gw_rl_local_count(p->key, p->window);

	gw_rl_pending_detach(p);
	if (gw_rl_decide(r, p->key, count, p->limit, p->window))
		p->resume(r);
}

static void
gw_rl_redis_cb(redisReply *reply, void *arg)
{
	struct gw_rl_pending *p = arg;
	struct gw_request *r = p->r;

	if (r != NULL) {
		if (gw_rl_reply_ok(reply)) {
			gw_rl_pending_detach(p);
			if (gw_rl_decide(r, p->key, reply->integer, p->limit, p->window))
				p->resume(r);
		} else {
			gw_rl_degrade(reply == NULL ? "Redis connection lost" :
			    "Redis refused the rate-limit script");
			gw_rl_pending_local(p);
		}
	}
	event_free(p->timeout);
	free(p);
}

static void
gw_rl_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_rl_pending *p = arg;
	(void)fd, (void)what;

	if (p->r == NULL)
		return;
	gw_rl_degrade("Redis did not answer in time");
	gw_rl_pending_local(p);		/* the Redis callback frees p */
}

static void
gw_rl_probe_cb(redisReply *reply, void *arg)
{
	(void)arg;
	gw_rl.probing = false;
	if (gw_rl_reply_ok(reply))
		gw_rl_recover();
}

/* While counting here, one request a second is also counted in Redis; its
 * answer says Redis is back. */
static void
gw_rl_probe(struct redis_conn *redis, const char *rkey)
{
	long long now = time_mono_ms();

	if (gw_rl.probing || now - gw_rl.last_probe_ms < GW_RL_PROBE_MS)
		return;
	gw_rl.last_probe_ms = now;
	if (redis_command(redis, gw_rl_probe_cb, NULL, "EVAL %s 1 %s %d", gw_rl_script,
	    rkey, GW_RL_KEY_TTL_S) == 0)
		gw_rl.probing = true;
}

/* Sends the check to Redis; false when it cannot be sent. */
static bool
gw_rl_redis_start(struct gw_request *r, const char *rkey, const char *lkey,
    long long limit, long long window, void (*resume)(struct gw_request *))
{
	struct gw *gw = r->conn->gw;
	struct gw_rl_pending *p = calloc(1, sizeof(*p));
	struct timeval tv = { 0, GW_RL_REDIS_TIMEOUT_MS * 1000 };

	if (p == NULL || (p->timeout = evtimer_new(gw->base, gw_rl_timeout_cb, p)) == NULL) {
		free(p);
		return false;
	}
	p->r = r, p->resume = resume, p->limit = limit, p->window = window;
	snprintf(p->key, sizeof(p->key), "%s", lkey);
	if (redis_command(gw->redis, gw_rl_redis_cb, p, "EVAL %s 1 %s %d", gw_rl_script,
	    rkey, GW_RL_KEY_TTL_S) < 0) {
		event_free(p->timeout);
		free(p);
		return false;
	}
	evtimer_add(p->timeout, &tv);
	r->work = p;
	r->work_free = gw_rl_pending_orphan;
	return true;
}

/* ------------------------------------------------------------ interface */

bool
gw_ratelimit(struct gw_request *r, void (*resume)(struct gw_request *))
{
	struct gw *gw = r->conn->gw;
	const char *rclass = r->route->rate_class;
	long long limit = gw_rl_limit(gw->conf, rclass);
	long long window;
	char client[GW_RL_CLIENT_MAX], lkey[GW_RL_KEY_MAX], rkey[GW_RL_KEY_MAX + 32];

	if (limit <= 0)
		return true;
	window = (long long)time(NULL) / GW_RL_WINDOW_S;
	gw_rl_client(r->client, client, sizeof(client));
	snprintf(lkey, sizeof(lkey), "%s %s", rclass, client);
	snprintf(rkey, sizeof(rkey), "enclavr:rl:%s:%s:%lld", rclass, client, window);
	if (gw->redis != NULL) {
		if (gw_rl.degraded)
			gw_rl_probe(gw->redis, rkey);
		else if (gw_rl_redis_start(r, rkey, lkey, limit, window, resume))
			return false;
		else
			gw_rl_degrade(redis_up(gw->redis) ? "cannot send to Redis" :
			    "Redis is not connected");
	}
	return gw_rl_decide(r, lkey, gw_rl_local_count(lkey, window), limit, window);
}

void
gw_ratelimit_start(struct gw *gw)
{
	struct timeval tv = { GW_RL_PURGE_MS / 1000, 0 };

	gw_rl.purge = event_new(gw->base, -1, EV_PERSIST, gw_rl_purge_cb, NULL);
	if (gw_rl.purge == NULL || event_add(gw_rl.purge, &tv) < 0)
		fatalx("ratelimit: cannot start its timer");
	if (gw->redis == NULL)
		log_info("ratelimit: Redis is off; limits count per process");
}

void
gw_ratelimit_stop(void)
{
	if (gw_rl.purge != NULL)
		event_free(gw_rl.purge);
	gw_rl.purge = NULL;
	for (int i = 0; i < GW_RL_BUCKETS; i++) {
		while (gw_rl.table[i] != NULL) {
			struct gw_rl_entry *e = gw_rl.table[i];
			gw_rl.table[i] = e->next;
			free(e);
		}
	}
	gw_rl.nentries = 0;
}
