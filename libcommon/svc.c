#include "svc.h"

#include <nng/nng.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "migrate.h"
#include "notify.h"
#include "uuid.h"

#define SVC_DB_WAIT_MS 60000
#define SVC_ECHO_LIMIT 4096

const char *const svc_log_levels[] = { "error", "warn", "info", "debug", NULL };
static const int svc_log_level_values[] = { LOG_LVL_ERR, LOG_LVL_WARN,
	LOG_LVL_INFO, LOG_LVL_DEBUG };

/* A request in flight inside this daemon; freed by svc_respond. */
struct svc_req_impl {
	struct svc_request pub;		/* first */
	cJSON *fwd;			/* the forwarded request it points into */
	const char *route;		/* the matched pattern, for metrics */
	double started;			/* metrics_now() at arrival */
	struct svc_req_impl *prev, *next;
};

struct svc {
	const struct svc_def *def;
	struct svc_conf *conf;
	struct daemon_opts opts;
	char instance[UUID_STRLEN + 1];
	long long started_ms;
	struct event_base *base;
	struct ipc_server *server;
	struct ipc_pub *pub;
	struct pg_pool *pg;
	struct redis_conn *redis;
	struct pg_stmt *stmts;		/* svc's own statements + the daemon's */
	char *stmt_sql[2];
	struct svc_route *routes;	/* built-in + the daemon's */
	size_t nroutes;
	char *route_paths[2];
	struct svc_req_impl *live;
	struct svc_req_impl *answered;	/* freed on the next loop turn */
	struct event *reaper;
	struct event *heartbeat, *watchdog;
	struct daemon_signals *signals;
	struct control_def control_def;
	struct control *control;	/* enclavrctl's socket, or NULL */
	unsigned long long heartbeat_seq;
	bool draining;
	struct metrics_http *metrics;	/* NULL when [metrics] listen is empty */
};

/* svc's own metric families (docs/operations.md, "Metrics"). */
static struct {
	struct metric *requests, *duration, *heartbeats, *start_time, *uptime,
	    *redis_up, *draining, *build;
} svc_m;

/* ----------------------------------------------------------- metrics */

static void
svc_metrics_collect(void *arg)
{
	struct svc *svc = arg;

	metrics_set(svc_m.uptime, NULL, (double)(time_mono_ms() - svc->started_ms) / 1000);
	metrics_set(svc_m.redis_up, NULL, redis_up(svc->redis));
	metrics_set(svc_m.draining, NULL, svc->draining);
}

static void
svc_metrics_register(struct svc *svc)
{
	static const char *const rs[] = { "method", "route", "status", NULL };
	static const char *const rd[] = { "method", "route", NULL };
	static const char *const ver[] = { "version", NULL };
	const char *v[] = { ENCLAVR_VERSION };
	struct timespec now;

	metrics_init(svc->def->name);
	svc_m.requests = metrics_counter("enclavr_http_requests_total",
	    "Forwarded HTTP requests answered, by route pattern and status.", rs);
	svc_m.duration = metrics_histogram("enclavr_http_request_duration_seconds",
	    "Time from a forwarded request's arrival to its answer.", rd,
	    metrics_latency_buckets, metrics_latency_nbuckets);
	svc_m.heartbeats = metrics_counter("enclavr_heartbeats_total",
	    "Heartbeat events published.", NULL);
	svc_m.start_time = metrics_gauge("enclavr_process_start_time_seconds",
	    "Start time of the process since the Unix epoch.", NULL);
	svc_m.uptime = metrics_gauge("enclavr_uptime_seconds",
	    "Seconds since the process started.", NULL);
	svc_m.redis_up = metrics_gauge("enclavr_redis_up",
	    "1 while the Redis connection is up.", NULL);
	svc_m.draining = metrics_gauge("enclavr_draining",
	    "1 once SIGTERM started the drain.", NULL);
	svc_m.build = metrics_gauge("enclavr_build_info",
	    "Always 1; the version is a label.", ver);
	clock_gettime(CLOCK_REALTIME, &now);
	metrics_set(svc_m.start_time, NULL, (double)now.tv_sec - (double)(time_mono_ms() -
	    svc->started_ms) / 1000);
	metrics_set(svc_m.build, v, 1);
	metrics_on_collect(svc_metrics_collect, svc);
}

