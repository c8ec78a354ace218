/* authd: accounts, sessions, tokens, 2FA, recovery. This file is the
 * daemon's entry point, option table and start-up; the shared service frame
 * (IPC, database, heartbeat, drain) is libcommon/svc.c. */
#include "authd.h"

#include <locale.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pg.h"
#include "secret.h"
#include "uuid.h"

struct authd authd;

#define AUTHD_OPT(sec, name, type, def, min, max, reload, field, help) \
	{ sec, name, type, def, min, max, NULL, reload, \
	  offsetof(struct authd_conf, field), help }

static const struct cfg_opt authd_opts[] = {
	SVC_CONF_OPTS(struct authd_conf, "authd", "auth"),
	AUTHD_OPT("tokens", "signing_key_file", CFG_STR, "/etc/enclavr/token.key", 1, 1024,
	    false, signing_key_file, "base64 Ed25519 secret key (64 bytes)"),
	AUTHD_OPT("tokens", "access_ttl_s", CFG_INT, "900", 60, 86400, true,
	    access_ttl_s, "access token lifetime"),
	AUTHD_OPT("tokens", "refresh_ttl_s", CFG_INT, "604800", 300, 31536000, true,
	    refresh_ttl_s, "idle lifetime of a session's refresh token"),
	AUTHD_OPT("passwords", "argon2_opslimit", CFG_INT, "2", 1, 20, false,
	    argon2_opslimit, "argon2id passes"),
	AUTHD_OPT("passwords", "argon2_memlimit_kib", CFG_INT, "65536", 8, 4194304, false,
	    argon2_memlimit_kib, "argon2id memory per hash, KiB"),
	AUTHD_OPT("passwords", "hash_threads", CFG_INT, "0", 0, 64, false,
	    hash_threads, "hashing threads; 0 = one fewer than the CPUs"),
	AUTHD_OPT("passwords", "hash_queue", CFG_INT, "64", 1, 100000, false,
	    hash_queue, "hashes waiting before sign-ins get 503"),
	AUTHD_OPT("passwords", "hash_cpus_apart", CFG_BOOL, "yes", 0, 0, false,
	    hash_cpus_apart, "hashing and authd's threads on separate CPUs"),
	AUTHD_OPT("passwords", "max_age_days", CFG_INT, "0", 0, 3650, true,
	    password_max_age_days, "password_expired after this; 0 = never"),
	AUTHD_OPT("accounts", "first_user_is_admin", CFG_BOOL, "yes", 0, 0, true,
	    first_user_is_admin, "the first registered user is an administrator"),
	AUTHD_OPT("accounts", "lockout_failures", CFG_INT, "5", 1, 1000, true,
	    lockout_failures, "failed logins that lock an identifier"),
	AUTHD_OPT("accounts", "lockout_window_s", CFG_INT, "900", 1, 86400, true,
	    lockout_window_s, "window in which they count"),
	AUTHD_OPT("accounts", "lockout_s", CFG_INT, "900", 1, 86400, true,
	    lockout_s, "how long the lock lasts"),
	AUTHD_OPT("admin", "username", CFG_STR, "", 0, 32, false,
	    admin_username, "administrator created at start if missing"),
	AUTHD_OPT("admin", "email", CFG_STR, "admin@enclavr.local", 0, 254, false,
	    admin_email, "its email"),
	AUTHD_OPT("admin", "password_file", CFG_STR, "", 0, 1024, false,
	    admin_password_file, "file holding its initial password"),
	AUTHD_OPT("mail", "smtp_url", CFG_STR, "", 0, 1024, true,
	    mail_smtp_url, "smtp://host:port or smtps://; empty = mail off"),
	AUTHD_OPT("mail", "password_file", CFG_STR, "", 0, 1024, false,
	    mail_password_file, "file holding the SMTP password (first line)"),
	AUTHD_OPT("mail", "from", CFG_STR, "Enclavr <noreply@enclavr.local>", 3, 512, true,
	    mail_from, "From header; its address is the envelope sender"),
	AUTHD_OPT("mail", "link_base", CFG_STR, "http://localhost:8080", 1, 512, true,
	    mail_link_base, "where links in mails point (the web client)"),
	AUTHD_OPT("mail", "timeout_ms", CFG_INT, "10000", 100, 600000, true,
	    mail_timeout_ms, "limit on one SMTP transaction"),
	CFG_END
};

