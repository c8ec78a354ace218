/* Rooms: the list, creation, one room, search, and room settings; and the
 * helpers every room concern shares (members.c, categories.c): the answer
 * of a chat.* function's (st, body, env) rows, JSON integer and boolean
 * members. The SQL they call is sql/chat/003_rooms_functions.sql; who may
 * do what is docs/permissions.md. */
#include "chatd.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "url.h"
#include "validate.h"

#define CHAT_ROOM_NAME_MAX 100
#define CHAT_ROOM_DESC_MAX 500
#define CHAT_ROOM_PASS_MAX 128
#define CHAT_MAX_USERS_DEFAULT 50
#define CHAT_MAX_USERS_MAX 100000
#define CHAT_SEARCH_QUERY_MAX 100
#define CHAT_SEARCH_LIMIT_MAX 50
#define CHAT_SEARCH_LIMIT_DEFAULT 20
#define CHAT_SEARCH_OFFSET_MAX 1000000
/* Every integer a client sends fits a double exactly below this. */
#define CHAT_INT_LIMIT 9007199254740991LL

const struct pg_stmt chat_rooms_stmts[] = {
	{ "chat_rooms_list", "SELECT coalesce(json_agg(chat.room_json(r, $1)"
	  " ORDER BY r.created_at, r.id), '[]')::text FROM chat.rooms r"
	  " WHERE NOT r.is_private OR EXISTS (SELECT 1 FROM chat.members m"
	  " WHERE m.room_id = r.id AND m.user_id = $1)", 1 },
	{ "chat_room_create", "SELECT * FROM chat.room_create($1, $2, $3, $4, $5, $6, $7)", 7 },
	{ "chat_room_get", "SELECT chat.room_json(r, $2)::text FROM chat.rooms r"
	  " WHERE r.id = $1 AND chat.room_visible(r, $2, $3)", 3 },
	{ "chat_room_search", "SELECT chat.room_search($1, $2, $3, $4, $5)", 5 },
	{ "chat_room_settings_get", "SELECT * FROM chat.room_settings_get($1, $2, $3)", 3 },
	{ "chat_room_settings_update",
	  "SELECT * FROM chat.room_settings_update($1, $2, $3, $4)", 4 },
	{ NULL, NULL, 0 },
};

/* ------------------------------------------------------------ shared */

/* What each st of a chat.* function means for the client. */
struct chat_status {
	const char *st;
	int http;
	const char *code, *message;
};

static const struct chat_status chat_statuses[] = {
	{ "not_found", 404, "not_found", "Room not found" },
	{ "not_member", 403, "not_member", "You are not a member of this room" },
	{ "name_taken", 409, "conflict", "Room name already exists" },
	{ "category_not_found", 404, "not_found", "Category not found" },
	{ "wrong_password", 403, "invalid_password", "Invalid password" },
	{ "already_member", 409, "conflict", "Already in room" },
	{ "banned", 403, "banned", "You are banned from this room" },
	{ "full", 403, "room_full", "Room is full" },
	{ "not_in_room", 404, "not_found", "Not in room" },
	{ "owner_must_transfer", 409, "owner_must_transfer",
	  "The owner cannot leave while other members remain: transfer ownership first" },
	{ "bad_role", 400, "invalid_request", "role must be admin, moderator or member" },
	{ "self_role", 403, "forbidden", "You cannot change your own role" },
	{ "self_kick", 400, "invalid_request", "Use /api/room/leave to leave a room" },
	{ "insufficient_role", 403, "forbidden", "Your role in this room does not allow this" },
	{ "target_not_member", 404, "not_found", "User is not a member of this room" },
	{ "not_owner", 403, "forbidden", "Only the room owner can transfer ownership" },
	{ "new_owner_not_member", 400, "invalid_request",
	  "New owner must be a member of the room" },
	{ "already_owner", 409, "conflict", "The user already owns the room" },
	{ "max_users_below_members", 409, "conflict",
	  "max_users cannot be below the current member count" },
};

static void
chat_status_answer(struct svc_request *r, const char *st)
{
	for (size_t i = 0; i < sizeof(chat_statuses) / sizeof(chat_statuses[0]); i++) {
		const struct chat_status *s = &chat_statuses[i];
		if (strcmp(s->st, st) == 0) {
			svc_respond_error(r, s->http, s->code, s->message);
			return;
		}
	}
	log_warnx("rooms: %s %s: unknown status \"%s\"", r->method, r->path, st);
	svc_respond_error(r, 500, "internal", "The request failed");
}

