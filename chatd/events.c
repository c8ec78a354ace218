/* Room events: publishing what chat.emit wrote (topic room.<uuid>) and
 * ephemeral events, and the internal routes gatewayd's WebSocket hub calls
 * on behalf of a user: subscribing (membership and the room's current
 * seq) and reading the events after a seq (resume, and filling a gap it
 * noticed). */
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
	{ NULL, NULL, 0 },
};

/* Publishes env on room.<room_id>. */
static void
chat_publish_obj(const char *room_id, const cJSON *env)
{
	char topic[8 + UUID_STRLEN + 1];

	snprintf(topic, sizeof(topic), "room.%s", room_id);
	if (ipc_publish(svc_pub(chatd.svc), topic, env) < 0)
		log_warnx("events: could not publish on %s", topic);
}

void
chat_publish_ephemeral(const char *type, const char *room, const char *user,
    const cJSON *payload)
{
	cJSON *env = cJSON_CreateObject();
	char now[RFC3339_STRLEN];

	time_now_rfc3339(now, sizeof(now));
	if (env != NULL &&
	    cJSON_AddStringToObject(env, "type", type) != NULL &&
	    cJSON_AddStringToObject(env, "room_id", room) != NULL &&
	    cJSON_AddStringToObject(env, "user_id", user) != NULL &&
	    cJSON_AddStringToObject(env, "target_user_id", CHAT_NIL_UUID) != NULL &&
	    (payload == NULL ||
	    cJSON_AddItemToObject(env, "payload", cJSON_Duplicate(payload, true))) &&
	    cJSON_AddStringToObject(env, "timestamp", now) != NULL)
		chat_publish_obj(room, env);
	else
		log_warnx("events: out of memory; %s in room %s not published", type, room);
	cJSON_Delete(env);
}

void
chat_publish_column(const PGresult *res, int col)
{
	for (int i = 0; i < PQntuples(res); i++) {
		const char *env = PQgetvalue(res, i, col);
		cJSON *o;
		const cJSON *room;

		if (PQgetisnull(res, i, col))
			continue;
		o = json_parse_exact(env, strlen(env));
		room = cJSON_GetObjectItemCaseSensitive(o, "room_id");
		if (cJSON_IsString(room)) {
			chat_publish_obj(room->valuestring, o);
			chat_typing_after(o);
		}
		cJSON_Delete(o);
	}
}

static void
chat_subscribe_cb(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *o;

	if (!svc_result_one(r, res, "Room not found"))
		return;
	if (PQgetisnull(res, 0, 0)) {
		svc_respond_error(r, 403, "not_member", "You are not a member of this room");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "role", PQgetvalue(res, 0, 0));
	cJSON_AddNumberToObject(o, "seq", strtod(PQgetvalue(res, 0, 1), NULL));
	svc_respond(r, 200, o);
}

/* GET /internal/chat/subscribe?room_id= → {role, seq} for a member. */
static void
chat_subscribe(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	const char *params[2] = { room, r->user_id };

	if (chat_query_uuid(r, "room_id", room))
		svc_query(r, "chat_subscribe", params, chat_subscribe_cb, r);
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

/* GET /internal/chat/events?room_id=&after=N → the next events in order
 * (at most 500; call again after the last one's seq). For a user, empty
 * unless a member; without one, the hub filling a gap in a room whose
 * sockets it already checked. */
static void
chat_events_after(struct svc_request *r)
{
	char room[UUID_STRLEN + 1], after[24], limit[8];
	const char *params[4] = { room, r->user_id, after, limit };
	long n;

	if (!chat_query_uuid(r, "room_id", room) ||
	    !chat_query_int(r, "after", 0, 0x7fffffffffffffffL, 0, &n))
		return;
	snprintf(after, sizeof(after), "%ld", n);
	snprintf(limit, sizeof(limit), "%d", CHAT_EVENTS_PAGE);
	svc_query(r, "chat_events_after", params, chat_events_after_cb, r);
}

static const struct svc_route chat_events_list[] = {
	{ { "GET", "/internal/chat/subscribe", ROUTE_INTERNAL, 0, "default" }, chat_subscribe },
	{ { "GET", "/internal/chat/events", ROUTE_INTERNAL, 0, "default" }, chat_events_after },
};

const struct svc_routes chat_events_routes = {
	chat_events_list, sizeof(chat_events_list) / sizeof(chat_events_list[0])
};
