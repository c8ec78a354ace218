/* Route declarations: each back-end daemon owns its routes and announces
 * them to gatewayd, which builds its router from them. */
#ifndef ENCLAVR_ROUTE_H
#define ENCLAVR_ROUTE_H

#include <cjson/cJSON.h>
#include <stddef.h>

enum route_auth {
	ROUTE_PUBLIC,		/* anyone */
	ROUTE_USER,		/* a valid access token */
	ROUTE_ADMIN,		/* a valid access token with adm = true */
	ROUTE_INTERNAL,		/* gatewayd's own calls for a verified user
				 * (WebSocket hub); never routed from clients */
};
#define ROUTE_NAUTH 4

#define ROUTE_MAX_PATH 256
/* JSON-escaped into the IPC envelope, a body can grow six-fold; this keeps
 * every accepted body within IPC_MAX_BODY. */
#define ROUTE_MAX_BODY (2u * 1024 * 1024)

/* A path is exact ("/api/rooms"), ends in '/' to own a subtree
 * ("/api/files/"), or has "{name}" segments that match one segment
 * ("/api/users/{id}"). */
struct route_decl {
	const char *method;
	const char *path;
	enum route_auth auth;
	size_t body_limit;	/* bytes; 0 = no body accepted */
	const char *rate_class;
};

const char *route_auth_name(enum route_auth auth);
/* Returns the level, or -1 for an unknown name. */
int route_auth_parse(const char *name);
/* Appends one JSON object per declaration to arr; returns 0 or -1. */
int route_decls_to_json(const struct route_decl *decls, size_t n, cJSON *arr);
/* Checks a declaration that came over IPC: method token, absolute path
 * without "..", bounded body limit. Returns NULL or why it is refused. */
const char *route_decl_check(const struct route_decl *d);

#endif
