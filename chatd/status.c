/* Custom status (reference §1.2): the status a user chose, with a short
 * text, an emoji and an optional expiry. It is the presence choice itself
 * (chat.presence, sql/chat/008_status.sql): setting "away" here is setting
 * it on /api/presence/update, and is announced the same way. An expired
 * status reads as online without text or emoji; nothing sweeps, every
 * read applies the expiry. What others see follows presence: see
 * docs/status-privacy.md. */
#include "chatd.h"

#include <stdio.h>

#include "validate.h"

#define STATUS_TEXT_MAX 150		/* characters */
#define STATUS_EMOJI_MAX 10		/* characters */
#define STATUS_EXPIRES_MAX 10080	/* minutes: a week */
#define STATUS_BODY_MAX 4096		/* text and emoji as \uXXXX pairs, and more */

const struct pg_stmt chat_status_stmts[] = {
	{ "chat_status_get", SVC_REPLY("chat.status_get($1)"), 1 },
	{ "chat_status_update", SVC_REPLY("chat.status_update($1, $2, $3, $4, $5, $6)"), 6 },
	{ "chat_status_user", SVC_REPLY("chat.status_user($1, $2, $3, $4)"), 4 },
	{ NULL, NULL, 0 },
};

/* GET /api/status → {user_id, status, status_text, status_emoji,
 * expires_at, updated_at}: the caller's own status as chosen. */
static void
chat_status_get(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_call(r, "chat_status_get", params);
}

/* Reads {status?, status_text?, status_emoji?, expires_in?} into p (status,
 * text, emoji, minutes; NULL when absent), the minutes written into mins;
 * answers 400 and returns false when a member is not acceptable. */
static bool
chat_status_read(struct svc_request *r, const cJSON *body, const char **p, char mins[24])
{
	const char *why;
	long long n;

	if (!svc_body_enum(r, body, "status", chat_presence_statuses, false, &p[0]))
		return false;
	if ((why = valid_member_text(body, "status_text", false, 0, STATUS_TEXT_MAX,
	    &p[1])) != NULL ||
	    (why = valid_member_text(body, "status_emoji", false, 0, STATUS_EMOJI_MAX,
	    &p[2])) != NULL ||
	    (why = valid_member_int(body, "expires_in", 1, STATUS_EXPIRES_MAX, 0, &n)) != NULL) {
		svc_respond_error(r, 400, "invalid_parameter", why);
		return false;
	}
	snprintf(mins, 24, "%lld", n);
	p[3] = n > 0 ? mins : NULL;
	return true;
}

/* PUT /api/status/update {status?, status_text?, status_emoji?,
 * expires_in? (minutes)} → the caller's status (chat.status_update). */
static void
chat_status_update(struct svc_request *r)
{
	char mins[24];
	const char *params[6] = { r->user_id, NULL, NULL, NULL, NULL, NULL };
	cJSON *body = svc_request_json(r);

	if (body == NULL)
		return;
	if (chat_status_read(r, body, &params[1], mins))
		chat_presence_call(r, r->user_id, "chat_status_update", params, 6);
	cJSON_Delete(body);
}

/* GET /api/status/user?user_id= → that user's status as the caller sees
 * it (chat.status_user): for the user, users sharing a room, and admins. */
static void
chat_status_user(struct svc_request *r)
{
	char user[UUID_STRLEN + 1];
	const char *params[4] = { user, r->user_id, svc_admin(r), NULL };

	if (svc_query_uuid(r, "user_id", user))
		chat_presence_call(r, user, "chat_status_user", params, 4);
}

static const struct svc_route chat_status_list[] = {
	{ { "GET", "/api/status", ROUTE_USER, 0, "default" }, chat_status_get },
	{ { "PUT", "/api/status/update", ROUTE_USER, STATUS_BODY_MAX, "default" },
	  chat_status_update },
	{ { "GET", "/api/status/user", ROUTE_USER, 0, "default" }, chat_status_user },
};

const struct svc_routes chat_status_routes = {
	chat_status_list, sizeof(chat_status_list) / sizeof(chat_status_list[0])
};
