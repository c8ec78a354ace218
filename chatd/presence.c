/* Presence: the status a user chose (chat.presence, sql/chat/005 and 008)
 * and whether they hold a socket on some gatewayd (presence_store.c).
 * Others see the chosen status while the user is connected and "offline"
 * otherwise; "invisible" and "offline" always show as offline, and so does
 * everything of a user who turned show_online_status off (to others; the
 * SQL of 008 decides that). Each change of what others see is announced as
 * an ephemeral presence-update event in every room the user belongs to,
 * built by chat.presence_events. gatewayd's hub reports sockets through the
 * internal routes; the REST routes are the reference's, with membership
 * checked (docs/presence.md). chat_presence_call lets status.c and
 * privacy.c make their writes knowing whether the user is connected. */
#include "chatd.h"
#include "presence_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "url.h"
#include "validate.h"

#define PRESENCE_BODY_LIMIT 1024
#define PRESENCE_CALL_PARAMS 8	/* the most a chat_presence_call takes */

const char *const chat_presence_statuses[] = {
	"online", "away", "busy", "dnd", "invisible", "offline", NULL
};

const struct pg_stmt chat_presence_stmts[] = {
	/* Users ($1, an array) whose socket state just changed, connected
	 * ($2) or not: last_seen is now unless they hide; the presence-update
	 * envelopes of those others see change. */
	{ "chat_presence_seen", "WITH up AS ("
	  " INSERT INTO chat.presence AS p (user_id)"
	  "  SELECT DISTINCT u FROM unnest($1::uuid[]) AS u"
	  " ON CONFLICT (user_id) DO UPDATE SET last_seen = CASE"
	  "  WHEN chat.presence_public(p.user_id, chat.status_effective(p.status, p.expires_at),"
	  "   NULL) = 'offline' THEN p.last_seen ELSE now() END"
	  " RETURNING p.user_id, chat.presence_public(p.user_id,"
	  "  chat.status_effective(p.status, p.expires_at), NULL) AS shown)"
	  " SELECT e::text FROM up, jsonb_array_elements(chat.presence_events(up.user_id,"
	  "  CASE WHEN $2::boolean THEN 'offline' ELSE up.shown END,"
	  "  CASE WHEN $2::boolean THEN up.shown ELSE 'offline' END)) e", 2 },
	{ "chat_presence_update", SVC_REPLY("chat.presence_update($1, $2, $3, $4)"), 4 },
	/* Room exists, $2 is a member, and (then) the members $3 sees as
	 * anything but offline (all of them: NULL), one per row, or one row
	 * of NULLs. */
	{ "chat_presence_room", "SELECT f.room, f.member, c.user_id::text, c.username,"
	  " c.status, chat.rfc3339(c.last_seen)"
	  " FROM (SELECT EXISTS (SELECT 1 FROM chat.rooms WHERE id = $1::uuid) AS room,"
	  "  chat.member_role($1::uuid, $2::uuid) IS NOT NULL AS member) f"
	  " LEFT JOIN LATERAL (SELECT m.user_id, coalesce(d.username, '') AS username,"
	  "  chat.presence_public(m.user_id, chat.status_effective(p.status, p.expires_at),"
	  "   $3::uuid) AS status, coalesce(p.last_seen, now()) AS last_seen"
	  "  FROM chat.members m LEFT JOIN chat.presence p ON p.user_id = m.user_id"
	  "  LEFT JOIN auth.directory d ON d.id = m.user_id"
	  "  WHERE f.member AND m.room_id = $1::uuid) c ON c.status <> 'offline'"
	  " ORDER BY c.username, c.user_id", 3 },
	/* User $1 exists, what $2 sees of their choice and last_seen (NULL
	 * when hidden), and whether $2 ($3: a global admin) may look. */
	{ "chat_presence_user", "SELECT d.id IS NOT NULL,"
	  " chat.presence_public(x.id, chat.status_effective(p.status, p.expires_at), $2::uuid),"
	  " CASE WHEN chat.presence_hidden_from(x.id, $2::uuid) THEN NULL"
	  "  ELSE chat.rfc3339(p.last_seen) END,"
	  " chat.presence_may_see($2::uuid, x.id, $3::boolean)"
	  " FROM (SELECT $1::uuid AS id) x LEFT JOIN auth.directory d ON d.id = x.id"
	  " LEFT JOIN chat.presence p ON p.user_id = x.id", 3 },
	{ NULL, NULL, 0 },
};

