-- Direct messages and group DMs share one model: a conversation (kind
-- 'direct' between exactly two users, or 'group' of up to 10), its
-- members, its messages and its event log, numbered like a room's
-- (conversation_events.seq is the WebSocket "seq" of the conversation).
-- Who may write to whom is decided by blocks, friendships (connections)
-- and each user's privacy settings, all here since every DM path checks
-- them in the transaction that writes (a database error refuses: the
-- checks fail closed).
--
-- Lock order, to stay free of deadlocks: the conversation row first (every
-- write that emits takes it FOR NO KEY UPDATE), then member and message rows.

-- ------------------------------------------------------------ relations

-- p_blocker does not want to hear from p_blocked.
CREATE TABLE chat.blocks (
    blocker_id uuid NOT NULL,
    blocked_id uuid NOT NULL,
    reason text NOT NULL DEFAULT '' CHECK (length(reason) <= 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_idx ON chat.blocks (blocked_id);

-- Friendship: one row per pair, user_id the one who asked. 'pending' until
-- peer_id accepts; 'accepted' is mutual.
CREATE TABLE chat.connections (
    user_id uuid NOT NULL,
    peer_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, peer_id),
    CHECK (user_id <> peer_id)
);
CREATE UNIQUE INDEX connections_pair_idx
    ON chat.connections (least(user_id, peer_id), greatest(user_id, peer_id));
CREATE INDEX connections_peer_idx ON chat.connections (peer_id);

-- Who may reach a user: everyone, friends or none; whether others see the
-- user online. No row = the defaults.
CREATE TABLE chat.privacy (
    user_id uuid PRIMARY KEY,
    allow_direct_messages text NOT NULL DEFAULT 'everyone'
        CHECK (allow_direct_messages IN ('everyone', 'friends', 'none')),
    allow_group_invites text NOT NULL DEFAULT 'everyone'
        CHECK (allow_group_invites IN ('everyone', 'friends', 'none')),
    allow_friend_requests text NOT NULL DEFAULT 'everyone'
        CHECK (allow_friend_requests IN ('everyone', 'friends', 'none')),
    show_online_status boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- True when either of the two blocked the other.
CREATE FUNCTION chat.blocked_between(p_a uuid, p_b uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM chat.blocks
                   WHERE (blocker_id, blocked_id) IN ((p_a, p_b), (p_b, p_a)));
$$;

CREATE FUNCTION chat.are_friends(p_a uuid, p_b uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM chat.connections
                   WHERE (user_id, peer_id) IN ((p_a, p_b), (p_b, p_a))
                     AND status = 'accepted');
$$;

-- Whether p_owner's setting p_value (everyone/friends/none) lets p_actor in.
CREATE FUNCTION chat.privacy_allows(p_value text, p_owner uuid, p_actor uuid)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE coalesce(p_value, 'everyone') WHEN 'everyone' THEN true
        WHEN 'friends' THEN chat.are_friends(p_owner, p_actor) ELSE false END;
$$;

-- Why p_actor may not reach p_target (a DM, a group DM invitation, a
-- friend request: p_setting names the privacy column), or NULL.
CREATE FUNCTION chat.reach_refusal(p_actor uuid, p_target uuid, p_setting text)
RETURNS chat.reply LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_value text;
BEGIN
    IF EXISTS (SELECT 1 FROM chat.blocks WHERE blocker_id = p_target AND blocked_id = p_actor) THEN
        RETURN chat.err(403, 'blocked', 'You are blocked by this user');
    ELSIF EXISTS (SELECT 1 FROM chat.blocks WHERE blocker_id = p_actor AND blocked_id = p_target) THEN
        RETURN chat.err(403, 'blocked', 'You have blocked this user');
    END IF;
    SELECT CASE p_setting
            WHEN 'allow_direct_messages' THEN allow_direct_messages
            WHEN 'allow_group_invites' THEN allow_group_invites
            WHEN 'allow_friend_requests' THEN allow_friend_requests END
        INTO v_value FROM chat.privacy WHERE user_id = p_target;
    IF NOT chat.privacy_allows(v_value, p_target, p_actor) THEN
        RETURN chat.err(403, 'not_allowed', CASE v_value
            WHEN 'friends' THEN 'This user only accepts this from friends'
            ELSE 'This user does not accept this' END);
    END IF;
    RETURN NULL;
END;
$$;

-- ------------------------------------------------------------ conversations

CREATE TABLE chat.conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('direct', 'group')),
    name text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    pair_lo uuid,                           -- direct: the two users, ordered
    pair_hi uuid,
    created_by uuid NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0,     -- the last event's seq (chat.dm_emit)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'direct') = (pair_lo IS NOT NULL AND pair_hi IS NOT NULL)),
    CHECK (pair_lo < pair_hi)
);
CREATE UNIQUE INDEX conversations_pair_idx ON chat.conversations (pair_lo, pair_hi)
    WHERE kind = 'direct';

