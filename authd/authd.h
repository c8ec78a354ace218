/* authd: accounts, sessions, tokens. Shared state and the functions its
 * files offer each other: password.c (policy, hashing on the worker pool),
 * tokens.c (sessions and the token response), accounts.c (register, login,
 * refresh, me, logout), sessions.c (listing and revoking), users.c,
 * recovery.c (password reset and change, email verification) and mail.c
 * (SMTP on a worker thread). */
#ifndef AUTHD_H
#define AUTHD_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "svc.h"
#include "token.h"

struct authd_conf {
	struct svc_conf svc;		/* first, as svc requires */
	char *signing_key_file;
	long long access_ttl_s;
	long long refresh_ttl_s;
	long long argon2_opslimit;
	long long argon2_memlimit_kib;
	long long hash_threads;
	long long hash_queue;
	bool hash_cpus_apart;
	bool first_user_is_admin;
	char *admin_username;
	char *admin_email;
	char *admin_password_file;
	long long lockout_failures;
	long long lockout_window_s;
	long long lockout_s;
	long long password_max_age_days;
	char *mail_smtp_url;		/* "" = mail off */
	char *mail_password_file;	/* "" = the URL's, if any */
	char *mail_from;
	char *mail_link_base;
	long long mail_timeout_ms;
};

/* The daemon's state, set up once by authd_init. */
struct authd {
	struct svc *svc;
	struct authd_conf *conf;
	unsigned char sk[TOKEN_SK_LEN];
	struct hasher *hasher;
	char *dummy_hash;		/* verified for unknown users */
};

extern struct authd authd;

/* The columns every user query selects, in this order. */
#define AUTH_USER_COLS "id, username, email, display_name, avatar_url, is_admin, " \
	"email_verified, two_factor_enabled, auth.rfc3339(created_at), " \
	"coalesce(extract(epoch FROM password_changed_at)::bigint, 0), password_hash"
enum { AU_ID, AU_USERNAME, AU_EMAIL, AU_DISPLAY, AU_AVATAR, AU_ADMIN,
	AU_VERIFIED, AU_2FA, AU_CREATED, AU_CHANGED, AU_HASH };

#define AUTH_PASSWORD_MAX 1024

/* hasher.c: argon2id in a low-priority child process. */
struct hasher;
typedef void (*hasher_fn)(bool ok, const char *hash, void *arg);
/* apart: keep the hashing threads and authd's on separate CPUs. */
struct hasher *hasher_start(struct event_base *base, int threads, int queue, bool apart);
void hasher_stop(struct hasher *h);
/* Each returns -1 when threads + queue jobs are already in flight (or the
 * child is being restarted); cb runs once otherwise, ok false on failure. */
int hasher_hash(struct hasher *h, const char *pw, unsigned long long opslimit,
    size_t memlimit, hasher_fn cb, void *arg);
int hasher_verify(struct hasher *h, const char *pw, const char *hash, hasher_fn cb,
    void *arg);
/* The child's entry point: "authd --hasher N CPUS" with the socket on fd 3. */
int auth_hasher_main(const char *threads, const char *cpus);

/* password.c */
const char *auth_password_policy(const char *pw);
typedef void (*auth_hash_fn)(const char *hash, void *arg);	/* hash NULL: failed */
typedef void (*auth_verify_fn)(bool ok, void *arg);
/* Both run on the worker pool and return -1 when its queue is full. */
int auth_password_hash(const char *pw, auth_hash_fn cb, void *arg);
/* hash NULL verifies against a dummy, so that unknown users cost the same. */
int auth_password_verify(const char *pw, const char *hash, auth_verify_fn cb, void *arg);
int auth_password_init(void);
void auth_password_fini(void);

/* tokens.c */
/* The "user" object of a users row (AUTH_USER_COLS). */
cJSON *auth_user_json(const PGresult *res, int row);
/* A pg callback (arg: the request) answering with the user object of the
 * one row, or 404. */
void auth_respond_user(PGresult *res, void *arg);
/* Opens a session for the user in row 0 of res and answers r with the
 * token response. */
void auth_issue_session(struct svc_request *r, const PGresult *user);
/* A signed access token, malloc'ed. */
char *auth_access_token(const char *user_id, const char *session_id, bool admin);
/* A new opaque token (base64url of 32 random bytes: refresh tokens, reset
 * and verification links, login challenges) and its hex SHA-256. */
void auth_token_new(char token[64], char hash[65]);
/* The hex SHA-256 of a presented opaque token; -1 when it is malformed. */
int auth_token_hash(const char *token, char hash[65]);
/* The hex SHA-256 of text (recovery codes, challenges). */
void auth_sha256_hex(const char *text, char hash[65]);
/* Tells every gatewayd that session sid is revoked (event + Redis). */
void auth_publish_revoked(const char *sid);
/* {"message": text}, the answer of actions that return nothing else. */
cJSON *auth_message(const char *text);
/* The token response for an existing session. */
cJSON *auth_token_response(const char *access, const char *refresh, cJSON *user);

/* twofa.c */
/* The password was right and the account has 2FA: answers r with
 * {require_2fa, user_id, challenge} for the second step. */
void auth_twofa_challenge(struct svc_request *r, const PGresult *user);

/* mail.c */
/* Queues a plain-text mail to one recipient for the mail worker; what names
 * it in the log ("password reset for user <id>"), which never shows the
 * body (it holds a token). Returns 0 when queued, or when mail is off (a
 * warning is logged); -1 when it cannot be queued (queue full, memory, a
 * line break in a header). */
int auth_mail_send(const char *to, const char *subject, const char *body,
    const char *what);
/* "<[mail] link_base><path>?token=<token>", malloc'ed; NULL when out of
 * memory. */
char *auth_mail_link(const char *path, const char *token);
int auth_mail_init(void);
void auth_mail_fini(void);

/* sessions.c: enclavrctl's revoke-user. */
extern const struct control_cmd auth_control_cmds[];

/* Route tables and statements of each concern. */
extern const struct svc_routes auth_accounts_routes, auth_sessions_routes,
    auth_users_routes, auth_twofa_routes, auth_recovery_routes, auth_oauth_routes;
extern const struct pg_stmt auth_accounts_stmts[], auth_sessions_stmts[],
    auth_users_stmts[], auth_tokens_stmts[], auth_twofa_stmts[],
    auth_recovery_stmts[];

#endif
