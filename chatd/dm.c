/* Direct messages between two users (reference §1.9, §2.4): send, the
 * conversation list, history with cursor pages, edit, delete, reactions
 * and read receipts. Every route is one call of a chat.dm_* function
 * (sql/chat/006_dm.sql) that checks blocks, privacy and membership in the
 * transaction that writes; its events go to both users' sockets
 * (events.c publishes them on dm.<conversation>). */
#include "chatd.h"

#include <stdio.h>


#define CHAT_DM_PAGE_DEFAULT 100	/* the reference's fixed "last 100" */
#define CHAT_DM_PAGE_MAX 100
#define CHAT_DM_LIST_DEFAULT 100
#define CHAT_DM_LIST_MAX 200
#define CHAT_DM_BODY_MAX 65536		/* 4000 characters as \uXXXX pairs */

const struct pg_stmt chat_dm_stmts[] = {
	{ "chat_dm_send", SVC_REPLY("chat.dm_send($1, $2, $3)"), 3 },
	{ "chat_dm_conversations", SVC_REPLY("chat.dm_conversations($1, $2, $3)"), 3 },
	{ "chat_dm_history", SVC_REPLY("chat.dm_history($1, $2, $3, $4, $5)"), 5 },
	{ "chat_dm_update", SVC_REPLY("chat.dm_update($1, $2, $3)"), 3 },
	{ "chat_dm_delete", SVC_REPLY("chat.dm_delete($1, $2)"), 2 },
	{ "chat_dm_reaction_add", SVC_REPLY("chat.dm_reaction_add($1, $2, $3)"), 3 },
	{ "chat_dm_reaction_remove", SVC_REPLY("chat.dm_reaction_remove($1, $2, $3)"), 3 },
	{ "chat_dm_reactions_of", SVC_REPLY("chat.dm_reactions_of($1, $2)"), 2 },
	{ "chat_dm_read", SVC_REPLY("chat.dm_read($1, $2)"), 2 },
	{ "chat_dm_read_all", SVC_REPLY("chat.dm_read_all($1, $2)"), 2 },
	{ "chat_dm_read_status", SVC_REPLY("chat.dm_read_status($1, $2)"), 2 },
	{ NULL, NULL, 0 },
};

/* Calls stmt with the caller and the query's UUID name: (user, id). */
static void
chat_dm_call_user_id(struct svc_request *r, const char *stmt, const char *name)
{
	char id[UUID_STRLEN + 1];
	const char *params[2] = { r->user_id, id };

	if (svc_query_uuid(r, name, id))
		svc_call(r, stmt, params);
}

/* POST /api/dm/send {receiver_id, content} → DirectMessageResponse. */
static void
chat_dm_send(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *params[3] = { r->user_id, NULL, NULL };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "receiver_id", true, &params[1]) &&
	    chat_content(r, body, true, &params[2]))
		svc_call(r, "chat_dm_send", params);
	cJSON_Delete(body);
}

/* GET /api/dm/conversations?limit=&before=<conversation_id> → one row per
 * peer, the latest activity first. */
static void
chat_dm_conversations(struct svc_request *r)
{
	char before[UUID_STRLEN + 1], limit[8];
	const char *params[3] = { r->user_id, limit, NULL };
	long n;

	if (!svc_query_int(r, "limit", 1, CHAT_DM_LIST_MAX, CHAT_DM_LIST_DEFAULT, &n) ||
	    !svc_query_uuid_opt(r, "before", before, &params[2]))
		return;
	snprintf(limit, sizeof(limit), "%ld", n);
	svc_call(r, "chat_dm_conversations", params);
}