/* A unique violation that no function caught is still a conflict. */
static bool
chat_conflict(struct svc_request *r, const PGresult *res)
{
	if (res == NULL || PQresultStatus(res) != PGRES_FATAL_ERROR ||
	    strcmp(pg_sqlstate(res), PG_UNIQUE_VIOLATION) != 0)
		return false;
	svc_respond_error(r, 409, "conflict", "It already exists");
	return true;
}

/* Answers 200 with the JSON text of row 0, column col. */
static void
chat_respond_text(struct svc_request *r, const PGresult *res, int col)
{
	cJSON *body = json_parse_exact(PQgetvalue(res, 0, col),
	    (size_t)PQgetlength(res, 0, col));

	if (body == NULL) {
		log_warnx("rooms: %s %s: unreadable JSON from the database", r->method, r->path);
		svc_respond_error(r, 500, "internal", "The request failed");
		return;
	}
	svc_respond(r, 200, body);
}

void
chat_fn_answer(struct svc_request *r, PGresult *res)
{
	if (chat_conflict(r, res) || !svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) < 1 || PQnfields(res) != 3 || PQgetisnull(res, 0, 0)) {
		log_warnx("rooms: %s %s: a function answered no status", r->method, r->path);
		svc_respond_error(r, 500, "internal", "The request failed");
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "ok") != 0) {
		chat_status_answer(r, PQgetvalue(res, 0, 0));
		return;
	}
	chat_publish_column(res, 2);
	chat_respond_text(r, res, 1);
}

void
chat_fn_answer_cb(PGresult *res, void *arg)
{
	chat_fn_answer(arg, res);
}

void
chat_json_answer(struct svc_request *r, PGresult *res, const char *not_found)
{
	if (chat_conflict(r, res) || !svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		svc_respond_error(r, 404, "not_found", not_found);
		return;
	}
	chat_respond_text(r, res, 0);
}

const char *
chat_member_int(const cJSON *obj, const char *name, long long lo, long long hi,
    long long def, long long *out)
{
	static char msg[128];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	double d;

	*out = def;
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	d = v->valuedouble;
	if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)lo || d > (double)hi) {
		snprintf(msg, sizeof(msg), "%s must be an integer from %lld to %lld", name, lo, hi);
		return msg;
	}
	*out = (long long)d;
	return NULL;
}

const char *
chat_member_bool(const cJSON *obj, const char *name, int *out)
{
	static char msg[96];
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = -1;
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsBool(v)) {
		snprintf(msg, sizeof(msg), "%s must be true or false", name);
		return msg;
	}
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return NULL;
}

const char *
chat_member_id(const cJSON *body, const char *name, char out[UUID_STRLEN + 1])
{
	const char *id, *why = valid_member_uuid(body, name, true, &id);

	if (why != NULL)
		return why;
	for (size_t i = 0; i <= UUID_STRLEN; i++)
		out[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
	return NULL;
}

static const char *
chat_bool_param(bool v)
{
	return v ? "true" : "false";
}

/* ------------------------------------------------------------ list, get */

static void
chat_rooms_list_cb(PGresult *res, void *arg)
{
	chat_json_answer(arg, res, "Room not found");
}

/* GET /api/rooms: public rooms and the caller's private ones. */
static void
chat_rooms_list(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_query(r, "chat_rooms_list", params, chat_rooms_list_cb, r);
}

/* GET /api/room?id=: one room; a private room only for its members and
 * global admins (404 for anyone else, as for a room that does not exist). */
static void
chat_room_get(struct svc_request *r)
{
	char id[UUID_STRLEN + 1];
	const char *params[3] = { id, r->user_id, chat_bool_param(r->admin) };

	if (chat_query_uuid(r, "id", id))
		svc_query(r, "chat_room_get", params, chat_rooms_list_cb, r);
}

/* ------------------------------------------------------------ create */

/* A creation in progress (params point into the body); freed by its
 * release when answered. */
struct chat_create_op {
	struct svc_op op;		/* first */
	const char *params[7];
	char max_users[24];
	char *password;			/* in the body: wiped with the op */
};

static void
chat_create_release(struct svc_op *op)
{
	struct chat_create_op *c = (struct chat_create_op *)op;

	if (c->password != NULL)
		sodium_memzero(c->password, strlen(c->password));
	free(c);
}

static void
chat_room_created(PGresult *res, void *arg)
{
	struct chat_create_op *c = arg;

	chat_fn_answer(c->op.r, res);
	svc_op_free(&c->op);
}

static void
chat_room_hashed(const char *hash, void *arg)
{
	struct chat_create_op *c = arg;

	if (hash == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Failed to hash password");
		return;
	}
	c->params[3] = hash;		/* pg_exec copies it */
	svc_op_query(&c->op, "chat_room_create", c->params, chat_room_created);
}

/* The description: optional, up to 500 characters, lines allowed. */
static const char *
chat_member_description(const cJSON *body, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "description");
	const char *why;

	*out = "";
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v))
		return "description must be a string";
	if ((why = valid_text(v->valuestring, 0, CHAT_ROOM_DESC_MAX, true)) != NULL)
		return strcmp(why, "is too long") == 0 ?
		    "description must be at most 500 characters" : "description must be plain text";
	*out = v->valuestring;
	return NULL;
}

