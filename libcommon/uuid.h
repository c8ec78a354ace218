/* UUIDs (v4, lower-case canonical text) and RFC 3339 UTC timestamps. */
#ifndef ENCLAVR_UUID_H
#define ENCLAVR_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define UUID_STRLEN 36
#define RFC3339_STRLEN 32

/* Writes a random v4 UUID and its terminating NUL into out[37]. */
void uuid_v4(char out[UUID_STRLEN + 1]);
/* A UUID in v4 layout made of a per-process random prefix and a counter:
 * unique and cheap (no system call), but predictable. For request ids and
 * the like, never for anything that must not be guessed. */
void uuid_v4_seq(char out[UUID_STRLEN + 1]);
/* True when s is a canonical UUID (8-4-4-4-12 hex digits, any case). */
bool uuid_valid(const char *s);
/* Formats ts as "2026-11-26T23:59:01.123456Z" into out (size >= 32). */
void time_rfc3339(const struct timespec *ts, char *out, size_t outlen);
void time_now_rfc3339(char *out, size_t outlen);
/* Monotonic clock in milliseconds, for deadlines and uptimes. */
long long time_mono_ms(void);

#endif