/* A presence request in flight. */
struct presence_op {
	struct svc_op op;
	char id[UUID_STRLEN + 1];	/* room or user the request is about */
	char inst[UUID_STRLEN + 1];	/* internal routes: the gatewayd */
	char status[16];		/* user: what the caller is shown */
	char last_seen[40];		/* user: "" when never seen or hidden */
	bool online;			/* internal: the transition's direction */
	bool reset;			/* internal: presence-reset */
	size_t changed;			/* internal: users whose state changed */
	cJSON *list;			/* room: the candidates */
	char relay[16];			/* relay: user-joined or user-left */
};

/* Releases the context (svc_op_free's callback). */
static void
presence_op_free(struct svc_op *op)
{
	struct presence_op *p = (struct presence_op *)op;

	cJSON_Delete(p->list);
	free(p);
}

/* ------------------------------------------------------------ calls */

/* A chat_presence_call waiting for the user's socket state. */
struct presence_call {
	struct svc_op op;
	const char *stmt;
	int n;
	const char *params[PRESENCE_CALL_PARAMS];	/* copies, but the last */
};

static void
presence_call_free(struct svc_op *op)
{
	struct presence_call *c = (struct presence_call *)op;

	for (int i = 0; i < c->n - 1; i++)
		free((char *)c->params[i]);
	free(c);
}

static void
presence_call_cb(const struct chat_store_res *res, void *arg)
{
	struct presence_call *c = arg;

	if (res == NULL) {
		svc_op_free(&c->op);
		return;
	}
	c->params[c->n - 1] = res->n > 0 ? "true" : "false";
	svc_op_call(&c->op, c->stmt, c->params);
}

void
chat_presence_call(struct svc_request *r, const char *user, const char *stmt,
    const char *const *params, int n)
{
	struct presence_call *c;

	if (n < 1 || n > PRESENCE_CALL_PARAMS)
		fatalx("presence: %s with %d parameters", stmt, n);
	if ((c = svc_op_new(r, NULL, sizeof(*c), presence_call_free)) == NULL)
		return;
	c->stmt = stmt, c->n = n;
	for (int i = 0; i < n - 1; i++)
		if (params[i] != NULL && (c->params[i] = strdup(params[i])) == NULL) {
			svc_op_fail(&c->op, 500, "internal", "Out of memory");
			return;
		}
	chat_store_presence_connected(user, presence_call_cb, c);
}

/* ------------------------------------------------------------ internal */

/* {"status":"ok","changed":bool} for a socket report,
 * {"status":"ok","offline":N} for a reset. */
static void
presence_status_ok(struct presence_op *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", "ok");
	if (p->reset)
		cJSON_AddNumberToObject(o, "offline", (double)p->changed);
	else
		cJSON_AddBoolToObject(o, "changed", p->changed != 0);
	svc_op_done(&p->op, 200, o);
}

/* The presence-update envelopes of chat_presence_seen: publishes them. */
static void
presence_seen_cb(PGresult *res, void *arg)
{
	struct presence_op *p = arg;

	if (!svc_op_ok(&p->op, res, PGRES_TUPLES_OK))
		return;
	svc_publish_column(chatd.svc, res, 0);
	presence_status_ok(p);
}

/* Records last_seen of the n users in res->ids (or of p's user when res
 * is NULL) and announces them. */
static void
presence_seen(struct presence_op *p, const struct chat_store_res *res)
{
	size_t n = res ? res->n : 1, cap = 3 + n * (UUID_STRLEN + 1), len = 1;
	char *arr = malloc(cap);
	const char *params[2] = { arr, p->online ? "true" : "false" };

	if (arr == NULL) {
		svc_op_fail(&p->op, 500, "internal", "Out of memory");
		return;
	}
	arr[0] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(arr + len, cap - len, "%s%s", i ? "," : "",
		    res ? res->ids[i] : p->op.r->user_id);
	snprintf(arr + len, cap - len, "}");
	svc_op_query(&p->op, "chat_presence_seen", params, presence_seen_cb);
	free(arr);
}

