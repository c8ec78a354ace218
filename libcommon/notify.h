/* systemd readiness protocol (sd_notify) without libsystemd: READY,
 * STOPPING, RELOADING, WATCHDOG and STATUS datagrams to $NOTIFY_SOCKET. */
#ifndef ENCLAVR_NOTIFY_H
#define ENCLAVR_NOTIFY_H

#include <event2/event.h>

/* Sends state (e.g. "READY=1") when run under systemd; a no-op otherwise. */
void notify_send(const char *state);
/* When $WATCHDOG_USEC is set, arms a timer on base that pings at half the
 * interval. Returns the event (freed by the caller) or NULL. */
struct event *notify_watchdog_start(struct event_base *base);

#endif
