-- Group DMs (reference §1.9): conversations of kind 'group' in the model of
-- 006_dm.sql, of 2 to 10 members, one of them the owner. Their messages,
-- edits, deletes, reactions and read receipts are those of direct messages
-- (chat.dm_post, /api/dm/update, /api/dm/delete, /api/dm/reaction/*,
-- /api/dm/read, which take a message id); this file adds creating, listing,
-- renaming, history, sending and membership. Every event goes through
-- chat.dm_emit to the members of the moment ("to"), so the one being
-- removed hears of it too: the removal is emitted before the member row
-- goes.
--
-- Unlike the reference: sends and membership changes are pushed to the
-- members; ownership passes to the longest-standing member left (joined_at,
-- then user_id), not to an arbitrary one; the last member leaving deletes
-- the group and is still answered {"status":"left"} or {"status":"removed"}.
--
-- Lock order (006's): the conversation row first (chat.group_dm_lock, FOR
-- NO KEY UPDATE), then member rows. With the row held, two adds to a group
-- of 9 cannot both pass the 10-member check.

-- At most this many members in a group, its owner included.
CREATE FUNCTION chat.group_dm_max_members() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT 10;
$$;

CREATE FUNCTION chat.group_dm_size(p_conv uuid) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM chat.conversation_members WHERE conversation_id = p_conv;
$$;

-- The answer to anything about a group the caller is not in: whether it
-- exists does not leak.
CREATE FUNCTION chat.group_dm_missing() RETURNS chat.reply
LANGUAGE sql IMMUTABLE AS $$
    SELECT chat.err(404, 'not_found', 'Group DM not found');
$$;

-- denied (a chat.reach_refusal about p_target) naming that user: its
-- message prefixed with the username, and user_id added, so that a
-- creator of a group of nine learns which invitation was refused.
CREATE FUNCTION chat.group_dm_refusal(denied chat.reply, p_target uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT ROW(denied.status, denied.body || jsonb_build_object('user_id', p_target,
        'message', coalesce(chat.username(p_target), p_target::text) || ': '
            || (denied.body ->> 'message')), NULL::jsonb)::chat.reply;
$$;

-- ------------------------------------------------------------ JSON shape

-- The group as p_user sees it: {id, name, created_by, owner_id,
-- created_at, updated_at, member_count, members (the owner first, then by
-- joining), unread_count (p_user's), last_message (the latest live
-- message's content, or ""), last_time (its time, or p_user's joining)}.
CREATE FUNCTION chat.group_dm_json(c chat.conversations, p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', c.id, 'name', c.name, 'created_by', c.created_by,
        'owner_id', mb.owner_id, 'created_at', chat.rfc3339(c.created_at),
        'updated_at', chat.rfc3339(c.updated_at), 'member_count', mb.n,
        'members', coalesce(mb.list, '[]'), 'unread_count', coalesce(me.unread, 0),
        'last_message', coalesce(l.content, ''),
        'last_time', chat.rfc3339(coalesce(l.created_at, me.active_at, c.created_at)))
    FROM (SELECT count(*) AS n,
                 (array_agg(m.user_id) FILTER (WHERE m.role = 'owner'))[1] AS owner_id,
                 jsonb_agg(jsonb_build_object('user_id', m.user_id,
                     'username', coalesce(d.username, ''),
                     'display_name', coalesce(d.display_name, ''),
                     'avatar_url', coalesce(d.avatar_url, ''), 'role', m.role,
                     'joined_at', chat.rfc3339(m.joined_at))
                     ORDER BY m.role = 'owner' DESC, m.joined_at, m.user_id) AS list
          FROM chat.conversation_members m LEFT JOIN auth.directory d ON d.id = m.user_id
          WHERE m.conversation_id = c.id) mb
    LEFT JOIN chat.conversation_members me
        ON me.conversation_id = c.id AND me.user_id = p_user
    LEFT JOIN LATERAL chat.dm_last_message(c.id) l ON true;
$$;

-- ------------------------------------------------------------ access

-- Group p_group locked (FOR NO KEY UPDATE) for a change by p_user, and
-- p_user's role in it; denied is chat.group_dm_missing() unless p_user is
-- a member.
CREATE FUNCTION chat.group_dm_lock(p_group uuid, p_user uuid,
    OUT c chat.conversations, OUT my_role text, OUT denied chat.reply)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO c FROM chat.conversations WHERE id = p_group AND kind = 'group'
    FOR NO KEY UPDATE;
    SELECT m.role INTO my_role FROM chat.conversation_members m
    WHERE m.conversation_id = c.id AND m.user_id = p_user;
    IF my_role IS NULL THEN
        denied := chat.group_dm_missing();
    END IF;
END;
$$;

-- ------------------------------------------------------------ creating

-- Why p_user may not make a group with p_members (the others), or NULL:
-- 1..9 distinct others, every one known to authd and accepting group
-- invitations from p_user (blocks either way, then privacy).
CREATE FUNCTION chat.group_dm_create_refusal(p_user uuid, p_members uuid[])
RETURNS chat.reply LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_id uuid;
    denied chat.reply;
BEGIN
    IF p_user = ANY (p_members) THEN
        RETURN chat.err(400, 'invalid_request', 'member_ids must not include yourself');
    ELSIF coalesce(cardinality(p_members), 0) NOT BETWEEN 1 AND chat.group_dm_max_members() - 1
       OR (SELECT count(DISTINCT u) FROM unnest(p_members) u) <> cardinality(p_members) THEN
        RETURN chat.err(400, 'invalid_request', 'member_ids must list 1 to 9 distinct other users');
    END IF;
    FOREACH v_id IN ARRAY p_members LOOP
        IF NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = v_id) THEN
            RETURN chat.group_dm_refusal(chat.err(404, 'not_found', 'User not found'), v_id);
        END IF;
        denied := chat.reach_refusal(p_user, v_id, 'allow_group_invites');
        IF denied.status IS NOT NULL THEN
            RETURN chat.group_dm_refusal(denied, v_id);
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

-- POST /api/group-dm/create {name, member_ids}: 201 with the group, p_user
-- its owner; group-dm-created (the group) to every member.
CREATE FUNCTION chat.group_dm_create(p_user uuid, p_name text, p_members uuid[])
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := chat.group_dm_create_refusal(p_user, p_members);
    c chat.conversations;
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO chat.conversations (kind, name, created_by)
    VALUES ('group', btrim(p_name, ' '), p_user) RETURNING * INTO c;
    INSERT INTO chat.conversation_members (conversation_id, user_id, kind, role)
    SELECT c.id, p_user, 'group', 'owner'
    UNION ALL SELECT c.id, u, 'group', 'member' FROM unnest(p_members) u;
    RETURN chat.ok_dm_emit(chat.group_dm_json(c, p_user), c.id, 'group-dm-created', p_user,
        NULL, 201);
END;
$$;

-- ------------------------------------------------------------ reading

-- GET /api/group-dms: p_user's groups, the latest activity first;
-- p_before (a group id of the previous page) continues the list.
CREATE FUNCTION chat.group_dms_list(p_user uuid, p_limit integer, p_before uuid)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(chat.conversation_cursor_check(p_user, 'group', p_before, 'group DMs'),
        chat.ok_list((SELECT jsonb_agg(chat.group_dm_json(c, p_user)
                ORDER BY p.active_at DESC, p.conversation_id DESC)
            FROM chat.conversation_page(p_user, 'group', p_limit, p_before) p
            JOIN chat.conversations c ON c.id = p.conversation_id)));
$$;

-- GET /api/group-dm/messages?group_dm_id=: a page of history, members only.
CREATE FUNCTION chat.group_dm_history(p_group uuid, p_user uuid, p_limit integer,
    p_before uuid, p_after uuid) RETURNS chat.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c chat.conversations;
BEGIN
    SELECT * INTO c FROM chat.conversations
    WHERE id = p_group AND kind = 'group' AND chat.is_conversation_member(id, p_user);
    IF NOT FOUND THEN
        RETURN chat.group_dm_missing();
    END IF;
    RETURN chat.dm_page(c, p_limit, p_before, p_after);
END;
$$;

-- ------------------------------------------------------------ writing

-- PUT /api/group-dm/update {group_dm_id, name}: any member renames (as in
-- most chat apps; the owner's power is over membership). group-dm-updated
-- carries the group without unread_count, which is each member's own.
CREATE FUNCTION chat.group_dm_rename(p_group uuid, p_user uuid, p_name text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.group_dm_lock(p_group, p_user);
    c chat.conversations;
    body jsonb;
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    END IF;
    UPDATE chat.conversations SET name = btrim(p_name, ' '), updated_at = now()
    WHERE id = (x.c).id RETURNING * INTO c;
    body := chat.group_dm_json(c, p_user);
    RETURN chat.ok_dm_emit(body, c.id, 'group-dm-updated', p_user, body - 'unread_count');
END;
$$;

-- POST /api/group-dm/message/send {group_dm_id, content}: 201 with the
-- message; dm-message to every member.
CREATE FUNCTION chat.group_dm_send(p_group uuid, p_user uuid, p_content text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.group_dm_lock(p_group, p_user);
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    END IF;
    RETURN chat.dm_post(x.c, p_user, p_content, 201);
END;
$$;

-- POST /api/group-dm/member/add {group_dm_id, user_id}: the owner adds a
-- user who accepts group invitations from them, while the group has room.
-- The new member starts with the history read (nothing unread) and hears
-- group-dm-member-added with the others (emitted after the insert).
CREATE FUNCTION chat.group_dm_member_add(p_group uuid, p_actor uuid, p_target uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.group_dm_lock(p_group, p_actor);
    denied chat.reply;
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    ELSIF x.my_role <> 'owner' THEN
        RETURN chat.err(403, 'forbidden', 'Only the group owner can add members');
    ELSIF chat.is_conversation_member((x.c).id, p_target) THEN
        RETURN chat.err(409, 'conflict', 'User is already a member');
    ELSIF NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = p_target) THEN
        RETURN chat.err(404, 'not_found', 'User not found');
    ELSIF chat.group_dm_size((x.c).id) >= chat.group_dm_max_members() THEN
        RETURN chat.err(403, 'group_full', 'Group DM is full');
    END IF;
    denied := chat.reach_refusal(p_actor, p_target, 'allow_group_invites');
    IF denied.status IS NOT NULL THEN
        RETURN chat.group_dm_refusal(denied, p_target);
    END IF;
    INSERT INTO chat.conversation_members (conversation_id, user_id, kind, last_read_seq)
    VALUES ((x.c).id, p_target, 'group', (x.c).last_seq);
    RETURN chat.ok_dm_emit('{"status":"added"}', (x.c).id, 'group-dm-member-added', p_actor,
        jsonb_build_object('group_dm_id', (x.c).id, 'user_id', p_target,
            'username', chat.username_or_empty(p_target), 'added_by', p_actor), 201);
END;
$$;

-- Takes member p_target out of group c (locked) on p_actor's word and
-- returns the events: group-dm-member-removed first, while p_target is
-- still among its "to"; then, when the owner went, ownership passes to the
-- longest-standing member left (group-dm-owner-changed); a group left
-- empty is deleted with its messages and events.
CREATE FUNCTION chat.group_dm_drop(c chat.conversations, p_actor uuid, p_target uuid)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_events jsonb;
    v_role text;
    v_heir uuid;
BEGIN
    v_events := jsonb_build_array(chat.dm_emit(c.id, 'group-dm-member-removed', p_actor,
        jsonb_build_object('group_dm_id', c.id, 'user_id', p_target, 'removed_by', p_actor)));
    DELETE FROM chat.conversation_members WHERE conversation_id = c.id AND user_id = p_target
    RETURNING role INTO v_role;
    SELECT user_id INTO v_heir FROM chat.conversation_members WHERE conversation_id = c.id
    ORDER BY joined_at, user_id LIMIT 1 FOR UPDATE;
    IF v_heir IS NULL THEN
        DELETE FROM chat.conversations WHERE id = c.id;
    ELSIF v_role = 'owner' THEN
        UPDATE chat.conversation_members SET role = 'owner'
        WHERE conversation_id = c.id AND user_id = v_heir;
        v_events := v_events || jsonb_build_array(chat.dm_emit(c.id, 'group-dm-owner-changed',
            p_actor, jsonb_build_object('group_dm_id', c.id, 'owner_id', v_heir,
                'previous_owner_id', p_target)));
    END IF;
    RETURN v_events;
END;
$$;

-- POST /api/group-dm/member/remove {group_dm_id, user_id}: the owner
-- removes anyone; any member removes themselves (a leave).
CREATE FUNCTION chat.group_dm_member_remove(p_group uuid, p_actor uuid, p_target uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.group_dm_lock(p_group, p_actor);
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    ELSIF NOT chat.is_conversation_member((x.c).id, p_target) THEN
        RETURN chat.err(404, 'not_found', 'Member not found');
    ELSIF p_target <> p_actor AND x.my_role <> 'owner' THEN
        RETURN chat.err(403, 'forbidden', 'Only the group owner can remove other members');
    END IF;
    RETURN chat.ok(200, '{"status":"removed"}', chat.group_dm_drop(x.c, p_actor, p_target));
END;
$$;

-- POST /api/group-dm/leave?group_dm_id=: any member.
CREATE FUNCTION chat.group_dm_leave(p_group uuid, p_user uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    x record := chat.group_dm_lock(p_group, p_user);
BEGIN
    IF (x.denied).status IS NOT NULL THEN
        RETURN x.denied;
    END IF;
    RETURN chat.ok(200, '{"status":"left"}', chat.group_dm_drop(x.c, p_user, p_user));
END;
$$;
