/* Hands work from foreign threads (nng's callbacks, the hashing pool) to a
 * libevent loop: items pushed from any thread run on the loop's thread in
 * push order. The item is embedded in the caller's struct and owned by it. */
#ifndef ENCLAVR_LOOPQ_H
#define ENCLAVR_LOOPQ_H

#include <event2/event.h>

struct loopq_item {
	struct loopq_item *next;
	void (*run)(struct loopq_item *item);
};

struct loopq;

/* Needs evthread_use_pthreads() before base was made. */
struct loopq *loopq_new(struct event_base *base);
/* Safe from any thread. */
void loopq_push(struct loopq *q, struct loopq_item *item);
/* Runs what is still queued, then frees q; call on the loop's thread after
 * every producer has stopped. */
void loopq_free(struct loopq *q);

#endif
