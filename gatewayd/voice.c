/* WebRTC signalling on the sockets: voice-offer, voice-answer and
 * voice-ice-candidate from a client go to voiced (/internal/voice/signal),
 * which lets them through only between participants of the same voice
 * channel and publishes them on user.<target>; this file delivers those
 * to every socket of the target here (docs/voice.md). */
#include "gatewayd.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "validate.h"

/* A signal on its way to voiced, for the socket that sent it. */
struct gw_vcall {
	struct gw_ws *ws;
	struct gw_icall *call;
	struct gw_vcall *next;		/* in ws->vcalls */
};

bool
gw_voice_type(const char *type)
{
	return strcmp(type, "voice-offer") == 0 || strcmp(type, "voice-answer") == 0 ||
	    strcmp(type, "voice-ice-candidate") == 0;
}

static void
gw_vcall_unlink(struct gw_vcall *v)
{
	struct gw_vcall **pp;

	for (pp = &v->ws->vcalls; *pp != NULL && *pp != v; pp = &(*pp)->next)
		;
	if (*pp == v)
		*pp = v->next;
}

static void
gw_voice_signal_cb(int status, cJSON *body, void *arg)
{
	struct gw_vcall *v = arg;
	const char *msg = json_str(body, "message");

	gw_vcall_unlink(v);
	if (status == 403 || status == 400)
		gw_ws_send_error(v->ws, NULL, status == 403 ? "not_in_channel" : "invalid_signal",
		    msg ? msg : "The signal was refused");
	else if (status != 200)
		gw_ws_send_error(v->ws, NULL, "unavailable", "voiced is not available");
	free(v);
}

/* What voiced gets of a signal: type, target_user_id, and payload, sdp and
 * candidate when the client sent them (the reference carried SDP and
 * candidates in any of those); NULL when there is no target. */
static char *
gw_voice_signal_body(const cJSON *m, const char *type)
{
	static const char *copied[] = { "target_user_id", "payload", "sdp", "candidate", NULL };
	cJSON *o = cJSON_CreateObject();
	char *text;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "type", type);
	for (int i = 0; copied[i] != NULL; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, copied[i]);
		if (v != NULL)
			cJSON_AddItemToObject(o, copied[i], cJSON_Duplicate(v, true));
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

void
gw_voice_signal(struct gw_ws *ws, const cJSON *m, const char *type)
{
	const char *target = json_str(m, "target_user_id");
	struct gw_vcall *v;
	char *body;

	if (target == NULL || !uuid_valid(target)) {
		gw_ws_send_error(ws, NULL, "invalid_signal", "target_user_id must be a UUID");
		return;
	}
	if ((body = gw_voice_signal_body(m, type)) == NULL || (v = calloc(1, sizeof(*v))) == NULL) {
		free(body);
		return;
	}
	v->ws = ws;
	v->call = gw_internal_post(ws->conn->gw, GW_VOICED, "/internal/voice/signal", "",
	    ws->user_id, body, gw_voice_signal_cb, v);
	free(body);
	if (v->call == NULL) {
		free(v);
		gw_ws_send_error(ws, NULL, "unavailable", "voiced is not available");
		return;
	}
	v->next = ws->vcalls;
	ws->vcalls = v;
}

void
gw_voice_drop(struct gw_ws *ws)
{
	while (ws->vcalls != NULL) {
		struct gw_vcall *v = ws->vcalls;
		ws->vcalls = v->next;
		gw_internal_cancel(v->call);
		free(v);
	}
}

/* An event on user.<id> from voiced: to every socket of that user here but
 * a DM socket. */
void
gw_voice_user_event(const char *topic, const cJSON *env)
{
	const char *user = topic + 5;
	char *text;
	struct gw_frame *f;

	if (!uuid_valid(user) || (text = cJSON_PrintUnformatted(env)) == NULL)
		return;
	f = gw_frame_new(text, strlen(text), 0);
	free(text);
	if (f == NULL)
		return;
	for (struct gw_ws *ws = gw_presence_sockets(user); ws != NULL; ws = ws->user_next)
		if (ws->compat_conv[0] == '\0' && !ws->dead)
			gw_ws_send_frame(ws, f);
	gw_frame_unref(f);
}
