/* Group DMs (reference §1.9): conversations of 2 to 10 users with an
 * owner, in the model of direct messages. Create, list, rename, history,
 * send, add and remove members, leave; each route is one call of a
 * chat.group_dm_* function (sql/chat/009_group_dm.sql) that checks
 * membership, the owner's rights, blocks and privacy in the transaction
 * that writes. Edits, deletes, reactions and read receipts of a group's
 * messages are dm.c's routes, which take a message id. Events go to the
 * members' sockets like a direct conversation's (events.c). */
#include "chatd.h"

#include <stdio.h>
#include <string.h>

#include "validate.h"

#define CHAT_GROUP_DM_MAX 10		/* members, the owner included */
#define CHAT_GROUP_DM_NAME_MAX 100	/* characters */
#define CHAT_GROUP_DM_PAGE_DEFAULT 50
#define CHAT_GROUP_DM_PAGE_MAX 100
#define CHAT_GROUP_DM_LIST_DEFAULT 100
#define CHAT_GROUP_DM_LIST_MAX 200
#define CHAT_GROUP_DM_BODY_MAX 4096	/* a name as \uXXXX pairs and 9 ids */
#define CHAT_GROUP_DM_SEND_MAX 65536	/* 4000 characters as \uXXXX pairs */
/* "{id,id,...}": the others' ids as a PostgreSQL uuid[] literal. */
#define CHAT_GROUP_DM_IDS_LEN ((CHAT_GROUP_DM_MAX - 1) * (UUID_STRLEN + 1) + 2)

const struct pg_stmt chat_group_dm_stmts[] = {
	{ "chat_group_dm_create", SVC_REPLY("chat.group_dm_create($1, $2, $3)"), 3 },
	{ "chat_group_dms_list", SVC_REPLY("chat.group_dms_list($1, $2, $3)"), 3 },
	{ "chat_group_dm_rename", SVC_REPLY("chat.group_dm_rename($1, $2, $3)"), 3 },
	{ "chat_group_dm_history", SVC_REPLY("chat.group_dm_history($1, $2, $3, $4, $5)"), 5 },
	{ "chat_group_dm_send", SVC_REPLY("chat.group_dm_send($1, $2, $3)"), 3 },
	{ "chat_group_dm_member_add", SVC_REPLY("chat.group_dm_member_add($1, $2, $3)"), 3 },
	{ "chat_group_dm_member_remove",
	  SVC_REPLY("chat.group_dm_member_remove($1, $2, $3)"), 3 },
	{ "chat_group_dm_leave", SVC_REPLY("chat.group_dm_leave($1, $2)"), 2 },
	{ NULL, NULL, 0 },
};

/* The body's "name" as a group name: 1-100 characters of single-line text,
 * not only spaces (the SQL trims them). Answers 400 when not acceptable. */
static bool
chat_group_dm_name(struct svc_request *r, const cJSON *body, const char **out)
{
	const char *why = valid_member_text(body, "name", true, 0, CHAT_GROUP_DM_NAME_MAX, out);

	if (why != NULL && strcmp(why, "name is too long") == 0)
		why = "Group DM name must be at most 100 characters";
	else if (why == NULL && (*out)[strspn(*out, " ")] == '\0')
		why = "Group DM name is required";
	if (why != NULL)
		svc_respond_error(r, 400, "invalid_request", why);
	return why == NULL;
}

/* The body's "member_ids" into out as a uuid[] literal: an array of 1..9
 * distinct UUIDs (lower-cased, so that case does not hide a repeat). NULL
 * or why not. */
static const char *
chat_group_dm_ids(const cJSON *body, char out[CHAT_GROUP_DM_IDS_LEN])
{
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "member_ids"), *v;
	char id[UUID_STRLEN + 1];
	size_t len = 1;
	int n;

	if (!cJSON_IsArray(ids))
		return "member_ids must be an array of user ids";
	n = cJSON_GetArraySize(ids);
	if (n < 1 || n > CHAT_GROUP_DM_MAX - 1)
		return "member_ids must list 1 to 9 other users";
	strcpy(out, "{");
	cJSON_ArrayForEach(v, ids) {
		if (!cJSON_IsString(v) || !uuid_valid(v->valuestring))
			return "member_ids must hold user ids (UUIDs)";
		valid_uuid_lower(id, v->valuestring);
		if (strstr(out, id) != NULL)
			return "member_ids must not repeat a user";
		len += (size_t)snprintf(out + len, CHAT_GROUP_DM_IDS_LEN - len, "%s%s",
		    len > 1 ? "," : "", id);
	}
	strcpy(out + len, "}");
	return NULL;
}

/* POST /api/group-dm/create {name, member_ids} → 201 the group. */
static void
chat_group_dm_create(struct svc_request *r)
{
	char ids[CHAT_GROUP_DM_IDS_LEN];
	const char *params[3] = { r->user_id, NULL, ids }, *why;
	cJSON *body = svc_request_json(r);

	if (body == NULL)
		return;
	if (chat_group_dm_name(r, body, &params[1])) {
		if ((why = chat_group_dm_ids(body, ids)) != NULL)
			svc_respond_error(r, 400, "invalid_request", why);
		else
			svc_call(r, "chat_group_dm_create", params);
	}
	cJSON_Delete(body);		/* pg_exec copied the parameters */
}

