-- Messages and what hangs off them: edit history, mentions and the
-- notifications they make, read receipts, reactions, pins, threads, and
-- the full-text index that message search uses.
--
-- Every route of these tables is one call of a function below that
-- returns a chat.reply (003_rooms_functions.sql): the HTTP status, the
-- JSON body, and the event envelopes to publish once the call has
-- committed. A write is therefore one statement, one round trip and one
-- transaction: a chatd killed at any moment leaves either all of it or
-- none of it.
--
-- Lock order, to stay free of deadlocks: an existing message (or thread
-- message) row first, the room row (chat.emit) last. A send locks its room
-- first and then touches only new rows and key-share locks.

-- The name shown for a user on messages: "" when auth.directory does not
-- know the user (an account since deleted).
CREATE FUNCTION chat.username_or_empty(p_user uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.username(p_user), '');
$$;

-- ------------------------------------------------------------ messages

-- seq is the seq of the message's chat-message event: strictly increasing
-- per room, and committed in that order (chat.emit holds the room row), so
-- cursor pages over seq neither skip nor repeat a message.
CREATE TABLE chat.messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    user_id uuid NOT NULL,
    type text NOT NULL DEFAULT 'text' CHECK (type IN ('text', 'system')),
    content text NOT NULL CHECK (length(content) <= 4000),
    is_edited boolean NOT NULL DEFAULT false,
    is_deleted boolean NOT NULL DEFAULT false,
    forwarded_from uuid REFERENCES chat.messages (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- 'simple': no stemming and no stop words, the same for every language.
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, content)) STORED,
    UNIQUE (room_id, seq)
);
CREATE INDEX messages_user_idx ON chat.messages (user_id);
CREATE INDEX messages_search_idx ON chat.messages USING gin (search);
CREATE INDEX messages_forwarded_idx ON chat.messages (forwarded_from)
    WHERE forwarded_from IS NOT NULL;

-- The previous contents of an edited message, one row per edit.
CREATE TABLE chat.message_edits (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id uuid NOT NULL REFERENCES chat.messages (id) ON DELETE CASCADE,
    content text NOT NULL,
    edited_by uuid NOT NULL,
    edited_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_edits_message_idx ON chat.message_edits (message_id, edited_at);

-- One row per mentioned user and message; type is the most specific way
-- the user was named (user, then all, then here).
CREATE TABLE chat.mentions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id uuid NOT NULL REFERENCES chat.messages (id) ON DELETE CASCADE,
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    mentioned_by uuid NOT NULL,
    type text NOT NULL CHECK (type IN ('user', 'all', 'here')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, user_id)
);
CREATE INDEX mentions_user_idx ON chat.mentions (user_id, created_at DESC);

-- A user's notifications (mentions so far); data holds the ids to open.
CREATE TABLE chat.notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    type text NOT NULL CHECK (length(type) BETWEEN 1 AND 50),
    title text NOT NULL CHECK (length(title) <= 200),
    data jsonb NOT NULL DEFAULT '{}',
    is_read boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON chat.notifications (user_id, created_at DESC);

