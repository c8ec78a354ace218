/* gatewayd: the only process facing the internet. Shared types of its
 * files: http.c (connections, parsing), response.c (writing), router.c,
 * upstream.c (the daemons), forward.c, auth.c, ratelimit.c, static.c,
 * ops.c. */
#ifndef GATEWAYD_H
#define GATEWAYD_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "redis.h"
#include "router.h"
#include "token.h"
#include "wsframe.h"

#define GW_MAX_HEADERS 100
#define GW_MAX_URL 8192
#define GW_REQUEST_ID_MAX 64
#define GW_MAX_CALLS 4

struct gw_conf {
	int log_level;
	char *http_listen;
	long long http_port;
	char *web_root;
	long long max_header_bytes;
	long long request_timeout_ms;
	long long idle_timeout_ms;
	long long write_timeout_ms;
	long long max_connections;
	long long drain_timeout_ms;
	char *cors_origins;
	char *trusted_proxies;
	char *tls_cert_file;		/* empty: plain HTTP */
	char *tls_key_file;
	int tls_min_version;		/* 0: TLS 1.2, 1: TLS 1.3 */
	char *tls_ciphers;		/* TLS 1.2's; 1.3 keeps OpenSSL's */
	long long redirect_port;	/* 0: no HTTP -> HTTPS redirect */
	char *public_key_file;
	char *up_url[3];		/* REP URLs of authd, chatd, voiced */
	char *up_events[3];		/* their PUB URLs */
	long long upstream_timeout_ms;
	long long heartbeat_timeout_ms;
	char *redis_host;
	long long redis_port;
	long long rl_auth_per_minute;	/* per client; 0 = unlimited */
	long long rl_default_per_minute;
	long long ws_ping_interval_ms;
	long long ws_idle_timeout_ms;
	long long ws_max_message;
	long long ws_max_queue;
	long long ws_max_rooms;
	long long ws_rate_per_s;
	long long ws_burst;
	char *control_socket;
	char *metrics_listen;
};

enum { GW_AUTHD, GW_CHATD, GW_VOICED, GW_NUPSTREAMS };

struct gw;

/* A back-end daemon as gatewayd sees it (upstream.c). */
struct gw_upstream {
	struct gw *gw;
	const char *name;
	struct ipc_client *cli;
	struct ipc_sub *sub;
	char instance[UUID_STRLEN + 1];	/* of the announced route table */
	char seen_instance[UUID_STRLEN + 1];
	long long last_heartbeat_ms;
	bool fetching;
	bool routes_loaded;
	int nroutes;
	unsigned sub_connects;		/* ipc_sub_connects, last seen */
};

/* The verified caller of a request (auth.c). */
struct gw_principal {
	bool present;
	struct token_claims claims;
};

/* One HTTP request; owned by its connection, freed after its response. */
struct gw_request {
	struct gw_conn *conn;
	const char *method;
	char url[GW_MAX_URL + 1];
	size_t url_len;
	char *path;			/* percent-decoded, validated */
	char *query;			/* raw, without '?' ("" when none) */
	char *hbuf;			/* "name\0value\0..." */
	size_t hlen, hcap;
	size_t name_off[GW_MAX_HEADERS], value_off[GW_MAX_HEADERS];
	int nheaders;
	char allow[64];			/* for 405, from the router */
	struct evbuffer *body;
	size_t body_limit;
	char request_id[GW_REQUEST_ID_MAX + 1];
	char client[64];		/* client.c: the peer, or behind a
					 * trusted proxy, the forwarded client */
	const struct gw_route *route;
	struct gw_principal principal;
	bool token_in_query;		/* the principal came from ?token= */
	int error_status;		/* set while parsing: answer and close */
	const char *error_code, *error_msg;
	bool head;
	bool keep_alive;
	bool complete;
	bool rate_checked;		/* its rate limit was counted */
	long long start_us;
	struct ipc_call *calls[GW_MAX_CALLS];
	int ncalls;
	void *work;			/* per-handler state */
	void (*work_free)(void *work);	/* runs when the request is freed */
	int status;			/* as answered, for the log */
	char route_label[96];		/* its route's pattern (metrics.c) */
};

