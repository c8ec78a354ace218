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
	&chat_rooms_routes,
	&chat_members_routes,
	&chat_categories_routes,
	&chat_messages_routes,
	&chat_threads_routes,
	&chat_reactions_routes,
	&chat_pins_routes,
	&chat_search_routes,
	&chat_mentions_routes,
	&chat_receipts_routes,
	&chat_typing_routes,
	&chat_presence_routes,
	&chat_status_routes,
	&chat_privacy_routes,
	&chat_dm_routes,
	&chat_dm_compat_routes,
	&chat_group_dm_routes,
	&chat_blocks_routes,
	&chat_connections_routes,
	NULL
};

static const struct pg_stmt *const chatd_stmts[] = {
	chat_events_stmts,
	chat_rooms_stmts,
	chat_members_stmts,
	chat_categories_stmts,
	chat_messages_stmts,
	chat_threads_stmts,
	chat_reactions_stmts,
	chat_pins_stmts,
	chat_search_stmts,
	chat_mentions_stmts,
	chat_receipts_stmts,
	chat_typing_stmts,
	chat_presence_stmts,
	chat_status_stmts,
	chat_privacy_stmts,
	chat_dm_stmts,
	chat_dm_compat_stmts,
	chat_group_dm_stmts,
	chat_blocks_stmts,
	chat_connections_stmts,
	NULL
};

/* Relations of authd's schema chatd reads (names on messages, mentions). */
static const char *const chatd_requires[] = { "auth.directory", NULL };

static int
chatd_init(struct svc *svc)
{
	chatd.svc = svc;
	chatd.conf = svc_config(svc);
	svc_publish_hook(chat_typing_after);
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
