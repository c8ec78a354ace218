/* voiced: voice channels, WebRTC signalling and TURN credentials. Shared
 * state and the functions its files offer each other:
 *   voiced.c    options, the daemon definition (routes and statements)
 *   ice.c       GET /api/voice/ice: STUN/TURN servers, TURN credentials
 *   channels.c, participants.c, permissions.c, sessions.c: the REST
 *               routes of voice channels (docs/voice.md), each one call of
 *               a voice.* function returning a chat.reply (svc_call,
 *               libcommon/svc_reply.h; SQL in sql/voice/)
 * Each concern exports its routes and statements as
 * `const struct svc_routes voice_<x>_routes` and
 * `const struct pg_stmt voice_<x>_stmts[]`, listed in voiced.c. */
#ifndef VOICED_H
#define VOICED_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "svc.h"
#include "svc_params.h"
#include "svc_reply.h"
#include "uuid.h"

struct voiced_conf {
	struct svc_conf svc;		/* first, as svc requires */
	/* [turn]: coturn's shared secret (inline, or the first line of a
	 * file) and where clients reach it; ice.c */
	char *turn_secret;
	char *turn_secret_file;
	char *turn_host;
	long long turn_port;
	long long turn_tls_port;	/* 0: no turns: URL */
	long long turn_ttl_s;
};

struct voiced {
	struct svc *svc;
	struct voiced_conf *conf;
};

extern struct voiced voiced;

/* signal.c: WebRTC signalling between participants of a voice channel. */
extern const struct svc_routes voice_signal_routes;
extern const struct pg_stmt voice_signal_stmts[];

/* liveness.c: a participant without sockets leaves its channel. */
extern const struct pg_stmt voice_liveness_stmts[];
int voice_liveness_init(void);
void voice_liveness_fini(void);

/* ice.c: GET /api/voice/ice, the STUN/TURN servers and TURN credentials.
 * voice_ice_init loads the [turn] secret at start (-1: bad config);
 * voice_ice_fini wipes it. */
extern const struct svc_routes voice_ice_routes;
int voice_ice_init(void);
void voice_ice_fini(void);

/* channels.c, participants.c, permissions.c, sessions.c: voice channels,
 * who is in them, per-user channel permissions and voice sessions. */
extern const struct svc_routes voice_channels_routes, voice_participants_routes,
    voice_permissions_routes, voice_sessions_routes;
extern const struct pg_stmt voice_channels_stmts[], voice_participants_stmts[],
    voice_permissions_stmts[], voice_sessions_stmts[];

#endif
