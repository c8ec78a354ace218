/* A daemon's control socket, for enclavrctl(8): a UNIX stream socket
 * (mode 0600) on the daemon's event loop. Only uid 0 and the daemon's own
 * effective uid may use it (SO_PEERCRED); anyone else gets one error line
 * and is logged. Per connection: one command line in (at most
 * CONTROL_LINE_MAX bytes), one JSON object line out, then close.
 *
 * Built in: "status" (def->status), "reload" (def->reload), "log-level
 * <error|warn|info|debug>" and "help". A daemon adds its own commands
 * through def->cmds. An answer is {"error":code,"message":...} on failure
 * and any other object on success. */
#ifndef ENCLAVR_CONTROL_H
#define ENCLAVR_CONTROL_H

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <stddef.h>

#define CONTROL_LINE_MAX 4096

/* One command being answered; it lives until it is answered. */
struct control_req;

/* args is what follows the command name and one space ("" when nothing
 * does), valid until the answer. The handler answers exactly once, now or
 * later from a callback, with control_reply or control_reply_error. */
typedef void (*control_fn)(struct control_req *req, const char *args, void *arg);

struct control_cmd {
	const char *name;	/* "revoke-user" */
	const char *usage;	/* "revoke-user <uuid>", for "help" */
	control_fn fn;
};

struct control_def {
	const char *daemon;		/* "authd" */
	const char *path;		/* socket path; "" = no control socket */
	/* "status": the daemon's state as a new object (NULL = out of memory). */
	cJSON *(*status)(void *arg);
	/* "reload": re-reads the config like SIGHUP; returns how many options
	 * changed, or -1 with why the old config was kept. */
	int (*reload)(void *arg, char *why, size_t whylen);
	const struct control_cmd *cmds;	/* ended by a NULL name; may be NULL */
	void *arg;			/* passed to every hook and handler */
};

struct control;

/* Listens on def->path (a stale socket file is replaced; one a live process
 * answers on is fatal). def and what it points to must outlive the socket.
 * Returns NULL when def->path is empty. */
struct control *control_open(struct event_base *base, const struct control_def *def);
/* Stops listening, removes the socket file and frees the connections,
 * answered or not (a handler waiting on a callback must not be called
 * back after this: close the database pool first). NULL is a no-op. */
void control_close(struct control *c);

/* Answers req with body (taken; NULL = out of memory error). */
void control_reply(struct control_req *req, cJSON *body);
void control_reply_error(struct control_req *req, const char *code, const char *message);

#endif