static void
presence_attach_cb(const struct chat_store_res *res, void *arg)
{
	struct presence_op *p = arg;

	if (res == NULL) {
		svc_op_free(&p->op);
		return;
	}
	p->changed = res->flag ? 1 : 0;
	if (!res->flag)
		presence_status_ok(p);
	else
		presence_seen(p, NULL);
}

/* GET /internal/chat/presence?state=online|offline&instance=<gatewayd>:
 * the user's first socket on that gatewayd opened, or its last closed. */
static void
presence_internal(struct svc_request *r)
{
	char state[8], inst[UUID_STRLEN + 1];
	struct presence_op *p;
	int n = url_query_param(r->query, "state", state, sizeof(state));

	if (r->user_id == NULL || !uuid_valid(r->user_id)) {	/* internal: may be absent */
		svc_respond_error(r, 401, "unauthorized", "A user is required");
		return;
	}
	if (n <= 0 || (strcmp(state, "online") != 0 && strcmp(state, "offline") != 0)) {
		svc_respond_error(r, 400, "invalid_parameter", "state must be online or offline");
		return;
	}
	if (!svc_query_uuid(r, "instance", inst) ||
	    (p = svc_op_new(r, NULL, sizeof(*p), presence_op_free)) == NULL)
		return;
	memcpy(p->inst, inst, sizeof(p->inst));
	p->online = strcmp(state, "online") == 0;
	if (p->online)
		chat_store_presence_attach(r->user_id, p->inst, presence_attach_cb, p);
	else
		chat_store_presence_detach(r->user_id, p->inst, presence_attach_cb, p);
}

static void
presence_reset_cb(const struct chat_store_res *res, void *arg)
{
	struct presence_op *p = arg;

	if (res == NULL) {
		svc_op_free(&p->op);
		return;
	}
	p->changed = res->n;
	if (res->n == 0)
		presence_status_ok(p);
	else
		presence_seen(p, res);
}

/* GET /internal/chat/presence-reset?instance=<gatewayd>: a gatewayd that
 * (re)starts drops what it held before; → {"status":"ok","offline":N}. */
static void
presence_reset(struct svc_request *r)
{
	char inst[UUID_STRLEN + 1];
	struct presence_op *p;

	if (!svc_query_uuid(r, "instance", inst) ||
	    (p = svc_op_new(r, NULL, sizeof(*p), presence_op_free)) == NULL)
		return;
	memcpy(p->inst, inst, sizeof(p->inst));
	p->reset = true;
	chat_store_presence_reset(p->inst, presence_reset_cb, p);
}

/* ------------------------------------------------------------ update */

/* Reads {status, room_id?}: the status (one of chat_presence_statuses)
 * into *status, the room lower-cased into room (*room_p NULL when none);
 * answers 400 and returns false when either is not acceptable. */
static bool
presence_update_read(struct svc_request *r, const cJSON *body, const char **status,
    char room[UUID_STRLEN + 1], const char **room_p)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "room_id");

	*room_p = NULL;
	if (!svc_body_enum(r, body, "status", chat_presence_statuses, true, status))
		return false;
	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsString(v) || !uuid_valid(v->valuestring)) {
		svc_respond_error(r, 400, "invalid_parameter", "Invalid room_id");
		return false;
	}
	valid_uuid_lower(room, v->valuestring);
	*room_p = room;
	return true;
}

/* POST /api/presence/update {status, room_id?} → {user_id, username,
 * status, room_id?, last_seen}: the caller's own choice
 * (chat.presence_update). */
static void
presence_update(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	const char *params[4] = { r->user_id, NULL, NULL, NULL };
	cJSON *body = svc_request_json(r);

	if (body == NULL)
		return;
	if (presence_update_read(r, body, &params[1], room, &params[2]))
		chat_presence_call(r, r->user_id, "chat_presence_update", params, 4);
	cJSON_Delete(body);
}

/* ------------------------------------------------------------ room */

