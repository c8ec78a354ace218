/* Secrets kept in files, readable by their daemon's user only. */
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

int
secret_file_read(const char *path, char *out, size_t outlen, const char *what)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	size_t n;

	if (f == NULL) {
		log_warnx("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0)
		log_warnx("%s %s is readable by other users (chmod o-rw)", what, path);
	if (fgets(out, (int)outlen, f) == NULL)
		out[0] = '\0';
	fclose(f);
	n = strcspn(out, "\r\n");
	if (n == outlen - 1 && out[n] == '\0') {
		explicit_bzero(out, outlen);
		log_warnx("%s %s: the secret is longer than %zu bytes", what, path, outlen - 2);
		return -1;
	}
	out[n] = '\0';
	if (n == 0) {
		log_warnx("%s %s: the first line is empty", what, path);
		return -1;
	}
	return (int)n;
}
