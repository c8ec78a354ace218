-- Voice sessions (reference §1.10): the time a user spends in voice. A
-- join opens one of its channel and the leave closes it (002_channels.sql);
-- /api/voice-session/create opens one of a room alone, which its user
-- closes with /api/voice-session/end.

-- {id, room_id, room_name, channel_id (absent for a room's own session),
-- user_id, username, started_at, ended_at (absent while open),
-- duration_seconds (so far, while open), is_active}.
CREATE FUNCTION voice.session_json(s voice.sessions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('id', s.id, 'room_id', s.room_id,
        'room_name', coalesce((SELECT r.name FROM chat.rooms r WHERE r.id = s.room_id), ''),
        'channel_id', s.channel_id, 'user_id', s.user_id,
        'username', coalesce(chat.username(s.user_id), ''),
        'started_at', chat.rfc3339(s.started_at), 'ended_at', chat.rfc3339(s.ended_at),
        'duration_seconds',
            floor(extract(epoch FROM coalesce(s.ended_at, now()) - s.started_at))::bigint,
        'is_active', s.ended_at IS NULL));
$$;

-- POST /api/voice-session/create {room_id}: a member opens a session of
-- the room. 201.
CREATE FUNCTION voice.session_create(p_room uuid, p_user uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := chat.room_access(p_room, p_user, false, 'Room');
    s voice.sessions;
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO voice.sessions (room_id, user_id) VALUES (p_room, p_user) RETURNING * INTO s;
    RETURN chat.ok(201, voice.session_json(s));
END;
$$;

-- POST /api/voice-session/end?id=: the user closes one of their open
-- sessions; a channel's closes when they leave the channel (409 here).
CREATE FUNCTION voice.session_end(p_id uuid, p_user uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
DECLARE
    s voice.sessions;
BEGIN
    SELECT * INTO s FROM voice.sessions WHERE id = p_id AND user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Voice session not found');
    ELSIF s.ended_at IS NOT NULL THEN
        RETURN chat.err(409, 'already_ended', 'Voice session already ended');
    ELSIF s.channel_id IS NOT NULL THEN
        RETURN chat.err(409, 'in_channel',
            'This session ends when you leave the voice channel');
    END IF;
    UPDATE voice.sessions SET ended_at = greatest(now(), started_at) WHERE id = s.id
        RETURNING * INTO s;
    RETURN chat.ok(200, voice.session_json(s));
END;
$$;

-- GET /api/voice-sessions?limit=&offset=&active=: the caller's sessions,
-- newest first; only the open ones when p_active.
CREATE FUNCTION voice.sessions_mine(p_user uuid, p_limit integer, p_offset integer,
    p_active boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT chat.ok_list(jsonb_agg(voice.session_json(s) ORDER BY s.started_at DESC, s.id))
    FROM (SELECT * FROM voice.sessions
          WHERE user_id = p_user AND (NOT p_active OR ended_at IS NULL)
          ORDER BY started_at DESC, id LIMIT p_limit OFFSET p_offset) s;
$$;

-- GET /api/voice-sessions/room?room_id=&limit=: a room's sessions, newest
-- first, for its members and global admins.
CREATE FUNCTION voice.sessions_of_room(p_room uuid, p_user uuid, p_admin boolean,
    p_limit integer)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.room_access(p_room, p_user, p_admin, 'Room'), chat.ok_list(
        (SELECT jsonb_agg(voice.session_json(s) ORDER BY s.started_at DESC, s.id)
         FROM (SELECT * FROM voice.sessions WHERE room_id = p_room
               ORDER BY started_at DESC, id LIMIT p_limit) s)));
$$;

-- GET /api/voice-sessions/stats?room_id=: the caller's totals, in one room
-- or all (the reference ignored room_id for the durations): minutes and the
-- average of the ended sessions.
CREATE FUNCTION voice.session_stats(p_user uuid, p_room uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok(200, jsonb_build_object(
        'total_sessions', count(*),
        'active_sessions', count(*) FILTER (WHERE ended_at IS NULL),
        'total_minutes',
            floor(coalesce(sum(extract(epoch FROM ended_at - started_at)), 0) / 60)::bigint,
        'avg_duration_seconds',
            coalesce(avg(extract(epoch FROM ended_at - started_at)), 0)::float8))
    FROM voice.sessions WHERE user_id = p_user AND (p_room IS NULL OR room_id = p_room);
$$;
