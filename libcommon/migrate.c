#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MIGRATE_MAX_FILES 1000
#define MIGRATE_MAX_BYTES (4 * 1024 * 1024)

struct migration {
	int version;
	char name[256];
};

int
migrate_file_version(const char *name, int *version)
{
	size_t len = strlen(name);

	if (len < 9 || len >= 256 || strcmp(name + len - 4, ".sql") != 0)
		return 0;
	for (int i = 0; i < 3; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	if (name[3] != '_')
		return 0;
	for (size_t i = 4; i < len - 4; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_')
			return 0;
	*version = (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
	return 1;
}

static int
migration_cmp(const void *a, const void *b)
{
	return ((const struct migration *)a)->version -
	    ((const struct migration *)b)->version;
}

/* Lists dir's migrations sorted by version; -1 on duplicates or errors. */
static int
migrate_scan(const char *dir, struct migration **out)
{
	struct migration *list = calloc(MIGRATE_MAX_FILES, sizeof(*list));
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (list == NULL || d == NULL) {
		log_warn("migrate: cannot read %s", dir);
		free(list);
		if (d)
			closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < MIGRATE_MAX_FILES) {
		if (!migrate_file_version(de->d_name, &list[n].version))
			continue;
		snprintf(list[n].name, sizeof(list[n].name), "%s", de->d_name);
		n++;
	}
	closedir(d);
	qsort(list, (size_t)n, sizeof(*list), migration_cmp);
	for (int i = 1; i < n; i++) {
		if (list[i].version == list[i - 1].version) {
			log_warnx("migrate: %s and %s share a version", list[i - 1].name,
			    list[i].name);
			free(list);
			return -1;
		}
	}
	*out = list;
	return n;
}

static char *
migrate_read(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;
	char *buf;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	if ((buf = malloc(MIGRATE_MAX_BYTES + 1)) != NULL) {
		n = fread(buf, 1, MIGRATE_MAX_BYTES + 1, f);
		if (n > MIGRATE_MAX_BYTES) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* Runs sql as one statement batch; logs and returns -1 on failure. */
static int
migrate_exec(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		log_warnx("migrate: %s failed: %s", what, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

static int
migrate_applied(PGconn *conn, const char *schema, int version)
{
	char sql[256], v[16];
	const char *params[1] = { v };
	PGresult *res;
	int found;

	snprintf(sql, sizeof(sql),
	    "SELECT 1 FROM %s.schema_migrations WHERE version = $1", schema);
	snprintf(v, sizeof(v), "%d", version);
	res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warnx("migrate: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	found = PQntuples(res) > 0;
	PQclear(res);
	return found;
}

/* Applies one file and records it, all in one transaction. */
static int
migrate_apply(PGconn *conn, const char *schema, const char *dir,
    const struct migration *m)
{
	char *sql = migrate_read(dir, m->name);
	char rec[512];
	int rv = -1;

	if (sql == NULL) {
		log_warn("migrate: cannot read %s/%s", dir, m->name);
		return -1;
	}
	snprintf(rec, sizeof(rec),
	    "INSERT INTO %s.schema_migrations (version, name) VALUES (%d, '%s')",
	    schema, m->version, m->name);
	if (migrate_exec(conn, "BEGIN", "begin") == 0 &&
	    migrate_exec(conn, sql, m->name) == 0 &&
	    migrate_exec(conn, rec, "record") == 0 &&
	    migrate_exec(conn, "COMMIT", "commit") == 0)
		rv = 0;
	else
		migrate_exec(conn, "ROLLBACK", "rollback");
	free(sql);
	if (rv == 0)
		log_info("migrate: applied %s", m->name);
	return rv;
}

int
migrate_run(PGconn *conn, const char *schema, const char *dir)
{
	struct migration *list = NULL;
	char sql[512];
	int n, done = 0, rv = 0;

	snprintf(sql, sizeof(sql),
	    "SELECT pg_advisory_lock(hashtext('enclavr.migrate.%s'));"
	    "CREATE SCHEMA IF NOT EXISTS %s;"
	    "CREATE TABLE IF NOT EXISTS %s.schema_migrations ("
	    " version integer PRIMARY KEY, name text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())",
	    schema, schema, schema);
	if ((n = migrate_scan(dir, &list)) < 0)
		return -1;
	if (migrate_exec(conn, sql, "lock and bookkeeping") < 0) {
		free(list);
		return -1;
	}
	for (int i = 0; i < n && rv == 0; i++) {
		int applied = migrate_applied(conn, schema, list[i].version);
		if (applied < 0 || (!applied && migrate_apply(conn, schema, dir, &list[i]) < 0))
			rv = -1;
		else
			done++;
	}
	snprintf(sql, sizeof(sql),
	    "SELECT pg_advisory_unlock(hashtext('enclavr.migrate.%s'))", schema);
	migrate_exec(conn, sql, "unlock");
	free(list);
	return rv < 0 ? -1 : done;
}
