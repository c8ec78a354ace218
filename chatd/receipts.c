/* Read receipts: marking a message read (idempotent: the first read's
 * time stays, a repeat answers the same), who has read a message, and the
 * newest message of a room the caller has read. */
#include "chatd.h"

const struct pg_stmt chat_receipts_stmts[] = {
	{ "chat_message_read", SVC_REPLY("chat.message_read($1, $2, $3)"), 3 },
	{ "chat_message_receipts", SVC_REPLY("chat.message_receipts($1, $2, $3)"), 3 },
	{ "chat_message_last_read", SVC_REPLY("chat.message_last_read($1, $2)"), 2 },
	{ NULL, NULL, 0 },
};

/* POST /api/message/read {message_id, room_id?} → {"status":"read"}. */
static void
chat_message_read(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *params[3] = { NULL, NULL, r->user_id };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "message_id", true, &params[0]) &&
	    svc_body_uuid(r, body, "room_id", false, &params[1]))
		svc_call(r, "chat_message_read", params);
	cJSON_Delete(body);
}

/* GET /api/message/read/receipts?message_id= → [{user_id, username, read_at}]. */
static void
chat_message_receipts(struct svc_request *r)
{
	svc_call_id(r, "chat_message_receipts", "message_id");
}

/* GET /api/message/read/last?room_id= → {message_id, read_at}. */
static void
chat_message_last_read(struct svc_request *r)
{
	svc_call_id(r, "chat_message_last_read", "room_id");
}

static const struct svc_route chat_receipts_list[] = {
	{ { "POST", "/api/message/read", ROUTE_USER, 1024, "default" }, chat_message_read },
	{ { "GET", "/api/message/read/receipts", ROUTE_USER, 0, "default" },
	  chat_message_receipts },
	{ { "GET", "/api/message/read/last", ROUTE_USER, 0, "default" }, chat_message_last_read },
};

const struct svc_routes chat_receipts_routes = {
	chat_receipts_list, sizeof(chat_receipts_list) / sizeof(chat_receipts_list[0])
};
