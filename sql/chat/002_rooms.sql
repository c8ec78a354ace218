-- The core of chat: categories, rooms and their settings, membership with
-- roles, bans, and the per-room event log that numbers every persisted
-- event (the WebSocket "seq"). Users live in authd's schema; chatd reads
-- them through auth.directory only.

-- Timestamps on the wire: RFC 3339, UTC, microseconds.
CREATE FUNCTION chat.rfc3339(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
$$;

CREATE TABLE chat.categories (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    icon text NOT NULL DEFAULT '' CHECK (length(icon) <= 100),
    color text NOT NULL DEFAULT '' CHECK (length(color) <= 20),
    sort_order bigint NOT NULL DEFAULT 0,
    is_private boolean NOT NULL DEFAULT false,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat.rooms (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    password_hash text,                     -- argon2id; NULL = no password
    is_private boolean NOT NULL DEFAULT false,
    max_users integer NOT NULL DEFAULT 50 CHECK (max_users BETWEEN 1 AND 100000),
    created_by uuid NOT NULL,               -- the current owner
    category_id uuid REFERENCES chat.categories (id) ON DELETE SET NULL,
    last_seq bigint NOT NULL DEFAULT 0,     -- the last event's seq (chat.emit)
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rooms_category_idx ON chat.rooms (category_id);

-- One row per room, created with it.
CREATE TABLE chat.room_settings (
    room_id uuid PRIMARY KEY REFERENCES chat.rooms (id) ON DELETE CASCADE,
    allow_message_edits boolean NOT NULL DEFAULT true,
    allow_reactions boolean NOT NULL DEFAULT true,
    require_approval boolean NOT NULL DEFAULT false,
    auto_delete_days integer NOT NULL DEFAULT 0 CHECK (auto_delete_days BETWEEN 0 AND 3650),
    slow_mode_seconds integer NOT NULL DEFAULT 0 CHECK (slow_mode_seconds BETWEEN 0 AND 21600),
    allow_voice_chat boolean NOT NULL DEFAULT true,
    allow_file_uploads boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat.members (
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    role text NOT NULL DEFAULT 'member'
        CHECK (role IN ('owner', 'admin', 'moderator', 'member')),
    joined_at timestamptz NOT NULL DEFAULT now(),
    last_message_at timestamptz,            -- slow mode
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX members_user_idx ON chat.members (user_id);

CREATE TABLE chat.bans (
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    banned_by uuid NOT NULL,
    reason text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,                 -- NULL = until lifted
    PRIMARY KEY (room_id, user_id)
);

-- Every persisted event of a room, numbered 1, 2, 3... without gaps.
-- chat.emit takes the room row's lock until the transaction ends, so
-- seqs become visible in order: a reader of "after N" never sees N+2
-- before N+1. The envelope is the WebSocket frame, built once here.
CREATE TABLE chat.events (
    room_id uuid NOT NULL REFERENCES chat.rooms (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    envelope jsonb NOT NULL,
    PRIMARY KEY (room_id, seq)
);

-- Appends an event to room p_room in the caller's transaction and returns
-- its envelope {type, room_id, user_id, target_user_id, payload, timestamp,
-- seq} (the reference's envelope plus seq; target_user_id is the nil UUID
-- for room events); NULL when the room does not exist.
CREATE FUNCTION chat.emit(p_room uuid, p_type text, p_user uuid, p_payload jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    env jsonb;
BEGIN
    UPDATE chat.rooms SET last_seq = last_seq + 1 WHERE id = p_room
        RETURNING last_seq INTO n;
    IF n IS NULL THEN
        RETURN NULL;
    END IF;
    env := jsonb_build_object('type', p_type, 'room_id', p_room,
        'user_id', p_user, 'target_user_id', '00000000-0000-0000-0000-000000000000',
        'payload', p_payload, 'timestamp', chat.rfc3339(now()), 'seq', n);
    INSERT INTO chat.events (room_id, seq, envelope) VALUES (p_room, n, env);
    RETURN env;
END;
$$;

-- Roles, highest first: owner 4, admin 3, moderator 2, member 1; 0 for
-- anyone else. A check "at least moderator" is role_rank(r) >= 2.
CREATE FUNCTION chat.role_rank(p_role text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_role WHEN 'owner' THEN 4 WHEN 'admin' THEN 3
        WHEN 'moderator' THEN 2 WHEN 'member' THEN 1 ELSE 0 END;
$$;

-- The caller's role in a room, or NULL when not a member.
CREATE FUNCTION chat.member_role(p_room uuid, p_user uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT role FROM chat.members WHERE room_id = p_room AND user_id = p_user;
$$;
