/* Leaving on disconnect: a participant whose sockets have all closed is
 * taken out of its voice channel within 5 s and the room is told
 * (voice-left). Every second voiced reads the participants and asks Redis
 * whether each holds a socket on some gatewayd (the set
 * enclavr:presence:<user> that chatd keeps, docs/presence.md). One absent
 * for GONE_MS is removed (voice.leave_all) if it was seen connected since
 * voiced started, or joined over UNSEEN_GRACE_S ago (a client that never
 * opened a socket, or a voiced that restarted and has not seen it yet).
 * Without Redis nothing is removed: nobody knows who is connected. */
#include "voiced.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "svc_reply.h"

#define LIVENESS_TICK_MS 1000
#define GONE_MS 2000
#define UNSEEN_GRACE_S 30
#define LIVENESS_MAX 4096		/* participants followed at once */

const struct pg_stmt voice_liveness_stmts[] = {
	{ "voice_liveness_participants", "SELECT user_id::text,"
	  " extract(epoch FROM now() - joined_at)::bigint FROM voice.participants"
	  " LIMIT 4096", 0 },
	{ "voice_liveness_leave", SVC_REPLY("voice.leave_all($1)"), 1 },
	{ NULL, NULL, 0 },
};

/* What is known of one participant. */
struct liveness_user {
	char id[UUID_STRLEN + 1];
	long long joined_s;		/* seconds in the channel */
	bool seen;			/* held a socket since voiced started */
	long long absent_ms;		/* since when it holds none; 0: it does */
	bool current;			/* in this tick's participants */
};

static struct {
	struct liveness_user users[LIVENESS_MAX];
	int n;
	int pending;			/* Redis answers this tick waits for */
	bool running;
	struct event *tick;
} live;

static struct liveness_user *
liveness_find(const char *id)
{
	for (int i = 0; i < live.n; i++)
		if (strcmp(live.users[i].id, id) == 0)
			return &live.users[i];
	return NULL;
}

static void
liveness_left_cb(PGresult *res, void *arg)
{
	(void)arg;
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		svc_publish_column(voiced.svc, res, 2);
	else
		log_warnx("voice: could not remove a disconnected participant");
}

/* u holds no socket: removed once it has been away long enough. */
static void
liveness_absent(struct liveness_user *u, long long now)
{
	const char *params[1] = { u->id };

	if (u->absent_ms == 0)
		u->absent_ms = now;
	if (now - u->absent_ms < GONE_MS || (!u->seen && u->joined_s < UNSEEN_GRACE_S))
		return;
	log_info("voice: %s has no socket left; leaving its channel", u->id);
	u->absent_ms = now;		/* once per GONE_MS at most */
	if (pg_exec(svc_pg(voiced.svc), "voice_liveness_leave", params, liveness_left_cb,
	    NULL) < 0)
		log_warnx("voice: database busy; %s stays for now", u->id);
}

static void
liveness_scard_cb(redisReply *reply, void *arg)
{
	struct liveness_user *u = arg;

	live.pending--;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
		if (reply->integer > 0) {
			u->seen = true;
			u->absent_ms = 0;
		} else {
			liveness_absent(u, time_mono_ms());
		}
	}
	if (live.pending == 0)
		live.running = false;
}

/* Keeps this tick's participants (their order in live.users is free). */
static void
liveness_forget_gone(void)
{
	for (int i = 0; i < live.n;)
		if (!live.users[i].current)
			live.users[i] = live.users[--live.n];
		else
			i++;
}

static void
liveness_participants_cb(PGresult *res, void *arg)
{
	struct redis_conn *redis = svc_redis(voiced.svc);
	(void)arg;

	live.running = false;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || !redis_up(redis))
		return;
	for (int i = 0; i < live.n; i++)
		live.users[i].current = false;
	for (int i = 0; i < PQntuples(res); i++) {
		struct liveness_user *u = liveness_find(PQgetvalue(res, i, 0));
		if (u == NULL && live.n < LIVENESS_MAX) {
			u = &live.users[live.n++];
			memset(u, 0, sizeof(*u));
			memcpy(u->id, PQgetvalue(res, i, 0), sizeof(u->id) - 1);
		}
		if (u == NULL)
			break;
		u->current = true;
		u->joined_s = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	liveness_forget_gone();
	for (int i = 0; i < live.n; i++)
		if (redis_command(redis, liveness_scard_cb, &live.users[i],
		    "SCARD enclavr:presence:%s", live.users[i].id) == 0)
			live.pending++;
	live.running = live.pending > 0;
}

static void
liveness_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (live.running || !redis_up(svc_redis(voiced.svc)))
		return;		/* the last tick is not done, or nobody knows */
	live.running = pg_exec(svc_pg(voiced.svc), "voice_liveness_participants", NULL,
	    liveness_participants_cb, NULL) == 0;
}

int
voice_liveness_init(void)
{
	struct timeval tv = { LIVENESS_TICK_MS / 1000, (LIVENESS_TICK_MS % 1000) * 1000 };

	if (svc_redis(voiced.svc) == NULL)
		log_warnx("voice: no Redis: participants who disconnect stay in their channel");
	live.tick = event_new(svc_base(voiced.svc), -1, EV_PERSIST, liveness_tick_cb, NULL);
	return live.tick == NULL || event_add(live.tick, &tv) < 0 ? -1 : 0;
}

void
voice_liveness_fini(void)
{
	if (live.tick != NULL)
		event_free(live.tick);
	live.tick = NULL;
}
