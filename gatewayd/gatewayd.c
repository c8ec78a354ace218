/* gatewayd: the only process facing the internet. Entry point, option
 * table, start-up, reload and drain. */
#include "gatewayd.h"

#include <nng/nng.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "svc.h"

#define UP_OPTS(d, i)                                                       \
	{ "upstream", d, CFG_STR, "ipc:///run/enclavr/" d ".rep", 1, 512, NULL, \
	  false, offsetof(struct gw_conf, up_url[i]), d "'s REP socket" },      \
	{ "upstream", d "_events", CFG_STR, "ipc:///run/enclavr/" d ".pub", 1,  \
	  512, NULL, false, offsetof(struct gw_conf, up_events[i]),             \
	  d "'s PUB socket" }

/* Forward-secret AEAD suites only (Mozilla's "intermediate" list). */
#define GW_TLS_CIPHERS                                                   \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"     \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"     \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static const char *const gw_tls_versions[] = { "1.2", "1.3", NULL };

static const struct cfg_opt gw_opts[] = {
	{ "log", "level", CFG_ENUM, "info", 0, 0, svc_log_levels, true,
	  offsetof(struct gw_conf, log_level), "error, warn, info or debug" },
	{ "http", "listen", CFG_STR, "127.0.0.1", 1, 255, NULL, false,
	  offsetof(struct gw_conf, http_listen), "numeric address to bind" },
	{ "http", "port", CFG_INT, "8080", 1, 65535, NULL, false,
	  offsetof(struct gw_conf, http_port), "TCP port" },
	{ "http", "web_root", CFG_STR, "/usr/share/enclavr/web", 1, 1024, NULL,
	  false, offsetof(struct gw_conf, web_root), "the web client's files" },
	{ "http", "max_header_bytes", CFG_INT, "16384", 1024, 1048576, NULL, true,
	  offsetof(struct gw_conf, max_header_bytes), "header names and values" },
	{ "http", "request_timeout_ms", CFG_INT, "10000", 100, 600000, NULL, true,
	  offsetof(struct gw_conf, request_timeout_ms), "to receive a request" },
	{ "http", "idle_timeout_ms", CFG_INT, "60000", 100, 3600000, NULL, true,
	  offsetof(struct gw_conf, idle_timeout_ms), "keep-alive idle time" },
	{ "http", "write_timeout_ms", CFG_INT, "30000", 100, 3600000, NULL, false,
	  offsetof(struct gw_conf, write_timeout_ms), "a stalled reader" },
	{ "http", "max_connections", CFG_INT, "10000", 1, 1000000, NULL, true,
	  offsetof(struct gw_conf, max_connections), "open at once" },
	{ "http", "drain_timeout_ms", CFG_INT, "10000", 0, 600000, NULL, true,
	  offsetof(struct gw_conf, drain_timeout_ms), "SIGTERM grace period" },
	{ "http", "cors_origins", CFG_STR, "http://localhost:8080", 0, 4096, NULL,
	  true, offsetof(struct gw_conf, cors_origins), "comma-separated, or *" },
	{ "http", "trusted_proxies", CFG_STR, "", 0, 4096, NULL, true,
	  offsetof(struct gw_conf, trusted_proxies),
	  "reverse proxies whose X-Forwarded-For is believed (addresses, CIDRs)" },
	{ "http", "tls_cert_file", CFG_STR, "", 0, 1024, NULL, false,
	  offsetof(struct gw_conf, tls_cert_file),
	  "PEM certificate chain; empty = plain HTTP" },
	{ "http", "tls_key_file", CFG_STR, "", 0, 1024, NULL, false,
	  offsetof(struct gw_conf, tls_key_file), "PEM private key of the certificate" },
	{ "http", "tls_min_version", CFG_ENUM, "1.2", 0, 0, gw_tls_versions, true,
	  offsetof(struct gw_conf, tls_min_version), "1.2 or 1.3" },
	{ "http", "tls_ciphers", CFG_STR, GW_TLS_CIPHERS, 1, 512, NULL, true,
	  offsetof(struct gw_conf, tls_ciphers), "TLS 1.2 cipher list (OpenSSL syntax)" },
	{ "http", "redirect_port", CFG_INT, "0", 0, 65535, NULL, false,
	  offsetof(struct gw_conf, redirect_port), "plain port redirecting to HTTPS; 0 = off" },
	{ "auth", "public_key_file", CFG_STR, "", 0, 1024, NULL, false,
	  offsetof(struct gw_conf, public_key_file), "authd's Ed25519 public key" },
	UP_OPTS("authd", 0),
	UP_OPTS("chatd", 1),
	UP_OPTS("voiced", 2),
	{ "upstream", "timeout_ms", CFG_INT, "5000", 100, 600000, NULL, true,
	  offsetof(struct gw_conf, upstream_timeout_ms), "per forwarded request" },
	{ "upstream", "heartbeat_timeout_ms", CFG_INT, "3000", 300, 600000, NULL,
	  true, offsetof(struct gw_conf, heartbeat_timeout_ms), "silence = down" },
	{ "redis", "host", CFG_STR, "127.0.0.1", 0, 255, NULL, false,
	  offsetof(struct gw_conf, redis_host), "numeric address; empty = off" },
	{ "redis", "port", CFG_INT, "6379", 1, 65535, NULL, false,
	  offsetof(struct gw_conf, redis_port), "Redis TCP port" },
	{ "ratelimit", "auth_per_minute", CFG_INT, "20", 0, 1000000, NULL, true,
	  offsetof(struct gw_conf, rl_auth_per_minute), "sign-in class; 0 = off" },
	{ "ratelimit", "default_per_minute", CFG_INT, "0", 0, 1000000, NULL, true,
	  offsetof(struct gw_conf, rl_default_per_minute), "other routes; 0 = off" },
	{ "ws", "ping_interval_ms", CFG_INT, "30000", 100, 3600000, NULL, true,
	  offsetof(struct gw_conf, ws_ping_interval_ms), "ping a quiet socket" },
	{ "ws", "idle_timeout_ms", CFG_INT, "60000", 200, 7200000, NULL, true,
	  offsetof(struct gw_conf, ws_idle_timeout_ms), "close after this silence" },
	{ "ws", "max_message_bytes", CFG_INT, "65536", 1024, 16777216, NULL, false,
	  offsetof(struct gw_conf, ws_max_message), "largest client message" },
	{ "ws", "max_queue_bytes", CFG_INT, "1048576", 4096, 268435456, NULL, true,
	  offsetof(struct gw_conf, ws_max_queue), "unsent bytes before 1013" },
	{ "ws", "max_rooms", CFG_INT, "200", 1, 100000, NULL, true,
	  offsetof(struct gw_conf, ws_max_rooms), "subscriptions per socket" },
	{ "ws", "rate_per_second", CFG_INT, "20", 1, 100000, NULL, true,
	  offsetof(struct gw_conf, ws_rate_per_s), "client messages per second" },
	{ "ws", "burst", CFG_INT, "60", 1, 1000000, NULL, true,
	  offsetof(struct gw_conf, ws_burst), "client messages at once" },
	{ "control", "socket", CFG_STR, "/run/enclavr/gatewayd.ctl", 0, 107, NULL, false,
	  offsetof(struct gw_conf, control_socket), "enclavrctl's socket; empty = off" },
	{ "metrics", "listen", CFG_STR, "", 0, 64, NULL, false,
	  offsetof(struct gw_conf, metrics_listen),
	  "loopback address:port of GET /metrics; empty = off" },
	CFG_END
};

