-- Voice channels of a room, who is in them, per-user channel permissions
-- and voice sessions; and the functions of voiced's channel and
-- participant routes (docs/voice.md). Permissions and sessions have their
-- functions in 003_permissions.sql and 004_sessions.sql.
--
-- voiced follows chatd's calling convention (docs/decisions.md): a route
-- is one call of a function returning a chat.reply (HTTP status, JSON
-- body, event envelopes), so a check and the write it guards happen in
-- one transaction. Voice events are ephemeral (no seq, not in
-- chat.events): voice.event builds the envelope, voiced publishes it on
-- room.<room_id> after the commit (libcommon/svc_reply.c).
--
-- Locks, always in this order, so that no two calls deadlock:
--   1. the user's voice lock (voice.user_lock): one user's joins, moves and
--      leaves happen one at a time;
--   2. the channel row: FOR NO KEY UPDATE by joins (the seat count) and by
--      whatever changes who may join (update, permissions); FOR UPDATE by
--      a delete;
--   3. participant rows.
-- A join also holds the joiner's chat.members row FOR KEY SHARE, so that
-- leaving or being removed from the room waits for it and then takes the
-- user out of the room's channels (voice.member_gone).

CREATE TABLE voice.channels (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    max_participants integer NOT NULL DEFAULT 10 CHECK (max_participants BETWEEN 1 AND 99),
    is_private boolean NOT NULL DEFAULT false,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_room_idx ON voice.channels (room_id, created_at);

-- A user is in at most one voice channel: user_id is unique.
CREATE TABLE voice.participants (
    id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    channel_id uuid NOT NULL REFERENCES voice.channels (id) ON DELETE CASCADE,
    user_id uuid PRIMARY KEY,
    is_muted boolean NOT NULL DEFAULT false,
    is_deafened boolean NOT NULL DEFAULT false,
    is_server_muted boolean NOT NULL DEFAULT false,  -- by a moderator
    is_speaking boolean NOT NULL DEFAULT false,
    joined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX participants_channel_idx ON voice.participants (channel_id, joined_at);

-- What one user may do in one channel, set by the room's owner and admins.
-- No row: the defaults (join unless the channel is private, speak, nothing
-- over others).
CREATE TABLE voice.permissions (
    id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    channel_id uuid NOT NULL REFERENCES voice.channels (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    can_join boolean NOT NULL DEFAULT true,
    can_speak boolean NOT NULL DEFAULT true,
    can_mute_others boolean NOT NULL DEFAULT false,
    can_deafen_others boolean NOT NULL DEFAULT false,
    can_move_users boolean NOT NULL DEFAULT false,
    is_priority boolean NOT NULL DEFAULT false,
    granted_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, user_id)
);

-- Time spent in voice. A join starts one (channel_id set) and the leave
-- ends it; /api/voice-session/create starts one of the room alone
-- (channel_id NULL), which the user ends. A deleted channel leaves its
-- sessions, ended, with channel_id NULL. Times are transaction times
-- (now()): one that waited for a lock may end a session that a later one
-- started, so an end is never before its start (greatest(now(),
-- started_at)).
CREATE TABLE voice.sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    channel_id uuid REFERENCES voice.channels (id) ON DELETE SET NULL,
    user_id uuid NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz CHECK (ended_at >= started_at)
);
CREATE INDEX sessions_user_idx ON voice.sessions (user_id, started_at DESC);
CREATE INDEX sessions_room_idx ON voice.sessions (room_id, started_at DESC);
-- At most one open session of a channel per user, as there is at most one
-- channel.
CREATE UNIQUE INDEX sessions_open_channel_idx ON voice.sessions (user_id)
    WHERE ended_at IS NULL AND channel_id IS NOT NULL;

-- ------------------------------------------------------------ helpers

-- Serializes the voice moves of p_user until the transaction ends.
CREATE FUNCTION voice.user_lock(p_user uuid) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('voice.user'), hashtext(p_user::text));
$$;

