/* Room and conversation events: publishing what chat.emit and
 * chat.dm_emit wrote (topics room.<uuid> and dm.<uuid>) and ephemeral
 * events, and the internal routes gatewayd's WebSocket hub calls on behalf
 * of a user: subscribing (membership and the stream's current seq) and
 * reading the events after a seq (resume, and filling a gap it noticed).
 * A conversation's event carries "to", the members it is for, which
 * gatewayd reads and drops (sql/chat/006_dm.sql). */
#include "chatd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

#define CHAT_EVENTS_PAGE 500

const struct pg_stmt chat_events_stmts[] = {
	{ "chat_subscribe", "SELECT m.role, r.last_seq FROM chat.rooms r"
	  " LEFT JOIN chat.members m ON m.room_id = r.id AND m.user_id = $2"
	  " WHERE r.id = $1", 2 },
	{ "chat_events_after", "SELECT e.envelope::text FROM chat.events e"
	  " WHERE e.room_id = $1 AND e.seq > $3"
	  " AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM chat.members m"
	  " WHERE m.room_id = $1 AND m.user_id = $2))"
	  " ORDER BY e.seq LIMIT $4", 4 },
	{ "chat_dm_subscribe", "SELECT m.role, c.last_seq FROM chat.conversations c"
	  " LEFT JOIN chat.conversation_members m"
	  " ON m.conversation_id = c.id AND m.user_id = $2"
	  " WHERE c.id = $1", 2 },
	{ "chat_dm_events_after", "SELECT e.envelope::text FROM chat.conversation_events e"
	  " WHERE e.conversation_id = $1 AND e.seq > $3"
	  " AND ($2::uuid IS NULL OR chat.is_conversation_member($1, $2))"
	  " ORDER BY e.seq LIMIT $4", 4 },
	{ NULL, NULL, 0 },
};

/* A stream of events: a room's or a conversation's. */
struct chat_stream {
	const char *param;		/* its id's query parameter */
	const char *subscribe, *events;	/* statements */
	const char *not_found, *not_member;
};

static const struct chat_stream chat_room_stream = {
	"room_id", "chat_subscribe", "chat_events_after",
	"Room not found", "You are not a member of this room",
};

static const struct chat_stream chat_dm_stream = {
	"conversation_id", "chat_dm_subscribe", "chat_dm_events_after",
	"Conversation not found", "You are not a member of this conversation",
};

/* Publishes env on <prefix>.<id>. */
static void
chat_publish_obj(const char *prefix, const char *id, const cJSON *env)
{
	char topic[8 + UUID_STRLEN + 1];

	snprintf(topic, sizeof(topic), "%s.%s", prefix, id);
	if (ipc_publish(svc_pub(chatd.svc), topic, env) < 0)
		log_warnx("events: could not publish on %s", topic);
}

/* An ephemeral envelope {type, <key>: id, user_id, target_user_id (nil),
 * payload (copied; omitted when NULL), timestamp}; NULL when out of memory. */
static cJSON *
chat_ephemeral(const char *type, const char *key, const char *id, const char *user,
    const cJSON *payload)
{
	cJSON *env = cJSON_CreateObject();
	char now[RFC3339_STRLEN];

	time_now_rfc3339(now, sizeof(now));
	if (env != NULL &&
	    cJSON_AddStringToObject(env, "type", type) != NULL &&
	    cJSON_AddStringToObject(env, key, id) != NULL &&
	    cJSON_AddStringToObject(env, "user_id", user) != NULL &&
	    cJSON_AddStringToObject(env, "target_user_id", CHAT_NIL_UUID) != NULL &&
	    (payload == NULL ||
	    cJSON_AddItemToObject(env, "payload", cJSON_Duplicate(payload, true))) &&
	    cJSON_AddStringToObject(env, "timestamp", now) != NULL)
		return env;
	log_warnx("events: out of memory; %s of %s not published", type, id);
	cJSON_Delete(env);
	return NULL;
}

void
chat_publish_ephemeral(const char *type, const char *room, const char *user,
    const cJSON *payload)
{
	cJSON *env = chat_ephemeral(type, "room_id", room, user, payload);

	if (env != NULL)
		chat_publish_obj("room", room, env);
	cJSON_Delete(env);
}

void
chat_publish_dm_ephemeral(const char *type, const char *conv, const char *user,
    const cJSON *payload, const cJSON *to)
{
	cJSON *env = chat_ephemeral(type, "conversation_id", conv, user, payload);

	if (env != NULL && cJSON_AddItemToObject(env, "to", cJSON_Duplicate(to, true)))
		chat_publish_obj("dm", conv, env);
	cJSON_Delete(env);
}