/* GET /api/group-dms?limit=&before=<group_dm_id> → the caller's groups,
 * the latest activity first. */
static void
chat_group_dms_list(struct svc_request *r)
{
	char before[UUID_STRLEN + 1], limit[8];
	const char *params[3] = { r->user_id, limit, NULL };
	long n;

	if (!svc_query_int(r, "limit", 1, CHAT_GROUP_DM_LIST_MAX, CHAT_GROUP_DM_LIST_DEFAULT,
	    &n) || !svc_query_uuid_opt(r, "before", before, &params[2]))
		return;
	snprintf(limit, sizeof(limit), "%ld", n);
	svc_call(r, "chat_group_dms_list", params);
}

/* PUT /api/group-dm/update {group_dm_id, name} → the group. */
static void
chat_group_dm_rename(struct svc_request *r)
{
	const char *params[3] = { NULL, r->user_id, NULL };
	cJSON *body = svc_request_json(r);

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "group_dm_id", true, &params[0]) &&
	    chat_group_dm_name(r, body, &params[2]))
		svc_call(r, "chat_group_dm_rename", params);
	cJSON_Delete(body);
}

/* GET /api/group-dm/messages?group_dm_id=&limit=&before=|after= → newest
 * first. */
static void
chat_group_dm_history(struct svc_request *r)
{
	char group[UUID_STRLEN + 1];
	struct chat_page pg;
	const char *params[5] = { group, r->user_id, pg.limit, NULL, NULL };

	if (!svc_query_uuid(r, "group_dm_id", group) ||
	    !chat_query_page(r, CHAT_GROUP_DM_PAGE_DEFAULT, CHAT_GROUP_DM_PAGE_MAX, &pg))
		return;
	params[3] = pg.before_p, params[4] = pg.after_p;
	svc_call(r, "chat_group_dm_history", params);
}

/* POST /api/group-dm/message/send {group_dm_id, content} → 201 the message. */
static void
chat_group_dm_send(struct svc_request *r)
{
	const char *params[3] = { NULL, r->user_id, NULL };
	cJSON *body = svc_request_json(r);

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "group_dm_id", true, &params[0]) &&
	    chat_content(r, body, true, &params[2]))
		svc_call(r, "chat_group_dm_send", params);
	cJSON_Delete(body);
}

/* Calls stmt with the body's group and user and the caller in the middle:
 * (group, actor, user), the shape of adding and removing a member. */
static void
chat_group_dm_call_member(struct svc_request *r, const char *stmt)
{
	const char *params[3] = { NULL, r->user_id, NULL };
	cJSON *body = svc_request_json(r);

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "group_dm_id", true, &params[0]) &&
	    svc_body_uuid(r, body, "user_id", true, &params[2]))
		svc_call(r, stmt, params);
	cJSON_Delete(body);
}

/* POST /api/group-dm/member/add {group_dm_id, user_id} → 201
 * {"status":"added"}; the owner only. */
static void
chat_group_dm_member_add(struct svc_request *r)
{
	chat_group_dm_call_member(r, "chat_group_dm_member_add");
}

/* POST /api/group-dm/member/remove {group_dm_id, user_id} →
 * {"status":"removed"}; the owner, or the member themselves. */
static void
chat_group_dm_member_remove(struct svc_request *r)
{
	chat_group_dm_call_member(r, "chat_group_dm_member_remove");
}

/* POST /api/group-dm/leave?group_dm_id= (or {group_dm_id}) →
 * {"status":"left"}. */
static void
chat_group_dm_leave(struct svc_request *r)
{
	svc_call_param(r, "chat_group_dm_leave", "group_dm_id");
}

static const struct svc_route chat_group_dm_list[] = {
	{ { "POST", "/api/group-dm/create", ROUTE_USER, CHAT_GROUP_DM_BODY_MAX, "default" },
	  chat_group_dm_create },
	{ { "GET", "/api/group-dms", ROUTE_USER, 0, "default" }, chat_group_dms_list },
	{ { "PUT", "/api/group-dm/update", ROUTE_USER, CHAT_GROUP_DM_BODY_MAX, "default" },
	  chat_group_dm_rename },
	{ { "GET", "/api/group-dm/messages", ROUTE_USER, 0, "default" }, chat_group_dm_history },
	{ { "POST", "/api/group-dm/message/send", ROUTE_USER, CHAT_GROUP_DM_SEND_MAX, "default" },
	  chat_group_dm_send },
	{ { "POST", "/api/group-dm/member/add", ROUTE_USER, 1024, "default" },
	  chat_group_dm_member_add },
	{ { "POST", "/api/group-dm/member/remove", ROUTE_USER, 1024, "default" },
	  chat_group_dm_member_remove },
	{ { "POST", "/api/group-dm/leave", ROUTE_USER, 1024, "default" }, chat_group_dm_leave },
};

const struct svc_routes chat_group_dm_routes = {
	chat_group_dm_list, sizeof(chat_group_dm_list) / sizeof(chat_group_dm_list[0])
};