struct gw_conn {
	struct gw *gw;
	struct bufferevent *bev;
	bool closing;			/* no more requests on it */
	bool freeing;			/* release scheduled */
	bool in_request;		/* bytes of a request have arrived */
	bool close_after;
	bool lingering;			/* half-closed, discarding input */
	bool redirect;			/* on the redirect port: every
					 * request answers 301/308 */
	bool peer_eof;			/* the client will send nothing more */
	struct gw_ws *ws;		/* set once it is a WebSocket */
	http_parser parser;
	struct gw_request *req;
	struct event *timer;
	char peer[64];
	size_t header_bytes;
	int last_header_cb;		/* 0 none, 1 field, 2 value */
	struct gw_conn *prev, *next;
};

struct gw {
	struct gw_conf *conf;
	const char *conf_path;
	bool debug;
	struct event_base *base;
	struct evconnlistener *listener;
	struct evconnlistener *redirect_listener;	/* [http] redirect_port */
	struct ssl_ctx_st *tls_ctx;	/* NULL: plain HTTP; tls.c replaces it
					 * on SIGHUP (open connections keep
					 * theirs: an SSL holds a reference) */
	struct gw_router router;
	struct gw_upstream up[GW_NUPSTREAMS];
	struct redis_conn *redis;
	unsigned char public_key[TOKEN_PK_LEN];
	bool have_key;
	struct gw_conn *conns;
	int nconns;
	struct gw_ws *wss;		/* the WebSockets among conns */
	int nws;
	long long started_ms;
	bool draining;
	struct event *tick;
	char instance[UUID_STRLEN + 1];	/* stable across restarts (presence.c) */
	struct control *control;	/* control.c: enclavrctl's socket */
};

/* gatewayd.c: SIGHUP's reload; how many options changed, or -1 with why
 * the old config was kept. */
int gw_reload_why(struct gw *gw, char *why, size_t len);

/* metrics.c: Prometheus metrics ([metrics] listen). */
/* NULL, or why [metrics] listen is refused (not a loopback address). */
const char *gw_metrics_check(const struct gw_conf *conf);
void gw_metrics_open(struct gw *gw);
void gw_metrics_close(struct gw *gw);
/* An answered request and how long it took. */
void gw_metrics_request(const struct gw_request *r, long long elapsed_us);
/* A frame queued to a socket. */
void gw_metrics_fanout(void);

/* control.c: enclavrctl's control socket ([control] socket). */
struct control;
void gw_control_open(struct gw *gw);
void gw_control_close(struct gw *gw);

/* http.c */
int gw_http_listen(struct gw *gw);
void gw_http_stop_accepting(struct gw *gw);
void gw_http_close_all(struct gw *gw);
/* At exit: frees every connection now, cancelling their calls. */
void gw_http_free_all(struct gw *gw);
/* Frees c on the next loop turn. */
void gw_conn_close(struct gw_conn *c);
/* Ends c once its queued output is sent. */
void gw_conn_end(struct gw_conn *c);
/* Ends a WebSocket's c: once its output is sent, half-close and discard
 * input for a moment, so that no reset destroys the close frame. */
void gw_conn_linger_now(struct gw_conn *c);
const char *gw_request_header(const struct gw_request *r, const char *name);

/* Called by handlers once the response is fully queued. */
void gw_request_done(struct gw_request *r);
/* Registers an IPC call to cancel if the request dies first. */
void gw_request_track_call(struct gw_request *r, struct ipc_call *call);
void gw_request_untrack_call(struct gw_request *r, struct ipc_call *call);

/* tls.c */
/* Builds the SSL_CTX when [http] tls_cert_file is set; -1 with why. */
int gw_tls_init(struct gw *gw, char *why, size_t whylen);
/* SIGHUP: a new SSL_CTX from the files, or the old one kept (logged). */
void gw_tls_reload(struct gw *gw);
void gw_tls_free(struct gw *gw);
/* A server-side TLS bufferevent on fd (closed with it), or NULL. */
struct bufferevent *gw_tls_bufferevent(struct gw *gw, evutil_socket_t fd);
/* Sends close_notify on a TLS connection whose output is all sent. */
void gw_tls_shutdown(struct gw_conn *c);
/* Answers r, on the redirect port, with its https:// address. */
void gw_tls_redirect(struct gw_request *r);