CREATE TABLE chat.read_receipts (
    message_id uuid NOT NULL REFERENCES chat.messages (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX read_receipts_user_idx ON chat.read_receipts (user_id, room_id);

CREATE TABLE chat.reactions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id uuid NOT NULL REFERENCES chat.messages (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    emoji text NOT NULL CHECK (octet_length(emoji) BETWEEN 1 AND 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, user_id, emoji)
);

CREATE TABLE chat.pins (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    message_id uuid NOT NULL UNIQUE REFERENCES chat.messages (id) ON DELETE CASCADE,
    pinned_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pins_room_idx ON chat.pins (room_id, created_at DESC);

-- At most one thread per message.
CREATE TABLE chat.threads (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    parent_id uuid NOT NULL UNIQUE REFERENCES chat.messages (id) ON DELETE CASCADE,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat.thread_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    thread_id uuid NOT NULL REFERENCES chat.threads (id) ON DELETE CASCADE,
    n bigint GENERATED ALWAYS AS IDENTITY,   -- order of insertion
    user_id uuid NOT NULL,
    content text NOT NULL CHECK (length(content) <= 4000),
    is_edited boolean NOT NULL DEFAULT false,
    is_deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX thread_messages_thread_idx ON chat.thread_messages (thread_id, n);

-- ------------------------------------------------------------ JSON shapes

-- MessageResponse (reference §2.3) plus seq; forwarded_from only when set.
CREATE FUNCTION chat.message_json(m chat.messages) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', m.id, 'room_id', m.room_id, 'user_id', m.user_id,
        'username', chat.username_or_empty(m.user_id), 'type', m.type, 'content', m.content,
        'is_edited', m.is_edited, 'is_deleted', m.is_deleted,
        'created_at', chat.rfc3339(m.created_at), 'updated_at', chat.rfc3339(m.updated_at),
        'seq', m.seq)
        || CASE WHEN m.forwarded_from IS NULL THEN '{}'::jsonb
           ELSE jsonb_build_object('forwarded_from', m.forwarded_from) END;
$$;

CREATE FUNCTION chat.thread_message_json(t chat.thread_messages) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'thread_id', t.thread_id, 'user_id', t.user_id,
        'username', chat.username_or_empty(t.user_id), 'content', t.content,
        'is_edited', t.is_edited, 'is_deleted', t.is_deleted,
        'created_at', chat.rfc3339(t.created_at), 'updated_at', chat.rfc3339(t.updated_at));
$$;

-- ThreadResponse: the thread and its messages in order.
CREATE FUNCTION chat.thread_json(t chat.threads) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'room_id', t.room_id, 'parent_id', t.parent_id,
        'created_by', t.created_by, 'created_at', chat.rfc3339(t.created_at),
        'messages', coalesce((SELECT jsonb_agg(chat.thread_message_json(x) ORDER BY x.n)
            FROM chat.thread_messages x WHERE x.thread_id = t.id), '[]'::jsonb));
$$;

CREATE FUNCTION chat.pin_json(p chat.pins) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'room_id', p.room_id, 'message_id', p.message_id,
        'pinned_by', p.pinned_by, 'username', chat.username_or_empty(p.pinned_by),
        'content', (SELECT content FROM chat.messages WHERE id = p.message_id),
        'created_at', chat.rfc3339(p.created_at));
$$;

-- The checks every route of a message starts with: the message exists (a
-- deleted one counts as absent when p_live), it is in p_room when that is
-- given (400 otherwise), and p_user may see its room (chat.room_access).
-- Routes that act as a participant (sending, reacting, reading) pass
-- p_admin false: they need a membership. NULL when allowed.
CREATE FUNCTION chat.message_access(m chat.messages, p_user uuid, p_admin boolean,
    p_live boolean, p_room uuid DEFAULT NULL) RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN m.id IS NOT NULL AND p_room <> m.room_id THEN
            chat.err(400, 'invalid_request', 'Room mismatch')
        WHEN p_live AND m.is_deleted THEN chat.err(404, 'not_found', 'Message not found')
        ELSE chat.room_access(m.room_id, p_user, p_admin, 'Message')
    END;
$$;

