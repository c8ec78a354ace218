#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

struct cfg_parse {
	const struct cfg_opt *table;
	void *conf;
	struct cfg_error *err;
	FILE *file;
	int line;		/* lines read so far: the one being handled */
	bool failed;
};

static void *
cfg_field(const struct cfg_opt *o, const void *conf)
{
	return (char *)conf + o->offset;
}

static const struct cfg_opt *
cfg_find(const struct cfg_opt *table, const char *section, const char *name)
{
	for (const struct cfg_opt *o = table; o->name != NULL; o++)
		if (strcmp(o->section, section) == 0 && strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static int
cfg_parse_bool(const char *v, bool *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int
cfg_parse_int(const char *v, long long *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

/* Stores value into the option's field, or writes why it cannot into msg. */
static int
cfg_set(const struct cfg_opt *o, void *conf, const char *value, char *msg,
    size_t msglen)
{
	void *f = cfg_field(o, conf);
	long long n;
	bool b;

	switch (o->type) {
	case CFG_STR: {
		if ((long long)strlen(value) < o->min) {
			snprintf(msg, msglen, "%s: must not be empty", o->name);
			return -1;
		}
		if ((long long)strlen(value) > o->max) {
			snprintf(msg, msglen, "%s: longer than %lld bytes", o->name, o->max);
			return -1;
		}
		char *copy = strdup(value);
		if (copy == NULL) {
			snprintf(msg, msglen, "out of memory");
			return -1;
		}
		free(*(char **)f);
		*(char **)f = copy;
		return 0;
	}
	case CFG_INT:
		if (cfg_parse_int(value, &n) < 0) {
			snprintf(msg, msglen, "%s: not an integer: \"%s\"", o->name, value);
			return -1;
		}
		if (n < o->min || n > o->max) {
			snprintf(msg, msglen, "%s: %lld is outside %lld..%lld", o->name,
			    n, o->min, o->max);
			return -1;
		}
		*(long long *)f = n;
		return 0;
	case CFG_BOOL:
		if (cfg_parse_bool(value, &b) < 0) {
			snprintf(msg, msglen, "%s: not yes/no: \"%s\"", o->name, value);
			return -1;
		}
		*(bool *)f = b;
		return 0;
	case CFG_ENUM:
		for (int i = 0; o->choices[i] != NULL; i++) {
			if (strcmp(o->choices[i], value) == 0) {
				*(int *)f = i;
				return 0;
			}
		}
		snprintf(msg, msglen, "%s: \"%s\" is not one of the allowed values",
		    o->name, value);
		return -1;
	}
	return -1;
}

void
cfg_defaults(const struct cfg_opt *table, void *conf)
{
	char msg[256];
	for (const struct cfg_opt *o = table; o->name != NULL; o++)
		if (cfg_set(o, conf, o->defval, msg, sizeof(msg)) < 0)
			fatalx("default of [%s] %s is invalid: %s", o->section,
			    o->name, msg);
}

static int
cfg_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cfg_parse *p = user;
	const struct cfg_opt *o;

	if (p->failed)
		return 0;
	o = cfg_find(p->table, section, name);
	if (o == NULL) {
		snprintf(p->err->msg, sizeof(p->err->msg),
		    "unknown option \"%s\" in section [%s]", name, section);
		p->err->line = p->line;
		p->failed = true;
		return 0;
	}
	if (cfg_set(o, p->conf, value, p->err->msg, sizeof(p->err->msg)) < 0) {
		p->err->line = p->line;
		p->failed = true;
		return 0;
	}
	return 1;
}

/* Refuses what inih would misread: a line longer than its buffer (it
 * would split it) and an indented value line (it would replace the value
 * above it). Sets the error and returns -1. */
static int
cfg_line_refused(struct cfg_parse *p, const char *line, size_t len, int size)
{
	const char *why = NULL;

	if (len == (size_t)size - 1 && line[len - 1] != '\n' && !feof(p->file))
		why = "line too long (at most %d bytes)";
	else if ((line[0] == ' ' || line[0] == '\t') &&
	    line[strspn(line, " \t\r\n")] != '\0' &&
	    strchr("#;", line[strspn(line, " \t")]) == NULL)
		why = "indented line (values cannot continue on the next line)";
	if (why == NULL)
		return 0;
	snprintf(p->err->msg, sizeof(p->err->msg), why, size - 2);
	p->err->line = p->line;
	p->failed = true;
	return -1;
}

/* inih's line reader, counting lines so that the handler knows which line
 * it is looking at; it ends the file early at a line inih would misread. */
static char *
cfg_read_line(char *buf, int size, void *arg)
{
	struct cfg_parse *p = arg;
	char *line;

	if (p->failed || (line = fgets(buf, size, p->file)) == NULL)
		return NULL;
	p->line++;
	if (cfg_line_refused(p, line, strlen(line), size) < 0)
		return NULL;
	return line;
}

int
cfg_load(const struct cfg_opt *table, void *conf, const char *path,
    struct cfg_error *err)
{
	struct cfg_parse p = { table, conf, err, NULL, 0, false };
	int rc;

	memset(err, 0, sizeof(*err));
	cfg_defaults(table, conf);
	if ((p.file = fopen(path, "r")) == NULL) {
		snprintf(err->msg, sizeof(err->msg), "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(cfg_read_line, &p, cfg_ini_handler, &p);
	fclose(p.file);
	if (rc == 0 && p.failed)	/* the reader stopped at a refused line */
		return -1;
	if (rc == 0)
		return 0;
	if (rc < 0) {
		snprintf(err->msg, sizeof(err->msg), "out of memory reading %s", path);
		return -1;
	}
	/* inih returns the first line it found wrong, ours or its own. */
	if (!p.failed || rc < err->line) {
		err->line = rc;
		snprintf(err->msg, sizeof(err->msg), "syntax error");
	}
	return -1;
}

void
cfg_free(const struct cfg_opt *table, void *conf)
{
	for (const struct cfg_opt *o = table; o->name != NULL; o++) {
		if (o->type != CFG_STR)
			continue;
		char **f = cfg_field(o, conf);
		free(*f);
		*f = NULL;
	}
}

static void
cfg_print_value(const struct cfg_opt *o, const void *conf, FILE *out)
{
	const void *f = cfg_field(o, conf);
	switch (o->type) {
	case CFG_STR:
		fprintf(out, "%s", *(char *const *)f);
		break;
	case CFG_INT:
		fprintf(out, "%lld", *(const long long *)f);
		break;
	case CFG_BOOL:
		fprintf(out, "%s", *(const bool *)f ? "yes" : "no");
		break;
	case CFG_ENUM:
		fprintf(out, "%s", o->choices[*(const int *)f]);
		break;
	}
}

void
cfg_dump(const struct cfg_opt *table, const void *conf, FILE *out)
{
	const char *section = NULL;
	for (const struct cfg_opt *o = table; o->name != NULL; o++) {
		if (section == NULL || strcmp(section, o->section) != 0) {
			fprintf(out, "%s[%s]\n", section ? "\n" : "", o->section);
			section = o->section;
		}
		fprintf(out, "%s = ", o->name);
		cfg_print_value(o, conf, out);
		fputc('\n', out);
	}
}

static bool
cfg_equal(const struct cfg_opt *o, const void *a, const void *b)
{
	const void *fa = cfg_field(o, a), *fb = cfg_field(o, b);
	switch (o->type) {
	case CFG_STR:
		return strcmp(*(char *const *)fa, *(char *const *)fb) == 0;
	case CFG_INT:
		return *(const long long *)fa == *(const long long *)fb;
	case CFG_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CFG_ENUM:
		return *(const int *)fa == *(const int *)fb;
	}
	return true;
}

int
cfg_apply_reloadable(const struct cfg_opt *table, void *cur, const void *next)
{
	int changed = 0;
	for (const struct cfg_opt *o = table; o->name != NULL; o++) {
		if (cfg_equal(o, cur, next))
			continue;
		if (!o->reloadable) {
			log_warnx("config: [%s] %s changed but needs a restart",
			    o->section, o->name);
			continue;
		}
		void *fc = cfg_field(o, cur);
		const void *fn = cfg_field(o, next);
		if (o->type == CFG_STR) {
			char *copy = strdup(*(char *const *)fn);
			if (copy == NULL) {
				log_warnx("config: out of memory reloading %s", o->name);
				continue;
			}
			free(*(char **)fc);
			*(char **)fc = copy;
		} else if (o->type == CFG_INT) {
			*(long long *)fc = *(const long long *)fn;
		} else if (o->type == CFG_BOOL) {
			*(bool *)fc = *(const bool *)fn;
		} else {
			*(int *)fc = *(const int *)fn;
		}
		log_info("config: [%s] %s changed", o->section, o->name);
		changed++;
	}
	return changed;
}
