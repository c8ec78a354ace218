/* Typing and presence state, in Redis so that every chatd and gatewayd
 * shares it (one Lua script per operation, run atomically by Redis with
 * Redis's own clock), or in this process's memory while Redis is away.
 *
 * Redis keys (docs/presence.md), where <stream> is a room's id or "dm:"
 * and a conversation's id:
 *   enclavr:typing:<stream>             hash  user -> "started expires announced"
 *                                              (Unix ms); expires with its
 *                                              newest entry
 *   enclavr:typing-due                  zset  "<stream>/<user>" scored by expiry,
 *                                              popped by the sweep
 *   enclavr:presence:<user>             set   gatewayd instances holding the
 *                                              user's sockets
 *   enclavr:presence-instance:<inst>    set   users instance inst holds
 * The scripts touch keys they compute, so they suit a single Redis (or a
 * replicated pair), not Redis Cluster.
 *
 * Without Redis the same operations run on tables in memory. That keeps
 * one chatd correct on its own, but with several chatd (or gatewayd on
 * several hosts) each then sees only what passed through it: sharing is
 * lost until Redis answers again, and what changed meanwhile is not copied
 * back. The switch is logged once per outage. */
#include "chatd.h"
#include "presence_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "log.h"

#define STORE_SWEEP_MAX 100
#define STORE_DM_PREFIX "dm:"		/* a conversation's stream key */
#define STORE_STREAM_STRLEN (sizeof(STORE_DM_PREFIX) - 1 + UUID_STRLEN)
#define MEM_TYPING_BUCKETS 256
#define MEM_SOCKET_BUCKETS 1024

enum store_kind {
	ST_TYPING_START, ST_TYPING_STOP, ST_TYPING_LIST, ST_SWEEP,
	ST_ATTACH, ST_DETACH, ST_RESET, ST_CONNECTED,
};

/* One operation in flight; freed once fn has run. Linked in store_live
 * meanwhile, so that one still pending when the daemon stops (the pool
 * drops its callbacks) stays reachable rather than leaked. */
struct store_op {
	struct store_op *prev, *next;
	enum store_kind kind;
	char stream[STORE_STREAM_STRLEN + 1];	/* store_stream_key */
	char user[UUID_STRLEN + 1], inst[UUID_STRLEN + 1];
	char *csv;
	chat_store_fn fn;
	void *arg;
};

static struct store_op *store_live;
static bool store_warned;

/* ------------------------------------------------------------ scripts */

/* Redis's clock, in ms, as every script's first line: one clock for all
 * chatd hosts. */
#define LUA_NOW "local t = redis.call('TIME') " \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

/* KEYS: typing hash, due zset. ARGV: user, stream, ttl, throttle.
 * Returns {announce 0/1, started}. */
static const char lua_typing_start[] = LUA_NOW
	"local ttl, thr = tonumber(ARGV[3]), tonumber(ARGV[4]) "
	"local started, announced = now, 0 "
	"local v = redis.call('HGET', KEYS[1], ARGV[1]) "
	"if v then "
	"  local s, e, a = string.match(v, '^(%d+) (%d+) (%d+)$') "
	"  if s and tonumber(e) > now then started, announced = tonumber(s), tonumber(a) end "
	"end "
	"local pub = 0 "
	"if now - announced >= thr then pub = 1; announced = now end "
	"redis.call('HSET', KEYS[1], ARGV[1], string.format('%d %d %d', started, now + ttl, announced)) "
	"redis.call('PEXPIRE', KEYS[1], ttl) "
	"redis.call('ZADD', KEYS[2], now + ttl, ARGV[2] .. '/' .. ARGV[1]) "
	"return {pub, started}";

/* KEYS: typing hash, due zset. ARGV: user, stream. Returns 1 when the user
 * was typing and no stop was announced yet (the sweep has not taken it). */
static const char lua_typing_stop[] =
	"redis.call('HDEL', KEYS[1], ARGV[1]) "
	"return redis.call('ZREM', KEYS[2], ARGV[2] .. '/' .. ARGV[1])";

/* KEYS: typing hash. Returns {user, started, ...} of live entries. */
static const char lua_typing_list[] = LUA_NOW
	"local all = redis.call('HGETALL', KEYS[1]) "
	"local out = {} "
	"for i = 1, #all, 2 do "
	"  local s, e = string.match(all[i + 1], '^(%d+) (%d+) %d+$') "
	"  if s and tonumber(e) > now then out[#out + 1] = all[i]; out[#out + 1] = s end "
	"end "
	"return out";

