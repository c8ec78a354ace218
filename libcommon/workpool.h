/* A small pool of worker threads for work that must not run on the event
 * loop (password hashing). Jobs run on a worker; their completion runs on
 * the loop's thread, in the order they finished. */
#ifndef ENCLAVR_WORKPOOL_H
#define ENCLAVR_WORKPOOL_H

#include <event2/event.h>

struct workpool;

/* work runs on a worker thread and must touch only what arg owns; done
 * runs afterwards on the loop's thread. */
typedef void (*workpool_fn)(void *arg);

struct workpool *workpool_new(struct event_base *base, int nthreads, int max_queued);
/* Queues a job; -1 when max_queued jobs are already waiting (the caller
 * answers 503) or out of memory. */
int workpool_submit(struct workpool *p, workpool_fn work, workpool_fn done, void *arg);
int workpool_queued(struct workpool *p);
/* Stops the workers after their current job; jobs not run are dropped
 * without their done callback. */
void workpool_free(struct workpool *p);

#endif
