/* Room messages: the history with cursor pages, send, edit (with its
 * history), delete, forward. Text is stored exactly as written: valid
 * UTF-8, 1-4000 characters, no control characters but tab and newline,
 * nothing escaped (the web client escapes when it renders). Every route is
 * one call of a chat.message_* function (reply.c). */
#include "chatd.h"
#include "presence_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define CHAT_CONTENT_MAX 4000
#define CHAT_PAGE_DEFAULT 50
#define CHAT_PAGE_MAX 100
#define CHAT_SEND_BODY_MAX 65536	/* 4000 characters as \uXXXX pairs */

const struct pg_stmt chat_messages_stmts[] = {
	{ "chat_messages_list", SVC_REPLY("chat.messages_page($1, $2, $3, $4, $5, $6)"), 6 },
	{ "chat_message_send", SVC_REPLY("chat.message_send($1, $2, $3, $4, $5::uuid[])"), 5 },
	/* The room's members, for who of them is here (@here). */
	{ "chat_room_member_ids", "SELECT coalesce(string_agg(user_id::text, ','), '')"
	  " FROM chat.members WHERE room_id = $1", 1 },
	{ "chat_message_update", SVC_REPLY("chat.message_update($1, $2, $3)"), 3 },
	{ "chat_message_delete", SVC_REPLY("chat.message_delete($1, $2, $3)"), 3 },
	{ "chat_message_forward", SVC_REPLY("chat.message_forward($1, $2, $3, $4)"), 4 },
	{ "chat_message_history", SVC_REPLY("chat.message_history($1, $2, $3)"), 3 },
	{ NULL, NULL, 0 },
};

/* True when s holds nothing but spaces, tabs and newlines. */
static bool
chat_blank(const char *s)
{
	return s[strspn(s, " \t\n")] == '\0';
}

bool
chat_content(struct svc_request *r, const cJSON *body, bool required, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "content");
	const char *why = NULL;

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v)) {
		if (!required)
			return true;
		why = "Message content cannot be empty";
	} else if (!cJSON_IsString(v))
		why = "content must be a string";
	else if (valid_text(v->valuestring, 0, (size_t)-1, true) != NULL)
		why = "message contains invalid characters";
	else if (chat_blank(v->valuestring))
		why = "Message content cannot be empty";
	else if (valid_text(v->valuestring, 1, CHAT_CONTENT_MAX, true) != NULL)
		why = "message content exceeds maximum length";
	if (why != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return false;
	}
	*out = v->valuestring;
	return true;
}

/* GET /api/messages?room_id=&limit=&before=|after= : newest first; before
 * and after are message ids of the room (cursors), one at most. */
static void
chat_messages_list(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	struct chat_page pg;
	const char *params[6] = { room, r->user_id, svc_admin(r), pg.limit, NULL, NULL };

	if (!svc_query_uuid(r, "room_id", room) ||
	    !chat_query_page(r, CHAT_PAGE_DEFAULT, CHAT_PAGE_MAX, &pg))
		return;
	params[4] = pg.before_p, params[5] = pg.after_p;
	svc_call(r, "chat_messages_list", params);
}

/* The type of a new message: "text" when absent; "system" only for global
 * admins. NULL after answering 400 or 403. */
static const char *
chat_message_type(struct svc_request *r, const cJSON *body)
{
	const char *type, *why = valid_member_text(body, "type", false, 0, 16, &type);

	if (why != NULL) {
		svc_respond_error(r, 400, "invalid_request", why);
		return NULL;
	}
	if (type == NULL || *type == '\0' || strcmp(type, "text") == 0)
		return "text";
	if (strcmp(type, "system") != 0) {
		svc_respond_error(r, 400, "invalid_request", "type must be text or system");
		return NULL;
	}
	if (!r->admin) {
		svc_respond_error(r, 403, "forbidden", "Only administrators can send system messages");
		return NULL;
	}
	return "system";
}

/* A send whose text says @here, waiting to learn who is connected. */
struct chat_here_op {
	struct svc_op op;		/* op.body holds the request's JSON */
	const char *params[5];		/* point into op.body, but [4] */
	char *here;			/* "{id,id,...}" */
};

static void
chat_here_op_free(struct svc_op *op)
{
	free(((struct chat_here_op *)op)->here);
	free(op);
}

