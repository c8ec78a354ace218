/* Typing indicators: who is typing in a room or in a conversation (a
 * direct or group DM), for its members only. A start holds for 10 s unless
 * renewed; the start is announced at first and at most every 3 s while it
 * is renewed, the stop on a stop or when the start expires (the sweep,
 * every second). In a room: user-typing and user-stopped-typing on
 * room.<id>; in a conversation: dm-typing and dm-stop-typing on dm.<id>,
 * for its members ("to"). The events are ephemeral: no seq, not stored.
 * State: presence_store.c. gatewayd's WebSocket hub uses
 * /internal/chat/typing and /internal/dm/typing for its "typing" and
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

/* The members of conversation conv (SQL), as the text of a JSON array
 * ordered like chat.dm_emit's "to"; NULL when it has none. */
#define TYPING_MEMBERS(conv) "(SELECT json_agg(m.user_id ORDER BY m.user_id)" \
	" FROM chat.conversation_members m WHERE m.conversation_id = " conv ")::text"

const struct pg_stmt chat_typing_stmts[] = {
	/* Where the caller ($2) types, as typing_where_cb reads it: the
	 * stream's id, whether the caller is a member, their name, whether
	 * typing there is blocked, the members (conversations only). No row:
	 * no such room. */
	{ "chat_typing_room", "SELECT r.id::text, m.user_id IS NOT NULL,"
	  " coalesce(d.username, ''), false, NULL::text"
	  " FROM chat.rooms r"
	  " LEFT JOIN chat.members m ON m.room_id = r.id AND m.user_id = $2::uuid"
	  " LEFT JOIN auth.directory d ON d.id = m.user_id"
	  " WHERE r.id = $1::uuid", 2 },
	/* The same of a conversation named by its id ($1) or by the other
	 * user of a direct one ($2), for the caller ($3). No row unless the
	 * caller is a member, so that a conversation's existence does not
	 * leak. A direct conversation is blocked when either blocked the
	 * other. */
	{ "chat_typing_conversation", "SELECT c.id::text, true, coalesce(d.username, ''),"
	  " c.kind = 'direct' AND chat.blocked_between(c.pair_lo, c.pair_hi), "
	  TYPING_MEMBERS("c.id")
	  " FROM chat.conversations c LEFT JOIN auth.directory d ON d.id = $3::uuid"
	  " WHERE c.id = coalesce($1::uuid, chat.direct_of($3::uuid, $2::uuid))"
	  " AND chat.is_conversation_member(c.id, $3::uuid)", 3 },
	/* The typists ($2 users, $3 their starts in Unix ms) still members of
	 * stream $1 (a conversation when $4), as a JSON array. */
	{ "chat_typing_users", "SELECT coalesce(json_agg(json_build_object('user_id', t.u,"
	  " 'username', coalesce(d.username, ''),"
	  " 'started_at', chat.rfc3339(to_timestamp(t.ms / 1000.0))) ORDER BY t.ms, t.u),"
	  " '[]'::json)::text"
	  " FROM unnest($2::uuid[], $3::bigint[]) AS t(u, ms)"
	  " LEFT JOIN auth.directory d ON d.id = t.u"
	  " WHERE CASE WHEN $4::boolean THEN chat.is_conversation_member($1::uuid, t.u)"
	  " ELSE EXISTS (SELECT 1 FROM chat.members m"
	  "  WHERE m.room_id = $1::uuid AND m.user_id = t.u) END", 4 },
	/* Of each expiry ($1 streams, $2 users), in order: the user's name
	 * and the members of the stream taken as a conversation (NULL for a
	 * room: no conversation has a room's id). */
	{ "chat_typing_expired", "SELECT coalesce(d.username, ''), " TYPING_MEMBERS("t.s")
	  " FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS t(s, u, i)"
	  " LEFT JOIN auth.directory d ON d.id = t.u ORDER BY t.i", 2 },
	{ NULL, NULL, 0 },
};

/* How a request names where its user types: exactly one of these. */
enum typing_by { TYPING_BY_ROOM, TYPING_BY_CONVERSATION, TYPING_BY_USER, TYPING_BY_N };

static const char *const typing_param[TYPING_BY_N] = {
	"room_id", "conversation_id", "dm_user_id",
};
static const char *const typing_not_found[TYPING_BY_N] = {
	"Room not found", "Conversation not found", "No conversation with this user",
};

struct typing_target {
	enum typing_by by;
	char id[UUID_STRLEN + 1];
};

