/* Typing indicators: who is typing in a room, for members only. A start
 * holds for 10 s unless renewed; user-typing is announced on the first
 * start and at most every 3 s while it is renewed, user-stopped-typing on
 * a stop or when the start expires (the sweep, every second). The events
 * are ephemeral: no seq, not in chat.events. State: presence_store.c.
 * gatewayd's WebSocket hub uses /internal/chat/typing for its "typing" and
 * "stop-typing" messages; the REST routes are the reference's. */
#include "chatd.h"
#include "presence_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "url.h"
#include "validate.h"

#define TYPING_BODY_LIMIT 1024

const struct pg_stmt chat_typing_stmts[] = {
	/* No row: no such room. */
	{ "chat_typing_member", "SELECT m.user_id IS NOT NULL, coalesce(d.username, '')"
	  " FROM chat.rooms r"
	  " LEFT JOIN chat.members m ON m.room_id = r.id AND m.user_id = $2::uuid"
	  " LEFT JOIN auth.directory d ON d.id = m.user_id"
	  " WHERE r.id = $1::uuid", 2 },
	/* Room exists, caller is a member, and the typists ($3 users, $4 their
	 * starts in Unix ms) that are still members, as a JSON array. */
	{ "chat_typing_users", "SELECT EXISTS (SELECT 1 FROM chat.rooms WHERE id = $1::uuid),"
	  " chat.member_role($1::uuid, $2::uuid) IS NOT NULL,"
	  " coalesce((SELECT json_agg(json_build_object('user_id', t.u,"
	  "   'username', coalesce(d.username, ''),"
	  "   'started_at', chat.rfc3339(to_timestamp(t.ms / 1000.0))) ORDER BY t.ms, t.u)"
	  "  FROM unnest($3::uuid[], $4::bigint[]) AS t(u, ms)"
	  "  JOIN chat.members m ON m.room_id = $1::uuid AND m.user_id = t.u"
	  "  LEFT JOIN auth.directory d ON d.id = t.u), '[]'::json)::text", 4 },
	{ "chat_typing_names", "SELECT t.u::text, coalesce(d.username, '')"
	  " FROM unnest($1::uuid[]) AS t(u) LEFT JOIN auth.directory d ON d.id = t.u", 1 },
	{ NULL, NULL, 0 },
};

/* A typing request in flight (start, stop or list). */
struct typing_op {
	struct svc_op op;
	char room[UUID_STRLEN + 1];
	bool start;
	char *username;
};

static void typing_sweep_arm(void);

/* Releases the context (svc_op_free's callback). */
static void
typing_op_free(struct svc_op *op)
{
	struct typing_op *t = (struct typing_op *)op;

	free(t->username);
	free(t);
}

/* Publishes user-typing or user-stopped-typing. */
static void
typing_publish(bool start, const char *room, const char *user, const char *username)
{
	cJSON *p = cJSON_CreateObject();

	if (p == NULL || cJSON_AddStringToObject(p, "user_id", user) == NULL ||
	    cJSON_AddStringToObject(p, "username", username) == NULL)
		log_warnx("typing: out of memory");
	else
		chat_publish_ephemeral(start ? "user-typing" : "user-stopped-typing",
		    room, user, p);
	cJSON_Delete(p);
}

static void
typing_ok(struct svc_op *op)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", "ok");
	svc_op_done(op, 200, o);
}

/* A message ends its author's typing: who, and their name for the event. */
struct typing_sent {
	char room[UUID_STRLEN + 1];
	char user[UUID_STRLEN + 1];
	char *username;
};

static void
typing_sent_cb(const struct chat_store_res *res, void *arg)
{
	struct typing_sent *t = arg;

	if (res != NULL && res->flag)
		typing_publish(false, t->room, t->user, t->username);
	free(t->username);
	free(t);
}