-- An ephemeral room event, as chatd's (chatd/events.c): {type, room_id,
-- user_id (who acted), target_user_id (nil), payload, timestamp}, no seq.
CREATE FUNCTION voice.event(p_room uuid, p_type text, p_user uuid, p_payload jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('type', p_type, 'room_id', p_room, 'user_id', p_user,
        'target_user_id', '00000000-0000-0000-0000-000000000000',
        'payload', p_payload, 'timestamp', chat.rfc3339(now()));
$$;

-- A participant with the user's names from auth.directory ("" when
-- unknown).
CREATE FUNCTION voice.participant_json(p voice.participants) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'channel_id', p.channel_id,
        'user_id', p.user_id, 'username', coalesce(d.username, ''),
        'display_name', coalesce(d.display_name, ''),
        'avatar_url', coalesce(d.avatar_url, ''),
        'is_muted', p.is_muted, 'is_deafened', p.is_deafened,
        'is_server_muted', p.is_server_muted, 'is_speaking', p.is_speaking,
        'joined_at', chat.rfc3339(p.joined_at))
    FROM (SELECT 1) one LEFT JOIN auth.directory d ON d.id = p.user_id;
$$;

-- The participants of a channel, first come first.
CREATE FUNCTION voice.participants_json(p_channel uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(voice.participant_json(p) ORDER BY p.joined_at, p.user_id), '[]')
    FROM voice.participants p WHERE p.channel_id = p_channel;
$$;

CREATE FUNCTION voice.participant_count(p_channel uuid) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM voice.participants WHERE channel_id = p_channel;
$$;

-- A channel; with its participants when p_full.
CREATE FUNCTION voice.channel_json(c voice.channels, p_full boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', c.id, 'room_id', c.room_id, 'name', c.name,
        'description', c.description, 'max_participants', c.max_participants,
        'is_private', c.is_private, 'created_by', c.created_by,
        'created_at', chat.rfc3339(c.created_at), 'updated_at', chat.rfc3339(c.updated_at),
        'participant_count', voice.participant_count(c.id))
        || CASE WHEN p_full THEN jsonb_build_object('participants', voice.participants_json(c.id))
           ELSE '{}' END;
$$;

-- p_user's permission row in channel p_channel (all NULL when none).
CREATE FUNCTION voice.permission_of(p_channel uuid, p_user uuid) RETURNS voice.permissions
LANGUAGE sql STABLE AS $$
    SELECT pm FROM voice.permissions pm WHERE pm.channel_id = p_channel AND pm.user_id = p_user;
$$;

-- Why p_user may not join channel c, as the words of
-- /api/voice-channel/permission/check, or NULL: a row with can_join false
-- refuses anyone; a private channel wants a row with can_join true or a
-- moderator and up (a global admin counts as the owner); and the room's
-- settings must allow voice. Membership and seats are checked apart.
CREATE FUNCTION voice.join_denial(c voice.channels, p_user uuid, p_admin boolean)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN (pm).can_join = false THEN 'explicitly denied'
        WHEN c.is_private AND (pm).can_join IS NULL
             AND chat.actor_rank(c.room_id, p_user, p_admin) < 2 THEN 'channel is private'
        WHEN EXISTS (SELECT 1 FROM chat.room_settings s
                     WHERE s.room_id = c.room_id AND NOT s.allow_voice_chat) THEN
            'voice chat is disabled in this room'
    END
    FROM (SELECT voice.permission_of(c.id, p_user) AS pm) x;
$$;

