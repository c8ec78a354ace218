#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

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
		/* U+0080-U+009F, the C1 controls (valid UTF-8: p[1] exists) */
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
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

const char *
valid_member_int(const cJSON *obj, const char *name, long long lo, long long hi,
    long long def, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	char why[96];
	double d;

	*out = def;
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	d = v->valuedouble;
	/* The range first: only then does the cast to long long keep d. */
	if (!cJSON_IsNumber(v) || !(d >= (double)lo && d <= (double)hi) ||
	    d != (double)(long long)d) {
		snprintf(why, sizeof(why), "must be an integer from %lld to %lld", lo, hi);
		return valid_say(name, why);
	}
	*out = (long long)d;
	return NULL;
}

const char *
valid_member_bool(const cJSON *obj, const char *name, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = -1;
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsBool(v))
		return valid_say(name, "must be true or false");
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return NULL;
}

void
valid_uuid_lower(char out[UUID_STRLEN + 1], const char *id)
{
	size_t i;

	for (i = 0; i < UUID_STRLEN && id[i] != '\0'; i++)
		out[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
	out[i] = '\0';
}