void
chat_typing_after(const cJSON *env)
{
	const char *type = json_str(env, "type"), *room = json_str(env, "room_id");
	const char *user = json_str(env, "user_id");
	const char *name = json_str(cJSON_GetObjectItemCaseSensitive(env, "payload"), "username");
	struct typing_sent *t;

	if (type == NULL || strcmp(type, "chat-message") != 0 || room == NULL ||
	    user == NULL || !uuid_valid(room) || !uuid_valid(user) ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return;
	if ((t->username = strdup(name ? name : "")) == NULL) {
		free(t);
		return;
	}
	valid_uuid_lower(t->room, room);
	valid_uuid_lower(t->user, user);
	chat_store_typing_stop(t->room, t->user, typing_sent_cb, t);
}

/* ------------------------------------------------------------ start, stop */

static void
typing_store_cb(const struct chat_store_res *res, void *arg)
{
	struct typing_op *t = arg;

	if (res == NULL) {		/* the daemon stops */
		svc_op_free(&t->op);
		return;
	}
	if (res->flag)
		typing_publish(t->start, t->room, t->op.r->user_id, t->username);
	if (t->start)
		typing_sweep_arm();
	typing_ok(&t->op);
}

static void
typing_member_cb(PGresult *res, void *arg)
{
	struct typing_op *t = arg;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&t->op, 404, "not_found", "Room not found");
		return;
	}
	if (*PQgetvalue(res, 0, 0) != 't') {
		svc_op_fail(&t->op, 403, "not_member", "You are not a member of this room");
		return;
	}
	if ((t->username = strdup(PQgetvalue(res, 0, 1))) == NULL) {
		svc_op_fail(&t->op, 500, "internal", "Out of memory");
		return;
	}
	if (t->start)
		chat_store_typing_start(t->room, t->op.r->user_id, typing_store_cb, t);
	else
		chat_store_typing_stop(t->room, t->op.r->user_id, typing_store_cb, t);
}

/* Starts or stops r's user typing in room, once membership is checked. */
static void
typing_set(struct svc_request *r, const char *room, bool start)
{
	struct typing_op *t = svc_op_new(r, NULL, sizeof(*t), typing_op_free);
	const char *params[2] = { room, r->user_id };

	if (t == NULL)
		return;
	memcpy(t->room, room, sizeof(t->room));
	t->start = start;
	svc_op_query(&t->op, "chat_typing_member", params, typing_member_cb);
}

/* ------------------------------------------------------------ parameters */

static bool
typing_query_has(const struct svc_request *r, const char *name)
{
	char buf[UUID_STRLEN + 2];

	return url_query_param(r->query ? r->query : "", name, buf, sizeof(buf)) != 0;
}

/* The room of a body {room_id} or {dm_user_id}: exactly one. Answers 400
 * and returns false otherwise (direct messages are not supported yet). */
static bool
typing_body_room(struct svc_request *r, const cJSON *body, char room[UUID_STRLEN + 1])
{
	const cJSON *rm = cJSON_GetObjectItemCaseSensitive(body, "room_id");
	const cJSON *dm = cJSON_GetObjectItemCaseSensitive(body, "dm_user_id");
	bool has_rm = rm != NULL && !cJSON_IsNull(rm), has_dm = dm != NULL && !cJSON_IsNull(dm);

	if (has_rm && has_dm) {
		svc_respond_error(r, 400, "invalid_parameter",
		    "Give either room_id or dm_user_id, not both");
		return false;
	}
	if (has_dm) {
		svc_respond_error(r, 400, "not_supported", "dm typing is not supported yet");
		return false;
	}
	if (!has_rm) {
		svc_respond_error(r, 400, "missing_parameter", "room_id is required");
		return false;
	}
	if (!cJSON_IsString(rm) || !uuid_valid(rm->valuestring)) {
		svc_respond_error(r, 400, "invalid_parameter", "Invalid room_id");
		return false;
	}
	memcpy(room, rm->valuestring, UUID_STRLEN + 1);
	valid_uuid_lower(room, room);
	return true;
}

/* room_id from the query string, else from the body; dm_user_id refused. */
static bool
typing_any_room(struct svc_request *r, char room[UUID_STRLEN + 1])
{
	cJSON *body;
	bool ok;

	bool has_room = typing_query_has(r, "room_id");

	if (has_room && typing_query_has(r, "dm_user_id")) {
		svc_respond_error(r, 400, "invalid_parameter",
		    "Give either room_id or dm_user_id, not both");
		return false;
	}
	if (typing_query_has(r, "dm_user_id")) {
		svc_respond_error(r, 400, "not_supported", "dm typing is not supported yet");
		return false;
	}
	if (has_room || r->body_len == 0)
		return chat_query_uuid(r, "room_id", room);
	if ((body = svc_request_json(r)) == NULL)
		return false;
	ok = typing_body_room(r, body, room);
	cJSON_Delete(body);
	return ok;
}