/* Counts an answered request under its route pattern, never the raw path
 * (which holds ids): unmatched requests share the route "unmatched". */
static void
svc_metrics_request(const struct svc_req_impl *r, int status)
{
	const char *method = r->route && r->pub.method ? r->pub.method : "-";
	const char *route = r->route ? r->route : "unmatched";
	char st[16];
	const char *rs[] = { method, route, st };

	snprintf(st, sizeof(st), "%d", status);
	metrics_inc(svc_m.requests, rs);
	metrics_observe(svc_m.duration, rs, metrics_now() - r->started);
}

/* The [metrics] listen address must be loopback: /metrics has no auth. */
static const char *
svc_conf_check(const void *conf)
{
	const struct svc_conf *c = conf;
	static char why[160];
	const char *err;

	if (*c->metrics_listen == '\0' || (err = metrics_listen_check(c->metrics_listen)) == NULL)
		return NULL;
	snprintf(why, sizeof(why), "[metrics] listen = %s: %s", c->metrics_listen, err);
	return why;
}

/* -------------------------------------------------------- responses */

static void
svc_req_unlink(struct svc *svc, struct svc_req_impl *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		svc->live = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

void
svc_respond(struct svc_request *pub, int status, cJSON *body)
{
	svc_respond_header(pub, status, body, NULL, NULL);
}

void
svc_respond_header(struct svc_request *pub, int status, cJSON *body,
    const char *hname, const char *hvalue)
{
	struct svc_req_impl *r = (struct svc_req_impl *)pub;
	cJSON *resp = cJSON_CreateObject(), *hdrs;
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;

	cJSON_Delete(body);
	if (resp != NULL) {
		cJSON_AddNumberToObject(resp, "status", status);
		hdrs = cJSON_AddObjectToObject(resp, "headers");
		if (hdrs && text)
			cJSON_AddStringToObject(hdrs, "Content-Type", "application/json");
		if (hdrs && hname != NULL && hvalue != NULL)
			cJSON_AddStringToObject(hdrs, hname, hvalue);
		cJSON_AddStringToObject(resp, "body", text ? text : "");
	}
	free(text);
	log_req(LOG_LVL_DEBUG, pub->request_id, "%s %s -> %d", pub->method,
	    pub->path, status);
	svc_metrics_request(r, status);
	ipc_reply(pub->ipc, IPC_HTTP_RESPONSE, resp);
	svc_req_unlink(pub->svc, r);
	/* Freed on the next loop turn: a handler may still read the request
	 * it has just answered (or that a helper answered for it). */
	r->next = pub->svc->answered;
	pub->svc->answered = r;
	event_active(pub->svc->reaper, 0, 0);
}

static void
svc_free_answered(struct svc *svc)
{
	while (svc->answered != NULL) {
		struct svc_req_impl *r = svc->answered;
		svc->answered = r->next;
		cJSON_Delete(r->fwd);
		free(r);
	}
}

static void
svc_reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	svc_free_answered(arg);
}

void
svc_respond_error(struct svc_request *r, int status, const char *code,
    const char *message)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL) {
		cJSON_AddStringToObject(o, "error", code);
		cJSON_AddStringToObject(o, "message", message);
	}
	svc_respond(r, status, o);
}

cJSON *
svc_request_json(struct svc_request *r)
{
	cJSON *j = json_parse_exact(r->body, r->body_len);

	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		svc_respond_error(r, 400, "invalid_json", "Body must be a JSON object");
		return NULL;
	}
	return j;
}

int
svc_query(struct svc_request *r, const char *stmt, const char *const *params,
    pg_result_fn cb, void *arg)
{
	if (pg_exec(r->svc->pg, stmt, params, cb, arg) < 0) {
		svc_respond_error(r, 503, "busy", "The service is busy; try again");
		return -1;
	}
	return 0;
}