static void
presence_room_connected_cb(const struct chat_store_res *res, void *arg)
{
	struct presence_op *p = arg;
	cJSON *out, *c;
	size_t k = 0;

	if (res == NULL) {
		svc_op_free(&p->op);
		return;
	}
	if ((out = cJSON_CreateArray()) == NULL) {
		svc_op_fail(&p->op, 500, "internal", "Out of memory");
		return;
	}
	/* Both lists are in the candidates' order. */
	while ((c = p->list->child) != NULL) {
		const char *id = json_str(c, "user_id");

		cJSON_DetachItemViaPointer(p->list, c);
		if (id != NULL && k < res->n && strcmp(id, res->ids[k]) == 0) {
			cJSON_AddItemToArray(out, c);
			k++;
		} else {
			cJSON_Delete(c);
		}
	}
	if (p->relay[0] == '\0') {
		svc_op_done(&p->op, 200, out);
		return;
	}
	/* The reference's socket: the announcement, then who is online. */
	chat_publish_ephemeral(p->relay, p->id, p->op.r->user_id, NULL);
	chat_publish_ephemeral("online-users-list", p->id, p->op.r->user_id, out);
	cJSON_Delete(out);
	svc_op_done(&p->op, 200, cJSON_CreateObject());
}

/* The candidates of a chat_presence_room result, and their ids joined by
 * ','; NULL when out of memory. */
static char *
presence_room_candidates(struct presence_op *p, const PGresult *res)
{
	size_t n = (size_t)PQntuples(res), len = 0;
	char *csv = malloc(n * (UUID_STRLEN + 1) + 1);

	if (csv == NULL || (p->list = cJSON_CreateArray()) == NULL) {
		free(csv);
		return NULL;
	}
	csv[0] = '\0';
	for (int i = 0; i < PQntuples(res); i++) {
		cJSON *m;

		if (PQgetisnull(res, i, 2))
			continue;
		if ((m = cJSON_CreateObject()) == NULL) {
			free(csv);
			return NULL;
		}
		cJSON_AddStringToObject(m, "user_id", PQgetvalue(res, i, 2));
		cJSON_AddStringToObject(m, "username", PQgetvalue(res, i, 3));
		cJSON_AddStringToObject(m, "status", PQgetvalue(res, i, 4));
		cJSON_AddStringToObject(m, "last_seen", PQgetvalue(res, i, 5));
		cJSON_AddItemToArray(p->list, m);
		len += (size_t)sprintf(csv + len, "%s%s", len ? "," : "", PQgetvalue(res, i, 2));
	}
	return csv;
}

static void
presence_room_cb(PGresult *res, void *arg)
{
	struct presence_op *p = arg;
	char *csv;

	if (!svc_op_ok(&p->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) < 1 || *PQgetvalue(res, 0, 0) != 't') {
		svc_op_fail(&p->op, 404, "not_found", "Room not found");
		return;
	}
	if (*PQgetvalue(res, 0, 1) != 't') {
		svc_op_fail(&p->op, 403, "not_member", "You are not a member of this room");
		return;
	}
	if ((csv = presence_room_candidates(p, res)) == NULL) {
		svc_op_fail(&p->op, 500, "internal", "Out of memory");
		return;
	}
	chat_store_presence_connected(csv, presence_room_connected_cb, p);
	free(csv);
}

/* Queues chat_presence_room for room: r's caller must be a member, and
 * the list is what viewer sees (NULL: what everyone else sees). */
static void
presence_room_query(struct svc_request *r, const char *room, const char *viewer,
    const char *relay)
{
	struct presence_op *p;
	const char *params[3];

	if ((p = svc_op_new(r, NULL, sizeof(*p), presence_op_free)) == NULL)
		return;
	memcpy(p->id, room, sizeof(p->id));
	snprintf(p->relay, sizeof(p->relay), "%s", relay);
	params[0] = p->id, params[1] = r->user_id, params[2] = viewer;
	svc_op_query(&p->op, "chat_presence_room", params, presence_room_cb);
}

/* GET /api/presence/room?room_id= → [{user_id, username, status,
 * last_seen}] of the members the caller sees online (any status but
 * offline); [] when none. Members only. */
static void
presence_room(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];

	if (svc_query_uuid(r, "room_id", room))
		presence_room_query(r, room, r->user_id, "");
}

