/* Asynchronous PostgreSQL on libevent: a small pool of non-blocking libpq
 * connections that prepare the daemon's statements once per connection,
 * reconnect by themselves, and never block the loop. */
#ifndef ENCLAVR_PG_H
#define ENCLAVR_PG_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>

struct pg_stmt {
	const char *name;
	const char *sql;
	int nparams;
};

/* res is NULL when the query could not run (no connection before the
 * deadline, connection lost); otherwise the caller inspects it and the pool
 * frees it after the callback returns. */
typedef void (*pg_result_fn)(PGresult *res, void *arg);
struct pg_pool;

/* stmts is a table ended by a NULL name; it must outlive the pool. */
struct pg_pool *pg_pool_new(struct event_base *base, const char *conninfo,
    int size, int timeout_ms, const struct pg_stmt *stmts);
/* Queues a prepared statement; params are copied. Returns -1 when the
 * statement is unknown or the queue is full (nothing is queued then). */
int pg_exec(struct pg_pool *pool, const char *stmt, const char *const *params,
    pg_result_fn cb, void *arg);
/* The SQLSTATE of a failed result ("23505"...), or "" */
const char *pg_sqlstate(const PGresult *res);
/* The constraint a failed result names, or "". */
const char *pg_constraint(const PGresult *res);
#define PG_UNIQUE_VIOLATION "23505"
#define PG_FOREIGN_KEY_VIOLATION "23503"
#define PG_CHECK_VIOLATION "23514"

/* True when at least one connection is ready. */
bool pg_pool_up(const struct pg_pool *pool);
int pg_pool_busy(const struct pg_pool *pool);
/* Drops queued and running queries without calling their callbacks. */
void pg_pool_free(struct pg_pool *pool);

/* Blocking connect for start-up work (migrations) only, retrying until
 * deadline_ms of monotonic time; NULL if the database never answered. */
PGconn *pg_connect_blocking(const char *conninfo, long long deadline_ms);

#endif
