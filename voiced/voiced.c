/* voiced: voice channels, WebRTC signalling and TURN credentials. This file is the daemon's entry point and option table; the
 * shared service frame (IPC, database, heartbeat, drain) is libcommon/svc.c. */
#include <stddef.h>

#include "config.h"
#include "svc.h"

struct voiced_conf {
	struct svc_conf svc;	/* first, as svc requires */
};

static const struct cfg_opt voiced_opts[] = {
	SVC_CONF_OPTS(struct voiced_conf, "voiced", "voice"),
	CFG_END
};

static const struct svc_def voiced_def = {
	.name = "voiced",
	.schema = "voice",
	.conf_path = "/etc/enclavr/voiced.conf",
	.opts = voiced_opts,
	.conf_size = sizeof(struct voiced_conf),
};

int
main(int argc, char **argv)
{
	return svc_main(argc, argv, &voiced_def);
}