/* max_users: absent or 0 means 50; negative or over 100000 is refused. */
static const char *
chat_member_max_users(const cJSON *body, char out[24])
{
	long long n;
	const char *why = chat_member_int(body, "max_users", -CHAT_INT_LIMIT, CHAT_INT_LIMIT,
	    0, &n);

	if (why != NULL)
		return "max_users must be an integer";
	if (n < 0)
		return "Max users must be a positive number";
	if (n > CHAT_MAX_USERS_MAX)
		return "max_users must be at most 100000";
	snprintf(out, 24, "%lld", n == 0 ? (long long)CHAT_MAX_USERS_DEFAULT : n);
	return NULL;
}

/* Checks the creation body into c->params; NULL or why not. */
static const char *
chat_create_parse(struct chat_create_op *c, struct svc_request *r)
{
	const cJSON *body = c->op.body;
	const char *name, *desc, *pw, *cat, *why;
	int priv;

	if ((why = valid_member_text(body, "name", false, 0, CHAT_ROOM_NAME_MAX, &name)) != NULL)
		return strcmp(why, "name is too long") == 0 ?
		    "Room name must be at most 100 characters" : why;
	if (name == NULL || name[strspn(name, " ")] == '\0')
		return "Room name is required";
	if ((why = chat_member_description(body, &desc)) != NULL ||
	    (why = valid_member_text(body, "password", false, 0, CHAT_ROOM_PASS_MAX, &pw)) != NULL ||
	    (why = chat_member_bool(body, "is_private", &priv)) != NULL ||
	    (why = chat_member_max_users(body, c->max_users)) != NULL ||
	    (why = valid_member_uuid(body, "category_id", false, &cat)) != NULL)
		return why;
	c->password = pw && *pw ? (char *)pw : NULL;
	c->params[0] = r->user_id, c->params[1] = name, c->params[2] = desc;
	c->params[3] = NULL, c->params[4] = chat_bool_param(priv == 1);
	c->params[5] = c->max_users, c->params[6] = cat;
	return NULL;
}

/* POST /api/room/create {name, description?, password?, is_private?,
 * max_users?, category_id?}: the creator is the owner (member row in the
 * same transaction). 200 with the room (user_count 1, role "owner"). */
static void
chat_room_create(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	struct chat_create_op *c;
	const char *why;

	if (body == NULL ||
	    (c = svc_op_new(r, body, sizeof(*c), chat_create_release)) == NULL)
		return;
	if ((why = chat_create_parse(c, r)) != NULL) {
		svc_op_fail(&c->op, 400, "invalid_request", why);
		return;
	}
	if (c->password == NULL) {
		svc_op_query(&c->op, "chat_room_create", c->params, chat_room_created);
		return;
	}
	if (chat_roompass_hash(c->password, chat_room_hashed, c) < 0)
		svc_op_fail(&c->op, 503, "busy", "Too many room passwords at once; try again");
}

/* ------------------------------------------------------------ search */

/* "%q%" for ILIKE, with LIKE's own characters escaped by '\'. */
static void
chat_like_pattern(const char *q, char *out, size_t outlen)
{
	size_t n = 0;

	out[n++] = '%';
	for (; *q != '\0' && n + 3 < outlen; q++) {
		if (*q == '%' || *q == '_' || *q == '\\')
			out[n++] = '\\';
		out[n++] = *q;
	}
	out[n++] = '%';
	out[n] = '\0';
}

