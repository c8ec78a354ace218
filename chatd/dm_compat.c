/* What gatewayd's adapter of the reference's DM socket (GET /api/dm/ws,
 * reference §3.3) asks of chatd, as internal routes on behalf of its user:
 * opening the conversation with a peer before the upgrade, and its
 * mark-read (a real read receipt, chat.dm_read) and mark-delivered (an
 * ephemeral dm-message-delivered to the other members) messages. */
#include "chatd.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "url.h"

const struct pg_stmt chat_dm_compat_stmts[] = {
	{ "chat_dm_open", SVC_REPLY("chat.dm_open($1, $2)"), 2 },
	{ "chat_dm_read_internal", SVC_REPLY("chat.dm_read($1, $2)"), 2 },
	/* The message's conversation and its members, for a member. */
	{ "chat_dm_delivered", "SELECT m.conversation_id::text,"
	  " (SELECT json_agg(user_id) FROM chat.conversation_members"
	  "  WHERE conversation_id = m.conversation_id)::text"
	  " FROM chat.dm_messages m"
	  " WHERE m.id = $1 AND chat.is_conversation_member(m.conversation_id, $2)", 2 },
	{ NULL, NULL, 0 },
};

/* Internal routes may come without a user; these need one. */
static bool
chat_dm_compat_user(struct svc_request *r)
{
	if (r->user_id != NULL && uuid_valid(r->user_id))
		return true;
	svc_respond_error(r, 401, "unauthorized", "A user is required");
	return false;
}

/* GET /internal/dm/open?peer_id= → {conversation_id, seq}. */
static void
chat_dm_open(struct svc_request *r)
{
	char peer[UUID_STRLEN + 1];
	const char *params[2] = { r->user_id, peer };

	if (chat_dm_compat_user(r) && svc_query_uuid(r, "peer_id", peer))
		svc_call(r, "chat_dm_open", params);
}

/* GET /internal/dm/read?message_id= → as POST /api/dm/read. */
static void
chat_dm_read_internal(struct svc_request *r)
{
	char id[UUID_STRLEN + 1];
	const char *params[2] = { id, r->user_id };

	if (chat_dm_compat_user(r) && svc_query_uuid(r, "message_id", id))
		svc_call(r, "chat_dm_read_internal", params);
}

static void
chat_dm_delivered_cb(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	const char *members;
	cJSON *to, *payload, *ok;
	char id[UUID_STRLEN + 1], now[RFC3339_STRLEN];

	if (!svc_result_one(r, res, "Message not found"))
		return;
	members = PQgetvalue(res, 0, 1);
	to = json_parse_exact(members, strlen(members));
	payload = cJSON_CreateObject();
	(void)url_query_param(r->query, "message_id", id, sizeof(id));
	time_now_rfc3339(now, sizeof(now));
	cJSON_AddStringToObject(payload, "message_id", id);
	cJSON_AddStringToObject(payload, "delivered_at", now);
	chat_publish_dm_ephemeral("dm-message-delivered", PQgetvalue(res, 0, 0), r->user_id,
	    payload, to);
	cJSON_Delete(payload);
	cJSON_Delete(to);
	ok = cJSON_CreateObject();
	cJSON_AddStringToObject(ok, "status", "ok");
	svc_respond(r, 200, ok);
}

/* GET /internal/dm/delivered?message_id= → {"status":"ok"}; the other
 * members get dm-message-delivered {message_id, delivered_at}. */
static void
chat_dm_delivered(struct svc_request *r)
{
	char id[UUID_STRLEN + 1];
	const char *params[2] = { id, r->user_id };

	if (chat_dm_compat_user(r) && svc_query_uuid(r, "message_id", id))
		svc_query(r, "chat_dm_delivered", params, chat_dm_delivered_cb, r);
}

static const struct svc_route chat_dm_compat_list[] = {
	{ { "GET", "/internal/dm/open", ROUTE_INTERNAL, 0, "default" }, chat_dm_open },
	{ { "GET", "/internal/dm/read", ROUTE_INTERNAL, 0, "default" }, chat_dm_read_internal },
	{ { "GET", "/internal/dm/delivered", ROUTE_INTERNAL, 0, "default" }, chat_dm_delivered },
};

const struct svc_routes chat_dm_compat_routes = {
	chat_dm_compat_list, sizeof(chat_dm_compat_list) / sizeof(chat_dm_compat_list[0])
};
