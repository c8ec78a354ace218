/* Threads (reference §1.7): at most one per message, its messages in
 * order. Creating one and posting in one are for members of the room; an
 * author edits their own thread messages, and deletes them, as moderators
 * and up may too. */
#include "chatd.h"

#define CHAT_THREAD_BODY_MAX 65536

const struct pg_stmt chat_threads_stmts[] = {
	{ "chat_thread_create", SVC_REPLY("chat.thread_create($1, $2, $3, $4)"), 4 },
	{ "chat_thread_get", SVC_REPLY("chat.thread_get($1, $2, $3)"), 3 },
	{ "chat_threads_of", SVC_REPLY("chat.threads_of($1, $2, $3)"), 3 },
	{ "chat_thread_message_add", SVC_REPLY("chat.thread_message_add($1, $2, $3)"), 3 },
	{ "chat_thread_message_update", SVC_REPLY("chat.thread_message_update($1, $2, $3)"), 3 },
	{ "chat_thread_message_delete", SVC_REPLY("chat.thread_message_delete($1, $2, $3)"), 3 },
	{ NULL, NULL, 0 },
};

/* POST /api/thread/create {parent_id, room_id, content?} → the thread,
 * with its first message when content is given. */
static void
chat_thread_create(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *params[4] = { NULL, NULL, r->user_id, NULL };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "parent_id", true, &params[0]) &&
	    svc_body_uuid(r, body, "room_id", true, &params[1]) &&
	    chat_content(r, body, false, &params[3]))
		svc_call(r, "chat_thread_create", params);
	cJSON_Delete(body);
}

/* GET /api/thread?thread_id= → the thread and its messages. */
static void
chat_thread_get(struct svc_request *r)
{
	svc_call_id(r, "chat_thread_get", "thread_id");
}

/* GET /api/threads?message_id= → [{..., message_count, last_message}]. */
static void
chat_threads_of(struct svc_request *r)
{
	svc_call_id(r, "chat_threads_of", "message_id");
}

/* POST /api/thread/message?thread_id= {content} → the thread message. */
static void
chat_thread_message_add(struct svc_request *r)
{
	chat_call_id_content(r, "chat_thread_message_add", "thread_id");
}

/* PUT /api/thread/message/update?message_id= {content}. */
static void
chat_thread_message_update(struct svc_request *r)
{
	chat_call_id_content(r, "chat_thread_message_update", "message_id");
}

/* DELETE /api/thread/message/delete?message_id= → {"status":"deleted"}. */
static void
chat_thread_message_delete(struct svc_request *r)
{
	svc_call_id(r, "chat_thread_message_delete", "message_id");
}

static const struct svc_route chat_threads_list[] = {
	{ { "POST", "/api/thread/create", ROUTE_USER, CHAT_THREAD_BODY_MAX, "default" },
	  chat_thread_create },
	{ { "GET", "/api/thread", ROUTE_USER, 0, "default" }, chat_thread_get },
	{ { "GET", "/api/threads", ROUTE_USER, 0, "default" }, chat_threads_of },
	{ { "POST", "/api/thread/message", ROUTE_USER, CHAT_THREAD_BODY_MAX, "default" },
	  chat_thread_message_add },
	{ { "PUT", "/api/thread/message/update", ROUTE_USER, CHAT_THREAD_BODY_MAX, "default" },
	  chat_thread_message_update },
	{ { "DELETE", "/api/thread/message/delete", ROUTE_USER, 0, "default" },
	  chat_thread_message_delete },
};

const struct svc_routes chat_threads_routes = {
	chat_threads_list, sizeof(chat_threads_list) / sizeof(chat_threads_list[0])
};
