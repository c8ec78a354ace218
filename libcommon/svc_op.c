/* A request that continues in callbacks (database, hashing). Each concern
 * embeds struct svc_op first in its own context; these helpers answer and
 * free through it, so that every path ends the request exactly once. */
#include "svc.h"

#include <stdlib.h>

void *
svc_op_new(struct svc_request *r, cJSON *body, size_t size,
    void (*free_fn)(struct svc_op *op))
{
	struct svc_op *op = calloc(1, size);

	if (op == NULL) {
		cJSON_Delete(body);
		svc_respond_error(r, 500, "internal", "Out of memory");
		return NULL;
	}
	op->r = r, op->body = body, op->free = free_fn;
	return op;
}

void
svc_op_free(struct svc_op *op)
{
	cJSON *body = op->body;

	op->free(op);		/* may wipe secrets that live in the body */
	cJSON_Delete(body);
}

void
svc_op_fail(struct svc_op *op, int status, const char *code, const char *message)
{
	svc_respond_error(op->r, status, code, message);
	svc_op_free(op);
}

void
svc_op_done(struct svc_op *op, int status, cJSON *body)
{
	svc_respond(op->r, status, body);
	svc_op_free(op);
}

void
svc_op_query(struct svc_op *op, const char *stmt, const char *const *params,
    pg_result_fn cb)
{
	if (svc_query(op->r, stmt, params, cb, op) < 0)
		svc_op_free(op);
}

bool
svc_op_ok(struct svc_op *op, const PGresult *res, ExecStatusType want)
{
	if (svc_result_ok(op->r, res, want))
		return true;
	svc_op_free(op);
	return false;
}
