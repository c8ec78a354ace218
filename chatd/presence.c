/* Presence: the status a user chose (chat.presence, sql/chat/005) and
 * whether they hold a socket on some gatewayd (presence_store.c). Others
 * see the chosen status while the user is connected and "offline"
 * otherwise; "invisible" and "offline" always show as offline. Each change
 * of what others see is announced as an ephemeral presence-update event in
 * every room the user belongs to. gatewayd's hub reports sockets through
 * the internal routes; the REST routes are the reference's, with
 * membership checked (docs/presence.md). */
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
#define PRESENCE_STATUS_MAX 16

static const char *const presence_statuses[] = {
	"online", "away", "busy", "dnd", "invisible", "offline", NULL
};

const struct pg_stmt chat_presence_stmts[] = {
	/* Users ($1, an array) whose socket state just changed: last_seen is
	 * now unless they hide; their chosen status, name and rooms. */
	{ "chat_presence_seen", "WITH up AS ("
	  " INSERT INTO chat.presence AS p (user_id)"
	  "  SELECT DISTINCT u FROM unnest($1::uuid[]) AS u"
	  " ON CONFLICT (user_id) DO UPDATE SET last_seen = CASE"
	  "  WHEN p.status IN ('invisible', 'offline') THEN p.last_seen ELSE now() END"
	  " RETURNING p.user_id, p.status)"
	  " SELECT up.user_id::text, up.status, coalesce(d.username, ''),"
	  "  coalesce((SELECT string_agg(m.room_id::text, ',') FROM chat.members m"
	  "   WHERE m.user_id = up.user_id), '')"
	  " FROM up LEFT JOIN auth.directory d ON d.id = up.user_id", 1 },
	/* $1 chooses status $2 in room $3 (NULL for none; must be a member):
	 * ok, the previous choice, the row, the name and every room. */
	{ "chat_presence_update", "WITH chk AS ("
	  " SELECT $3::uuid IS NULL OR chat.member_role($3::uuid, $1::uuid) IS NOT NULL AS ok,"
	  "  (SELECT status FROM chat.presence WHERE user_id = $1::uuid) AS old),"
	  " up AS (INSERT INTO chat.presence AS p (user_id, status, room_id, last_seen, updated_at)"
	  "  SELECT $1::uuid, $2::text, $3::uuid, now(), now() FROM chk WHERE chk.ok"
	  "  ON CONFLICT (user_id) DO UPDATE SET status = EXCLUDED.status,"
	  "   room_id = EXCLUDED.room_id, last_seen = now(), updated_at = now()"
	  "  RETURNING p.room_id, p.last_seen)"
	  " SELECT chk.ok, coalesce(chk.old, 'online'), up.room_id::text,"
	  "  chat.rfc3339(up.last_seen), coalesce(d.username, ''),"
	  "  coalesce((SELECT string_agg(m.room_id::text, ',') FROM chat.members m"
	  "   WHERE m.user_id = $1::uuid), '')"
	  " FROM chk LEFT JOIN up ON true LEFT JOIN auth.directory d ON d.id = $1::uuid", 3 },
	/* Room exists, $2 is a member, and (then) the members who do not
	 * hide, one per row (or one row of NULLs). */
	{ "chat_presence_room", "SELECT f.room, f.member, c.user_id::text, c.username,"
	  " c.status, chat.rfc3339(c.last_seen)"
	  " FROM (SELECT EXISTS (SELECT 1 FROM chat.rooms WHERE id = $1::uuid) AS room,"
	  "  chat.member_role($1::uuid, $2::uuid) IS NOT NULL AS member) f"
	  " LEFT JOIN LATERAL (SELECT m.user_id, coalesce(d.username, '') AS username,"
	  "  coalesce(p.status, 'online') AS status, coalesce(p.last_seen, now()) AS last_seen"
	  "  FROM chat.members m LEFT JOIN chat.presence p ON p.user_id = m.user_id"
	  "  LEFT JOIN auth.directory d ON d.id = m.user_id"
	  "  WHERE f.member AND m.room_id = $1::uuid"
	  "  AND coalesce(p.status, 'online') NOT IN ('invisible', 'offline')) c ON true"
	  " ORDER BY c.username, c.user_id", 2 },
	/* User $1 exists, their choice and last_seen, and whether $2 may see
	 * them (the same user, or a room in common). */
	{ "chat_presence_user", "SELECT d.id IS NOT NULL, coalesce(p.status, 'online'),"
	  " chat.rfc3339(p.last_seen),"
	  " x.id = $2::uuid OR EXISTS (SELECT 1 FROM chat.members a"
	  "  JOIN chat.members b ON b.room_id = a.room_id AND b.user_id = $2::uuid"
	  "  WHERE a.user_id = x.id)"
	  " FROM (SELECT $1::uuid AS id) x LEFT JOIN auth.directory d ON d.id = x.id"
	  " LEFT JOIN chat.presence p ON p.user_id = x.id", 2 },
	{ NULL, NULL, 0 },
};

