/* enclavrctl: asks a daemon's control socket (libcommon/control.h) one
 * command and prints its JSON answer. Exit 0 on success, 1 when a daemon
 * answered an error, 2 on a usage or connection error. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_DEFAULT_DIR "/run/enclavr"
#define CTL_LINE_MAX 4096		/* as CONTROL_LINE_MAX */
#define CTL_ANSWER_MAX (1024 * 1024)
#define CTL_TIMEOUT_MS 15000

enum { CTL_OK = 0, CTL_ERROR_ANSWER = 1, CTL_FAIL = 2 };

static const char *const ctl_daemons[] = { "authd", "chatd", "voiced", "gatewayd", NULL };

struct ctl_args {
	const char *dir;	/* -s */
	const char *socket;	/* -S */
	const char *daemon;	/* a name or "all" */
	char line[CTL_LINE_MAX + 1];
};

static void
ctl_usage(void)
{
	fprintf(stderr, "usage: enclavrctl [-s dir | -S socket] daemon|all command [arg ...]\n"
	    "commands: status, reload, log-level [error|warn|info|debug], help,\n"
	    "          and the daemon's own (authd: revoke-user <user uuid>)\n");
}

static bool
ctl_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Joins the command words into one line; false when they do not fit or
 * hold a control character. */
static bool
ctl_join(char *line, size_t size, int argc, char **argv)
{
	size_t len = 0;

	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);

		for (size_t j = 0; j < n; j++)
			if ((unsigned char)argv[i][j] < 0x20 || argv[i][j] == 0x7f)
				return false;
		if (len + n + (i > 0) >= size)
			return false;
		if (i > 0)
			line[len++] = ' ';
		memcpy(line + len, argv[i], n);
		len += n;
	}
	line[len] = '\0';
	return len > 0;
}

/* Fills a from the command line; false (after the usage) when it is bad. */
static bool
ctl_parse_args(int argc, char **argv, struct ctl_args *a)
{
	int ch;

	memset(a, 0, sizeof(*a));
	a->dir = CTL_DEFAULT_DIR;
	optind = 1;
	while ((ch = getopt(argc, argv, "hs:S:")) != -1) {
		switch (ch) {
		case 's': a->dir = optarg; break;
		case 'S': a->socket = optarg; break;
		default: return false;
		}
	}
	argc -= optind, argv += optind;
	if (argc < 2)
		return false;
	a->daemon = argv[0];
	if (strcmp(a->daemon, "all") == 0 ? a->socket != NULL : !ctl_name_ok(a->daemon))
		return false;
	return ctl_join(a->line, sizeof(a->line), argc - 1, argv + 1);
}

static long long
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Reads the answer line (until a newline or the end) into a malloc'ed
 * string; NULL with errno on failure or timeout. */
static char *
ctl_read_answer(int fd)
{
	long long deadline = ctl_now_ms() + CTL_TIMEOUT_MS;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf != NULL) {
		struct pollfd p = { fd, POLLIN, 0 };
		long long left = deadline - ctl_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			errno = ETIMEDOUT;
			break;
		}
		if (len + 1 == cap) {
			char *nb = cap < CTL_ANSWER_MAX ? realloc(buf, cap * 2) : NULL;
			if (nb == NULL) {
				errno = EMSGSIZE;
				break;
			}
			buf = nb, cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && memchr(buf + len, '\n', (size_t)n) == NULL) {
			len += (size_t)n;
			continue;
		}
		if (n < 0 && len == 0)
			break;
		len += n > 0 ? (size_t)n : 0;
		buf[len] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (*buf != '\0')
			return buf;
		errno = ECONNRESET;
		break;
	}
	free(buf);
	return NULL;
}

/* Sends line to the socket at path; *answer is the parsed answer, or an
 * {"error":...} of our own when the daemon could not be asked. */
static int
ctl_ask(const char *path, const char *line, cJSON **answer)
{
	char msg[512], *text = NULL;
	int fd = ctl_connect(path);
	size_t len = strlen(line);

	*answer = NULL;
	if (fd >= 0) {
		/* A daemon that refuses us answers at once and closes: a failed
		 * send still leaves its answer to read. */
		if (send(fd, line, len, MSG_NOSIGNAL) == (ssize_t)len)
			send(fd, "\n", 1, MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		text = ctl_read_answer(fd);
		close(fd);
	}
	if (text != NULL && (*answer = cJSON_Parse(text)) != NULL && cJSON_IsObject(*answer)) {
		free(text);
		return cJSON_HasObjectItem(*answer, "error") ? CTL_ERROR_ANSWER : CTL_OK;
	}
	cJSON_Delete(*answer);
	if (text != NULL)
		snprintf(msg, sizeof(msg), "%s: not a JSON object: %.200s", path, text);
	else
		snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
	free(text);
	*answer = cJSON_CreateObject();
	cJSON_AddStringToObject(*answer, "error", "unreachable");
	cJSON_AddStringToObject(*answer, "message", msg);
	return CTL_FAIL;
}

static void
ctl_print(const cJSON *o)
{
	char *text = isatty(STDOUT_FILENO) ? cJSON_Print(o) : cJSON_PrintUnformatted(o);

	if (text != NULL)
		printf("%s\n", text);
	free(text);
}

static void
ctl_warn_error(const char *daemon, const cJSON *answer)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(answer, "message");

	fprintf(stderr, "enclavrctl: %s: %s\n", daemon,
	    cJSON_IsString(m) ? m->valuestring : "error");
}

static int
ctl_one(const struct ctl_args *a)
{
	char path[512];
	cJSON *answer;
	int rv;

	if (a->socket != NULL)
		snprintf(path, sizeof(path), "%s", a->socket);
	else
		snprintf(path, sizeof(path), "%s/%s.ctl", a->dir, a->daemon);
	rv = ctl_ask(path, a->line, &answer);
	if (rv == CTL_FAIL) {
		ctl_warn_error(a->daemon, answer);
	} else {
		ctl_print(answer);
		if (rv != CTL_OK)
			ctl_warn_error(a->daemon, answer);
	}
	cJSON_Delete(answer);
	return rv;
}

/* Every daemon whose socket exists in the directory, in one object. */
static int
ctl_all(const struct ctl_args *a)
{
	cJSON *all = cJSON_CreateObject();
	int rv = CTL_OK, found = 0;

	for (size_t i = 0; all != NULL && ctl_daemons[i] != NULL; i++) {
		char path[512];
		struct stat st;
		cJSON *answer;
		int r;

		snprintf(path, sizeof(path), "%s/%s.ctl", a->dir, ctl_daemons[i]);
		if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		found++;
		if ((r = ctl_ask(path, a->line, &answer)) != CTL_OK)
			ctl_warn_error(ctl_daemons[i], answer);
		rv = r > rv ? r : rv;
		cJSON_AddItemToObject(all, ctl_daemons[i], answer);
	}
	if (found == 0) {
		fprintf(stderr, "enclavrctl: no control socket in %s\n", a->dir);
		rv = CTL_FAIL;
	} else {
		ctl_print(all);
	}
	cJSON_Delete(all);
	return rv;
}

#ifndef ENCLAVRCTL_NO_MAIN
int
main(int argc, char **argv)
{
	struct ctl_args a;

	if (!ctl_parse_args(argc, argv, &a)) {
		ctl_usage();
		return CTL_FAIL;
	}
	return strcmp(a.daemon, "all") == 0 ? ctl_all(&a) : ctl_one(&a);
}
#endif
