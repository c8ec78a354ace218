/* Reading a request's parameters; each helper answers 400 itself when a
 * value is missing or malformed (svc_params.h). */
#include "svc_params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "validate.h"

/* The query parameter name as a UUID, lower-cased, into out: 1, or 0 when
 * absent; -1 after answering 400 when malformed. */
static int
svc_query_uuid_param(struct svc_request *r, const char *name, char out[UUID_STRLEN + 1])
{
	char msg[96];
	int n = url_query_param(r->query ? r->query : "", name, out, UUID_STRLEN + 1);

	if (n == 0)
		return 0;
	if (n < 0 || !uuid_valid(out)) {
		snprintf(msg, sizeof(msg), "Invalid %s", name);
		svc_respond_error(r, 400, "invalid_parameter", msg);
		return -1;
	}
	valid_uuid_lower(out, out);
	return 1;
}

bool
svc_query_uuid(struct svc_request *r, const char *name, char out[UUID_STRLEN + 1])
{
	char msg[96];
	int n = svc_query_uuid_param(r, name, out);

	if (n == 0) {
		snprintf(msg, sizeof(msg), "%s is required", name);
		svc_respond_error(r, 400, "missing_parameter", msg);
	}
	return n > 0;
}

bool
svc_query_uuid_opt(struct svc_request *r, const char *name,
    char out[UUID_STRLEN + 1], const char **val)
{
	int n = svc_query_uuid_param(r, name, out);

	*val = n > 0 ? out : NULL;
	return n >= 0;
}

bool
svc_query_int(struct svc_request *r, const char *name, long lo, long hi, long def,
    long *out)
{
	char buf[24], msg[96], *end;
	int n = url_query_param(r->query ? r->query : "", name, buf, sizeof(buf));
	long v;

	if (n == 0) {
		*out = def;
		return true;
	}
	errno = 0;
	v = n > 0 ? strtol(buf, &end, 10) : 0;
	if (n < 0 || errno != 0 || *end != '\0' || v < lo || v > hi) {
		snprintf(msg, sizeof(msg), "%s must be an integer from %ld to %ld", name, lo, hi);
		svc_respond_error(r, 400, "invalid_parameter", msg);
		return false;
	}
	*out = v;
	return true;
}

/* Answers 400 "<name> must be one of <values>" with code. */
static void
svc_enum_refuse(struct svc_request *r, const char *code, const char *name,
    const char *const *values)
{
	char msg[160];
	int len = snprintf(msg, sizeof(msg), "%s must be one of ", name);

	for (size_t i = 0; values[i] != NULL && len > 0 && (size_t)len < sizeof(msg); i++)
		len += snprintf(msg + len, sizeof(msg) - (size_t)len, "%s%s", i ? ", " : "",
		    values[i]);
	svc_respond_error(r, 400, code, msg);
}

/* The entry of values equal to s, or NULL. */
static const char *
svc_enum_find(const char *s, const char *const *values)
{
	for (size_t i = 0; s != NULL && values[i] != NULL; i++)
		if (strcmp(s, values[i]) == 0)
			return values[i];
	return NULL;
}

bool
svc_query_enum(struct svc_request *r, const char *name, const char *const *values,
    bool required, const char **out)
{
	char buf[64];
	int n = url_query_param(r->query ? r->query : "", name, buf, sizeof(buf));

	*out = n > 0 ? svc_enum_find(buf, values) : NULL;
	if ((n == 0 && !required) || *out != NULL)
		return true;
	svc_enum_refuse(r, n == 0 ? "missing_parameter" : "invalid_parameter", name, values);
	return false;
}

bool
svc_body_uuid(struct svc_request *r, const cJSON *body, const char *name,
    bool required, const char **out)
{
	const char *why = valid_member_uuid(body, name, required, out);

	if (why != NULL)
		svc_respond_error(r, 400, "invalid_request", why);
	return why == NULL;
}

bool
svc_uuid_param(struct svc_request *r, const cJSON *body, const char *name,
    char out[UUID_STRLEN + 1])
{
	const char *id;

	if (!svc_query_uuid_opt(r, name, out, &id))
		return false;
	if (id != NULL)
		return true;
	if (body == NULL || cJSON_GetObjectItemCaseSensitive(body, name) == NULL)
		return svc_query_uuid(r, name, out);	/* answers "<name> is required" */
	if (!svc_body_uuid(r, body, name, true, &id))
		return false;
	valid_uuid_lower(out, id);
	return true;
}

bool
svc_body_enum(struct svc_request *r, const cJSON *body, const char *name,
    const char *const *values, bool required, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);

	*out = NULL;
	if (!required && (v == NULL || cJSON_IsNull(v)))
		return true;
	if ((*out = svc_enum_find(cJSON_IsString(v) ? v->valuestring : NULL, values)) != NULL)
		return true;
	svc_enum_refuse(r, v == NULL ? "missing_parameter" : "invalid_parameter", name, values);
	return false;
}

bool
svc_body_bools(struct svc_request *r, const cJSON *body, const char *const *names,
    cJSON *patch)
{
	const char *why;
	int b;

	for (size_t i = 0; names[i] != NULL; i++) {
		if ((why = valid_member_bool(body, names[i], &b)) != NULL) {
			svc_respond_error(r, 400, "invalid_request", why);
			return false;
		}
		if (b >= 0 && cJSON_AddBoolToObject(patch, names[i], b) == NULL) {
			svc_respond_error(r, 500, "internal", "Out of memory");
			return false;
		}
	}
	return true;
}

const char *
svc_admin(const struct svc_request *r)
{
	return r->admin ? "true" : "false";
}
