-- Rooms, membership, roles, room settings and categories: the answers chatd
-- sends (built here once, as JSON) and every write as one function call, so
-- that what a write checks and what it writes happen in one transaction,
-- with the room row locked where a count, a role or the owner matters, and
-- the event it emits (chat.emit) commits or rolls back with it.
--
-- The write functions return rows (st, body, env): the first row's st is
-- 'ok' or why not (chatd maps each st to an HTTP answer, chatd/rooms.c), its
-- body the JSON answer; env, on any row, an event envelope chatd publishes
-- once the transaction has committed.
--
-- A room's lock is FOR NO KEY UPDATE, the lock chat.emit's UPDATE takes
-- anyway: it orders joins, leaves, role changes and settings updates of one
-- room, yet does not block inserts that only reference the room (messages).

-- The RoomResponse (reference §2.2) of room r as seen by p_user:
-- category_id left out when null, "role" only when p_user is a member.
CREATE FUNCTION chat.room_json(r chat.rooms, p_user uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', r.id, 'name', r.name, 'description', r.description,
        'is_private', r.is_private, 'max_users', r.max_users,
        'created_by', r.created_by, 'category_id', r.category_id,
        'created_at', chat.rfc3339(r.created_at),
        'user_count', (SELECT count(*) FROM chat.members m WHERE m.room_id = r.id),
        'role', chat.member_role(r.id, p_user)));
$$;

