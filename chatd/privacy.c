/* Privacy settings (reference §1.16): who may send the user direct
 * messages, invite them to group DMs and ask them to be friends
 * (everyone, friends or none: chat.reach_refusal enforces them where
 * those happen), and whether others see them online (show_online_status:
 * enforced on every presence path, sql/chat/008_status.sql). No row is
 * the defaults. Turning show_online_status off or on is announced as a
 * presence change, so writes learn first whether the user is connected
 * (chat_presence_call). docs/status-privacy.md. */
#include "chatd.h"

#include <stdlib.h>

#include "validate.h"

#define PRIVACY_BODY_MAX 4096

const struct pg_stmt chat_privacy_stmts[] = {
	{ "chat_privacy_get", SVC_REPLY("chat.privacy_get($1)"), 1 },
	{ "chat_privacy_update", SVC_REPLY("chat.privacy_update($1, $2, $3)"), 3 },
	{ "chat_privacy_reset", SVC_REPLY("chat.privacy_reset($1, $2)"), 2 },
	{ "chat_privacy_export", SVC_REPLY("chat.privacy_export($1)"), 1 },
	{ NULL, NULL, 0 },
};

/* The settings that say who may reach the user, and their values. */
static const char *const privacy_reach[] = {
	"allow_direct_messages", "allow_group_invites", "allow_friend_requests",
};
static const char *const privacy_values[] = { "everyone", "friends", "none", NULL };

/* Calls stmt with the caller alone. */
static void
privacy_call_self(struct svc_request *r, const char *stmt)
{
	const char *params[1] = { r->user_id };

	svc_call(r, stmt, params);
}

/* GET /api/privacy → {user_id, allow_direct_messages, allow_group_invites,
 * allow_friend_requests, show_online_status, updated_at}. */
static void
chat_privacy_get(struct svc_request *r)
{
	privacy_call_self(r, "chat_privacy_get");
}

/* GET /api/privacy/export → {exported_at, user_id, privacy, status}. */
static void
chat_privacy_export(struct svc_request *r)
{
	privacy_call_self(r, "chat_privacy_export");
}

/* The settings body changes, checked, as a new object; members of other
 * names are ignored. NULL after answering 400 (or 500) when one is not
 * acceptable. */
static cJSON *
privacy_patch(struct svc_request *r, const cJSON *body)
{
	cJSON *patch = cJSON_CreateObject();
	const char *v, *why = NULL;
	bool ok = patch != NULL;
	int b = -1;

	for (size_t i = 0; ok && i < sizeof(privacy_reach) / sizeof(*privacy_reach); i++) {
		if (!svc_body_enum(r, body, privacy_reach[i], privacy_values, false, &v)) {
			cJSON_Delete(patch);
			return NULL;
		}
		ok = v == NULL || cJSON_AddStringToObject(patch, privacy_reach[i], v) != NULL;
	}
	if (ok && (why = valid_member_bool(body, "show_online_status", &b)) == NULL && b >= 0)
		ok = cJSON_AddBoolToObject(patch, "show_online_status", b) != NULL;
	if (ok && why == NULL)
		return patch;
	if (why != NULL)
		svc_respond_error(r, 400, "invalid_parameter", why);
	else
		svc_respond_error(r, 500, "internal", "Out of memory");
	cJSON_Delete(patch);
	return NULL;
}

/* PUT /api/privacy/update {allow_direct_messages?, allow_group_invites?,
 * allow_friend_requests?, show_online_status?} → the settings. */
static void
chat_privacy_update(struct svc_request *r)
{
	const char *params[3] = { r->user_id, NULL, NULL };
	cJSON *body = svc_request_json(r), *patch;
	char *text;

	if (body == NULL)
		return;
	patch = privacy_patch(r, body);
	cJSON_Delete(body);
	if (patch == NULL)
		return;
	params[1] = text = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	if (text == NULL) {
		svc_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	chat_presence_call(r, r->user_id, "chat_privacy_update", params, 3);
	free(text);
}

/* POST /api/privacy/reset → the settings, every one back to its default
 * (a body, such as {}, is ignored). */
static void
chat_privacy_reset(struct svc_request *r)
{
	const char *params[2] = { r->user_id, NULL };

	chat_presence_call(r, r->user_id, "chat_privacy_reset", params, 2);
}

static const struct svc_route chat_privacy_list[] = {
	{ { "GET", "/api/privacy", ROUTE_USER, 0, "default" }, chat_privacy_get },
	{ { "PUT", "/api/privacy/update", ROUTE_USER, PRIVACY_BODY_MAX, "default" },
	  chat_privacy_update },
	{ { "GET", "/api/privacy/export", ROUTE_USER, 0, "default" }, chat_privacy_export },
	{ { "POST", "/api/privacy/reset", ROUTE_USER, 1024, "default" }, chat_privacy_reset },
};

const struct svc_routes chat_privacy_routes = {
	chat_privacy_list, sizeof(chat_privacy_list) / sizeof(chat_privacy_list[0])
};
