/* gatewayd's Prometheus metrics ([metrics] listen; libcommon/metrics.h):
 * requests by route and status with their latency, TCP connections,
 * WebSockets and streams open, frames fanned out to sockets; the IPC
 * client's and Redis's own are recorded by libcommon. */
#include "gatewayd.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "metrics_http.h"

static struct {
	struct metric *requests, *duration, *conns, *ws, *dm_ws, *streams, *fanout;
	struct metrics_http *http;
} gm;

static const char *const gm_route_labels[] = { "method", "route", "status", NULL };
static const char *const gm_method_route[] = { "method", "route", NULL };

static void
gw_metrics_collect(void *arg)
{
	struct gw *gw = arg;

	metrics_set(gm.conns, NULL, gw->nconns);
	metrics_set(gm.ws, NULL, gw->nws);
	metrics_set(gm.dm_ws, NULL, gw_ws_dm_clients(gw));
	metrics_set(gm.streams, NULL, gw_hub_rooms());
}

const char *
gw_metrics_check(const struct gw_conf *conf)
{
	return *conf->metrics_listen != '\0' ? metrics_listen_check(conf->metrics_listen) : NULL;
}

void
gw_metrics_open(struct gw *gw)
{
	if (*gw->conf->metrics_listen == '\0')
		return;
	metrics_init("gatewayd");
	gm.requests = metrics_counter("enclavr_http_requests_total",
	    "HTTP requests answered, by route pattern and status", gm_route_labels);
	gm.duration = metrics_histogram("enclavr_http_request_duration_seconds",
	    "Time from a request's first byte to its answer", gm_method_route,
	    metrics_latency_buckets, metrics_latency_nbuckets);
	gm.conns = metrics_gauge("enclavr_http_connections", "TCP connections open", NULL);
	gm.ws = metrics_gauge("enclavr_ws_connections", "WebSockets open", NULL);
	gm.dm_ws = metrics_gauge("enclavr_ws_dm_connections",
	    "The reference's DM sockets open (/api/dm/ws)", NULL);
	gm.streams = metrics_gauge("enclavr_ws_streams",
	    "Rooms and conversations with a socket subscribed here", NULL);
	gm.fanout = metrics_counter("enclavr_ws_events_fanned_out_total",
	    "Event frames queued to sockets", NULL);
	metrics_on_collect(gw_metrics_collect, gw);
	if ((gm.http = metrics_http_open(gw->base, gw->conf->metrics_listen)) == NULL)
		fatalx("metrics: cannot listen on %s", gw->conf->metrics_listen);
}

void
gw_metrics_close(struct gw *gw)
{
	if (gm.http == NULL)
		return;
	metrics_off_collect(gw_metrics_collect, gw);
	metrics_http_close(gm.http);
	metrics_reset();
	memset(&gm, 0, sizeof(gm));
}

void
gw_metrics_request(const struct gw_request *r, long long elapsed_us)
{
	char status[8];
	const char *method = r->method ? r->method : "-";
	const char *route = r->route_label[0] ? r->route_label : "unmatched";
	const char *v[3] = { method, route, status };

	if (gm.requests == NULL)
		return;
	snprintf(status, sizeof(status), "%d", r->status);
	metrics_inc(gm.requests, v);
	metrics_observe(gm.duration, v, (double)elapsed_us / 1e6);
}

void
gw_metrics_fanout(void)
{
	metrics_inc(gm.fanout, NULL);
}