bool
svc_result_ok(struct svc_request *r, const PGresult *res, ExecStatusType want)
{
	if (res == NULL) {
		svc_respond_error(r, 503, "database_unavailable", "The database did not answer");
		return false;
	}
	if (PQresultStatus(res) != want) {
		log_req(LOG_LVL_WARN, r->request_id, "%s %s: %s", r->method, r->path,
		    PQresultErrorMessage(res));
		svc_respond_error(r, 500, "internal", "The request failed");
		return false;
	}
	return true;
}

bool
svc_result_one(struct svc_request *r, const PGresult *res, const char *message)
{
	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return false;
	if (PQntuples(res) != 1) {
		svc_respond_error(r, 404, "not_found", message);
		return false;
	}
	return true;
}

/* ----------------------------------------------------- built-in routes */

static cJSON *
svc_status_json(struct svc *svc)
{
	cJSON *o = cJSON_CreateObject();
	char now[RFC3339_STRLEN];

	if (o == NULL)
		return NULL;
	time_now_rfc3339(now, sizeof(now));
	cJSON_AddStringToObject(o, "daemon", svc->def->name);
	cJSON_AddStringToObject(o, "instance", svc->instance);
	cJSON_AddStringToObject(o, "version", ENCLAVR_VERSION);
	cJSON_AddStringToObject(o, "time", now);
	cJSON_AddNumberToObject(o, "uptime_ms", (double)(time_mono_ms() - svc->started_ms));
	cJSON_AddBoolToObject(o, "database", pg_pool_up(svc->pg));
	cJSON_AddBoolToObject(o, "redis", redis_up(svc->redis));
	cJSON_AddBoolToObject(o, "draining", svc->draining);
	return o;
}

static void
svc_health_db_cb(PGresult *res, void *arg)
{
	struct svc_request *r = arg;
	cJSON *o;

	if (!svc_result_ok(r, res, PGRES_TUPLES_OK))
		return;
	o = svc_status_json(r->svc);
	cJSON_AddNumberToObject(o, "migrations", atoi(PQgetvalue(res, 0, 0)));
	cJSON_AddNumberToObject(o, "starts", atoi(PQgetvalue(res, 0, 1)));
	svc_respond(r, 200, o);
}

/* GET /api/health/<daemon>: the daemon's own view, through the database. */
static void
svc_route_health(struct svc_request *r)
{
	svc_query(r, "svc_health", NULL, svc_health_db_cb, r);
}

/* POST /api/health/<daemon>/echo: proves the authenticated forwarding path
 * end to end (body, principal, request id). */
static void
svc_route_echo(struct svc_request *r)
{
	cJSON *body = svc_request_json(r), *o;

	if (body == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "daemon", r->svc->def->name);
	cJSON_AddStringToObject(o, "user_id", r->user_id ? r->user_id : "");
	cJSON_AddStringToObject(o, "session_id", r->session_id ? r->session_id : "");
	cJSON_AddBoolToObject(o, "admin", r->admin);
	cJSON_AddStringToObject(o, "request_id", r->request_id);
	cJSON_AddStringToObject(o, "query", r->query);
	cJSON_AddItemToObject(o, "body", body);
	svc_respond(r, 200, o);
}