struct chat_search {
	char q[CHAT_SEARCH_QUERY_MAX * 4 + 1];
	char category[UUID_STRLEN + 1];
	long long limit, offset;
};

/* The search from the JSON body {query?, category_id?, limit?, offset?}. */
static const char *
chat_search_from_body(const cJSON *body, struct chat_search *s)
{
	const char *q, *cat, *why;

	if ((why = valid_member_text(body, "query", false, 0, CHAT_SEARCH_QUERY_MAX, &q)) != NULL ||
	    (why = valid_member_uuid(body, "category_id", false, &cat)) != NULL ||
	    (why = chat_member_int(body, "limit", 1, CHAT_SEARCH_LIMIT_MAX,
	    CHAT_SEARCH_LIMIT_DEFAULT, &s->limit)) != NULL ||
	    (why = chat_member_int(body, "offset", 0, CHAT_SEARCH_OFFSET_MAX, 0, &s->offset)) != NULL)
		return why;
	snprintf(s->q, sizeof(s->q), "%s", q ? q : "");
	snprintf(s->category, sizeof(s->category), "%s", cat ? cat : "");
	return NULL;
}

/* The search from the query string (?query= or ?q=, category_id, limit,
 * offset); answers 400 itself and returns false when it is malformed. */
static bool
chat_search_from_query(struct svc_request *r, struct chat_search *s)
{
	const char *qs = r->query ? r->query : "";
	long limit, offset;
	int n = url_query_param(qs, "query", s->q, sizeof(s->q));

	if (n == 0)
		n = url_query_param(qs, "q", s->q, sizeof(s->q));
	if (n == 0)
		s->q[0] = '\0';
	if (n < 0 || valid_text(s->q, 0, CHAT_SEARCH_QUERY_MAX, false) != NULL) {
		svc_respond_error(r, 400, "invalid_parameter",
		    "query must be at most 100 characters of text");
		return false;
	}
	s->category[0] = '\0';
	n = url_query_param(qs, "category_id", s->category, sizeof(s->category));
	if ((n != 0 && !chat_query_uuid(r, "category_id", s->category)) ||
	    !chat_query_int(r, "limit", 1, CHAT_SEARCH_LIMIT_MAX, CHAT_SEARCH_LIMIT_DEFAULT, &limit) ||
	    !chat_query_int(r, "offset", 0, CHAT_SEARCH_OFFSET_MAX, 0, &offset))
		return false;
	s->limit = limit, s->offset = offset;
	return true;
}

static void
chat_search_cb(PGresult *res, void *arg)
{
	chat_json_answer(arg, res, "Room not found");
}

/* /api/rooms/search (GET or POST): rooms the caller can see whose name or
 * description holds the query (literally: % and _ are not wildcards). */
static void
chat_rooms_search(struct svc_request *r)
{
	struct chat_search s;
	char pattern[sizeof(s.q) * 2 + 3], limit[24], offset[24];
	const char *params[5] = { r->user_id, NULL, NULL, limit, offset };
	const char *why = NULL;

	if (strcmp(r->method, "POST") == 0 || r->body_len > 0) {
		cJSON *body = svc_request_json(r);
		if (body == NULL)
			return;
		why = chat_search_from_body(body, &s);
		cJSON_Delete(body);
		if (why != NULL) {
			svc_respond_error(r, 400, "invalid_request", why);
			return;
		}
	} else if (!chat_search_from_query(r, &s))
		return;
	if (s.q[0] != '\0') {
		chat_like_pattern(s.q, pattern, sizeof(pattern));
		params[1] = pattern;
	}
	params[2] = s.category[0] ? s.category : NULL;
	snprintf(limit, sizeof(limit), "%lld", s.limit);
	snprintf(offset, sizeof(offset), "%lld", s.offset);
	svc_query(r, "chat_room_search", params, chat_search_cb, r);
}

/* ------------------------------------------------------------ settings */