-- True when p_user may see room r at all: public, a member's, or any room
-- for a global admin. Elsewhere a private room answers "not found", so
-- that its existence does not leak.
CREATE FUNCTION chat.room_visible(r chat.rooms, p_user uuid, p_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT NOT r.is_private OR p_admin OR EXISTS (
        SELECT 1 FROM chat.members m WHERE m.room_id = r.id AND m.user_id = p_user);
$$;

-- The rank p_user acts with in a room: the member's role_rank, and a
-- global admin at least the owner's (4), member or not.
CREATE FUNCTION chat.actor_rank(p_room uuid, p_user uuid, p_admin boolean)
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT greatest(chat.role_rank(chat.member_role(p_room, p_user)),
        CASE WHEN p_admin THEN 4 ELSE 0 END);
$$;

-- Why p_user may not use a members-only route of room r ('not_found' for
-- a private room or one that does not exist, 'not_member' for a public
-- one), or NULL when a member or a global admin.
CREATE FUNCTION chat.room_gate(r chat.rooms, p_user uuid, p_admin boolean)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN r.id IS NULL THEN 'not_found'
        WHEN p_admin OR chat.member_role(r.id, p_user) IS NOT NULL THEN NULL
        WHEN r.is_private THEN 'not_found'
        ELSE 'not_member' END;
$$;

-- A room's settings (room_settings, and max_users, which lives in rooms).
CREATE FUNCTION chat.room_settings_json(p_room uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('room_id', s.room_id,
        'allow_message_edits', s.allow_message_edits,
        'allow_reactions', s.allow_reactions,
        'require_approval', s.require_approval,
        'max_users', r.max_users,
        'auto_delete_days', s.auto_delete_days,
        'slow_mode_seconds', s.slow_mode_seconds,
        'allow_voice_chat', s.allow_voice_chat,
        'allow_file_uploads', s.allow_file_uploads,
        'updated_at', chat.rfc3339(greatest(s.updated_at, r.updated_at)))
    FROM chat.room_settings s JOIN chat.rooms r ON r.id = s.room_id
    WHERE s.room_id = p_room;
$$;

-- A category with the number of its rooms.
CREATE FUNCTION chat.category_json(c chat.categories) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', c.id, 'name', c.name,
        'description', c.description, 'icon', c.icon, 'color', c.color,
        'sort_order', c.sort_order, 'is_private', c.is_private,
        'created_by', c.created_by, 'created_at', chat.rfc3339(c.created_at),
        'updated_at', chat.rfc3339(c.updated_at),
        'room_count', (SELECT count(*) FROM chat.rooms r WHERE r.category_id = c.id));
$$;

-- The username of a user, from authd's directory (NULL when unknown).
CREATE FUNCTION chat.username(p_user uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT username FROM auth.directory WHERE id = p_user;
$$;

-- ------------------------------------------------------------ writes

-- Creates a room owned by p_user: the room, its settings row and the
-- owner's membership, together. p_password_hash is argon2id or NULL.
CREATE FUNCTION chat.room_create(p_user uuid, p_name text, p_description text,
    p_password_hash text, p_private boolean, p_max_users integer, p_category uuid)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
BEGIN
    BEGIN
        INSERT INTO chat.rooms (name, description, password_hash, is_private,
            max_users, created_by, category_id)
        VALUES (p_name, p_description, p_password_hash, p_private,
            p_max_users, p_user, p_category)
        RETURNING * INTO r;
    EXCEPTION
        WHEN unique_violation THEN
            RETURN QUERY SELECT 'name_taken', NULL::text, NULL::text;
            RETURN;
        WHEN foreign_key_violation THEN
            RETURN QUERY SELECT 'category_not_found', NULL::text, NULL::text;
            RETURN;
    END;
    INSERT INTO chat.room_settings (room_id) VALUES (r.id);
    INSERT INTO chat.members (room_id, user_id, role) VALUES (r.id, p_user, 'owner');
    RETURN QUERY SELECT 'ok', chat.room_json(r, p_user)::text, NULL::text;
END;
$$;

-- p_user joins p_room as a member; p_checked_hash is the password hash
-- chatd verified the given password against (NULL for a room without
-- one), so that a password changed meanwhile fails. With the room row
-- locked, the member count cannot pass max_users however many join at
-- once. The room's recorded owner (created_by) who left as its last member
-- comes back as its owner, so that a room never stays without one.
CREATE FUNCTION chat.room_join(p_room uuid, p_user uuid, p_checked_hash text)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
    v_role text := 'member';
    e jsonb;
BEGIN
    SELECT * INTO r FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text, NULL::text;
        RETURN;
    END IF;
    IF r.password_hash IS DISTINCT FROM p_checked_hash THEN
        st := 'wrong_password';
    ELSIF EXISTS (SELECT 1 FROM chat.members m
                  WHERE m.room_id = p_room AND m.user_id = p_user) THEN
        st := 'already_member';
    ELSIF EXISTS (SELECT 1 FROM chat.bans b WHERE b.room_id = p_room
                  AND b.user_id = p_user
                  AND (b.expires_at IS NULL OR b.expires_at > now())) THEN
        st := 'banned';
    ELSIF (SELECT count(*) FROM chat.members m WHERE m.room_id = p_room) >= r.max_users THEN
        st := 'full';
    END IF;
    IF st IS NOT NULL THEN
        RETURN QUERY SELECT st, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF r.created_by = p_user AND NOT EXISTS (SELECT 1 FROM chat.members m
            WHERE m.room_id = p_room AND m.role = 'owner') THEN
        v_role := 'owner';
    END IF;
    INSERT INTO chat.members (room_id, user_id, role) VALUES (p_room, p_user, v_role);
    e := chat.emit(p_room, 'member-joined', p_user, jsonb_build_object(
        'user_id', p_user, 'username', chat.username(p_user), 'role', v_role));
    RETURN QUERY SELECT 'ok', '{"status":"joined"}', e::text;
END;
$$;

-- p_user leaves p_room. The owner may leave only as the last member;
-- with others in the room, ownership must be transferred first.
CREATE FUNCTION chat.room_leave(p_room uuid, p_user uuid)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql AS $$
DECLARE
    v_role text;
    e jsonb;
BEGIN
    PERFORM 1 FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    v_role := chat.member_role(p_room, p_user);
    IF v_role IS NULL THEN
        RETURN QUERY SELECT 'not_in_room', NULL::text, NULL::text;
        RETURN;
    END IF;
    IF v_role = 'owner' AND EXISTS (SELECT 1 FROM chat.members m
            WHERE m.room_id = p_room AND m.user_id <> p_user) THEN
        RETURN QUERY SELECT 'owner_must_transfer', NULL::text, NULL::text;
        RETURN;
    END IF;
    DELETE FROM chat.members WHERE room_id = p_room AND user_id = p_user;
    e := chat.emit(p_room, 'member-left', p_user, jsonb_build_object('user_id', p_user));
    RETURN QUERY SELECT 'ok', '{"status":"left"}', e::text;
END;
$$;

-- p_actor gives member p_target role p_role (admin, moderator or member).
-- The actor must outrank both the target's present role and the new one:
-- the owner (or a global admin) sets admin, moderator or member on anyone
-- but the owner; a room admin sets moderator or member on moderators and
-- members. Nobody changes their own role, and "owner" moves only by
-- transfer.
CREATE FUNCTION chat.member_set_role(p_room uuid, p_actor uuid, p_admin boolean,
    p_target uuid, p_role text)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
    v_rank integer;
    v_old text;
    e jsonb;
BEGIN
    SELECT * INTO r FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    st := chat.room_gate(r, p_actor, p_admin);
    v_rank := chat.actor_rank(p_room, p_actor, p_admin);
    v_old := chat.member_role(p_room, p_target);
    IF st IS NULL AND p_role NOT IN ('admin', 'moderator', 'member') THEN
        st := 'bad_role';
    ELSIF st IS NULL AND p_target = p_actor THEN
        st := 'self_role';
    ELSIF st IS NULL AND v_rank < 3 THEN
        st := 'insufficient_role';
    ELSIF st IS NULL AND v_old IS NULL THEN
        st := 'target_not_member';
    ELSIF st IS NULL AND (chat.role_rank(v_old) >= v_rank
                          OR chat.role_rank(p_role) >= v_rank) THEN
        st := 'insufficient_role';
    END IF;
    IF st IS NOT NULL THEN
        RETURN QUERY SELECT st, NULL::text, NULL::text;
        RETURN;
    END IF;
    body := json_build_object('room_id', p_room, 'user_id', p_target,
        'role', p_role, 'old_role', v_old)::text;
    IF v_old = p_role THEN
        RETURN QUERY SELECT 'ok', body, NULL::text;
        RETURN;
    END IF;
    UPDATE chat.members SET role = p_role WHERE room_id = p_room AND user_id = p_target;
    e := chat.emit(p_room, 'member-role-changed', p_actor, jsonb_build_object(
        'user_id', p_target, 'role', p_role, 'old_role', v_old, 'changed_by', p_actor));
    RETURN QUERY SELECT 'ok', body, e::text;
END;
$$;

-- p_actor removes member p_target: a moderator or above, on a strictly
-- lower role (a global admin counts as the owner).
CREATE FUNCTION chat.member_kick(p_room uuid, p_actor uuid, p_admin boolean, p_target uuid)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
    v_rank integer;
    v_role text;
    e jsonb;
BEGIN
    SELECT * INTO r FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    st := chat.room_gate(r, p_actor, p_admin);
    v_rank := chat.actor_rank(p_room, p_actor, p_admin);
    v_role := chat.member_role(p_room, p_target);
    IF st IS NULL AND p_target = p_actor THEN
        st := 'self_kick';
    ELSIF st IS NULL AND v_rank < 2 THEN
        st := 'insufficient_role';
    ELSIF st IS NULL AND v_role IS NULL THEN
        st := 'target_not_member';
    ELSIF st IS NULL AND chat.role_rank(v_role) >= v_rank THEN
        st := 'insufficient_role';
    END IF;
    IF st IS NOT NULL THEN
        RETURN QUERY SELECT st, NULL::text, NULL::text;
        RETURN;
    END IF;
    DELETE FROM chat.members WHERE room_id = p_room AND user_id = p_target;
    e := chat.emit(p_room, 'member-left', p_actor, jsonb_build_object(
        'user_id', p_target, 'removed_by', p_actor));
    RETURN QUERY SELECT 'ok', '{"status":"removed"}', e::text;
END;
$$;

-- The owner (or a global admin) hands the room to member p_new: the old
-- owner becomes a member (as the reference does), the new one the owner,
-- and rooms.created_by follows. One member-role-changed event per person.
CREATE FUNCTION chat.room_transfer(p_room uuid, p_actor uuid, p_admin boolean, p_new uuid)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
    v_new_role text;
    v_old_member uuid;
    e1 jsonb;
    e2 jsonb;
BEGIN
    SELECT * INTO r FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    st := chat.room_gate(r, p_actor, p_admin);
    v_new_role := chat.member_role(p_room, p_new);
    IF st IS NULL AND NOT p_admin
            AND chat.member_role(p_room, p_actor) IS DISTINCT FROM 'owner' THEN
        st := 'not_owner';
    ELSIF st IS NULL AND v_new_role IS NULL THEN
        st := 'new_owner_not_member';
    ELSIF st IS NULL AND v_new_role = 'owner' THEN
        st := 'already_owner';
    END IF;
    IF st IS NOT NULL THEN
        RETURN QUERY SELECT st, NULL::text, NULL::text;
        RETURN;
    END IF;
    UPDATE chat.members SET role = 'member'
        WHERE room_id = p_room AND role = 'owner' RETURNING user_id INTO v_old_member;
    UPDATE chat.members SET role = 'owner' WHERE room_id = p_room AND user_id = p_new;
    UPDATE chat.rooms SET created_by = p_new, updated_at = now() WHERE id = p_room;
    IF v_old_member IS NOT NULL THEN
        e1 := chat.emit(p_room, 'member-role-changed', p_actor, jsonb_build_object(
            'user_id', v_old_member, 'role', 'member', 'old_role', 'owner',
            'changed_by', p_actor));
    END IF;
    e2 := chat.emit(p_room, 'member-role-changed', p_actor, jsonb_build_object(
        'user_id', p_new, 'role', 'owner', 'old_role', v_new_role, 'changed_by', p_actor));
    body := json_build_object('room_id', p_room, 'old_owner_id', r.created_by,
        'new_owner_id', p_new, 'status', 'transferred')::text;
    RETURN QUERY SELECT 'ok', body, e1::text;
    RETURN QUERY SELECT NULL::text, NULL::text, e2::text;
END;
$$;

-- The settings of p_room for a member or a global admin. A room made
-- before its settings row (by hand) gets the defaults, as the reference's
-- auto-creation does.
CREATE FUNCTION chat.room_settings_get(p_room uuid, p_user uuid, p_admin boolean)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
BEGIN
    SELECT * INTO r FROM chat.rooms WHERE id = p_room;
    st := chat.room_gate(r, p_user, p_admin);
    IF st IS NOT NULL THEN
        RETURN QUERY SELECT st, NULL::text, NULL::text;
        RETURN;
    END IF;
    INSERT INTO chat.room_settings (room_id) VALUES (p_room) ON CONFLICT DO NOTHING;
    RETURN QUERY SELECT 'ok', chat.room_settings_json(p_room)::text, NULL::text;
END;
$$;

-- The room's owner or admins (or a global admin) change its settings:
-- p_patch holds only the fields to change, already checked by chatd
-- (types and ranges). max_users may not go below the members there are.
CREATE FUNCTION chat.room_settings_update(p_room uuid, p_actor uuid, p_admin boolean,
    p_patch jsonb)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
    s json;
    e jsonb;
BEGIN
    SELECT * INTO r FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    st := chat.room_gate(r, p_actor, p_admin);
    IF st IS NULL AND chat.actor_rank(p_room, p_actor, p_admin) < 3 THEN
        st := 'insufficient_role';
    ELSIF st IS NULL AND (p_patch->>'max_users')::integer
            < (SELECT count(*) FROM chat.members m WHERE m.room_id = p_room) THEN
        st := 'max_users_below_members';
    END IF;
    IF st IS NOT NULL THEN
        RETURN QUERY SELECT st, NULL::text, NULL::text;
        RETURN;
    END IF;
    INSERT INTO chat.room_settings (room_id) VALUES (p_room) ON CONFLICT DO NOTHING;
    UPDATE chat.room_settings SET
        allow_message_edits = coalesce((p_patch->>'allow_message_edits')::boolean, allow_message_edits),
        allow_reactions = coalesce((p_patch->>'allow_reactions')::boolean, allow_reactions),
        require_approval = coalesce((p_patch->>'require_approval')::boolean, require_approval),
        auto_delete_days = coalesce((p_patch->>'auto_delete_days')::integer, auto_delete_days),
        slow_mode_seconds = coalesce((p_patch->>'slow_mode_seconds')::integer, slow_mode_seconds),
        allow_voice_chat = coalesce((p_patch->>'allow_voice_chat')::boolean, allow_voice_chat),
        allow_file_uploads = coalesce((p_patch->>'allow_file_uploads')::boolean, allow_file_uploads),
        updated_at = now()
    WHERE room_id = p_room;
    IF p_patch ? 'max_users' THEN
        UPDATE chat.rooms SET max_users = (p_patch->>'max_users')::integer, updated_at = now()
            WHERE id = p_room;
    END IF;
    s := chat.room_settings_json(p_room);
    e := chat.emit(p_room, 'room-updated', p_actor, s::jsonb);
    RETURN QUERY SELECT 'ok', s::text, e::text;
END;
$$;

-- ------------------------------------------------------------ reads

-- The members of p_room, highest role first, for a member or a global admin.
CREATE FUNCTION chat.room_members(p_room uuid, p_user uuid, p_admin boolean)
RETURNS TABLE (st text, body text, env text) LANGUAGE plpgsql STABLE AS $$
DECLARE
    r chat.rooms;
BEGIN
    SELECT * INTO r FROM chat.rooms WHERE id = p_room;
    st := chat.room_gate(r, p_user, p_admin);
    IF st IS NOT NULL THEN
        RETURN QUERY SELECT st, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok', coalesce(json_agg(json_build_object(
            'user_id', m.user_id, 'username', coalesce(d.username, ''),
            'display_name', coalesce(d.display_name, ''),
            'avatar_url', coalesce(d.avatar_url, ''), 'role', m.role,
            'joined_at', chat.rfc3339(m.joined_at))
            ORDER BY chat.role_rank(m.role) DESC, m.joined_at, m.user_id), '[]')::text,
        NULL::text
    FROM chat.members m LEFT JOIN auth.directory d ON d.id = m.user_id
    WHERE m.room_id = p_room;
