-- Presence between people who talk to each other outside rooms: members of
-- a common direct or group conversation may see each other's presence
-- (GET /api/presence/user), and a change of presence also goes, as an
-- ephemeral presence-update, to the user's most recently active
-- conversations (their other members, through "to", as dm-typing goes).
-- A block, either way, hides it. What is shown is still what
-- chat.presence_public allows (invisible, show_online_status).

-- How many of a user's conversations hear of their presence changes.
CREATE FUNCTION chat.presence_conversations_max() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 100 $$;

CREATE FUNCTION chat.blocked_either(p_a uuid, p_b uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM chat.blocks
                   WHERE (blocker_id = p_a AND blocked_id = p_b)
                      OR (blocker_id = p_b AND blocked_id = p_a));
$$;

CREATE OR REPLACE FUNCTION chat.presence_may_see(p_viewer uuid, p_user uuid, p_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_viewer = p_user OR p_admin OR EXISTS (
        SELECT 1 FROM chat.members a
        JOIN chat.members b ON b.room_id = a.room_id AND b.user_id = p_viewer
        WHERE a.user_id = p_user) OR (EXISTS (
        SELECT 1 FROM chat.conversation_members a
        JOIN chat.conversation_members b ON b.conversation_id = a.conversation_id
            AND b.user_id = p_viewer
        WHERE a.user_id = p_user) AND NOT chat.blocked_either(p_viewer, p_user));
$$;

-- The members of p_conv but p_user and those with a block against p_user.
CREATE FUNCTION chat.presence_audience(p_conv uuid, p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_agg(m.user_id ORDER BY m.user_id) FROM chat.conversation_members m
    WHERE m.conversation_id = p_conv AND m.user_id <> p_user
      AND NOT chat.blocked_either(m.user_id, p_user);
$$;

CREATE OR REPLACE FUNCTION chat.presence_events(p_user uuid, p_before text, p_after text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH payload AS (
        SELECT jsonb_build_object('user_id', p_user, 'username', chat.username_or_empty(p_user),
            'status', p_after) AS p, chat.rfc3339(now()) AS ts
    ), rooms AS (
        SELECT jsonb_build_object('type', 'presence-update', 'room_id', m.room_id,
            'user_id', p_user, 'target_user_id', '00000000-0000-0000-0000-000000000000',
            'payload', payload.p, 'timestamp', payload.ts) AS e, 0 AS k, m.joined_at AS t,
            m.room_id AS id
        FROM chat.members m, payload WHERE m.user_id = p_user
    ), convs AS (
        SELECT jsonb_build_object('type', 'presence-update', 'conversation_id', c.conversation_id,
            'user_id', p_user, 'target_user_id', '00000000-0000-0000-0000-000000000000',
            'payload', payload.p, 'timestamp', payload.ts, 'to', c.audience) AS e, 1 AS k,
            c.active_at AS t, c.conversation_id AS id
        FROM (SELECT m.conversation_id, m.active_at,
                     chat.presence_audience(m.conversation_id, p_user) AS audience
              FROM chat.conversation_members m WHERE m.user_id = p_user
              ORDER BY m.active_at DESC, m.conversation_id DESC
              LIMIT chat.presence_conversations_max()) c, payload
        WHERE c.audience IS NOT NULL
    )
    SELECT jsonb_agg(x.e ORDER BY x.k, x.t, x.id)
    FROM (SELECT * FROM rooms UNION ALL SELECT * FROM convs) x
    WHERE p_before IS DISTINCT FROM p_after;
$$;
