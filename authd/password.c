/* Passwords: the policy, and argon2id hashing and verification in the
 * hasher process (hasher.c; the event loop never waits on a hash). */
#include "authd.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "log.h"

/* A caller's job, until the hasher (hasher.c) answers. */
struct auth_pw_job {
	bool known;			/* the hash is the account's own */
	auth_hash_fn hash_cb;
	auth_verify_fn verify_cb;
	void *arg;
};

/* The reference's policy, with its specific messages: at least 8
 * characters, and an upper-case letter, a lower-case letter, a digit and a
 * symbol. Each character counts in the first class it belongs to. */
const char *
auth_password_policy(const char *pw)
{
	bool upper = false, lower = false, digit = false, symbol = false;
	size_t len = strlen(pw), chars = 0;
	mbstate_t st = { 0 };
	wchar_t wc;

	if (len > AUTH_PASSWORD_MAX)
		return "password must be at most 1024 bytes";
	for (const char *p = pw; *p != '\0'; chars++) {
		size_t n = mbrtowc(&wc, p, len - (size_t)(p - pw), &st);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0)
			return "password must be valid UTF-8";
		p += n;
		if (iswupper((wint_t)wc))
			upper = true;
		else if (iswlower((wint_t)wc))
			lower = true;
		else if (iswdigit((wint_t)wc))
			digit = true;
		else if (!iswalpha((wint_t)wc) && !iswspace((wint_t)wc) && !iswcntrl((wint_t)wc))
			symbol = true;
	}
	if (chars < 8)
		return "password must be at least 8 characters";
	if (!upper)
		return "password must contain at least one uppercase letter";
	if (!lower)
		return "password must contain at least one lowercase letter";
	if (!digit)
		return "password must contain at least one number";
	if (!symbol)
		return "password must contain at least one special character";
	return NULL;
}

static void
auth_pw_job_free(struct auth_pw_job *j)
{
	free(j);
}

static void
auth_pw_hashed(bool ok, const char *hash, void *arg)
{
	struct auth_pw_job *j = arg;

	j->hash_cb(ok ? hash : NULL, j->arg);
	auth_pw_job_free(j);
}

static void
auth_pw_verified(bool ok, const char *hash, void *arg)
{
	struct auth_pw_job *j = arg;
	(void)hash;

	j->verify_cb(ok && j->known, j->arg);
	auth_pw_job_free(j);
}

int
auth_password_hash(const char *pw, auth_hash_fn cb, void *arg)
{
	struct auth_pw_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -1;
	j->hash_cb = cb, j->arg = arg;
	if (hasher_hash(authd.hasher, pw, (unsigned long long)authd.conf->argon2_opslimit,
	    (size_t)authd.conf->argon2_memlimit_kib * 1024, auth_pw_hashed, j) < 0) {
		auth_pw_job_free(j);
		return -1;
	}
	return 0;
}

int
auth_password_verify(const char *pw, const char *hash, auth_verify_fn cb, void *arg)
{
	struct auth_pw_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -1;
	j->verify_cb = cb, j->arg = arg;
	j->known = hash != NULL;
	/* Without a hash (unknown user, external account) the same work is
	 * done against a dummy and the answer is no: timing reveals nothing. */
	if (hasher_verify(authd.hasher, pw, hash ? hash : authd.dummy_hash,
	    auth_pw_verified, j) < 0) {
		auth_pw_job_free(j);
		return -1;
	}
	return 0;
}

/* The configured count, or by default one fewer than the CPUs: argon2id
 * is CPU-bound, and a core left to the event loops (authd's, gatewayd's,
 * the database's) keeps every other request fast during a login storm. */
static int
auth_hash_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (authd.conf->hash_threads > 0)
		return (int)authd.conf->hash_threads;
	return cpus > 1 ? (int)cpus - 1 : 1;
}

int
auth_password_init(void)
{
	char out[crypto_pwhash_STRBYTES], rnd[33];

	authd.hasher = hasher_start(svc_base(authd.svc), auth_hash_threads(),
	    (int)authd.conf->hash_queue, authd.conf->hash_cpus_apart);
	if (authd.hasher == NULL)
		return -1;
	/* A hash of a random password nobody knows, at the configured cost. */
	randombytes_buf(rnd, sizeof(rnd) - 1);
	for (size_t i = 0; i < sizeof(rnd) - 1; i++)
		rnd[i] = (char)('a' + (unsigned char)rnd[i] % 26);
	rnd[sizeof(rnd) - 1] = '\0';
	if (crypto_pwhash_str(out, rnd, strlen(rnd),
	    (unsigned long long)authd.conf->argon2_opslimit,
	    (size_t)authd.conf->argon2_memlimit_kib * 1024) != 0) {
		log_warnx("argon2id at the configured cost failed (out of memory?)");
		return -1;
	}
	authd.dummy_hash = strdup(out);
	return authd.dummy_hash ? 0 : -1;
}

void
auth_password_fini(void)
{
	hasher_stop(authd.hasher);
	free(authd.dummy_hash);
}