void
chat_publish_column(const PGresult *res, int col)
{
	for (int i = 0; i < PQntuples(res); i++) {
		const char *env = PQgetvalue(res, i, col);
		cJSON *o;
		const char *room, *conv;

		if (PQgetisnull(res, i, col))
			continue;
		o = json_parse_exact(env, strlen(env));
		room = json_str(o, "room_id");
		conv = json_str(o, "conversation_id");
		if (room != NULL) {
			chat_publish_obj("room", room, o);
			chat_typing_after(o);
		} else if (conv != NULL) {
			chat_publish_obj("dm", conv, o);
			chat_typing_after(o);
		}
		cJSON_Delete(o);
	}
}

/* A subscription being checked. */
struct chat_sub_op {
	struct svc_op op;
	const struct chat_stream *st;
};

static void
chat_sub_op_free(struct svc_op *op)
{
	free(op);
}

static void
chat_subscribe_cb(PGresult *res, void *arg)
{
	struct svc_op *op = arg;
	const struct chat_stream *st = ((struct chat_sub_op *)op)->st;
	cJSON *o;

	if (!svc_op_ok(op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(op, 404, "not_found", st->not_found);
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		svc_op_fail(op, 403, "not_member", st->not_member);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "role", PQgetvalue(res, 0, 0));
	cJSON_AddNumberToObject(o, "seq", strtod(PQgetvalue(res, 0, 1), NULL));
	svc_op_done(op, 200, o);
}

/* GET /internal/<chat|dm>/subscribe?<param>= → {role, seq} for a member. */
static void
chat_subscribe(struct svc_request *r, const struct chat_stream *st)
{
	char id[UUID_STRLEN + 1];
	const char *params[2] = { id, r->user_id };
	struct chat_sub_op *op;

	if (!chat_query_uuid(r, st->param, id) ||
	    (op = svc_op_new(r, NULL, sizeof(*op), chat_sub_op_free)) == NULL)
		return;
	op->st = st;
	svc_op_query(&op->op, st->subscribe, params, chat_subscribe_cb);
}

static void
chat_events_after_cb(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *list;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	list = cJSON_CreateArray();
	for (int i = 0; list != NULL && i < PQntuples(res); i++) {
		const char *env = PQgetvalue(res, i, 0);
		cJSON_AddItemToArray(list, json_parse_exact(env, strlen(env)));
	}
	svc_respond(r, 200, list);
}

/* GET /internal/<chat|dm>/events?<param>=&after=N → the next events in
 * order (at most 500; call again after the last one's seq). For a user,
 * empty unless a member; without one, the hub filling a gap in a stream
 * whose sockets it already checked. */
static void
chat_events_after(struct svc_request *r, const struct chat_stream *st)
{
	char id[UUID_STRLEN + 1], after[24], limit[8];
	const char *params[4] = { id, r->user_id, after, limit };
	long n;

	if (!chat_query_uuid(r, st->param, id) ||
	    !chat_query_int(r, "after", 0, 0x7fffffffffffffffL, 0, &n))
		return;
	snprintf(after, sizeof(after), "%ld", n);
	snprintf(limit, sizeof(limit), "%d", CHAT_EVENTS_PAGE);
	svc_query(r, st->events, params, chat_events_after_cb, r);
}

static void
chat_room_subscribe(struct svc_request *r)
{
	chat_subscribe(r, &chat_room_stream);
}

static void
chat_room_events(struct svc_request *r)
{
	chat_events_after(r, &chat_room_stream);
}

static void
chat_dm_subscribe(struct svc_request *r)
{
	chat_subscribe(r, &chat_dm_stream);
}

static void
chat_dm_events(struct svc_request *r)
{
	chat_events_after(r, &chat_dm_stream);
}

static const struct svc_route chat_events_list[] = {
	{ { "GET", "/internal/chat/subscribe", ROUTE_INTERNAL, 0, "default" }, chat_room_subscribe },
	{ { "GET", "/internal/chat/events", ROUTE_INTERNAL, 0, "default" }, chat_room_events },
	{ { "GET", "/internal/dm/subscribe", ROUTE_INTERNAL, 0, "default" }, chat_dm_subscribe },
	{ { "GET", "/internal/dm/events", ROUTE_INTERNAL, 0, "default" }, chat_dm_events },
};

const struct svc_routes chat_events_routes = {
	chat_events_list, sizeof(chat_events_list) / sizeof(chat_events_list[0])
};
