/* authd: accounts, sessions, tokens, 2FA, passkeys and OAuth. This file is the daemon's entry point and option table; the
 * shared service frame (IPC, database, heartbeat, drain) is libcommon/svc.c. */
#include <stddef.h>

#include "config.h"
#include "svc.h"

struct authd_conf {
	struct svc_conf svc;	/* first, as svc requires */
};

static const struct cfg_opt authd_opts[] = {
	SVC_CONF_OPTS(struct authd_conf, "authd", "auth"),
	CFG_END
};

static const struct svc_def authd_def = {
	.name = "authd",
	.schema = "auth",
	.conf_path = "/etc/enclavr/authd.conf",
	.opts = authd_opts,
	.conf_size = sizeof(struct authd_conf),
};

int
main(int argc, char **argv)
{
	return svc_main(argc, argv, &authd_def);
}