static void
svc_build_routes(struct svc *svc)
{
	const struct svc_def *d = svc->def;
	size_t n = 2;
	char buf[128];

	for (size_t t = 0; d->routes != NULL && d->routes[t] != NULL; t++)
		n += d->routes[t]->n;
	svc->nroutes = n;
	if ((svc->routes = calloc(n, sizeof(*svc->routes))) == NULL)
		fatalx("out of memory");
	snprintf(buf, sizeof(buf), "/api/health/%s", d->name);
	svc->route_paths[0] = strdup(buf);
	snprintf(buf, sizeof(buf), "/api/health/%s/echo", d->name);
	svc->route_paths[1] = strdup(buf);
	if (!svc->route_paths[0] || !svc->route_paths[1])
		fatalx("out of memory");
	svc->routes[0] = (struct svc_route){ { "GET", svc->route_paths[0],
		ROUTE_PUBLIC, 0, "default" }, svc_route_health };
	svc->routes[1] = (struct svc_route){ { "POST", svc->route_paths[1],
		ROUTE_USER, SVC_ECHO_LIMIT, "default" }, svc_route_echo };
	n = 2;
	for (size_t t = 0; d->routes != NULL && d->routes[t] != NULL; t++)
		for (size_t i = 0; i < d->routes[t]->n; i++)
			svc->routes[n++] = d->routes[t]->routes[i];
	for (size_t i = 0; i < svc->nroutes; i++) {
		const char *why = route_decl_check(&svc->routes[i].decl);
		if (why != NULL)
			fatalx("route %s %s: %s", svc->routes[i].decl.method,
			    svc->routes[i].decl.path, why);
	}
}

static void
svc_build_stmts(struct svc *svc)
{
	const struct svc_def *d = svc->def;
	const char *s = d->schema;
	size_t n = 2;

	for (size_t t = 0; d->stmts != NULL && d->stmts[t] != NULL; t++)
		for (const struct pg_stmt *st = d->stmts[t]; st->name != NULL; st++)
			n++;
	if ((svc->stmts = calloc(n + 1, sizeof(*svc->stmts))) == NULL ||
	    asprintf(&svc->stmt_sql[0], "SELECT (SELECT count(*) FROM %s.schema_migrations),"
	    " (SELECT count(*) FROM %s.instances)", s, s) < 0 ||
	    asprintf(&svc->stmt_sql[1], "INSERT INTO %s.instances (id, daemon, version)"
	    " VALUES ($1, $2, $3)", s) < 0)
		fatalx("out of memory");
	svc->stmts[0] = (struct pg_stmt){ "svc_health", svc->stmt_sql[0], 0 };
	svc->stmts[1] = (struct pg_stmt){ "svc_instance_add", svc->stmt_sql[1], 3 };
	n = 2;
	for (size_t t = 0; d->stmts != NULL && d->stmts[t] != NULL; t++)
		for (const struct pg_stmt *st = d->stmts[t]; st->name != NULL; st++)
			svc->stmts[n++] = *st;
}

/* ----------------------------------------------------- IPC dispatch */

/* The body of an IPC_ERROR reply. */
static cJSON *
svc_ipc_error(const char *why)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL) {
		cJSON_AddStringToObject(o, "error", "bad_request");
		cJSON_AddStringToObject(o, "message", why);
	}
	return o;
}

static const struct svc_route *
svc_route_find(const struct svc *svc, const char *method, const char *route)
{
	for (size_t i = 0; i < svc->nroutes; i++)
		if (strcmp(svc->routes[i].decl.method, method) == 0 &&
		    strcmp(svc->routes[i].decl.path, route) == 0)
			return &svc->routes[i];
	return NULL;
}

static cJSON *
svc_routes_json(struct svc *svc)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "daemon", svc->def->name);
	cJSON_AddStringToObject(o, "instance", svc->instance);
	arr = cJSON_AddArrayToObject(o, "routes");
	for (size_t i = 0; arr != NULL && i < svc->nroutes; i++)
		if (route_decls_to_json(&svc->routes[i].decl, 1, arr) < 0)
			break;
	return o;
}

/* Fills r from the forwarded request; NULL or what is missing. */
static const char *
svc_request_read(struct svc_req_impl *r)
{
	cJSON *f = r->fwd, *pr = cJSON_GetObjectItemCaseSensitive(f, "principal");
	struct svc_request *p = &r->pub;

	p->method = json_str(f, "method");
	p->path = json_str(f, "path");
	p->query = json_str(f, "query");
	p->body = json_str(f, "body");
	p->request_id = json_str(f, "request_id");
	p->client_addr = json_str(f, "client_addr");
	p->user_agent = json_str(f, "user_agent");
	if (!p->method || !p->path || !p->query || !p->body || !p->request_id ||
	    !p->client_addr || !p->user_agent)
		return "a required field is missing";
	p->body_len = strlen(p->body);
	if (cJSON_IsObject(pr)) {
		p->user_id = json_str(pr, "user_id");
		p->session_id = json_str(pr, "session_id");
		p->admin = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pr, "admin"));
		if (!p->user_id || !p->session_id)
			return "principal is incomplete";
	}
	return NULL;
}

