/* Rooms: the list, creation, one room, search, and room settings. Each
 * route is one call of a chat.* function (reply.c) of
 * sql/chat/003_rooms_functions.sql; who may do what is docs/permissions.md. */
#include "chatd.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "validate.h"

#define CHAT_ROOM_NAME_MAX 100
#define CHAT_ROOM_DESC_MAX 500
#define CHAT_MAX_USERS_DEFAULT 50
#define CHAT_MAX_USERS_MAX 100000
#define CHAT_SEARCH_QUERY_MAX 100
#define CHAT_SEARCH_LIMIT_MAX 50
#define CHAT_SEARCH_LIMIT_DEFAULT 20
#define CHAT_SEARCH_OFFSET_MAX 1000000

const struct pg_stmt chat_rooms_stmts[] = {
	{ "chat_rooms_list", SVC_REPLY("chat.rooms_list($1)"), 1 },
	{ "chat_room_create", SVC_REPLY("chat.room_create($1, $2, $3, $4, $5, $6, $7)"), 7 },
	{ "chat_room_get", SVC_REPLY("chat.room_get($1, $2, $3)"), 3 },
	{ "chat_room_search", SVC_REPLY("chat.room_search($1, $2, $3, $4, $5)"), 5 },
	{ "chat_room_settings_get", SVC_REPLY("chat.room_settings_get($1, $2, $3)"), 3 },
	{ "chat_room_settings_update",
	  SVC_REPLY("chat.room_settings_update($1, $2, $3, $4)"), 4 },
	{ NULL, NULL, 0 },
};

/* ------------------------------------------------------------ list, get */

/* GET /api/rooms: public rooms and the caller's private ones. */
static void
chat_rooms_list(struct svc_request *r)
{
	const char *params[1] = { r->user_id };

	svc_call(r, "chat_rooms_list", params);
}

/* GET /api/room?id=: one room; a private room only for its members and
 * global admins (404 for anyone else, as for a room that does not exist). */
static void
chat_room_get(struct svc_request *r)
{
	svc_call_id(r, "chat_room_get", "id");
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
chat_room_hashed(const char *hash, void *arg)
{
	struct chat_create_op *c = arg;

	if (hash == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Failed to hash password");
		return;
	}
	c->params[3] = hash;		/* pg_exec copies it */
	svc_op_call(&c->op, "chat_room_create", c->params);
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
	const char *why = valid_member_int(body, "max_users", -VALID_INT_EXACT, VALID_INT_EXACT,
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
	    (why = valid_member_bool(body, "is_private", &priv)) != NULL ||
	    (why = chat_member_max_users(body, c->max_users)) != NULL ||
	    (why = valid_member_uuid(body, "category_id", false, &cat)) != NULL)
		return why;
	c->password = pw && *pw ? (char *)pw : NULL;
	c->params[0] = r->user_id, c->params[1] = name, c->params[2] = desc;
	c->params[3] = NULL, c->params[4] = priv == 1 ? "true" : "false";
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
		svc_op_call(&c->op, "chat_room_create", c->params);
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
	    (why = valid_member_int(body, "limit", 1, CHAT_SEARCH_LIMIT_MAX,
	    CHAT_SEARCH_LIMIT_DEFAULT, &s->limit)) != NULL ||
	    (why = valid_member_int(body, "offset", 0, CHAT_SEARCH_OFFSET_MAX, 0, &s->offset)) != NULL)
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
	const char *qs = r->query ? r->query : "", *cat;
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
	if (!svc_query_uuid_opt(r, "category_id", s->category, &cat) ||
	    !svc_query_int(r, "limit", 1, CHAT_SEARCH_LIMIT_MAX, CHAT_SEARCH_LIMIT_DEFAULT, &limit) ||
	    !svc_query_int(r, "offset", 0, CHAT_SEARCH_OFFSET_MAX, 0, &offset))
		return false;
	if (cat == NULL)
		s->category[0] = '\0';
	s->limit = limit, s->offset = offset;
	return true;
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
	svc_call(r, "chat_room_search", params);
}

/* ------------------------------------------------------------ settings */

/* GET /api/room/settings?room_id=: for members and global admins. */
static void
chat_room_settings_get(struct svc_request *r)
{
	svc_call_id(r, "chat_room_settings_get", "room_id");
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
		if ((*why = valid_member_bool(body, chat_setting_bools[i], &b)) != NULL)
			break;
		if (b >= 0)
			cJSON_AddBoolToObject(patch, chat_setting_bools[i], b);
	}
	for (size_t i = 0; patch && !*why && i < sizeof(chat_setting_ints) /
	    sizeof(*chat_setting_ints); i++) {
		if ((*why = valid_member_int(body, chat_setting_ints[i].name, chat_setting_ints[i].lo,
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
	char room[UUID_STRLEN + 1];
	const char *params[4] = { room, r->user_id, svc_admin(r), NULL };
	const char *why = NULL;
	cJSON *body = svc_request_json(r), *patch;

	if (body == NULL)
		return;
	if (!svc_uuid_param(r, body, "room_id", room)) {
		cJSON_Delete(body);
		return;
	}
	patch = chat_settings_patch(body, &why);
	cJSON_Delete(body);
	if (patch == NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return;
	}
	svc_call_json(r, "chat_room_settings_update", params, 3, patch);
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