/* dispatch.c */
/* At headers-complete: matches the route and sets the body limit, or
 * records the error to answer. */
void gw_dispatch_prepare(struct gw_request *r);
/* A complete request: answers it, now or later. */
void gw_dispatch(struct gw_request *r);

/* response.c */
void gw_response_start(struct gw_request *r, int status);
void gw_response_header(struct gw_request *r, const char *name, const char *value);
void gw_response_body(struct gw_request *r, const void *body, size_t len);
/* Like gw_response_body, but references data: cleanup(data, len, arg)
 * runs once the bytes are sent. */
void gw_response_body_ref(struct gw_request *r, const void *data, size_t len,
    void (*cleanup)(const void *, size_t, void *), void *arg);
void gw_respond_json(struct gw_request *r, int status, const char *json, size_t len);
void gw_respond_error(struct gw_request *r, int status, const char *code,
    const char *message);
/* An error that carries one more header (Allow, WWW-Authenticate...). */
void gw_respond_error_with(struct gw_request *r, int status, const char *code,
    const char *message, const char *hname, const char *hvalue);
void gw_respond_405(struct gw_request *r, const char *allow);
void gw_respond_preflight(struct gw_request *r);
/* 101 Switching Protocols to a WebSocket. */
void gw_response_start_upgrade(struct gw_request *r, const char *accept);
/* True when origin is one of the comma-separated origins in list (or *). */
bool gw_origin_allowed(const char *list, const char *origin);

/* ws.c: WebSocket connections. */
struct gw_sub;
struct gw_frame;
struct gw_vcall;
struct gw_kind;

/* calloc for a struct that a fan-out reads for every socket: it starts
 * a cache line, so that its leading fields share one. */
static inline void *
gw_calloc_line(size_t size)
{
	void *p = NULL;

	return posix_memalign(&p, 64, size) == 0 ? memset(p, 0, size) : NULL;
}

struct gw_ws {
	/* What sending an event reads comes first, in one cache line (the
	 * fan-out touches it for every socket of a room). */
	struct gw_conn *conn;
	struct evbuffer *out;		/* what the socket has not taken yet */
	size_t queued;			/* its length (gw_ws_out_changed) */
	struct event *wev;		/* one-shot: the socket takes more */
	int fd;				/* the connection's socket */
	bool dead;			/* our close is queued: nothing more
					 * is sent */
	bool ending;			/* done: closes once ws->out is sent */
	bool handshaking;		/* the 101 is still being sent */
	char compat_conv[UUID_STRLEN + 1];	/* /api/dm/ws: its conversation, */
	char compat_pair[2 * UUID_STRLEN + 2];	/* its reference id, */
	char compat_room[UUID_STRLEN + 1];	/* /api/voice/ws: its room */
	bool compat_left;			/* left by leave-conversation */
	struct wsf_parser parser;	/* the client's frames */
	char user_id[UUID_STRLEN + 1];
	char session_id[UUID_STRLEN + 1];
	struct gw_sub *subs;		/* hub.c's, one per room or conversation */
	int nsubs;			/* of rooms */
	int nconvs;			/* subscriptions to conversations */
	long long opened_ms;
	long long last_rx_ms, last_ping_ms;
	uint16_t ping_phase;		/* spreads the pings (gw_ws_ping_at) */
	struct event *live;		/* its next liveness check (gw_ws_check) */
	long long close_ms;		/* when our close frame was queued */
	double tokens;			/* frame rate limit: a token bucket */
	long long tokens_ms;
	int refused;			/* frames refused in a row */
	struct gw_vcall *vcalls;	/* voice.c's signals in flight */
	bool online;			/* in presence.c's list of its user */
	struct gw_ws *user_next;	/* the user's next socket here */
	struct gw_ws *prev, *next;	/* in gw->wss */
};

bool gw_ws_precheck(struct gw_request *r);
/* Answers 101: r's connection becomes a WebSocket of r's user. room, conv
 * and pair: NULL, or what a compatibility socket is bound to (the room of
 * /api/voice/ws; the conversation of /api/dm/ws and its reference id). */
void gw_ws_accept(struct gw_request *r, const char *room, const char *conv,
    const char *pair);
