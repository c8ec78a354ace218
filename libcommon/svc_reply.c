/* The one SQL call of a route and its answer (svc_reply.h): the function
 * returns a reply (status, body, events); the events are published after
 * the commit, then the request is answered. */
#include "svc_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "svc_params.h"

/* Errors the database raises that are the client's doing or passing: a
 * unique violation (a race two inserts lost) is a conflict, a foreign key
 * violation a thing deleted meanwhile, a deadlock or serialization failure
 * worth a retry. Returns false for any other error. */
static bool
svc_reply_sqlstate(struct svc_request *r, const PGresult *res)
{
	const char *state = pg_sqlstate(res);

	if (strcmp(state, PG_UNIQUE_VIOLATION) == 0)
		svc_respond_error(r, 409, "conflict", "It already exists");
	else if (strcmp(state, PG_FOREIGN_KEY_VIOLATION) == 0)
		svc_respond_error(r, 404, "not_found", "It no longer exists");
	else if (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)
		svc_respond_error(r, 503, "busy", "The service is busy; try again");
	else
		return false;
	return true;
}

/* Answers r with status and body; a 429 carries its body's retry_after
 * (seconds) as the Retry-After header too. */
static void
svc_reply_send(struct svc_request *r, long status, cJSON *body)
{
	const cJSON *retry = cJSON_GetObjectItemCaseSensitive(body, "retry_after");
	char secs[24];

	if (status != 429 || !cJSON_IsNumber(retry)) {
		svc_respond(r, (int)status, body);
		return;
	}
	snprintf(secs, sizeof(secs), "%.0f", retry->valuedouble);
	svc_respond_header(r, (int)status, body, "Retry-After", secs);
}

/* Answers r from the result of a SVC_REPLY statement, after publishing
 * its events. */
static void
svc_reply(struct svc_request *r, PGresult *res)
{
	cJSON *body;
	const char *text;
	long status;

	if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR &&
	    svc_reply_sqlstate(r, res))
		return;
	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) < 1 || PQnfields(res) != 3 || PQgetisnull(res, 0, 0) ||
	    PQgetisnull(res, 0, 1)) {
		log_warnx("reply: %s %s: no status or body", r->method, r->path);
		svc_respond_error(r, 500, "internal", "The request failed");
		return;
	}
	status = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	text = PQgetvalue(res, 0, 1);
	if (status < 200 || status > 599 ||
	    (body = json_parse_exact(text, strlen(text))) == NULL) {
		log_warnx("reply: %s %s: bad status or body", r->method, r->path);
		svc_respond_error(r, 500, "internal", "The request failed");
		return;
	}
	svc_publish_column(r->svc, res, 2);
	svc_reply_send(r, status, body);
}

static void
svc_reply_cb(PGresult *res, void *arg)
{
	svc_reply(arg, res);
}

void
svc_call(struct svc_request *r, const char *stmt, const char *const *params)
{
	svc_query(r, stmt, params, svc_reply_cb, r);
}

static void
svc_op_reply_cb(PGresult *res, void *arg)
{
	struct svc_op *op = arg;

	svc_reply(op->r, res);
	svc_op_free(op);
}

void
svc_op_call(struct svc_op *op, const char *stmt, const char *const *params)
{
	svc_op_query(op, stmt, params, svc_op_reply_cb);
}

void
svc_call_id(struct svc_request *r, const char *stmt, const char *name)
{
	char id[UUID_STRLEN + 1];
	const char *params[3] = { id, r->user_id, svc_admin(r) };

	if (svc_query_uuid(r, name, id))
		svc_call(r, stmt, params);
}

void
svc_call_param(struct svc_request *r, const char *stmt, const char *name)
{
	char id[UUID_STRLEN + 1];
	const char *params[3] = { id, r->user_id, svc_admin(r) };
	cJSON *body = r->body_len > 0 ? svc_request_json(r) : NULL;

	if (r->body_len > 0 && body == NULL)
		return;
	if (svc_uuid_param(r, body, name, id))
		svc_call(r, stmt, params);
	cJSON_Delete(body);
}

void
svc_call_json(struct svc_request *r, const char *stmt, const char **params, int i,
    cJSON *json)
{
	char *text = cJSON_PrintUnformatted(json);

	cJSON_Delete(json);
	if (text == NULL) {
		svc_respond_error(r, 500, "internal", "Out of memory");
		return;
	}
	params[i] = text;
	svc_call(r, stmt, params);
	free(text);
}
