#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define CONTROL_TIMEOUT_S 10

/* One connection. Owned by its struct control: on the live list until it
 * is finished, then on the dead list, freed on the next loop turn. */
struct control_req {
	struct control *ctl;
	struct bufferevent *bev;
	struct control_req *prev, *next;
	unsigned uid;
	int pid;
	bool dispatched;	/* a handler owns the answer */
	bool gone;		/* the peer left before the answer */
	char line[CONTROL_LINE_MAX + 1];
};

struct control {
	const struct control_def *def;
	struct evconnlistener *lis;
	struct event *reaper;
	struct control_req *live, *dead;
	ino_t ino;		/* of the socket file this made */
};

static const char *const control_usage_builtin[] = {
	"status", "reload", "log-level [error|warn|info|debug]", "help", NULL
};

/* ---------------------------------------------------- connections */

static void
control_req_free(struct control_req *req)
{
	if (req->bev != NULL)
		bufferevent_free(req->bev);
	free(req);
}

static void
control_reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;
	(void)fd, (void)what;

	while (c->dead != NULL) {
		struct control_req *req = c->dead;
		c->dead = req->next;
		control_req_free(req);
	}
}

/* Ends req: closed and freed on the next loop turn, never inside its own
 * callback. */
static void
control_req_finish(struct control_req *req)
{
	struct control *c = req->ctl;

	if (req->prev)
		req->prev->next = req->next;
	else
		c->live = req->next;
	if (req->next)
		req->next->prev = req->prev;
	bufferevent_disable(req->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(req->bev, NULL, NULL, NULL, NULL);
	req->prev = NULL;
	req->next = c->dead;
	c->dead = req;
	event_active(c->reaper, 0, 0);
}

static void
control_written_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	control_req_finish(arg);
}

static void control_event_cb(struct bufferevent *bev, short what, void *arg);

void
control_reply(struct control_req *req, cJSON *body)
{
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;

	cJSON_Delete(body);
	if (req->gone) {
		free(text);
		control_req_finish(req);
		return;
	}
	if (text == NULL) {
		static const char oom[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}\n";
		bufferevent_write(req->bev, oom, sizeof(oom) - 1);
	} else {
		bufferevent_write(req->bev, text, strlen(text));
		bufferevent_write(req->bev, "\n", 1);
		free(text);
	}
	req->dispatched = true;	/* whatever still comes in is ignored */
	bufferevent_disable(req->bev, EV_READ);
	bufferevent_setcb(req->bev, NULL, control_written_cb, control_event_cb, req);
	bufferevent_enable(req->bev, EV_WRITE);
}

void
control_reply_error(struct control_req *req, const char *code, const char *message)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL) {
		cJSON_AddStringToObject(o, "error", code);
		cJSON_AddStringToObject(o, "message", message);
	}
	control_reply(req, o);
}

/* ---------------------------------------------------- built-in commands */

static void
control_cmd_status(struct control_req *req, const char *args, void *arg)
{
	const struct control_def *def = req->ctl->def;
	cJSON *o;
	(void)args;

	if (def->status == NULL || (o = def->status(arg)) == NULL) {
		control_reply_error(req, "internal", "no status");
		return;
	}
	if (!cJSON_HasObjectItem(o, "pid"))
		cJSON_AddNumberToObject(o, "pid", (double)getpid());
	if (!cJSON_HasObjectItem(o, "log_level"))
		cJSON_AddStringToObject(o, "log_level", log_level_name(log_get_level()));
	control_reply(req, o);
}

static void
control_cmd_reload(struct control_req *req, const char *args, void *arg)
{
	const struct control_def *def = req->ctl->def;
	char why[512] = "";
	cJSON *o;
	int n;
	(void)args;

	if (def->reload == NULL) {
		control_reply_error(req, "unsupported", "This daemon cannot reload");
		return;
	}
	if ((n = def->reload(arg, why, sizeof(why))) < 0) {
		control_reply_error(req, "reload_failed", *why ? why : "reload failed");
		return;
	}
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddBoolToObject(o, "reloaded", true);
		cJSON_AddNumberToObject(o, "changed", n);
		cJSON_AddStringToObject(o, "log_level", log_level_name(log_get_level()));
	}
	control_reply(req, o);
}

