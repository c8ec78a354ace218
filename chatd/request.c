/* Query-string helpers shared by every chatd concern; each answers the
 * request itself when the value is missing or malformed. */
#include "chatd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "url.h"

bool
chat_query_uuid(struct svc_request *r, const char *name, char out[UUID_STRLEN + 1])
{
	char msg[96];
	int n = url_query_param(r->query ? r->query : "", name, out, UUID_STRLEN + 1);

	if (n == 0) {
		snprintf(msg, sizeof(msg), "%s is required", name);
		svc_respond_error(r, 400, "missing_parameter", msg);
		return false;
	}
	if (n < 0 || !uuid_valid(out)) {
		snprintf(msg, sizeof(msg), "Invalid %s", name);
		svc_respond_error(r, 400, "invalid_parameter", msg);
		return false;
	}
	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	return true;
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
