/* Reading a forwarded request's parameters (query string and JSON body),
 * shared by the daemons whose routes follow the one-SQL-call convention
 * (svc_reply.h). Each helper answers 400 itself ({"error","message"}) and
 * returns false when a value is missing or malformed. */
#ifndef ENCLAVR_SVC_PARAMS_H
#define ENCLAVR_SVC_PARAMS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "svc.h"
#include "uuid.h"

/* Query parameter name as a UUID, lower-cased, into out; answers 400
 * "<name> is required" / "Invalid <name>" when it is not one. */
bool svc_query_uuid(struct svc_request *r, const char *name, char out[UUID_STRLEN + 1]);
/* An optional UUID query parameter: *val is out, or NULL when absent. */
bool svc_query_uuid_opt(struct svc_request *r, const char *name,
    char out[UUID_STRLEN + 1], const char **val);
/* Query parameter name as an integer in lo..hi; def when absent. */
bool svc_query_int(struct svc_request *r, const char *name, long lo, long hi,
    long def, long *out);
/* Query parameter name as one of values (NULL-terminated): *out points
 * into values, or is NULL when absent and optional. */
bool svc_query_enum(struct svc_request *r, const char *name,
    const char *const *values, bool required, const char **out);
/* Body member name as a UUID (valid_member_uuid); *out NULL when absent
 * and not required. */
bool svc_body_uuid(struct svc_request *r, const cJSON *body, const char *name,
    bool required, const char **out);
/* Body member name as one of values (NULL-terminated): *out points into
 * values, or is NULL when the member is absent (or null) and optional.
 * Answers 400 missing_parameter / invalid_parameter ("<name> must be one
 * of ...") and returns false otherwise. */
bool svc_body_enum(struct svc_request *r, const cJSON *body, const char *name,
    const char *const *values, bool required, const char **out);
/* The UUID name from the query string, else from body (which may be NULL)
 * when it has that member; lower-cased into out. */
bool svc_uuid_param(struct svc_request *r, const cJSON *body, const char *name,
    char out[UUID_STRLEN + 1]);
/* Copies into patch the members of body named in names (NULL-terminated)
 * that are true or false; absent and null ones are left out. Answers 400
 * ("<name> must be true or false") or 500 (out of memory) and returns
 * false otherwise. */
bool svc_body_bools(struct svc_request *r, const cJSON *body, const char *const *names,
    cJSON *patch);
/* "true" or "false": whether r's caller is a global admin, as a parameter. */
const char *svc_admin(const struct svc_request *r);

#endif