static void
svc_http_request(struct svc *svc, struct ipc_request *ipc)
{
	struct svc_req_impl *r = calloc(1, sizeof(*r));
	const struct svc_route *route;
	const char *why, *pattern;

	if (r == NULL) {
		ipc_reply(ipc, IPC_ERROR, svc_ipc_error("out of memory"));
		return;
	}
	r->pub.svc = svc, r->pub.ipc = ipc;
	r->started = metrics_now();
	r->fwd = ipc->body;
	ipc->body = NULL;	/* r owns it now */
	r->next = svc->live;
	if (svc->live)
		svc->live->prev = r;
	svc->live = r;
	if ((why = svc_request_read(r)) != NULL) {
		log_warnx("ipc: bad forwarded request: %s", why);
		svc_respond_error(&r->pub, 400, "bad_request", why);
		return;
	}
	pattern = json_str(r->fwd, "route");
	route = svc_route_find(svc, r->pub.method, pattern ? pattern : r->pub.path);
	if (route != NULL)
		r->route = route->decl.path;
	if (svc->draining) {
		svc_respond_error(&r->pub, 503, "shutting_down",
		    "The service is restarting");
		return;
	}
	if (route == NULL) {
		svc_respond_error(&r->pub, 404, "not_found", "No such route");
		return;
	}
	/* gatewayd enforces these; checking again costs nothing. */
	/* Internal routes are gatewayd's own calls, with or without a user. */
	if (route->decl.auth != ROUTE_PUBLIC && route->decl.auth != ROUTE_INTERNAL &&
	    r->pub.user_id == NULL) {
		svc_respond_error(&r->pub, 401, "unauthorized", "Authentication required");
		return;
	}
	if (route->decl.auth == ROUTE_ADMIN && !r->pub.admin) {
		svc_respond_error(&r->pub, 403, "forbidden", "Admin access required");
		return;
	}
	route->fn(&r->pub);
}

static void
svc_on_request(struct ipc_request *req, void *arg)
{
	struct svc *svc = arg;

	switch (req->type) {
	case IPC_PING:
		ipc_reply(req, IPC_PONG, svc_status_json(svc));
		break;
	case IPC_ROUTES_GET:
		ipc_reply(req, IPC_ROUTES, svc_routes_json(svc));
		break;
	case IPC_HTTP_REQUEST:
		svc_http_request(svc, req);
		break;
	default:
		log_warnx("ipc: unexpected %s request", ipc_type_name(req->type));
		ipc_reply(req, IPC_ERROR, svc_ipc_error("unexpected request type"));
		break;
	}
}

/* ----------------------------------------------------- lifecycle */

static void
svc_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *svc = arg;
	char topic[64];
	cJSON *o = svc_status_json(svc);
	(void)fd, (void)what;

	if (o == NULL)
		return;
	cJSON_AddNumberToObject(o, "seq", (double)++svc->heartbeat_seq);
	snprintf(topic, sizeof(topic), "heartbeat.%s", svc->def->name);
	ipc_publish(svc->pub, topic, o);
	metrics_inc(svc_m.heartbeats, NULL);
	cJSON_Delete(o);
}

static void
svc_drain_start(void *arg)
{
	((struct svc *)arg)->draining = true;	/* new requests get 503 */
}

static int
svc_busy(void *arg)
{
	return ipc_server_inflight(((struct svc *)arg)->server);
}

static long long
svc_drain_timeout_ms(void *arg)
{
	return ((struct svc *)arg)->conf->drain_timeout_ms;
}