/* Until the next reload, which sets the configured level again. */
static void
control_cmd_log_level(struct control_req *req, const char *args, void *arg)
{
	int old = log_get_level(), lvl = *args ? log_level_parse(args) : old;
	cJSON *o;
	(void)arg;

	if (lvl < 0) {
		control_reply_error(req, "invalid_argument",
		    "The level is one of error, warn, info, debug");
		return;
	}
	if (lvl != old) {
		log_set_level(lvl);
		log_info("control: log level %s (was %s)", log_level_name(lvl),
		    log_level_name(old));
	}
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(o, "log_level", log_level_name(lvl));
		cJSON_AddStringToObject(o, "previous", log_level_name(old));
	}
	control_reply(req, o);
}

static void
control_cmd_help(struct control_req *req, const char *args, void *arg)
{
	const struct control_cmd *cmd = req->ctl->def->cmds;
	cJSON *o = cJSON_CreateObject(), *list;
	(void)args, (void)arg;

	if (o != NULL) {
		cJSON_AddStringToObject(o, "daemon", req->ctl->def->daemon);
		list = cJSON_AddArrayToObject(o, "commands");
		for (size_t i = 0; list && control_usage_builtin[i] != NULL; i++)
			cJSON_AddItemToArray(list, cJSON_CreateString(control_usage_builtin[i]));
		for (; list && cmd != NULL && cmd->name != NULL; cmd++)
			cJSON_AddItemToArray(list, cJSON_CreateString(cmd->usage ?
			    cmd->usage : cmd->name));
	}
	control_reply(req, o);
}

static const struct control_cmd control_builtin[] = {
	{ "status", NULL, control_cmd_status },
	{ "reload", NULL, control_cmd_reload },
	{ "log-level", NULL, control_cmd_log_level },
	{ "help", NULL, control_cmd_help },
	{ NULL, NULL, NULL },
};

/* ---------------------------------------------------- dispatch */

static const struct control_cmd *
control_cmd_find(const struct control_cmd *t, const char *name, size_t len)
{
	for (; t != NULL && t->name != NULL; t++)
		if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
			return t;
	return NULL;
}

/* True when the line is printable ASCII (a NUL or control byte is not). */
static bool
control_line_ok(const char *line, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return false;
	return true;
}

static void
control_dispatch(struct control_req *req, size_t len)
{
	const struct control_def *def = req->ctl->def;
	const struct control_cmd *cmd;
	char *line = req->line;
	size_t nlen;

	req->dispatched = true;
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (!control_line_ok(line, len)) {
		log_warnx("control: unreadable command line (uid %u)", req->uid);
		control_reply_error(req, "bad_request", "One command line of printable ASCII");
		return;
	}
	nlen = strcspn(line, " ");
	if ((cmd = control_cmd_find(control_builtin, line, nlen)) == NULL)
		cmd = control_cmd_find(def->cmds, line, nlen);
	if (cmd == NULL) {
		log_warnx("control: unknown command (uid %u)", req->uid);
		control_reply_error(req, "unknown_command", "No such command; try help");
		return;
	}
	log_info("control: %s (uid %u, pid %d)", line, req->uid, req->pid);
	cmd->fn(req, line[nlen] == ' ' ? line + nlen + 1 : line + nlen, def->arg);
}

/* Takes the first len bytes of the input as the command line. */
static void
control_take_line(struct control_req *req, struct evbuffer *in, size_t len, size_t eol)
{
	evbuffer_remove(in, req->line, len);
	req->line[len] = '\0';
	evbuffer_drain(in, eol);
	bufferevent_disable(req->bev, EV_READ);
	control_dispatch(req, len);
}

static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_req *req = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	size_t eol_len = 0;

	if (req->dispatched) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos >= 0 && (size_t)eol.pos <= CONTROL_LINE_MAX) {
		control_take_line(req, in, (size_t)eol.pos, eol_len);
	} else if (eol.pos >= 0 || evbuffer_get_length(in) > CONTROL_LINE_MAX) {
		log_warnx("control: command line too long (uid %u)", req->uid);
		evbuffer_drain(in, evbuffer_get_length(in));
		req->dispatched = true;
		control_reply_error(req, "line_too_long", "A command line is at most 4096 bytes");
	}
}

