/* The WebSocket hub: which socket is subscribed to which room or
 * conversation, and the delivery of chatd's events to them
 * (docs/websocket.md). Both are "streams" here (struct gw_room, of a kind):
 * a socket subscribes to a room itself, while it is subscribed to a
 * conversation by the first event of it that names the socket's user in
 * "to" (a new DM arrives without asking), or by asking (resume).
 *
 * A stream's persisted events carry a seq, 1, 2, 3... without gaps. The hub
 * keeps, per room with subscribers, the highest seq it has in order and the
 * last GW_RING frames. An event is serialised once, into a WebSocket frame
 * shared by reference among every receiving socket. A seq that skips
 * ahead (chatd died between commit and publish) is held back while the
 * missing events are read from chatd, so that every socket sees every
 * event in order. A socket that subscribes or resumes behind the room is
 * brought up to date from the ring, or from chatd when the ring no longer
 * reaches back that far. Events without a seq (typing, presence) go out as
 * they come. */
#include "gatewayd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "json.h"
#include "log.h"
#include "validate.h"

#define GW_HUB_BUCKETS 4096
#define GW_PENDING_MAX 1024		/* out-of-order events held per stream */
#define GW_EVENTS_PAGE 500		/* chatd's page of /internal/<x>/events */
#define GW_WS_MAX_CONVS 512		/* conversations per socket; the
					 * least recent goes */

/* What differs between a room and a conversation. */
struct gw_kind {
	const char *key;		/* the id's name in frames and queries */
	const char *subscribe, *events;	/* chatd's internal routes */
	const char *not_member, *not_found;
	int ring;			/* recent frames kept */
};

const struct gw_kind gw_kind_room = {
	"room_id", "/internal/chat/subscribe", "/internal/chat/events",
	"You are not a member of this room", "Room not found", 256,
};

const struct gw_kind gw_kind_conv = {
	"conversation_id", "/internal/dm/subscribe", "/internal/dm/events",
	"You are not a member of this conversation", "Conversation not found", 32,
};

enum gw_sub_state { SUB_JOINING, SUB_CATCHUP, SUB_LIVE };

struct gw_room {
	struct gw *gw;
	const struct gw_kind *kind;
	char id[UUID_STRLEN + 1];
	long long seq;			/* every event up to here is in order */
	struct gw_frame *pending[GW_PENDING_MAX];	/* ahead of seq, sorted */
	int npending;
	struct gw_icall *fill;		/* reading a gap from chatd */
	int busy;			/* delivering: not to be freed */
	struct gw_sub *subs;
	struct gw_room *hnext;
	struct gw_frame *ring[];	/* ring[seq % kind->ring] */
};

struct gw_sub {
	/* What a room's fan-out reads first, in one cache line. */
	struct gw_ws *ws;
	struct gw_sub *rprev, *rnext;	/* in room->subs */
	enum gw_sub_state state;
	long long delivered;		/* the last seq this socket got */
	const struct gw_kind *kind;
	struct gw_room *room;		/* NULL while joining */
	char room_id[UUID_STRLEN + 1];	/* the room's or conversation's */
	long long resume_from;		/* -1: a plain subscribe */
	struct gw_icall *call;
	cJSON *page;			/* events read from chatd, being sent */
	cJSON *item;			/* the next one to send */
	struct gw_sub *wnext;		/* in ws->subs */
};

static struct gw_room *gw_rooms[GW_HUB_BUCKETS];

/* ------------------------------------------------------------ frames */

/* A text frame of json: the 2-10 byte header of an unmasked server frame,
 * then the payload. */
struct gw_frame *
gw_frame_new(const char *json, size_t len, long long seq)
{
	struct gw_frame *f = malloc(sizeof(*f) + len + WSF_HEADER_MAX);
	size_t h;

	if (f == NULL)
		return NULL;
	f->refs = 1, f->seq = seq;
	f->left_user[0] = f->actor[0] = f->about[0] = f->erases[0] = '\0';
	f->self_excluded = false;
	h = wsf_header(f->data, WSF_OP_TEXT, len);
	memcpy(f->data + h, json, len);
	f->hlen = h;
	f->len = h + len;
	return f;
}

