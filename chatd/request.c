/* Reading a request's parameters where chatd needs more than the shared
 * helpers (libcommon/svc_params.h): the cursor page of message lists. */
#include "chatd.h"

#include <stdio.h>

bool
chat_query_page(struct svc_request *r, long def, long max, struct chat_page *pg)
{
	long n;

	if (!svc_query_int(r, "limit", 1, max, def, &n) ||
	    !svc_query_uuid_opt(r, "before", pg->before, &pg->before_p) ||
	    !svc_query_uuid_opt(r, "after", pg->after, &pg->after_p))
		return false;
	if (pg->before_p != NULL && pg->after_p != NULL) {
		svc_respond_error(r, 400, "invalid_parameter", "Give before or after, not both");
		return false;
	}
	snprintf(pg->limit, sizeof(pg->limit), "%ld", n);
	return true;
}
