/* The ephemeral state behind typing and presence (presence_store.c): who
 * is typing in which room or conversation, and which gatewayd instances hold a user's
 * sockets. It lives in Redis so that every chatd and gatewayd sees the same
 * state; when Redis is unreachable it degrades to this process's memory
 * (see docs/presence.md for the keys and the trade-offs).
 *
 * Every operation is asynchronous and always answers: fn runs exactly once,
 * possibly before the call returns (memory mode). res is NULL only while
 * the daemon stops: the caller then frees arg and touches nothing else (its
 * request and the database pool are already gone). */
#ifndef CHAT_PRESENCE_STORE_H
#define CHAT_PRESENCE_STORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "uuid.h"

#define CHAT_TYPING_TTL_MS 10000	/* a start holds for 10 s */
#define CHAT_TYPING_THROTTLE_MS 3000	/* re-announce a typist at most every 3 s */

/* Where a user types: a room, or a conversation (a direct or group DM).
 * The store keys a conversation's typists apart from a room's ("dm:" before
 * its id), so that the sweep tells which one an expiry belongs to. */
struct chat_typing_stream {
	bool dm;			/* a conversation, not a room */
	char id[UUID_STRLEN + 1];
};

/* One answer; it and everything it points to live until fn returns. */
struct chat_store_res {
	int flag;	/* typing_start: publish the start; typing_stop: the
			 * user was typing (publish the stop); attach: the
			 * user came online; detach: went offline */
	long long started_ms;	/* typing_start: when this typing began */
	size_t n;		/* entries in ids (and ms, streams) */
	char (*ids)[UUID_STRLEN + 1];	/* typing_list: typists; sweep:
					 * users whose start expired;
					 * reset: users gone offline;
					 * connected: the connected users */
	long long *ms;		/* typing_list: each typist's start (Unix ms) */
	struct chat_typing_stream *streams;	/* sweep: where each user typed */
};
typedef void (*chat_store_fn)(const struct chat_store_res *res, void *arg);

/* Records that user types in s for the next 10 s. flag says whether to
 * publish the start: the first one, and at most every 3 s after. */
void chat_store_typing_start(const struct chat_typing_stream *s, const char *user,
    chat_store_fn fn, void *arg);
void chat_store_typing_stop(const struct chat_typing_stream *s, const char *user,
    chat_store_fn fn, void *arg);
/* The typists of s whose start has not expired, in no order. */
void chat_store_typing_list(const struct chat_typing_stream *s, chat_store_fn fn,
    void *arg);
/* Removes expired typists (at most 100 a call) and returns them (ids)
 * with where they typed (streams); each expiry is returned to one caller
 * only, across every chatd sharing the Redis. */
void chat_store_typing_sweep(chat_store_fn fn, void *arg);

/* gatewayd instance inst now holds (attach) or no longer holds (detach)
 * sockets of user. */
void chat_store_presence_attach(const char *user, const char *inst,
    chat_store_fn fn, void *arg);
void chat_store_presence_detach(const char *user, const char *inst,
    chat_store_fn fn, void *arg);
/* Forgets every socket of instance inst; returns the users it leaves
 * without any. */
void chat_store_presence_reset(const char *inst, chat_store_fn fn, void *arg);
/* Of the users in csv (UUIDs joined by ','), those holding a socket, in
 * the order given. */
void chat_store_presence_connected(const char *csv, chat_store_fn fn, void *arg);

/* The current time as Unix milliseconds. */
long long chat_store_now_ms(void);

#endif
