/* Per-user voice channel permissions (reference §1.10): reading one user's
 * (the defaults when there is no row) or all of a channel's, checking an
 * action, and setting, deleting and bulk-setting them, which the room's
 * owner and admins do. Unlike the reference, the channel routes enforce
 * them. Each route is one call of a voice.* function of
 * sql/voice/003_permissions.sql. */
#include "voiced.h"

#include "validate.h"

#define VOICE_BULK_MAX 100		/* users in one bulk set */
#define VOICE_BULK_BODY_MAX 32768

const struct pg_stmt voice_permissions_stmts[] = {
	{ "voice_permission_get", SVC_REPLY("voice.permission_get($1, $2, $3, $4)"), 4 },
	{ "voice_permissions_of", SVC_REPLY("voice.permissions_of($1, $2, $3)"), 3 },
	{ "voice_permission_set", SVC_REPLY("voice.permission_set($1, $2, $3, $4, $5)"), 5 },
	{ "voice_permission_delete", SVC_REPLY("voice.permission_delete($1, $2, $3, $4)"), 4 },
	{ "voice_permission_check", SVC_REPLY("voice.permission_check($1, $2, $3, $4)"), 4 },
	{ "voice_permissions_bulk", SVC_REPLY("voice.permissions_bulk($1, $2, $3, $4)"), 4 },
	{ NULL, NULL, 0 },
};

/* The flags of a permission row, as request members. */
static const char *const voice_flags[] = {
	"can_join", "can_speak", "can_mute_others", "can_deafen_others", "can_move_users",
	"is_priority", NULL
};

/* GET /api/voice-channel/permission?channel_id=&user_id= → that user's
 * permissions (the caller's without user_id), the defaults when no row. */
static void
voice_permission_get(struct svc_request *r)
{
	char channel[UUID_STRLEN + 1], target[UUID_STRLEN + 1];
	const char *params[4] = { channel, r->user_id, svc_admin(r), NULL };

	if (!svc_query_uuid(r, "channel_id", channel) ||
	    !svc_query_uuid_opt(r, "user_id", target, &params[3]))
		return;
	if (params[3] == NULL)
		params[3] = r->user_id;
	svc_call(r, "voice_permission_get", params);
}

/* GET /api/voice-channel/permissions?channel_id= → the channel's rows. */
static void
voice_permissions_of(struct svc_request *r)
{
	svc_call_id(r, "voice_permissions_of", "channel_id");
}

/* {user_id, flags...} of body as a new object {user_id, the flags given};
 * NULL after answering 400 (or 500). */
static cJSON *
voice_permission_entry(struct svc_request *r, const cJSON *body)
{
	const char *user;
	cJSON *e;

	if (!svc_body_uuid(r, body, "user_id", true, &user))
		return NULL;
	if ((e = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(e, "user_id", user) == NULL) {
		cJSON_Delete(e);
		svc_respond_error(r, 500, "internal", "Out of memory");
		return NULL;
	}
	if (!svc_body_bools(r, body, voice_flags, e)) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

/* POST /api/voice-channel/permission/set {channel_id, user_id, can_join?,
 * can_speak?, can_mute_others?, can_deafen_others?, can_move_users?,
 * is_priority?} → the row. */
static void
voice_permission_set(struct svc_request *r)
{
	const char *params[5] = { NULL, r->user_id, svc_admin(r), NULL, NULL };
	cJSON *body = svc_request_json(r), *e;

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "channel_id", true, &params[0]) &&
	    svc_body_uuid(r, body, "user_id", true, &params[3]) &&
	    (e = voice_permission_entry(r, body)) != NULL)
		svc_call_json(r, "voice_permission_set", params, 4, e);
	cJSON_Delete(body);
}

/* The body's "permissions": an array of at most 100 entries, each checked
 * by voice_permission_entry; NULL after answering 400. */
static cJSON *
voice_bulk_list(struct svc_request *r, const cJSON *body)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "permissions"), *v;
	cJSON *out, *e;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > VOICE_BULK_MAX) {
		svc_respond_error(r, 400, "invalid_request",
		    "permissions must be an array of at most 100 entries");
		return NULL;
	}
	if ((out = cJSON_CreateArray()) == NULL) {
		svc_respond_error(r, 500, "internal", "Out of memory");
		return NULL;
	}
	cJSON_ArrayForEach(v, list) {
		if (!cJSON_IsObject(v)) {
			svc_respond_error(r, 400, "invalid_request",
			    "Each entry of permissions must be an object");
			break;
		}
		if ((e = voice_permission_entry(r, v)) == NULL)
			break;
		cJSON_AddItemToArray(out, e);
	}
	if (v == NULL)
		return out;
	cJSON_Delete(out);
	return NULL;
}

/* POST /api/voice-channel/permissions/bulk {channel_id, permissions:
 * [{user_id, flags?}...]} → the rows written: all, or none. */
static void
voice_permissions_bulk(struct svc_request *r)
{
	const char *params[4] = { NULL, r->user_id, svc_admin(r), NULL };
	cJSON *body = svc_request_json(r), *list;

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "channel_id", true, &params[0]) &&
	    (list = voice_bulk_list(r, body)) != NULL)
		svc_call_json(r, "voice_permissions_bulk", params, 3, list);
	cJSON_Delete(body);
}

/* DELETE /api/voice-channel/permission/delete?channel_id=&user_id= →
 * {"message": "Permission deleted"}. */
static void
voice_permission_delete(struct svc_request *r)
{
	char channel[UUID_STRLEN + 1], target[UUID_STRLEN + 1];
	const char *params[4] = { channel, r->user_id, svc_admin(r), target };

	if (svc_query_uuid(r, "channel_id", channel) && svc_query_uuid(r, "user_id", target))
		svc_call(r, "voice_permission_delete", params);
}

/* GET /api/voice-channel/permission/check?channel_id=&action= → {action,
 * allowed, channel_id, reason, user_id} for the caller. */
static void
voice_permission_check(struct svc_request *r)
{
	static const char *const actions[] = {
		"join", "speak", "mute_others", "deafen_others", "move_users", NULL
	};
	char channel[UUID_STRLEN + 1];
	const char *params[4] = { channel, r->user_id, svc_admin(r), NULL };

	if (svc_query_uuid(r, "channel_id", channel) &&
	    svc_query_enum(r, "action", actions, true, &params[3]))
		svc_call(r, "voice_permission_check", params);
}

static const struct svc_route voice_permissions_list[] = {
	{ { "GET", "/api/voice-channel/permission", ROUTE_USER, 0, "default" },
	  voice_permission_get },
	{ { "GET", "/api/voice-channel/permissions", ROUTE_USER, 0, "default" },
	  voice_permissions_of },
	{ { "POST", "/api/voice-channel/permission/set", ROUTE_USER, 1024, "default" },
	  voice_permission_set },
	{ { "DELETE", "/api/voice-channel/permission/delete", ROUTE_USER, 0, "default" },
	  voice_permission_delete },
	{ { "GET", "/api/voice-channel/permission/check", ROUTE_USER, 0, "default" },
	  voice_permission_check },
	{ { "POST", "/api/voice-channel/permissions/bulk", ROUTE_USER, VOICE_BULK_BODY_MAX,
	    "default" }, voice_permissions_bulk },
};

const struct svc_routes voice_permissions_routes = {
	voice_permissions_list,
	sizeof(voice_permissions_list) / sizeof(voice_permissions_list[0])
};
