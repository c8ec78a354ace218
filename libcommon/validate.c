#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"
#include "uuid.h"

const char *
valid_text(const char *s, size_t min, size_t max, bool multiline)
{
	size_t len = strlen(s), chars = 0;

	if (!utf8_valid(s, len))
		return "must be valid UTF-8";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p & 0xc0) != 0x80)
			chars++;
		if ((*p < 0x20 && !(multiline && (*p == '\t' || *p == '\n'))) || *p == 0x7f)
			return "must not contain control characters";
	}
	if (chars < min)
		return min == 1 ? "must not be empty" : "is too short";
	if (chars > max)
		return "is too long";
	return NULL;
}

/* The member, NULL with *why set when it is required and missing, or of
 * another type than string. */
static const cJSON *
valid_member(const cJSON *obj, const char *name, bool required, const char **why)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	*why = NULL;
	if (v == NULL || cJSON_IsNull(v)) {
		if (required)
			*why = "is required";
		return NULL;
	}
	if (!cJSON_IsString(v)) {
		*why = "must be a string";
		return NULL;
	}
	return v;
}

/* Makes "<name> <why>" in a static buffer; the loop is single-threaded. */
static const char *
valid_say(const char *name, const char *why)
{
	static char msg[160];

	if (why == NULL)
		return NULL;
	snprintf(msg, sizeof(msg), "%s %s", name, why);
	return msg;
}

const char *
valid_member_text(const cJSON *obj, const char *name, bool required,
    size_t min, size_t max, const char **out)
{
	const char *why;
	const cJSON *v = valid_member(obj, name, required, &why);

	*out = NULL;
	if (v == NULL)
		return valid_say(name, why);
	if ((why = valid_text(v->valuestring, min, max, false)) != NULL)
		return valid_say(name, why);
	*out = v->valuestring;
	return NULL;
}

const char *
valid_member_uuid(const cJSON *obj, const char *name, bool required,
    const char **out)
{
	const char *why;
	const cJSON *v = valid_member(obj, name, required, &why);

	*out = NULL;
	if (v == NULL)
		return valid_say(name, why);
	if (!uuid_valid(v->valuestring))
		return valid_say(name, "must be a UUID");
	*out = v->valuestring;
	return NULL;
}