void
gw_frame_unref(struct gw_frame *f)
{
	if (f != NULL && --f->refs == 0)
		free(f);
}

/* Events the reference's room socket sends to everyone but their author. */
static bool
gw_hub_self_excluded(const char *type)
{
	static const char *types[] = { "user-joined", "user-left", "user-typing",
		"user-stopped-typing", NULL };

	for (int i = 0; types[i] != NULL; i++)
		if (strcmp(type, types[i]) == 0)
			return true;
	return false;
}

/* Copies payload's member name into out when it is a UUID and type is one
 * of types. */
static void
gw_frame_note(char out[UUID_STRLEN + 1], const char *type, const char *const *types,
    const cJSON *payload, const char *name)
{
	const char *id = json_str(payload, name);

	if (id == NULL || !uuid_valid(id))
		return;
	for (int i = 0; types[i] != NULL; i++)
		if (strcmp(type, types[i]) == 0) {
			valid_uuid_lower(out, id);
			return;
		}
}

/* Which message's text an event carries, and which message it deletes (its
 * id: payload.id, payload.message_id for dm-message-deleted). */
static void
gw_frame_notes(struct gw_frame *f, const char *type, const cJSON *payload)
{
	static const char *carry[] = { "chat-message", "message-updated", "thread-message",
		"thread-message-updated", "dm-message", "dm-message-updated", NULL };
	static const char *erase[] = { "message-deleted", "thread-message-deleted", NULL };
	static const char *dm_erase[] = { "dm-message-deleted", NULL };

	gw_frame_note(f->about, type, carry, payload, "id");
	gw_frame_note(f->erases, type, erase, payload, "id");
	gw_frame_note(f->erases, type, dm_erase, payload, "message_id");
}

/* The frame of an event envelope; remembers who a member-left is about,
 * who authored an event without seq, and gw_frame_notes. */
static struct gw_frame *
gw_frame_of_event(const cJSON *env)
{
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(env, "seq");
	const char *type = json_str(env, "type");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(env, "payload");
	const char *left = json_str(payload, "user_id"), *actor;
	char *text = cJSON_PrintUnformatted(env);
	struct gw_frame *f;

	if (text == NULL)
		return NULL;
	f = gw_frame_new(text, strlen(text), cJSON_IsNumber(seq) ? (long long)seq->valuedouble : 0);
	free(text);
	if (f == NULL || type == NULL)
		return f;
	gw_frame_notes(f, type, payload);
	if ((strcmp(type, "member-left") == 0 || strcmp(type, "group-dm-member-removed") == 0) &&
	    left != NULL && uuid_valid(left))
		snprintf(f->left_user, sizeof(f->left_user), "%s", left);
	if (f->seq <= 0 && (actor = json_str(env, "user_id")) != NULL && uuid_valid(actor)) {
		snprintf(f->actor, sizeof(f->actor), "%s", actor);
		f->self_excluded = gw_hub_self_excluded(type);
	}
	return f;
}

/* ------------------------------------------------------------ rooms */

static unsigned
gw_room_bucket(const char *id)
{
	return (unsigned)(hash_fnv1a(id) % GW_HUB_BUCKETS);
}

