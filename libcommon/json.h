/* JSON helpers shared by every daemon: the one error body and small
 * accessors over cJSON. */
#ifndef ENCLAVR_JSON_H
#define ENCLAVR_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Returns a malloc'ed {"error":code,"message":message} text; the caller
 * frees it. NULL only when out of memory. */
char *json_error_body(const char *code, const char *message);
/* The string member name of obj, or NULL when absent or not a string. */
const char *json_str(const cJSON *obj, const char *name);
/* The number member name of obj, or def when absent or not a number. */
double json_num(const cJSON *obj, const char *name, double def);
/* Parses exactly len bytes as one JSON value; trailing bytes fail, and so
 * does a \u0000 escape (strings are NUL-terminated once parsed). */
cJSON *json_parse_exact(const char *text, size_t len);

#endif
