-- Custom status (chatd/status.c), privacy settings (chatd/privacy.c), and
-- what presence shows of a user who hides their online status
-- (chatd/presence.c). docs/status-privacy.md tells the rules.
--
-- The status a user sets with /api/status/update is the same choice as
-- /api/presence/update: chat.presence (005) gains a short text, an emoji
-- and an expiry rather than a second table whose status could disagree
-- with the presence one. While expires_at is set and has passed, the row
-- reads as the default: status online, no text, no emoji. Nothing sweeps:
-- every read applies the expiry (chat.presence_now, chat.status_effective)
-- and the next write of the row makes it so (chat.presence_lock).
--
-- show_online_status = false (chat.privacy, 006) makes the user show as
-- "offline" to everyone else on every presence path, with no last_seen;
-- the user still sees their own real status.

ALTER TABLE chat.presence
    ADD COLUMN status_text text NOT NULL DEFAULT ''
        CHECK (char_length(status_text) <= 150),
    ADD COLUMN status_emoji text NOT NULL DEFAULT ''
        CHECK (char_length(status_emoji) <= 10),
    ADD COLUMN expires_at timestamptz,          -- NULL: the status does not expire
    -- An offline status says nothing (the reference's rule for
    -- /api/status/update, kept for /api/presence/update too).
    ADD CONSTRAINT presence_offline_is_silent
        CHECK (status <> 'offline' OR (status_text = '' AND status_emoji = ''));

-- ------------------------------------------------------------ what shows