static struct gw_room *
gw_room_find(const char *id)
{
	for (struct gw_room *r = gw_rooms[gw_room_bucket(id)]; r != NULL; r = r->hnext)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

static struct gw_room *
gw_room_get(struct gw *gw, const struct gw_kind *kind, const char *id, long long seq)
{
	struct gw_room *r = gw_room_find(id);
	unsigned b;

	if (r != NULL ||
	    (r = calloc(1, sizeof(*r) + (size_t)kind->ring * sizeof(r->ring[0]))) == NULL)
		return r;
	r->gw = gw;
	r->kind = kind;
	memcpy(r->id, id, sizeof(r->id));
	r->seq = seq;
	b = gw_room_bucket(id);
	r->hnext = gw_rooms[b];
	gw_rooms[b] = r;
	return r;
}

/* Frees r once nobody is subscribed and nothing is in flight. */
static void
gw_room_release(struct gw_room *r)
{
	struct gw_room **pp;

	if (r->subs != NULL || r->fill != NULL || r->busy > 0)
		return;
	for (pp = &gw_rooms[gw_room_bucket(r->id)]; *pp != r; pp = &(*pp)->hnext)
		;
	*pp = r->hnext;
	for (int i = 0; i < r->kind->ring; i++)
		gw_frame_unref(r->ring[i]);
	for (int i = 0; i < r->npending; i++)
		gw_frame_unref(r->pending[i]);
	free(r);
}

/* The ring's frame of seq, or NULL when it is gone or never came. */
static struct gw_frame *
gw_room_ring(const struct gw_room *r, long long seq)
{
	struct gw_frame *f = r->ring[seq % r->kind->ring];

	return f != NULL && f->seq == seq ? f : NULL;
}

/* ------------------------------------------------------------ subscriptions */

static void gw_sub_pump(struct gw_sub *s);

static void
gw_sub_send_status(struct gw_sub *s, const char *type, long long seq)
{
	cJSON *o, *p;

	if (s->ws->compat_room[0] != '\0' || s->ws->compat_conv[0] != '\0')
		return;		/* the reference's sockets have no such answers */
	if ((o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, s->kind->key, s->room_id);
	if (seq >= 0 && (p = cJSON_AddObjectToObject(o, "payload")) != NULL)
		cJSON_AddNumberToObject(p, "seq", (double)seq);
	gw_ws_send_json(s->ws, o);
}

static void
gw_sub_error(struct gw_sub *s, const char *code, const char *message)
{
	gw_ws_send_error_about(s->ws, s->kind->key, s->room_id, code, message);
}

static void
gw_sub_unlink_room(struct gw_sub *s)
{
	struct gw_room *r = s->room;

	if (r == NULL)
		return;
	if (s->rprev)
		s->rprev->rnext = s->rnext;
	else
		r->subs = s->rnext;
	if (s->rnext)
		s->rnext->rprev = s->rprev;
	s->room = NULL;
	gw_room_release(r);
}

/* Forgets s entirely (the socket keeps going). */
static void
gw_sub_free(struct gw_sub *s)
{
	struct gw_sub **pp;

	for (pp = &s->ws->subs; *pp != s; pp = &(*pp)->wnext)
		;
	*pp = s->wnext;
	if (s->kind == &gw_kind_conv)
		s->ws->nconvs--;
	else
		s->ws->nsubs--;
	gw_internal_cancel(s->call);
	cJSON_Delete(s->page);
	gw_sub_unlink_room(s);
	free(s);
}

static struct gw_sub *
gw_sub_find(struct gw_ws *ws, const char *room_id)
{
	for (struct gw_sub *s = ws->subs; s != NULL; s = s->wnext)
		if (strcmp(s->room_id, room_id) == 0)
			return s;
	return NULL;
}

/* Sends f to s when it is the next one s needs. True when the socket
 * went (member-left about its user, or a queue overflow). */
static bool
gw_sub_deliver(struct gw_sub *s, struct gw_frame *f)
{
	bool gone = false;

	if (f->seq > 0) {
		if (f->seq <= s->delivered)
			return false;
		s->delivered = f->seq;
	} else if (!gw_compat_wants(s->ws, f)) {
		return false;
	}
	gw_ws_send_frame(s->ws, f);
	/* Whoever leaves or is removed gets that event, then nothing more. */
	if (f->left_user[0] != '\0' && strcmp(f->left_user, s->ws->user_id) == 0) {
		gw_sub_free(s);
		gone = true;
	}
	return gone;
}

enum gw_ring_result { RING_DONE, RING_MISSING, RING_GONE, RING_BLOCKED };

/* Sends the ring's frames after s->delivered, up to the room's seq, while
 * the socket has room for them. */
static enum gw_ring_result
gw_sub_from_ring(struct gw_sub *s)
{
	struct gw_room *r = s->room;

	while (s->delivered < r->seq) {
		struct gw_frame *f = gw_room_ring(r, s->delivered + 1);
		if (f == NULL)
			return RING_MISSING;
		if (!gw_ws_writable(s->ws))
			return RING_BLOCKED;
		if (gw_sub_deliver(s, f))
			return RING_GONE;
	}
	return RING_DONE;
}

static void
gw_sub_go_live(struct gw_sub *s)
{
	s->state = SUB_LIVE;
	if (s->resume_from >= 0)
		gw_sub_send_status(s, "resumed", s->delivered);
	s->resume_from = -1;
}

/* chatd had nothing after s->delivered although the room is further on
 * (events lost for good): go on from the oldest one the ring holds. */
static void
gw_sub_skip_to_ring(struct gw_sub *s)
{
	long long seq = s->delivered + 1;

	while (seq <= s->room->seq && gw_room_ring(s->room, seq) == NULL)
		seq++;
	log_warnx("hub: %s %s: events %lld to %lld are missing", s->kind->key, s->room_id,
	    s->delivered + 1, seq - 1);
	s->delivered = seq - 1;
}

static void
gw_sub_events_cb(int status, cJSON *body, void *arg)
{
	struct gw_sub *s = arg;

	s->call = NULL;
	if (status != 200 || !cJSON_IsArray(body) || (s->page = cJSON_CreateArray()) == NULL) {
		gw_sub_error(s, "unavailable", "Could not read the events; resume later");
		gw_sub_free(s);
		return;
	}
	/* The page's events become s's (body is freed after this returns). */
	s->page->child = body->child;
	body->child = NULL;
	s->item = s->page->child;
	gw_sub_pump(s);
}

/* Reads the events after s->delivered from chatd (one page). */
static void
gw_sub_fetch(struct gw_sub *s)
{
	char query[96];

	snprintf(query, sizeof(query), "%s=%s&after=%lld", s->kind->key, s->room_id,
	    s->delivered);
	s->call = gw_internal_call(s->ws->conn->gw, GW_CHATD, s->kind->events,
	    query, s->ws->user_id, gw_sub_events_cb, s);
	if (s->call == NULL) {
		gw_sub_error(s, "unavailable", "chatd is not available; resume later");
		gw_sub_free(s);
	}
}

/* Carries s's catch-up on as far as its socket's queue allows: the page
 * read from chatd, further pages, then the ring, then live. A full queue
 * pauses it until the socket drains (gw_hub_writable): a catch-up is paced
 * by the reader, never cut off like a reader that falls behind live. */
static void
gw_sub_pump(struct gw_sub *s)
{
	while (s->item != NULL) {
		struct gw_frame *f;
		bool gone = false;

		if (!gw_ws_writable(s->ws))
			return;
		f = gw_frame_of_event(s->item);
		s->item = s->item->next;
		if (f != NULL && f->seq > 0)
			gone = gw_sub_deliver(s, f);
		gw_frame_unref(f);
		if (gone)
			return;
	}
	if (s->page != NULL) {
		int n = cJSON_GetArraySize(s->page);

		cJSON_Delete(s->page);
		s->page = NULL;
		if (n == GW_EVENTS_PAGE) {
			gw_sub_fetch(s);
			return;
		}
		if (n == 0 && s->delivered < s->room->seq)
			gw_sub_skip_to_ring(s);
	}
	switch (gw_sub_from_ring(s)) {
	case RING_DONE:
		gw_sub_go_live(s);
		break;
	case RING_MISSING:
		gw_sub_fetch(s);
		break;
	case RING_GONE:
	case RING_BLOCKED:
		break;
	}
}

static void
gw_sub_catch_up(struct gw_sub *s)
{
	s->state = SUB_CATCHUP;
	cJSON_Delete(s->page);
	s->page = s->item = NULL;
	gw_sub_pump(s);
}

/* The socket's queue drained: catch-ups it paused go on. */
void
gw_hub_writable(struct gw_ws *ws)
{
	for (struct gw_sub *s = ws->subs, *next; s != NULL; s = next) {
		next = s->wnext;
		if (s->state == SUB_CATCHUP && s->call == NULL)
			gw_sub_pump(s);
	}
}

static void
gw_sub_link_room(struct gw_sub *s, struct gw_room *r)
{
	s->room = r;
	s->rnext = r->subs;
	if (r->subs)
		r->subs->rprev = s;
	r->subs = s;
}

/* Ends the socket's least recent conversation subscription that is not
 * busy catching up (the last in ws->subs), to make room for one more. */
static void
gw_ws_drop_oldest_conv(struct gw_ws *ws)
{
	struct gw_sub *oldest = NULL;

	for (struct gw_sub *s = ws->subs; s != NULL; s = s->wnext)
		if (s->kind == &gw_kind_conv && s->state == SUB_LIVE)
			oldest = s;
	if (oldest != NULL)
		gw_sub_free(oldest);
}

/* A new subscription of ws to id, in ws->subs; NULL when the socket has
 * too many rooms (answered) or memory ran out. */
static struct gw_sub *
gw_sub_new(struct gw_ws *ws, const struct gw_kind *kind, const char *id)
{
	struct gw_sub *s;

	if (kind == &gw_kind_conv && ws->nconvs >= GW_WS_MAX_CONVS)
		gw_ws_drop_oldest_conv(ws);
	if (kind == &gw_kind_room && ws->nsubs >= (int)ws->conn->gw->conf->ws_max_rooms) {
		gw_ws_send_error(ws, id, "too_many_rooms", "Too many rooms on one socket");
		return NULL;
	}
	if ((s = gw_calloc_line(sizeof(*s))) == NULL)
		return NULL;
	s->ws = ws;
	s->kind = kind;
	memcpy(s->room_id, id, sizeof(s->room_id));
	s->resume_from = -1;
	s->wnext = ws->subs;
	ws->subs = s;
	if (kind == &gw_kind_conv)
		ws->nconvs++;
	else
		ws->nsubs++;
	return s;
}

static void
gw_sub_joined_cb(int status, cJSON *body, void *arg)
{
	struct gw_sub *s = arg;
	double seq = json_num(body, "seq", -1);
	struct gw_room *r;

	s->call = NULL;
	if (status == 403 || status == 404) {
		gw_sub_error(s, status == 403 ? "not_member" : "not_found",
		    status == 403 ? s->kind->not_member : s->kind->not_found);
		gw_sub_free(s);
		return;
	}
	if (status != 200 || seq < 0 ||
	    (r = gw_room_get(s->ws->conn->gw, s->kind, s->room_id, (long long)seq)) == NULL) {
		gw_sub_error(s, "unavailable", "Could not subscribe now; try again");
		gw_sub_free(s);
		return;
	}
	gw_sub_link_room(s, r);
	if (s->resume_from < 0) {
		/* Subscribed at chatd's seq; the ring fills what arrived here
		 * meanwhile, and what is in flight follows. */
		s->delivered = (long long)seq;
		gw_sub_send_status(s, "subscribed", s->delivered);
	} else {
		s->delivered = s->resume_from < (long long)seq ? s->resume_from : (long long)seq;
	}
	gw_sub_catch_up(s);
}

/* {"type":"subscribe"|"resume","room_id"|"conversation_id","payload":{"seq"}} */
void
gw_hub_subscribe(struct gw_ws *ws, const struct gw_kind *kind, const char *id,
    long long resume_from)
{
	struct gw_sub *s = gw_sub_find(ws, id);
	char query[96];

	if (s != NULL && s->state != SUB_LIVE) {
		gw_ws_send_error_about(ws, kind->key, id, "in_progress",
		    "This subscription is being set up");
		return;
	}
	if (s != NULL) {
		if (resume_from < 0) {
			gw_sub_send_status(s, "subscribed", s->delivered);
		} else {
			s->resume_from = resume_from;
			s->delivered = resume_from < s->room->seq ? resume_from : s->room->seq;
			gw_sub_catch_up(s);
		}
		return;
	}
	if ((s = gw_sub_new(ws, kind, id)) == NULL)
		return;
	s->resume_from = resume_from;
	snprintf(query, sizeof(query), "%s=%s", kind->key, id);
	s->call = gw_internal_call(ws->conn->gw, GW_CHATD, kind->subscribe, query,
	    ws->user_id, gw_sub_joined_cb, s);
	if (s->call == NULL) {
		gw_sub_error(s, "unavailable", "chatd is not available; try again");
		gw_sub_free(s);
	}
}

void
gw_hub_unsubscribe(struct gw_ws *ws, const struct gw_kind *kind, const char *id)
{
	struct gw_sub *s = gw_sub_find(ws, id);
	cJSON *o;

	if (s == NULL || s->kind != kind) {
		gw_ws_send_error_about(ws, kind->key, id, "not_subscribed", "Not subscribed to it");
		return;
	}
	gw_sub_free(s);
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(o, "type", "unsubscribed");
		cJSON_AddStringToObject(o, kind->key, id);
		gw_ws_send_json(ws, o);
	}
}

bool
gw_hub_subscribed(struct gw_ws *ws, const char *room_id)
{
	struct gw_sub *s = gw_sub_find(ws, room_id);

	return s != NULL && s->state == SUB_LIVE;
}

/* The socket is going: every subscription with it. */
void
gw_hub_drop(struct gw_ws *ws)
{
	while (ws->subs != NULL)
		gw_sub_free(ws->subs);
}

/* ------------------------------------------------------------ events */

/* Sends f to every live subscriber of r. */
static void
gw_room_broadcast(struct gw_room *r, struct gw_frame *f)
{
	for (struct gw_sub *s = r->subs, *next; s != NULL; s = next) {
		next = s->rnext;
		if (s->state == SUB_LIVE)
			gw_sub_deliver(s, f);
	}
}

/* A deleted message's text leaves the ring: a catch-up reads those
 * events again from chatd, which erased it (sql/chat/010_scrub_deleted.sql). */
static void
gw_room_forget(struct gw_room *r, const char *message_id)
{
	for (int i = 0; i < r->kind->ring; i++)
		if (r->ring[i] != NULL && strcmp(r->ring[i]->about, message_id) == 0) {
			gw_frame_unref(r->ring[i]);
			r->ring[i] = NULL;
		}
}

/* f is r's next event: into the ring, out to the subscribers. */
static void
gw_room_accept(struct gw_room *r, struct gw_frame *f)
{
	if (f->erases[0] != '\0')
		gw_room_forget(r, f->erases);
	struct gw_frame **slot = &r->ring[f->seq % r->kind->ring];

	gw_frame_unref(*slot);
	f->refs++;
	*slot = f;
	r->seq = f->seq;
	gw_room_broadcast(r, f);
}

/* Accepts the held events that now follow in order. */
static void
gw_room_drain_pending(struct gw_room *r)
{
	int i = 0;

	while (i < r->npending && r->pending[i]->seq <= r->seq + 1) {
		if (r->pending[i]->seq == r->seq + 1)
			gw_room_accept(r, r->pending[i]);
		gw_frame_unref(r->pending[i]);
		i++;
	}
	memmove(r->pending, r->pending + i, (size_t)(r->npending - i) * sizeof(r->pending[0]));
	r->npending -= i;
}

static void gw_room_fill(struct gw_room *r);

static void
gw_room_fill_cb(int status, cJSON *body, void *arg)
{
	struct gw_room *r = arg;
	const cJSON *list = status == 200 && cJSON_IsArray(body) ? body : NULL, *env;
	long long before = r->seq;
	int n = 0;

	r->fill = NULL;
	r->busy++;
	cJSON_ArrayForEach(env, list) {
		struct gw_frame *f = gw_frame_of_event(env);
		n++;
		if (f != NULL && f->seq == r->seq + 1)
			gw_room_accept(r, f);
		gw_frame_unref(f);
	}
	gw_room_drain_pending(r);
	if (r->npending > 0 && r->seq == before) {
		/* chatd cannot fill the gap (down, or the events are gone):
		 * go on past it rather than hold the room back for good;
		 * its sockets can resume. */
		log_warnx("hub: %s %s: events %lld to %lld skipped (chatd answered %d)",
		    r->kind->key, r->id, r->seq + 1, r->pending[0]->seq - 1, status);
		r->seq = r->pending[0]->seq - 1;
		gw_room_drain_pending(r);
	}
	if (r->npending > 0 || n == GW_EVENTS_PAGE)
		gw_room_fill(r);	/* a gap left, or more to read */
	r->busy--;
	gw_room_release(r);
}

/* Reads the events after r->seq from chatd: up to the first held one (a
 * gap), or whatever there is (a resync). */
static void
gw_room_fill(struct gw_room *r)
{
	char query[96];

	if (r->fill != NULL)
		return;
	snprintf(query, sizeof(query), "%s=%s&after=%lld", r->kind->key, r->id, r->seq);
	r->fill = gw_internal_call(r->gw, GW_CHATD, r->kind->events, query, NULL,
	    gw_room_fill_cb, r);
}

/* Holds f (ahead of r->seq) in order until the gap before it is filled. */
static void
gw_room_hold(struct gw_room *r, struct gw_frame *f)
{
	int i = r->npending;

	if (r->npending == GW_PENDING_MAX) {
		gw_frame_unref(f);
		return;
	}
	while (i > 0 && r->pending[i - 1]->seq > f->seq)
		i--;
	if (i > 0 && r->pending[i - 1]->seq == f->seq) {
		gw_frame_unref(f);
		return;
	}
	memmove(r->pending + i + 1, r->pending + i, (size_t)(r->npending - i) * sizeof(r->pending[0]));
	r->pending[i] = f;
	r->npending++;
	gw_room_fill(r);
}

/* Event f (taken) of stream r: out at once (no seq), held until a gap
 * before it is filled, accepted in order, or dropped as seen already. */
static void
gw_room_event(struct gw_room *r, struct gw_frame *f)
{
	r->busy++;
	if (f->seq > r->seq + 1) {
		gw_room_hold(r, f);		/* takes f */
	} else {
		if (f->seq <= 0)
			gw_room_broadcast(r, f);	/* typing, presence: as they come */
		else if (f->seq == r->seq + 1)
			gw_room_accept(r, f);
		gw_frame_unref(f);
	}
	gw_room_drain_pending(r);
	r->busy--;
	gw_room_release(r);
}

/* An event on topic room.<id> from chatd. */
void
gw_hub_event(const char *topic, const cJSON *env)
{
	struct gw_room *r = gw_room_find(topic + 5);
	struct gw_frame *f;

	if (r == NULL || (f = gw_frame_of_event(env)) == NULL)
		return;			/* nobody here listens to that room */
	gw_room_event(r, f);
}

/* ------------------------------------------------------------ conversations */

/* Whether ws takes conversation id's events: not the reference's room
 * socket; the reference's DM socket only its own conversation. */
static bool
gw_ws_takes_conv(const struct gw_ws *ws, const char *id)
{
	if (ws->compat_room[0] != '\0' || ws->dead)
		return false;
	return ws->compat_conv[0] == '\0' || strcmp(ws->compat_conv, id) == 0;
}

/* Subscribes the sockets here of the users in "to" that are not yet to
 * conversation id, at event seq: they get that event and what follows.
 * The conversation's stream, or NULL when none of them is here. */
static struct gw_room *
gw_conv_subscribe_to(struct gw *gw, const char *id, const cJSON *to, long long seq)
{
	struct gw_room *r = gw_room_find(id);
	const cJSON *u;

	cJSON_ArrayForEach(u, to) {
		if (!cJSON_IsString(u))
			continue;
		for (struct gw_ws *ws = gw_presence_sockets(u->valuestring); ws != NULL;
		    ws = ws->user_next) {
			struct gw_sub *s;

			if (!gw_ws_takes_conv(ws, id) || gw_sub_find(ws, id) != NULL)
				continue;
			if (r == NULL && (r = gw_room_get(gw, &gw_kind_conv, id, seq - 1)) == NULL)
				return NULL;
			if ((s = gw_sub_new(ws, &gw_kind_conv, id)) == NULL)
				continue;
			s->state = SUB_LIVE;
			s->delivered = seq - 1;
			gw_sub_link_room(s, r);
		}
	}
	return r;
}

/* An event without seq (dm-typing): to the sockets of the users in "to",
 * but its author's. */
static void
gw_conv_ephemeral(const char *id, const cJSON *to, struct gw_frame *f)
{
	const cJSON *u;

	cJSON_ArrayForEach(u, to) {
		if (!cJSON_IsString(u) || strcmp(u->valuestring, f->actor) == 0)
			continue;
		for (struct gw_ws *ws = gw_presence_sockets(u->valuestring); ws != NULL;
		    ws = ws->user_next)
			if (gw_ws_takes_conv(ws, id))
				gw_ws_send_frame(ws, f);
	}
}

/* An event on topic dm.<id> from chatd: for the sockets of the users in
 * its "to", which is taken out before the frame is made. */
void
gw_hub_dm_event(struct gw *gw, const char *topic, cJSON *env)
{
	const char *id = topic + 3;
	cJSON *to = cJSON_DetachItemFromObjectCaseSensitive(env, "to");
	struct gw_frame *f;
	struct gw_room *r;

	if (!cJSON_IsArray(to) || !uuid_valid(id) || (f = gw_frame_of_event(env)) == NULL) {
		cJSON_Delete(to);
		return;
	}
	if (f->seq <= 0) {
		gw_conv_ephemeral(id, to, f);
		gw_frame_unref(f);
	} else if ((r = gw_conv_subscribe_to(gw, id, to, f->seq)) != NULL) {
		gw_room_event(r, f);
	} else {
		gw_frame_unref(f);
	}
	cJSON_Delete(to);
}

/* Events published while gatewayd was not connected to chatd's PUB socket
 * (at start, or across a chatd restart) never arrive; a later event shows
 * the gap, but nothing shows the missing last ones. So on every connection
 * each room reads the events after its seq, as for a gap. */
void
gw_hub_resync(void)
{
	for (int i = 0; i < GW_HUB_BUCKETS; i++)
		for (struct gw_room *r = gw_rooms[i]; r != NULL; r = r->hnext)
			gw_room_fill(r);
}

int
gw_hub_rooms(void)
{
	int n = 0;

	for (int i = 0; i < GW_HUB_BUCKETS; i++)
		for (struct gw_room *r = gw_rooms[i]; r != NULL; r = r->hnext)
			n++;
	return n;
}
