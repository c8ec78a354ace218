/* The frame shared by the back-end daemons (authd, chatd, voiced): config
 * common to all three, migrations at start, the REP server that answers
 * pings, route requests and forwarded HTTP requests, the heartbeat event,
 * the database pool and Redis, drain on SIGTERM and reload on SIGHUP.
 * A daemon supplies a struct svc_def and its handlers; svc_main does the rest. */
#ifndef ENCLAVR_SVC_H
#define ENCLAVR_SVC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "control.h"
#include "ipc.h"
#include "pg.h"
#include "redis.h"
#include "route.h"

#include "version.h"

/* The options every back-end daemon has; the first member of its config. */
struct svc_conf {
	int log_level;
	char *ipc_listen;
	char *ipc_publish;
	long long ipc_contexts;
	long long heartbeat_ms;
	long long drain_timeout_ms;
	char *db_conninfo;
	long long db_pool_size;
	long long db_timeout_ms;
	char *migrations_dir;
	char *redis_host;
	long long redis_port;
	char *control_socket;
	char *metrics_listen;
};

extern const char *const svc_log_levels[];

/* Table entries for struct svc_conf, for a daemon named d ("authd") whose
 * SQL lives in sql/<sqldir>. Use as the first entries of its table. */
#define SVC_CONF_OPTS(type, d, sqldir)                                          \
	{ "log", "level", CFG_ENUM, "info", 0, 0, svc_log_levels, true,         \
	  offsetof(type, svc.log_level), "error, warn, info or debug" },        \
	{ "ipc", "listen", CFG_STR, "ipc:///run/enclavr/" d ".rep", 0, 512,     \
	  NULL, false, offsetof(type, svc.ipc_listen), "REP socket URL" },      \
	{ "ipc", "publish", CFG_STR, "ipc:///run/enclavr/" d ".pub", 0, 512,    \
	  NULL, false, offsetof(type, svc.ipc_publish), "PUB socket URL" },     \
	{ "ipc", "contexts", CFG_INT, "128", 1, 4096, NULL, false,              \
	  offsetof(type, svc.ipc_contexts), "requests served at once" },        \
	{ "ipc", "heartbeat_ms", CFG_INT, "1000", 100, 60000, NULL, false,      \
	  offsetof(type, svc.heartbeat_ms), "heartbeat event interval" },       \
	{ "ipc", "drain_timeout_ms", CFG_INT, "10000", 0, 600000, NULL, true,   \
	  offsetof(type, svc.drain_timeout_ms), "SIGTERM grace period" },       \
	{ "database", "conninfo", CFG_STR, "dbname=enclavr", 0, 1024, NULL,     \
	  false, offsetof(type, svc.db_conninfo), "libpq connection string" },  \
	{ "database", "pool_size", CFG_INT, "4", 1, 64, NULL, false,            \
	  offsetof(type, svc.db_pool_size), "connections in the pool" },        \
	{ "database", "query_timeout_ms", CFG_INT, "5000", 100, 600000, NULL,   \
	  false, offsetof(type, svc.db_timeout_ms), "wait for a connection" },   \
	{ "database", "migrations_dir", CFG_STR,                                \
	  "/usr/share/enclavr/sql/" sqldir, 1, 1024, NULL, false,               \
	  offsetof(type, svc.migrations_dir), "where NNN_name.sql files are" }, \
	{ "redis", "host", CFG_STR, "127.0.0.1", 0, 255, NULL, false,           \
	  offsetof(type, svc.redis_host), "numeric address; empty = off" },     \
	{ "redis", "port", CFG_INT, "6379", 1, 65535, NULL, false,              \
	  offsetof(type, svc.redis_port), "Redis TCP port" },                   \
	{ "control", "socket", CFG_STR, "/run/enclavr/" d ".ctl", 0, 107, NULL, \
	  false, offsetof(type, svc.control_socket),                            \
	  "control socket for enclavrctl; empty = off" },                     \
	{ "metrics", "listen", CFG_STR, "", 0, 64, NULL, false,                 \
	  offsetof(type, svc.metrics_listen),                                   \
	  "loopback IP:PORT serving /metrics; empty = off" }

struct svc;

