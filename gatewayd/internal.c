/* gatewayd's own calls to a daemon's internal routes (ROUTE_INTERNAL: never
 * routed from clients), made on behalf of a verified user, for the
 * WebSocket hub: the same envelope as a forwarded request (docs/ipc.md). */
#include "gatewayd.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

struct gw_icall {
	struct ipc_call *call;
	gw_internal_fn cb;
	void *arg;
	struct gw_icall *prev, *next;	/* in flight */
};

static struct gw_icall *gw_icalls;

static void
gw_icall_unlink(struct gw_icall *ic)
{
	if (ic->prev)
		ic->prev->next = ic->next;
	else
		gw_icalls = ic->next;
	if (ic->next)
		ic->next->prev = ic->prev;
}

static void
gw_internal_reply(enum ipc_call_result res, int type, cJSON *reply, void *arg)
{
	struct gw_icall *ic = arg;
	const char *text = res == IPC_CALL_OK && type == IPC_HTTP_RESPONSE ?
	    json_str(reply, "body") : NULL;
	int status = text ? (int)json_num(reply, "status", 0) : 0;
	cJSON *body = text && *text ? json_parse_exact(text, strlen(text)) : NULL;

	gw_icall_unlink(ic);
	ic->cb(status, body, ic->arg);
	cJSON_Delete(body);
	free(ic);
}

static char *
gw_internal_envelope(const char *method, const char *path, const char *query,
    const char *body, const char *user_id)
{
	cJSON *env = cJSON_CreateObject(), *p;
	char rid[UUID_STRLEN + 1], *text;

	if (env == NULL)
		return NULL;
	uuid_v4_seq(rid);
	cJSON_AddStringToObject(env, "method", method);
	cJSON_AddStringToObject(env, "route", path);
	cJSON_AddStringToObject(env, "path", path);
	cJSON_AddStringToObject(env, "query", query);
	cJSON_AddStringToObject(env, "body", body);
	cJSON_AddStringToObject(env, "request_id", rid);
	cJSON_AddStringToObject(env, "client_addr", "");
	cJSON_AddStringToObject(env, "user_agent", "gatewayd");
	if (user_id != NULL && (p = cJSON_AddObjectToObject(env, "principal")) != NULL) {
		cJSON_AddStringToObject(p, "user_id", user_id);
		cJSON_AddStringToObject(p, "session_id", "");
		cJSON_AddBoolToObject(p, "admin", false);
	} else {
		cJSON_AddNullToObject(env, "principal");
	}
	text = cJSON_PrintUnformatted(env);
	cJSON_Delete(env);
	return text;
}

struct gw_icall *
gw_internal_call(struct gw *gw, int daemon, const char *path, const char *query,
    const char *user_id, gw_internal_fn cb, void *arg)
{
	return gw_internal_post(gw, daemon, path, query, user_id, NULL, cb, arg);
}

struct gw_icall *
gw_internal_post(struct gw *gw, int daemon, const char *path, const char *query,
    const char *user_id, const char *body, gw_internal_fn cb, void *arg)
{
	struct gw_icall *ic = calloc(1, sizeof(*ic));
	char *env = gw_internal_envelope(body ? "POST" : "GET", path, query,
	    body ? body : "", user_id);

	if (ic != NULL && env != NULL && gw_upstream_up(&gw->up[daemon])) {
		ic->cb = cb, ic->arg = arg;
		ic->call = ipc_call_start(gw->up[daemon].cli, IPC_HTTP_REQUEST, env,
		    strlen(env), (int)gw->conf->upstream_timeout_ms, gw_internal_reply, ic);
	}
	free(env);
	if (ic != NULL && ic->call == NULL) {
		free(ic);
		return NULL;
	}
	if (ic != NULL) {
		ic->next = gw_icalls;
		if (gw_icalls)
			gw_icalls->prev = ic;
		gw_icalls = ic;
	}
	return ic;
}

void
gw_internal_cancel(struct gw_icall *ic)
{
	if (ic == NULL)
		return;
	ipc_call_cancel(ic->call);
	gw_icall_unlink(ic);
	free(ic);
}

void
gw_internal_free_all(void)
{
	while (gw_icalls != NULL)
		gw_internal_cancel(gw_icalls);
}
