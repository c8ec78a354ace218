/* Events on a daemon's PUB socket (svc_reply.h): the envelopes a reply
 * carries, and ephemeral ones built here. gatewayd's WebSocket hub
 * subscribes to the topics room.<uuid> and dm.<uuid>. */
#include "svc_reply.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "uuid.h"

static void (*svc_publish_after)(const cJSON *env);

void
svc_publish_hook(void (*fn)(const cJSON *env))
{
	svc_publish_after = fn;
}

void
svc_publish(struct svc *svc, const char *prefix, const char *id, const cJSON *env)
{
	char topic[8 + UUID_STRLEN + 1];

	snprintf(topic, sizeof(topic), "%s.%s", prefix, id);
	if (ipc_publish(svc_pub(svc), topic, env) < 0)
		log_warnx("events: could not publish on %s", topic);
}

cJSON *
svc_ephemeral(const char *type, const char *key, const char *id, const char *user,
    const cJSON *payload)
{
	cJSON *env = cJSON_CreateObject();
	char now[RFC3339_STRLEN];

	time_now_rfc3339(now, sizeof(now));
	if (env != NULL &&
	    cJSON_AddStringToObject(env, "type", type) != NULL &&
	    cJSON_AddStringToObject(env, key, id) != NULL &&
	    cJSON_AddStringToObject(env, "user_id", user) != NULL &&
	    cJSON_AddStringToObject(env, "target_user_id", SVC_NIL_UUID) != NULL &&
	    (payload == NULL ||
	    cJSON_AddItemToObject(env, "payload", cJSON_Duplicate(payload, true))) &&
	    cJSON_AddStringToObject(env, "timestamp", now) != NULL)
		return env;
	log_warnx("events: out of memory; %s of %s not published", type, id);
	cJSON_Delete(env);
	return NULL;
}

void
svc_publish_column(struct svc *svc, const PGresult *res, int col)
{
	for (int i = 0; i < PQntuples(res); i++) {
		const char *env = PQgetvalue(res, i, col);
		cJSON *o;
		const char *room, *conv;

		if (PQgetisnull(res, i, col))
			continue;
		o = json_parse_exact(env, strlen(env));
		room = json_str(o, "room_id");
		conv = json_str(o, "conversation_id");
		if (room != NULL)
			svc_publish(svc, "room", room, o);
		else if (conv != NULL)
			svc_publish(svc, "dm", conv, o);
		if ((room != NULL || conv != NULL) && svc_publish_after != NULL)
			svc_publish_after(o);
		cJSON_Delete(o);
	}
}
