/* Membership: joining (with the room's password, bans and max_users),
 * leaving, the member list, room roles, removing a member, and ownership
 * transfer. Every write is one chat.* function (one transaction) that also
 * emits its event, published after commit (reply.c). */
#include "chatd.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

const struct pg_stmt chat_members_stmts[] = {
	{ "chat_room_pass", "SELECT password_hash FROM chat.rooms WHERE id = $1", 1 },
	{ "chat_room_join", SVC_REPLY("chat.room_join($1, $2, $3)"), 3 },
	{ "chat_room_leave", SVC_REPLY("chat.room_leave($1, $2)"), 2 },
	{ "chat_room_transfer", SVC_REPLY("chat.room_transfer($1, $2, $3, $4)"), 4 },
	{ "chat_member_set_role", SVC_REPLY("chat.member_set_role($1, $2, $3, $4, $5)"), 5 },
	{ "chat_member_kick", SVC_REPLY("chat.member_kick($1, $2, $3, $4)"), 4 },
	{ "chat_room_members", SVC_REPLY("chat.room_members($1, $2, $3)"), 3 },
	{ NULL, NULL, 0 },
};

/* ------------------------------------------------------------ join */

/* A join in progress (reading the room's hash, verifying the password);
 * freed by its release when answered. */
struct chat_join_op {
	struct svc_op op;		/* first */
	const char *room;		/* in the body */
	char *password;			/* in the body: wiped with the op */
	char *hash;			/* the room's, once read */
};

static void
chat_join_release(struct svc_op *op)
{
	struct chat_join_op *c = (struct chat_join_op *)op;

	if (c->password != NULL)
		sodium_memzero(c->password, strlen(c->password));
	free(c->hash);
	free(c);
}

/* The join itself, once the password (if any) matched c->hash. */
static void
chat_join_run(struct chat_join_op *c)
{
	const char *params[3] = { c->room, c->op.r->user_id, c->hash };

	svc_op_call(&c->op, "chat_room_join", params);
}

static void
chat_join_verified(bool ok, void *arg)
{
	struct chat_join_op *c = arg;

	if (!ok) {
		svc_op_fail(&c->op, 403, "invalid_password", "Invalid password");
		return;
	}
	chat_join_run(c);
}

static void
chat_join_found(PGresult *res, void *arg)
{
	struct chat_join_op *c = arg;

	if (!svc_op_ok(&c->op, res, PGRES_TUPLES_OK))
		return;
	if (PQntuples(res) != 1) {
		svc_op_fail(&c->op, 404, "not_found", "Room not found");
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		chat_join_run(c);
		return;
	}
	if (c->password == NULL || *c->password == '\0') {
		svc_op_fail(&c->op, 403, "invalid_password", "Invalid password");
		return;
	}
	if ((c->hash = strdup(PQgetvalue(res, 0, 0))) == NULL) {
		svc_op_fail(&c->op, 500, "internal", "Out of memory");
		return;
	}
	if (chat_roompass_verify(c->password, c->hash, chat_join_verified, c) < 0)
		svc_op_fail(&c->op, 503, "busy", "Too many room passwords at once; try again");
}

/* POST /api/room/join {room_id, password?}: the password is checked
 * whenever the room has one (public or private), on the worker pool; bans,
 * max_users and the membership are checked in chat.room_join with the room
 * locked. 200 {"status":"joined"}; emits member-joined. */
static void
chat_room_join(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	struct chat_join_op *c;
	const char *why, *pw, *params[1];

	if (body == NULL || (c = svc_op_new(r, body, sizeof(*c), chat_join_release)) == NULL)
		return;
	why = valid_member_uuid(body, "room_id", true, &c->room);
	if (why == NULL)
		why = valid_member_text(body, "password", false, 0, CHAT_ROOM_PASS_MAX, &pw);
	if (why != NULL) {
		svc_op_fail(&c->op, 400, "invalid_request", why);
		return;
	}
	c->password = (char *)pw;
	params[0] = c->room;
	svc_op_query(&c->op, "chat_room_pass", params, chat_join_found);
}

/* ------------------------------------------------------------ leave, members */

