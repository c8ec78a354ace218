/* Message search: PostgreSQL full text (websearch_to_tsquery, the 'simple'
 * configuration: words as written, any language) over the live messages
 * of the rooms the caller belongs to, newest first. */
#include "chatd.h"

#include <stdio.h>

#include "url.h"
#include "validate.h"

#define CHAT_SEARCH_MAX 200	/* bytes, as the reference */

const struct pg_stmt chat_search_stmts[] = {
	{ "chat_messages_search", SVC_REPLY("chat.messages_search($1, $2, $3)"), 3 },
	{ NULL, NULL, 0 },
};

/* GET /api/messages/search?q=&limit= → [{id, room_id, room_name, user_id,
 * username, content, created_at, seq}], [] when nothing matches. */
static void
chat_messages_search(struct svc_request *r)
{
	char q[1024], limit[8];
	const char *params[3] = { r->user_id, q, limit };
	int n = url_query_param(r->query ? r->query : "", "q", q, sizeof(q));
	long lim;

	if (n == 0) {
		svc_respond_error(r, 400, "missing_parameter", "Search query is required");
		return;
	}
	if (n < 0 || n > CHAT_SEARCH_MAX) {
		svc_respond_error(r, 400, "invalid_parameter", "Search query is too long");
		return;
	}
	if (valid_text(q, 1, CHAT_SEARCH_MAX, false) != NULL) {
		svc_respond_error(r, 400, "invalid_parameter",
		    "Search query must be UTF-8 text without control characters");
		return;
	}
	if (!svc_query_int(r, "limit", 1, 100, 50, &lim))
		return;
	snprintf(limit, sizeof(limit), "%ld", lim);
	svc_call(r, "chat_messages_search", params);
}

static const struct svc_route chat_search_list[] = {
	{ { "GET", "/api/messages/search", ROUTE_USER, 0, "default" }, chat_messages_search },
};

const struct svc_routes chat_search_routes = {
	chat_search_list, sizeof(chat_search_list) / sizeof(chat_search_list[0])
};
