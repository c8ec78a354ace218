/* chatd: rooms, messages, DMs, presence and moderation. Shared state and
 * the functions its files offer each other:
 *   chatd.c     options, the daemon definition (routes and statements)
 *   request.c   query-string and body helpers answering 400 themselves
 *   events.c    publishing room events; the internal routes gatewayd uses
 *               to subscribe sockets and to resume after a gap
 * Each concern (rooms.c, categories.c, messages.c...) exports its routes
 * and statements as `const struct svc_routes chat_<x>_routes` and
 * `const struct pg_stmt chat_<x>_stmts[]`, listed in chatd.c. */
#ifndef CHATD_H
#define CHATD_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "svc.h"
#include "uuid.h"

struct chatd_conf {
	struct svc_conf svc;		/* first, as svc requires */
};

struct chatd {
	struct svc *svc;
	struct chatd_conf *conf;
};

extern struct chatd chatd;

/* request.c */
/* Query parameter name as a UUID into out; answers 400 "<name> is
 * required" / "Invalid <name>" and returns false when it is not one. */
bool chat_query_uuid(struct svc_request *r, const char *name,
    char out[UUID_STRLEN + 1]);
/* Query parameter name as an integer in lo..hi; def when absent; answers
 * 400 and returns false when present but not such an integer. */
bool chat_query_int(struct svc_request *r, const char *name, long lo, long hi,
    long def, long *out);

/* events.c */
/* Publishes one event envelope (the JSON text chat.emit returned) on
 * room.<room_id>. NULL or "" does nothing. */
void chat_publish(const char *room_id, const char *envelope);
/* Publishes every non-NULL envelope in column col of res (room_id taken
 * from each envelope). */
void chat_publish_column(const PGresult *res, int col);

extern const struct svc_routes chat_events_routes;
extern const struct pg_stmt chat_events_stmts[];

#endif