/* End of input, an error or a timeout. A last line without a newline is
 * still a command; a peer that left while its handler works is answered
 * into the void. */
static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_req *req = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);

	if (!req->dispatched && (what & BEV_EVENT_EOF) && len > 0 &&
	    len <= CONTROL_LINE_MAX) {
		control_take_line(req, in, len, 0);
		return;
	}
	if (!req->dispatched || req->gone) {
		control_req_finish(req);
		return;
	}
	/* Dispatched: either writing the answer (done now) or waiting for
	 * the handler, which still owns req and will answer. */
	if (bufferevent_get_enabled(bev) & EV_WRITE) {
		control_req_finish(req);
		return;
	}
	req->gone = true;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
}

/* uid 0 and the daemon's own euid only. */
static bool
control_peer_allowed(struct control_req *req, evutil_socket_t fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("control: SO_PEERCRED");
		return false;
	}
	req->uid = cred.uid;
	req->pid = cred.pid;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void
control_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control *c = arg;
	struct control_req *req = calloc(1, sizeof(*req));
	struct timeval tv = { CONTROL_TIMEOUT_S, 0 };
	(void)lis, (void)sa, (void)salen;

	if (req == NULL || (req->bev = bufferevent_socket_new(evconnlistener_get_base(lis),
	    fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("control: out of memory");
		free(req);
		evutil_closesocket(fd);
		return;
	}
	req->ctl = c;
	req->next = c->live;
	if (c->live)
		c->live->prev = req;
	c->live = req;
	bufferevent_set_timeouts(req->bev, &tv, &tv);
	if (!control_peer_allowed(req, fd)) {
		log_warnx("control: refused uid %u (pid %d): only root and the"
		    " daemon's own user may use it", req->uid, req->pid);
		req->dispatched = true;
		control_reply_error(req, "forbidden", "Permission denied");
		return;
	}
	bufferevent_setcb(req->bev, control_read_cb, NULL, control_event_cb, req);
	bufferevent_enable(req->bev, EV_READ);
}

/* ---------------------------------------------------- the socket */

/* Removes a socket file no process listens on; fatal when one does, or
 * when path is something else than a socket. */
static void
control_clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd;

	if (lstat(sun->sun_path, &st) < 0)
		return;
	if (!S_ISSOCK(st.st_mode))
		fatalx("control: %s exists and is not a socket", sun->sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		fatal("control: socket");
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		fatalx("control: %s: another process listens on it", sun->sun_path);
	close(fd);
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		fatal("control: cannot remove %s", sun->sun_path);
}

static evutil_socket_t
control_listen_fd(const char *path, ino_t *ino)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, rv;

	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("control: socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	control_clear_stale(&sun);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		fatal("control: socket");
	old = umask(0177);	/* the file is born 0600 */
	rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rv < 0)
		fatal("control: cannot bind %s", path);
	if (chmod(path, 0600) < 0 || stat(path, &st) < 0 || listen(fd, 16) < 0)
		fatal("control: %s", path);
	*ino = st.st_ino;
	return fd;
}

struct control *
control_open(struct event_base *base, const struct control_def *def)
{
	struct control *c;
	evutil_socket_t fd;

	if (def->path == NULL || *def->path == '\0')
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatalx("out of memory");
	c->def = def;
	fd = control_listen_fd(def->path, &c->ino);
	c->lis = evconnlistener_new(base, control_accept_cb, c,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	c->reaper = event_new(base, -1, 0, control_reaper_cb, c);
	if (c->lis == NULL || c->reaper == NULL)
		fatalx("control: cannot listen on %s", def->path);
	log_info("control socket %s", def->path);
	return c;
}

void
control_close(struct control *c)
{
	struct stat st;

	if (c == NULL)
		return;
	evconnlistener_free(c->lis);
	/* Only the file this made: a newer instance may have replaced it. */
	if (lstat(c->def->path, &st) == 0 && st.st_ino == c->ino)
		unlink(c->def->path);
	while (c->live != NULL) {
		struct control_req *req = c->live;
		c->live = req->next;
		control_req_free(req);
	}
	control_reaper_cb(-1, 0, c);
	event_free(c->reaper);
	free(c);
}
