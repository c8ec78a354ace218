/* The password hasher: argon2id in a child process of its own, so that a
 * login storm cannot slow anything else down.
 *
 * Threads of one process share its scheduling group (the kernel's
 * autogroup, or the service's cgroup), so idle-priority threads inside
 * authd still take the group's full share of CPU from gatewayd and
 * PostgreSQL. The child starts its own session (hence its own autogroup),
 * sets that group's nice to 19 and runs its threads at SCHED_IDLE: it gets
 * the CPU left over, and every request path keeps its latency.
 *
 * With CPUs to spare, the child keeps to CPUs of its own and authd's threads
 * to the others ([passwords] hash_cpus_apart).
 *
 * authd starts the child by executing itself ("authd --hasher N CPUS", the
 * socket on fd 3). They exchange fixed-size messages over a SOCK_SEQPACKET
 * pair: each recv is one whole request or reply. N child threads block in
 * recv on the same socket; the parent matches replies to jobs by id.
 * When the child dies, its jobs fail (the callers answer 503) and a new
 * one starts a second later. */
#include "authd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define HASHER_FD 3
#define HASHER_STR crypto_pwhash_STRBYTES
#define HASHER_SNDBUF (4 * 1024 * 1024)
#define HASHER_RESPAWN_S 1

enum hasher_op { HASHER_HASH = 1, HASHER_VERIFY = 2 };

struct hasher_req {
	uint64_t id;
	uint32_t op;
	uint32_t pad;
	uint64_t opslimit;
	uint64_t memlimit;
	char hash[HASHER_STR];
	char pw[AUTH_PASSWORD_MAX + 1];
};

struct hasher_rep {
	uint64_t id;
	uint32_t ok;
	char hash[HASHER_STR];
};

/* A job waiting for its reply; slots are reused, the id's high half is a
 * generation so that a late reply never reaches the wrong caller. */
struct hasher_job {
	bool used;
	uint32_t gen;
	uint32_t op;
	double started;			/* metrics_now() at submission */
	hasher_fn cb;
	void *arg;
};

/* The hasher's metric families (docs/operations.md, "Metrics"); updated
 * by the parent, on the loop's thread. */
static struct {
	struct metric *running, *queued, *capacity, *rejected, *duration, *failed;
} hasher_m;

static const char *const hasher_op_label[] = { "op", NULL };

struct hasher {
	struct event_base *base;
	int threads;
	char cpus[256];			/* the child's CPUs ("3,4"), "" = any */
	int fd;
	pid_t pid;
	struct event *ev, *respawn;
	struct hasher_job *jobs;
	int *free_slots, nfree, nslots;
};

/* ------------------------------------------------------------ child */

static void
hasher_lower_priority(void)
{
	int fd;

	/* Own session: own autogroup, whose weight nice 19 makes tiny. */
	if (setsid() < 0)
		log_warn("hasher: setsid");
	if ((fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, "19", 2) != 2)
			log_warn("hasher: cannot lower the autogroup's priority");
		close(fd);
	}
	if (setpriority(PRIO_PROCESS, 0, 19) < 0)
		log_warn("hasher: setpriority");
}

static void
hasher_work(const struct hasher_req *q, struct hasher_rep *p)
{
	p->id = q->id;
	if (q->op == HASHER_HASH)
		p->ok = crypto_pwhash_str(p->hash, q->pw, strlen(q->pw),
		    q->opslimit, (size_t)q->memlimit) == 0;
	else
		p->ok = crypto_pwhash_str_verify(q->hash, q->pw, strlen(q->pw)) == 0;
}

static void *
hasher_thread(void *unused)
{
	struct sched_param sp = { 0 };
	struct hasher_req q;
	struct hasher_rep p;
	(void)unused;

	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	for (;;) {
		ssize_t n = recv(HASHER_FD, &q, sizeof(q), 0);

		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);	/* authd is gone */
		if (n != (ssize_t)sizeof(q))
			continue;
		q.hash[sizeof(q.hash) - 1] = q.pw[sizeof(q.pw) - 1] = '\0';
		memset(&p, 0, sizeof(p));
		hasher_work(&q, &p);
		sodium_memzero(&q, sizeof(q));
		if (send(HASHER_FD, &p, sizeof(p), MSG_NOSIGNAL) < 0 && errno != EINTR)
			_exit(0);
	}
	return NULL;
}

/* Keeps the child on the CPUs listed ("1,3"), empty: anywhere. */
static void
hasher_set_cpus(const char *list)
{
	cpu_set_t set;
	char *end;

	CPU_ZERO(&set);
	for (const char *p = list; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		long cpu = strtol(p, &end, 10);
		if (end == p || cpu < 0 || cpu >= CPU_SETSIZE)
			return;
		CPU_SET((int)cpu, &set);
	}
	if (CPU_COUNT(&set) > 0 && sched_setaffinity(0, sizeof(set), &set) < 0)
		log_warn("hasher: sched_setaffinity");
}

