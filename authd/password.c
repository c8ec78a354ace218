/* Passwords: the policy, and argon2id hashing and verification on the
 * worker pool (the event loop never waits on a hash). */
#include "authd.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "log.h"

#define AUTH_PASSWORD_MAX 1024

/* A hashing job; owned by the pool until its completion runs. */
struct auth_pw_job {
	char *pw;			/* wiped and freed after the work */
	char *hash;			/* in: to verify; out: computed */
	bool known;			/* hash is the account's own */
	bool ok;
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
	if (j->pw != NULL) {
		sodium_memzero(j->pw, strlen(j->pw));
		free(j->pw);
	}
	free(j->hash);
	free(j);
}

/* Worker thread. */
static void
auth_pw_hash_work(void *arg)
{
	struct auth_pw_job *j = arg;
	char out[crypto_pwhash_STRBYTES];

	if (crypto_pwhash_str(out, j->pw, strlen(j->pw),
	    (unsigned long long)authd.conf->argon2_opslimit,
	    (size_t)authd.conf->argon2_memlimit_kib * 1024) == 0)
		j->hash = strdup(out);
	sodium_memzero(j->pw, strlen(j->pw));
}

static void
auth_pw_hash_done(void *arg)
{
	struct auth_pw_job *j = arg;

	j->hash_cb(j->hash, j->arg);
	auth_pw_job_free(j);
}

/* Worker thread. */
static void
auth_pw_verify_work(void *arg)
{
	struct auth_pw_job *j = arg;

	j->ok = crypto_pwhash_str_verify(j->hash, j->pw, strlen(j->pw)) == 0 && j->known;
	sodium_memzero(j->pw, strlen(j->pw));
}

static void
auth_pw_verify_done(void *arg)
{
	struct auth_pw_job *j = arg;

	j->verify_cb(j->ok, j->arg);
	auth_pw_job_free(j);
}

static struct auth_pw_job *
auth_pw_job_new(const char *pw, const char *hash)
{
	struct auth_pw_job *j = calloc(1, sizeof(*j));

	if (j == NULL || (j->pw = strdup(pw)) == NULL ||
	    (hash != NULL && (j->hash = strdup(hash)) == NULL)) {
		if (j != NULL)
			auth_pw_job_free(j);
		return NULL;
	}
	return j;
}

int
auth_password_hash(const char *pw, auth_hash_fn cb, void *arg)
{
	struct auth_pw_job *j = auth_pw_job_new(pw, NULL);

	if (j == NULL)
		return -1;
	j->hash_cb = cb, j->arg = arg;
	if (workpool_submit(authd.hashers, auth_pw_hash_work, auth_pw_hash_done, j) < 0) {
		auth_pw_job_free(j);
		return -1;
	}
	return 0;
}

int
auth_password_verify(const char *pw, const char *hash, auth_verify_fn cb, void *arg)
{
	/* Without a hash (unknown user, external account) the same work is
	 * done against a dummy and the answer is no: timing reveals nothing. */
	struct auth_pw_job *j = auth_pw_job_new(pw, hash ? hash : authd.dummy_hash);

	if (j == NULL)
		return -1;
	j->verify_cb = cb, j->arg = arg;
	j->known = hash != NULL;
	if (workpool_submit(authd.hashers, auth_pw_verify_work, auth_pw_verify_done, j) < 0) {
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

	authd.hashers = workpool_new(svc_base(authd.svc), auth_hash_threads(),
	    (int)authd.conf->hash_queue);
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
	workpool_free(authd.hashers);
	free(authd.dummy_hash);
}