/* typing / stop-typing in a subscribed room or a conversation, through chatd. */
void gw_ws_typing(struct gw_ws *ws, const struct gw_kind *kind, const char *id, bool start);
/* Queues the JSON text of o (taken) as one text message. */
void gw_ws_send_json(struct gw_ws *ws, cJSON *o);
/* {"type":"error","room_id"?,"payload":{"code","message"}} */
void gw_ws_send_error(struct gw_ws *ws, const char *room_id, const char *code,
    const char *message);
/* The same about the stream whose id's name is key ("room_id",
 * "conversation_id"). */
void gw_ws_send_error_about(struct gw_ws *ws, const char *key, const char *id,
    const char *code, const char *message);
/* Queues frame f by reference (one buffer shared by every receiver);
 * closes a socket whose queue is over [ws] max_queue_bytes with 1013. */
void gw_ws_send_frame(struct gw_ws *ws, struct gw_frame *f);
/* True while the socket's queue is under half of [ws] max_queue_bytes:
 * room for a catch-up frame, with headroom left for live ones. */
bool gw_ws_writable(struct gw_ws *ws);
void gw_ws_upgrade(struct gw_request *r);
void gw_ws_start(struct gw_conn *c);
void gw_ws_free(struct gw_ws *ws);
void gw_ws_revoke(struct gw *gw, const char *session_id);
void gw_ws_going_away(struct gw *gw);
/* Closes with 4003 the sockets of session or user id; how many. */
int gw_ws_kick(struct gw *gw, const char *id);
/* The reference's DM sockets open here (/status dm_clients). */
int gw_ws_dm_clients(const struct gw *gw);
const char *gw_status_text(int status);

/* ws_compat.c: GET /api/voice/ws, the reference's room socket, as a thin
 * adapter over the hub (one room per socket, the reference's envelope). */
void gw_compat_upgrade(struct gw_request *r);
void gw_compat_on_message(struct gw_ws *ws, const cJSON *m, const char *type);
void gw_compat_send_error(struct gw_ws *ws, const char *text);
/* {type, room_id or conversation_id, user_id, target_user_id (nil),
 * timestamp}: what the reference's frames always carry. */
cJSON *gw_compat_envelope(const struct gw_ws *ws, const char *type);
/* ws_compat_dm.c: GET /api/dm/ws?peer_id=, the reference's DM socket, as
 * a thin adapter over the hub (one conversation per socket). */
void gw_compat_dm_upgrade(struct gw_request *r);
void gw_compat_dm_on_message(struct gw_ws *ws, const cJSON *m, const char *type);
/* Sends hub frame f in the reference's DM envelope (conversation_id the
 * pair of user ids, sequence for seq). */
void gw_compat_dm_send(struct gw_ws *ws, const struct gw_frame *f);
/* False when a compatibility socket does not get f (its own typing or
 * joining, which the reference sends to the others only). */
bool gw_compat_wants(const struct gw_ws *ws, const struct gw_frame *f);

/* hub.c: room subscriptions and event fan-out. */
struct gw_frame {
	int refs;
	long long seq;			/* 0: an event without one */
	char left_user[UUID_STRLEN + 1];	/* of a member-left, else "" */
	char about[UUID_STRLEN + 1];	/* the message whose text it carries */
	char erases[UUID_STRLEN + 1];	/* the message it deletes */
	char actor[UUID_STRLEN + 1];	/* user_id of an event without seq */
	bool self_excluded;		/* compat sockets skip their own */
	size_t hlen;			/* the header's bytes in data */
	size_t len;
	unsigned char data[];		/* the whole WebSocket frame */
};
struct gw_frame *gw_frame_new(const char *json, size_t len, long long seq);
void gw_frame_unref(struct gw_frame *f);
/* The two kinds of event streams: rooms and conversations (DMs). */
extern const struct gw_kind gw_kind_room, gw_kind_conv;
/* resume_from < 0: subscribe; else resume after that seq. */
void gw_hub_subscribe(struct gw_ws *ws, const struct gw_kind *kind, const char *id,
    long long resume_from);