enum typing_action { TYPING_START, TYPING_STOP, TYPING_LIST };

/* A typing request in flight: what it names, what it does, and once
 * typing_where_cb resolved it, the stream, the caller's name and a
 * conversation's members (the events' "to"). svc_op_free frees it. */
struct typing_op {
	struct svc_op op;
	struct typing_target target;
	enum typing_action action;
	struct chat_typing_stream at;
	char *username;
	cJSON *to;		/* NULL for a room */
};

static void typing_sweep_arm(void);

/* Releases the context (svc_op_free's callback). */
static void
typing_op_free(struct svc_op *op)
{
	struct typing_op *t = (struct typing_op *)op;

	free(t->username);
	cJSON_Delete(t->to);
	free(t);
}

/* Publishes the start or the stop of user's typing in at: user-typing or
 * user-stopped-typing {user_id, username} in a room, dm-typing or
 * dm-stop-typing {user_id, username, conversation_id} to the members to
 * of a conversation. */
static void
typing_publish(bool start, const struct chat_typing_stream *at, const char *user,
    const char *username, const cJSON *to)
{
	cJSON *p = cJSON_CreateObject();

	if (p == NULL || cJSON_AddStringToObject(p, "user_id", user) == NULL ||
	    cJSON_AddStringToObject(p, "username", username) == NULL ||
	    (at->dm && cJSON_AddStringToObject(p, "conversation_id", at->id) == NULL))
		log_warnx("typing: out of memory");
	else if (!at->dm)
		chat_publish_ephemeral(start ? "user-typing" : "user-stopped-typing",
		    at->id, user, p);
	else
		chat_publish_dm_ephemeral(start ? "dm-typing" : "dm-stop-typing",
		    at->id, user, p, to);
	cJSON_Delete(p);
}

static void
typing_ok(struct svc_op *op)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", "ok");
	svc_op_done(op, 200, o);
}

/* A message ends its author's typing: where, who, and for the event
 * their name and a conversation's members. */
struct typing_sent {
	struct chat_typing_stream at;
	char user[UUID_STRLEN + 1];
	char *username;
	cJSON *to;
};

static void
typing_sent_free(struct typing_sent *t)
{
	free(t->username);
	cJSON_Delete(t->to);
	free(t);
}

static void
typing_sent_cb(const struct chat_store_res *res, void *arg)
{
	struct typing_sent *t = arg;

	if (res != NULL && res->flag)
		typing_publish(false, &t->at, t->user, t->username, t->to);
	typing_sent_free(t);
}

/* The stream, author name and members (a conversation's "to") of env when
 * it is a message that ends its author's typing; false otherwise. */
static bool
typing_sent_of(const cJSON *env, struct chat_typing_stream *at, const char **name,
    const cJSON **to)
{
	const char *type = json_str(env, "type"), *id;
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(env, "payload");

	if (type == NULL || (strcmp(type, "chat-message") != 0 &&
	    strcmp(type, "dm-message") != 0))
		return false;
	at->dm = strcmp(type, "dm-message") == 0;
	id = json_str(env, at->dm ? "conversation_id" : "room_id");
	*name = at->dm ? json_str(cJSON_GetObjectItemCaseSensitive(payload, "sender"),
	    "username") : json_str(payload, "username");
	*to = at->dm ? cJSON_GetObjectItemCaseSensitive(env, "to") : NULL;
	if (id == NULL || !uuid_valid(id) || (at->dm && !cJSON_IsArray(*to)))
		return false;
	valid_uuid_lower(at->id, id);
	return true;
}

