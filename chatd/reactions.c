/* Reactions (reference §1.8): members react to live messages while the
 * room allows it, once per emoji; each removes only their own. An emoji is
 * 1-32 bytes of UTF-8 without control characters or spaces (a character,
 * a short name or a sequence; the client decides how to draw it). */
#include "chatd.h"

#include <string.h>

#include "url.h"
#include "validate.h"

#define CHAT_EMOJI_MAX 32	/* bytes */

const struct pg_stmt chat_reactions_stmts[] = {
	{ "chat_reaction_add", SVC_REPLY("chat.reaction_add($1, $2, $3)"), 3 },
	{ "chat_reaction_remove", SVC_REPLY("chat.reaction_remove($1, $2, $3)"), 3 },
	{ "chat_reactions_of", SVC_REPLY("chat.reactions_of($1, $2, $3)"), 3 },
	{ NULL, NULL, 0 },
};

/* True when e is an acceptable emoji; else answers 400. */
static bool
chat_emoji_ok(struct svc_request *r, const char *e)
{
	if (e == NULL || strlen(e) > CHAT_EMOJI_MAX || strchr(e, ' ') != NULL ||
	    valid_text(e, 1, CHAT_EMOJI_MAX, false) != NULL) {
		svc_respond_error(r, 400, "invalid_request",
		    "emoji must be 1-32 bytes of UTF-8 without spaces or control characters");
		return false;
	}
	return true;
}

void
chat_reaction_add_call(struct svc_request *r, const char *stmt)
{
	cJSON *body = svc_request_json(r);
	const char *params[3] = { NULL, r->user_id, NULL };
	const cJSON *emoji;

	if (body == NULL)
		return;
	emoji = cJSON_GetObjectItemCaseSensitive(body, "emoji");
	params[2] = cJSON_IsString(emoji) ? emoji->valuestring : NULL;
	if (svc_body_uuid(r, body, "message_id", true, &params[0]) &&
	    chat_emoji_ok(r, params[2]))
		svc_call(r, stmt, params);
	cJSON_Delete(body);
}

void
chat_reaction_remove_call(struct svc_request *r, const char *stmt)
{
	char id[UUID_STRLEN + 1], emoji[CHAT_EMOJI_MAX + 1];
	const char *params[3] = { id, r->user_id, emoji };

	if (!svc_query_uuid(r, "message_id", id))
		return;
	if (url_query_param(r->query, "emoji", emoji, sizeof(emoji)) <= 0)
		params[2] = NULL;
	if (chat_emoji_ok(r, params[2]))
		svc_call(r, stmt, params);
}

/* POST /api/reaction/add {message_id, emoji} → the reaction. */
static void
chat_reaction_add(struct svc_request *r)
{
	chat_reaction_add_call(r, "chat_reaction_add");
}

/* DELETE /api/reaction/remove?message_id=&emoji= → {"status":"removed"}. */
static void
chat_reaction_remove(struct svc_request *r)
{
	chat_reaction_remove_call(r, "chat_reaction_remove");
}

/* GET /api/reactions?message_id= → [{emoji, count, users, has_reacted}]. */
static void
chat_reactions_of(struct svc_request *r)
{
	svc_call_id(r, "chat_reactions_of", "message_id");
}

static const struct svc_route chat_reactions_list[] = {
	{ { "POST", "/api/reaction/add", ROUTE_USER, 1024, "default" }, chat_reaction_add },
	{ { "DELETE", "/api/reaction/remove", ROUTE_USER, 0, "default" }, chat_reaction_remove },
	{ { "GET", "/api/reactions", ROUTE_USER, 0, "default" }, chat_reactions_of },
};

const struct svc_routes chat_reactions_routes = {
	chat_reactions_list, sizeof(chat_reactions_list) / sizeof(chat_reactions_list[0])
};
