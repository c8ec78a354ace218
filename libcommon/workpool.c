#include "workpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct workpool_job {
	struct workpool_job *next;
	workpool_fn work, done;
	void *arg;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct workpool_job *todo, *todo_tail;	/* waiting for a worker */
	struct workpool_job *done, *done_tail;	/* waiting for the loop */
	int queued, max_queued;
	bool stopping;
	int nthreads;
	pthread_t *threads;
	int efd;				/* signals the loop: jobs done */
	struct event *ev;
};

static void
workpool_append(struct workpool_job **head, struct workpool_job **tail,
    struct workpool_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *
workpool_thread(void *arg)
{
	struct workpool *p = arg;
	uint64_t one = 1;
	struct sched_param sp = { 0 };

	/* Background work: anything else runnable in the process goes first. */
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
		log_warnx("workpool: cannot lower a worker's priority");

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->todo == NULL && !p->stopping)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stopping)
			break;
		struct workpool_job *j = p->todo;
		p->todo = j->next;
		if (p->todo == NULL)
			p->todo_tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		j->work(j->arg);
		pthread_mutex_lock(&p->lock);
		workpool_append(&p->done, &p->done_tail, j);
		if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("workpool: cannot signal the loop");
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Loop thread: runs the completions of every finished job. */
static void
workpool_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workpool *p = arg;
	struct workpool_job *j, *next;
	uint64_t n;
	(void)what;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("workpool: eventfd");
	pthread_mutex_lock(&p->lock);
	j = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		j->done(j->arg);
		free(j);
	}
}

struct workpool *
workpool_new(struct event_base *base, int nthreads, int max_queued)
{
	struct workpool *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->threads = calloc((size_t)nthreads, sizeof(pthread_t))) == NULL)
		fatalx("workpool: out of memory");
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->max_queued = max_queued;
	if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatal("workpool: eventfd");
	p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, workpool_done_cb, p);
	if (p->ev == NULL || event_add(p->ev, NULL) < 0)
		fatalx("workpool: cannot watch the eventfd");
	for (; p->nthreads < nthreads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, workpool_thread, p) != 0)
			fatalx("workpool: cannot start a worker");
	return p;
}

int
workpool_submit(struct workpool *p, workpool_fn work, workpool_fn done, void *arg)
{
	struct workpool_job *j;

	if ((j = malloc(sizeof(*j))) == NULL)
		return -1;
	j->work = work, j->done = done, j->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (p->queued >= p->max_queued) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		return -1;
	}
	workpool_append(&p->todo, &p->todo_tail, j);
	p->queued++;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int
workpool_queued(struct workpool *p)
{
	int n;

	pthread_mutex_lock(&p->lock);
	n = p->queued;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void
workpool_free_list(struct workpool_job *j)
{
	struct workpool_job *next;

	for (; j != NULL; j = next) {
		next = j->next;
		free(j);
	}
}

void
workpool_free(struct workpool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	workpool_free_list(p->todo);
	workpool_free_list(p->done);
	event_free(p->ev);
	close(p->efd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p->threads);
	free(p);
}
