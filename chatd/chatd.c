/* chatd: rooms, messages, DMs, presence and moderation. This file is the
 * daemon's entry point, option table and the lists of every concern's
 * routes and statements; the shared service frame (IPC, database,
 * heartbeat, drain) is libcommon/svc.c. */
#include "chatd.h"

#include <stddef.h>

#include "config.h"

struct chatd chatd;

static const struct cfg_opt chatd_opts[] = {
	SVC_CONF_OPTS(struct chatd_conf, "chatd", "chat"),
	CFG_END
};

static const struct svc_routes *const chatd_routes[] = {
	&chat_events_routes,
	NULL
};

static const struct pg_stmt *const chatd_stmts[] = {
	chat_events_stmts,
	NULL
};

/* Relations of authd's schema chatd reads (names on messages, mentions). */
static const char *const chatd_requires[] = { "auth.directory", NULL };

static int
chatd_init(struct svc *svc)
{
	chatd.svc = svc;
	chatd.conf = svc_config(svc);
	return 0;
}

static const struct svc_def chatd_def = {
	.name = "chatd",
	.schema = "chat",
	.conf_path = "/etc/enclavr/chatd.conf",
	.opts = chatd_opts,
	.conf_size = sizeof(struct chatd_conf),
	.routes = chatd_routes,
	.stmts = chatd_stmts,
	.requires = chatd_requires,
	.init = chatd_init,
};

int
main(int argc, char **argv)
{
	return svc_main(argc, argv, &chatd_def);
}
