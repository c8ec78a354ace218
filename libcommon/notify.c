#include "notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

void
notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (path == NULL || *path == '\0')
		return;
	if (strlen(path) >= sizeof(sun.sun_path) || (path[0] != '/' && path[0] != '@')) {
		log_warnx("notify: unusable NOTIFY_SOCKET");
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		log_warn("notify: socket");
		return;
	}
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0)
		log_warn("notify: sendto");
	close(fd);
}

static void
notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	notify_send("WATCHDOG=1");
}

struct event *
notify_watchdog_start(struct event_base *base)
{
	const char *s = getenv("WATCHDOG_USEC");
	struct timeval tv;
	struct event *ev;
	long long usec;

	if (s == NULL || (usec = atoll(s)) <= 0)
		return NULL;
	usec /= 2;
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	ev = event_new(base, -1, EV_PERSIST, notify_watchdog_cb, NULL);
	if (ev == NULL || event_add(ev, &tv) < 0)
		fatalx("notify: cannot arm the watchdog timer");
	return ev;
}