/* SIGHUP and enclavrctl reload: options changed, or -1 and why. */
static int
svc_reload_why(void *arg, char *why, size_t whylen)
{
	struct svc *svc = arg;
	int n = daemon_reload_config_why(svc->def->opts, svc->conf,
	    svc->def->conf_size, svc->opts.conf_path, why, whylen);

	if (n >= 0 && !svc->opts.debug)
		log_set_level(svc_log_level_values[svc->conf->log_level]);
	return n;
}

static void
svc_reload(void *arg)
{
	char why[512];

	svc_reload_why(arg, why, sizeof(why));
}

/* enclavrctl status: the heartbeat's fields and the IPC side. */
static cJSON *
svc_control_status(void *arg)
{
	struct svc *svc = arg;
	cJSON *o = svc_status_json(svc), *ipc;

	if (o == NULL)
		return NULL;
	cJSON_AddNumberToObject(o, "uptime_s",
	    (double)((time_mono_ms() - svc->started_ms) / 1000));
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	if ((ipc = cJSON_AddObjectToObject(o, "ipc")) != NULL) {
		cJSON_AddStringToObject(ipc, "listen", svc->conf->ipc_listen);
		cJSON_AddStringToObject(ipc, "publish", svc->conf->ipc_publish);
		cJSON_AddNumberToObject(ipc, "in_flight", ipc_server_inflight(svc->server));
	}
	return o;
}

static const struct daemon_hooks svc_hooks = {
	.drain_start = svc_drain_start,
	.busy = svc_busy,
	.drain_timeout_ms = svc_drain_timeout_ms,
	.busy_what = "request(s) in flight",
	.reload = svc_reload,
};

static void
svc_instance_cb(PGresult *res, void *arg)
{
	(void)arg;
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warnx("could not record this instance: %s",
		    res ? PQresultErrorMessage(res) : "no database");
}

/* Waits until every relation the daemon reads from another daemon's schema
 * exists (that daemon migrates it at its own start). */
static void
svc_wait_required(struct svc *svc, PGconn *c, long long deadline_ms)
{
	for (const char *const *rel = svc->def->requires; rel && *rel; rel++) {
		bool logged = false;

		for (;;) {
			const char *params[1] = { *rel };
			PGresult *res = PQexecParams(c, "SELECT to_regclass($1) IS NOT NULL",
			    1, NULL, params, NULL, NULL, 0);
			bool found = PQresultStatus(res) == PGRES_TUPLES_OK &&
			    PQntuples(res) == 1 && *PQgetvalue(res, 0, 0) == 't';

			PQclear(res);
			if (found)
				break;
			if (time_mono_ms() > deadline_ms)
				fatalx("%s does not exist: is its daemon running?", *rel);
			if (!logged)
				log_info("waiting for %s (created by its daemon)", *rel);
			logged = true;
			usleep(200 * 1000);
		}
	}
}

static void
svc_migrate(struct svc *svc)
{
	long long deadline = time_mono_ms() + SVC_DB_WAIT_MS;
	PGconn *c = pg_connect_blocking(svc->conf->db_conninfo, deadline);
	int n;

	if (c == NULL)
		fatalx("the database is unreachable");
	svc_wait_required(svc, c, deadline);
	n = migrate_run(c, svc->def->schema, svc->conf->migrations_dir);
	PQfinish(c);
	if (n < 0)
		fatalx("migrations failed");
	log_info("schema %s at %d migration(s)", svc->def->schema, n);
}

