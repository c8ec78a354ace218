/* The calling convention of the message routes (messages.c, threads.c,
 * reactions.c, pins.c, search.c, mentions.c, receipts.c): a handler checks
 * the request's shape, then makes one call of a SQL function that returns
 * a chat.reply (sql/chat/004_messages.sql): the HTTP status, the JSON body,
 * and the event envelopes to publish once the call has committed. The
 * checks that need the database (membership, roles, settings) and the
 * writes happen in that one transaction. */
#include "chatd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "url.h"
#include "validate.h"

/* Errors the database raises that are the client's doing or passing: a
 * unique violation (a race two inserts lost) is a conflict, a foreign key
 * violation a thing deleted meanwhile, a deadlock or serialization failure
 * worth a retry. Returns false for any other error. */
static bool
chat_reply_sqlstate(struct svc_request *r, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (state == NULL)
		return false;
	if (strcmp(state, "23505") == 0)
		svc_respond_error(r, 409, "conflict", "It already exists");
	else if (strcmp(state, "23503") == 0)
		svc_respond_error(r, 404, "not_found", "It no longer exists");
	else if (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)
		svc_respond_error(r, 503, "busy", "The service is busy; try again");
	else
		return false;
	return true;
}

static void
chat_reply_cb(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *body;
	const char *text;
	long status;

	if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR &&
	    chat_reply_sqlstate(r, res))
		return;
	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) < 1 || PQnfields(res) != 3 || PQgetisnull(res, 0, 0) ||
	    PQgetisnull(res, 0, 1)) {
		log_warnx("chat reply: %s %s: no status or body", r->method, r->path);
		svc_respond_error(r, 500, "internal", "The request failed");
		return;
	}
	status = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	text = PQgetvalue(res, 0, 1);
	if (status < 200 || status > 599 ||
	    (body = json_parse_exact(text, strlen(text))) == NULL) {
		log_warnx("chat reply: %s %s: bad status or body", r->method, r->path);
		svc_respond_error(r, 500, "internal", "The request failed");
		return;
	}
	chat_publish_column(res, 2);
	svc_respond(r, (int)status, body);
}

void
chat_call(struct svc_request *r, const char *stmt, const char *const *params)
{
	svc_query(r, stmt, params, chat_reply_cb, r);
}

bool
chat_query_uuid_opt(struct svc_request *r, const char *name,
    char out[UUID_STRLEN + 1], const char **val)
{
	char msg[96];
	int n = url_query_param(r->query ? r->query : "", name, out, UUID_STRLEN + 1);

	*val = NULL;
	if (n == 0)
		return true;
	if (n < 0 || !uuid_valid(out)) {
		snprintf(msg, sizeof(msg), "Invalid %s", name);
		svc_respond_error(r, 400, "invalid_parameter", msg);
		return false;
	}
	*val = out;
	return true;
}

bool
chat_body_uuid(struct svc_request *r, const cJSON *body, const char *name,
    bool required, const char **out)
{
	const char *why = valid_member_uuid(body, name, required, out);

	if (why != NULL)
		svc_respond_error(r, 400, "invalid_request", why);
	return why == NULL;
}

const char *
chat_admin(const struct svc_request *r)
{
	return r->admin ? "true" : "false";
}
