-- Per-user channel permissions (reference §1.10), which the reference
-- stored but never enforced: here a join honours can_join, speaking
-- honours can_speak, and can_mute_others lets a member server-mute
-- (002_channels.sql). The room's members who may read a channel read its
-- permissions; its owner and admins (rank 3 and up; a global admin counts
-- as the owner) set and delete them, on members of a lower role. A change
-- that takes away a participant's right to join takes them out of the
-- channel in the same transaction (voice.evict).

CREATE FUNCTION voice.permission_json(pm voice.permissions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', pm.id, 'channel_id', pm.channel_id,
        'user_id', pm.user_id, 'username', coalesce(chat.username(pm.user_id), ''),
        'can_join', pm.can_join, 'can_speak', pm.can_speak,
        'can_mute_others', pm.can_mute_others, 'can_deafen_others', pm.can_deafen_others,
        'can_move_users', pm.can_move_users, 'is_priority', pm.is_priority,
        'granted_by', pm.granted_by, 'created_at', chat.rfc3339(pm.created_at),
        'updated_at', chat.rfc3339(pm.updated_at));
$$;

-- p_user's permissions in channel c: the row, or what holds without one
-- (id, granted_by and the times null).
CREATE FUNCTION voice.permission_or_default(c voice.channels, p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT voice.permission_json(pm) FROM voice.permissions pm
         WHERE pm.channel_id = c.id AND pm.user_id = p_user),
        jsonb_build_object('id', NULL, 'channel_id', c.id, 'user_id', p_user,
            'username', coalesce(chat.username(p_user), ''),
            'can_join', NOT c.is_private, 'can_speak', true, 'can_mute_others', false,
            'can_deafen_others', false, 'can_move_users', false, 'is_priority', false,
            'granted_by', NULL, 'created_at', NULL, 'updated_at', NULL));
$$;

-- Why p_actor may not change the permissions of p_target in channel c, or
-- NULL: the owner and admins, on a member of a lower role (chat.rank_check:
-- 404 when p_target is not a member). A row of a user no longer in the
-- room may still be deleted (p_member false).
CREATE FUNCTION voice.permission_refusal(c voice.channels, p_actor uuid, p_admin boolean,
    p_target uuid, p_member boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(voice.channel_access(c, p_actor, p_admin),
        CASE WHEN p_member OR chat.member_role(c.room_id, p_target) IS NOT NULL THEN
            chat.rank_check(c.room_id, p_actor, p_admin, p_target, 3, NULL)
        WHEN chat.actor_rank(c.room_id, p_actor, p_admin) < 3 THEN
            chat.err(403, 'forbidden', 'Your role in this room does not allow this') END);
$$;

-- Writes p_target's row in channel c: the flags p_flags names (booleans,
-- checked by voiced); the others keep their value, or for a new row the
-- reference's defaults (can_join and can_speak true, the rest false).
CREATE FUNCTION voice.permission_write(c voice.channels, p_actor uuid, p_target uuid,
    p_flags jsonb) RETURNS voice.permissions LANGUAGE sql AS $$
    INSERT INTO voice.permissions AS pm (channel_id, user_id, can_join, can_speak,
        can_mute_others, can_deafen_others, can_move_users, is_priority, granted_by)
    VALUES (c.id, p_target,
        coalesce((p_flags->>'can_join')::boolean, true),
        coalesce((p_flags->>'can_speak')::boolean, true),
        coalesce((p_flags->>'can_mute_others')::boolean, false),
        coalesce((p_flags->>'can_deafen_others')::boolean, false),
        coalesce((p_flags->>'can_move_users')::boolean, false),
        coalesce((p_flags->>'is_priority')::boolean, false), p_actor)
    ON CONFLICT (channel_id, user_id) DO UPDATE SET
        can_join = coalesce((p_flags->>'can_join')::boolean, pm.can_join),
        can_speak = coalesce((p_flags->>'can_speak')::boolean, pm.can_speak),
        can_mute_others = coalesce((p_flags->>'can_mute_others')::boolean, pm.can_mute_others),
        can_deafen_others = coalesce((p_flags->>'can_deafen_others')::boolean,
            pm.can_deafen_others),
        can_move_users = coalesce((p_flags->>'can_move_users')::boolean, pm.can_move_users),
        is_priority = coalesce((p_flags->>'is_priority')::boolean, pm.is_priority),
        granted_by = p_actor, updated_at = now()
    RETURNING *;
$$;

-- GET /api/voice-channel/permission?channel_id=&user_id=: one user's
-- permissions (p_target, the caller when voiced got no user_id).
CREATE FUNCTION voice.permission_get(p_channel uuid, p_user uuid, p_admin boolean,
    p_target uuid)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(voice.channel_access(c, p_user, p_admin),
        chat.ok(200, voice.permission_or_default(c, p_target)))
    FROM (SELECT (SELECT c FROM voice.channels c WHERE c.id = p_channel) AS c) x;
$$;

-- GET /api/voice-channel/permissions?channel_id=: every row, oldest first.
CREATE FUNCTION voice.permissions_of(p_channel uuid, p_user uuid, p_admin boolean)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT coalesce(voice.channel_access(c, p_user, p_admin), chat.ok_list(
        (SELECT jsonb_agg(voice.permission_json(pm) ORDER BY pm.created_at, pm.user_id)
         FROM voice.permissions pm WHERE pm.channel_id = (x.c).id)))
    FROM (SELECT (SELECT c FROM voice.channels c WHERE c.id = p_channel) AS c) x;
$$;

