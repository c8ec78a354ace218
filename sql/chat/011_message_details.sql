-- GET /api/messages answers each message with what a client shows beside
-- it: its reactions (as GET /api/reactions gives them) and its thread
-- ({id, message_count} or null, as in GET /api/threads). Scrolling back
-- through a history then costs one request a page, not two a message.

-- [{emoji, count, users, has_reacted}] of a message, oldest emoji first.
CREATE FUNCTION chat.reactions_json(p_msg uuid, p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('emoji', g.emoji, 'count', g.n,
            'users', g.users, 'has_reacted', g.mine) ORDER BY g.first, g.emoji), '[]')
    FROM (SELECT x.emoji, count(*) AS n, min(x.created_at) AS first,
                 jsonb_agg(chat.username_or_empty(x.user_id)
                     ORDER BY x.created_at, x.user_id) AS users,
                 bool_or(x.user_id = p_user) AS mine
          FROM chat.reactions x WHERE x.message_id = p_msg GROUP BY x.emoji) g;
$$;

CREATE OR REPLACE FUNCTION chat.reactions_of(p_msg uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.message_readable(p_msg, p_user, p_admin),
        chat.ok_list(chat.reactions_json(p_msg, p_user)));
$$;

-- Live messages of a thread.
CREATE FUNCTION chat.thread_message_count(p_thread uuid) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM chat.thread_messages x WHERE x.thread_id = p_thread AND NOT x.is_deleted;
$$;

CREATE OR REPLACE FUNCTION chat.threads_of(p_msg uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.message_readable(p_msg, p_user, p_admin), chat.ok_list(
        (SELECT jsonb_agg(jsonb_build_object('id', t.id,
            'room_id', t.room_id, 'parent_id', t.parent_id, 'created_by', t.created_by,
            'created_at', chat.rfc3339(t.created_at),
            'message_count', chat.thread_message_count(t.id),
            'last_message', (SELECT chat.thread_message_json(x) FROM chat.thread_messages x
                             WHERE x.thread_id = t.id AND NOT x.is_deleted
                             ORDER BY x.n DESC LIMIT 1)) ORDER BY t.created_at)
         FROM chat.threads t WHERE t.parent_id = p_msg)));
$$;

-- GET /api/messages: chat.messages_list's page, each message with
-- "reactions" and "thread".
CREATE FUNCTION chat.messages_page(p_room uuid, p_user uuid, p_admin boolean,
    p_limit integer, p_before uuid, p_after uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN r.status <> 200 THEN r ELSE chat.ok_list(
        (SELECT jsonb_agg(e.m || jsonb_build_object(
                'reactions', chat.reactions_json((e.m ->> 'id')::uuid, p_user),
                'thread', (SELECT jsonb_build_object('id', t.id,
                                  'message_count', chat.thread_message_count(t.id))
                           FROM chat.threads t WHERE t.parent_id = (e.m ->> 'id')::uuid))
                ORDER BY e.i)
         FROM jsonb_array_elements(r.body) WITH ORDINALITY e(m, i))) END
    FROM chat.messages_list(p_room, p_user, p_admin, p_limit, p_before, p_after) r;
$$;