void
chat_typing_after(const cJSON *env)
{
	const char *user = json_str(env, "user_id"), *name;
	const cJSON *to;
	struct chat_typing_stream at;
	struct typing_sent *t;

	if (!typing_sent_of(env, &at, &name, &to) || user == NULL || !uuid_valid(user) ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return;
	t->at = at;
	if ((t->username = strdup(name ? name : "")) == NULL ||
	    (to != NULL && (t->to = cJSON_Duplicate(to, true)) == NULL)) {
		typing_sent_free(t);
		return;
	}
	valid_uuid_lower(t->user, user);
	chat_store_typing_stop(&t->at, t->user, typing_sent_cb, t);
}

/* ------------------------------------------------------------ start, stop, list */

static void
typing_store_cb(const struct chat_store_res *res, void *arg)
{
	struct typing_op *t = arg;

	if (res == NULL) {		/* the daemon stops */
		svc_op_free(&t->op);
		return;
	}
	if (res->flag)
		typing_publish(t->action == TYPING_START, &t->at, t->op.r->user_id,
		    t->username, t->to);
	if (t->action == TYPING_START)
		typing_sweep_arm();
	typing_ok(&t->op);
}

static void typing_list_cb(const struct chat_store_res *res, void *arg);

/* Does t's action, once where it types is known and allowed. */
static void
typing_act(struct typing_op *t)
{
	const char *user = t->op.r->user_id;

	switch (t->action) {
	case TYPING_START:
		chat_store_typing_start(&t->at, user, typing_store_cb, t);
		break;
	case TYPING_STOP:
		chat_store_typing_stop(&t->at, user, typing_store_cb, t);
		break;
	case TYPING_LIST:
		chat_store_typing_list(&t->at, typing_list_cb, t);
		break;
	}
}

/* The answer of chat_typing_room or chat_typing_conversation. */
static void
typing_where_cb(PGresult *res, void *arg)
{
	struct typing_op *t = arg;

	if (!svc_op_ok(&t->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&t->op, 404, "not_found", typing_not_found[t->target.by]);
		return;
	}
	if (*PQgetvalue(res, 0, 1) != 't') {
		svc_op_fail(&t->op, 403, "not_member", "You are not a member of this room");
		return;
	}
	if (*PQgetvalue(res, 0, 3) == 't') {
		svc_op_fail(&t->op, 403, "blocked", "One of you has blocked the other");
		return;
	}
	t->at.dm = t->target.by != TYPING_BY_ROOM;
	valid_uuid_lower(t->at.id, PQgetvalue(res, 0, 0));
	if ((t->username = strdup(PQgetvalue(res, 0, 2))) == NULL || (t->at.dm &&
	    (t->to = json_parse_exact(PQgetvalue(res, 0, 4), PQgetlength(res, 0, 4))) == NULL)) {
		svc_op_fail(&t->op, 500, "internal", "Out of memory");
		return;
	}
	typing_act(t);
}

/* Does action for r's user where target names, once its membership (and
 * for a direct conversation, blocks) are checked. */
static void
typing_begin(struct svc_request *r, const struct typing_target *target,
    enum typing_action action)
{
	struct typing_op *t = svc_op_new(r, NULL, sizeof(*t), typing_op_free);
	const char *params[3] = { NULL, NULL, r->user_id };

	if (t == NULL)
		return;
	t->target = *target;
	t->action = action;
	if (target->by == TYPING_BY_ROOM) {
		params[0] = t->target.id, params[1] = r->user_id;
		svc_op_query(&t->op, "chat_typing_room", params, typing_where_cb);
		return;
	}
	params[target->by == TYPING_BY_CONVERSATION ? 0 : 1] = t->target.id;
	svc_op_query(&t->op, "chat_typing_conversation", params, typing_where_cb);
}

/* ------------------------------------------------------------ parameters */

static bool
typing_query_has(const struct svc_request *r, const char *name)
{
	char buf[UUID_STRLEN + 2];

	return url_query_param(r->query ? r->query : "", name, buf, sizeof(buf)) != 0;
}

/* Which of typing_param a request gives (has[i]: whether it gives the
 * i-th); answers 400 and returns false unless exactly one. */
static bool
typing_one_of(struct svc_request *r, const bool has[TYPING_BY_N], enum typing_by *by)
{
	int n = 0;

	for (int i = 0; i < TYPING_BY_N; i++)
		if (has[i])
			n++, *by = (enum typing_by)i;
	if (n > 1)
		svc_respond_error(r, 400, "invalid_parameter",
		    "Give only one of room_id, conversation_id and dm_user_id");
	else if (n == 0)
		svc_respond_error(r, 400, "missing_parameter",
		    "room_id, conversation_id or dm_user_id is required");
	return n == 1;
}

/* Where a body {room_id}, {conversation_id} or {dm_user_id} types;
 * answers 400 and returns false when it names none, several or a bad id. */
static bool
typing_body_target(struct svc_request *r, const cJSON *body, struct typing_target *t)
{
	const cJSON *v[TYPING_BY_N];
	bool has[TYPING_BY_N];
	char msg[48];

	for (int i = 0; i < TYPING_BY_N; i++) {
		v[i] = cJSON_GetObjectItemCaseSensitive(body, typing_param[i]);
		has[i] = v[i] != NULL && !cJSON_IsNull(v[i]);
	}
	if (!typing_one_of(r, has, &t->by))
		return false;
	if (!cJSON_IsString(v[t->by]) || !uuid_valid(v[t->by]->valuestring)) {
		snprintf(msg, sizeof(msg), "Invalid %s", typing_param[t->by]);
		svc_respond_error(r, 400, "invalid_parameter", msg);
		return false;
	}
	valid_uuid_lower(t->id, v[t->by]->valuestring);
	return true;
}

/* The same from the query string. */
static bool
typing_query_target(struct svc_request *r, struct typing_target *t)
{
	bool has[TYPING_BY_N];

	for (int i = 0; i < TYPING_BY_N; i++)
		has[i] = typing_query_has(r, typing_param[i]);
	return typing_one_of(r, has, &t->by) && svc_query_uuid(r, typing_param[t->by], t->id);
}

/* From the query string when it names where, else from the body. */
static bool
typing_any_target(struct svc_request *r, struct typing_target *t)
{
	cJSON *body;
	bool ok, in_query = false;

	for (int i = 0; i < TYPING_BY_N; i++)
		in_query = in_query || typing_query_has(r, typing_param[i]);
	if (in_query || r->body_len == 0)
		return typing_query_target(r, t);
	if ((body = svc_request_json(r)) == NULL)
		return false;
	ok = typing_body_target(r, body, t);
	cJSON_Delete(body);
	return ok;
}

/* POST /api/typing/start {room_id|conversation_id|dm_user_id} →
 * {"status":"ok"}. */
static void
typing_start_rest(struct svc_request *r)
{
	struct typing_target t;
	cJSON *body = svc_request_json(r);
	bool ok;

	if (body == NULL)
		return;
	ok = typing_body_target(r, body, &t);
	cJSON_Delete(body);
	if (ok)
		typing_begin(r, &t, TYPING_START);
}

/* POST or DELETE /api/typing/stop?room_id=|conversation_id=|dm_user_id=
 * (or the same in the body) → {"status":"ok"}. */
static void
typing_stop_rest(struct svc_request *r)
{
	struct typing_target t;

	if (typing_any_target(r, &t))
		typing_begin(r, &t, TYPING_STOP);
}

/* GET /api/typing/users?room_id=|conversation_id=|dm_user_id= →
 * [{user_id, username, started_at}] of the current typists, oldest first;
 * members only. */
static void
typing_users(struct svc_request *r)
{
	struct typing_target t;

	if (typing_query_target(r, &t))
		typing_begin(r, &t, TYPING_LIST);
}

/* GET /internal/<chat|dm>/typing?<room_id|conversation_id>=&state=start|stop,
 * for gatewayd's hub. */
static void
typing_internal(struct svc_request *r, enum typing_by by)
{
	struct typing_target t = { .by = by };
	char state[8];
	int n;

	if (r->user_id == NULL || !uuid_valid(r->user_id)) {	/* internal: may be absent */
		svc_respond_error(r, 401, "unauthorized", "A user is required");
		return;
	}
	if (!svc_query_uuid(r, typing_param[by], t.id))
		return;
	n = url_query_param(r->query, "state", state, sizeof(state));
	if (n <= 0 || (strcmp(state, "start") != 0 && strcmp(state, "stop") != 0)) {
		svc_respond_error(r, 400, "invalid_parameter", "state must be start or stop");
		return;
	}
	typing_begin(r, &t, strcmp(state, "start") == 0 ? TYPING_START : TYPING_STOP);
}

static void
typing_internal_room(struct svc_request *r)
{
	typing_internal(r, TYPING_BY_ROOM);
}

static void
typing_internal_dm(struct svc_request *r)
{
	typing_internal(r, TYPING_BY_CONVERSATION);
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
	text = PQgetvalue(res, 0, 0);
	if ((list = json_parse_exact(text, strlen(text))) == NULL) {
		svc_op_fail(&t->op, 500, "internal", "Out of memory");
		return;
	}
	svc_op_done(&t->op, 200, list);
}

/* A PostgreSQL array literal "{a,b,...}" of n entries: the strings (of at
 * most UUID_STRLEN characters) at first, first + stride..., or when first
 * is NULL the numbers in ms. NULL when out of memory. */
static char *
typing_array(const char *first, size_t stride, const long long *ms, size_t n)
{
	size_t cap = 3 + n * (UUID_STRLEN + 1), len = 1;
	char *s = malloc(cap);

	if (s == NULL)
		return NULL;
	s[0] = '{';
	for (size_t i = 0; i < n; i++) {
		int w = first != NULL ?
		    snprintf(s + len, cap - len, "%s%s", i ? "," : "", first + i * stride) :
		    snprintf(s + len, cap - len, "%s%lld", i ? "," : "", ms[i]);
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
	users = typing_array((const char *)res->ids, sizeof(*res->ids), NULL, res->n);
	starts = typing_array(NULL, 0, res->ms, res->n);
	if (users == NULL || starts == NULL) {
		free(users), free(starts);
		svc_op_fail(&t->op, 500, "internal", "Out of memory");
		return;
	}
	{
		const char *params[4] = { t->at.id, users, starts, t->at.dm ? "true" : "false" };
		svc_op_query(&t->op, "chat_typing_users", params, typing_users_cb);
	}
	free(users), free(starts);
}

/* ------------------------------------------------------------ expiry */

/* Typists whose start expired, being announced: reachable from here while
 * their names (and conversations' members) are looked up. */
struct typing_expired {
	size_t n;
	char (*users)[UUID_STRLEN + 1];
	struct chat_typing_stream *at;
};

static struct event *typing_sweep_ev;
static bool typing_sweep_busy;
static struct typing_expired *typing_expired;

static void
typing_expired_done(void)
{
	if (typing_expired != NULL) {
		free(typing_expired->users);
		free(typing_expired->at);
		free(typing_expired);
	}
	typing_expired = NULL;
	typing_sweep_busy = false;
}

/* Announces the i-th expiry with row i of res: the name, and the members
 * of a conversation. Without res (the query failed) a room's is announced
 * without a name, a conversation's not at all (nobody to tell is known). */
static void
typing_expired_publish(const PGresult *res, size_t i)
{
	const struct typing_expired *e = typing_expired;
	bool row = res != NULL && (size_t)PQntuples(res) == e->n;
	cJSON *to = NULL;

	if (e->at[i].dm && (!row || PQgetisnull(res, (int)i, 1) ||
	    (to = json_parse_exact(PQgetvalue(res, (int)i, 1),
	    PQgetlength(res, (int)i, 1))) == NULL))
		return;
	typing_publish(false, &e->at[i], e->users[i],
	    row ? PQgetvalue(res, (int)i, 0) : "", to);
	cJSON_Delete(to);
}

static void
typing_expired_cb(PGresult *res, void *arg)
{
	(void)arg;
	if (res != NULL && PQresultStatus(res) != PGRES_TUPLES_OK)
		res = NULL;
	for (size_t i = 0; i < typing_expired->n; i++)
		typing_expired_publish(res, i);
	typing_expired_done();
}

/* Keeps a copy of the sweep's expiries in typing_expired; false when out
 * of memory. */
static bool
typing_expired_keep(const struct chat_store_res *res)
{
	struct typing_expired *e = calloc(1, sizeof(*e));

	typing_expired = e;
	if (e == NULL || (e->users = malloc(res->n * sizeof(*e->users))) == NULL ||
	    (e->at = malloc(res->n * sizeof(*e->at))) == NULL)
		return false;
	memcpy(e->users, res->ids, res->n * sizeof(*e->users));
	memcpy(e->at, res->streams, res->n * sizeof(*e->at));
	e->n = res->n;
	return true;
}

static void
typing_sweep_cb(const struct chat_store_res *res, void *arg)
{
	const struct typing_expired *e;
	const char *params[2];
	char *streams = NULL, *users = NULL;
	(void)arg;

	if (res == NULL || res->n == 0 || !typing_expired_keep(res)) {
		typing_expired_done();
		return;
	}
	e = typing_expired;
	streams = typing_array(e->at[0].id, sizeof(*e->at), NULL, e->n);
	users = typing_array(e->users[0], sizeof(*e->users), NULL, e->n);
	params[0] = streams, params[1] = users;
	if (streams == NULL || users == NULL || pg_exec(svc_pg(chatd.svc),
	    "chat_typing_expired", params, typing_expired_cb, NULL) < 0)
		typing_expired_cb(NULL, NULL);
	free(streams), free(users);
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
	{ { "GET", "/internal/chat/typing", ROUTE_INTERNAL, 0, "default" },
	  typing_internal_room },
	{ { "GET", "/internal/dm/typing", ROUTE_INTERNAL, 0, "default" },
	  typing_internal_dm },
};

const struct svc_routes chat_typing_routes = {
	chat_typing_list, sizeof(chat_typing_list) / sizeof(chat_typing_list[0])
};
