/* Reading a request's parameters, shared by every chatd concern; each
 * helper answers 400 itself when a value is missing or malformed. */
#include "chatd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "validate.h"

/* The query parameter name as a UUID, lower-cased, into out: 1, or 0 when
 * absent; -1 after answering 400 when malformed. */
static int
chat_query_uuid_param(struct svc_request *r, const char *name, char out[UUID_STRLEN + 1])
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
chat_query_uuid(struct svc_request *r, const char *name, char out[UUID_STRLEN + 1])
{
	char msg[96];
	int n = chat_query_uuid_param(r, name, out);

	if (n == 0) {
		snprintf(msg, sizeof(msg), "%s is required", name);
		svc_respond_error(r, 400, "missing_parameter", msg);
	}
	return n > 0;
}

bool
chat_query_uuid_opt(struct svc_request *r, const char *name,
    char out[UUID_STRLEN + 1], const char **val)
{
	int n = chat_query_uuid_param(r, name, out);

	*val = n > 0 ? out : NULL;
	return n >= 0;
}

bool
chat_query_int(struct svc_request *r, const char *name, long lo, long hi, long def,
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

bool
chat_query_page(struct svc_request *r, long def, long max, struct chat_page *pg)
{
	long n;

	if (!chat_query_int(r, "limit", 1, max, def, &n) ||
	    !chat_query_uuid_opt(r, "before", pg->before, &pg->before_p) ||
	    !chat_query_uuid_opt(r, "after", pg->after, &pg->after_p))
		return false;
	if (pg->before_p != NULL && pg->after_p != NULL) {
		svc_respond_error(r, 400, "invalid_parameter", "Give before or after, not both");
		return false;
	}
	snprintf(pg->limit, sizeof(pg->limit), "%ld", n);
	return true;
}

bool
chat_body_uuid(struct svc_request *r, const cJSON *body, const char *name,
    bool required, const char **out)
{
	const char *why = valid_member_uuid(body, name, required, out);

	if (why != NULL)
		svc_respond_error(r, 400, "invalid_request", why);
	return why == NULL;
}

bool
chat_uuid_param(struct svc_request *r, const cJSON *body, const char *name,
    char out[UUID_STRLEN + 1])
{
	const char *id;

	if (!chat_query_uuid_opt(r, name, out, &id))
		return false;
	if (id != NULL)
		return true;
	if (body == NULL || cJSON_GetObjectItemCaseSensitive(body, name) == NULL)
		return chat_query_uuid(r, name, out);	/* answers "<name> is required" */
	if (!chat_body_uuid(r, body, name, true, &id))
		return false;
	valid_uuid_lower(out, id);
	return true;
}

bool
chat_body_enum(struct svc_request *r, const cJSON *body, const char *name,
    const char *const *values, bool required, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
	char msg[160];
	int len;

	*out = NULL;
	if (!required && (v == NULL || cJSON_IsNull(v)))
		return true;
	for (size_t i = 0; cJSON_IsString(v) && values[i] != NULL; i++)
		if (strcmp(v->valuestring, values[i]) == 0) {
			*out = values[i];
			return true;
		}
	len = snprintf(msg, sizeof(msg), "%s must be one of ", name);
	for (size_t i = 0; values[i] != NULL && len > 0 && (size_t)len < sizeof(msg); i++)
		len += snprintf(msg + len, sizeof(msg) - (size_t)len, "%s%s", i ? ", " : "",
		    values[i]);
	svc_respond_error(r, 400, v == NULL ? "missing_parameter" : "invalid_parameter", msg);
	return false;
}

void
chat_call_param(struct svc_request *r, const char *stmt, const char *name)
{
	char id[UUID_STRLEN + 1];
	const char *params[2] = { id, r->user_id };
	cJSON *body = r->body_len > 0 ? svc_request_json(r) : NULL;

	if (r->body_len > 0 && body == NULL)
		return;
	if (chat_uuid_param(r, body, name, id))
		chat_call(r, stmt, params);
	cJSON_Delete(body);
}

const char *
chat_admin(const struct svc_request *r)
{
	return r->admin ? "true" : "false";
}

void
chat_call_id(struct svc_request *r, const char *stmt, const char *name)
{
	char id[UUID_STRLEN + 1];
	const char *params[3] = { id, r->user_id, chat_admin(r) };

	if (chat_query_uuid(r, name, id))
		chat_call(r, stmt, params);
}
