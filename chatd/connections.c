/* Friendships (connections, reference §1.15): a user asks another to be
 * friends; the other accepts or rejects; either ends it. Asking someone
 * who has already asked you accepts their request. Requests obey blocks
 * and the target's allow_friend_requests privacy setting. Every route is
 * one call of a chat.connection* function (sql/chat/007_social.sql),
 * whose answers name the other user as connected_user_id. */
#include "chatd.h"

#include <string.h>

#include "url.h"

#define CHAT_CONNECTION_BODY_MAX 1024

const struct pg_stmt chat_connections_stmts[] = {
	{ "chat_connections_of", SVC_REPLY("chat.connections_of($1, $2, $3)"), 3 },
	{ "chat_connection_request", SVC_REPLY("chat.connection_request($1, $2)"), 2 },
	{ "chat_connection_accept", SVC_REPLY("chat.connection_accept($1, $2)"), 2 },
	{ "chat_connection_reject", SVC_REPLY("chat.connection_reject($1, $2)"), 2 },
	{ "chat_connection_remove", SVC_REPLY("chat.connection_remove($1, $2)"), 2 },
	{ "chat_connection_status", SVC_REPLY("chat.connection_status($1, $2)"), 2 },
	{ NULL, NULL, 0 },
};

/* Calls stmt with the body's connected_user_id and the caller: the shape
 * of every POST route here. */
static void
chat_connection_call(struct svc_request *r, const char *stmt)
{
	cJSON *body = svc_request_json(r);
	const char *params[2] = { NULL, r->user_id };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "connected_user_id", true, &params[0]))
		svc_call(r, stmt, params);
	cJSON_Delete(body);
}

/* Calls chat_connections_of for the caller's connections of status and
 * direction (NULL: both ways). */
static void
chat_connections_call(struct svc_request *r, const char *status, const char *direction)
{
	const char *params[3] = { r->user_id, status, direction };

	svc_call(r, "chat_connections_of", params);
}

/* GET /api/connections?status=accepted|pending (accepted when absent) →
 * {"connections":[...],"total":n}. */
static void
chat_connections_get(struct svc_request *r)
{
	char status[16];
	int n = url_query_param(r->query ? r->query : "", "status", status, sizeof(status));

	if (n == 0)
		chat_connections_call(r, "accepted", NULL);
	else if (n > 0 && (strcmp(status, "accepted") == 0 || strcmp(status, "pending") == 0))
		chat_connections_call(r, status, NULL);
	else
		svc_respond_error(r, 400, "invalid_parameter",
		    "status must be accepted or pending");
}

/* GET /api/connections/pending → the requests others sent the caller. */
static void
chat_connections_pending(struct svc_request *r)
{
	chat_connections_call(r, "pending", "incoming");
}

/* GET /api/connections/sent → the caller's requests not yet answered. */
static void
chat_connections_sent(struct svc_request *r)
{
	chat_connections_call(r, "pending", "outgoing");
}

/* POST /api/connections/request {connected_user_id} → 201 the connection
 * (pending, or accepted when they had asked the caller). */
static void
chat_connection_request(struct svc_request *r)
{
	chat_connection_call(r, "chat_connection_request");
}

/* POST /api/connections/accept {connected_user_id} → the connection. */
static void
chat_connection_accept(struct svc_request *r)
{
	chat_connection_call(r, "chat_connection_accept");
}

/* POST /api/connections/reject {connected_user_id} → {"status":"rejected"}. */
static void
chat_connection_reject(struct svc_request *r)
{
	chat_connection_call(r, "chat_connection_reject");
}

/* POST /api/connections/remove {connected_user_id} → {"status":"removed"}. */
static void
chat_connection_remove(struct svc_request *r)
{
	chat_connection_call(r, "chat_connection_remove");
}

/* GET /api/connections/status?user_id= → {status[, direction]}. */
static void
chat_connection_status(struct svc_request *r)
{
	svc_call_id(r, "chat_connection_status", "user_id");
}

/* POST /api/connections/block {connected_user_id, reason?} → 201 the
 * block, as POST /api/block. */
static void
chat_connection_block(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);

	if (body == NULL)
		return;
	chat_block_user(r, body, "connected_user_id");
	cJSON_Delete(body);
}

static const struct svc_route chat_connections_list[] = {
	{ { "GET", "/api/connections", ROUTE_USER, 0, "default" }, chat_connections_get },
	{ { "POST", "/api/connections/request", ROUTE_USER, CHAT_CONNECTION_BODY_MAX,
	    "default" }, chat_connection_request },
	{ { "POST", "/api/connections/accept", ROUTE_USER, CHAT_CONNECTION_BODY_MAX,
	    "default" }, chat_connection_accept },
	{ { "POST", "/api/connections/reject", ROUTE_USER, CHAT_CONNECTION_BODY_MAX,
	    "default" }, chat_connection_reject },
	{ { "POST", "/api/connections/remove", ROUTE_USER, CHAT_CONNECTION_BODY_MAX,
	    "default" }, chat_connection_remove },
	{ { "GET", "/api/connections/pending", ROUTE_USER, 0, "default" },
	  chat_connections_pending },
	{ { "GET", "/api/connections/sent", ROUTE_USER, 0, "default" }, chat_connections_sent },
	{ { "GET", "/api/connections/status", ROUTE_USER, 0, "default" },
	  chat_connection_status },
	{ { "POST", "/api/connections/block", ROUTE_USER, CHAT_BLOCK_BODY_MAX, "default" },
	  chat_connection_block },
};

const struct svc_routes chat_connections_routes = {
	chat_connections_list,
	sizeof(chat_connections_list) / sizeof(chat_connections_list[0])
};