/* One forwarded HTTP request. Answer it once (svc_respond); it stays
 * readable until the end of the loop turn in which it was answered. */
struct svc_request {
	struct svc *svc;
	struct ipc_request *ipc;
	const char *method, *path, *query;
	const char *request_id, *client_addr, *user_agent;
	const char *user_id, *session_id;	/* NULL without a valid token */
	bool admin;
	const char *body;			/* NUL-terminated */
	size_t body_len;
};

typedef void (*svc_handler_fn)(struct svc_request *r);

struct svc_route {
	struct route_decl decl;
	svc_handler_fn fn;
};

/* The routes of one concern (one file), announced together. */
struct svc_routes {
	const struct svc_route *routes;
	size_t n;
};

struct svc_def {
	const char *name;		/* "authd" */
	const char *schema;		/* "auth" */
	const char *conf_path;		/* default config file */
	const struct cfg_opt *opts;
	size_t conf_size;		/* struct svc_conf must come first */
	const struct svc_routes *const *routes;	/* NULL-ended */
	const struct pg_stmt *const *stmts;	/* NULL-ended list of tables,
						 * each ended by a NULL name */
	const char *const *requires;	/* NULL-ended relations of other
					 * schemas read here ("auth.directory"):
					 * migrations wait until they exist */
	const struct control_cmd *control_cmds;	/* the daemon's own control
						 * commands (enclavrctl), ended
						 * by a NULL name; may be NULL */
	int (*init)(struct svc *svc);	/* after migrations, before serving */
	void (*fini)(struct svc *svc);
};

int svc_main(int argc, char **argv, const struct svc_def *def);

/* Ends r with status and a JSON body (taken; NULL means no body). */
void svc_respond(struct svc_request *r, int status, cJSON *body);
/* svc_respond with one more header (Retry-After, Location...); gatewayd
 * relays only the headers it allows (gatewayd/forward.c). */
void svc_respond_header(struct svc_request *r, int status, cJSON *body,
    const char *hname, const char *hvalue);
/* Ends r with {"error":code,"message":message}. */
void svc_respond_error(struct svc_request *r, int status, const char *code,
    const char *message);
/* The request body parsed as a JSON object, or NULL after answering 400. */
cJSON *svc_request_json(struct svc_request *r);
/* Queues statement stmt for r; -1 after answering 503 when it cannot. */
int svc_query(struct svc_request *r, const char *stmt, const char *const *params,
    pg_result_fn cb, void *arg);
/* True when res is a successful result of the expected status; otherwise
 * answers r (503 without a database, 500 on an error) and logs why. */
bool svc_result_ok(struct svc_request *r, const PGresult *res, ExecStatusType want);
/* Like svc_result_ok for a query that must return exactly one row; none
 * answers 404 not_found with message. */
bool svc_result_one(struct svc_request *r, const PGresult *res, const char *message);

/* svc_op.c: a request that continues in callbacks. A context embeds this
 * first; free releases the context's own fields (the body is op.c's). */
struct svc_op {
	struct svc_request *r;
	cJSON *body;
	void (*free)(struct svc_op *op);
};
/* A zeroed context of size bytes, or NULL after answering 500. */
void *svc_op_new(struct svc_request *r, cJSON *body, size_t size,
    void (*free_fn)(struct svc_op *op));
void svc_op_free(struct svc_op *op);
/* Answer, then free the context. */
void svc_op_fail(struct svc_op *op, int status, const char *code, const char *message);
void svc_op_done(struct svc_op *op, int status, cJSON *body);
/* Queues stmt with op as the callback's argument; frees op when it cannot. */
void svc_op_query(struct svc_op *op, const char *stmt, const char *const *params,
    pg_result_fn cb);
/* svc_result_ok that frees op when it answered. */
bool svc_op_ok(struct svc_op *op, const PGresult *res, ExecStatusType want);

void *svc_config(struct svc *svc);
struct event_base *svc_base(struct svc *svc);
struct pg_pool *svc_pg(struct svc *svc);
struct redis_conn *svc_redis(struct svc *svc);
struct ipc_pub *svc_pub(struct svc *svc);
const char *svc_instance(const struct svc *svc);

#endif
