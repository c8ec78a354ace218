-- Rooms, membership, roles, room settings and categories, and the calling
-- convention of every chatd route (004_messages.sql follows it too): a
-- route is one call of a function that returns a chat.reply, the HTTP
-- status, the JSON body, and the event envelopes (chat.emit) that chatd
-- publishes once the call has committed (chatd/reply.c). What a write
-- checks and what it writes therefore happen in one transaction, with the
-- room row locked where a count, a role or the owner matters, and its
-- events commit or roll back with it.
--
-- A room's lock is FOR NO KEY UPDATE, the lock chat.emit's UPDATE takes
-- anyway: it orders joins, leaves, role changes and settings updates of one
-- room, yet does not block inserts that only reference the room (messages).

-- status: HTTP status; body: the JSON answer; events: a JSON array of the
-- envelopes chat.emit returned, or NULL.
CREATE TYPE chat.reply AS (status integer, body jsonb, events jsonb);

CREATE FUNCTION chat.err(p_status integer, p_code text, p_message text)
RETURNS chat.reply LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_status, jsonb_build_object('error', p_code, 'message', p_message),
        NULL::jsonb)::chat.reply;
$$;

CREATE FUNCTION chat.ok(p_status integer, p_body jsonb, p_events jsonb DEFAULT NULL)
RETURNS chat.reply LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(p_status, p_body, p_events)::chat.reply;
$$;

-- 200 with the list p_list, [] when NULL (a jsonb_agg over no rows).
CREATE FUNCTION chat.ok_list(p_list jsonb) RETURNS chat.reply
LANGUAGE sql IMMUTABLE AS $$
    SELECT chat.ok(200, coalesce(p_list, '[]'));
$$;

-- 200 with p_body, emitting one p_type event by p_user in p_room whose
-- payload is p_payload, or the body itself when that is NULL.
CREATE FUNCTION chat.ok_emit(p_body jsonb, p_room uuid, p_type text, p_user uuid,
    p_payload jsonb DEFAULT NULL) RETURNS chat.reply LANGUAGE sql AS $$
    SELECT chat.ok(200, p_body, jsonb_build_array(
        chat.emit(p_room, p_type, p_user, coalesce(p_payload, p_body))));
$$;

-- The number of members of a room.
CREATE FUNCTION chat.member_count(p_room uuid) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM chat.members m WHERE m.room_id = p_room;
$$;

-- The RoomResponse (reference §2.2) of room r as seen by p_user:
-- category_id left out when null, "role" only when p_user is a member.
CREATE FUNCTION chat.room_json(r chat.rooms, p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', r.id, 'name', r.name, 'description', r.description,
        'is_private', r.is_private, 'max_users', r.max_users,
        'created_by', r.created_by, 'category_id', r.category_id,
        'created_at', chat.rfc3339(r.created_at),
        'user_count', chat.member_count(r.id),
        'role', chat.member_role(r.id, p_user)));
$$;