/* KEYS: due zset. ARGV: max. Pops due entries; returns {stream, user, ...}
 * of those not refreshed meanwhile. */
static const char lua_typing_sweep[] = LUA_NOW
	"local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1])) "
	"local out = {} "
	"for _, m in ipairs(due) do "
	"  redis.call('ZREM', KEYS[1], m) "
	"  local stream, user = string.match(m, '^([^/]+)/(.+)$') "
	"  if stream then "
	"    local h = 'enclavr:typing:' .. stream "
	"    local v = redis.call('HGET', h, user) "
	"    local e = v and tonumber(string.match(v, '^%d+ (%d+) %d+$') or '0') or 0 "
	"    if e <= now then "
	"      redis.call('HDEL', h, user); out[#out + 1] = stream; out[#out + 1] = user "
	"    end "
	"  end "
	"end "
	"return out";

/* KEYS: user's set, instance's set. ARGV: user, instance. 1 = came online. */
static const char lua_attach[] =
	"local before = redis.call('SCARD', KEYS[1]) "
	"redis.call('SADD', KEYS[1], ARGV[2]) "
	"redis.call('SADD', KEYS[2], ARGV[1]) "
	"if before == 0 then return 1 end return 0";

/* KEYS: user's set, instance's set. ARGV: user, instance. 1 = went offline. */
static const char lua_detach[] =
	"local removed = redis.call('SREM', KEYS[1], ARGV[2]) "
	"redis.call('SREM', KEYS[2], ARGV[1]) "
	"if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then return 1 end return 0";

/* KEYS: instance's set. ARGV: instance. Returns the users left offline. */
static const char lua_reset[] =
	"local out = {} "
	"for _, u in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
	"  local k = 'enclavr:presence:' .. u "
	"  if redis.call('SREM', k, ARGV[1]) == 1 and redis.call('SCARD', k) == 0 then "
	"    out[#out + 1] = u "
	"  end "
	"end "
	"redis.call('DEL', KEYS[1]) "
	"return out";

/* ARGV: users joined by ','. Returns those holding a socket, in order. */
static const char lua_connected[] =
	"local out = {} "
	"for u in string.gmatch(ARGV[1], '[^,]+') do "
	"  if redis.call('EXISTS', 'enclavr:presence:' .. u) == 1 then out[#out + 1] = u end "
	"end "
	"return out";

/* ------------------------------------------------------------ common */

long long
chat_store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The store's key of s: a room's id, or STORE_DM_PREFIX and a
 * conversation's. Room keys are those of the time before conversations. */
static void
store_stream_key(const struct chat_typing_stream *s, char out[STORE_STREAM_STRLEN + 1])
{
	snprintf(out, STORE_STREAM_STRLEN + 1, "%s%s", s->dm ? STORE_DM_PREFIX : "", s->id);
}

/* The stream of a key of len bytes; false when it is not one. */
static bool
store_stream_parse(const char *key, size_t len, struct chat_typing_stream *s)
{
	size_t pre = sizeof(STORE_DM_PREFIX) - 1;

	s->dm = len == pre + UUID_STRLEN && strncmp(key, STORE_DM_PREFIX, pre) == 0;
	if (s->dm)
		key += pre, len -= pre;
	if (len != UUID_STRLEN || !uuid_valid(key))
		return false;
	memcpy(s->id, key, UUID_STRLEN + 1);
	return true;
}

static void
store_link(struct store_op *op)
{
	op->prev = NULL;
	op->next = store_live;
	if (store_live != NULL)
		store_live->prev = op;
	store_live = op;
}

static void
store_unlink(struct store_op *op)
{
	if (op->prev != NULL)
		op->prev->next = op->next;
	else if (store_live == op)
		store_live = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
}

static void
store_op_free(struct store_op *op)
{
	store_unlink(op);
	free(op->csv);
	free(op);
}

/* Runs fn with res and frees op and res's arrays. */
static void
store_answer(struct store_op *op, struct chat_store_res *res)
{
	op->fn(res, op->arg);
	if (res != NULL) {
		free(res->ids);
		free(res->ms);
		free(res->streams);
	}
	store_op_free(op);
}

/* The daemon's loop has been told to stop: hiredis is failing the
 * commands still pending as svc tears down (libcommon/svc.c closes Redis
 * first): answer without falling back to memory. */
static bool
store_stopping(void)
{
	return event_base_got_break(svc_base(chatd.svc)) != 0;
}

