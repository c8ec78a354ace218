#include "pg.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "uuid.h"

#define PG_QUEUE_MAX 10000
#define PG_RETRY_MS 1000
#define PG_MAX_PARAMS 32

enum pg_conn_state { PG_DOWN, PG_CONNECTING, PG_PREPARING, PG_IDLE, PG_BUSY };

struct pg_job {
	struct pg_job *next;
	const struct pg_stmt *stmt;
	long long deadline;
	pg_result_fn cb;
	void *arg;
	double queued_at, started_at;	/* metrics_now(); started 0 = never */
	int nparams;
	char *params[PG_MAX_PARAMS];
};

struct pg_conn {
	struct pg_pool *pool;
	PGconn *conn;
	enum pg_conn_state state;
	struct event *io, *retry;
	int prepared;		/* statements prepared so far */
	struct pg_job *job;	/* running query */
	PGresult *result;	/* first result of the running query */
	bool ever_up;
};

struct pg_pool {
	struct event_base *base;
	char *conninfo;
	const struct pg_stmt *stmts;
	int timeout_ms;
	int size;
	struct pg_conn *conns;
	struct pg_job *head, *tail;
	int queued;
	struct event *sweep;
};

/* Pool metric families (docs/operations.md, "Metrics"). */
static struct {
	struct metric *size, *ready, *busy, *queued, *queries, *duration, *wait,
	    *conn_errors;
} pg_m;

static void pg_conn_connect(struct pg_conn *c);
static void pg_conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void pg_pool_kick(struct pg_pool *p);

static void
pg_job_free(struct pg_job *j)
{
	for (int i = 0; i < j->nparams; i++)
		free(j->params[i]);
	free(j);
}

/* Counts a finished query: ok, error (the database refused it) or
 * unavailable (no connection before the deadline, connection lost). */
static void
pg_job_count(const struct pg_job *j, const PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *rl[] = { res == NULL ? "unavailable" :
		st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? "ok" : "error" };

	metrics_inc(pg_m.queries, rl);
	if (j->started_at > 0)
		metrics_observe(pg_m.duration, NULL, metrics_now() - j->started_at);
}

static void
pg_job_finish(struct pg_job *j, PGresult *res)
{
	pg_job_count(j, res);
	if (j->cb != NULL)
		j->cb(res, j->arg);
	pg_job_free(j);
}

/* Watches the connection's socket for what, until told otherwise: a reply
 * may arrive in several reads. */
static void
pg_conn_watch(struct pg_conn *c, short what)
{
	if (c->io != NULL)
		event_free(c->io);
	c->io = event_new(c->pool->base, PQsocket(c->conn), what | EV_PERSIST,
	    pg_conn_io_cb, c);
	if (c->io == NULL || event_add(c->io, NULL) < 0)
		fatalx("pg: cannot watch the connection socket");
}

/* A connection broke: fail its query, free it, and retry later. */
static void
pg_conn_lost(struct pg_conn *c)
{
	if (c->conn != NULL && c->state != PG_CONNECTING)
		log_warnx("pg: connection lost: %s", PQerrorMessage(c->conn));
	metrics_inc(pg_m.conn_errors, NULL);
	c->state = PG_DOWN;
	if (c->io != NULL) {
		event_free(c->io);
		c->io = NULL;
	}
	if (c->job != NULL) {
		struct pg_job *j = c->job;
		c->job = NULL;
		pg_job_finish(j, NULL);
	}
	if (c->result != NULL) {
		PQclear(c->result);
		c->result = NULL;
	}
	if (c->conn != NULL)
		PQfinish(c->conn);
	c->conn = NULL;
	c->state = PG_DOWN;
	struct timeval tv = { PG_RETRY_MS / 1000, (PG_RETRY_MS % 1000) * 1000 };
	event_add(c->retry, &tv);
}

