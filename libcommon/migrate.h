/* The migration runner: applies sql/<dir>/NNN_name.sql files in order, each
 * in its own transaction, recorded in <schema>.schema_migrations, under a
 * PostgreSQL advisory lock so that concurrent starts apply each file once. */
#ifndef ENCLAVR_MIGRATE_H
#define ENCLAVR_MIGRATE_H

#include <libpq-fe.h>

/* Returns the number of migrations now recorded, or -1 (logged). Blocking:
 * call at start-up, before the loop runs. */
int migrate_run(PGconn *conn, const char *schema, const char *dir);
/* True when name looks like "NNN_words.sql"; *version gets NNN. */
int migrate_file_version(const char *name, int *version);

#endif