int
auth_hasher_main(const char *threads, const char *cpus)
{
	int n = atoi(threads);
	pthread_t t;

	log_init("authd-hasher", LOG_LVL_INFO);
	if (n < 1 || n > 256 || sodium_init() < 0)
		return 1;
	close_range(HASHER_FD + 1, ~0U, 0);	/* nothing of authd's but the socket */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 0;
	hasher_lower_priority();
	hasher_set_cpus(cpus);
	for (int i = 1; i < n; i++)
		if (pthread_create(&t, NULL, hasher_thread, NULL) != 0)
			log_warn("hasher: pthread_create");
	hasher_thread(NULL);
	return 0;
}

/* ------------------------------------------------------------ parent */

static void hasher_spawn(struct hasher *h);

static const char *
hasher_op_name(uint32_t op)
{
	return op == HASHER_HASH ? "hash" : "verify";
}

/* Jobs sent to the child: up to `threads` run, the rest wait there. */
static void
hasher_metrics_update(const struct hasher *h)
{
	int used = h->nslots - h->nfree;
	int running = used < h->threads ? used : h->threads;

	metrics_set(hasher_m.running, NULL, running);
	metrics_set(hasher_m.queued, NULL, used - running);
}

static void
hasher_metrics_register(const struct hasher *h)
{
	hasher_m.running = metrics_gauge("enclavr_argon2_jobs_running",
	    "Password hashes or checks being computed.", NULL);
	hasher_m.queued = metrics_gauge("enclavr_argon2_jobs_queued",
	    "Password hashes or checks waiting for a hashing thread.", NULL);
	hasher_m.capacity = metrics_gauge("enclavr_argon2_jobs_capacity",
	    "Jobs accepted at once (threads + queue); past it, 503.", NULL);
	hasher_m.rejected = metrics_counter("enclavr_argon2_jobs_rejected_total",
	    "Jobs refused (queue full or no hashing process): answered 503.",
	    hasher_op_label);
	hasher_m.failed = metrics_counter("enclavr_argon2_jobs_failed_total",
	    "Jobs lost with their hashing process.", hasher_op_label);
	hasher_m.duration = metrics_histogram("enclavr_argon2_duration_seconds",
	    "Time from submission to result, queue included, by op.",
	    hasher_op_label, metrics_latency_buckets, metrics_latency_nbuckets);
	metrics_set(hasher_m.capacity, NULL, h->nslots);
	hasher_metrics_update(h);
}

static void
hasher_finish(struct hasher *h, uint64_t id, bool ok, const char *hash)
{
	uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);
	struct hasher_job *j;

	if (slot >= (uint32_t)h->nslots || !h->jobs[slot].used || h->jobs[slot].gen != gen)
		return;
	j = &h->jobs[slot];
	j->used = false;
	h->free_slots[h->nfree++] = (int)slot;
	{
		const char *ol[] = { hasher_op_name(j->op) };

		if (hash == NULL && !ok)
			metrics_inc(hasher_m.failed, ol);
		else
			metrics_observe(hasher_m.duration, ol, metrics_now() - j->started);
	}
	hasher_metrics_update(h);
	j->cb(ok, ok ? hash : NULL, j->arg);
}

/* Every job in flight fails: the child is gone. */
static void
hasher_fail_all(struct hasher *h)
{
	for (int i = 0; i < h->nslots; i++)
		if (h->jobs[i].used)
			hasher_finish(h, (uint64_t)h->jobs[i].gen << 32 | (uint32_t)i, false, NULL);
}

static void
hasher_lost(struct hasher *h)
{
	struct timeval tv = { HASHER_RESPAWN_S, 0 };
	int status;

	log_warnx("hasher: the hashing process stopped; starting another in %d s",
	    HASHER_RESPAWN_S);
	event_del(h->ev);
	event_free(h->ev);
	h->ev = NULL;
	close(h->fd);
	h->fd = -1;
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
		h->pid = -1;
	}
	hasher_fail_all(h);
	evtimer_add(h->respawn, &tv);
}

static void
hasher_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hasher *h = arg;
	struct hasher_rep p;
	(void)what;

	for (;;) {
		ssize_t n = recv(fd, &p, sizeof(p), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			hasher_lost(h);
			return;
		}
		if (n == (ssize_t)sizeof(p)) {
			p.hash[sizeof(p.hash) - 1] = '\0';
			hasher_finish(h, p.id, p.ok != 0, p.hash);
		}
	}
}

static void
hasher_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	hasher_spawn(arg);
}

static void
hasher_spawn(struct hasher *h)
{
	char threads[16], self[64];
	char *argv[] = { "authd", "--hasher", threads, h->cpus, NULL };
	int sv[2], size = HASHER_SNDBUF;

	snprintf(threads, sizeof(threads), "%d", h->threads);
	snprintf(self, sizeof(self), "/proc/%d/exe", (int)getpid());
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		fatal("hasher: socketpair");
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if ((h->pid = fork()) < 0)
		fatal("hasher: fork");
	if (h->pid == 0) {
		if (sv[1] == HASHER_FD ? fcntl(sv[1], F_SETFD, 0) < 0 :
		    dup2(sv[1], HASHER_FD) < 0)
			_exit(127);
		execv(self, argv);
		_exit(127);
	}
	close(sv[1]);
	h->fd = sv[0];
	evutil_make_socket_nonblocking(h->fd);
	h->ev = event_new(h->base, h->fd, EV_READ | EV_PERSIST, hasher_read_cb, h);
	if (h->ev == NULL || event_add(h->ev, NULL) < 0)
		fatalx("hasher: cannot watch the hashing process");
	log_info("hasher: %d thread(s) in process %d, on CPU(s) %s", h->threads,
	    (int)h->pid, *h->cpus ? h->cpus : "any");
}

