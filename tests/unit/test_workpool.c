/* The worker pool: jobs run off the loop, completions on it, a full queue
 * refuses, freeing drops what never ran. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "workpool.h"

struct job {
	pthread_t worker, completer;
	int done;
	struct event_base *base;
	int *remaining;
};

static void
job_work(void *arg)
{
	struct job *j = arg;
	j->worker = pthread_self();
	usleep(2000);
}

static void
job_done(void *arg)
{
	struct job *j = arg;
	j->completer = pthread_self();
	j->done++;
	if (--*j->remaining == 0)
		event_base_loopbreak(j->base);
}

static void
test_jobs_run_off_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct workpool *p = workpool_new(base, 2, 16);
	struct job jobs[8] = { 0 };
	int remaining = 8;
	(void)state;
	for (int i = 0; i < 8; i++) {
		jobs[i].base = base, jobs[i].remaining = &remaining;
		assert_int_equal(workpool_submit(p, job_work, job_done, &jobs[i]), 0);
	}
	event_base_dispatch(base);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(jobs[i].done, 1);
		assert_false(pthread_equal(jobs[i].worker, pthread_self()));
		assert_true(pthread_equal(jobs[i].completer, pthread_self()));
	}
	workpool_free(p);
	event_base_free(base);
}

static void
block_work(void *arg)
{
	usleep(50000);
	(void)arg;
}

static void
never_done(void *arg)
{
	(void)arg;
	fail_msg("a dropped job's completion ran");
}

static void
test_full_queue_refuses(void **state)
{
	struct event_base *base = event_base_new();
	struct workpool *p = workpool_new(base, 1, 2);
	int accepted = 0;
	(void)state;
	for (int i = 0; i < 10; i++)
		accepted += workpool_submit(p, block_work, never_done, NULL) == 0;
	/* one may be running already, two wait; the rest are refused */
	assert_true(accepted >= 2 && accepted <= 3);
	workpool_free(p);	/* drops the waiting jobs without completions */
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_run_off_the_loop),
		cmocka_unit_test(test_full_queue_refuses),
	};
	return cmocka_run_group_tests_name("workpool", tests, NULL, NULL);
}