/* POST /api/room/leave {room_id}: 404 "Not in room" for a non-member. The
 * owner may leave only as the last member (409 otherwise: transfer first).
 * Emits member-left. */
static void
chat_room_leave(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *params[2] = { NULL, r->user_id };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "room_id", true, &params[0]))
		svc_call(r, "chat_room_leave", params);
	cJSON_Delete(body);		/* pg_exec copied the parameters */
}

/* GET /api/room/members?room_id=: for members and global admins,
 * [{user_id, username, display_name, avatar_url, role, joined_at}]. */
static void
chat_room_members(struct svc_request *r)
{
	svc_call_id(r, "chat_room_members", "room_id");
}

/* ------------------------------------------------------------ roles */

/* The role a body asks for: admin, moderator or member; NULL or why not. */
static const char *
chat_member_role(const cJSON *body, const char **role)
{
	const char *why = valid_member_text(body, "role", true, 1, 16, role);

	if (why != NULL)
		return why;
	if (strcmp(*role, "owner") == 0)
		return "Ownership moves only by /api/room/transfer-ownership";
	if (strcmp(*role, "admin") != 0 && strcmp(*role, "moderator") != 0 &&
	    strcmp(*role, "member") != 0)
		return "role must be admin, moderator or member";
	return NULL;
}

/* POST /api/room/member/role {room_id, user_id, role}: role admin,
 * moderator or member; the rules are chat.member_set_role's. Emits
 * member-role-changed when the role changes. */
static void
chat_member_set_role(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *why, *params[5] = { NULL, r->user_id, svc_admin(r), NULL, NULL };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "room_id", true, &params[0]) &&
	    svc_body_uuid(r, body, "user_id", true, &params[3])) {
		if ((why = chat_member_role(body, &params[4])) != NULL)
			svc_respond_error(r, 400, "invalid_request", why);
		else
			svc_call(r, "chat_member_set_role", params);
	}
	cJSON_Delete(body);
}

/* DELETE /api/room/member?room_id=&user_id=: a moderator or above removes
 * a member of a strictly lower role. Emits member-left {user_id,
 * removed_by}. */
static void
chat_member_kick(struct svc_request *r)
{
	char room[UUID_STRLEN + 1], user[UUID_STRLEN + 1];
	const char *params[4] = { room, r->user_id, svc_admin(r), user };

	if (svc_query_uuid(r, "room_id", room) && svc_query_uuid(r, "user_id", user))
		svc_call(r, "chat_member_kick", params);
}

/* POST /api/room/transfer-ownership {room_id, new_owner_id}: the owner (or
 * a global admin) to a member; the old owner becomes a member. 200
 * {room_id, old_owner_id, new_owner_id, status "transferred"}; emits
 * member-role-changed for each of them. */
static void
chat_room_transfer(struct svc_request *r)
{
	cJSON *body = svc_request_json(r);
	const char *params[4] = { NULL, r->user_id, svc_admin(r), NULL };

	if (body == NULL)
		return;
	if (svc_body_uuid(r, body, "room_id", true, &params[0]) &&
	    svc_body_uuid(r, body, "new_owner_id", true, &params[3]))
		svc_call(r, "chat_room_transfer", params);
	cJSON_Delete(body);
}

static const struct svc_route chat_members_table[] = {
	{ { "POST", "/api/room/join", ROUTE_USER, 4096, "default" }, chat_room_join },
	{ { "POST", "/api/room/leave", ROUTE_USER, 1024, "default" }, chat_room_leave },
	{ { "GET", "/api/room/members", ROUTE_USER, 0, "default" }, chat_room_members },
	{ { "POST", "/api/room/member/role", ROUTE_USER, 1024, "default" }, chat_member_set_role },
	{ { "DELETE", "/api/room/member", ROUTE_USER, 0, "default" }, chat_member_kick },
	{ { "POST", "/api/room/transfer-ownership", ROUTE_USER, 1024, "default" },
	  chat_room_transfer },
};

const struct svc_routes chat_members_routes = {
	chat_members_table, sizeof(chat_members_table) / sizeof(chat_members_table[0])
};