-- A chosen status as of now: online once p_expires has passed, or when
-- there is no choice (no row).
CREATE FUNCTION chat.status_effective(p_status text, p_expires timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_expires <= now() THEN 'online' ELSE coalesce(p_status, 'online') END;
$$;

-- p_user's presence row as of now: the defaults when there is none
-- (last_seen and updated_at NULL), and an expired status read as the
-- default, updated at its expiry. (It lists chat.presence's columns in
-- their order: a column added to the table is added here.)
CREATE FUNCTION chat.presence_now(p_user uuid) RETURNS chat.presence
LANGUAGE sql STABLE AS $$
    SELECT p_user, chat.status_effective(p.status, p.expires_at), p.room_id, p.last_seen,
        CASE WHEN x.expired THEN p.expires_at ELSE p.updated_at END,
        CASE WHEN x.expired THEN '' ELSE coalesce(p.status_text, '') END,
        CASE WHEN x.expired THEN '' ELSE coalesce(p.status_emoji, '') END,
        CASE WHEN x.expired THEN NULL ELSE p.expires_at END
    FROM (SELECT 1) one LEFT JOIN chat.presence p ON p.user_id = p_user
    CROSS JOIN LATERAL (SELECT coalesce(p.expires_at <= now(), false) AS expired) x;
$$;

-- True when p_viewer may not see p_user's presence at all: p_user turned
-- show_online_status off and p_viewer is someone else (NULL: everyone
-- else, as for what is announced to rooms).
CREATE FUNCTION chat.presence_hidden_from(p_user uuid, p_viewer uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_viewer IS DISTINCT FROM p_user AND coalesce(
        (SELECT NOT show_online_status FROM chat.privacy WHERE user_id = p_user), false);
$$;

-- What p_viewer is shown of p_user's effective choice p_status while
-- p_user is connected: "offline" for invisible and offline, and for a
-- user hidden from p_viewer; else the choice. (Not connected is "offline"
-- whatever this says.)
CREATE FUNCTION chat.presence_public(p_user uuid, p_status text, p_viewer uuid)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_status IN ('invisible', 'offline')
                  OR chat.presence_hidden_from(p_user, p_viewer) THEN 'offline'
                ELSE p_status END;
$$;

-- What everyone else sees of p_user now, p_connected telling whether the
-- user holds a socket (chatd asks Redis before the call).
CREATE FUNCTION chat.presence_shown(p_user uuid, p_connected boolean) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_connected
        THEN chat.presence_public(p_user, (chat.presence_now(p_user)).status, NULL)
        ELSE 'offline' END;
$$;

-- Who may look at p_user's presence and status: the user, a global admin,
-- and users sharing a room with them.
CREATE FUNCTION chat.presence_may_see(p_viewer uuid, p_user uuid, p_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_viewer = p_user OR p_admin OR EXISTS (
        SELECT 1 FROM chat.members a
        JOIN chat.members b ON b.room_id = a.room_id AND b.user_id = p_viewer
        WHERE a.user_id = p_user);
$$;

-- The presence-update events telling every room of p_user that others now
-- see p_after instead of p_before; NULL when that is no change. They are
-- ephemeral (no seq, not in chat.events): chatd publishes them like the
-- envelopes of chat.emit, and a resume does not replay them.
CREATE FUNCTION chat.presence_events(p_user uuid, p_before text, p_after text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_agg(jsonb_build_object('type', 'presence-update', 'room_id', m.room_id,
            'user_id', p_user, 'target_user_id', '00000000-0000-0000-0000-000000000000',
            'payload', jsonb_build_object('user_id', p_user,
                'username', chat.username_or_empty(p_user), 'status', p_after),
            'timestamp', chat.rfc3339(now())) ORDER BY m.joined_at, m.room_id)
    FROM chat.members m
    WHERE m.user_id = p_user AND p_before IS DISTINCT FROM p_after;
$$;

-- p_user's presence row, created when missing, locked until the end of
-- the transaction, with an expired status made the default.
CREATE FUNCTION chat.presence_lock(p_user uuid) RETURNS chat.presence
LANGUAGE plpgsql AS $$
DECLARE
    p chat.presence;
BEGIN
    INSERT INTO chat.presence (user_id) VALUES (p_user) ON CONFLICT DO NOTHING;
    SELECT * INTO p FROM chat.presence WHERE user_id = p_user FOR UPDATE;
    IF p.expires_at <= now() THEN
        UPDATE chat.presence SET status = 'online', status_text = '', status_emoji = '',
            expires_at = NULL, updated_at = p.expires_at
        WHERE user_id = p_user RETURNING * INTO p;
    END IF;
    RETURN p;
END;
$$;

-- ------------------------------------------------------------ presence

-- POST /api/presence/update {status, room_id?}: the caller's choice and
-- "where I am", which must be a room of theirs. The text, the emoji and
-- the expiry of the status stay (but "offline" empties the text and the
-- emoji, as on /api/status/update). 200 {user_id, username, status,
-- room_id?, last_seen}, announced when what others see changes.
CREATE FUNCTION chat.presence_update(p_user uuid, p_status text, p_room uuid,
    p_connected boolean) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    v_before text;
    p chat.presence;
BEGIN
    IF p_room IS NOT NULL AND chat.member_role(p_room, p_user) IS NULL THEN
        RETURN chat.err(403, 'not_member', 'You are not a member of this room');
    END IF;
    PERFORM chat.presence_lock(p_user);
    v_before := chat.presence_shown(p_user, p_connected);
    UPDATE chat.presence SET status = p_status, room_id = p_room, last_seen = now(),
        updated_at = now(),
        status_text = CASE WHEN p_status = 'offline' THEN '' ELSE status_text END,
        status_emoji = CASE WHEN p_status = 'offline' THEN '' ELSE status_emoji END
    WHERE user_id = p_user RETURNING * INTO p;
    RETURN chat.ok(200, jsonb_build_object('user_id', p_user,
            'username', chat.username_or_empty(p_user), 'status', p.status,
            'last_seen', chat.rfc3339(p.last_seen))
        || CASE WHEN p.room_id IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('room_id', p.room_id) END,
        chat.presence_events(p_user, v_before, chat.presence_shown(p_user, p_connected)));
END;
$$;

-- ------------------------------------------------------------ status

-- The status of presence row p as its owner sees it: {user_id, status,
-- status_text, status_emoji, expires_at, updated_at}.
CREATE FUNCTION chat.status_json(p chat.presence) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('user_id', p.user_id, 'status', p.status,
        'status_text', p.status_text, 'status_emoji', p.status_emoji,
        'expires_at', chat.rfc3339(p.expires_at), 'updated_at', chat.rfc3339(p.updated_at));
$$;

-- GET /api/status: the caller's own status, the choice itself.
CREATE FUNCTION chat.status_get(p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok(200, chat.status_json(chat.presence_now(p_user)));
$$;

-- PUT /api/status/update {status?, status_text?, status_emoji?,
-- expires_in?}: what is given changes; "offline" empties the text and the
-- emoji; expires_in (minutes) sets the expiry and its absence clears it,
-- so that each update says how long the status lasts. Announced like a
-- presence change.
CREATE FUNCTION chat.status_update(p_user uuid, p_status text, p_text text, p_emoji text,
    p_expires_in integer, p_connected boolean) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    v_before text;
    p chat.presence := chat.presence_lock(p_user);
    v_status text := coalesce(p_status, p.status);
BEGIN
    v_before := chat.presence_shown(p_user, p_connected);
    UPDATE chat.presence SET status = v_status,
        status_text = CASE WHEN v_status = 'offline' THEN ''
                           ELSE coalesce(p_text, status_text) END,
        status_emoji = CASE WHEN v_status = 'offline' THEN ''
                            ELSE coalesce(p_emoji, status_emoji) END,
        expires_at = now() + p_expires_in * interval '1 minute',
        updated_at = now()
    WHERE user_id = p_user RETURNING * INTO p;
    RETURN chat.ok(200, chat.status_json(p),
        chat.presence_events(p_user, v_before, chat.presence_shown(p_user, p_connected)));
END;
$$;

-- GET /api/status/user?user_id=: p_target's status as p_viewer sees it,
-- p_connected telling whether p_target holds a socket. Where the status
-- shown comes from hiding (invisible, offline, show_online_status off),
-- text, emoji and times are hidden too. 404 for an unknown user, 403
-- unless chat.presence_may_see.
CREATE FUNCTION chat.status_user(p_target uuid, p_viewer uuid, p_admin boolean,
    p_connected boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = p_target) THEN
            chat.err(404, 'not_found', 'User not found')
        WHEN NOT chat.presence_may_see(p_viewer, p_target, p_admin) THEN
            chat.err(403, 'forbidden', 'You share no room with this user')
        WHEN v.public = 'offline' THEN
            chat.ok(200, jsonb_build_object('user_id', p_target, 'status', 'offline',
                'status_text', '', 'status_emoji', '', 'expires_at', NULL, 'updated_at', NULL))
        ELSE chat.ok(200, chat.status_json(v.p) || jsonb_build_object('status',
            CASE WHEN p_connected THEN v.public ELSE 'offline' END))
    END
    FROM (SELECT p, chat.presence_public(p_target, p.status, p_viewer) AS public
          FROM chat.presence_now(p_target) p) v;
$$;

-- ------------------------------------------------------------ privacy

-- {user_id, allow_direct_messages, allow_group_invites,
-- allow_friend_requests, show_online_status, updated_at}: the defaults
-- (updated_at null) when the user never changed them.
CREATE FUNCTION chat.privacy_json(p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('user_id', p_user,
        'allow_direct_messages', coalesce(v.allow_direct_messages, 'everyone'),
        'allow_group_invites', coalesce(v.allow_group_invites, 'everyone'),
        'allow_friend_requests', coalesce(v.allow_friend_requests, 'everyone'),
        'show_online_status', coalesce(v.show_online_status, true),
        'updated_at', chat.rfc3339(v.updated_at))
    FROM (SELECT 1) one LEFT JOIN chat.privacy v ON v.user_id = p_user;
$$;

-- GET /api/privacy.
CREATE FUNCTION chat.privacy_get(p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok(200, chat.privacy_json(p_user));
$$;

-- PUT /api/privacy/update {setting?...}: p_patch holds the settings to
-- change, checked by chatd. Turning show_online_status off or on while
-- connected is announced as a presence change.
CREATE FUNCTION chat.privacy_update(p_user uuid, p_patch jsonb, p_connected boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    v_before text;
BEGIN
    INSERT INTO chat.privacy (user_id) VALUES (p_user) ON CONFLICT DO NOTHING;
    PERFORM 1 FROM chat.privacy WHERE user_id = p_user FOR UPDATE;
    v_before := chat.presence_shown(p_user, p_connected);
    UPDATE chat.privacy SET
        allow_direct_messages = coalesce(p_patch->>'allow_direct_messages', allow_direct_messages),
        allow_group_invites = coalesce(p_patch->>'allow_group_invites', allow_group_invites),
        allow_friend_requests = coalesce(p_patch->>'allow_friend_requests', allow_friend_requests),
        show_online_status = coalesce((p_patch->>'show_online_status')::boolean,
                                      show_online_status),
        updated_at = now()
    WHERE user_id = p_user;
    RETURN chat.ok(200, chat.privacy_json(p_user),
        chat.presence_events(p_user, v_before, chat.presence_shown(p_user, p_connected)));
END;
$$;

-- POST /api/privacy/reset: every setting back to its default.
CREATE FUNCTION chat.privacy_reset(p_user uuid, p_connected boolean) RETURNS chat.reply
LANGUAGE sql AS $$
    SELECT chat.privacy_update(p_user, jsonb_build_object(
        'allow_direct_messages', 'everyone', 'allow_group_invites', 'everyone',
        'allow_friend_requests', 'everyone', 'show_online_status', true), p_connected);
$$;

-- GET /api/privacy/export: {exported_at, user_id, privacy, status}, the
-- caller's own settings and status.
CREATE FUNCTION chat.privacy_export(p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok(200, jsonb_build_object('exported_at', chat.rfc3339(now()),
        'user_id', p_user, 'privacy', chat.privacy_json(p_user),
        'status', chat.status_json(chat.presence_now(p_user))));
$$;
