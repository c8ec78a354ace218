/* Voice channels (reference §1.10): a room's list, one channel with its
 * participants, and creating, changing and deleting them, which moderators
 * and up do (the reference: anyone creates, owners and admins change).
 * Each route is one call of a voice.* function of
 * sql/voice/002_channels.sql; who may do what is docs/voice.md. */
#include "voiced.h"

#include <stdio.h>
#include <string.h>

#include "validate.h"

#define VOICE_NAME_MAX 100		/* characters */
#define VOICE_DESC_MAX 500		/* characters, one line */
#define VOICE_SEATS_DEFAULT 10
#define VOICE_SEATS_MAX 99
#define VOICE_CHANNEL_BODY_MAX 4096

const struct pg_stmt voice_channels_stmts[] = {
	{ "voice_channels_of", SVC_REPLY("voice.channels_of($1, $2, $3)"), 3 },
	{ "voice_channel_get", SVC_REPLY("voice.channel_get($1, $2, $3)"), 3 },
	{ "voice_channel_create",
	  SVC_REPLY("voice.channel_create($1, $2, $3, $4, $5, $6, $7)"), 7 },
	{ "voice_channel_update", SVC_REPLY("voice.channel_update($1, $2, $3, $4)"), 4 },
	{ "voice_channel_delete", SVC_REPLY("voice.channel_delete($1, $2, $3)"), 3 },
	{ NULL, NULL, 0 },
};

/* The body's name: 1-100 characters of one line, not blank. *out is NULL
 * when it is absent (or null) and optional. NULL or why not. */
static const char *
voice_name(const cJSON *body, bool required, const char **out)
{
	const char *why = valid_member_text(body, "name", false, 0, VOICE_NAME_MAX, out);

	if (why != NULL)
		return strcmp(why, "name is too long") == 0 ?
		    "Channel name must be at most 100 characters" : why;
	if (*out == NULL && !required)
		return NULL;
	if (*out == NULL || (*out)[strspn(*out, " ")] == '\0')
		return required ? "Channel name is required" : "Channel name cannot be empty";
	return NULL;
}

/* The body's description: up to 500 characters of one line; *out is NULL
 * when absent (or null). */
static const char *
voice_description(const cJSON *body, const char **out)
{
	const char *why = valid_member_text(body, "description", false, 0, VOICE_DESC_MAX, out);

	if (why != NULL && strcmp(why, "description is too long") == 0)
		return "Description must be at most 500 characters";
	return why;
}

/* max_participants as the reference takes it: more than 99 is 99; at
 * creation, absent or up to 0 is the default 10, while a change to 0 or
 * less is refused. *n is 0 when absent. NULL or why not. */
static const char *
voice_seats(const cJSON *body, bool create, long long *n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "max_participants");
	bool given = v != NULL && !cJSON_IsNull(v);

	if (valid_member_int(body, "max_participants", -VALID_INT_EXACT, VALID_INT_EXACT, 0,
	    n) != NULL)
		return "max_participants must be an integer";
	if (*n <= 0 && create)
		*n = VOICE_SEATS_DEFAULT;
	else if (*n <= 0 && given)
		return "Max participants must be greater than 0";
	if (*n > VOICE_SEATS_MAX)
		*n = VOICE_SEATS_MAX;
	return NULL;
}

/* GET /api/voice-channels?room_id= → the room's channels the caller may
 * see (private ones: those who may join them), oldest first. */
static void
voice_channels_of(struct svc_request *r)
{
	svc_call_id(r, "voice_channels_of", "room_id");
}

/* GET /api/voice-channel?id= → the channel with its participants. */
static void
voice_channel_get(struct svc_request *r)
{
	svc_call_id(r, "voice_channel_get", "id");
}

/* POST /api/voice-channel/create {room_id, name, description?,
 * max_participants?, is_private?} → 201 the channel. */
