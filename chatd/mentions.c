/* Mentions: @name, @all and @here in a message, written by the send call
 * itself (chat.mentions_write, with a notification per mentioned user).
 * Here only the two ways to read them. */
#include "chatd.h"

#include <stdio.h>

const struct pg_stmt chat_mentions_stmts[] = {
	{ "chat_mentions_mine", SVC_REPLY("chat.mentions_mine($1, $2)"), 2 },
	{ "chat_mentions_of", SVC_REPLY("chat.mentions_of($1, $2, $3)"), 3 },
	{ NULL, NULL, 0 },
};

/* GET /api/mentions?limit= → the caller's mentions, newest first. */
static void
chat_mentions_mine(struct svc_request *r)
{
	char limit[8];
	const char *params[2] = { r->user_id, limit };
	long n;

	if (!svc_query_int(r, "limit", 1, 100, 50, &n))
		return;
	snprintf(limit, sizeof(limit), "%ld", n);
	svc_call(r, "chat_mentions_mine", params);
}

/* GET /api/mentions/message?message_id= → whom the message mentions. */
static void
chat_mentions_of(struct svc_request *r)
{
	svc_call_id(r, "chat_mentions_of", "message_id");
}

static const struct svc_route chat_mentions_list[] = {
	{ { "GET", "/api/mentions", ROUTE_USER, 0, "default" }, chat_mentions_mine },
	{ { "GET", "/api/mentions/message", ROUTE_USER, 0, "default" }, chat_mentions_of },
};

const struct svc_routes chat_mentions_routes = {
	chat_mentions_list, sizeof(chat_mentions_list) / sizeof(chat_mentions_list[0])
};
