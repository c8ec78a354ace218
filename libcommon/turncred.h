/* Time-limited TURN credentials in coturn's shared-secret scheme (the
 * "TURN REST API", coturn's use-auth-secret): the username is
 * "<expiry>:<user>", expiry in Unix seconds, and the password is the
 * base64 of HMAC-SHA1(secret, username). coturn recomputes the password
 * from the username and the same secret, and refuses it once expiry has
 * passed; nothing is stored on either side. */
#ifndef ENCLAVR_TURNCRED_H
#define ENCLAVR_TURNCRED_H

#include <stddef.h>

/* Bytes of a credential: base64 (with padding) of a 20-byte HMAC-SHA1,
 * and its NUL. */
#define TURNCRED_CREDENTIAL_LEN 29

/* Writes the username for user valid until expiry into username (ulen
 * bytes) and its credential into credential. Returns 0, or -1 when user
 * is empty, expiry is negative, a buffer is too small or HMAC fails; the
 * buffers then hold empty strings. Pure: no clock, no global state. */
int turncred_make(const unsigned char *secret, size_t secret_len, long long expiry,
    const char *user, char *username, size_t ulen,
    char credential[TURNCRED_CREDENTIAL_LEN]);

#endif
