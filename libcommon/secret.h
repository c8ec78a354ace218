/* Secrets kept in files (*_file options): the first line of the file. */
#ifndef ENCLAVR_SECRET_H
#define ENCLAVR_SECRET_H

#include <stddef.h>

/* Reads the first line of path (without its line end) into out; warns when
 * other users may read or write the file. what names the option in the
 * log ("[turn] secret_file"). The secret's length, or -1 after logging why
 * (unreadable, empty, or longer than outlen - 1 bytes). */
int secret_file_read(const char *path, char *out, size_t outlen, const char *what);

#endif