/* A presence request in flight. */
struct presence_op {
	struct svc_op op;
	char id[UUID_STRLEN + 1];	/* room or user the request is about */
	char inst[UUID_STRLEN + 1];	/* internal routes: the gatewayd */
	char status[PRESENCE_STATUS_MAX];	/* update: the choice */
	char last_seen[40];		/* user: "" when never seen */
	bool online;			/* internal: the transition's direction */
	bool reset;			/* internal: presence-reset */
	bool connected;			/* update: the caller holds a socket */
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

/* What other users see of a choice. */
static const char *
presence_visible(const char *chosen, bool connected)
{
	if (!connected || strcmp(chosen, "invisible") == 0 || strcmp(chosen, "offline") == 0)
		return "offline";
	return chosen;
}

/* Announces user's visible status in every room of rooms (ids joined by
 * ','). */
static void
presence_publish(const char *user, const char *username, const char *status,
    const char *rooms)
{
	cJSON *p = cJSON_CreateObject();
	char *copy = strdup(rooms), *save = NULL;

	if (p == NULL || copy == NULL ||
	    cJSON_AddStringToObject(p, "user_id", user) == NULL ||
	    cJSON_AddStringToObject(p, "username", username) == NULL ||
	    cJSON_AddStringToObject(p, "status", status) == NULL) {
		log_warnx("presence: out of memory; update of %s not published", user);
	} else {
		for (char *room = strtok_r(copy, ",", &save); room != NULL;
		    room = strtok_r(NULL, ",", &save))
			if (uuid_valid(room))
				chat_publish_ephemeral("presence-update", room, user, p);
	}
	free(copy);
	cJSON_Delete(p);
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

/* Rows of chat_presence_seen for users who came online (p->online) or
 * went offline: announces those whose visible status changed. */
static void
presence_seen_cb(PGresult *res, void *arg)
{
	struct presence_op *p = arg;

	if (!svc_op_ok(&p->op, res, PGRES_TUPLES_OK))
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *shown = presence_visible(PQgetvalue(res, i, 1), true);

		if (strcmp(shown, "offline") != 0)
			presence_publish(PQgetvalue(res, i, 0), PQgetvalue(res, i, 2),
			    p->online ? shown : "offline", PQgetvalue(res, i, 3));
	}
	presence_status_ok(p);
}

/* Records last_seen of the n users in res->ids (or of p's user when res
 * is NULL) and announces them. */
static void
presence_seen(struct presence_op *p, const struct chat_store_res *res)
{
	size_t n = res ? res->n : 1, cap = 3 + n * (UUID_STRLEN + 1), len = 1;
	char *arr = malloc(cap);
	const char *params[1] = { arr };

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
	if (!chat_query_uuid(r, "instance", inst) ||
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

	if (!chat_query_uuid(r, "instance", inst) ||
	    (p = svc_op_new(r, NULL, sizeof(*p), presence_op_free)) == NULL)
		return;
	memcpy(p->inst, inst, sizeof(p->inst));
	p->reset = true;
	chat_store_presence_reset(p->inst, presence_reset_cb, p);
}

/* ------------------------------------------------------------ update */

static void
presence_update_cb(PGresult *res, void *arg)
{
	struct presence_op *p = arg;
	const char *user = p->op.r->user_id, *before, *after;
	cJSON *o;

	if (!svc_op_ok(&p->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1 || *PQgetvalue(res, 0, 0) != 't') {
		svc_op_fail(&p->op, 403, "not_member", "You are not a member of this room");
		return;
	}
	before = presence_visible(PQgetvalue(res, 0, 1), p->connected);
	after = presence_visible(p->status, p->connected);
	if (strcmp(before, after) != 0)
		presence_publish(user, PQgetvalue(res, 0, 4), after, PQgetvalue(res, 0, 5));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "user_id", user);
	cJSON_AddStringToObject(o, "username", PQgetvalue(res, 0, 4));
	cJSON_AddStringToObject(o, "status", p->status);
	if (!PQgetisnull(res, 0, 2))
		cJSON_AddStringToObject(o, "room_id", PQgetvalue(res, 0, 2));
	cJSON_AddStringToObject(o, "last_seen", PQgetvalue(res, 0, 3));
	svc_op_done(&p->op, 200, o);
}

static void
presence_update_connected_cb(const struct chat_store_res *res, void *arg)
{
	struct presence_op *p = arg;
	const char *params[3] = { p->op.r->user_id, p->status, *p->id ? p->id : NULL };

	if (res == NULL) {
		svc_op_free(&p->op);
		return;
	}
	p->connected = res->n > 0;
	svc_op_query(&p->op, "chat_presence_update", params, presence_update_cb);
}

/* Reads {status, room_id?} into p; answers 400 and returns false when
 * either is not acceptable. */
static bool
presence_update_read(struct svc_request *r, const cJSON *body, struct presence_op *p)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "status");
	const cJSON *room = cJSON_GetObjectItemCaseSensitive(body, "room_id");
	size_t i;

