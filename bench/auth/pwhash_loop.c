/* The hash-bound limit of sign-ins: crypto_pwhash_str_verify (argon2id)
 * in a loop on THREADS threads for SECONDS, at the given cost, against one
 * stored hash, as authd's worker pool does for each login. Prints
 *   verifies=N seconds=S per_s=R cpu_s=C
 * (C: the CPU time of all threads, user and system).
 * Built and run by bench/auth/run.sh:
 *   pwhash_loop THREADS SECONDS OPSLIMIT MEMLIMIT_KIB */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char bench_pw[] = "Bench-pass-0!A1";
static char bench_hash[crypto_pwhash_STRBYTES];
static double bench_end;
static atomic_long bench_count;
static atomic_int bench_failed;

static double
bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
bench_cpu(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	    (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

static void *
bench_worker(void *arg)
{
	(void)arg;

	while (bench_now() < bench_end) {
		if (crypto_pwhash_str_verify(bench_hash, bench_pw, strlen(bench_pw)) != 0)
			atomic_store(&bench_failed, 1);
		atomic_fetch_add(&bench_count, 1);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	int threads, seconds;
	unsigned long long ops;
	size_t mem;
	pthread_t *tids;
	double t0, t1, cpu0;
	struct rusage ru;

	if (argc != 5) {
		fprintf(stderr, "usage: pwhash_loop THREADS SECONDS OPSLIMIT MEMLIMIT_KIB\n");
		return 2;
	}
	threads = atoi(argv[1]), seconds = atoi(argv[2]);
	ops = strtoull(argv[3], NULL, 10);
	mem = (size_t)strtoull(argv[4], NULL, 10) * 1024;
	if (threads < 1 || threads > 256 || seconds < 1 || sodium_init() < 0)
		return 2;
	if (crypto_pwhash_str(bench_hash, bench_pw, strlen(bench_pw), ops, mem) != 0) {
		fprintf(stderr, "pwhash_loop: crypto_pwhash_str failed (out of memory?)\n");
		return 1;
	}
	if ((tids = calloc((size_t)threads, sizeof(*tids))) == NULL)
		return 1;
	getrusage(RUSAGE_SELF, &ru);
	cpu0 = bench_cpu(&ru);
	t0 = bench_now();
	bench_end = t0 + seconds;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tids[i], NULL, bench_worker, NULL) != 0)
			return 1;
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	t1 = bench_now();
	if (atomic_load(&bench_failed)) {
		fprintf(stderr, "pwhash_loop: a verification failed\n");
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("verifies=%ld seconds=%.3f per_s=%.2f cpu_s=%.3f\n", atomic_load(&bench_count),
	    t1 - t0, (double)atomic_load(&bench_count) / (t1 - t0), bench_cpu(&ru) - cpu0);
	return 0;
}