-- True when p_user may see room r at all: public, a member's, or any room
-- for a global admin. Elsewhere a private room answers "not found", so
-- that its existence does not leak.
CREATE FUNCTION chat.room_visible(r chat.rooms, p_user uuid, p_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT NOT r.is_private OR p_admin OR chat.member_role(r.id, p_user) IS NOT NULL;
$$;

-- The rank p_user acts with in a room: the member's role_rank, and a
-- global admin at least the owner's (4), member or not.
CREATE FUNCTION chat.actor_rank(p_room uuid, p_user uuid, p_admin boolean)
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT greatest(chat.role_rank(chat.member_role(p_room, p_user)),
        CASE WHEN p_admin THEN 4 ELSE 0 END);
$$;

-- Who may use the members-only routes of a room (and see what is in it):
-- its members and global admins. NULL when p_user may; else 404 "<p_what>
-- not found" for a private room (whose existence does not leak) or a room
-- that does not exist (p_room NULL: the thing named was not found), and
-- 403 for a public one.
CREATE FUNCTION chat.room_access(p_room uuid, p_user uuid, p_admin boolean, p_what text)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN NOT coalesce((SELECT chat.room_visible(r, p_user, p_admin)
                           FROM chat.rooms r WHERE r.id = p_room), false) THEN
            chat.err(404, 'not_found', p_what || ' not found')
        WHEN p_admin OR chat.member_role(p_room, p_user) IS NOT NULL THEN NULL
        ELSE chat.err(403, 'not_member', 'You are not a member of this room')
    END;
$$;

-- Locks room p_room for a change by p_actor; chat.room_access's answer.
-- The writes below start with the first refusal there is, if any, as
-- coalesce(chat.room_lock(...), further checks): coalesce evaluates no
-- argument after the first non-NULL one.
CREATE FUNCTION chat.room_lock(p_room uuid, p_actor uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    RETURN chat.room_access(p_room, p_actor, p_admin, 'Room');
END;
$$;

-- Why p_actor may not act on member p_target of a room, or NULL: the
-- actor's rank (chat.actor_rank) must be at least p_need, and above both
-- the target's role and p_role (a role to give, or NULL).
CREATE FUNCTION chat.rank_check(p_room uuid, p_actor uuid, p_admin boolean,
    p_target uuid, p_need integer, p_role text)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN a.rank >= p_need AND t.role IS NULL THEN
            chat.err(404, 'not_found', 'User is not a member of this room')
        WHEN a.rank < p_need OR chat.role_rank(t.role) >= a.rank
                OR chat.role_rank(p_role) >= a.rank THEN
            chat.err(403, 'forbidden', 'Your role in this room does not allow this')
    END
    FROM (SELECT chat.actor_rank(p_room, p_actor, p_admin) AS rank) a,
         (SELECT chat.member_role(p_room, p_target) AS role) t;
$$;

-- A room's settings (room_settings, and max_users, which lives in rooms).
CREATE FUNCTION chat.room_settings_json(p_room uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('room_id', s.room_id,
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
CREATE FUNCTION chat.category_json(c chat.categories) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', c.id, 'name', c.name,
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

-- Emits member-role-changed in p_room: p_actor moved p_user from p_old to
-- p_role. Returns the envelope.
CREATE FUNCTION chat.role_changed(p_room uuid, p_actor uuid, p_user uuid, p_role text,
    p_old text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT chat.emit(p_room, 'member-role-changed', p_actor, jsonb_build_object(
        'user_id', p_user, 'role', p_role, 'old_role', p_old, 'changed_by', p_actor));
$$;

-- ------------------------------------------------------------ rooms

-- GET /api/rooms: public rooms and the caller's private ones.
CREATE FUNCTION chat.rooms_list(p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok_list(jsonb_agg(chat.room_json(r, p_user) ORDER BY r.created_at, r.id))
    FROM chat.rooms r WHERE chat.room_visible(r, p_user, false);
$$;

-- GET /api/room: one room the caller may see.
CREATE FUNCTION chat.room_get(p_room uuid, p_user uuid, p_admin boolean) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT chat.ok(200, chat.room_json(r, p_user)) FROM chat.rooms r
                     WHERE r.id = p_room AND chat.room_visible(r, p_user, p_admin)),
        chat.err(404, 'not_found', 'Room not found'));
$$;

-- Creates a room owned by p_user: the room, its settings row and the
-- owner's membership, together. p_password_hash is argon2id or NULL.
CREATE FUNCTION chat.room_create(p_user uuid, p_name text, p_description text,
    p_password_hash text, p_private boolean, p_max_users integer, p_category uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
BEGIN
    INSERT INTO chat.rooms (name, description, password_hash, is_private,
        max_users, created_by, category_id)
    VALUES (p_name, p_description, p_password_hash, p_private,
        p_max_users, p_user, p_category)
    RETURNING * INTO r;
    INSERT INTO chat.room_settings (room_id) VALUES (r.id);
    INSERT INTO chat.members (room_id, user_id, role) VALUES (r.id, p_user, 'owner');
    RETURN chat.ok(200, chat.room_json(r, p_user));
EXCEPTION
    WHEN unique_violation THEN
        RETURN chat.err(409, 'conflict', 'Room name already exists');
    WHEN foreign_key_violation THEN
        RETURN chat.err(404, 'not_found', 'Category not found');
END;
$$;

-- One page of the rooms p_user can see (public, or theirs) whose name or
-- description matches p_pattern (an ILIKE pattern with '\' escaping, or
-- NULL for all), optionally in one category: the caller's rooms first,
-- then the newest. {rooms, total, limit, offset}.
CREATE FUNCTION chat.room_search(p_user uuid, p_pattern text, p_category uuid,
    p_limit integer, p_offset integer)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
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
    SELECT chat.ok(200, jsonb_build_object(
        'rooms', coalesce((SELECT jsonb_agg(chat.room_json(r, p_user)
                ORDER BY p.mine DESC, p.created_at DESC, p.id)
            FROM page p JOIN chat.rooms r ON r.id = p.id), '[]'),
        'total', (SELECT count(*) FROM visible),
        'limit', p_limit, 'offset', p_offset));
$$;

-- The settings of p_room for a member or a global admin. A room made
-- before its settings row (by hand) gets the defaults, as the reference's
-- auto-creation does.
CREATE FUNCTION chat.room_settings_get(p_room uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := chat.room_access(p_room, p_user, p_admin, 'Room');
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO chat.room_settings (room_id) VALUES (p_room) ON CONFLICT DO NOTHING;
    RETURN chat.ok(200, chat.room_settings_json(p_room));
END;
$$;

-- The room's owner or admins (or a global admin) change its settings:
-- p_patch holds only the fields to change, already checked by chatd
-- (types and ranges). max_users may not go below the members there are.
CREATE FUNCTION chat.room_settings_update(p_room uuid, p_actor uuid, p_admin boolean,
    p_patch jsonb)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := chat.room_lock(p_room, p_actor, p_admin);
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    ELSIF chat.actor_rank(p_room, p_actor, p_admin) < 3 THEN
        RETURN chat.err(403, 'forbidden', 'Your role in this room does not allow this');
    ELSIF (p_patch->>'max_users')::integer < chat.member_count(p_room) THEN
        RETURN chat.err(409, 'conflict', 'max_users cannot be below the current member count');
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
    RETURN chat.ok_emit(chat.room_settings_json(p_room), p_room, 'room-updated', p_actor);
END;
$$;

-- ------------------------------------------------------------ membership

-- The members of p_room, highest role first, for a member or a global admin.
CREATE FUNCTION chat.room_members(p_room uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.room_access(p_room, p_user, p_admin, 'Room'), chat.ok_list(
        (SELECT jsonb_agg(jsonb_build_object(
            'user_id', m.user_id, 'username', coalesce(d.username, ''),
            'display_name', coalesce(d.display_name, ''),
            'avatar_url', coalesce(d.avatar_url, ''), 'role', m.role,
            'joined_at', chat.rfc3339(m.joined_at))
            ORDER BY chat.role_rank(m.role) DESC, m.joined_at, m.user_id)
         FROM chat.members m LEFT JOIN auth.directory d ON d.id = m.user_id
         WHERE m.room_id = p_room)));
$$;

-- p_user joins p_room as a member; p_checked_hash is the password hash
-- chatd verified the given password against (NULL for a room without
-- one), so that a password changed meanwhile fails. With the room row
-- locked, the member count cannot pass max_users however many join at
-- once. The room's recorded owner (created_by) who left as its last member
-- comes back as its owner, so that a room never stays without one.
CREATE FUNCTION chat.room_join(p_room uuid, p_user uuid, p_checked_hash text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    r chat.rooms;
    v_role text := 'member';
BEGIN
    SELECT * INTO r FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Room not found');
    ELSIF r.password_hash IS DISTINCT FROM p_checked_hash THEN
        RETURN chat.err(403, 'invalid_password', 'Invalid password');
    ELSIF chat.member_role(p_room, p_user) IS NOT NULL THEN
        RETURN chat.err(409, 'conflict', 'Already in room');
    ELSIF EXISTS (SELECT 1 FROM chat.bans b WHERE b.room_id = p_room
                  AND b.user_id = p_user
                  AND (b.expires_at IS NULL OR b.expires_at > now())) THEN
        RETURN chat.err(403, 'banned', 'You are banned from this room');
    ELSIF chat.member_count(p_room) >= r.max_users THEN
        RETURN chat.err(403, 'room_full', 'Room is full');
    ELSIF r.created_by = p_user AND NOT EXISTS (SELECT 1 FROM chat.members m
            WHERE m.room_id = p_room AND m.role = 'owner') THEN
        v_role := 'owner';
    END IF;
    INSERT INTO chat.members (room_id, user_id, role) VALUES (p_room, p_user, v_role);
    RETURN chat.ok_emit('{"status":"joined"}', p_room, 'member-joined', p_user,
        jsonb_build_object('user_id', p_user, 'username', chat.username(p_user),
            'role', v_role));
END;
$$;

-- p_user leaves p_room. The owner may leave only as the last member;
-- with others in the room, ownership must be transferred first.
CREATE FUNCTION chat.room_leave(p_room uuid, p_user uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    v_role text;
BEGIN
    PERFORM 1 FROM chat.rooms WHERE id = p_room FOR NO KEY UPDATE;
    v_role := chat.member_role(p_room, p_user);
    IF v_role IS NULL THEN
        RETURN chat.err(404, 'not_found', 'Not in room');
    ELSIF v_role = 'owner' AND chat.member_count(p_room) > 1 THEN
        RETURN chat.err(409, 'owner_must_transfer',
            'The owner cannot leave while other members remain: transfer ownership first');
    END IF;
    DELETE FROM chat.members WHERE room_id = p_room AND user_id = p_user;
    RETURN chat.ok_emit('{"status":"left"}', p_room, 'member-left', p_user,
        jsonb_build_object('user_id', p_user));
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
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := coalesce(chat.room_lock(p_room, p_actor, p_admin), CASE
        WHEN p_role NOT IN ('admin', 'moderator', 'member') THEN
            chat.err(400, 'invalid_request', 'role must be admin, moderator or member')
        WHEN p_target = p_actor THEN
            chat.err(403, 'forbidden', 'You cannot change your own role') END,
        chat.rank_check(p_room, p_actor, p_admin, p_target, 3, p_role));
    v_old text := chat.member_role(p_room, p_target);
    body jsonb := jsonb_build_object('room_id', p_room, 'user_id', p_target,
        'role', p_role, 'old_role', v_old);
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    ELSIF v_old = p_role THEN
        RETURN chat.ok(200, body);
    END IF;
    UPDATE chat.members SET role = p_role WHERE room_id = p_room AND user_id = p_target;
    RETURN chat.ok(200, body,
        jsonb_build_array(chat.role_changed(p_room, p_actor, p_target, p_role, v_old)));
END;
$$;

-- p_actor removes member p_target: a moderator or above, on a strictly
-- lower role (a global admin counts as the owner).
CREATE FUNCTION chat.member_kick(p_room uuid, p_actor uuid, p_admin boolean, p_target uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := coalesce(chat.room_lock(p_room, p_actor, p_admin), CASE
        WHEN p_target = p_actor THEN
            chat.err(400, 'invalid_request', 'Use /api/room/leave to leave a room') END,
        chat.rank_check(p_room, p_actor, p_admin, p_target, 2, NULL));
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    DELETE FROM chat.members WHERE room_id = p_room AND user_id = p_target;
    RETURN chat.ok_emit('{"status":"removed"}', p_room, 'member-left', p_actor,
        jsonb_build_object('user_id', p_target, 'removed_by', p_actor));
END;
$$;

-- The owner (or a global admin) hands the room to member p_new: the old
-- owner becomes a member (as the reference does), the new one the owner,
-- and rooms.created_by follows. One member-role-changed event per person.
CREATE FUNCTION chat.room_transfer(p_room uuid, p_actor uuid, p_admin boolean, p_new uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := chat.room_lock(p_room, p_actor, p_admin);
    v_new_role text := chat.member_role(p_room, p_new);
    v_old_owner uuid := (SELECT created_by FROM chat.rooms WHERE id = p_room);
    v_old_member uuid;
    events jsonb := '[]';
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    ELSIF NOT p_admin AND chat.member_role(p_room, p_actor) IS DISTINCT FROM 'owner' THEN
        RETURN chat.err(403, 'forbidden', 'Only the room owner can transfer ownership');
    ELSIF v_new_role IS NULL THEN
        RETURN chat.err(400, 'invalid_request', 'New owner must be a member of the room');
    ELSIF v_new_role = 'owner' THEN
        RETURN chat.err(409, 'conflict', 'The user already owns the room');
    END IF;
    UPDATE chat.members SET role = 'member'
        WHERE room_id = p_room AND role = 'owner' RETURNING user_id INTO v_old_member;
    UPDATE chat.members SET role = 'owner' WHERE room_id = p_room AND user_id = p_new;
    UPDATE chat.rooms SET created_by = p_new, updated_at = now() WHERE id = p_room;
    IF v_old_member IS NOT NULL THEN
        events := jsonb_build_array(
            chat.role_changed(p_room, p_actor, v_old_member, 'member', 'owner'));
    END IF;
    events := events || jsonb_build_array(
        chat.role_changed(p_room, p_actor, p_new, 'owner', v_new_role));
    RETURN chat.ok(200, jsonb_build_object('room_id', p_room, 'old_owner_id', v_old_owner,
        'new_owner_id', p_new, 'status', 'transferred'), events);
END;
$$;

-- ------------------------------------------------------------ categories

-- GET /api/categories: every category, by sort_order then name.
CREATE FUNCTION chat.categories_list() RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok_list(jsonb_agg(chat.category_json(c) ORDER BY c.sort_order, c.name, c.id))
    FROM chat.categories c;
$$;

-- Creates a category, or changes the one p_id names (NULL: create). In a
-- change, NULL leaves a field as it is.
CREATE FUNCTION chat.category_save(p_id uuid, p_user uuid, p_name text,
    p_description text, p_icon text, p_color text, p_sort bigint, p_private boolean)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c chat.categories;
BEGIN
    IF p_id IS NULL THEN
        INSERT INTO chat.categories (name, description, icon, color, sort_order,
            is_private, created_by)
        VALUES (p_name, coalesce(p_description, ''), coalesce(p_icon, ''),
            coalesce(p_color, ''), coalesce(p_sort, 0), coalesce(p_private, false), p_user)
        RETURNING * INTO c;
    ELSE
        UPDATE chat.categories SET name = coalesce(p_name, name),
            description = coalesce(p_description, description),
            icon = coalesce(p_icon, icon), color = coalesce(p_color, color),
            sort_order = coalesce(p_sort, sort_order),
            is_private = coalesce(p_private, is_private), updated_at = now()
        WHERE id = p_id RETURNING * INTO c;
    END IF;
    IF c.id IS NULL THEN
        RETURN chat.err(404, 'not_found', 'Category not found');
    END IF;
    RETURN chat.ok(200, chat.category_json(c));
EXCEPTION
    WHEN unique_violation THEN
        RETURN chat.err(409, 'conflict', 'Category name already exists');
END;
$$;

-- Deletes a category; its rooms become uncategorised (ON DELETE SET NULL).
CREATE FUNCTION chat.category_delete(p_id uuid) RETURNS chat.reply
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM chat.categories WHERE id = p_id;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Category not found');
    END IF;
    RETURN chat.ok(200, '{"status":"deleted"}');
END;
$$;

CREATE INDEX rooms_created_idx ON chat.rooms (created_at);