static void
store_degraded(const char *why)
{
	if (!store_warned)
		log_warnx("presence: Redis %s: typing and presence use this chatd's"
		    " memory, which other chatd processes do not share", why);
	store_warned = true;
}

static void
store_recovered(void)
{
	if (store_warned)
		log_info("presence: Redis answers again; typing and presence use it");
	store_warned = false;
}

/* Room for n ids (and n ms when with_ms, n streams when with_streams);
 * false when out of memory. */
static bool
store_res_alloc(struct chat_store_res *res, size_t n, bool with_ms, bool with_streams)
{
	res->n = 0;
	if (n == 0)
		return true;
	res->ids = calloc(n, sizeof(*res->ids));
	res->ms = with_ms ? calloc(n, sizeof(*res->ms)) : NULL;
	res->streams = with_streams ? calloc(n, sizeof(*res->streams)) : NULL;
	if (res->ids == NULL || (with_ms && res->ms == NULL) ||
	    (with_streams && res->streams == NULL)) {
		free(res->ids), free(res->ms), free(res->streams);
		res->ids = NULL, res->ms = NULL, res->streams = NULL;
		log_warnx("presence: out of memory");
		return false;
	}
	return true;
}

static void
store_res_add(struct chat_store_res *res, const char *id, long long ms)
{
	memcpy(res->ids[res->n], id, UUID_STRLEN + 1);
	if (res->ms != NULL)
		res->ms[res->n] = ms;
	res->n++;
}

/* A sweep's expiry: user's start in the stream of key expired. Skipped
 * when key is not a stream's (Redis is shared). */
static void
store_res_add_expiry(struct chat_store_res *res, const char *key, size_t len,
    const char *user)
{
	if (store_stream_parse(key, len, &res->streams[res->n]))
		store_res_add(res, user, 0);
}

/* ------------------------------------------------------------ memory */

struct mem_typist {
	struct mem_typist *next;
	char stream[STORE_STREAM_STRLEN + 1], user[UUID_STRLEN + 1];
	long long started, expires, announced;
};

/* One (user, gatewayd instance) pair. */
struct mem_socket {
	struct mem_socket *next;
	char user[UUID_STRLEN + 1], inst[UUID_STRLEN + 1];
};

static struct mem_typist *mem_typing[MEM_TYPING_BUCKETS];	/* by stream */
static struct mem_socket *mem_sockets[MEM_SOCKET_BUCKETS];	/* by user */

static struct mem_typist **
mem_typist_find(const char *stream, const char *user)
{
	struct mem_typist **pp = &mem_typing[hash_fnv1a(stream) % MEM_TYPING_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->stream, stream) == 0 && strcmp((*pp)->user, user) == 0)
			break;
	return pp;
}

static void
mem_typing_start(struct store_op *op, struct chat_store_res *res)
{
	struct mem_typist **pp = mem_typist_find(op->stream, op->user), *t = *pp;
	long long now = chat_store_now_ms();

	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL) {
			log_warnx("presence: out of memory");
			res->flag = 1, res->started_ms = now;	/* announced, not kept */
			return;
		}
		memcpy(t->stream, op->stream, sizeof(t->stream));
		memcpy(t->user, op->user, sizeof(t->user));
		*pp = t;
	}
	if (t->expires <= now)
		t->started = now, t->announced = 0;
	if (now - t->announced >= CHAT_TYPING_THROTTLE_MS) {
		res->flag = 1;
		t->announced = now;
	}
	t->expires = now + CHAT_TYPING_TTL_MS;
	res->started_ms = t->started;
}

static void
mem_typing_stop(struct store_op *op, struct chat_store_res *res)
{
	struct mem_typist **pp = mem_typist_find(op->stream, op->user), *t = *pp;

	if (t != NULL) {
		*pp = t->next;
		free(t);
		res->flag = 1;
	}
}

static void
mem_typing_list(struct store_op *op, struct chat_store_res *res)
{
	struct mem_typist *b = mem_typing[hash_fnv1a(op->stream) % MEM_TYPING_BUCKETS], *t;
	long long now = chat_store_now_ms();
	size_t n = 0;

	for (t = b; t != NULL; t = t->next)
		n += strcmp(t->stream, op->stream) == 0 && t->expires > now;
	if (!store_res_alloc(res, n, true, false))
		return;
	for (t = b; t != NULL; t = t->next)
		if (strcmp(t->stream, op->stream) == 0 && t->expires > now)
			store_res_add(res, t->user, t->started);
}