static const int gw_log_levels[] = { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO,
	LOG_LVL_DEBUG };

/* SIGTERM: stop accepting, close idle connections, let the others finish. */
static void
gw_drain_start(void *arg)
{
	struct gw *gw = arg;

	gw->draining = true;
	gw_http_stop_accepting(gw);
	gw_ws_going_away(gw);
	gw_http_close_all(gw);
}

static int
gw_busy(void *arg)
{
	return ((struct gw *)arg)->nconns;
}

static long long
gw_drain_timeout_ms(void *arg)
{
	return ((struct gw *)arg)->conf->drain_timeout_ms;
}

int
gw_reload_why(struct gw *gw, char *why, size_t len)
{
	char list_why[160];
	int n = daemon_reload_config_why(gw_opts, gw->conf, sizeof(*gw->conf), gw->conf_path,
	    why, len);

	if (gw_client_load(gw->conf->trusted_proxies, list_why, sizeof(list_why)) < 0)
		log_warnx("%s; keeping the previous list", list_why);
	gw_tls_reload(gw);
	if (!gw->debug)
		log_set_level(gw_log_levels[gw->conf->log_level]);
	return n;
}

static void
gw_reload(void *arg)
{
	char why[256];

	gw_reload_why(arg, why, sizeof(why));
}