-- voice.join_denial as the 403 of a join.
CREATE FUNCTION voice.join_refusal(c voice.channels, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE voice.join_denial(c, p_user, p_admin)
        WHEN 'explicitly denied' THEN
            chat.err(403, 'forbidden', 'You are not allowed to join this voice channel')
        WHEN 'channel is private' THEN
            chat.err(403, 'private_channel', 'This voice channel is private')
        WHEN 'voice chat is disabled in this room' THEN
            chat.err(403, 'voice_disabled', 'Voice chat is disabled in this room')
    END;
$$;

-- True when p_user sees private channel c in lists and may read it: those
-- who may join it (a can_join row, moderators and up) and its participants.
CREATE FUNCTION voice.channel_visible(c voice.channels, p_user uuid, p_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT NOT c.is_private
        OR chat.actor_rank(c.room_id, p_user, p_admin) >= 2
        OR coalesce((voice.permission_of(c.id, p_user)).can_join, false)
        OR EXISTS (SELECT 1 FROM voice.participants p
                   WHERE p.channel_id = c.id AND p.user_id = p_user);
$$;

-- Who may read channel c (c.id NULL: none was found), or NULL: the room's
-- members and global admins (chat.room_access: 404 for a private room, 403
-- for a public one), and for a private channel those it is visible to (403).
CREATE FUNCTION voice.channel_access(c voice.channels, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN c.id IS NULL THEN chat.err(404, 'not_found', 'Voice channel not found')
        ELSE coalesce(chat.room_access(c.room_id, p_user, p_admin, 'Voice channel'),
            CASE WHEN NOT voice.channel_visible(c, p_user, p_admin) THEN
                chat.err(403, 'private_channel', 'This voice channel is private') END)
    END;
$$;

-- Who may create, change and delete the channels of room p_room, or NULL:
-- moderators and up, and global admins.
CREATE FUNCTION voice.manage_refusal(p_room uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN chat.actor_rank(p_room, p_user, p_admin) < 2 THEN
        chat.err(403, 'forbidden', 'Only moderators and above can manage voice channels') END;
$$;

-- Takes p_user out of channel p_channel, by p_actor (the user, or whoever
-- removed them), and ends their session of it. The voice-left envelope,
-- or NULL when the user was not there.
CREATE FUNCTION voice.remove(p_channel uuid, p_user uuid, p_actor uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM voice.participants WHERE channel_id = p_channel AND user_id = p_user;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE voice.sessions SET ended_at = greatest(now(), started_at)
        WHERE user_id = p_user AND channel_id = p_channel AND ended_at IS NULL;
    RETURN voice.event((SELECT room_id FROM voice.channels WHERE id = p_channel),
        'voice-left', p_actor, jsonb_build_object('channel_id', p_channel, 'user_id', p_user));
END;
$$;

-- Takes out of channel c (locked by the caller) the participants who may
-- no longer join it (voice.join_denial; a global admin counts as its
-- membership only), or only p_user when given. The voice-left envelopes.
CREATE FUNCTION voice.evict(c voice.channels, p_actor uuid, p_user uuid DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    events jsonb := '[]';
    u uuid;
BEGIN
    FOR u IN SELECT p.user_id FROM voice.participants p
             WHERE p.channel_id = c.id AND (p_user IS NULL OR p.user_id = p_user)
               AND voice.join_denial(c, p.user_id, false) IS NOT NULL
             ORDER BY p.joined_at, p.user_id LOOP
        events := events || voice.events(voice.remove(c.id, u, p_actor));
    END LOOP;
    RETURN events;
END;
$$;

-- The events of a reply, without the NULLs of things that did not happen.
CREATE FUNCTION voice.events(VARIADIC p_events jsonb[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_agg(e ORDER BY i) FILTER (WHERE e IS NOT NULL AND e <> 'null'), '[]')
    FROM unnest(p_events) WITH ORDINALITY AS t(e, i);
$$;

-- Leaving or being removed from a room takes the user out of its channels
-- and ends their voice sessions there. chatd's reply does not carry the
-- voice-left events of this; docs/voice.md.
CREATE FUNCTION voice.member_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM voice.participants p USING voice.channels c
        WHERE c.id = p.channel_id AND c.room_id = OLD.room_id AND p.user_id = OLD.user_id;
    UPDATE voice.sessions SET ended_at = greatest(now(), started_at)
        WHERE room_id = OLD.room_id AND user_id = OLD.user_id AND ended_at IS NULL;
    RETURN OLD;
END;
$$;

CREATE TRIGGER voice_member_gone AFTER DELETE ON chat.members
    FOR EACH ROW EXECUTE FUNCTION voice.member_gone();

-- ------------------------------------------------------------ channels

-- GET /api/voice-channels?room_id=: the room's channels p_user may see, in
-- order of creation, with their participant counts.
CREATE FUNCTION voice.channels_of(p_room uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.room_access(p_room, p_user, p_admin, 'Room'), chat.ok_list(
        (SELECT jsonb_agg(voice.channel_json(c, false) ORDER BY c.created_at, c.id)
         FROM voice.channels c
         WHERE c.room_id = p_room AND voice.channel_visible(c, p_user, p_admin))));
$$;

-- GET /api/voice-channel?id=: one channel with its participants.
CREATE FUNCTION voice.channel_get(p_channel uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(voice.channel_access(c, p_user, p_admin),
        chat.ok(200, voice.channel_json(c, true)))
    FROM (SELECT (SELECT c FROM voice.channels c WHERE c.id = p_channel) AS c) x;
$$;

-- POST /api/voice-channel/create: a moderator and up (or a global admin)
-- makes a channel in p_room; p_max is 1..99 (voiced clamps it). 201.
CREATE FUNCTION voice.channel_create(p_room uuid, p_user uuid, p_admin boolean,
    p_name text, p_description text, p_max integer, p_private boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := coalesce(chat.room_access(p_room, p_user, p_admin, 'Room'),
        voice.manage_refusal(p_room, p_user, p_admin));
    c voice.channels;
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO voice.channels (room_id, name, description, max_participants, is_private,
        created_by)
    VALUES (p_room, p_name, p_description, p_max, p_private, p_user) RETURNING * INTO c;
    RETURN chat.ok(201, voice.channel_json(c, false), jsonb_build_array(
        voice.event(p_room, 'voice-channel-created', p_user, voice.channel_json(c, false))));
END;
$$;

-- PUT /api/voice-channel/update?id=: p_patch holds the fields to change
-- (name, description, max_participants, is_private), checked by voiced.
-- max_participants may not go below the participants there are (409);
-- made private, the channel loses the participants who may not join it.
CREATE FUNCTION voice.channel_update(p_channel uuid, p_user uuid, p_admin boolean,
    p_patch jsonb)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c voice.channels;
    denied chat.reply;
    evicted jsonb := '[]';
    was_private boolean;
BEGIN
    SELECT * INTO c FROM voice.channels WHERE id = p_channel FOR NO KEY UPDATE;
    denied := coalesce(voice.channel_access(c, p_user, p_admin),
        voice.manage_refusal(c.room_id, p_user, p_admin));
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    ELSIF (p_patch->>'max_participants')::integer < voice.participant_count(c.id) THEN
        RETURN chat.err(409, 'conflict',
            'max_participants cannot be below the number of participants present');
    ELSIF p_patch = '{}' THEN
        RETURN chat.ok(200, voice.channel_json(c, true));
    END IF;
    was_private := c.is_private;
    UPDATE voice.channels SET
        name = coalesce(p_patch->>'name', name),
        description = coalesce(p_patch->>'description', description),
        max_participants = coalesce((p_patch->>'max_participants')::integer, max_participants),
        is_private = coalesce((p_patch->>'is_private')::boolean, is_private),
        updated_at = now()
    WHERE id = p_channel RETURNING * INTO c;
    IF c.is_private AND NOT was_private THEN
        evicted := voice.evict(c, p_user);
    END IF;
    RETURN chat.ok(200, voice.channel_json(c, true), evicted || jsonb_build_array(
        voice.event(c.room_id, 'voice-channel-updated', p_user, voice.channel_json(c, false))));
END;
$$;

-- DELETE /api/voice-channel/delete?id=: everyone in the channel is taken
-- out (a voice-left each), then the channel goes with its permissions.
CREATE FUNCTION voice.channel_delete(p_channel uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c voice.channels;
    denied chat.reply;
    events jsonb := '[]';
    u uuid;
BEGIN
    SELECT * INTO c FROM voice.channels WHERE id = p_channel FOR UPDATE;
    denied := coalesce(voice.channel_access(c, p_user, p_admin),
        voice.manage_refusal(c.room_id, p_user, p_admin));
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    FOR u IN SELECT user_id FROM voice.participants WHERE channel_id = c.id
             ORDER BY joined_at, user_id LOOP
        events := events || voice.events(voice.remove(c.id, u, p_user));
    END LOOP;
    DELETE FROM voice.channels WHERE id = c.id;
    RETURN chat.ok(200, '{"message":"Voice channel deleted"}', events || jsonb_build_array(
        voice.event(c.room_id, 'voice-channel-deleted', p_user,
            jsonb_build_object('channel_id', c.id, 'name', c.name))));
END;
$$;

-- ------------------------------------------------------------ participants

-- POST /api/voice-channel/join {channel_id}: p_user, a member of the
-- channel's room, joins it: 201 with the participant, 200 when already in.
-- A user in another channel leaves it first, in this transaction
-- (voice-left, then voice-joined). Seats are counted with the channel row
-- locked, so max_participants holds however many join at once.
CREATE FUNCTION voice.channel_join(p_channel uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c voice.channels;
    cur voice.participants;
    p voice.participants;
    denied chat.reply;
    left_env jsonb;
BEGIN
    PERFORM voice.user_lock(p_user);
    SELECT * INTO c FROM voice.channels WHERE id = p_channel FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Voice channel not found');
    END IF;
    PERFORM 1 FROM chat.members WHERE room_id = c.room_id AND user_id = p_user FOR KEY SHARE;
    SELECT * INTO cur FROM voice.participants WHERE user_id = p_user;
    denied := chat.room_access(c.room_id, p_user, false, 'Voice channel');
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    ELSIF cur.channel_id = p_channel THEN
        RETURN chat.ok(200, voice.participant_json(cur));
    END IF;
    denied := coalesce(voice.join_refusal(c, p_user, p_admin),
        CASE WHEN voice.participant_count(c.id) >= c.max_participants THEN
            chat.err(403, 'channel_full', 'Voice channel is full') END);
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    IF cur.channel_id IS NOT NULL THEN
        left_env := voice.remove(cur.channel_id, p_user, p_user);
    END IF;
    INSERT INTO voice.participants (channel_id, user_id) VALUES (c.id, p_user) RETURNING * INTO p;
    INSERT INTO voice.sessions (room_id, channel_id, user_id) VALUES (c.room_id, c.id, p_user);
    RETURN chat.ok(201, voice.participant_json(p), voice.events(left_env,
        voice.event(c.room_id, 'voice-joined', p_user,
            jsonb_build_object('channel_id', c.id, 'participant', voice.participant_json(p)))));
END;
$$;

-- POST|DELETE /api/voice-channel/leave?channel_id=: p_user leaves.
CREATE FUNCTION voice.channel_leave(p_channel uuid, p_user uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    env jsonb;
BEGIN
    PERFORM voice.user_lock(p_user);
    env := voice.remove(p_channel, p_user, p_user);
    IF env IS NULL THEN
        RETURN chat.err(404, 'not_found', 'You are not in this voice channel');
    END IF;
    RETURN chat.ok(200, '{"message":"Left voice channel"}', jsonb_build_array(env));
END;
$$;

-- For gatewayd and signalling (docs/voice.md): takes p_user out of
-- whatever channel they are in (a socket closed, the user signed out).
-- 200 {channel_id, room_id} of the channel left, both null when none.
CREATE FUNCTION voice.leave_all(p_user uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    cur voice.participants;
    v_room uuid;
BEGIN
    PERFORM voice.user_lock(p_user);
    SELECT * INTO cur FROM voice.participants WHERE user_id = p_user;
    IF NOT FOUND THEN
        RETURN chat.ok(200, '{"channel_id":null,"room_id":null}');
    END IF;
    v_room := (SELECT room_id FROM voice.channels WHERE id = cur.channel_id);
    RETURN chat.ok(200, jsonb_build_object('channel_id', cur.channel_id, 'room_id', v_room),
        voice.events(voice.remove(cur.channel_id, p_user, p_user)));
END;
$$;

-- For signalling: the channel (and its room) that both p_a and p_b are
-- participants of; one row of NULLs when there is none.
CREATE FUNCTION voice.same_channel(p_a uuid, p_b uuid, OUT channel_id uuid, OUT room_id uuid)
LANGUAGE sql STABLE AS $$
    SELECT c.id, c.room_id FROM voice.participants a
    JOIN voice.participants b ON b.channel_id = a.channel_id AND b.user_id = p_b
    JOIN voice.channels c ON c.id = a.channel_id
    WHERE a.user_id = p_a;
$$;

-- GET /api/voice-channel/participants?channel_id=.
CREATE FUNCTION voice.channel_participants(p_channel uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(voice.channel_access(c, p_user, p_admin),
        chat.ok(200, voice.participants_json((x.c).id)))
    FROM (SELECT (SELECT c FROM voice.channels c WHERE c.id = p_channel) AS c) x;
$$;

-- The events of a participant changing from was to p: voice-muted,
-- voice-deafened, voice-speaking for what changed, by p_actor.
CREATE FUNCTION voice.state_events(was voice.participants, p voice.participants, p_room uuid,
    p_actor uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT voice.events(
        CASE WHEN (was.is_muted, was.is_server_muted)
                IS DISTINCT FROM (p.is_muted, p.is_server_muted) THEN
            voice.event(p_room, 'voice-muted', p_actor, jsonb_build_object(
                'channel_id', p.channel_id, 'user_id', p.user_id,
                'is_muted', p.is_muted, 'is_server_muted', p.is_server_muted)) END,
        CASE WHEN was.is_deafened <> p.is_deafened THEN
            voice.event(p_room, 'voice-deafened', p_actor, jsonb_build_object(
                'channel_id', p.channel_id, 'user_id', p.user_id,
                'is_deafened', p.is_deafened)) END,
        CASE WHEN was.is_speaking <> p.is_speaking THEN
            voice.event(p_room, 'voice-speaking', p_actor, jsonb_build_object(
                'channel_id', p.channel_id, 'user_id', p.user_id,
                'is_speaking', p.is_speaking)) END);
$$;

-- POST /api/voice-channel/participant/update {channel_id, is_muted?,
-- is_deafened?, is_speaking?}: a participant's own state (p_patch, checked
-- by voiced, holds at least one). Nobody server-muted or denied can_speak
-- starts speaking (403).
CREATE FUNCTION voice.participant_update(p_channel uuid, p_user uuid, p_patch jsonb)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    was voice.participants;
    p voice.participants;
BEGIN
    SELECT * INTO was FROM voice.participants
        WHERE channel_id = p_channel AND user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'You are not in this voice channel');
    ELSIF (p_patch->>'is_speaking')::boolean AND (was.is_server_muted
            OR (voice.permission_of(p_channel, p_user)).can_speak = false) THEN
        RETURN chat.err(403, 'cannot_speak', 'You may not speak in this voice channel');
    END IF;
    UPDATE voice.participants SET
        is_muted = coalesce((p_patch->>'is_muted')::boolean, is_muted),
        is_deafened = coalesce((p_patch->>'is_deafened')::boolean, is_deafened),
        is_speaking = coalesce((p_patch->>'is_speaking')::boolean, is_speaking)
    WHERE user_id = p_user RETURNING * INTO p;
    RETURN chat.ok(200, voice.participant_json(p), voice.state_events(was, p,
        (SELECT room_id FROM voice.channels WHERE id = p_channel), p_user));
END;
$$;

-- The participant update with {user_id, is_server_muted}: p_actor mutes or
-- unmutes p_target for everyone. Allowed to moderators and up (a global
-- admin counts as the owner) and to holders of can_mute_others (who count
-- as moderators for it), on a participant of a lower room role.
CREATE FUNCTION voice.participant_server_mute(p_channel uuid, p_actor uuid, p_admin boolean,
    p_target uuid, p_muted boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c voice.channels := (SELECT vc FROM voice.channels vc WHERE vc.id = p_channel);
    denied chat.reply := voice.channel_access(c, p_actor, p_admin);
    v_rank integer;
    was voice.participants;
    p voice.participants;
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    v_rank := greatest(chat.actor_rank(c.room_id, p_actor, p_admin),
        CASE WHEN chat.member_role(c.room_id, p_actor) IS NOT NULL
             AND (voice.permission_of(c.id, p_actor)).can_mute_others THEN 2 ELSE 0 END);
    IF v_rank < 2 THEN
        RETURN chat.err(403, 'forbidden', 'You may not mute others in this voice channel');
    END IF;
    SELECT * INTO was FROM voice.participants
        WHERE channel_id = c.id AND user_id = p_target FOR UPDATE;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'User is not in this voice channel');
    ELSIF chat.role_rank(chat.member_role(c.room_id, p_target)) >= v_rank THEN
        RETURN chat.err(403, 'forbidden', 'Your role in this room does not allow this');
    END IF;
    UPDATE voice.participants
        SET is_server_muted = p_muted, is_speaking = is_speaking AND NOT p_muted
        WHERE user_id = p_target RETURNING * INTO p;
    RETURN chat.ok(200, voice.participant_json(p), voice.state_events(was, p, c.room_id, p_actor));
END;
$$;
