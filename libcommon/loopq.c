#include "loopq.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"

struct loopq {
	pthread_mutex_t lock;
	struct loopq_item *head, *tail;
	struct event *ev;
};

static struct loopq_item *
loopq_take_all(struct loopq *q)
{
	struct loopq_item *items;

	pthread_mutex_lock(&q->lock);
	items = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return items;
}

static void
loopq_drain(struct loopq *q)
{
	struct loopq_item *it = loopq_take_all(q), *next;

	for (; it != NULL; it = next) {
		next = it->next;
		it->run(it);
	}
}

static void
loopq_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	loopq_drain(arg);
}

struct loopq *
loopq_new(struct event_base *base)
{
	struct loopq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		fatalx("loopq: out of memory");
	pthread_mutex_init(&q->lock, NULL);
	q->ev = event_new(base, -1, 0, loopq_cb, q);
	if (q->ev == NULL)
		fatalx("loopq: event_new failed");
	return q;
}

void
loopq_push(struct loopq *q, struct loopq_item *item)
{
	item->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail != NULL)
		q->tail->next = item;
	else
		q->head = item;
	q->tail = item;
	pthread_mutex_unlock(&q->lock);
	event_active(q->ev, EV_READ, 0);
}

void
loopq_free(struct loopq *q)
{
	if (q == NULL)
		return;
	loopq_drain(q);
	event_free(q->ev);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