static const struct daemon_hooks gw_hooks = {
	.drain_start = gw_drain_start,
	.busy = gw_busy,
	.drain_timeout_ms = gw_drain_timeout_ms,
	.busy_what = "connection(s) open",
	.reload = gw_reload,
};

static void
gw_run(struct gw *gw)
{
	struct daemon_signals *sig;
	struct event *watchdog;
	char why[256];

	gw->base = daemon_base_new();
	gw->started_ms = time_mono_ms();
	gw_presence_init(gw);
	gw_router_init(&gw->router);
	gw_auth_load_key(gw);
	if (*gw->conf->redis_host != '\0') {
		gw->redis = redis_open(gw->base, gw->conf->redis_host, (int)gw->conf->redis_port);
		redis_on_connect(gw->redis, gw_revoked_bootstrap, gw);
	}
	gw_ratelimit_start(gw);
	gw_upstreams_start(gw);
	if (gw_tls_init(gw, why, sizeof(why)) < 0)
		fatalx("%s", why);
	if (gw_http_listen(gw) < 0)
		fatalx("cannot serve HTTP");
	sig = daemon_signals_new(gw->base, &gw_hooks, gw);
	gw_control_open(gw);
	gw_metrics_open(gw);
	watchdog = notify_watchdog_start(gw->base);
	notify_send("READY=1");
	event_base_dispatch(gw->base);

	gw_http_stop_accepting(gw);
	gw_http_free_all(gw);		/* cancels their calls */
	gw_internal_free_all();
	gw_upstreams_stop(gw);
	redis_close(gw->redis);		/* runs the rate checks' callbacks */
	gw_control_close(gw);
	gw_metrics_close(gw);
	gw_ratelimit_stop();
	if (watchdog)
		event_free(watchdog);
	daemon_signals_free(sig);
	gw_router_free(&gw->router);
	gw_tls_free(gw);
	gw_static_free();
	gw_revoked_free();
	gw_presence_free();
}

/* What -n and the start refuse beyond each option's own range. */
static const char *
gw_config_check(const void *conf)
{
	return gw_metrics_check(conf);
}

int
main(int argc, char **argv)
{
	struct daemon_opts opts;
	struct gw gw = { 0 };
	char why[160];
	struct gw_conf *conf = calloc(1, sizeof(*conf));

	if (conf == NULL)
		fatalx("out of memory");
	daemon_parse_args(argc, argv, "/etc/enclavr/gatewayd.conf", &opts);
	daemon_load_config_checked("gatewayd", gw_opts, conf, &opts, gw_config_check);
	log_init("gatewayd", opts.debug ? LOG_LVL_DEBUG : gw_log_levels[conf->log_level]);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	if (gw_client_load(conf->trusted_proxies, why, sizeof(why)) < 0)
		fatalx("%s", why);
	gw.conf = conf;
	gw.conf_path = opts.conf_path;
	gw.debug = opts.debug;
	gw_run(&gw);
	nng_fini();		/* lets nng finish its own clean-up before exit */
	event_base_free(gw.base);
	cfg_free(gw_opts, conf);
	free(conf);
	return 0;
}