static void
pg_conn_flush(struct pg_conn *c)
{
	int rv = PQflush(c->conn);
	if (rv < 0)
		pg_conn_lost(c);
	else
		pg_conn_watch(c, rv == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void
pg_conn_prepare_next(struct pg_conn *c)
{
	const struct pg_stmt *s = &c->pool->stmts[c->prepared];

	if (s->name == NULL) {
		c->state = PG_IDLE;
		if (!c->ever_up)
			log_debug("pg: connection ready");
		c->ever_up = true;
		pg_conn_watch(c, EV_READ);
		pg_pool_kick(c->pool);
		return;
	}
	c->state = PG_PREPARING;
	if (!PQsendPrepare(c->conn, s->name, s->sql, s->nparams, NULL)) {
		pg_conn_lost(c);
		return;
	}
	pg_conn_flush(c);
}

static void
pg_conn_start_job(struct pg_conn *c, struct pg_job *j)
{
	c->job = j;
	c->state = PG_BUSY;
	j->started_at = metrics_now();
	metrics_observe(pg_m.wait, NULL, j->started_at - j->queued_at);
	if (!PQsendQueryPrepared(c->conn, j->stmt->name, j->nparams,
	    (const char *const *)j->params, NULL, NULL, 0)) {
		pg_conn_lost(c);
		return;
	}
	pg_conn_flush(c);
}

static void
pg_pool_kick(struct pg_pool *p)
{
	for (int i = 0; i < p->size && p->head != NULL; i++) {
		struct pg_conn *c = &p->conns[i];
		if (c->state != PG_IDLE)
			continue;
		struct pg_job *j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		pg_conn_start_job(c, j);
	}
}

/* All results of the current command are in: finish it. */
static void
pg_conn_command_done(struct pg_conn *c)
{
	PGresult *res = c->result;

	c->result = NULL;
	if (c->state == PG_PREPARING) {
		const struct pg_stmt *s = &c->pool->stmts[c->prepared];
		if ((res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) &&
		    PQstatus(c->conn) == CONNECTION_BAD) {
			PQclear(res);
			pg_conn_lost(c);
			return;
		}
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
			fatalx("pg: cannot prepare %s: %s", s->name,
			    res ? PQresultErrorMessage(res) : "no result");
		PQclear(res);
		c->prepared++;
		pg_conn_prepare_next(c);
		return;
	}
	struct pg_job *j = c->job;
	c->job = NULL;
	c->state = PG_IDLE;
	pg_job_finish(j, res);
	PQclear(res);
	pg_pool_kick(c->pool);
}

static void
pg_conn_read(struct pg_conn *c)
{
	PGresult *res;

	if (!PQconsumeInput(c->conn)) {
		pg_conn_lost(c);
		return;
	}
	while (c->conn != NULL && !PQisBusy(c->conn)) {
		res = PQgetResult(c->conn);
		if (res == NULL) {
			if (c->state == PG_PREPARING || c->state == PG_BUSY)
				pg_conn_command_done(c);
			return;
		}
		if (c->result == NULL)
			c->result = res;
		else
			PQclear(res);
	}
}

static void
pg_conn_poll_connect(struct pg_conn *c)
{
	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_READING:
		pg_conn_watch(c, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		pg_conn_watch(c, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(c->conn, 1) != 0) {
			pg_conn_lost(c);
			break;
		}
		c->prepared = 0;
		pg_conn_prepare_next(c);
		break;
	default:
		log_debug("pg: connect failed: %s", PQerrorMessage(c->conn));
		pg_conn_lost(c);
		break;
	}
}

static void
pg_conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_conn *c = arg;
	(void)fd;

	if (c->state == PG_CONNECTING) {
		pg_conn_poll_connect(c);
		return;
	}
	if (what & EV_WRITE) {
		pg_conn_flush(c);
		if (c->conn == NULL)
			return;
	}
	if (what & EV_READ)
		pg_conn_read(c);
}

static void
pg_conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pg_conn_connect(arg);
}

static void
pg_conn_connect(struct pg_conn *c)
{
	c->conn = PQconnectStart(c->pool->conninfo);
	if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD) {
		c->state = PG_CONNECTING;
		pg_conn_lost(c);
		return;
	}
	c->state = PG_CONNECTING;
	pg_conn_watch(c, EV_WRITE);
}

/* Fails queued jobs whose deadline passed: the database is away. */
static void
pg_pool_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_pool *p = arg;
	long long now = time_mono_ms();
	struct pg_job **pp = &p->head, *j, *expired = NULL;
	(void)fd, (void)what;

	/* Unlink first: a callback may queue new work. */
	p->tail = NULL;
	while ((j = *pp) != NULL) {
		if (j->deadline > now) {
			p->tail = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		p->queued--;
		j->next = expired;
		expired = j;
	}
	while ((j = expired) != NULL) {
		expired = j->next;
		pg_job_finish(j, NULL);
	}
}

/* Gauges read from the pool at each scrape. */
static void
pg_pool_collect(void *arg)
{
	const struct pg_pool *p = arg;
	int ready = 0;

	for (int i = 0; i < p->size; i++)
		ready += p->conns[i].state == PG_IDLE || p->conns[i].state == PG_BUSY;
	metrics_set(pg_m.size, NULL, p->size);
	metrics_set(pg_m.ready, NULL, ready);
	metrics_set(pg_m.busy, NULL, pg_pool_busy(p));
	metrics_set(pg_m.queued, NULL, p->queued);
}