static void
mem_typing_sweep(struct chat_store_res *res)
{
	long long now = chat_store_now_ms();

	if (!store_res_alloc(res, STORE_SWEEP_MAX, false, true))
		return;
	for (size_t i = 0; i < MEM_TYPING_BUCKETS; i++) {
		struct mem_typist **pp = &mem_typing[i], *t;

		while ((t = *pp) != NULL && res->n < STORE_SWEEP_MAX) {
			if (t->expires > now) {
				pp = &t->next;
				continue;
			}
			store_res_add_expiry(res, t->stream, strlen(t->stream), t->user);
			*pp = t->next;
			free(t);
		}
	}
}

static bool
mem_connected(const char *user)
{
	for (struct mem_socket *s = mem_sockets[hash_fnv1a(user) % MEM_SOCKET_BUCKETS];
	    s != NULL; s = s->next)
		if (strcmp(s->user, user) == 0)
			return true;
	return false;
}

static struct mem_socket **
mem_socket_find(const char *user, const char *inst)
{
	struct mem_socket **pp = &mem_sockets[hash_fnv1a(user) % MEM_SOCKET_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->user, user) == 0 && strcmp((*pp)->inst, inst) == 0)
			break;
	return pp;
}

static void
mem_attach(struct store_op *op, struct chat_store_res *res)
{
	struct mem_socket **pp = mem_socket_find(op->user, op->inst), *s;

	res->flag = !mem_connected(op->user);
	if (*pp != NULL)
		return;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warnx("presence: out of memory");
		res->flag = 0;
		return;
	}
	memcpy(s->user, op->user, sizeof(s->user));
	memcpy(s->inst, op->inst, sizeof(s->inst));
	*pp = s;
}

static void
mem_detach(struct store_op *op, struct chat_store_res *res)
{
	struct mem_socket **pp = mem_socket_find(op->user, op->inst), *s = *pp;

	if (s == NULL)
		return;
	*pp = s->next;
	free(s);
	res->flag = !mem_connected(op->user);
}

/* A scan of every pair: acceptable in this degraded mode only. */
static void
mem_reset(struct store_op *op, struct chat_store_res *res)
{
	size_t n = 0;

	for (size_t i = 0; i < MEM_SOCKET_BUCKETS; i++)
		for (struct mem_socket *s = mem_sockets[i]; s != NULL; s = s->next)
			n += strcmp(s->inst, op->inst) == 0;
	if (!store_res_alloc(res, n, false, false))
		return;
	for (size_t i = 0; i < MEM_SOCKET_BUCKETS; i++) {
		struct mem_socket **pp = &mem_sockets[i], *s;

		while ((s = *pp) != NULL) {
			if (strcmp(s->inst, op->inst) != 0) {
				pp = &s->next;
				continue;
			}
			*pp = s->next;
			if (!mem_connected(s->user))
				store_res_add(res, s->user, 0);
			free(s);
		}
	}
}

/* Splits op->csv in place. */
static void
mem_connected_list(struct store_op *op, struct chat_store_res *res)
{
	size_t n = 1;
	char *save = NULL;

	for (const char *p = op->csv; *p != '\0'; p++)
		n += *p == ',';
	if (!store_res_alloc(res, n, false, false))
		return;
	for (char *u = strtok_r(op->csv, ",", &save); u != NULL && res->n < n;
	    u = strtok_r(NULL, ",", &save))
		if (uuid_valid(u) && strlen(u) == UUID_STRLEN && mem_connected(u))
			store_res_add(res, u, 0);
}

/* Answers op from memory. */
static void
store_mem_run(struct store_op *op)
{
	struct chat_store_res res = { 0 };

	switch (op->kind) {
	case ST_TYPING_START: mem_typing_start(op, &res); break;
	case ST_TYPING_STOP: mem_typing_stop(op, &res); break;
	case ST_TYPING_LIST: mem_typing_list(op, &res); break;
	case ST_SWEEP: mem_typing_sweep(&res); break;
	case ST_ATTACH: mem_attach(op, &res); break;
	case ST_DETACH: mem_detach(op, &res); break;
	case ST_RESET: mem_reset(op, &res); break;
	case ST_CONNECTED: mem_connected_list(op, &res); break;
	}
	store_answer(op, &res);
}

/* ------------------------------------------------------------ Redis */

static bool
reply_int(const redisReply *r, long long *out)
{
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		return false;
	*out = r->integer;
	return true;
}

