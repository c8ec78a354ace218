/* GET /api/voice/ws?room_id=<uuid>: the reference's room socket (its core
 * types), as a thin adapter over the hub. The socket is subscribed to its
 * one room at once; events arrive in the same shared frames as on
 * /api/ws (their envelope is the reference's, plus seq). From the client
 * it takes ping, heartbeat, typing, stop-typing, user-joined and
 * user-left; other types are ignored, as the reference ignores unknown
 * ones. Errors have the reference's shape, payload {"error": text}. */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "url.h"
#include "validate.h"

#define GW_NIL_UUID "00000000-0000-0000-0000-000000000000"

/* The membership check that comes before the 101. */
struct gw_compat_check {
	struct gw_icall *call;
	char room[UUID_STRLEN + 1];
};

static void
gw_compat_check_free(void *arg)
{
	struct gw_compat_check *c = arg;

	gw_internal_cancel(c->call);
	free(c);
}

static void
gw_compat_checked(int status, cJSON *body, void *arg)
{
	struct gw_request *r = arg;
	struct gw_compat_check *c = r->work;
	(void)body;

	c->call = NULL;
	if (status == 200)
		gw_ws_accept(r, c->room, NULL, NULL);
	else if (status == 403 || status == 404)
		gw_respond_error(r, 403, "not_member", "Not in room");
	else
		gw_respond_error(r, 503, "service_unavailable", "chatd is not available");
}

void
gw_compat_upgrade(struct gw_request *r)
{
	struct gw_compat_check *c;
	char room[UUID_STRLEN + 2], query[64];
	int n;

	if (!gw_ws_precheck(r))
		return;
	n = url_query_param(r->query, "room_id", room, sizeof(room));
	if (n == 0) {
		gw_respond_error(r, 400, "missing_room_id", "Room ID is required");
		return;
	}
	if (n < 0 || !uuid_valid(room)) {
		gw_respond_error(r, 400, "invalid_room_id", "Invalid room ID");
		return;
	}
	valid_uuid_lower(room, room);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		gw_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	memcpy(c->room, room, sizeof(c->room));
	r->work = c, r->work_free = gw_compat_check_free;
	snprintf(query, sizeof(query), "room_id=%s", room);
	c->call = gw_internal_call(r->conn->gw, GW_CHATD, "/internal/chat/subscribe", query,
	    r->principal.claims.sub, gw_compat_checked, r);
	if (c->call == NULL)
		gw_respond_error(r, 503, "service_unavailable", "chatd is not available");
}

cJSON *
gw_compat_envelope(const struct gw_ws *ws, const char *type)
{
	cJSON *o = cJSON_CreateObject();
	char now[RFC3339_STRLEN];

	if (o == NULL)
		return NULL;
	time_now_rfc3339(now, sizeof(now));
	cJSON_AddStringToObject(o, "type", type);
	if (ws->compat_conv[0] != '\0')
		cJSON_AddStringToObject(o, "conversation_id", ws->compat_pair);
	else
		cJSON_AddStringToObject(o, "room_id", ws->compat_room);
	cJSON_AddStringToObject(o, "user_id", ws->user_id);
	cJSON_AddStringToObject(o, "target_user_id", GW_NIL_UUID);
	cJSON_AddStringToObject(o, "timestamp", now);
	return o;
}

void
gw_compat_send_error(struct gw_ws *ws, const char *text)
{
	cJSON *o = gw_compat_envelope(ws, "error"), *p;

	if (o != NULL && (p = cJSON_AddObjectToObject(o, "payload")) != NULL)
		cJSON_AddStringToObject(p, "error", text);
	gw_ws_send_json(ws, o);
}

static void
gw_compat_heartbeat_ack(struct gw_ws *ws)
{
	cJSON *o = gw_compat_envelope(ws, "heartbeat-ack"), *p;

	if (o == NULL || (p = cJSON_AddObjectToObject(o, "payload")) == NULL) {
		cJSON_Delete(o);
		return;
	}
	cJSON_AddStringToObject(p, "user_id", ws->user_id);
	cJSON_AddNumberToObject(p, "latency_ms", 0);
	cJSON_AddStringToObject(p, "state", "connected");
	gw_ws_send_json(ws, o);
}

static void
gw_compat_relayed(int status, cJSON *body, void *arg)
{
	(void)body, (void)arg;
	if (status != 200)
		log_debug("compat: chatd did not relay (%d)", status);
}

/* user-joined / user-left: chatd tells the room, on every gatewayd. */
static void
gw_compat_relay(struct gw_ws *ws, const char *type)
{
	char query[128];

	snprintf(query, sizeof(query), "room_id=%s&type=%s", ws->compat_room, type);
	if (gw_internal_call(ws->conn->gw, GW_CHATD, "/internal/chat/relay", query,
	    ws->user_id, gw_compat_relayed, NULL) == NULL)
		gw_compat_send_error(ws, "Service unavailable");
}

void
gw_compat_on_message(struct gw_ws *ws, const cJSON *m, const char *type)
{
	if (strcmp(type, "ping") == 0)
		gw_ws_send_json(ws, gw_compat_envelope(ws, "pong"));
	else if (strcmp(type, "heartbeat") == 0)
		gw_compat_heartbeat_ack(ws);
	else if (strcmp(type, "typing") == 0 || strcmp(type, "stop-typing") == 0)
		gw_ws_typing(ws, &gw_kind_room, ws->compat_room, strcmp(type, "typing") == 0);
	else if (strcmp(type, "user-joined") == 0 || strcmp(type, "user-left") == 0)
		gw_compat_relay(ws, type);
	else if (gw_voice_type(type))
		gw_voice_signal(ws, m, type);
	/* anything else: ignored, as the reference does */
}

bool
gw_compat_wants(const struct gw_ws *ws, const struct gw_frame *f)
{
	return ws->compat_room[0] == '\0' || !f->self_excluded ||
	    strcmp(f->actor, ws->user_id) != 0;
}