/* GET /api/dm/messages?user_id=&limit=&before=|after= → newest first. */
static void
chat_dm_history(struct svc_request *r)
{
	char peer[UUID_STRLEN + 1];
	struct chat_page pg;
	const char *params[5] = { r->user_id, peer, pg.limit, NULL, NULL };

	if (!svc_query_uuid(r, "user_id", peer) ||
	    !chat_query_page(r, CHAT_DM_PAGE_DEFAULT, CHAT_DM_PAGE_MAX, &pg))
		return;
	params[3] = pg.before_p, params[4] = pg.after_p;
	svc_call(r, "chat_dm_history", params);
}

/* PUT /api/dm/update {message_id, content} → DirectMessageResponse. */
static void
chat_dm_update(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *params[3] = { NULL, r->user_id, NULL };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "message_id", true, &params[0]) &&
	    chat_content(r, body, true, &params[2]))
		svc_call(r, "chat_dm_update", params);
	cJSON_Delete(body);
}

/* DELETE /api/dm/delete {message_id} (or ?message_id=) → {"status":"deleted"}. */
static void
chat_dm_delete(struct svc_request *r)
{
	svc_call_param(r, "chat_dm_delete", "message_id");
}

/* POST /api/dm/reaction/add {message_id, emoji} → DMReactionResponse. */
static void
chat_dm_reaction_add(struct svc_request *r)
{
	chat_reaction_add_call(r, "chat_dm_reaction_add");
}

/* DELETE /api/dm/reaction/remove?message_id=&emoji= → {"status":"removed"}. */
static void
chat_dm_reaction_remove(struct svc_request *r)
{
	chat_reaction_remove_call(r, "chat_dm_reaction_remove");
}

/* GET /api/dm/reactions?message_id= → the reactions, oldest first. */
static void
chat_dm_reactions_of(struct svc_request *r)
{
	svc_call_param(r, "chat_dm_reactions_of", "message_id");
}

/* POST /api/dm/read {message_id} → {status, message_id, read_at}. */
static void
chat_dm_read(struct svc_request *r)
{
	svc_call_param(r, "chat_dm_read", "message_id");
}

/* POST /api/dm/read/all?peer_id= → {"marked_count":n,"status":"ok"}. */
static void
chat_dm_read_all(struct svc_request *r)
{
	chat_dm_call_user_id(r, "chat_dm_read_all", "peer_id");
}

/* GET /api/dm/read/status?peer_id= → both read watermarks. */
static void
chat_dm_read_status(struct svc_request *r)
{
	chat_dm_call_user_id(r, "chat_dm_read_status", "peer_id");
}

static const struct svc_route chat_dm_list[] = {
	{ { "POST", "/api/dm/send", ROUTE_USER, CHAT_DM_BODY_MAX, "default" }, chat_dm_send },
	{ { "GET", "/api/dm/conversations", ROUTE_USER, 0, "default" }, chat_dm_conversations },
	{ { "GET", "/api/dm/messages", ROUTE_USER, 0, "default" }, chat_dm_history },
	{ { "PUT", "/api/dm/update", ROUTE_USER, CHAT_DM_BODY_MAX, "default" }, chat_dm_update },
	{ { "DELETE", "/api/dm/delete", ROUTE_USER, 1024, "default" }, chat_dm_delete },
	{ { "POST", "/api/dm/reaction/add", ROUTE_USER, 1024, "default" }, chat_dm_reaction_add },
	{ { "DELETE", "/api/dm/reaction/remove", ROUTE_USER, 0, "default" },
	  chat_dm_reaction_remove },
	{ { "GET", "/api/dm/reactions", ROUTE_USER, 0, "default" }, chat_dm_reactions_of },
	{ { "POST", "/api/dm/read", ROUTE_USER, 1024, "default" }, chat_dm_read },
	{ { "POST", "/api/dm/read/all", ROUTE_USER, 0, "default" }, chat_dm_read_all },
	{ { "GET", "/api/dm/read/status", ROUTE_USER, 0, "default" }, chat_dm_read_status },
};

const struct svc_routes chat_dm_routes = {
	chat_dm_list, sizeof(chat_dm_list) / sizeof(chat_dm_list[0])
};
