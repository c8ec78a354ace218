/* Room passwords: argon2id hashing and verification on a small worker pool,
 * so that the event loop never waits on a hash. The cost is libsodium's
 * "interactive" one (64 MiB, 2 passes): a room password guards a room, not
 * an account.
 *
 * The pool is made on first use, on the loop's thread, and lives as long
 * as the process (chatd.c has no per-concern start-up hook; a pool nobody
 * asked for would only hold two idle threads). */
#include "chatd.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "workpool.h"

#define CHAT_PASS_THREADS 2
#define CHAT_PASS_QUEUE 64

/* One job; owned by the pool until its completion has run. */
struct chat_pass_job {
	char *pw;			/* wiped and freed with the job */
	char *hash;			/* in: to verify; out: computed */
	bool ok;
	chat_hash_fn hash_cb;
	chat_verify_fn verify_cb;
	void *arg;
};

static struct workpool *chat_pass_pool;

static struct workpool *
chat_pass_workers(void)
{
	if (chat_pass_pool == NULL)
		chat_pass_pool = workpool_new(svc_base(chatd.svc), CHAT_PASS_THREADS,
		    CHAT_PASS_QUEUE);
	return chat_pass_pool;
}

static void
chat_pass_job_free(struct chat_pass_job *j)
{
	if (j->pw != NULL) {
		sodium_memzero(j->pw, strlen(j->pw));
		free(j->pw);
	}
	free(j->hash);
	free(j);
}

static struct chat_pass_job *
chat_pass_job_new(const char *pw, const char *hash)
{
	struct chat_pass_job *j = calloc(1, sizeof(*j));

	if (j == NULL || (j->pw = strdup(pw)) == NULL ||
	    (hash != NULL && (j->hash = strdup(hash)) == NULL)) {
		if (j != NULL)
			chat_pass_job_free(j);
		return NULL;
	}
	return j;
}

/* Worker thread. */
static void
chat_pass_hash_work(void *arg)
{
	struct chat_pass_job *j = arg;
	char out[crypto_pwhash_STRBYTES];

	if (crypto_pwhash_str(out, j->pw, strlen(j->pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0)
		j->hash = strdup(out);
	sodium_memzero(j->pw, strlen(j->pw));
}

static void
chat_pass_hash_done(void *arg)
{
	struct chat_pass_job *j = arg;

	if (j->hash == NULL)
		log_warnx("rooms: could not hash a room password (out of memory?)");
	j->hash_cb(j->hash, j->arg);
	chat_pass_job_free(j);
}

/* Worker thread. */
static void
chat_pass_verify_work(void *arg)
{
	struct chat_pass_job *j = arg;

	j->ok = crypto_pwhash_str_verify(j->hash, j->pw, strlen(j->pw)) == 0;
	sodium_memzero(j->pw, strlen(j->pw));
}

static void
chat_pass_verify_done(void *arg)
{
	struct chat_pass_job *j = arg;

	j->verify_cb(j->ok, j->arg);
	chat_pass_job_free(j);
}

int
chat_roompass_hash(const char *pw, chat_hash_fn cb, void *arg)
{
	struct chat_pass_job *j = chat_pass_job_new(pw, NULL);

	if (j == NULL)
		return -1;
	j->hash_cb = cb, j->arg = arg;
	if (workpool_submit(chat_pass_workers(), chat_pass_hash_work, chat_pass_hash_done, j) < 0) {
		chat_pass_job_free(j);
		return -1;
	}
	return 0;
}

int
chat_roompass_verify(const char *pw, const char *hash, chat_verify_fn cb, void *arg)
{
	struct chat_pass_job *j = chat_pass_job_new(pw, hash);

	if (j == NULL)
		return -1;
	j->verify_cb = cb, j->arg = arg;
	if (workpool_submit(chat_pass_workers(), chat_pass_verify_work, chat_pass_verify_done,
	    j) < 0) {
		chat_pass_job_free(j);
		return -1;
	}
	return 0;
}
