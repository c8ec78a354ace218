/* Config files: INI parsed by libinih into a daemon's config struct, driven
 * by one declarative option table per daemon. */
#ifndef ENCLAVR_CONFIG_H
#define ENCLAVR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cfg_type {
	CFG_STR,	/* char *, owned by the struct; max = longest length */
	CFG_INT,	/* long long within [min, max] */
	CFG_BOOL,	/* bool: yes/no, true/false, on/off, 1/0 */
	CFG_ENUM,	/* int: index into choices */
};

struct cfg_opt {
	const char *section;
	const char *name;
	enum cfg_type type;
	const char *defval;
	long long min, max;
	const char *const *choices;	/* CFG_ENUM only, NULL-terminated */
	bool reloadable;		/* applied by SIGHUP without restart */
	size_t offset;			/* of the field in the config struct */
	const char *help;
};

#define CFG_END { NULL, NULL, CFG_STR, NULL, 0, 0, NULL, false, 0, NULL }

struct cfg_error {
	int line;		/* 0 when the file itself could not be read */
	char msg[256];
};

/* Fills conf from the table's defaults, then from path. On failure returns
 * -1, fills err and leaves conf holding defaults plus what came before the
 * bad line; the caller frees it with cfg_free either way. */
int cfg_load(const struct cfg_opt *table, void *conf, const char *path,
    struct cfg_error *err);
/* Sets every option to its default; used before cfg_load and by tests. */
void cfg_defaults(const struct cfg_opt *table, void *conf);
void cfg_free(const struct cfg_opt *table, void *conf);
/* Prints the effective config in INI form. */
void cfg_dump(const struct cfg_opt *table, const void *conf, FILE *out);
/* Copies the reloadable options of next into cur (freeing cur's old
 * strings) and logs each that changed. Returns how many changed. */
int cfg_apply_reloadable(const struct cfg_opt *table, void *cur,
    const void *next);

#endif
