/* Checks of client input, in one place. Each returns NULL when the value
 * is acceptable, or a sentence for the 400 answer's message. */
#ifndef ENCLAVR_VALIDATE_H
#define ENCLAVR_VALIDATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "uuid.h"

/* Valid UTF-8 of min..max characters (code points), without control
 * characters (C0, DEL and C1); tab and newline are allowed when multiline. */
const char *valid_text(const char *s, size_t min, size_t max, bool multiline);
/* Member name of obj as text checked like valid_text (single line). *out is
 * NULL when the member is absent and optional (or null). */
const char *valid_member_text(const cJSON *obj, const char *name, bool required,
    size_t min, size_t max, const char **out);
/* Member name of obj as a canonical UUID; *out NULL when absent/optional. */
const char *valid_member_uuid(const cJSON *obj, const char *name, bool required,
    const char **out);
/* 2^53 - 1: the largest whole number every JSON number (a double) holds
 * exactly, the widest range to give valid_member_int. */
#define VALID_INT_EXACT 9007199254740991LL

/* Member name of obj as a whole number in lo..hi; *out is def when the
 * member is absent or null. */
const char *valid_member_int(const cJSON *obj, const char *name, long long lo,
    long long hi, long long def, long long *out);
/* Member name of obj as true or false: *out is 1 or 0, or -1 when the member
 * is absent or null. */
const char *valid_member_bool(const cJSON *obj, const char *name, int *out);

/* Copies id, a UUID as uuid_valid accepts it (any case), into out in lower
 * case: the canonical text that keys, topics and comparisons use. out may
 * be id itself. At most UUID_STRLEN characters are copied, then a NUL. */
void valid_uuid_lower(char out[UUID_STRLEN + 1], const char *id);

#endif
