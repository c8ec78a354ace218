/* Asynchronous Redis (hiredis + its libevent adapter) with automatic
 * reconnection. Redis being down degrades features; it never stops a daemon. */
#ifndef ENCLAVR_REDIS_H
#define ENCLAVR_REDIS_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>

/* reply is NULL when the command could not run; hiredis frees it. */
typedef void (*redis_reply_fn)(redisReply *reply, void *arg);
struct redis_conn;

/* host must be a numeric address (no DNS lookup on the loop). */
struct redis_conn *redis_open(struct event_base *base, const char *host, int port);
bool redis_up(const struct redis_conn *r);
/* fn runs on every successful (re)connection. */
void redis_on_connect(struct redis_conn *r, void (*fn)(struct redis_conn *, void *),
    void *arg);
/* Sends a command built like printf (hiredis format). -1 when down. */
int redis_command(struct redis_conn *r, redis_reply_fn cb, void *arg,
    const char *fmt, ...);
void redis_close(struct redis_conn *r);

#endif