static void
pg_metrics_register(void)
{
	static const char *const rl[] = { "result", NULL };

	pg_m.size = metrics_gauge("enclavr_db_pool_size",
	    "Connections the pool keeps ([database] pool_size).", NULL);
	pg_m.ready = metrics_gauge("enclavr_db_pool_ready",
	    "Connections up and prepared (idle or busy).", NULL);
	pg_m.busy = metrics_gauge("enclavr_db_pool_busy",
	    "Connections running a query.", NULL);
	pg_m.queued = metrics_gauge("enclavr_db_queue_length",
	    "Queries waiting for a free connection.", NULL);
	pg_m.queries = metrics_counter("enclavr_db_queries_total",
	    "Queries by result: ok, error, unavailable, rejected (queue full).", rl);
	pg_m.duration = metrics_histogram("enclavr_db_query_duration_seconds",
	    "Time a query ran on its connection.", NULL,
	    metrics_latency_buckets, metrics_latency_nbuckets);
	pg_m.wait = metrics_histogram("enclavr_db_queue_wait_seconds",
	    "Time a query waited for a free connection.", NULL,
	    metrics_latency_buckets, metrics_latency_nbuckets);
	pg_m.conn_errors = metrics_counter("enclavr_db_connection_errors_total",
	    "Connections lost or connection attempts failed.", NULL);
}

struct pg_pool *
pg_pool_new(struct event_base *base, const char *conninfo, int size,
    int timeout_ms, const struct pg_stmt *stmts)
{
	struct pg_pool *p = calloc(1, sizeof(*p));
	struct timeval tv = { 0, 250 * 1000 };

	if (p == NULL || (p->conns = calloc((size_t)size, sizeof(*p->conns))) == NULL ||
	    (p->conninfo = strdup(conninfo)) == NULL)
		fatalx("pg: out of memory");
	p->base = base, p->size = size, p->stmts = stmts, p->timeout_ms = timeout_ms;
	pg_metrics_register();
	metrics_on_collect(pg_pool_collect, p);
	p->sweep = event_new(base, -1, EV_PERSIST, pg_pool_sweep_cb, p);
	event_add(p->sweep, &tv);
	for (int i = 0; i < size; i++) {
		struct pg_conn *c = &p->conns[i];
		c->pool = p;
		c->retry = evtimer_new(base, pg_conn_retry_cb, c);
		pg_conn_connect(c);
	}
	return p;
}

static const struct pg_stmt *
pg_stmt_find(const struct pg_pool *p, const char *name)
{
	for (const struct pg_stmt *s = p->stmts; s->name != NULL; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

int
pg_exec(struct pg_pool *p, const char *stmt, const char *const *params,
    pg_result_fn cb, void *arg)
{
	const struct pg_stmt *s = pg_stmt_find(p, stmt);
	struct pg_job *j;

	if (s == NULL || s->nparams > PG_MAX_PARAMS) {
		log_warnx("pg: unknown statement %s", stmt);
		return -1;
	}
	if (p->queued >= PG_QUEUE_MAX || (j = calloc(1, sizeof(*j))) == NULL) {
		metrics_inc(pg_m.queries, (const char *[]){ "rejected" });
		return -1;
	}
	j->stmt = s, j->cb = cb, j->arg = arg;
	j->queued_at = metrics_now();
	j->deadline = time_mono_ms() + p->timeout_ms;
	for (; j->nparams < s->nparams; j->nparams++) {
		const char *v = params[j->nparams];
		if (v != NULL && (j->params[j->nparams] = strdup(v)) == NULL) {
			pg_job_free(j);
			return -1;
		}
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pg_pool_kick(p);
	return 0;
}

const char *
pg_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

const char *
pg_constraint(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	return s ? s : "";
}

bool
pg_pool_up(const struct pg_pool *p)
{
	for (int i = 0; i < p->size; i++)
		if (p->conns[i].state == PG_IDLE || p->conns[i].state == PG_BUSY)
			return true;
	return false;
}

int
pg_pool_busy(const struct pg_pool *p)
{
	int n = 0;
	for (int i = 0; i < p->size; i++)
		n += p->conns[i].state == PG_BUSY;
	return n;
}

void
pg_pool_free(struct pg_pool *p)
{
	struct pg_job *j, *next;

	if (p == NULL)
		return;
	metrics_off_collect(pg_pool_collect, p);
	for (int i = 0; i < p->size; i++) {
		struct pg_conn *c = &p->conns[i];
		if (c->io != NULL)
			event_free(c->io);
		event_free(c->retry);
		if (c->job != NULL)
			pg_job_free(c->job);
		if (c->result != NULL)
			PQclear(c->result);
		if (c->conn != NULL)
			PQfinish(c->conn);
	}
	for (j = p->head; j != NULL; j = next) {
		next = j->next;
		pg_job_free(j);
	}
	event_free(p->sweep);
	free(p->conns);
	free(p->conninfo);
	free(p);
}

PGconn *
pg_connect_blocking(const char *conninfo, long long deadline_ms)
{
	for (;;) {
		PGconn *c = PQconnectdb(conninfo);
		if (PQstatus(c) == CONNECTION_OK)
			return c;
		if (time_mono_ms() >= deadline_ms) {
			log_warnx("pg: cannot connect: %s", PQerrorMessage(c));
			PQfinish(c);
			return NULL;
		}
		log_debug("pg: waiting for the database: %s", PQerrorMessage(c));
		PQfinish(c);
		usleep(500 * 1000);
	}
}