/* GET /internal/chat/relay?room_id=&type=user-joined|user-left: the
 * reference's room socket announces its user; the room (on every
 * gatewayd) gets that, then online-users-list, the members online as
 * everyone sees them (a user who hides is not listed, not even to
 * themself: the list goes to the whole room). Members only. */
static void
presence_relay(struct svc_request *r)
{
	char room[UUID_STRLEN + 1], type[16];

	if (r->user_id == NULL) {
		svc_respond_error(r, 401, "unauthorized", "A user is required");
		return;
	}
	if (!svc_query_uuid(r, "room_id", room))
		return;
	if (url_query_param(r->query, "type", type, sizeof(type)) <= 0 ||
	    (strcmp(type, "user-joined") != 0 && strcmp(type, "user-left") != 0)) {
		svc_respond_error(r, 400, "invalid_type", "type must be user-joined or user-left");
		return;
	}
	presence_room_query(r, room, NULL, type);
}

/* ------------------------------------------------------------ user */

/* Answers {user_id, status, last_seen}; last_seen is null when the user
 * was never seen or hides from the caller. */
static void
presence_user_done(struct presence_op *p, const char *status)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "user_id", p->id);
	cJSON_AddStringToObject(o, "status", status);
	if (*p->last_seen != '\0')
		cJSON_AddStringToObject(o, "last_seen", p->last_seen);
	else
		cJSON_AddNullToObject(o, "last_seen");
	svc_op_done(&p->op, 200, o);
}

static void
presence_user_connected_cb(const struct chat_store_res *res, void *arg)
{
	struct presence_op *p = arg;

	if (res == NULL) {
		svc_op_free(&p->op);
		return;
	}
	presence_user_done(p, res->n > 0 ? p->status : "offline");
}

static void
presence_user_cb(PGresult *res, void *arg)
{
	struct presence_op *p = arg;

	if (!svc_op_ok(&p->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1 || *PQgetvalue(res, 0, 0) != 't') {
		svc_op_fail(&p->op, 404, "not_found", "User not found");
		return;
	}
	if (*PQgetvalue(res, 0, 3) != 't') {
		svc_op_fail(&p->op, 403, "forbidden", "You share no room with this user");
		return;
	}
	snprintf(p->status, sizeof(p->status), "%s", PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 2))
		snprintf(p->last_seen, sizeof(p->last_seen), "%s", PQgetvalue(res, 0, 2));
	if (strcmp(p->status, "offline") == 0)
		presence_user_done(p, "offline");
	else
		chat_store_presence_connected(p->id, presence_user_connected_cb, p);
}

/* GET /api/presence/user?user_id= → {user_id, status, last_seen}: what
 * the caller sees (others' view, but for the user's own show_online_status).
 * Only for the user, users sharing a room, and admins. */
static void
presence_user(struct svc_request *r)
{
	char user[UUID_STRLEN + 1];
	struct presence_op *p;
	const char *params[3];

	if (!svc_query_uuid(r, "user_id", user) ||
	    (p = svc_op_new(r, NULL, sizeof(*p), presence_op_free)) == NULL)
		return;
	memcpy(p->id, user, sizeof(p->id));
	params[0] = p->id, params[1] = r->user_id, params[2] = svc_admin(r);
	svc_op_query(&p->op, "chat_presence_user", params, presence_user_cb);
}

static const struct svc_route chat_presence_list[] = {
	{ { "POST", "/api/presence/update", ROUTE_USER, PRESENCE_BODY_LIMIT, "default" },
	  presence_update },
	{ { "GET", "/api/presence/room", ROUTE_USER, 0, "default" }, presence_room },
	{ { "GET", "/api/presence/user", ROUTE_USER, 0, "default" }, presence_user },
	{ { "GET", "/internal/chat/presence", ROUTE_INTERNAL, 0, "default" },
	  presence_internal },
	{ { "GET", "/internal/chat/relay", ROUTE_INTERNAL, 0, "default" }, presence_relay },
	{ { "GET", "/internal/chat/presence-reset", ROUTE_INTERNAL, 0, "default" },
	  presence_reset },
};

const struct svc_routes chat_presence_routes = {
	chat_presence_list, sizeof(chat_presence_list) / sizeof(chat_presence_list[0])
};
