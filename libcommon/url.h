/* Percent-encoding and query strings, for gatewayd and the daemons. */
#ifndef ENCLAVR_URL_H
#define ENCLAVR_URL_H

#include <stddef.h>

/* The value of hex digit ch, or -1. */
int url_hexval(int ch);
/* Copies the percent-decoded value of name in query ("a=1&b=2", without
 * '?') into out, NUL-terminated; '+' is a space. Returns its length, 0 when
 * absent or empty, -1 when it does not fit, is malformed or holds a NUL. */
int url_query_param(const char *query, const char *name, char *out, size_t outlen);

#endif