/* Creates the configured administrator unless a user of that name or
 * email exists; ON CONFLICT makes concurrent starts safe. Start-up only. */
static int
authd_admin_bootstrap(void)
{
	struct authd_conf *c = authd.conf;
	char pw[1025], hash[crypto_pwhash_STRBYTES], id[UUID_STRLEN + 1];
	const char *params[4] = { id, c->admin_username, c->admin_email, hash };
	PGconn *db;
	PGresult *res;
	int rv = 0;

	if (*c->admin_username == '\0' || *c->admin_password_file == '\0')
		return 0;
	if (secret_file_read(c->admin_password_file, pw, sizeof(pw), "[admin] password_file") < 0)
		return -1;
	rv = crypto_pwhash_str(hash, pw, strlen(pw), (unsigned long long)c->argon2_opslimit,
	    (size_t)c->argon2_memlimit_kib * 1024);
	sodium_memzero(pw, sizeof(pw));
	if (rv != 0 || (db = pg_connect_blocking(c->svc.db_conninfo, time_mono_ms() + 30000)) == NULL)
		return -1;
	uuid_v4(id);
	res = PQexecParams(db, "INSERT INTO auth.users (id, username, email, display_name,"
	    " password_hash, is_admin, email_verified, password_changed_at)"
	    " VALUES ($1, $2, $3, $2, $4, true, true, now()) ON CONFLICT DO NOTHING",
	    4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warnx("admin bootstrap: %s", PQresultErrorMessage(res));
		rv = -1;
	} else if (atoi(PQcmdTuples(res)) == 1) {
		log_info("created administrator %s", c->admin_username);
	}
	PQclear(res);
	PQfinish(db);
	return rv;
}

static int
authd_init(struct svc *svc)
{
	authd.svc = svc;
	authd.conf = svc_config(svc);
	/* Password rules classify characters by Unicode category. */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		log_warnx("C.UTF-8 locale missing: non-ASCII passwords are refused");
	if (token_key_load(authd.conf->signing_key_file, authd.sk, TOKEN_SK_LEN) < 0) {
		log_warnx("%s does not hold a base64 Ed25519 secret key",
		    authd.conf->signing_key_file);
		return -1;
	}
	if (auth_mail_init() < 0 || auth_password_init() < 0 || authd_admin_bootstrap() < 0)
		return -1;
	return 0;
}

static void
authd_fini(struct svc *svc)
{
	(void)svc;
	auth_mail_fini();
	auth_password_fini();
	sodium_memzero(authd.sk, sizeof(authd.sk));
}

static const struct svc_routes *const authd_routes[] = {
	&auth_accounts_routes, &auth_sessions_routes, &auth_users_routes,
	&auth_twofa_routes, &auth_recovery_routes, &auth_oauth_routes, NULL
};

static const struct pg_stmt *const authd_stmts[] = {
	auth_accounts_stmts, auth_sessions_stmts, auth_users_stmts,
	auth_tokens_stmts, auth_twofa_stmts, auth_recovery_stmts, NULL
};

static const struct svc_def authd_def = {
	.name = "authd",
	.schema = "auth",
	.conf_path = "/etc/enclavr/authd.conf",
	.opts = authd_opts,
	.conf_size = sizeof(struct authd_conf),
	.routes = authd_routes,
	.stmts = authd_stmts,
	.control_cmds = auth_control_cmds,
	.init = authd_init,
	.fini = authd_fini,
};

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--hasher") == 0)
		return auth_hasher_main(argv[2], argv[3]);
	return svc_main(argc, argv, &authd_def);
}
