/* Room and conversation events: ephemeral events (those chat.emit and
 * chat.dm_emit wrote are published by svc_call, libcommon/svc_reply.c, on
 * the topics room.<uuid> and dm.<uuid>), and the internal routes
 * gatewayd's WebSocket hub calls on behalf of a user: subscribing
 * (membership and the stream's current seq) and reading the events after
 * a seq (resume, and filling a gap it noticed). A conversation's event
 * carries "to", the members it is for, which gatewayd reads and drops
 * (sql/chat/006_dm.sql). */
#include "chatd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

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

void
chat_publish_ephemeral(const char *type, const char *room, const char *user,
    const cJSON *payload)
{
	cJSON *env = svc_ephemeral(type, "room_id", room, user, payload);

	if (env != NULL)
		svc_publish(chatd.svc, "room", room, env);
	cJSON_Delete(env);
}

void
chat_publish_dm_ephemeral(const char *type, const char *conv, const char *user,
    const cJSON *payload, const cJSON *to)
{
	cJSON *env = svc_ephemeral(type, "conversation_id", conv, user, payload);

	if (env != NULL && cJSON_AddItemToObject(env, "to", cJSON_Duplicate(to, true)))
		svc_publish(chatd.svc, "dm", conv, env);
	cJSON_Delete(env);
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

	if (!svc_query_uuid(r, st->param, id) ||
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

	if (!svc_query_uuid(r, st->param, id) ||
	    !svc_query_int(r, "after", 0, 0x7fffffffffffffffL, 0, &n))
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
