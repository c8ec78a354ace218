/* A request that continues in callbacks (database, hashing). Each concern
 * embeds struct auth_op first in its own context; these helpers answer and
 * free through it, so that every path ends the request exactly once. */
#include "authd.h"

#include <stdlib.h>

void *
auth_op_new(struct svc_request *r, cJSON *body, size_t size,
    void (*free_fn)(struct auth_op *op))
{
	struct auth_op *op = calloc(1, size);

	if (op == NULL) {
		cJSON_Delete(body);
		svc_respond_error(r, 500, "internal", "Out of memory");
		return NULL;
	}
	op->r = r, op->body = body, op->free = free_fn;
	return op;
}

void
auth_op_free(struct auth_op *op)
{
	cJSON *body = op->body;

	op->free(op);		/* may wipe secrets that live in the body */
	cJSON_Delete(body);
}

void
auth_op_fail(struct auth_op *op, int status, const char *code, const char *message)
{
	svc_respond_error(op->r, status, code, message);
	auth_op_free(op);
}

void
auth_op_done(struct auth_op *op, int status, cJSON *body)
{
	svc_respond(op->r, status, body);
	auth_op_free(op);
}

void
auth_op_query(struct auth_op *op, const char *stmt, const char *const *params,
    pg_result_fn cb)
{
	if (svc_query(op->r, stmt, params, cb, op) < 0)
		auth_op_free(op);
}

bool
auth_op_ok(struct auth_op *op, const PGresult *res, ExecStatusType want)
{
	if (svc_result_ok(op->r, res, want))
		return true;
	auth_op_free(op);
	return false;
}