static void
svc_start(struct svc *svc)
{
	struct svc_conf *c = svc->conf;
	struct timeval hb = { c->heartbeat_ms / 1000, (c->heartbeat_ms % 1000) * 1000 };
	const char *params[3] = { svc->instance, svc->def->name, ENCLAVR_VERSION };

	svc->base = daemon_base_new();
	if ((svc->reaper = event_new(svc->base, -1, 0, svc_reaper_cb, svc)) == NULL)
		fatalx("out of memory");
	svc->pg = pg_pool_new(svc->base, c->db_conninfo, (int)c->db_pool_size,
	    (int)c->db_timeout_ms, svc->stmts);
	if (*c->redis_host != '\0')
		svc->redis = redis_open(svc->base, c->redis_host, (int)c->redis_port);
	svc->pub = ipc_pub_open(c->ipc_publish);
	if (svc->def->init != NULL && svc->def->init(svc) < 0)
		fatalx("initialisation failed");
	svc->server = ipc_server_open(svc->base, c->ipc_listen, (int)c->ipc_contexts,
	    svc_on_request, svc);
	pg_exec(svc->pg, "svc_instance_add", params, svc_instance_cb, NULL);
	svc->heartbeat = event_new(svc->base, -1, EV_PERSIST, svc_heartbeat_cb, svc);
	event_add(svc->heartbeat, &hb);
	svc->watchdog = notify_watchdog_start(svc->base);
	svc->signals = daemon_signals_new(svc->base, &svc_hooks, svc);
	if (*c->metrics_listen != '\0')
		svc->metrics = metrics_http_open(svc->base, c->metrics_listen);
	svc->control_def = (struct control_def){ svc->def->name, c->control_socket,
		svc_control_status, svc_reload_why, svc->def->control_cmds, svc };
	svc->control = control_open(svc->base, &svc->control_def);
}

static void
svc_stop(struct svc *svc)
{
	/* Redis first: hiredis fails the commands still pending (their
	 * callbacks get NULL) while requests and the pool are still alive. */
	redis_close(svc->redis);
	svc->redis = NULL;
	if (svc->def->fini != NULL)
		svc->def->fini(svc);
	pg_pool_free(svc->pg);		/* drops callbacks of queries in flight */
	control_close(svc->control);	/* after: their commands wait no more */
	while (svc->live != NULL) {
		struct svc_req_impl *r = svc->live;
		svc->live = r->next;
		cJSON_Delete(r->fwd);
		free(r);
	}
	svc_free_answered(svc);
	event_free(svc->reaper);
	metrics_http_close(svc->metrics);
	metrics_off_collect(svc_metrics_collect, svc);
	ipc_server_close(svc->server);
	ipc_pub_close(svc->pub);
	daemon_signals_free(svc->signals);
	if (svc->watchdog)
		event_free(svc->watchdog);
	event_free(svc->heartbeat);
	event_base_free(svc->base);
}

static void
svc_free(struct svc *svc)
{
	free(svc->stmt_sql[0]), free(svc->stmt_sql[1]);
	free(svc->route_paths[0]), free(svc->route_paths[1]);
	free(svc->stmts);
	free(svc->routes);
	cfg_free(svc->def->opts, svc->conf);
	free(svc->conf);
	metrics_reset();
}

int
svc_main(int argc, char **argv, const struct svc_def *def)
{
	struct svc svc = { .def = def };

	daemon_parse_args(argc, argv, def->conf_path, &svc.opts);
	if ((svc.conf = calloc(1, def->conf_size)) == NULL)
		fatalx("out of memory");
	daemon_load_config_checked(def->name, def->opts, svc.conf, &svc.opts,
	    svc_conf_check);
	log_init(def->name, svc.opts.debug ? LOG_LVL_DEBUG :
	    svc_log_level_values[svc.conf->log_level]);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	uuid_v4(svc.instance);
	svc.started_ms = time_mono_ms();
	svc_metrics_register(&svc);
	svc_build_routes(&svc);
	svc_build_stmts(&svc);
	svc_migrate(&svc);
	svc_start(&svc);
	log_info("ready (instance %s)", svc.instance);
	notify_send("READY=1");
	event_base_dispatch(svc.base);
	svc_stop(&svc);
	nng_fini();		/* lets nng finish its own clean-up before exit */
	svc_free(&svc);
	return 0;
}

void *svc_config(struct svc *svc) { return svc->conf; }
struct event_base *svc_base(struct svc *svc) { return svc->base; }
struct pg_pool *svc_pg(struct svc *svc) { return svc->pg; }
struct redis_conn *svc_redis(struct svc *svc) { return svc->redis; }
struct ipc_pub *svc_pub(struct svc *svc) { return svc->pub; }
const char *svc_instance(const struct svc *svc) { return svc->instance; }
