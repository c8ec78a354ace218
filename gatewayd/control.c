/* gatewayd's control socket (enclavrctl(8), libcommon/control.h): status,
 * reload (as SIGHUP), log-level, and its own commands: "sessions" lists the
 * WebSockets open here, "kick <session id | user id>" closes them with
 * 4003. */
#include "gatewayd.h"

#include <string.h>
#include <strings.h>

#include "control.h"
#include "log.h"
#include "version.h"

static cJSON *
gw_ctl_status(void *arg)
{
	struct gw *gw = arg;
	cJSON *o = cJSON_CreateObject(), *up;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "daemon", "gatewayd");
	cJSON_AddStringToObject(o, "version", ENCLAVR_VERSION);
	cJSON_AddNumberToObject(o, "uptime_s", (double)((time_mono_ms() - gw->started_ms) / 1000));
	cJSON_AddNumberToObject(o, "connections", gw->nconns);
	cJSON_AddNumberToObject(o, "websockets", gw->nws);
	cJSON_AddNumberToObject(o, "streams", gw_hub_rooms());
	cJSON_AddBoolToObject(o, "redis", redis_up(gw->redis));
	cJSON_AddBoolToObject(o, "draining", gw->draining);
	if ((up = cJSON_AddObjectToObject(o, "upstreams")) != NULL)
		for (int i = 0; i < GW_NUPSTREAMS; i++)
			cJSON_AddBoolToObject(up, gw->up[i].name, gw_upstream_up(&gw->up[i]));
	return o;
}

static int
gw_ctl_reload(void *arg, char *why, size_t len)
{
	return gw_reload_why(arg, why, len);
}

static const char *
gw_ctl_kind(const struct gw_ws *ws)
{
	if (ws->compat_room[0] != '\0')
		return "voice-ws";
	return ws->compat_conv[0] != '\0' ? "dm-ws" : "ws";
}

/* sessions → {"sessions":[{user_id, session_id, peer, kind, rooms,
 * conversations, queued_bytes, open_s}]} */
static void
gw_ctl_sessions(struct control_req *req, const char *args, void *arg)
{
	struct gw *gw = arg;
	cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "sessions");
	long long now = time_mono_ms();
	(void)args;

	for (struct gw_ws *ws = gw->wss; list != NULL && ws != NULL; ws = ws->next) {
		cJSON *s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "user_id", ws->user_id);
		cJSON_AddStringToObject(s, "session_id", ws->session_id);
		cJSON_AddStringToObject(s, "peer", ws->conn->peer);
		cJSON_AddStringToObject(s, "kind", gw_ctl_kind(ws));
		cJSON_AddNumberToObject(s, "rooms", ws->nsubs);
		cJSON_AddNumberToObject(s, "conversations", ws->nconvs);
		cJSON_AddNumberToObject(s, "queued_bytes", (double)evbuffer_get_length(ws->out));
		cJSON_AddNumberToObject(s, "open_s", (double)((now - ws->opened_ms) / 1000));
		cJSON_AddItemToArray(list, s);
	}
	control_reply(req, o);
}

/* kick <session id | user id> → {"kicked": n}: their sockets here close
 * with 4003. */
static void
gw_ctl_kick(struct control_req *req, const char *args, void *arg)
{
	struct gw *gw = arg;
	cJSON *o;
	int n;

	if (!uuid_valid(args)) {
		control_reply_error(req, "bad_request", "kick takes a session id or a user id");
		return;
	}
	n = gw_ws_kick(gw, args);
	log_info("control: kicked %d socket(s) of %s", n, args);
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddNumberToObject(o, "kicked", n);
	control_reply(req, o);
}

static const struct control_cmd gw_ctl_cmds[] = {
	{ "sessions", "sessions", gw_ctl_sessions },
	{ "kick", "kick <session id or user id>", gw_ctl_kick },
	{ NULL, NULL, NULL },
};

static struct control_def gw_ctl_def;

void
gw_control_open(struct gw *gw)
{
	gw_ctl_def = (struct control_def){ "gatewayd", gw->conf->control_socket,
		gw_ctl_status, gw_ctl_reload, gw_ctl_cmds, gw };
	gw->control = control_open(gw->base, &gw_ctl_def);
}

void
gw_control_close(struct gw *gw)
{
	control_close(gw->control);
	gw->control = NULL;
}