/* POST /api/typing/start {room_id} → {"status":"ok"}. */
static void
typing_start_rest(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	cJSON *body = svc_request_json(r);
	bool ok;

	if (body == NULL)
		return;
	ok = typing_body_room(r, body, room);
	cJSON_Delete(body);
	if (ok)
		typing_set(r, room, true);
}

/* POST or DELETE /api/typing/stop?room_id= (or body {room_id}) →
 * {"status":"ok"}. */
static void
typing_stop_rest(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];

	if (typing_any_room(r, room))
		typing_set(r, room, false);
}

/* GET /internal/chat/typing?room_id=&state=start|stop, for gatewayd's hub. */
static void
typing_internal(struct svc_request *r)
{
	char room[UUID_STRLEN + 1], state[8];
	int n;

	if (r->user_id == NULL || !uuid_valid(r->user_id)) {	/* internal: may be absent */
		svc_respond_error(r, 401, "unauthorized", "A user is required");
		return;
	}
	if (!chat_query_uuid(r, "room_id", room))
		return;
	n = url_query_param(r->query, "state", state, sizeof(state));
	if (n <= 0 || (strcmp(state, "start") != 0 && strcmp(state, "stop") != 0)) {
		svc_respond_error(r, 400, "invalid_parameter", "state must be start or stop");
		return;
	}
	typing_set(r, room, strcmp(state, "start") == 0);
}

/* ------------------------------------------------------------ list */

static void
typing_users_cb(PGresult *res, void *arg)
{
	struct typing_op *t = arg;
	const char *text;
	cJSON *list;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (*PQgetvalue(res, 0, 0) != 't') {
		svc_op_fail(&t->op, 404, "not_found", "Room not found");
		return;
	}
	if (*PQgetvalue(res, 0, 1) != 't') {
		svc_op_fail(&t->op, 403, "not_member", "You are not a member of this room");
		return;
	}
	text = PQgetvalue(res, 0, 2);
	if ((list = json_parse_exact(text, strlen(text))) == NULL) {
		svc_op_fail(&t->op, 500, "internal", "Out of memory");
		return;
	}
	svc_op_done(&t->op, 200, list);
}

/* A PostgreSQL array literal "{a,b,...}" of n entries: ids[i * step]
 * when ms is NULL, else ms[i]. NULL when out of memory. */
static char *
typing_array(char (*ids)[UUID_STRLEN + 1], const long long *ms, size_t n, size_t step)
{
	size_t cap = 3 + n * (UUID_STRLEN + 1), len = 1;
	char *s = malloc(cap);

	if (s == NULL)
		return NULL;
	s[0] = '{';
	for (size_t i = 0; i < n; i++) {
		int w = ms != NULL ?
		    snprintf(s + len, cap - len, "%s%lld", i ? "," : "", ms[i]) :
		    snprintf(s + len, cap - len, "%s%s", i ? "," : "", ids[i * step]);
		len += (size_t)w;
	}
	snprintf(s + len, cap - len, "}");
	return s;
}

static void
typing_list_cb(const struct chat_store_res *res, void *arg)
{
	struct typing_op *t = arg;
	char *users, *starts;

	if (res == NULL) {
		svc_op_free(&t->op);
		return;
	}
	users = typing_array(res->ids, NULL, res->n, 1);
	starts = typing_array(NULL, res->ms, res->n, 1);
	if (users == NULL || starts == NULL) {
		free(users), free(starts);
		svc_op_fail(&t->op, 500, "internal", "Out of memory");
		return;
	}
	{
		const char *params[4] = { t->room, t->op.r->user_id, users, starts };
		svc_op_query(&t->op, "chat_typing_users", params, typing_users_cb);
	}
	free(users), free(starts);
}

/* GET /api/typing/users?room_id= → [{user_id, username, started_at}] of
 * the room's current typists, oldest first; members only. */