void gw_hub_unsubscribe(struct gw_ws *ws, const struct gw_kind *kind, const char *id);
bool gw_hub_subscribed(struct gw_ws *ws, const char *room_id);
void gw_hub_drop(struct gw_ws *ws);
/* The socket's queue drained: paused catch-ups go on. */
void gw_hub_writable(struct gw_ws *ws);
void gw_hub_event(const char *topic, const cJSON *env);
/* An event on dm.<id>: to the sockets of its "to" (taken out of env). */
void gw_hub_dm_event(struct gw *gw, const char *topic, cJSON *env);
/* chatd's events (re)connected: every room reads what it may have missed. */
void gw_hub_resync(void);
/* Rooms with at least one socket subscribed here (/info, /status). */
int gw_hub_rooms(void);

/* voice.c: WebRTC signalling between participants of a voice channel. */
/* voice-offer, voice-answer, voice-ice-candidate. */
bool gw_voice_type(const char *type);
/* Sends signal m of type to voiced, which relays it to its target. */
void gw_voice_signal(struct gw_ws *ws, const cJSON *m, const char *type);
/* The socket is going: its signals in flight are forgotten. */
void gw_voice_drop(struct gw_ws *ws);
/* An event on user.<id> from voiced: to that user's sockets here. */
void gw_voice_user_event(const char *topic, const cJSON *env);

/* presence.c: sockets per user here; first and last tell chatd. */
void gw_presence_init(struct gw *gw);
void gw_presence_open(struct gw *gw, struct gw_ws *ws);
void gw_presence_close(struct gw *gw, struct gw_ws *ws);
/* The user's sockets here, linked by user_next; NULL when none. */
struct gw_ws *gw_presence_sockets(const char *user_id);
void gw_presence_tick(struct gw *gw);
void gw_presence_free(void);

/* internal.c: calls to the daemons' internal routes for a user. status
 * is 0 when the daemon did not answer; body is NULL without a JSON one. */
typedef void (*gw_internal_fn)(int status, cJSON *body, void *arg);
struct gw_icall;
/* NULL when the daemon is down or the call cannot start. */
struct gw_icall *gw_internal_call(struct gw *gw, int daemon, const char *path,
    const char *query, const char *user_id, gw_internal_fn cb, void *arg);
/* The same as a POST with a JSON body (text; NULL: a GET). */
struct gw_icall *gw_internal_post(struct gw *gw, int daemon, const char *path,
    const char *query, const char *user_id, const char *body, gw_internal_fn cb,
    void *arg);
/* Forgets the call (its callback will not run); NULL does nothing. */
void gw_internal_cancel(struct gw_icall *ic);
/* At exit, before the IPC clients close: forgets every call in flight. */
void gw_internal_free_all(void);

/* upstream.c */
void gw_upstreams_start(struct gw *gw);
void gw_upstreams_stop(struct gw *gw);
bool gw_upstream_up(const struct gw_upstream *u);

/* forward.c */
void gw_forward(struct gw_request *r);

/* auth.c */
/* Fills r->principal from the request's token. Returns 0, or answers
 * 401/403 itself and returns -1 when the route's auth level is not met. */
int gw_auth_check(struct gw_request *r, enum route_auth level);
void gw_auth_load_key(struct gw *gw);

/* ratelimit.c */
void gw_ratelimit_start(struct gw *gw);
void gw_ratelimit_stop(void);
/* Counts r against its route's rate class. Returns true when r may go on
 * now; false when it was answered (429) or will go on later, through
 * resume(r) (which must match r's route again: the table may have changed
 * meanwhile). */
bool gw_ratelimit(struct gw_request *r, void (*resume)(struct gw_request *));

/* revoked.c */
void gw_revoked_add(const char *sid, long long ttl_s);
bool gw_revoked(const char *sid);
void gw_revoked_event(const cJSON *body);
void gw_revoked_purge(void);
void gw_revoked_free(void);
void gw_revoked_bootstrap(struct redis_conn *r, void *arg);

/* client.c */
/* Loads [http] trusted_proxies; -1 with why when an entry is malformed. */
int gw_client_load(const char *list, char *why, size_t whylen);
void gw_client_resolve(struct gw_request *r);

/* static.c */
void gw_static_serve(struct gw_request *r);
void gw_static_free(void);

/* ops.c */
/* Answers /health, /status and /info; returns false for other paths. */
bool gw_ops_handle(struct gw_request *r);

#endif