static bool
reply_uuid(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_STRING && r->len == UUID_STRLEN &&
	    uuid_valid(r->str);
}

/* A reply that is a list of UUIDs, or with_ms of UUID, number pairs
 * (typing_list). Malformed entries are skipped: the keys are ours, but
 * Redis is shared. */
static int
store_parse_list(const redisReply *rep, bool with_ms, struct chat_store_res *res)
{
	size_t step = with_ms ? 2 : 1;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % step != 0)
		return -1;
	if (!store_res_alloc(res, rep->elements / step, with_ms, false))
		return 0;
	for (size_t i = 0; i < rep->elements; i += step) {
		const redisReply *a = rep->element[i];
		const redisReply *b = with_ms ? rep->element[i + 1] : NULL;
		char *end;
		long long ms;

		if (!reply_uuid(a))
			continue;
		if (!with_ms) {
			store_res_add(res, a->str, 0);
			continue;
		}
		if (b->type != REDIS_REPLY_STRING)
			continue;
		ms = strtoll(b->str, &end, 10);
		if (*end == '\0' && ms > 0)
			store_res_add(res, a->str, ms);
	}
	return 0;
}

/* The sweep's reply: stream key, user pairs. Malformed pairs are skipped. */
static int
store_parse_sweep(const redisReply *rep, struct chat_store_res *res)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2 != 0)
		return -1;
	if (!store_res_alloc(res, rep->elements / 2, false, true))
		return 0;
	for (size_t i = 0; i < rep->elements; i += 2) {
		const redisReply *key = rep->element[i], *user = rep->element[i + 1];

		if (key->type == REDIS_REPLY_STRING && reply_uuid(user))
			store_res_add_expiry(res, key->str, key->len, user->str);
	}
	return 0;
}

/* Fills res from a reply of op's script; -1 when it has another shape. */
static int
store_parse(const struct store_op *op, const redisReply *rep,
    struct chat_store_res *res)
{
	long long v;

	switch (op->kind) {
	case ST_TYPING_START:
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    !reply_int(rep->element[0], &v) ||
		    !reply_int(rep->element[1], &res->started_ms))
			return -1;
		res->flag = v != 0;
		return 0;
	case ST_TYPING_STOP:
	case ST_ATTACH:
	case ST_DETACH:
		if (!reply_int(rep, &v))
			return -1;
		res->flag = v != 0;
		return 0;
	case ST_TYPING_LIST:
		return store_parse_list(rep, true, res);
	case ST_SWEEP:
		return store_parse_sweep(rep, res);
	case ST_RESET:
	case ST_CONNECTED:
		return store_parse_list(rep, false, res);
	}
	return -1;
}

static void
store_reply_cb(redisReply *rep, void *arg)
{
	struct store_op *op = arg;
	struct chat_store_res res = { 0 };

	if (rep == NULL && store_stopping()) {
		store_answer(op, NULL);
		return;
	}
	if (rep == NULL) {
		store_degraded("connection lost");
		store_mem_run(op);
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR || store_parse(op, rep, &res) < 0) {
		char why[160];

		snprintf(why, sizeof(why), "answered \"%.100s\"",
		    rep->type == REDIS_REPLY_ERROR ? rep->str : "something unexpected");
		free(res.ids), free(res.ms), free(res.streams);
		store_degraded(why);
		store_mem_run(op);
		return;
	}
	store_recovered();
	store_answer(op, &res);
}

