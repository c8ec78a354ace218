/* Pinned messages (reference §1.8): members list them; moderators and up
 * of the message's room (and global admins) pin and unpin. */
#include "chatd.h"

const struct pg_stmt chat_pins_stmts[] = {
	{ "chat_pins_of", SVC_REPLY("chat.pins_of($1, $2, $3)"), 3 },
	{ "chat_pin_add", SVC_REPLY("chat.pin_add($1, $2, $3, $4)"), 4 },
	{ "chat_pin_remove", SVC_REPLY("chat.pin_remove($1, $2, $3)"), 3 },
	{ NULL, NULL, 0 },
};

/* GET /api/pinnedmessages?room_id= → the pins, newest first. */
static void
chat_pins_of(struct svc_request *r)
{
	svc_call_id(r, "chat_pins_of", "room_id");
}

/* POST /api/pinnedmessage/pin?room_id= {message_id} → the pin. room_id
 * may be left out (or given in the body); when given it must be the
 * message's room. */
static void
chat_pin_add(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	const char *params[4] = { NULL, NULL, r->user_id, svc_admin(r) };
	cJSON *body;

	if (!svc_query_uuid_opt(r, "room_id", room, &params[0]) ||
	    (body = svc_request_json(r)) == NULL)
		return;
	if (svc_body_uuid(r, body, "message_id", true, &params[1]) &&
	    (params[0] != NULL || svc_body_uuid(r, body, "room_id", false, &params[0])))
		svc_call(r, "chat_pin_add", params);
	cJSON_Delete(body);
}

/* DELETE /api/pinnedmessage/unpin?pin_id= → {"status":"unpinned"}. */
static void
chat_pin_remove(struct svc_request *r)
{
	svc_call_id(r, "chat_pin_remove", "pin_id");
}

static const struct svc_route chat_pins_list[] = {
	{ { "GET", "/api/pinnedmessages", ROUTE_USER, 0, "default" }, chat_pins_of },
	{ { "POST", "/api/pinnedmessage/pin", ROUTE_USER, 1024, "default" }, chat_pin_add },
	{ { "DELETE", "/api/pinnedmessage/unpin", ROUTE_USER, 0, "default" }, chat_pin_remove },
};

const struct svc_routes chat_pins_routes = {
	chat_pins_list, sizeof(chat_pins_list) / sizeof(chat_pins_list[0])
};
