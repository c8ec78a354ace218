/* voiced: voice channels, WebRTC signalling and TURN credentials. This
 * file is the daemon's entry point, option table and the lists of every
 * concern's routes and statements; the shared service frame (IPC,
 * database, heartbeat, drain) is libcommon/svc.c. */
#include "voiced.h"

#include <stddef.h>

#include "config.h"

struct voiced voiced;

#define VOICED_TURN_OPT(name, type, def, min, max, reload, field, help) \
	{ "turn", name, type, def, min, max, NULL, reload, \
	  offsetof(struct voiced_conf, field), help }

static const struct cfg_opt voiced_opts[] = {
	SVC_CONF_OPTS(struct voiced_conf, "voiced", "voice"),
	VOICED_TURN_OPT("secret", CFG_STR, "", 0, 512, false, turn_secret,
	    "coturn's static-auth-secret; empty = no TURN"),
	VOICED_TURN_OPT("secret_file", CFG_STR, "", 0, 1024, false, turn_secret_file,
	    "file whose first line is that secret, read at start"),
	VOICED_TURN_OPT("host", CFG_STR, "127.0.0.1", 1, 253, false, turn_host,
	    "TURN/STUN host name or address as clients reach it"),
	VOICED_TURN_OPT("port", CFG_INT, "3478", 1, 65535, false, turn_port,
	    "its UDP and TCP port"),
	VOICED_TURN_OPT("tls_port", CFG_INT, "0", 0, 65535, false, turn_tls_port,
	    "its TLS port (turns:); 0 = none"),
	VOICED_TURN_OPT("ttl_seconds", CFG_INT, "86400", 60, 604800, true, turn_ttl_s,
	    "lifetime of TURN credentials"),
	CFG_END
};

static const struct svc_routes *const voiced_routes[] = {
	&voice_ice_routes,
	&voice_channels_routes,
	&voice_participants_routes,
	&voice_permissions_routes,
	&voice_sessions_routes,
	&voice_signal_routes,
	NULL
};

static const struct pg_stmt *const voiced_stmts[] = {
	voice_channels_stmts,
	voice_participants_stmts,
	voice_permissions_stmts,
	voice_sessions_stmts,
	voice_signal_stmts,
	voice_liveness_stmts,
	NULL
};

/* Relations of other schemas voiced reads: names, rooms and their members;
 * chat.reply, the type its functions return (with chat.err, chat.ok...,
 * made by the same chat migration). */
static const char *const voiced_requires[] = { "auth.directory", "chat.members",
	"chat.reply", NULL };

static int
voiced_init(struct svc *svc)
{
	voiced.svc = svc;
	voiced.conf = svc_config(svc);
	if (voice_ice_init() < 0 || voice_liveness_init() < 0)
		return -1;
	return 0;
}

static void
voiced_fini(struct svc *svc)
{
	(void)svc;
	voice_liveness_fini();
	voice_ice_fini();
}

static const struct svc_def voiced_def = {
	.name = "voiced",
	.schema = "voice",
	.conf_path = "/etc/enclavr/voiced.conf",
	.opts = voiced_opts,
	.conf_size = sizeof(struct voiced_conf),
	.routes = voiced_routes,
	.stmts = voiced_stmts,
	.requires = voiced_requires,
	.init = voiced_init,
	.fini = voiced_fini,
};

int
main(int argc, char **argv)
{
	return svc_main(argc, argv, &voiced_def);
}
