/* WebRTC signalling: voice-offer, voice-answer and voice-ice-candidate,
 * sent by a client on its socket (gatewayd/voice.c) and relayed to the
 * target user's sockets on topic user.<target> — only when both are
 * participants of the same voice channel (the reference relayed to
 * anyone). The relayed envelope is the reference's: {type, room_id,
 * channel_id, user_id (the sender), target_user_id, payload, sdp?,
 * candidate?, timestamp}. */
#include "voiced.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"
#include "validate.h"

#define SIGNAL_BODY_MAX 65536

const struct pg_stmt voice_signal_stmts[] = {
	/* The channel (and its room) both users are in, if any. */
	{ "voice_same_channel", "SELECT channel_id::text, room_id::text"
	  " FROM voice.same_channel($1, $2) WHERE channel_id IS NOT NULL", 2 },
	{ NULL, NULL, 0 },
};

/* A signal waiting for the channel check. */
struct signal_op {
	struct svc_op op;
	char target[UUID_STRLEN + 1];
};

static void
signal_op_free(struct svc_op *op)
{
	free(op);
}

/* The envelope relayed to the target: the client's members, the sender
 * and where it comes from. */
static cJSON *
signal_envelope(const cJSON *body, const char *sender, const char *channel, const char *room)
{
	static const char *copied[] = { "type", "target_user_id", "payload", "sdp", "candidate",
		NULL };
	cJSON *env = cJSON_CreateObject();
	char now[RFC3339_STRLEN];

	if (env == NULL)
		return NULL;
	for (int i = 0; copied[i] != NULL; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, copied[i]);
		if (v != NULL)
			cJSON_AddItemToObject(env, copied[i], cJSON_Duplicate(v, true));
	}
	time_now_rfc3339(now, sizeof(now));
	cJSON_AddStringToObject(env, "room_id", room);
	cJSON_AddStringToObject(env, "channel_id", channel);
	cJSON_AddStringToObject(env, "user_id", sender);
	cJSON_AddStringToObject(env, "timestamp", now);
	return env;
}

static void
signal_checked_cb(PGresult *res, void *arg)
{
	struct svc_op *op = arg;
	struct signal_op *s = arg;
	char topic[8 + UUID_STRLEN + 1];
	cJSON *env, *ok;

	if (!svc_op_ok(op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(op, 403, "not_in_channel",
		    "Signals go only to a participant of your voice channel");
		return;
	}
	env = signal_envelope(op->body, op->r->user_id, PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1));
	snprintf(topic, sizeof(topic), "user.%s", s->target);
	if (env == NULL || ipc_publish(svc_pub(voiced.svc), topic, env) < 0) {
		cJSON_Delete(env);
		svc_op_fail(op, 503, "unavailable", "The signal could not be relayed");
		return;
	}
	cJSON_Delete(env);
	ok = cJSON_CreateObject();
	cJSON_AddStringToObject(ok, "status", "sent");
	svc_op_done(op, 200, ok);
}

/* Why body is not a signal of a user to another, or NULL. */
static const char *
signal_invalid(const cJSON *body, const char *sender, const char **target)
{
	const char *type = json_str(body, "type");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "payload");
	const char *why;

	if (type == NULL || (strcmp(type, "voice-offer") != 0 && strcmp(type, "voice-answer") != 0 &&
	    strcmp(type, "voice-ice-candidate") != 0))
		return "type must be voice-offer, voice-answer or voice-ice-candidate";
	if ((why = valid_member_uuid(body, "target_user_id", true, target)) != NULL)
		return why;
	if (strcasecmp(*target, sender) == 0)
		return "A signal goes to another user";
	if (p != NULL && !cJSON_IsObject(p) && !cJSON_IsNull(p))
		return "payload must be an object";
	for (int i = 0; i < 2; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, i ? "candidate" : "sdp");
		if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v))
			return "sdp and candidate must be strings";
	}
	return NULL;
}

/* POST /internal/voice/signal {type, target_user_id, payload?, sdp?,
 * candidate?} for a user → {"status":"sent"}; 403 not_in_channel. */
static void
signal_relay(struct svc_request *r)
{
	cJSON *body;
	const char *target = NULL, *why;
	const char *params[2] = { r->user_id, NULL };
	struct signal_op *s;

	if (r->user_id == NULL || !uuid_valid(r->user_id)) {
		svc_respond_error(r, 401, "unauthorized", "A user is required");
		return;
	}
	if ((body = svc_request_json(r)) == NULL)
		return;
	if ((why = signal_invalid(body, r->user_id, &target)) != NULL) {
		svc_respond_error(r, 400, "invalid_signal", why);
		cJSON_Delete(body);
		return;
	}
	if ((s = svc_op_new(r, body, sizeof(*s), signal_op_free)) == NULL)
		return;
	valid_uuid_lower(s->target, target);
	params[1] = s->target;
	svc_op_query(&s->op, "voice_same_channel", params, signal_checked_cb);
}

static const struct svc_route voice_signal_list[] = {
	{ { "POST", "/internal/voice/signal", ROUTE_INTERNAL, SIGNAL_BODY_MAX * 2, "default" },
	  signal_relay },
};

const struct svc_routes voice_signal_routes = {
	voice_signal_list, sizeof(voice_signal_list) / sizeof(voice_signal_list[0])
};
