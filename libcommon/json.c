#include "json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

char *
json_error_body(const char *code, const char *message)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (o == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "error", code) != NULL &&
	    cJSON_AddStringToObject(o, "message", message) != NULL)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

const char *
json_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double
json_num(const cJSON *obj, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* True when text has a \u0000 escape: cJSON keeps strings as C strings and
 * would silently cut the value there. */
static bool
json_has_nul_escape(const char *text, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (text[i] != '\\')
			continue;
		if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
			return true;
		i++;	/* skip the escaped character */
	}
	return false;
}

cJSON *
json_parse_exact(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *v;

	if (json_has_nul_escape(text, len))
		return NULL;
	v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (v == NULL)
		return NULL;
	while (end < text + len && (*end == ' ' || *end == '\n' ||
	    *end == '\r' || *end == '\t'))
		end++;
	if (end != text + len) {
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}