static void
voice_channel_create(struct svc_request *r)
{
	char seats[24];
	const char *params[7] = { NULL, r->user_id, svc_admin(r), NULL, NULL, seats, NULL };
	cJSON *body = svc_request_json(r);
	const char *why;
	long long n;
	int priv;

	if (body == NULL)
		return;
	if ((why = voice_name(body, true, &params[3])) != NULL ||
	    (why = valid_member_uuid(body, "room_id", true, &params[0])) != NULL ||
	    (why = voice_description(body, &params[4])) != NULL ||
	    (why = voice_seats(body, true, &n)) != NULL ||
	    (why = valid_member_bool(body, "is_private", &priv)) != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		cJSON_Delete(body);
		return;
	}
	snprintf(seats, sizeof(seats), "%lld", n);
	params[4] = params[4] != NULL ? params[4] : "";
	params[6] = priv == 1 ? "true" : "false";
	svc_call(r, "voice_channel_create", params);
	cJSON_Delete(body);
}

/* The changes of an update body into patch: name, description,
 * max_participants, is_private, each when present. Answers 400 itself and
 * returns false when one is not acceptable. */
static bool
voice_channel_patch(struct svc_request *r, const cJSON *body, cJSON *patch)
{
	static const char *const bools[] = { "is_private", NULL };
	const char *name, *desc, *why;
	long long n;

	if ((why = voice_name(body, false, &name)) != NULL ||
	    (why = voice_description(body, &desc)) != NULL ||
	    (why = voice_seats(body, false, &n)) != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return false;
	}
	if ((name != NULL && cJSON_AddStringToObject(patch, "name", name) == NULL) ||
	    (desc != NULL && cJSON_AddStringToObject(patch, "description", desc) == NULL) ||
	    (n > 0 && cJSON_AddNumberToObject(patch, "max_participants", (double)n) == NULL)) {
		svc_respond_error(r, 500, "internal", "Out of memory");
		return false;
	}
	return svc_body_bools(r, body, bools, patch);
}

/* PUT (or POST) /api/voice-channel/update?id= {name?, description?,
 * max_participants?, is_private?} → the channel with its participants. */
static void
voice_channel_update(struct svc_request *r)
{
	char id[UUID_STRLEN + 1];
	const char *params[4] = { id, r->user_id, svc_admin(r), NULL };
	cJSON *body = svc_request_json(r), *patch;

	if (body == NULL)
		return;
	if (!svc_uuid_param(r, body, "id", id)) {
		cJSON_Delete(body);
		return;
	}
	if ((patch = cJSON_CreateObject()) == NULL)
		svc_respond_error(r, 500, "internal", "Out of memory");
	else if (voice_channel_patch(r, body, patch))
		svc_call_json(r, "voice_channel_update", params, 3, patch);
	else
		cJSON_Delete(patch);
	cJSON_Delete(body);
}

/* DELETE (or POST) /api/voice-channel/delete?id= → {"message": "Voice
 * channel deleted"}; its participants are taken out first. */
static void
voice_channel_delete(struct svc_request *r)
{
	svc_call_id(r, "voice_channel_delete", "id");
}

static const struct svc_route voice_channels_list[] = {
	{ { "GET", "/api/voice-channels", ROUTE_USER, 0, "default" }, voice_channels_of },
	{ { "GET", "/api/voice-channel", ROUTE_USER, 0, "default" }, voice_channel_get },
	{ { "POST", "/api/voice-channel/create", ROUTE_USER, VOICE_CHANNEL_BODY_MAX, "default" },
	  voice_channel_create },
	{ { "PUT", "/api/voice-channel/update", ROUTE_USER, VOICE_CHANNEL_BODY_MAX, "default" },
	  voice_channel_update },
	{ { "POST", "/api/voice-channel/update", ROUTE_USER, VOICE_CHANNEL_BODY_MAX, "default" },
	  voice_channel_update },
	{ { "DELETE", "/api/voice-channel/delete", ROUTE_USER, 0, "default" },
	  voice_channel_delete },
	{ { "POST", "/api/voice-channel/delete", ROUTE_USER, 1024, "default" },
	  voice_channel_delete },
};

const struct svc_routes voice_channels_routes = {
	voice_channels_list, sizeof(voice_channels_list) / sizeof(voice_channels_list[0])
};
