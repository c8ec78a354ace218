/* chatd: rooms, messages, DMs, presence and moderation. This file is the daemon's entry point and option table; the
 * shared service frame (IPC, database, heartbeat, drain) is libcommon/svc.c. */
#include <stddef.h>

#include "config.h"
#include "svc.h"

struct chatd_conf {
	struct svc_conf svc;	/* first, as svc requires */
};

static const struct cfg_opt chatd_opts[] = {
	SVC_CONF_OPTS(struct chatd_conf, "chatd", "chat"),
	CFG_END
};

static const struct svc_def chatd_def = {
	.name = "chatd",
	.schema = "chat",
	.conf_path = "/etc/enclavr/chatd.conf",
	.opts = chatd_opts,
	.conf_size = sizeof(struct chatd_conf),
};

int
main(int argc, char **argv)
{
	return svc_main(argc, argv, &chatd_def);
}
