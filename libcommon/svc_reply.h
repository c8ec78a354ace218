/* The calling convention of a route whose work is one SQL call: the
 * handler checks the request's shape (svc_params.h), then calls one
 * function that returns a reply (chat.reply: HTTP status, JSON body and
 * the event envelopes to publish), all of it in one transaction. Once the
 * call has committed, svc_call publishes the events on the daemon's PUB
 * socket and answers. chatd and voiced follow it (docs/decisions.md). */
#ifndef ENCLAVR_SVC_REPLY_H
#define ENCLAVR_SVC_REPLY_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "svc.h"

#define SVC_NIL_UUID "00000000-0000-0000-0000-000000000000"

/* The SQL that calls call, a function returning a reply: one row per event
 * envelope, at least one; columns status, body, envelope. */
#define SVC_REPLY(call) "SELECT f.status, f.body::text, e::text FROM " call \
	" f LEFT JOIN LATERAL jsonb_array_elements(f.events) e ON true"

/* Queues SVC_REPLY statement stmt for r; its callback answers r with the
 * status and body (a 429's retry_after also as Retry-After), after
 * publishing the events (svc_publish_column). Database errors that are a
 * race (unique or foreign key violations, deadlocks) answer 409, 404 or
 * 503. */
void svc_call(struct svc_request *r, const char *stmt, const char *const *params);
/* svc_call for a request that continues in callbacks: frees op once
 * answered. */
void svc_op_call(struct svc_op *op, const char *stmt, const char *const *params);
/* Calls stmt (svc_call) with the query's UUID name, the caller and
 * svc_admin: the shape of every route about one thing named by its id. A
 * statement of two parameters takes the first two. */
void svc_call_id(struct svc_request *r, const char *stmt, const char *name);
/* Calls stmt (svc_call) with the UUID name, from the query or a JSON body
 * (svc_uuid_param), the caller and svc_admin; a statement of two
 * parameters takes the first two. */
void svc_call_param(struct svc_request *r, const char *stmt, const char *name);

/* svc_call with params[i] set to the text of json (an object or array the
 * handler built: a patch, a list), which this takes and frees. */
void svc_call_json(struct svc_request *r, const char *stmt, const char **params, int i,
    cJSON *json);

/* svc_publish.c: events on the PUB socket. */
/* Publishes env on <prefix>.<id>. */
void svc_publish(struct svc *svc, const char *prefix, const char *id, const cJSON *env);
/* An ephemeral envelope {type, <key>: id, user_id, target_user_id (nil),
 * payload (copied; omitted when NULL), timestamp}: not numbered, not
 * kept. NULL when out of memory (logged); the caller frees it. */
cJSON *svc_ephemeral(const char *type, const char *key, const char *id, const char *user,
    const cJSON *payload);
/* Publishes every non-NULL envelope in column col of res on room.<room_id>
 * or dm.<conversation_id>, whichever it names, then passes it to the hook
 * of svc_publish_hook. */
void svc_publish_column(struct svc *svc, const PGresult *res, int col);
/* Sets the function called after each envelope svc_publish_column
 * published (chatd: a message ends its author's typing); NULL for none. */
void svc_publish_hook(void (*fn)(const cJSON *env));

#endif
