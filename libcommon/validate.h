/* Checks of client input, in one place. Each returns NULL when the value
 * is acceptable, or a sentence for the 400 answer's message. */
#ifndef ENCLAVR_VALIDATE_H
#define ENCLAVR_VALIDATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Valid UTF-8 of min..max characters (code points), without control
 * characters; tab and newline are allowed when multiline. */
const char *valid_text(const char *s, size_t min, size_t max, bool multiline);
/* Member name of obj as text checked like valid_text (single line). *out is
 * NULL when the member is absent and optional (or null). */
const char *valid_member_text(const cJSON *obj, const char *name, bool required,
    size_t min, size_t max, const char **out);
/* Member name of obj as a canonical UUID; *out NULL when absent/optional. */
const char *valid_member_uuid(const cJSON *obj, const char *name, bool required,
    const char **out);

#endif
