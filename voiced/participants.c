/* Who is in a voice channel (reference §1.10): joining (one channel at a
 * time: joining another leaves the first), leaving, the list, and a
 * participant's state — muted, deafened, speaking — which each sets for
 * themselves, and the server mute moderators set on others. Each route is
 * one call of a voice.* function of sql/voice/002_channels.sql. */
#include "voiced.h"

#include <string.h>

#include "validate.h"

const struct pg_stmt voice_participants_stmts[] = {
	{ "voice_channel_join", SVC_REPLY("voice.channel_join($1, $2, $3)"), 3 },
	{ "voice_channel_leave", SVC_REPLY("voice.channel_leave($1, $2)"), 2 },
	{ "voice_channel_participants", SVC_REPLY("voice.channel_participants($1, $2, $3)"), 3 },
	{ "voice_participant_update", SVC_REPLY("voice.participant_update($1, $2, $3)"), 3 },
	{ "voice_participant_server_mute",
	  SVC_REPLY("voice.participant_server_mute($1, $2, $3, $4, $5)"), 5 },
	{ NULL, NULL, 0 },
};

/* POST /api/voice-channel/join {channel_id} → 201 the participant (200
 * when already in); 403 channel_full, private_channel, forbidden. */
static void
voice_join(struct svc_request *r)
{
	svc_call_param(r, "voice_channel_join", "channel_id");
}

/* POST or DELETE /api/voice-channel/leave?channel_id= → {"message": "Left
 * voice channel"}. */
static void
voice_leave(struct svc_request *r)
{
	svc_call_param(r, "voice_channel_leave", "channel_id");
}

/* GET /api/voice-channel/participants?channel_id= → the participants. */
static void
voice_participants(struct svc_request *r)
{
	svc_call_id(r, "voice_channel_participants", "channel_id");
}

/* {channel_id, user_id, is_server_muted}: a moderator (or a holder of
 * can_mute_others) mutes another participant for everyone. */
static void
voice_server_mute(struct svc_request *r, const cJSON *body, const char *channel,
    const char *target)
{
	static const char *const own[] = { "is_muted", "is_deafened", "is_speaking", NULL };
	const char *params[5] = { channel, r->user_id, svc_admin(r), target, NULL };
	const char *why;
	int muted;

	if ((why = valid_member_bool(body, "is_server_muted", &muted)) != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return;
	}
	for (size_t i = 0; own[i] != NULL; i++)
		if (cJSON_HasObjectItem(body, own[i])) {
			svc_respond_error(r, 400, "invalid_request",
			    "is_server_muted goes alone, without is_muted, is_deafened or is_speaking");
			return;
		}
	if (target == NULL) {
		svc_respond_error(r, 400, "invalid_request", "user_id is required");
		return;
	}
	params[4] = muted ? "true" : "false";
	svc_call(r, "voice_participant_server_mute", params);
}

/* {channel_id, is_muted?, is_deafened?, is_speaking?}: the caller's own
 * state; at least one of them. */
static void
voice_own_update(struct svc_request *r, const cJSON *body, const char *channel)
{
	static const char *const own[] = { "is_muted", "is_deafened", "is_speaking", NULL };
	const char *params[3] = { channel, r->user_id, NULL };
	cJSON *patch = cJSON_CreateObject();

	if (patch == NULL) {
		svc_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	if (!svc_body_bools(r, body, own, patch)) {
		cJSON_Delete(patch);
		return;
	}
	if (cJSON_GetArraySize(patch) == 0) {
		cJSON_Delete(patch);
		svc_respond_error(r, 400, "invalid_request", "No updates provided");
		return;
	}
	svc_call_json(r, "voice_participant_update", params, 2, patch);
}

/* POST /api/voice-channel/participant/update: the caller's own state, or
 * with user_id and is_server_muted another participant's server mute. →
 * the participant. */
static void
voice_participant_update(struct svc_request *r)
{
	char target[UUID_STRLEN + 1];
	const char *channel, *user;
	cJSON *body = svc_request_json(r);
	const cJSON *muted;

	if (body == NULL)
		return;
	if (!svc_body_uuid(r, body, "channel_id", true, &channel) ||
	    !svc_body_uuid(r, body, "user_id", false, &user)) {
		cJSON_Delete(body);
		return;
	}
	if (user != NULL)
		valid_uuid_lower(target, user);
	muted = cJSON_GetObjectItemCaseSensitive(body, "is_server_muted");
	if (muted != NULL && !cJSON_IsNull(muted))
		voice_server_mute(r, body, channel, user != NULL ? target : NULL);
	else if (user != NULL && strcmp(target, r->user_id) != 0)
		svc_respond_error(r, 400, "invalid_request",
		    "Only is_server_muted can be set for another user");
	else
		voice_own_update(r, body, channel);
	cJSON_Delete(body);
}

static const struct svc_route voice_participants_list[] = {
	{ { "POST", "/api/voice-channel/join", ROUTE_USER, 1024, "default" }, voice_join },
	{ { "POST", "/api/voice-channel/leave", ROUTE_USER, 1024, "default" }, voice_leave },
	{ { "DELETE", "/api/voice-channel/leave", ROUTE_USER, 1024, "default" }, voice_leave },
	{ { "GET", "/api/voice-channel/participants", ROUTE_USER, 0, "default" },
	  voice_participants },
	{ { "POST", "/api/voice-channel/participant/update", ROUTE_USER, 1024, "default" },
	  voice_participant_update },
};

const struct svc_routes voice_participants_routes = {
	voice_participants_list,
	sizeof(voice_participants_list) / sizeof(voice_participants_list[0])
};
