/* Blocks (reference §1.14): a user blocks another, with an optional
 * reason. A block refuses direct messages and friend requests both ways,
 * ends any request or friendship of the two, and keeps the blocked user's
 * room messages from mentioning the blocker. Every route is one call of a
 * chat.block_* function (sql/chat/007_social.sql); a user learns who
 * blocked them only from /api/block/blocked-by. */
#include "chatd.h"

#include "validate.h"

#define CHAT_BLOCK_REASON_MAX 255	/* characters */

const struct pg_stmt chat_blocks_stmts[] = {
	{ "chat_block_add", SVC_REPLY("chat.block_add($1, $2, $3)"), 3 },
	{ "chat_block_remove", SVC_REPLY("chat.block_remove($1, $2)"), 2 },
	{ "chat_block_list", SVC_REPLY("chat.block_list($1)"), 1 },
	{ "chat_block_check", SVC_REPLY("chat.block_check($1, $2)"), 2 },
	{ "chat_blocked_by", SVC_REPLY("chat.blocked_by($1)"), 1 },
	{ NULL, NULL, 0 },
};

void
chat_block_user(struct svc_request *r, const cJSON *body, const char *name)
{
	const char *params[3] = { NULL, r->user_id, NULL };
	const char *why;

	if (!svc_body_uuid(r, body, name, true, &params[0]))
		return;
	why = valid_member_text(body, "reason", false, 0, CHAT_BLOCK_REASON_MAX, &params[2]);
	if (why != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return;
	}
	svc_call(r, "chat_block_add", params);
}

/* POST /api/block {blocked_id, reason?} → 201 the block. */
static void
chat_block_add(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);

	if (body == NULL)
		return;
	chat_block_user(r, body, "blocked_id");
	cJSON_Delete(body);
}

/* DELETE /api/block/unblock?blocked_id= → {"status":"unblocked"}. */
static void
chat_block_remove(struct svc_request *r)
{
	svc_call_id(r, "chat_block_remove", "blocked_id");
}

/* GET /api/block/list → the users the caller blocked, newest first. */
static void
chat_block_list(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_call(r, "chat_block_list", params);
}

/* GET /api/block/check?user_id= → {"is_blocked":bool}. */
static void
chat_block_check(struct svc_request *r)
{
	svc_call_id(r, "chat_block_check", "user_id");
}

/* GET /api/block/blocked-by → [{user_id, username, created_at}]. */
static void
chat_blocked_by(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_call(r, "chat_blocked_by", params);
}

static const struct svc_route chat_blocks_list[] = {
	{ { "POST", "/api/block", ROUTE_USER, CHAT_BLOCK_BODY_MAX, "default" }, chat_block_add },
	{ { "DELETE", "/api/block/unblock", ROUTE_USER, 0, "default" }, chat_block_remove },
	{ { "GET", "/api/block/list", ROUTE_USER, 0, "default" }, chat_block_list },
	{ { "GET", "/api/block/check", ROUTE_USER, 0, "default" }, chat_block_check },
	{ { "GET", "/api/block/blocked-by", ROUTE_USER, 0, "default" }, chat_blocked_by },
};

const struct svc_routes chat_blocks_routes = {
	chat_blocks_list, sizeof(chat_blocks_list) / sizeof(chat_blocks_list[0])
};