static void
typing_users(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	struct typing_op *t;

	if (typing_query_has(r, "dm_user_id")) {
		svc_respond_error(r, 400, "not_supported", "dm typing is not supported yet");
		return;
	}
	if (!chat_query_uuid(r, "room_id", room) ||
	    (t = svc_op_new(r, NULL, sizeof(*t), typing_op_free)) == NULL)
		return;
	memcpy(t->room, room, sizeof(t->room));
	chat_store_typing_list(room, typing_list_cb, t);
}

/* ------------------------------------------------------------ expiry */

/* Typists whose start expired, being announced: reachable from here while
 * their names are looked up. */
struct typing_expired {
	struct chat_store_res pairs;	/* room, user, room, user... */
};

static struct event *typing_sweep_ev;
static bool typing_sweep_busy;
static struct typing_expired *typing_expired;

static void
typing_expired_done(void)
{
	free(typing_expired->pairs.ids);
	free(typing_expired);
	typing_expired = NULL;
	typing_sweep_busy = false;
}

/* Announces every expiry with the usernames in res (NULL: none known). */
static void
typing_names_cb(PGresult *res, void *arg)
{
	const struct chat_store_res *p = &typing_expired->pairs;
	(void)arg;

	for (size_t i = 0; i + 1 < p->n; i += 2) {
		const char *name = "";

		for (int row = 0; res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
		    row < PQntuples(res); row++)
			if (strcmp(PQgetvalue(res, row, 0), p->ids[i + 1]) == 0)
				name = PQgetvalue(res, row, 1);
		typing_publish(false, p->ids[i], p->ids[i + 1], name);
	}
	typing_expired_done();
}

static void
typing_sweep_cb(const struct chat_store_res *res, void *arg)
{
	const char *params[1];
	char *users;
	(void)arg;

	if (res == NULL || res->n < 2 ||
	    (typing_expired = calloc(1, sizeof(*typing_expired))) == NULL ||
	    (typing_expired->pairs.ids = malloc(res->n * sizeof(*res->ids))) == NULL) {
		free(typing_expired);
		typing_expired = NULL;
		typing_sweep_busy = false;
		return;
	}
	memcpy(typing_expired->pairs.ids, res->ids, res->n * sizeof(*res->ids));
	typing_expired->pairs.n = res->n;
	/* The users are every second entry, from the second. */
	users = typing_array(typing_expired->pairs.ids + 1, NULL, res->n / 2, 2);
	params[0] = users;
	if (users == NULL || pg_exec(svc_pg(chatd.svc), "chat_typing_names", params,
	    typing_names_cb, NULL) < 0)
		typing_names_cb(NULL, NULL);
	free(users);
}

static void
typing_sweep_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (typing_sweep_busy)
		return;
	typing_sweep_busy = true;
	chat_store_typing_sweep(typing_sweep_cb, NULL);
}

/* Starts the once-a-second sweep at the first typing start. It runs until
 * exit (event_base_free removes it; the pointer keeps it reachable). */
static void
typing_sweep_arm(void)
{
	struct timeval tv = { 1, 0 };

	if (typing_sweep_ev != NULL)
		return;
	typing_sweep_ev = event_new(svc_base(chatd.svc), -1, EV_PERSIST,
	    typing_sweep_tick, NULL);
	if (typing_sweep_ev == NULL || event_add(typing_sweep_ev, &tv) < 0) {
		log_warnx("typing: cannot start the expiry sweep");
		if (typing_sweep_ev != NULL)
			event_free(typing_sweep_ev);
		typing_sweep_ev = NULL;
	}
}

static const struct svc_route chat_typing_list[] = {
	{ { "POST", "/api/typing/start", ROUTE_USER, TYPING_BODY_LIMIT, "default" },
	  typing_start_rest },
	{ { "POST", "/api/typing/stop", ROUTE_USER, TYPING_BODY_LIMIT, "default" },
	  typing_stop_rest },
	{ { "DELETE", "/api/typing/stop", ROUTE_USER, TYPING_BODY_LIMIT, "default" },
	  typing_stop_rest },
	{ { "GET", "/api/typing/users", ROUTE_USER, 0, "default" }, typing_users },
	{ { "GET", "/internal/chat/typing", ROUTE_INTERNAL, 0, "default" }, typing_internal },
};

const struct svc_routes chat_typing_routes = {
	chat_typing_list, sizeof(chat_typing_list) / sizeof(chat_typing_list[0])
};