-- POST /api/voice-channel/permission/set {channel_id, user_id, flags?}.
CREATE FUNCTION voice.permission_set(p_channel uuid, p_actor uuid, p_admin boolean,
    p_target uuid, p_flags jsonb)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c voice.channels;
    denied chat.reply;
    pm voice.permissions;
BEGIN
    SELECT * INTO c FROM voice.channels WHERE id = p_channel FOR NO KEY UPDATE;
    denied := voice.permission_refusal(c, p_actor, p_admin, p_target, true);
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    pm := voice.permission_write(c, p_actor, p_target, p_flags);
    RETURN chat.ok(200, voice.permission_json(pm), voice.evict(c, p_actor, p_target));
END;
$$;

-- POST /api/voice-channel/permissions/bulk {channel_id, permissions: [{user_id,
-- flags?}...]}: all of them or, when one may not be written, none.
CREATE FUNCTION voice.permissions_bulk(p_channel uuid, p_actor uuid, p_admin boolean,
    p_list jsonb)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c voice.channels;
    denied chat.reply;
    e jsonb;
    written jsonb := '[]';
    events jsonb := '[]';
BEGIN
    SELECT * INTO c FROM voice.channels WHERE id = p_channel FOR NO KEY UPDATE;
    denied := voice.channel_access(c, p_actor, p_admin);
    FOR e IN SELECT value FROM jsonb_array_elements(p_list) LOOP
        EXIT WHEN denied.status IS NOT NULL;
        denied := voice.permission_refusal(c, p_actor, p_admin, (e->>'user_id')::uuid, true);
    END LOOP;
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    FOR e IN SELECT value FROM jsonb_array_elements(p_list) LOOP
        written := written || jsonb_build_array(voice.permission_json(
            voice.permission_write(c, p_actor, (e->>'user_id')::uuid, e)));
        events := events || voice.evict(c, p_actor, (e->>'user_id')::uuid);
    END LOOP;
    RETURN chat.ok(200, written, events);
END;
$$;

-- DELETE /api/voice-channel/permission/delete?channel_id=&user_id=: the
-- user falls back to the defaults (and out of a private channel).
CREATE FUNCTION voice.permission_delete(p_channel uuid, p_actor uuid, p_admin boolean,
    p_target uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c voice.channels;
    denied chat.reply;
BEGIN
    SELECT * INTO c FROM voice.channels WHERE id = p_channel FOR NO KEY UPDATE;
    denied := voice.permission_refusal(c, p_actor, p_admin, p_target, false);
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    DELETE FROM voice.permissions WHERE channel_id = c.id AND user_id = p_target;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Permission not found');
    END IF;
    RETURN chat.ok(200, '{"message":"Permission deleted"}', voice.evict(c, p_actor, p_target));
END;
$$;

-- Why p_user may not do p_action in channel c, in the words of the
-- reference's check, or NULL. The same rules the routes enforce.
CREATE FUNCTION voice.action_denial(c voice.channels, p_user uuid, p_admin boolean,
    p_action text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN NOT x.member AND (p_action IN ('join', 'speak') OR NOT p_admin) THEN
            'not a room member'
        WHEN p_action = 'join' THEN coalesce(voice.join_denial(c, p_user, p_admin),
            CASE WHEN NOT EXISTS (SELECT 1 FROM voice.participants p
                                  WHERE p.channel_id = c.id AND p.user_id = p_user)
                  AND voice.participant_count(c.id) >= c.max_participants THEN
                'channel is full' END)
        WHEN p_action = 'speak' THEN CASE
            WHEN (x.pm).can_speak = false THEN 'explicitly denied'
            WHEN EXISTS (SELECT 1 FROM voice.participants p WHERE p.channel_id = c.id
                         AND p.user_id = p_user AND p.is_server_muted) THEN 'server muted' END
        WHEN x.rank >= 2 THEN NULL
        WHEN p_action = 'mute_others' AND NOT coalesce((x.pm).can_mute_others, false) THEN
            'no mute permission'
        WHEN p_action = 'deafen_others' AND NOT coalesce((x.pm).can_deafen_others, false) THEN
            'no deafen permission'
        WHEN p_action = 'move_users' AND NOT coalesce((x.pm).can_move_users, false) THEN
            'no move permission'
    END
    FROM (SELECT chat.member_role(c.room_id, p_user) IS NOT NULL AS member,
                 chat.actor_rank(c.room_id, p_user, p_admin) AS rank,
                 voice.permission_of(c.id, p_user) AS pm) x;
$$;

-- GET /api/voice-channel/permission/check?channel_id=&action=: whether the
-- caller may join, speak, mute_others, deafen_others or move_users (voiced
-- checked the action) → {action, allowed, channel_id, reason, user_id}. A
-- public room's non-member learns "not a room member"; a private room's, 404.
CREATE FUNCTION voice.permission_check(p_channel uuid, p_user uuid, p_admin boolean,
    p_action text)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN (x.c).id IS NULL
             OR (chat.room_access((x.c).room_id, p_user, p_admin, '')).status = 404 THEN
            chat.err(404, 'not_found', 'Voice channel not found')
        ELSE chat.ok(200, jsonb_build_object('action', p_action, 'allowed', d.why IS NULL,
            'channel_id', (x.c).id, 'reason', coalesce(d.why, 'allowed'), 'user_id', p_user))
    END
    FROM (SELECT (SELECT c FROM voice.channels c WHERE c.id = p_channel) AS c) x,
         LATERAL (SELECT voice.action_denial(x.c, p_user, p_admin, p_action) AS why) d;
$$;