-- A member's view of a conversation: role (groups), the read watermark
-- (every message up to last_read_seq is read), the count of unread
-- messages from others, and active_at, the time of the last message (or
-- of joining), which orders the conversation list.
CREATE TABLE chat.conversation_members (
    conversation_id uuid NOT NULL REFERENCES chat.conversations (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('direct', 'group')),  -- the conversation's
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
    joined_at timestamptz NOT NULL DEFAULT now(),
    last_read_seq bigint NOT NULL DEFAULT 0,
    read_at timestamptz,
    unread integer NOT NULL DEFAULT 0 CHECK (unread >= 0),
    active_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_list_idx
    ON chat.conversation_members (user_id, kind, active_at DESC, conversation_id DESC);

-- seq is the seq of the message's dm-message event, as for room messages.
CREATE TABLE chat.dm_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES chat.conversations (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    sender_id uuid NOT NULL,
    content text NOT NULL CHECK (length(content) <= 4000),
    is_edited boolean NOT NULL DEFAULT false,
    is_deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, seq)
);

CREATE TABLE chat.dm_reactions (
    id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    message_id uuid NOT NULL REFERENCES chat.dm_messages (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    emoji text NOT NULL CHECK (length(emoji) BETWEEN 1 AND 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id, emoji)
);

-- Every persisted event of a conversation, numbered 1, 2, 3... as
-- chat.events is for rooms.
CREATE TABLE chat.conversation_events (
    conversation_id uuid NOT NULL REFERENCES chat.conversations (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    envelope jsonb NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Appends an event to conversation p_conv and returns its envelope
-- {type, conversation_id, user_id, target_user_id, payload, timestamp,
-- seq} plus "to", the members it is for (chatd publishes "to" to
-- gatewayd, which delivers to their sockets and drops it; the stored
-- envelope has no "to"). target_user_id is the other user of a direct
-- conversation, the nil UUID in a group. NULL when there is no such
-- conversation.
CREATE FUNCTION chat.dm_emit(p_conv uuid, p_type text, p_user uuid, p_payload jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c chat.conversations;
    env jsonb;
BEGIN
    UPDATE chat.conversations SET last_seq = last_seq + 1, updated_at = now()
    WHERE id = p_conv RETURNING * INTO c;
    IF c.id IS NULL THEN
        RETURN NULL;
    END IF;
    env := jsonb_build_object('type', p_type, 'conversation_id', p_conv,
        'user_id', p_user, 'target_user_id', CASE
            WHEN c.kind = 'group' THEN '00000000-0000-0000-0000-000000000000'::uuid
            WHEN c.pair_lo = p_user THEN c.pair_hi ELSE c.pair_lo END,
        'payload', p_payload, 'timestamp', chat.rfc3339(now()), 'seq', c.last_seq);
    INSERT INTO chat.conversation_events (conversation_id, seq, envelope)
    VALUES (p_conv, c.last_seq, env);
    RETURN env || jsonb_build_object('to', (SELECT jsonb_agg(user_id ORDER BY user_id)
        FROM chat.conversation_members WHERE conversation_id = p_conv));
END;
$$;

-- 200 with p_body and one event of p_type in p_conv (payload p_payload, or
-- the body itself).
CREATE FUNCTION chat.ok_dm_emit(p_body jsonb, p_conv uuid, p_type text, p_user uuid,
    p_payload jsonb DEFAULT NULL, p_status integer DEFAULT 200) RETURNS chat.reply
LANGUAGE sql AS $$
    SELECT chat.ok(p_status, p_body, jsonb_build_array(
        chat.dm_emit(p_conv, p_type, p_user, coalesce(p_payload, p_body))));
$$;

-- The direct conversation of two users, or NULL.
CREATE FUNCTION chat.direct_of(p_a uuid, p_b uuid) RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT id FROM chat.conversations
    WHERE kind = 'direct' AND pair_lo = least(p_a, p_b) AND pair_hi = greatest(p_a, p_b);
$$;

-- The direct conversation of two users, created with both as members when
-- there is none yet, and locked (FOR NO KEY UPDATE). Two first messages at
-- once make one conversation.
CREATE FUNCTION chat.direct_lock(p_a uuid, p_b uuid) RETURNS chat.conversations
LANGUAGE plpgsql AS $$
DECLARE
    c chat.conversations;
BEGIN
    SELECT * INTO c FROM chat.conversations
    WHERE kind = 'direct' AND pair_lo = least(p_a, p_b) AND pair_hi = greatest(p_a, p_b)
    FOR NO KEY UPDATE;
    IF c.id IS NOT NULL THEN
        RETURN c;       -- the usual case: no insert attempted
    END IF;
    INSERT INTO chat.conversations (kind, pair_lo, pair_hi, created_by)
    VALUES ('direct', least(p_a, p_b), greatest(p_a, p_b), p_a)
    ON CONFLICT DO NOTHING RETURNING * INTO c;
    IF c.id IS NOT NULL THEN
        INSERT INTO chat.conversation_members (conversation_id, user_id, kind)
        VALUES (c.id, p_a, 'direct'), (c.id, p_b, 'direct');
        RETURN c;
    END IF;
    SELECT * INTO c FROM chat.conversations
    WHERE kind = 'direct' AND pair_lo = least(p_a, p_b) AND pair_hi = greatest(p_a, p_b)
    FOR NO KEY UPDATE;
    RETURN c;
END;
$$;

CREATE FUNCTION chat.is_conversation_member(p_conv uuid, p_user uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM chat.conversation_members
                   WHERE conversation_id = p_conv AND user_id = p_user);
$$;

-- ------------------------------------------------------------ JSON shapes

-- The reference's 9-field user shape, with what chat may show of another
-- user filled in (email "", flags false).
CREATE FUNCTION chat.dm_user_json(p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p_user, 'username', coalesce(d.username, ''),
        'email', '', 'display_name', coalesce(d.display_name, ''),
        'avatar_url', coalesce(d.avatar_url, ''), 'is_admin', false,
        'email_verified', false, 'two_factor_enabled', false, 'password_expired', false)
    FROM (SELECT 1) one LEFT JOIN auth.directory d ON d.id = p_user;
$$;

-- DirectMessageResponse (reference §2.4) plus conversation_id and seq; a
-- group's message names group_dm_id and has no receiver. A deleted
-- message's content is gone ("").
CREATE FUNCTION chat.dm_message_json(m chat.dm_messages, c chat.conversations)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', m.id, 'conversation_id', m.conversation_id,
        'sender_id', m.sender_id,
        'content', CASE WHEN m.is_deleted THEN '' ELSE m.content END,
        'is_edited', m.is_edited, 'is_deleted', m.is_deleted,
        'created_at', chat.rfc3339(m.created_at), 'updated_at', chat.rfc3339(m.updated_at),
        'seq', m.seq, 'sender', chat.dm_user_json(m.sender_id))
        || CASE WHEN c.kind = 'group' THEN jsonb_build_object('group_dm_id', c.id)
           ELSE jsonb_build_object(
               'receiver_id', CASE WHEN c.pair_lo = m.sender_id THEN c.pair_hi ELSE c.pair_lo END,
               'receiver', chat.dm_user_json(
                   CASE WHEN c.pair_lo = m.sender_id THEN c.pair_hi ELSE c.pair_lo END)) END;
$$;

-- A page of a conversation's messages, newest first: with p_before the
-- page just older than that message, with p_after the page just newer.
CREATE FUNCTION chat.dm_page(c chat.conversations, p_limit integer, p_before uuid,
    p_after uuid) RETURNS chat.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_cursor bigint;
    v_list jsonb;
BEGIN
    IF coalesce(p_before, p_after) IS NOT NULL THEN
        SELECT seq INTO v_cursor FROM chat.dm_messages
        WHERE id = coalesce(p_before, p_after) AND conversation_id = c.id;
        IF NOT FOUND THEN
            RETURN chat.err(400, 'invalid_parameter',
                'The cursor is not a message of this conversation');
        END IF;
    END IF;
    IF c.id IS NULL THEN
        v_list := NULL;
    ELSIF p_after IS NOT NULL THEN
        SELECT jsonb_agg(chat.dm_message_json(m, c) ORDER BY m.seq DESC) INTO v_list
        FROM (SELECT * FROM chat.dm_messages WHERE conversation_id = c.id AND seq > v_cursor
              ORDER BY seq LIMIT p_limit) m;
    ELSE
        SELECT jsonb_agg(chat.dm_message_json(m, c) ORDER BY m.seq DESC) INTO v_list
        FROM (SELECT * FROM chat.dm_messages
              WHERE conversation_id = c.id AND (v_cursor IS NULL OR seq < v_cursor)
              ORDER BY seq DESC LIMIT p_limit) m;
    END IF;
    RETURN chat.ok_list(v_list);
END;
$$;

-- The latest message of a conversation that is not deleted.
CREATE FUNCTION chat.dm_last_message(p_conv uuid) RETURNS chat.dm_messages
LANGUAGE sql STABLE AS $$
    SELECT * FROM chat.dm_messages WHERE conversation_id = p_conv AND NOT is_deleted
    ORDER BY seq DESC LIMIT 1;
$$;

-- ------------------------------------------------------------ writing

-- Posts p_content by p_user into conversation c (locked by the caller):
-- the message, the members' unread counts and activity (the sender has
-- read up to it), and the dm-message event. p_status: 200 or 201.
CREATE FUNCTION chat.dm_post(c chat.conversations, p_user uuid, p_content text,
    p_status integer) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    m chat.dm_messages;
    body jsonb;
BEGIN
    INSERT INTO chat.dm_messages (conversation_id, seq, sender_id, content)
    VALUES (c.id, c.last_seq + 1, p_user, p_content) RETURNING * INTO m;
    UPDATE chat.conversation_members
    SET active_at = m.created_at,
        unread = CASE WHEN user_id = p_user THEN 0 ELSE unread + 1 END,
        last_read_seq = CASE WHEN user_id = p_user THEN m.seq ELSE last_read_seq END,
        read_at = CASE WHEN user_id = p_user THEN m.created_at ELSE read_at END
    WHERE conversation_id = c.id;
    body := chat.dm_message_json(m, c);
    RETURN chat.ok_dm_emit(body, c.id, 'dm-message', p_user, NULL, p_status);
END;
$$;

-- POST /api/dm/send {receiver_id, content}: blocks and the receiver's
-- privacy are checked on every message, not only the first.
CREATE FUNCTION chat.dm_send(p_user uuid, p_receiver uuid, p_content text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply;
BEGIN
    IF p_user = p_receiver THEN
        RETURN chat.err(400, 'invalid_request', 'Cannot send message to yourself');
    ELSIF NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = p_receiver) THEN
        RETURN chat.err(404, 'not_found', 'Receiver not found');
    END IF;
    denied := chat.reach_refusal(p_user, p_receiver, 'allow_direct_messages');
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    RETURN chat.dm_post(chat.direct_lock(p_user, p_receiver), p_user, p_content, 200);
END;
$$;

-- The message p_msg and its conversation, locked in that order for a
-- change by p_user (conversation first), with why p_user may not touch
-- it: 404 unless p_user is a member (a message of others does not leak).
CREATE FUNCTION chat.dm_message_lock(p_msg uuid, p_user uuid,
    OUT m chat.dm_messages, OUT c chat.conversations, OUT denied chat.reply)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO c FROM chat.conversations
    WHERE id = (SELECT conversation_id FROM chat.dm_messages WHERE id = p_msg)
    FOR NO KEY UPDATE;
    SELECT * INTO m FROM chat.dm_messages WHERE id = p_msg FOR UPDATE;
    IF m.id IS NULL OR NOT chat.is_conversation_member(c.id, p_user) THEN
        denied := chat.err(404, 'not_found', 'Message not found');
    END IF;
END;
$$;

-- PUT /api/dm/update {message_id, content}: the sender, on a live message.
CREATE FUNCTION chat.dm_update(p_msg uuid, p_user uuid, p_content text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.dm_message_lock(p_msg, p_user);
    m chat.dm_messages;
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    ELSIF (x.m).sender_id <> p_user THEN
        RETURN chat.err(403, 'forbidden', 'Cannot edit this message');
    ELSIF (x.m).is_deleted THEN
        RETURN chat.err(404, 'not_found', 'Message not found');
    END IF;
    UPDATE chat.dm_messages SET content = p_content, is_edited = true, updated_at = now()
    WHERE id = p_msg RETURNING * INTO m;
    RETURN chat.ok_dm_emit(chat.dm_message_json(m, x.c), m.conversation_id,
        'dm-message-updated', p_user);
END;
$$;

-- DELETE /api/dm/delete {message_id}: the sender. The content is erased
-- (from the events that carried it too: 010_scrub_deleted.sql), its
-- reactions as well, and it stops counting as unread.
CREATE FUNCTION chat.dm_delete(p_msg uuid, p_user uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.dm_message_lock(p_msg, p_user);
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    ELSIF (x.m).sender_id <> p_user THEN
        RETURN chat.err(403, 'forbidden', 'Cannot delete this message');
    ELSIF (x.m).is_deleted THEN
        RETURN chat.err(404, 'not_found', 'Message not found');
    END IF;
    UPDATE chat.dm_messages SET content = '', is_deleted = true, updated_at = now()
    WHERE id = p_msg;
    DELETE FROM chat.dm_reactions WHERE message_id = p_msg;
    UPDATE chat.conversation_members SET unread = unread - 1
    WHERE conversation_id = (x.c).id AND user_id <> p_user
      AND last_read_seq < (x.m).seq AND unread > 0;
    RETURN chat.ok_dm_emit('{"status":"deleted"}', (x.c).id, 'dm-message-deleted', p_user,
        jsonb_build_object('message_id', p_msg, 'conversation_id', (x.c).id,
            'seq', (x.m).seq));
END;
$$;

-- ------------------------------------------------------------ reading

-- A page of p_user's conversations of kind p_kind, the latest activity
-- first (the index conversation_members_list_idx), after p_before (a
-- conversation id of the previous page) when given. A conversation opened
-- but never written to (chat.dm_open) is not listed.
CREATE FUNCTION chat.conversation_page(p_user uuid, p_kind text, p_limit integer,
    p_before uuid) RETURNS SETOF chat.conversation_members
LANGUAGE sql STABLE AS $$
    SELECT mb.* FROM chat.conversation_members mb
    JOIN chat.conversations c ON c.id = mb.conversation_id
    WHERE mb.user_id = p_user AND mb.kind = p_kind AND c.last_seq > 0
      AND (p_before IS NULL OR (mb.active_at, mb.conversation_id) <
          (SELECT b.active_at, b.conversation_id FROM chat.conversation_members b
           WHERE b.conversation_id = p_before AND b.user_id = p_user))
    ORDER BY mb.active_at DESC, mb.conversation_id DESC LIMIT p_limit;
$$;

-- 400 when p_before is not one of p_user's conversations of kind p_kind
-- (p_what names them), else NULL.
CREATE FUNCTION chat.conversation_cursor_check(p_user uuid, p_kind text, p_before uuid,
    p_what text) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.err(400, 'invalid_parameter', 'The cursor is not one of your ' || p_what)
    WHERE p_before IS NOT NULL AND NOT EXISTS (SELECT 1 FROM chat.conversation_members
        WHERE conversation_id = p_before AND user_id = p_user AND kind = p_kind);
$$;

-- GET /api/dm/conversations: one row per peer, the latest activity first.
CREATE FUNCTION chat.dm_conversations(p_user uuid, p_limit integer, p_before uuid)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.conversation_cursor_check(p_user, 'direct', p_before,
        'conversations'), chat.ok_list((
    SELECT jsonb_agg(jsonb_build_object('conversation_id', p.conversation_id,
            'user_id', p.peer, 'username', coalesce(d.username, ''),
            'display_name', coalesce(d.display_name, ''),
            'avatar_url', coalesce(d.avatar_url, ''),
            'last_message', coalesce(l.content, ''), 'last_message_id', l.id,
            'last_sender_id', l.sender_id,
            'last_time', chat.rfc3339(coalesce(l.created_at, p.active_at)),
            'unread_count', p.unread) ORDER BY p.active_at DESC, p.conversation_id DESC)
    FROM (SELECT mb.conversation_id, mb.active_at, mb.unread,
                 CASE WHEN c.pair_lo = p_user THEN c.pair_hi ELSE c.pair_lo END AS peer
          FROM chat.conversation_page(p_user, 'direct', p_limit, p_before) mb
          JOIN chat.conversations c ON c.id = mb.conversation_id) p
    LEFT JOIN auth.directory d ON d.id = p.peer
    LEFT JOIN LATERAL chat.dm_last_message(p.conversation_id) l ON true)));
$$;

-- GET /api/dm/messages?user_id=: the conversation with that peer.
CREATE FUNCTION chat.dm_history(p_user uuid, p_peer uuid, p_limit integer, p_before uuid,
    p_after uuid) RETURNS chat.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c chat.conversations;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = p_peer) THEN
        RETURN chat.err(404, 'not_found', 'User not found');
    END IF;
    SELECT * INTO c FROM chat.conversations WHERE id = chat.direct_of(p_user, p_peer);
    IF c.id IS NULL AND coalesce(p_before, p_after) IS NOT NULL THEN
        RETURN chat.err(400, 'invalid_parameter', 'The cursor is not a message of this conversation');
    END IF;
    RETURN chat.dm_page(c, p_limit, p_before, p_after);
END;
$$;

-- ------------------------------------------------------------ reactions

-- DMReactionResponse (reference §3.3) plus message_id.
CREATE FUNCTION chat.dm_reaction_json(x chat.dm_reactions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', x.id, 'direct_message_id', x.message_id,
        'message_id', x.message_id, 'user_id', x.user_id,
        'username', chat.username_or_empty(x.user_id), 'emoji', x.emoji,
        'created_at', chat.rfc3339(x.created_at));
$$;

-- POST /api/dm/reaction/add {message_id, emoji}: members, on live messages,
-- while neither of a direct conversation's two blocked the other; the same
-- emoji twice is 409.
CREATE FUNCTION chat.dm_reaction_add(p_msg uuid, p_user uuid, p_emoji text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.dm_message_lock(p_msg, p_user);
    r chat.dm_reactions;
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    ELSIF (x.m).is_deleted THEN
        RETURN chat.err(404, 'not_found', 'Message not found');
    ELSIF (x.c).kind = 'direct' AND chat.blocked_between((x.c).pair_lo, (x.c).pair_hi) THEN
        RETURN chat.err(403, 'blocked', 'You cannot react in this conversation');
    END IF;
    INSERT INTO chat.dm_reactions (message_id, user_id, emoji) VALUES (p_msg, p_user, p_emoji)
    ON CONFLICT DO NOTHING RETURNING * INTO r;
    IF r.id IS NULL THEN
        RETURN chat.err(409, 'conflict', 'You have already reacted with this emoji');
    END IF;
    RETURN chat.ok_dm_emit(chat.dm_reaction_json(r), (x.c).id, 'dm-reaction-added', p_user);
END;
$$;

-- DELETE /api/dm/reaction/remove?message_id=&emoji=: one's own reaction.
CREATE FUNCTION chat.dm_reaction_remove(p_msg uuid, p_user uuid, p_emoji text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.dm_message_lock(p_msg, p_user);
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    END IF;
    DELETE FROM chat.dm_reactions WHERE message_id = p_msg AND user_id = p_user AND emoji = p_emoji;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Reaction not found');
    END IF;
    RETURN chat.ok_dm_emit('{"status":"removed"}', (x.c).id, 'dm-reaction-removed', p_user,
        jsonb_build_object('direct_message_id', p_msg, 'message_id', p_msg,
            'emoji', p_emoji, 'user_id', p_user));
END;
$$;

-- GET /api/dm/reactions?message_id=: the reactions, oldest first.
CREATE FUNCTION chat.dm_reactions_of(p_msg uuid, p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT EXISTS (
            SELECT 1 FROM chat.dm_messages m JOIN chat.conversation_members mb
                ON mb.conversation_id = m.conversation_id AND mb.user_id = p_user
            WHERE m.id = p_msg) THEN chat.err(404, 'not_found', 'Message not found')
        ELSE chat.ok_list((SELECT jsonb_agg(chat.dm_reaction_json(x)
                ORDER BY x.created_at, x.user_id, x.emoji)
            FROM chat.dm_reactions x WHERE x.message_id = p_msg)) END;
$$;

-- ------------------------------------------------------------ read receipts

-- Moves p_user's read watermark in conversation c (locked) up to p_seq and
-- counts again what is left unread. The number of messages it marked.
CREATE FUNCTION chat.dm_mark_read(c chat.conversations, p_user uuid, p_seq bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_before integer;
    v_after integer;
BEGIN
    SELECT unread INTO v_before FROM chat.conversation_members
    WHERE conversation_id = c.id AND user_id = p_user AND last_read_seq < p_seq FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT count(*) INTO v_after FROM chat.dm_messages
    WHERE conversation_id = c.id AND seq > p_seq AND sender_id <> p_user AND NOT is_deleted;
    UPDATE chat.conversation_members SET last_read_seq = p_seq, read_at = now(),
        unread = v_after
    WHERE conversation_id = c.id AND user_id = p_user;
    RETURN greatest(v_before - v_after, 0);
END;
$$;

-- POST /api/dm/read {message_id}: everything up to that message is read.
-- Idempotent: reading it again, or an older one, changes nothing and
-- emits nothing.
CREATE FUNCTION chat.dm_read(p_msg uuid, p_user uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.dm_message_lock(p_msg, p_user);
    v_seq bigint;
    body jsonb;
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    END IF;
    SELECT last_read_seq INTO v_seq FROM chat.conversation_members
    WHERE conversation_id = (x.c).id AND user_id = p_user;
    body := jsonb_build_object('status', 'ok', 'message_id', p_msg,
        'read_at', chat.rfc3339(now()));
    IF v_seq >= (x.m).seq THEN
        RETURN chat.ok(200, body);
    END IF;
    PERFORM chat.dm_mark_read(x.c, p_user, (x.m).seq);
    RETURN chat.ok_dm_emit(body, (x.c).id, 'dm-message-read', p_user,
        jsonb_build_object('message_id', p_msg, 'user_id', p_user,
            'read_at', body ->> 'read_at', 'seq', (x.m).seq));
END;
$$;

-- POST /api/dm/read/all?peer_id=: the whole conversation with that peer.
CREATE FUNCTION chat.dm_read_all(p_user uuid, p_peer uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    c chat.conversations;
    v_marked integer;
    v_now text := chat.rfc3339(now());
BEGIN
    IF NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = p_peer) THEN
        RETURN chat.err(404, 'not_found', 'User not found');
    END IF;
    SELECT * INTO c FROM chat.conversations WHERE id = chat.direct_of(p_user, p_peer)
    FOR NO KEY UPDATE;
    IF c.id IS NULL THEN
        RETURN chat.ok(200, '{"marked_count":0,"status":"ok"}');
    END IF;
    v_marked := chat.dm_mark_read(c, p_user, c.last_seq);
    IF v_marked = 0 THEN
        RETURN chat.ok(200, '{"marked_count":0,"status":"ok"}');
    END IF;
    RETURN chat.ok_dm_emit(jsonb_build_object('marked_count', v_marked, 'status', 'ok'),
        c.id, 'dm-messages-read-all', p_user, jsonb_build_object('user_id', p_user,
            'peer_id', p_peer, 'read_at', v_now, 'seq', c.last_seq));
END;
$$;

-- GET /api/dm/read/status?peer_id=: both watermarks and the caller's
-- unread count.
CREATE FUNCTION chat.dm_read_status(p_user uuid, p_peer uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = p_peer)
        THEN chat.err(404, 'not_found', 'User not found') ELSE chat.ok(200, jsonb_build_object('peer_id', p_peer,
        'conversation_id', c.id,
        'unread_count', coalesce(me.unread, 0),
        'last_read_seq', coalesce(me.last_read_seq, 0),
        'read_at', chat.rfc3339(me.read_at),
        'peer_last_read_seq', coalesce(them.last_read_seq, 0),
        'peer_read_at', chat.rfc3339(them.read_at),
        'peer_last_read_message_id', (SELECT id FROM chat.dm_messages
            WHERE conversation_id = c.id AND seq <= them.last_read_seq
            ORDER BY seq DESC LIMIT 1))) END
    FROM (SELECT chat.direct_of(p_user, p_peer) AS id) c
    LEFT JOIN chat.conversation_members me ON me.conversation_id = c.id AND me.user_id = p_user
    LEFT JOIN chat.conversation_members them
        ON them.conversation_id = c.id AND them.user_id = p_peer;
$$;

-- ------------------------------------------------------------ the reference's DM socket

-- GET /api/dm/ws?peer_id= (gatewayd, before the upgrade): p_user's direct
-- conversation with p_peer, created when there is none yet (it is listed
-- once it has a message), unless either blocked the other.
CREATE FUNCTION chat.dm_open(p_user uuid, p_peer uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    c chat.conversations;
BEGIN
    IF p_user = p_peer THEN
        RETURN chat.err(400, 'invalid_request', 'Cannot open a conversation with yourself');
    ELSIF NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = p_peer) THEN
        RETURN chat.err(404, 'not_found', 'Peer user not found');
    ELSIF chat.blocked_between(p_user, p_peer) THEN
        RETURN chat.err(403, 'blocked', 'Cannot connect to blocked user');
    END IF;
    c := chat.direct_lock(p_user, p_peer);
    RETURN chat.ok(200, jsonb_build_object('conversation_id', c.id, 'seq', c.last_seq));
END;
$$;
