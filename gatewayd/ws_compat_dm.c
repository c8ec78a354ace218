/* GET /api/dm/ws?peer_id=<uuid>: the reference's DM socket (reference
 * §3.3), as a thin adapter over the hub. Before the upgrade chatd opens
 * the caller's own conversation with that peer (refused when either
 * blocked the other); the socket is bound to it and to nothing else: it
 * gets that conversation's events (all of them, new DMs included, which
 * the reference never pushed) in the reference's envelope, whose
 * conversation_id is the two user ids sorted and joined with "-" and whose
 * seq is named "sequence". From the client it takes heartbeat, typing,
 * stop-typing, mark-read (a real read receipt), mark-delivered,
 * join-conversation (its own only) and leave-conversation; other types
 * are ignored, as the reference ignores them. */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "url.h"
#include "validate.h"

#define GW_NIL_UUID "00000000-0000-0000-0000-000000000000"

/* The conversation being opened before the 101. */
struct gw_dm_open {
	struct gw_icall *call;
	char pair[2 * UUID_STRLEN + 2];
};

static void
gw_dm_open_free(void *arg)
{
	struct gw_dm_open *o = arg;

	gw_internal_cancel(o->call);
	free(o);
}

static void
gw_dm_opened(int status, cJSON *body, void *arg)
{
	struct gw_request *r = arg;
	struct gw_dm_open *o = r->work;
	const char *conv = json_str(body, "conversation_id");

	o->call = NULL;
	if (status == 200 && conv != NULL && uuid_valid(conv))
		gw_ws_accept(r, NULL, conv, o->pair);
	else if (status == 400)
		gw_respond_error(r, 400, "invalid_peer_id", "Invalid peer ID");
	else if (status == 404)
		gw_respond_error(r, 404, "not_found", "Peer user not found");
	else if (status == 403)
		gw_respond_error(r, 403, "blocked", "Cannot connect to blocked user");
	else
		gw_respond_error(r, 503, "service_unavailable", "chatd is not available");
}

/* The reference's conversation id: the two ids sorted, joined by "-". */
static void
gw_dm_pair(const char *a, const char *b, char out[2 * UUID_STRLEN + 2])
{
	if (strcmp(a, b) > 0) {
		const char *t = a;
		a = b, b = t;
	}
	memcpy(out, a, UUID_STRLEN);
	out[UUID_STRLEN] = '-';
	memcpy(out + UUID_STRLEN + 1, b, UUID_STRLEN);
	out[2 * UUID_STRLEN + 1] = '\0';
}

void
gw_compat_dm_upgrade(struct gw_request *r)
{
	struct gw_dm_open *o;
	char peer[UUID_STRLEN + 2], query[64];
	int n;

	if (!gw_ws_precheck(r))
		return;
	n = url_query_param(r->query, "peer_id", peer, sizeof(peer));
	if (n == 0) {
		gw_respond_error(r, 400, "missing_peer_id", "Peer ID is required");
		return;
	}
	if (n < 0 || !uuid_valid(peer)) {
		gw_respond_error(r, 400, "invalid_peer_id", "Invalid peer ID");
		return;
	}
	valid_uuid_lower(peer, peer);
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		gw_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	gw_dm_pair(r->principal.claims.sub, peer, o->pair);
	r->work = o, r->work_free = gw_dm_open_free;
	snprintf(query, sizeof(query), "peer_id=%s", peer);
	o->call = gw_internal_call(r->conn->gw, GW_CHATD, "/internal/dm/open", query,
	    r->principal.claims.sub, gw_dm_opened, r);
	if (o->call == NULL)
		gw_respond_error(r, 503, "service_unavailable", "chatd is not available");
}

/* ------------------------------------------------------------ server → client */

void
gw_compat_dm_send(struct gw_ws *ws, const struct gw_frame *f)
{
	cJSON *o, *seq;

	if (ws->compat_left)
		return;
	o = json_parse_exact((const char *)f->data + f->hlen, f->len - f->hlen);
	if (o == NULL)
		return;
	cJSON_ReplaceItemInObjectCaseSensitive(o, "conversation_id",
	    cJSON_CreateString(ws->compat_pair));
	if ((seq = cJSON_DetachItemFromObjectCaseSensitive(o, "seq")) != NULL)
		cJSON_AddItemToObject(o, "sequence", seq);
	gw_ws_send_json(ws, o);
}

/* ------------------------------------------------------------ client → server */

static void
gw_dm_called(int status, cJSON *body, void *arg)
{
	(void)body, (void)arg;
	if (status != 200)
		log_debug("compat dm: chatd answered %d", status);
}

/* mark-read / mark-delivered {payload: {message_id}}: through chatd,
 * whose events tell the conversation. */
static void
gw_dm_mark(struct gw_ws *ws, const cJSON *m, const char *path)
{
	const char *id = json_str(cJSON_GetObjectItemCaseSensitive(m, "payload"), "message_id");
	char query[64];

	if (id == NULL || !uuid_valid(id)) {
		gw_compat_send_error(ws, "Invalid message ID");
		return;
	}
	snprintf(query, sizeof(query), "message_id=%s", id);
	if (gw_internal_call(ws->conn->gw, GW_CHATD, path, query, ws->user_id,
	    gw_dm_called, NULL) == NULL)
		gw_compat_send_error(ws, "Service unavailable");
}

/* join-conversation: its own conversation only (by either id). */
static void
gw_dm_join(struct gw_ws *ws, const cJSON *m)
{
	const char *id = json_str(m, "conversation_id");

	if (id == NULL)
		id = json_str(cJSON_GetObjectItemCaseSensitive(m, "payload"), "conversation_id");
	if (id == NULL || (strcasecmp(id, ws->compat_pair) != 0 &&
	    strcasecmp(id, ws->compat_conv) != 0)) {
		gw_compat_send_error(ws, "Cannot join this conversation");
		return;
	}
	ws->compat_left = false;
	gw_ws_send_json(ws, gw_compat_envelope(ws, "conversation-joined"));
}

static void
gw_dm_heartbeat_ack(struct gw_ws *ws)
{
	cJSON *o = gw_compat_envelope(ws, "heartbeat-ack");

	if (o == NULL)
		return;
	cJSON_ReplaceItemInObjectCaseSensitive(o, "user_id", cJSON_CreateString(GW_NIL_UUID));
	cJSON_DeleteItemFromObjectCaseSensitive(o, "conversation_id");
	gw_ws_send_json(ws, o);
}

void
gw_compat_dm_on_message(struct gw_ws *ws, const cJSON *m, const char *type)
{
	if (strcmp(type, "heartbeat") == 0)
		gw_dm_heartbeat_ack(ws);
	else if (strcmp(type, "typing") == 0 || strcmp(type, "stop-typing") == 0)
		gw_ws_typing(ws, &gw_kind_conv, ws->compat_conv, strcmp(type, "typing") == 0);
	else if (strcmp(type, "mark-read") == 0)
		gw_dm_mark(ws, m, "/internal/dm/read");
	else if (strcmp(type, "mark-delivered") == 0)
		gw_dm_mark(ws, m, "/internal/dm/delivered");
	else if (strcmp(type, "join-conversation") == 0)
		gw_dm_join(ws, m);
	else if (strcmp(type, "leave-conversation") == 0)
		ws->compat_left = true;
	/* anything else: ignored, as the reference does */
}