/* Queues op's script; -1 when Redis is off or down. */
static int
store_redis_send(struct store_op *op)
{
	struct redis_conn *rc = svc_redis(chatd.svc);
	char ttl[16], thr[16], max[16];

	snprintf(ttl, sizeof(ttl), "%d", CHAT_TYPING_TTL_MS);
	snprintf(thr, sizeof(thr), "%d", CHAT_TYPING_THROTTLE_MS);
	snprintf(max, sizeof(max), "%d", STORE_SWEEP_MAX);
	switch (op->kind) {
	case ST_TYPING_START:
		return redis_command(rc, store_reply_cb, op,
		    "EVAL %s 2 enclavr:typing:%s enclavr:typing-due %s %s %s %s",
		    lua_typing_start, op->stream, op->user, op->stream, ttl, thr);
	case ST_TYPING_STOP:
		return redis_command(rc, store_reply_cb, op,
		    "EVAL %s 2 enclavr:typing:%s enclavr:typing-due %s %s",
		    lua_typing_stop, op->stream, op->user, op->stream);
	case ST_TYPING_LIST:
		return redis_command(rc, store_reply_cb, op,
		    "EVAL %s 1 enclavr:typing:%s", lua_typing_list, op->stream);
	case ST_SWEEP:
		return redis_command(rc, store_reply_cb, op,
		    "EVAL %s 1 enclavr:typing-due %s", lua_typing_sweep, max);
	case ST_ATTACH:
	case ST_DETACH:
		return redis_command(rc, store_reply_cb, op,
		    "EVAL %s 2 enclavr:presence:%s enclavr:presence-instance:%s %s %s",
		    op->kind == ST_ATTACH ? lua_attach : lua_detach,
		    op->user, op->inst, op->user, op->inst);
	case ST_RESET:
		return redis_command(rc, store_reply_cb, op,
		    "EVAL %s 1 enclavr:presence-instance:%s %s", lua_reset,
		    op->inst, op->inst);
	case ST_CONNECTED:
		return redis_command(rc, store_reply_cb, op, "EVAL %s 0 %s",
		    lua_connected, op->csv);
	}
	return -1;
}

/* Runs op in Redis, else in memory; op is the store's from here on. */
static void
store_run(struct store_op *op)
{
	store_link(op);
	if (store_redis_send(op) == 0)
		return;
	store_degraded(svc_redis(chatd.svc) == NULL ? "is not configured" : "is unreachable");
	store_mem_run(op);
}

/* A new operation; answers fn from nowhere (an empty result) when out of
 * memory, and returns NULL. */
static struct store_op *
store_op_new(enum store_kind kind, const struct chat_typing_stream *s, const char *user,
    const char *inst, chat_store_fn fn, void *arg)
{
	struct store_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		struct chat_store_res res = { 0 };

		log_warnx("presence: out of memory");
		fn(&res, arg);
		return NULL;
	}
	op->kind = kind, op->fn = fn, op->arg = arg;
	if (s != NULL)
		store_stream_key(s, op->stream);
	if (user != NULL)
		snprintf(op->user, sizeof(op->user), "%s", user);
	if (inst != NULL)
		snprintf(op->inst, sizeof(op->inst), "%s", inst);
	return op;
}

static void
store_start(enum store_kind kind, const struct chat_typing_stream *s, const char *user,
    const char *inst, chat_store_fn fn, void *arg)
{
	struct store_op *op = store_op_new(kind, s, user, inst, fn, arg);

	if (op != NULL)
		store_run(op);
}

void
chat_store_typing_start(const struct chat_typing_stream *s, const char *user,
    chat_store_fn fn, void *arg)
{
	store_start(ST_TYPING_START, s, user, NULL, fn, arg);
}

void
chat_store_typing_stop(const struct chat_typing_stream *s, const char *user,
    chat_store_fn fn, void *arg)
{
	store_start(ST_TYPING_STOP, s, user, NULL, fn, arg);
}

void
chat_store_typing_list(const struct chat_typing_stream *s, chat_store_fn fn, void *arg)
{
	store_start(ST_TYPING_LIST, s, NULL, NULL, fn, arg);
}

void
chat_store_typing_sweep(chat_store_fn fn, void *arg)
{
	store_start(ST_SWEEP, NULL, NULL, NULL, fn, arg);
}

void
chat_store_presence_attach(const char *user, const char *inst, chat_store_fn fn,
    void *arg)
{
	store_start(ST_ATTACH, NULL, user, inst, fn, arg);
}

void
chat_store_presence_detach(const char *user, const char *inst, chat_store_fn fn,
    void *arg)
{
	store_start(ST_DETACH, NULL, user, inst, fn, arg);
}

void
chat_store_presence_reset(const char *inst, chat_store_fn fn, void *arg)
{
	store_start(ST_RESET, NULL, NULL, inst, fn, arg);
}

void
chat_store_presence_connected(const char *csv, chat_store_fn fn, void *arg)
{
	struct store_op *op;

	if (*csv == '\0') {
		struct chat_store_res res = { 0 };
		fn(&res, arg);
		return;
	}
	if ((op = store_op_new(ST_CONNECTED, NULL, NULL, NULL, fn, arg)) == NULL)
		return;
	if ((op->csv = strdup(csv)) == NULL) {
		struct chat_store_res res = { 0 };

		log_warnx("presence: out of memory");
		free(op);
		fn(&res, arg);
		return;
	}
	store_run(op);
}