/* Puts every thread of this process on the CPUs in set. */
static void
hasher_pin_self(const cpu_set_t *set)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' &&
		    sched_setaffinity((pid_t)atoi(e->d_name), sizeof(*set), set) < 0)
			log_warn("hasher: sched_setaffinity of thread %s", e->d_name);
	if (d != NULL)
		closedir(d);
}

/* With more CPUs than hashing threads, the last `threads` CPUs this process
 * may use go to the child and the others to authd's own threads: a waking
 * event loop or nng thread then never waits for an argon2 thread to be
 * preempted (the kernel does that at its next tick, milliseconds later). */
static void
hasher_split_cpus(struct hasher *h)
{
	cpu_set_t all, mine;
	int left = h->threads;
	size_t len = 0;

	if (sched_getaffinity(0, sizeof(all), &all) < 0 || CPU_COUNT(&all) <= h->threads)
		return;
	mine = all;
	for (int cpu = CPU_SETSIZE - 1; cpu >= 0 && left > 0; cpu--) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_CLR(cpu, &mine);
		len += (size_t)snprintf(h->cpus + len, sizeof(h->cpus) - len, "%s%d",
		    len ? "," : "", cpu);
		if (len >= sizeof(h->cpus))
			return (void)(h->cpus[0] = '\0');
		left--;
	}
	hasher_pin_self(&mine);
}

struct hasher *
hasher_start(struct event_base *base, int threads, int queue, bool apart)
{
	struct hasher *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->base = base, h->threads = threads, h->fd = -1;
	h->nslots = threads + queue;
	h->jobs = calloc((size_t)h->nslots, sizeof(*h->jobs));
	h->free_slots = calloc((size_t)h->nslots, sizeof(*h->free_slots));
	h->respawn = evtimer_new(base, hasher_respawn_cb, h);
	if (h->jobs == NULL || h->free_slots == NULL || h->respawn == NULL)
		fatalx("out of memory");
	for (int i = h->nslots - 1; i >= 0; i--)
		h->free_slots[h->nfree++] = i;
	if (apart)
		hasher_split_cpus(h);
	hasher_metrics_register(h);
	hasher_spawn(h);
	return h;
}

static int
hasher_submit(struct hasher *h, struct hasher_req *q, hasher_fn cb, void *arg)
{
	const char *ol[] = { hasher_op_name(q->op) };
	struct hasher_job *j;
	int slot;

	if (h->fd < 0 || h->nfree == 0) {
		metrics_inc(hasher_m.rejected, ol);
		return -1;
	}
	slot = h->free_slots[h->nfree - 1];
	j = &h->jobs[slot];
	q->id = (uint64_t)(j->gen + 1) << 32 | (uint32_t)slot;
	if (send(h->fd, q, sizeof(*q), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(*q)) {
		metrics_inc(hasher_m.rejected, ol);
		return -1;	/* the socket's queue is full too */
	}
	h->nfree--;
	j->gen++, j->used = true, j->cb = cb, j->arg = arg;
	j->op = q->op, j->started = metrics_now();
	hasher_metrics_update(h);
	return 0;
}

int
hasher_hash(struct hasher *h, const char *pw, unsigned long long opslimit,
    size_t memlimit, hasher_fn cb, void *arg)
{
	struct hasher_req q = { .op = HASHER_HASH, .opslimit = opslimit,
		.memlimit = memlimit };
	int rc;

	if (strlen(pw) >= sizeof(q.pw))
		return -1;
	strcpy(q.pw, pw);
	rc = hasher_submit(h, &q, cb, arg);
	sodium_memzero(&q, sizeof(q));
	return rc;
}

int
hasher_verify(struct hasher *h, const char *pw, const char *hash, hasher_fn cb,
    void *arg)
{
	struct hasher_req q = { .op = HASHER_VERIFY };
	int rc;

	if (strlen(pw) >= sizeof(q.pw) || strlen(hash) >= sizeof(q.hash))
		return -1;
	strcpy(q.pw, pw);
	strcpy(q.hash, hash);
	rc = hasher_submit(h, &q, cb, arg);
	sodium_memzero(&q, sizeof(q));
	return rc;
}

void
hasher_stop(struct hasher *h)
{
	int status;

	if (h == NULL)
		return;
	if (h->ev != NULL)
		event_free(h->ev);
	if (h->fd >= 0)
		close(h->fd);		/* the child's recv sees the end and exits */
	if (h->pid > 0)
		waitpid(h->pid, &status, 0);
	event_free(h->respawn);
	free(h->jobs);
	free(h->free_slots);
	free(h);
}