-- chat.message_access for the reads of message p_msg, which may be deleted.
CREATE FUNCTION chat.message_readable(p_msg uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT chat.message_access((SELECT m FROM chat.messages m WHERE m.id = p_msg),
        p_user, p_admin, false);
$$;

-- Why p_user may not edit a message of p_author (p_deleted: deleted) in
-- p_room, or NULL: only the author edits, a live message, while the room
-- allows edits.
CREATE FUNCTION chat.edit_denied(p_room uuid, p_user uuid, p_author uuid, p_deleted boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_author <> p_user THEN
            chat.err(403, 'forbidden', 'You can only edit your own messages')
        WHEN p_deleted THEN chat.err(409, 'message_deleted', 'The message has been deleted')
        WHEN EXISTS (SELECT 1 FROM chat.room_settings
                     WHERE room_id = p_room AND NOT allow_message_edits) THEN
            chat.err(403, 'edits_disabled', 'Message editing is disabled in this room')
    END;
$$;

-- The answer to p_user deleting a message of p_author (p_deleted: deleted
-- already) in p_room when there is nothing to do, or NULL to go ahead:
-- 403 unless the author or a moderator and up; for a deleted message the
-- answer of its deletion, which is idempotent.
CREATE FUNCTION chat.delete_check(p_room uuid, p_user uuid, p_admin boolean, p_author uuid,
    p_deleted boolean) RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_author <> p_user AND chat.actor_rank(p_room, p_user, p_admin) < 2 THEN
            chat.err(403, 'forbidden', 'You can only delete your own messages')
        WHEN p_deleted THEN chat.ok(200, '{"status":"deleted"}')
    END;
$$;

-- Why p_user, acting as a participant, may not post in p_room, or NULL
-- for a member: 404 p_missing for a private room or none, 403 p_outsider
-- for a public one.
CREATE FUNCTION chat.member_access(p_room uuid, p_user uuid, p_missing text,
    p_outsider text) RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE (chat.room_access(p_room, p_user, false, '')).status
        WHEN 404 THEN chat.err(404, 'not_found', p_missing)
        WHEN 403 THEN chat.err(403, 'not_member', p_outsider)
    END;
$$;

-- ------------------------------------------------------------ sending

-- Writes the mentions of message m (@name, @all, @here) and a notification
-- for each. @here names the members in p_here, those chatd found holding a
-- socket (presence lives in Redis, which this transaction cannot see),
-- but for those who show themselves offline (invisible, offline, or
-- show_online_status off: docs/status-privacy.md); every member when
-- p_here is NULL (not known). A member who blocked the author
-- (chat.blocks, docs/social.md) is not mentioned, not even by @all.
CREATE FUNCTION chat.mentions_write(m chat.messages, p_here uuid[] DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    actor text;
BEGIN
    IF position('@' IN m.content) = 0 THEN
        RETURN;
    END IF;
    actor := chat.username_or_empty(m.user_id);
    WITH names AS (
        SELECT DISTINCT lower(x[2]) AS name
        FROM regexp_matches(m.content, '(^|[^[:alnum:]_])@([A-Za-z0-9_-]{1,32})(?![A-Za-z0-9_-])', 'g') AS x
    ), named AS (
        SELECT d.id AS user_id, 'user' AS type, 1 AS rank
        FROM names n JOIN auth.directory d ON lower(d.username) = n.name
        WHERE n.name NOT IN ('all', 'here')
        UNION ALL
        SELECT mb.user_id, n.name, CASE n.name WHEN 'all' THEN 2 ELSE 3 END
        FROM names n JOIN chat.members mb ON mb.room_id = m.room_id
        WHERE n.name = 'all' OR (n.name = 'here'
            AND (p_here IS NULL OR mb.user_id = ANY (p_here))
            AND NOT EXISTS (SELECT 1 FROM chat.presence p      -- 005_presence.sql
                            WHERE p.user_id = mb.user_id AND p.status IN ('invisible', 'offline'))
            AND NOT EXISTS (SELECT 1 FROM chat.privacy v       -- 006_dm.sql
                            WHERE v.user_id = mb.user_id AND NOT v.show_online_status))
    ), chosen AS (
        SELECT DISTINCT ON (x.user_id) x.user_id, x.type
        FROM named x JOIN chat.members mb ON mb.room_id = m.room_id AND mb.user_id = x.user_id
        WHERE x.user_id <> m.user_id
          AND NOT EXISTS (SELECT 1 FROM chat.blocks b      -- 006_dm.sql
                          WHERE b.blocker_id = x.user_id AND b.blocked_id = m.user_id)
        ORDER BY x.user_id, x.rank
    ), written AS (
        INSERT INTO chat.mentions (message_id, room_id, user_id, mentioned_by, type)
        SELECT m.id, m.room_id, c.user_id, m.user_id, c.type FROM chosen c
        RETURNING user_id, type
    )
    INSERT INTO chat.notifications (user_id, type, title, data)
    SELECT w.user_id, CASE w.type WHEN 'user' THEN 'mention' ELSE 'room_mention' END,
        left(actor || CASE w.type WHEN 'user' THEN ' mentioned you'
            ELSE ' mentioned @' || w.type END, 200),
        jsonb_build_object('message_id', m.id, 'room_id', m.room_id, 'mention_type', w.type)
    FROM written w;
END;
$$;

-- Posts a message into p_room as p_user: membership, slow mode (members
-- only; moderators and up are exempt), the row, the sender's
-- last_message_at, mentions when p_mentions, and the chat-message event.
CREATE FUNCTION chat.message_post(p_room uuid, p_user uuid, p_content text, p_type text,
    p_forwarded uuid, p_mentions boolean, p_here uuid[] DEFAULT NULL) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_slow integer;
    v_role text;
    v_last timestamptz;
    v_wait integer;
    m chat.messages;
    body jsonb;
    env jsonb;
BEGIN
    -- The room row first: chat.emit will take it anyway, and holding it
    -- makes last_seq + 1 the seq of this message's event.
    SELECT r.last_seq + 1, coalesce(s.slow_mode_seconds, 0) INTO v_seq, v_slow
    FROM chat.rooms r LEFT JOIN chat.room_settings s ON s.room_id = r.id
    WHERE r.id = p_room FOR NO KEY UPDATE OF r;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Room not found');
    END IF;
    SELECT role, last_message_at INTO v_role, v_last
    FROM chat.members WHERE room_id = p_room AND user_id = p_user;
    IF v_role IS NULL THEN
        RETURN chat.member_access(p_room, p_user, 'Room not found',
            'You must be a member of this room to send messages');
    END IF;
    IF v_slow > 0 AND v_last IS NOT NULL AND chat.role_rank(v_role) < 2
            AND v_last + make_interval(secs => v_slow) > now() THEN
        v_wait := floor(extract(epoch FROM v_last + make_interval(secs => v_slow) - now()))::integer + 1;
        RETURN chat.ok(429, jsonb_build_object('error', 'slow_mode_enabled',
            'message', 'Slow mode is enabled for this room',
            'retry_after', v_wait, 'slow_mode_seconds', v_slow));
    END IF;
    INSERT INTO chat.messages (room_id, seq, user_id, type, content, forwarded_from)
    VALUES (p_room, v_seq, p_user, p_type, p_content, p_forwarded)
    RETURNING * INTO m;
    UPDATE chat.members SET last_message_at = now()
    WHERE room_id = p_room AND user_id = p_user;
    IF p_mentions THEN
        PERFORM chat.mentions_write(m, p_here);
    END IF;
    body := chat.message_json(m);
    env := chat.emit(p_room, 'chat-message', p_user, body);
    IF (env ->> 'seq')::bigint IS DISTINCT FROM v_seq THEN
        RAISE EXCEPTION 'chat.message_post: event seq % is not message seq %', env ->> 'seq', v_seq;
    END IF;
    RETURN chat.ok(200, body, jsonb_build_array(env));
END;
$$;

-- POST /api/message/send. p_type is 'text' or 'system' (chatd lets only
-- global admins ask for 'system'); p_here: who of the room is connected,
-- when the text says @here (chat.mentions_write).
CREATE FUNCTION chat.message_send(p_room uuid, p_user uuid, p_content text, p_type text,
    p_here uuid[]) RETURNS chat.reply LANGUAGE sql AS $$
    SELECT chat.message_post(p_room, p_user, p_content, p_type, NULL, true, p_here);
$$;

-- POST /api/message/forward: a copy in p_room that names its original. A
-- system message stays one only when an admin forwards it. No mentions.
CREATE FUNCTION chat.message_forward(p_msg uuid, p_room uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    o chat.messages := (SELECT m FROM chat.messages m WHERE m.id = p_msg AND NOT m.is_deleted);
    res chat.reply := coalesce(
        chat.member_access(o.room_id, p_user, 'Original message not found',
            'You must be a member of the original room'),
        chat.member_access(p_room, p_user, 'Target room not found',
            'You must be a member of the target room'));
BEGIN
    IF res.status IS NOT NULL THEN
        RETURN res;
    END IF;
    res := chat.message_post(p_room, p_user, o.content,
        CASE WHEN o.type = 'system' AND p_admin THEN 'system' ELSE 'text' END, o.id, false);
    IF res.status = 200 THEN
        res.status := 201;
    END IF;
    RETURN res;
END;
$$;
-- ------------------------------------------------------------ reading

-- GET /api/messages: newest first. With p_before, the page just older
-- than that message; with p_after, the page just newer (still newest
-- first within the page). Deleted messages stay, emptied.
CREATE FUNCTION chat.messages_list(p_room uuid, p_user uuid, p_admin boolean,
    p_limit integer, p_before uuid, p_after uuid) RETURNS chat.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
    denied chat.reply := chat.room_access(p_room, p_user, p_admin, 'Room');
    v_cursor bigint;
    v_list jsonb;
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    IF coalesce(p_before, p_after) IS NOT NULL THEN
        SELECT seq INTO v_cursor FROM chat.messages
        WHERE id = coalesce(p_before, p_after) AND room_id = p_room;
        IF NOT FOUND THEN
            RETURN chat.err(400, 'invalid_parameter', 'The cursor is not a message of this room');
        END IF;
    END IF;
    IF p_after IS NOT NULL THEN
        SELECT jsonb_agg(chat.message_json(m) ORDER BY m.seq DESC) INTO v_list
        FROM (SELECT * FROM chat.messages WHERE room_id = p_room AND seq > v_cursor
              ORDER BY seq LIMIT p_limit) m;
    ELSE
        SELECT jsonb_agg(chat.message_json(m) ORDER BY m.seq DESC) INTO v_list
        FROM (SELECT * FROM chat.messages
              WHERE room_id = p_room AND (v_cursor IS NULL OR seq < v_cursor)
              ORDER BY seq DESC LIMIT p_limit) m;
    END IF;
    RETURN chat.ok_list(v_list);
END;
$$;

-- GET /api/messages/search: full text over the live messages of the
-- caller's rooms, newest first.
CREATE FUNCTION chat.messages_search(p_user uuid, p_query text, p_limit integer)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT chat.ok_list(jsonb_agg(jsonb_build_object('id', x.id,
            'room_id', x.room_id, 'room_name', x.room_name, 'user_id', x.user_id,
            'username', chat.username_or_empty(x.user_id), 'content', x.content,
            'created_at', chat.rfc3339(x.created_at), 'seq', x.seq)
            ORDER BY x.created_at DESC, x.seq DESC))
    FROM (SELECT m.*, r.name AS room_name
          FROM chat.messages m
          JOIN chat.members mb ON mb.room_id = m.room_id AND mb.user_id = p_user
          JOIN chat.rooms r ON r.id = m.room_id
          WHERE m.search @@ websearch_to_tsquery('simple'::regconfig, p_query)
            AND NOT m.is_deleted
          ORDER BY m.created_at DESC, m.seq DESC LIMIT p_limit) x;
$$;

-- ------------------------------------------------------------ editing

-- PUT /api/message/update: the author, while the room allows edits; the
-- old content goes to chat.message_edits.
CREATE FUNCTION chat.message_update(p_msg uuid, p_user uuid, p_content text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    m chat.messages;
    denied chat.reply;
BEGIN
    SELECT * INTO m FROM chat.messages WHERE id = p_msg FOR NO KEY UPDATE;
    denied := coalesce(chat.message_access(m, p_user, false, false),
        chat.edit_denied(m.room_id, p_user, m.user_id, m.is_deleted));
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO chat.message_edits (message_id, content, edited_by)
    VALUES (m.id, m.content, p_user);
    UPDATE chat.messages SET content = p_content, is_edited = true, updated_at = now()
    WHERE id = m.id RETURNING * INTO m;
    RETURN chat.ok_emit(chat.message_json(m), m.room_id, 'message-updated', p_user);
END;
$$;

-- DELETE /api/message/delete: the author, or a moderator and up of the
-- room. The row stays, emptied; its history, reactions, mentions and pin
-- go. Deleting again is a no-op answered the same way.
CREATE FUNCTION chat.message_delete(p_msg uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    m chat.messages;
    early chat.reply;
    v_pin uuid;
    events jsonb;
BEGIN
    SELECT * INTO m FROM chat.messages WHERE id = p_msg FOR NO KEY UPDATE;
    early := coalesce(chat.message_access(m, p_user, p_admin, false),
        chat.delete_check(m.room_id, p_user, p_admin, m.user_id, m.is_deleted));
    IF early.status IS NOT NULL THEN
        RETURN early;
    END IF;
    UPDATE chat.messages SET content = '', is_deleted = true, updated_at = now()
    WHERE id = m.id;
    DELETE FROM chat.message_edits WHERE message_id = m.id;
    DELETE FROM chat.reactions WHERE message_id = m.id;
    DELETE FROM chat.mentions WHERE message_id = m.id;
    DELETE FROM chat.pins WHERE message_id = m.id RETURNING id INTO v_pin;
    events := jsonb_build_array(chat.emit(m.room_id, 'message-deleted', p_user,
        jsonb_build_object('id', m.id, 'room_id', m.room_id)));
    IF v_pin IS NOT NULL THEN
        events := events || jsonb_build_array(chat.emit(m.room_id, 'message-unpinned', p_user,
            jsonb_build_object('id', v_pin, 'message_id', m.id)));
    END IF;
    RETURN chat.ok(200, '{"status":"deleted"}', events);
END;
$$;

-- GET /api/message/edit-history: the earlier contents, oldest first.
CREATE FUNCTION chat.message_history(p_msg uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.message_readable(p_msg, p_user, p_admin), chat.ok_list(
        (SELECT jsonb_agg(jsonb_build_object('id', e.id, 'message_id', e.message_id,
            'content', e.content, 'edited_by', e.edited_by,
            'edited_at', chat.rfc3339(e.edited_at)) ORDER BY e.edited_at, e.id)
         FROM chat.message_edits e WHERE e.message_id = p_msg)));
$$;

-- ------------------------------------------------------------ mentions

-- GET /api/mentions: the caller's mentions in rooms they are still in.
CREATE FUNCTION chat.mentions_mine(p_user uuid, p_limit integer) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok_list(jsonb_agg(jsonb_build_object('id', x.id,
            'message_id', x.message_id, 'room_id', x.room_id, 'user_id', x.user_id,
            'mentioned_by', x.mentioned_by, 'username', chat.username_or_empty(x.mentioned_by),
            'type', x.type, 'content', x.content, 'created_at', chat.rfc3339(x.created_at))
            ORDER BY x.created_at DESC, x.id))
    FROM (SELECT mn.*, m.content FROM chat.mentions mn
          JOIN chat.messages m ON m.id = mn.message_id
          JOIN chat.members mb ON mb.room_id = mn.room_id AND mb.user_id = p_user
          WHERE mn.user_id = p_user
          ORDER BY mn.created_at DESC, mn.id LIMIT p_limit) x;
$$;

-- GET /api/mentions/message: who a message mentions (members of its room).
CREATE FUNCTION chat.mentions_of(p_msg uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.message_readable(p_msg, p_user, p_admin), chat.ok_list(
        (SELECT jsonb_agg(jsonb_build_object('id', mn.id,
            'message_id', mn.message_id, 'room_id', mn.room_id, 'user_id', mn.user_id,
            'username', chat.username_or_empty(mn.user_id), 'mentioned_by', mn.mentioned_by,
            'type', mn.type, 'created_at', chat.rfc3339(mn.created_at))
            ORDER BY mn.created_at, mn.id)
         FROM chat.mentions mn WHERE mn.message_id = p_msg)));
$$;

-- ------------------------------------------------------------ read receipts

-- POST /api/message/read: idempotent; the first read's time stays.
CREATE FUNCTION chat.message_read(p_msg uuid, p_room uuid, p_user uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    m chat.messages := (SELECT m FROM chat.messages m WHERE m.id = p_msg);
    denied chat.reply := chat.message_access(m, p_user, false, false, p_room);
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO chat.read_receipts (message_id, user_id, room_id)
    VALUES (m.id, p_user, m.room_id) ON CONFLICT DO NOTHING;
    RETURN chat.ok(200, '{"status":"read"}');
END;
$$;

-- GET /api/message/read/receipts: who has read a message, first first.
CREATE FUNCTION chat.message_receipts(p_msg uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.message_readable(p_msg, p_user, p_admin), chat.ok_list(
        (SELECT jsonb_agg(jsonb_build_object('message_id', rr.message_id,
            'user_id', rr.user_id, 'username', chat.username_or_empty(rr.user_id),
            'read_at', chat.rfc3339(rr.read_at)) ORDER BY rr.read_at, rr.user_id)
         FROM chat.read_receipts rr WHERE rr.message_id = p_msg)));
$$;

-- GET /api/message/read/last: the newest message of the room the caller
-- has read, {message_id, read_at}, both null when none.
CREATE FUNCTION chat.message_last_read(p_room uuid, p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.room_access(p_room, p_user, false, 'Room'), chat.ok(200,
        jsonb_build_object('message_id', x.message_id, 'read_at', chat.rfc3339(x.read_at))))
    FROM (SELECT NULL) k LEFT JOIN LATERAL (
        SELECT rr.message_id, rr.read_at
        FROM chat.read_receipts rr JOIN chat.messages m ON m.id = rr.message_id
        WHERE rr.user_id = p_user AND rr.room_id = p_room
        ORDER BY m.seq DESC LIMIT 1) x ON true;
$$;

-- ------------------------------------------------------------ reactions

-- POST /api/reaction/add: members, on live messages, while the room
-- allows reactions; the same emoji twice is 409.
CREATE FUNCTION chat.reaction_add(p_msg uuid, p_user uuid, p_emoji text) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    m chat.messages;
    denied chat.reply;
    x chat.reactions;
    v_name text := chat.username_or_empty(p_user);
BEGIN
    SELECT * INTO m FROM chat.messages WHERE id = p_msg FOR SHARE;
    denied := chat.message_access(m, p_user, false, true);
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    ELSIF EXISTS (SELECT 1 FROM chat.room_settings
                  WHERE room_id = m.room_id AND NOT allow_reactions) THEN
        RETURN chat.err(403, 'reactions_disabled', 'Reactions are disabled in this room');
    END IF;
    INSERT INTO chat.reactions (message_id, user_id, emoji) VALUES (m.id, p_user, p_emoji)
    ON CONFLICT DO NOTHING RETURNING * INTO x;
    IF x.id IS NULL THEN
        RETURN chat.err(409, 'conflict', 'You have already reacted with this emoji');
    END IF;
    RETURN chat.ok_emit(jsonb_build_object('id', x.id, 'message_id', x.message_id,
            'user_id', x.user_id, 'username', v_name, 'emoji', x.emoji,
            'created_at', chat.rfc3339(x.created_at)),
        m.room_id, 'reaction-added', p_user, jsonb_build_object('message_id', m.id,
            'emoji', x.emoji, 'user_id', p_user, 'username', v_name));
END;
$$;

-- DELETE /api/reaction/remove: one's own reaction.
CREATE FUNCTION chat.reaction_remove(p_msg uuid, p_user uuid, p_emoji text) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    m chat.messages;
    denied chat.reply;
BEGIN
    SELECT * INTO m FROM chat.messages WHERE id = p_msg FOR SHARE;
    denied := chat.message_access(m, p_user, false, false);
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    DELETE FROM chat.reactions WHERE message_id = m.id AND user_id = p_user AND emoji = p_emoji;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Reaction not found');
    END IF;
    RETURN chat.ok_emit('{"status":"removed"}', m.room_id, 'reaction-removed', p_user,
        jsonb_build_object('message_id', m.id, 'emoji', p_emoji, 'user_id', p_user));
END;
$$;

-- GET /api/reactions: [{emoji, count, users, has_reacted}], oldest emoji first.
CREATE FUNCTION chat.reactions_of(p_msg uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.message_readable(p_msg, p_user, p_admin), chat.ok_list(
        (SELECT jsonb_agg(jsonb_build_object('emoji', g.emoji, 'count', g.n,
            'users', g.users, 'has_reacted', g.mine) ORDER BY g.first, g.emoji)
         FROM (SELECT x.emoji, count(*) AS n, min(x.created_at) AS first,
                      jsonb_agg(chat.username_or_empty(x.user_id)
                          ORDER BY x.created_at, x.user_id) AS users,
                      bool_or(x.user_id = p_user) AS mine
               FROM chat.reactions x WHERE x.message_id = p_msg GROUP BY x.emoji) g)));
$$;

-- ------------------------------------------------------------ pins

-- POST /api/pinnedmessage/pin: moderators and up of the message's room;
-- p_room, when given, must be that room.
CREATE FUNCTION chat.pin_add(p_room uuid, p_msg uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    m chat.messages;
    denied chat.reply;
    p chat.pins;
BEGIN
    SELECT * INTO m FROM chat.messages WHERE id = p_msg FOR SHARE;
    denied := chat.message_access(m, p_user, p_admin, true, p_room);
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    ELSIF chat.actor_rank(m.room_id, p_user, p_admin) < 2 THEN
        RETURN chat.err(403, 'forbidden', 'Only moderators can pin messages');
    END IF;
    INSERT INTO chat.pins (room_id, message_id, pinned_by) VALUES (m.room_id, m.id, p_user)
    ON CONFLICT DO NOTHING RETURNING * INTO p;
    IF p.id IS NULL THEN
        RETURN chat.err(409, 'conflict', 'Message is already pinned');
    END IF;
    RETURN chat.ok_emit(chat.pin_json(p), m.room_id, 'message-pinned', p_user);
END;
$$;

-- DELETE /api/pinnedmessage/unpin: moderators and up of the pin's room.
CREATE FUNCTION chat.pin_remove(p_pin uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    p chat.pins := (SELECT p FROM chat.pins p WHERE p.id = p_pin);
    denied chat.reply := chat.room_access(p.room_id, p_user, p_admin, 'Pin');
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    ELSIF chat.actor_rank(p.room_id, p_user, p_admin) < 2 THEN
        RETURN chat.err(403, 'forbidden', 'Only moderators can unpin messages');
    END IF;
    DELETE FROM chat.pins WHERE id = p.id;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Pin not found');
    END IF;
    RETURN chat.ok_emit('{"status":"unpinned"}', p.room_id, 'message-unpinned', p_user,
        jsonb_build_object('id', p.id, 'message_id', p.message_id));
END;
$$;

-- GET /api/pinnedmessages: the room's pins, newest first.
CREATE FUNCTION chat.pins_of(p_room uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.room_access(p_room, p_user, p_admin, 'Room'), chat.ok_list(
        (SELECT jsonb_agg(chat.pin_json(p) ORDER BY p.created_at DESC, p.id)
         FROM chat.pins p WHERE p.room_id = p_room)));
$$;

-- ------------------------------------------------------------ threads

-- POST /api/thread/create: a thread on a live message of p_room, with a
-- first message when p_content is not NULL.
CREATE FUNCTION chat.thread_create(p_parent uuid, p_room uuid, p_user uuid, p_content text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    m chat.messages;
    denied chat.reply;
    t chat.threads;
BEGIN
    SELECT * INTO m FROM chat.messages WHERE id = p_parent FOR SHARE;
    denied := chat.message_access(m, p_user, false, true, p_room);
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO chat.threads (room_id, parent_id, created_by) VALUES (m.room_id, m.id, p_user)
    ON CONFLICT DO NOTHING RETURNING * INTO t;
    IF t.id IS NULL THEN
        RETURN chat.err(409, 'conflict', 'This message already has a thread');
    END IF;
    IF p_content IS NOT NULL THEN
        INSERT INTO chat.thread_messages (thread_id, user_id, content)
        VALUES (t.id, p_user, p_content);
    END IF;
    RETURN chat.ok_emit(chat.thread_json(t), m.room_id, 'thread-created', p_user);
END;
$$;

-- GET /api/thread: the thread and its messages.
CREATE FUNCTION chat.thread_get(p_thread uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t chat.threads := (SELECT t FROM chat.threads t WHERE t.id = p_thread);
BEGIN
    RETURN coalesce(chat.room_access(t.room_id, p_user, p_admin, 'Thread'),
        chat.ok(200, chat.thread_json(t)));
END;
$$;

-- GET /api/threads: the threads of a message (at most one), each with
-- message_count (live messages) and last_message (or null).
CREATE FUNCTION chat.threads_of(p_msg uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.message_readable(p_msg, p_user, p_admin), chat.ok_list(
        (SELECT jsonb_agg(jsonb_build_object('id', t.id,
            'room_id', t.room_id, 'parent_id', t.parent_id, 'created_by', t.created_by,
            'created_at', chat.rfc3339(t.created_at),
            'message_count', (SELECT count(*) FROM chat.thread_messages x
                              WHERE x.thread_id = t.id AND NOT x.is_deleted),
            'last_message', (SELECT chat.thread_message_json(x) FROM chat.thread_messages x
                             WHERE x.thread_id = t.id AND NOT x.is_deleted
                             ORDER BY x.n DESC LIMIT 1)) ORDER BY t.created_at)
         FROM chat.threads t WHERE t.parent_id = p_msg)));
$$;

-- POST /api/thread/message: members of the thread's room.
CREATE FUNCTION chat.thread_message_add(p_thread uuid, p_user uuid, p_content text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    t chat.threads;
    denied chat.reply;
    x chat.thread_messages;
BEGIN
    SELECT * INTO t FROM chat.threads WHERE id = p_thread FOR SHARE;
    denied := chat.room_access(t.room_id, p_user, false, 'Thread');
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO chat.thread_messages (thread_id, user_id, content)
    VALUES (t.id, p_user, p_content) RETURNING * INTO x;
    RETURN chat.ok_emit(chat.thread_message_json(x), t.room_id, 'thread-message', p_user);
END;
$$;

-- The thread message p_id locked for a change by p_user, with its room;
-- err is set instead when it is missing or p_user may not see the room.
CREATE FUNCTION chat.thread_message_lock(p_id uuid, p_user uuid, p_admin boolean,
    OUT x chat.thread_messages, OUT room uuid, OUT err chat.reply)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT tm.* INTO x FROM chat.thread_messages tm WHERE tm.id = p_id FOR NO KEY UPDATE;
    SELECT t.room_id INTO room FROM chat.threads t WHERE t.id = x.thread_id;
    err := chat.room_access(room, p_user, p_admin, 'Thread message');
END;
$$;

-- PUT /api/thread/message/update: the author, while the room allows edits.
CREATE FUNCTION chat.thread_message_update(p_id uuid, p_user uuid, p_content text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    l record := chat.thread_message_lock(p_id, p_user, false);
    x chat.thread_messages := l.x;
    denied chat.reply := coalesce(l.err,
        chat.edit_denied(l.room, p_user, x.user_id, x.is_deleted));
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    UPDATE chat.thread_messages SET content = p_content, is_edited = true, updated_at = now()
    WHERE id = x.id RETURNING * INTO x;
    RETURN chat.ok_emit(chat.thread_message_json(x), l.room, 'thread-message-updated', p_user);
END;
$$;

-- DELETE /api/thread/message/delete: the author, or a moderator and up.
CREATE FUNCTION chat.thread_message_delete(p_id uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    l record := chat.thread_message_lock(p_id, p_user, p_admin);
    x chat.thread_messages := l.x;
    early chat.reply := coalesce(l.err,
        chat.delete_check(l.room, p_user, p_admin, x.user_id, x.is_deleted));
BEGIN
    IF early.status IS NOT NULL THEN
        RETURN early;
    END IF;
    UPDATE chat.thread_messages SET content = '', is_deleted = true, updated_at = now()
    WHERE id = x.id;
    RETURN chat.ok_emit('{"status":"deleted"}', l.room, 'thread-message-deleted', p_user,
        jsonb_build_object('id', x.id, 'thread_id', x.thread_id, 'room_id', l.room));
END;
$$;
