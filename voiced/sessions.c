/* Voice sessions (reference §1.10): the time users spend in voice. A
 * channel's session opens on the join and closes on the leave
 * (participants.c); these routes open and close a room's own sessions and
 * read them and their totals. Each route is one call of a voice.* function
 * of sql/voice/004_sessions.sql. */
#include "voiced.h"

#include <stdio.h>

#define VOICE_SESSIONS_LIMIT_DEFAULT 50
#define VOICE_SESSIONS_LIMIT_MAX 100
#define VOICE_SESSIONS_OFFSET_MAX 1000000

const struct pg_stmt voice_sessions_stmts[] = {
	{ "voice_session_create", SVC_REPLY("voice.session_create($1, $2)"), 2 },
	{ "voice_session_end", SVC_REPLY("voice.session_end($1, $2)"), 2 },
	{ "voice_sessions_mine", SVC_REPLY("voice.sessions_mine($1, $2, $3, $4)"), 4 },
	{ "voice_sessions_of_room", SVC_REPLY("voice.sessions_of_room($1, $2, $3, $4)"), 4 },
	{ "voice_session_stats", SVC_REPLY("voice.session_stats($1, $2)"), 2 },
	{ NULL, NULL, 0 },
};

/* POST /api/voice-session/create {room_id} → 201 the session. */
static void
voice_session_create(struct svc_request *r)
{
	svc_call_param(r, "voice_session_create", "room_id");
}

/* POST /api/voice-session/end?id= → the ended session. */
static void
voice_session_end(struct svc_request *r)
{
	svc_call_param(r, "voice_session_end", "id");
}

/* ?limit= (1..100, 50 when absent) into out; false after answering 400. */
static bool
voice_sessions_limit(struct svc_request *r, char out[24])
{
	long n;

	if (!svc_query_int(r, "limit", 1, VOICE_SESSIONS_LIMIT_MAX, VOICE_SESSIONS_LIMIT_DEFAULT,
	    &n))
		return false;
	snprintf(out, 24, "%ld", n);
	return true;
}

/* GET /api/voice-sessions?limit=&offset=&active=true|false → the
 * caller's sessions, newest first. */
static void
voice_sessions_mine(struct svc_request *r)
{
	static const char *const bools[] = { "true", "false", NULL };
	char limit[24], offset[24];
	const char *params[4] = { r->user_id, limit, offset, NULL };
	long n;

	if (!voice_sessions_limit(r, limit) ||
	    !svc_query_int(r, "offset", 0, VOICE_SESSIONS_OFFSET_MAX, 0, &n) ||
	    !svc_query_enum(r, "active", bools, false, &params[3]))
		return;
	snprintf(offset, sizeof(offset), "%ld", n);
	params[3] = params[3] != NULL ? params[3] : "false";
	svc_call(r, "voice_sessions_mine", params);
}

/* GET /api/voice-sessions/room?room_id=&limit= → the room's sessions,
 * newest first, for its members. */
static void
voice_sessions_of_room(struct svc_request *r)
{
	char room[UUID_STRLEN + 1], limit[24];
	const char *params[4] = { room, r->user_id, svc_admin(r), limit };

	if (svc_query_uuid(r, "room_id", room) && voice_sessions_limit(r, limit))
		svc_call(r, "voice_sessions_of_room", params);
}

/* GET /api/voice-sessions/stats?room_id= → {total_sessions,
 * active_sessions, total_minutes, avg_duration_seconds} of the caller, in
 * one room or all. */
static void
voice_session_stats(struct svc_request *r)
{
	char room[UUID_STRLEN + 1];
	const char *params[2] = { r->user_id, NULL };

	if (svc_query_uuid_opt(r, "room_id", room, &params[1]))
		svc_call(r, "voice_session_stats", params);
}

static const struct svc_route voice_sessions_list[] = {
	{ { "POST", "/api/voice-session/create", ROUTE_USER, 1024, "default" },
	  voice_session_create },
	{ { "POST", "/api/voice-session/end", ROUTE_USER, 1024, "default" }, voice_session_end },
	{ { "GET", "/api/voice-sessions", ROUTE_USER, 0, "default" }, voice_sessions_mine },
	{ { "GET", "/api/voice-sessions/room", ROUTE_USER, 0, "default" },
	  voice_sessions_of_room },
	{ { "GET", "/api/voice-sessions/stats", ROUTE_USER, 0, "default" },
	  voice_session_stats },
};

const struct svc_routes voice_sessions_routes = {
	voice_sessions_list, sizeof(voice_sessions_list) / sizeof(voice_sessions_list[0])
};
