/* chatd: rooms, messages, DMs, presence and moderation. Shared state and
 * the functions its files offer each other:
 *   chatd.c     options, the daemon definition (routes and statements)
 *   request.c   the cursor page of message lists
 *   events.c    publishing room and conversation events; the internal
 *               routes gatewayd uses to subscribe sockets and to resume
 *               after a gap
 * Each concern (rooms.c, categories.c, messages.c...) exports its routes
 * and statements as `const struct svc_routes chat_<x>_routes` and
 * `const struct pg_stmt chat_<x>_stmts[]`, listed in chatd.c. A route
 * checks its request with libcommon/svc_params.h and makes its one SQL
 * call, a chat.* function returning a chat.reply, with svc_call
 * (libcommon/svc_reply.h), which publishes the events after the commit. */
#ifndef CHATD_H
#define CHATD_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "svc.h"
#include "svc_params.h"
#include "svc_reply.h"
#include "uuid.h"

struct chatd_conf {
	struct svc_conf svc;		/* first, as svc requires */
};

struct chatd {
	struct svc *svc;
	struct chatd_conf *conf;
};

extern struct chatd chatd;

/* request.c */
/* A page of a list: ?limit= (1..max, def when absent) and at most one of
 * ?before= and ?after=, message ids; before_p/after_p point into the
 * struct, or are NULL when absent. */
struct chat_page {
	char limit[8], before[UUID_STRLEN + 1], after[UUID_STRLEN + 1];
	const char *before_p, *after_p;
};
bool chat_query_page(struct svc_request *r, long def, long max, struct chat_page *pg);

/* events.c */
/* Publishes an ephemeral event on room.<room>: {type, room_id, user_id,
 * target_user_id (nil), payload (copied; omitted when NULL), timestamp},
 * without a seq and not kept in chat.events (typing, presence, relays). */
void chat_publish_ephemeral(const char *type, const char *room, const char *user,
    const cJSON *payload);
/* The same on dm.<conv> for a conversation's members: {type,
 * conversation_id, ...} with "to" (a JSON array of user ids, copied), which
 * gatewayd delivers to and drops (dm-typing). */
void chat_publish_dm_ephemeral(const char *type, const char *conv, const char *user,
    const cJSON *payload, const cJSON *to);

extern const struct svc_routes chat_events_routes;
extern const struct pg_stmt chat_events_stmts[];

/* dm.c: direct messages (sql/chat/006_dm.sql); dm_compat.c: what
 * gatewayd's adapter of the reference's DM socket asks. */
extern const struct svc_routes chat_dm_routes, chat_dm_compat_routes;
extern const struct pg_stmt chat_dm_stmts[], chat_dm_compat_stmts[];

/* group_dm.c: group DMs (sql/chat/009_group_dm.sql). */
extern const struct svc_routes chat_group_dm_routes;
extern const struct pg_stmt chat_group_dm_stmts[];

/* blocks.c, connections.c: blocks and friendships (sql/chat/007_social.sql). */
#define CHAT_BLOCK_BODY_MAX 4096	/* a 255-character reason as \uXXXX escapes */
/* Blocks, for the caller, the user named by body's member name (a UUID),
 * with body's optional "reason"; answers r (400 itself when the body does
 * not fit): POST /api/block and POST /api/connections/block. */
void chat_block_user(struct svc_request *r, const cJSON *body, const char *name);
extern const struct svc_routes chat_blocks_routes, chat_connections_routes;
extern const struct pg_stmt chat_blocks_stmts[], chat_connections_stmts[];

/* rooms.c, members.c, categories.c, roompass.c: rooms, membership, roles,
 * settings and categories. */
#define CHAT_ROOM_PASS_MAX 128		/* characters of a room password */
/* argon2id on worker threads; the callbacks run on the loop. -1 when busy. */
typedef void (*chat_hash_fn)(const char *hash, void *arg);	/* NULL: failed */
typedef void (*chat_verify_fn)(bool ok, void *arg);
int chat_roompass_hash(const char *pw, chat_hash_fn cb, void *arg);
int chat_roompass_verify(const char *pw, const char *hash, chat_verify_fn cb, void *arg);

extern const struct svc_routes chat_rooms_routes, chat_members_routes,
    chat_categories_routes;
extern const struct pg_stmt chat_rooms_stmts[], chat_members_stmts[],
    chat_categories_stmts[];

/* messages.c, threads.c, reactions.c, pins.c, search.c, mentions.c,
 * receipts.c: messages and what hangs off them. */
/* The body's "content" as message text (1-4000 characters, valid UTF-8, no
 * control characters but tab and newline, not blank); *out NULL when absent
 * and optional. Answers 400 and returns false when not acceptable. */
bool chat_content(struct svc_request *r, const cJSON *body, bool required,
    const char **out);
/* POST {message_id, emoji}: calls stmt (message, user, emoji) once the
 * emoji is acceptable (1-32 bytes of UTF-8 without spaces or control
 * characters), else answers 400. */
void chat_reaction_add_call(struct svc_request *r, const char *stmt);
/* DELETE ?message_id=&emoji=: the same for removing one's reaction. */
void chat_reaction_remove_call(struct svc_request *r, const char *stmt);
/* svc_call_id for a route whose body is {content} (chat_content): calls
 * stmt with the query's UUID name, the caller and the content. */
void chat_call_id_content(struct svc_request *r, const char *stmt, const char *name);

extern const struct svc_routes chat_messages_routes, chat_threads_routes,
    chat_reactions_routes, chat_pins_routes, chat_search_routes,
    chat_mentions_routes, chat_receipts_routes;
extern const struct pg_stmt chat_messages_stmts[], chat_threads_stmts[],
    chat_reactions_stmts[], chat_pins_stmts[], chat_search_stmts[],
    chat_mentions_stmts[], chat_receipts_stmts[];

/* typing.c, presence.c (state: presence_store.c/.h, SQL:
 * sql/chat/005_presence.sql): typing indicators and presence. */
extern const struct svc_routes chat_typing_routes, chat_presence_routes;
extern const struct pg_stmt chat_typing_stmts[], chat_presence_stmts[];
/* After a published event env: the author of a chat-message or a
 * dm-message has stopped typing in its room or conversation
 * (user-stopped-typing or dm-stop-typing follows when they were). */
void chat_typing_after(const cJSON *env);
/* The statuses a user may choose: online, away, busy, dnd, invisible,
 * offline (NULL-terminated). */
extern const char *const chat_presence_statuses[];
/* svc_call of SVC_REPLY statement stmt once it is known whether user
 * holds a socket on some gatewayd: params has n entries (at most 8), the
 * last of which is then set to "true" or "false"; the others are copied.
 * For writes whose SQL announces a change of what others see. */
void chat_presence_call(struct svc_request *r, const char *user, const char *stmt,
    const char *const *params, int n);

/* status.c, privacy.c (SQL: sql/chat/008_status.sql): the custom status
 * and the privacy settings (docs/status-privacy.md). */
extern const struct svc_routes chat_status_routes, chat_privacy_routes;
extern const struct pg_stmt chat_status_stmts[], chat_privacy_stmts[];

#endif