/* The room of a settings route: ?room_id=, or room_id in the body. */
static bool
chat_settings_room(struct svc_request *r, const cJSON *body, char room[UUID_STRLEN + 1])
{
	char probe[UUID_STRLEN + 2];
	const char *why;

	if (url_query_param(r->query ? r->query : "", "room_id", probe, sizeof(probe)) != 0 ||
	    cJSON_GetObjectItemCaseSensitive(body, "room_id") == NULL)
		return chat_query_uuid(r, "room_id", room);
	if ((why = chat_member_id(body, "room_id", room)) != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return false;
	}
	return true;
}

/* GET /api/room/settings?room_id=: for members and global admins. */
static void
chat_room_settings_get(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	const char *params[3] = { room, r->user_id, chat_bool_param(r->admin) };

	if (chat_query_uuid(r, "room_id", room))
		svc_query(r, "chat_room_settings_get", params, chat_fn_answer_cb, r);
}

static const char *const chat_setting_bools[] = {
	"allow_message_edits", "allow_reactions", "require_approval",
	"allow_voice_chat", "allow_file_uploads",
};

static const struct {
	const char *name;
	long long lo, hi;
} chat_setting_ints[] = {
	{ "max_users", 1, CHAT_MAX_USERS_MAX },
	{ "auto_delete_days", 0, 3650 },
	{ "slow_mode_seconds", 0, 21600 },
};

/* The settings to change, checked, as a new object; NULL with *why set. */
static cJSON *
chat_settings_patch(const cJSON *body, const char **why)
{
	cJSON *patch = cJSON_CreateObject();
	long long n;
	int b;

	*why = NULL;
	for (size_t i = 0; patch && i < sizeof(chat_setting_bools) / sizeof(*chat_setting_bools); i++) {
		if ((*why = chat_member_bool(body, chat_setting_bools[i], &b)) != NULL)
			break;
		if (b >= 0)
			cJSON_AddBoolToObject(patch, chat_setting_bools[i], b);
	}
	for (size_t i = 0; patch && !*why && i < sizeof(chat_setting_ints) /
	    sizeof(*chat_setting_ints); i++) {
		if ((*why = chat_member_int(body, chat_setting_ints[i].name, chat_setting_ints[i].lo,
		    chat_setting_ints[i].hi, -1, &n)) != NULL)
			break;
		if (n >= 0)
			cJSON_AddNumberToObject(patch, chat_setting_ints[i].name, (double)n);
	}
	if (patch == NULL)
		*why = "Out of memory";
	if (*why != NULL) {
		cJSON_Delete(patch);
		return NULL;
	}
	return patch;
}

/* PUT (or POST) /api/room/settings/update?room_id= {field?...}: the room's
 * owner and admins, or a global admin. Emits room-updated. */
static void
chat_room_settings_update(struct svc_request *r)
{
	char room[UUID_STRLEN + 1], *text = NULL;
	const char *params[4] = { room, r->user_id, chat_bool_param(r->admin), NULL };
	const char *why = NULL;
	cJSON *body = svc_request_json(r), *patch;

	if (body == NULL)
		return;
	if (!chat_settings_room(r, body, room)) {
		cJSON_Delete(body);
		return;
	}
	patch = chat_settings_patch(body, &why);
	cJSON_Delete(body);
	if (patch == NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return;
	}
	params[3] = text = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	if (text == NULL) {
		svc_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	svc_query(r, "chat_room_settings_update", params, chat_fn_answer_cb, r);
	free(text);
}

static const struct svc_route chat_rooms_table[] = {
	{ { "GET", "/api/rooms", ROUTE_USER, 0, "default" }, chat_rooms_list },
	{ { "POST", "/api/room/create", ROUTE_USER, 8192, "default" }, chat_room_create },
	{ { "GET", "/api/room", ROUTE_USER, 0, "default" }, chat_room_get },
	{ { "GET", "/api/rooms/search", ROUTE_USER, 4096, "default" }, chat_rooms_search },
	{ { "POST", "/api/rooms/search", ROUTE_USER, 4096, "default" }, chat_rooms_search },
	{ { "GET", "/api/room/settings", ROUTE_USER, 0, "default" }, chat_room_settings_get },
	{ { "PUT", "/api/room/settings/update", ROUTE_USER, 4096, "default" },
	  chat_room_settings_update },
	{ { "POST", "/api/room/settings/update", ROUTE_USER, 4096, "default" },
	  chat_room_settings_update },
};

const struct svc_routes chat_rooms_routes = {
	chat_rooms_table, sizeof(chat_rooms_table) / sizeof(chat_rooms_table[0])
};