	if (!cJSON_IsString(st)) {
		svc_respond_error(r, 400, st ? "invalid_parameter" : "missing_parameter",
		    "status must be one of online, away, busy, dnd, invisible, offline");
		return false;
	}
	for (i = 0; presence_statuses[i] != NULL; i++)
		if (strcmp(st->valuestring, presence_statuses[i]) == 0)
			break;
	if (presence_statuses[i] == NULL) {
		svc_respond_error(r, 400, "invalid_parameter",
		    "status must be one of online, away, busy, dnd, invisible, offline");
		return false;
	}
	snprintf(p->status, sizeof(p->status), "%s", presence_statuses[i]);
	if (room == NULL || cJSON_IsNull(room))
		return true;
	if (!cJSON_IsString(room) || !uuid_valid(room->valuestring)) {
		svc_respond_error(r, 400, "invalid_parameter", "Invalid room_id");
		return false;
	}
	memcpy(p->id, room->valuestring, UUID_STRLEN + 1);
	valid_uuid_lower(p->id, p->id);
	return true;
}

/* POST /api/presence/update {status, room_id?} → {user_id, username,
 * status, room_id?, last_seen}: the caller's own choice. */
static void
presence_update(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	struct presence_op *p;

	if (body == NULL ||
	    (p = svc_op_new(r, body, sizeof(*p), presence_op_free)) == NULL)
		return;
	if (!presence_update_read(r, body, p)) {
		svc_op_free(&p->op);
		return;
	}
	chat_store_presence_connected(r->user_id, presence_update_connected_cb, p);
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

/* GET /api/presence/room?room_id= → [{user_id, username, status,
 * last_seen}] of the members others see online (any status but offline);
 * [] when none. Members only. */
static void
presence_room(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	struct presence_op *p;
	const char *params[2];

	if (!chat_query_uuid(r, "room_id", room) ||
	    (p = svc_op_new(r, NULL, sizeof(*p), presence_op_free)) == NULL)
		return;
	memcpy(p->id, room, sizeof(p->id));
	params[0] = p->id, params[1] = r->user_id;
	svc_op_query(&p->op, "chat_presence_room", params, presence_room_cb);
}

/* GET /internal/chat/relay?room_id=&type=user-joined|user-left: the
 * reference's room socket announces its user; the room (on every
 * gatewayd) gets that, then online-users-list, the members online as on
 * /api/presence/room. Members only. */
static void
presence_relay(struct svc_request *r)
{
	char room[UUID_STRLEN + 1], type[16];
	struct presence_op *p;
	const char *params[2];

	if (r->user_id == NULL) {
		svc_respond_error(r, 401, "unauthorized", "A user is required");
		return;
	}
	if (!chat_query_uuid(r, "room_id", room))
		return;
	if (url_query_param(r->query, "type", type, sizeof(type)) <= 0 ||
	    (strcmp(type, "user-joined") != 0 && strcmp(type, "user-left") != 0)) {
		svc_respond_error(r, 400, "invalid_type", "type must be user-joined or user-left");
		return;
	}
	if ((p = svc_op_new(r, NULL, sizeof(*p), presence_op_free)) == NULL)
		return;
	memcpy(p->id, room, sizeof(p->id));
	memcpy(p->relay, type, sizeof(p->relay));
	params[0] = p->id, params[1] = r->user_id;
	svc_op_query(&p->op, "chat_presence_room", params, presence_room_cb);
}

/* ------------------------------------------------------------ user */

/* Answers {user_id, status, last_seen}; last_seen is null when the user
 * was never seen. */
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
	presence_user_done(p, presence_visible(p->status, res->n > 0));
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
	if (*PQgetvalue(res, 0, 3) != 't' && !p->op.r->admin) {
		svc_op_fail(&p->op, 403, "forbidden", "You share no room with this user");
		return;
	}
	snprintf(p->status, sizeof(p->status), "%s", PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 2))
		snprintf(p->last_seen, sizeof(p->last_seen), "%s", PQgetvalue(res, 0, 2));
	if (strcmp(presence_visible(p->status, true), "offline") == 0)
		presence_user_done(p, "offline");
	else
		chat_store_presence_connected(p->id, presence_user_connected_cb, p);
}

/* GET /api/presence/user?user_id= → {user_id, status, last_seen}: what
 * others see. Only for the user, users sharing a room, and admins. */
static void
presence_user(struct svc_request *r)
{
	char user[UUID_STRLEN + 1];
	struct presence_op *p;
	const char *params[2];

	if (!chat_query_uuid(r, "user_id", user) ||
	    (p = svc_op_new(r, NULL, sizeof(*p), presence_op_free)) == NULL)
		return;
	memcpy(p->id, user, sizeof(p->id));
	params[0] = p->id, params[1] = r->user_id;
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