END;
$$;

-- One page of the rooms p_user can see (public, or theirs) whose name or
-- description matches p_pattern (an ILIKE pattern with '\' escaping, or
-- NULL for all), optionally in one category: the caller's rooms first,
-- then the newest. {rooms, total, limit, offset}.
CREATE FUNCTION chat.room_search(p_user uuid, p_pattern text, p_category uuid,
    p_limit integer, p_offset integer)
RETURNS text LANGUAGE sql STABLE AS $$
    WITH found AS (
        SELECT r.id, r.created_at, EXISTS (SELECT 1 FROM chat.members m
            WHERE m.room_id = r.id AND m.user_id = p_user) AS mine
        FROM chat.rooms r
        WHERE (p_pattern IS NULL OR r.name ILIKE p_pattern ESCAPE '\'
               OR r.description ILIKE p_pattern ESCAPE '\')
          AND (p_category IS NULL OR r.category_id = p_category)
    ), visible AS (
        SELECT f.* FROM found f JOIN chat.rooms r ON r.id = f.id
        WHERE f.mine OR NOT r.is_private
    ), page AS (
        SELECT v.* FROM visible v
        ORDER BY v.mine DESC, v.created_at DESC, v.id LIMIT p_limit OFFSET p_offset
    )
    SELECT json_build_object(
        'rooms', coalesce((SELECT json_agg(chat.room_json(r, p_user)
                ORDER BY p.mine DESC, p.created_at DESC, p.id)
            FROM page p JOIN chat.rooms r ON r.id = p.id), '[]'),
        'total', (SELECT count(*) FROM visible),
        'limit', p_limit, 'offset', p_offset)::text;
$$;

CREATE INDEX rooms_created_idx ON chat.rooms (created_at);
