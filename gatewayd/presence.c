/* Presence as gatewayd sees it: the sockets each user has open here (the
 * hub delivers a conversation's events to its members' sockets through
 * them). A user's first socket tells chatd "online", the last one "offline";
 * chatd keeps the shared state in Redis (docs/presence.md) and tells the
 * user's rooms. A gatewayd that starts first tells chatd to forget what a
 * previous run of it left behind. */
#include "gatewayd.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"

#define GW_PRESENCE_BUCKETS 4096

struct gw_online {
	char user_id[UUID_STRLEN + 1];
	struct gw_ws *sockets;		/* linked by ws->user_next */
	struct gw_online *next;
};

static struct gw_online *gw_online[GW_PRESENCE_BUCKETS];
static bool gw_presence_reset_done, gw_presence_resetting;

static void
gw_presence_cb(int status, cJSON *body, void *arg)
{
	(void)body, (void)arg;
	if (status != 200)
		log_debug("presence: chatd answered %d", status);
}

/* Until the reset of a previous run's entries has been answered, nothing
 * is told: a report made before it would be wiped by it. */
static void
gw_presence_tell(struct gw *gw, const char *user_id, const char *state)
{
	char query[128];

	if (!gw_presence_reset_done)
		return;		/* gw_presence_reset_cb tells who is here */
	snprintf(query, sizeof(query), "state=%s&instance=%s", state, gw->instance);
	if (gw_internal_call(gw, GW_CHATD, "/internal/chat/presence", query, user_id,
	    gw_presence_cb, NULL) == NULL)
		log_debug("presence: chatd is not available");
}

static struct gw_online **
gw_online_slot(const char *user_id)
{
	struct gw_online **pp = &gw_online[hash_fnv1a(user_id) % GW_PRESENCE_BUCKETS];

	while (*pp != NULL && strcmp((*pp)->user_id, user_id) != 0)
		pp = &(*pp)->next;
	return pp;
}

void
gw_presence_open(struct gw *gw, struct gw_ws *ws)
{
	struct gw_online **pp = gw_online_slot(ws->user_id), *o = *pp;
	bool first = o == NULL;

	if (o == NULL) {
		if ((o = calloc(1, sizeof(*o))) == NULL)
			return;
		memcpy(o->user_id, ws->user_id, sizeof(o->user_id));
		*pp = o;
	}
	ws->user_next = o->sockets;
	o->sockets = ws;
	ws->online = true;
	if (first)
		gw_presence_tell(gw, ws->user_id, "online");
}

void
gw_presence_close(struct gw *gw, struct gw_ws *ws)
{
	struct gw_online **pp = gw_online_slot(ws->user_id), *o = *pp;
	struct gw_ws **wp;

	if (o == NULL || !ws->online)
		return;
	for (wp = &o->sockets; *wp != NULL && *wp != ws; wp = &(*wp)->user_next)
		;
	if (*wp == ws)
		*wp = ws->user_next;
	ws->online = false;
	if (o->sockets != NULL)
		return;
	*pp = o->next;
	free(o);
	gw_presence_tell(gw, ws->user_id, "offline");
}

struct gw_ws *
gw_presence_sockets(const char *user_id)
{
	struct gw_online *o = *gw_online_slot(user_id);

	return o != NULL ? o->sockets : NULL;
}

static void
gw_presence_reset_cb(int status, cJSON *body, void *arg)
{
	struct gw *gw = arg;
	(void)body;

	gw_presence_resetting = false;
	if (status != 200)
		return;		/* the tick asks again */
	gw_presence_reset_done = true;
	for (int i = 0; i < GW_PRESENCE_BUCKETS; i++)
		for (struct gw_online *o = gw_online[i]; o != NULL; o = o->next)
			gw_presence_tell(gw, o->user_id, "online");
}

/* From the tick: once chatd is up, drop a previous run's entries. */
void
gw_presence_tick(struct gw *gw)
{
	char query[64];

	if (gw_presence_reset_done || gw_presence_resetting ||
	    !gw_upstream_up(&gw->up[GW_CHATD]))
		return;
	snprintf(query, sizeof(query), "instance=%s", gw->instance);
	gw_presence_resetting = gw_internal_call(gw, GW_CHATD, "/internal/chat/presence-reset",
	    query, NULL, gw_presence_reset_cb, gw) != NULL;
}

/* This gatewayd's name in the shared state: the same across its restarts
 * (host, address and port), so that a new run can clear an old run's. */
void
gw_presence_init(struct gw *gw)
{
	char host[256] = "", id[512];
	unsigned char h[16];

	gethostname(host, sizeof(host) - 1);
	snprintf(id, sizeof(id), "%s|%s|%lld", host, gw->conf->http_listen, gw->conf->http_port);
	crypto_generichash(h, sizeof(h), (const unsigned char *)id, strlen(id), NULL, 0);
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x40), h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(gw->instance, sizeof(gw->instance),
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11],
	    h[12], h[13], h[14], h[15]);
}

void
gw_presence_free(void)
{
	for (int i = 0; i < GW_PRESENCE_BUCKETS; i++)
		while (gw_online[i] != NULL) {
			struct gw_online *o = gw_online[i];
			gw_online[i] = o->next;
			free(o);
		}
}