/* The connected members, as a uuid[] literal: then the send itself. */
static void
chat_here_connected_cb(const struct chat_store_res *res, void *arg)
{
	struct chat_here_op *h = arg;
	size_t len = 3 + (res ? res->n : 0) * (UUID_STRLEN + 1);
	char *p;

	if (res == NULL) {		/* the daemon stops */
		svc_op_free(&h->op);
		return;
	}
	if ((h->here = p = malloc(len)) == NULL) {
		svc_op_fail(&h->op, 500, "internal", "Out of memory");
		return;
	}
	*p++ = '{';
	for (size_t i = 0; i < res->n; i++)
		p += snprintf(p, len - (size_t)(p - h->here), "%s%s", i ? "," : "", res->ids[i]);
	snprintf(p, len - (size_t)(p - h->here), "}");
	h->params[4] = h->here;
	svc_op_call(&h->op, "chat_message_send", h->params);
}

static void
chat_here_members_cb(PGresult *res, void *arg)
{
	struct chat_here_op *h = arg;

	if (!svc_op_ok(&h->op, res, PGRES_TUPLES_OK))
		return;
	chat_store_presence_connected(PQgetvalue(res, 0, 0), chat_here_connected_cb, h);
}

/* POST /api/message/send {room_id, content, type?} → MessageResponse. A
 * text that says @here first asks who of the room holds a socket. */
static void
chat_message_send(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *params[5] = { NULL, r->user_id, NULL, NULL, NULL };
	struct chat_here_op *h;

	if (body == NULL)
		return;
	if (!chat_content(r, body, true, &params[2]) ||
	    !svc_body_uuid(r, body, "room_id", true, &params[0]) ||
	    (params[3] = chat_message_type(r, body)) == NULL) {
		cJSON_Delete(body);
		return;
	}
	if (strcasestr(params[2], "@here") == NULL) {
		svc_call(r, "chat_message_send", params);
		cJSON_Delete(body);		/* pg_exec copied the parameters */
		return;
	}
	if ((h = svc_op_new(r, body, sizeof(*h), chat_here_op_free)) == NULL)
		return;
	memcpy(h->params, params, sizeof(params));
	svc_op_query(&h->op, "chat_room_member_ids", params, chat_here_members_cb);
}

void
chat_call_id_content(struct svc_request *r, const char *stmt, const char *name)
{
	char id[UUID_STRLEN + 1];
	const char *params[3] = { id, r->user_id, NULL };
	cJSON *body;

	if (!svc_query_uuid(r, name, id) || (body = svc_request_json(r)) == NULL)
		return;
	if (chat_content(r, body, true, &params[2]))
		svc_call(r, stmt, params);
	cJSON_Delete(body);		/* pg_exec copied the parameters */
}

/* PUT /api/message/update?message_id= {content} → MessageResponse. */
static void
chat_message_update(struct svc_request *r)
{
	chat_call_id_content(r, "chat_message_update", "message_id");
}

/* DELETE /api/message/delete?message_id= → {"status":"deleted"}. */
static void
chat_message_delete(struct svc_request *r)
{
	svc_call_id(r, "chat_message_delete", "message_id");
}

/* POST /api/message/forward {message_id, room_id} → 201 MessageResponse. */
static void
chat_message_forward(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *params[4] = { NULL, NULL, r->user_id, svc_admin(r) };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "message_id", true, &params[0]) &&
	    svc_body_uuid(r, body, "room_id", true, &params[1]))
		svc_call(r, "chat_message_forward", params);
	cJSON_Delete(body);
}

/* GET /api/message/edit-history?message_id= → the earlier contents. */
static void
chat_message_history(struct svc_request *r)
{
	svc_call_id(r, "chat_message_history", "message_id");
}

static const struct svc_route chat_messages_list_routes[] = {
	{ { "GET", "/api/messages", ROUTE_USER, 0, "default" }, chat_messages_list },
	{ { "POST", "/api/message/send", ROUTE_USER, CHAT_SEND_BODY_MAX, "default" },
	  chat_message_send },
	{ { "PUT", "/api/message/update", ROUTE_USER, CHAT_SEND_BODY_MAX, "default" },
	  chat_message_update },
	{ { "DELETE", "/api/message/delete", ROUTE_USER, 0, "default" }, chat_message_delete },
	{ { "POST", "/api/message/forward", ROUTE_USER, 1024, "default" }, chat_message_forward },
	{ { "GET", "/api/message/edit-history", ROUTE_USER, 0, "default" },
	  chat_message_history },
};

const struct svc_routes chat_messages_routes = {
	chat_messages_list_routes,
	sizeof(chat_messages_list_routes) / sizeof(chat_messages_list_routes[0])
};
