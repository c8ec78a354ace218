-- Blocks and friendships (connections): the functions behind
-- chatd/blocks.c and chatd/connections.c, over the tables of 006_dm.sql,
-- and room mentions that skip a user who blocked the author.
--
-- A block is one-way (blocker_id does not want to hear from blocked_id)
-- but refuses in both directions where two users would meet: direct
-- messages and friend requests (chat.reach_refusal), and it ends any
-- request or friendship between the two. A friendship is one row of
-- chat.connections per pair, user_id the one who asked; 'pending' until
-- peer_id accepts.
--
-- Every change to what two users are to each other (block, unblock,
-- request, accept, reject, remove) first takes chat.pair_lock, a
-- transaction-scoped advisory lock on the unordered pair. Each statement of
-- these (volatile, READ COMMITTED) functions takes a new snapshot, so once
-- the lock is held they see every earlier change of the pair committed:
-- two requests crossing make one friendship, and a request racing a block
-- cannot outlive it. There is no row to lock instead: a pair has none until
-- it has a connection or a block.

-- ------------------------------------------------------------ helpers

-- Serialises the changes of the pair {p_a, p_b} until the transaction
-- ends. The two-key form keeps clear of the one-key advisory locks of
-- migrations and registration.
CREATE FUNCTION chat.pair_lock(p_a uuid, p_b uuid) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('enclavr.chat.pair'),
        hashtext(least(p_a, p_b)::text || greatest(p_a, p_b)::text));
$$;

-- The public face of a user: {id, username, display_name, avatar_url},
-- empty strings when unknown to the directory.
CREATE FUNCTION chat.user_brief_json(p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p_user, 'username', coalesce(d.username, ''),
        'display_name', coalesce(d.display_name, ''),
        'avatar_url', coalesce(d.avatar_url, ''))
    FROM (SELECT 1) one LEFT JOIN auth.directory d ON d.id = p_user;
$$;

-- Why p_user may not name p_target in a pair-changing route, or NULL:
-- oneself is 400, a user the directory does not know 404 (p_what names it).
CREATE FUNCTION chat.pair_refusal(p_user uuid, p_target uuid, p_what text)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_user = p_target THEN
            chat.err(400, 'invalid_request', 'Cannot ' || p_what || ' yourself')
        WHEN NOT EXISTS (SELECT 1 FROM auth.directory WHERE id = p_target) THEN
            chat.err(404, 'not_found', 'User not found')
    END;
$$;

-- ------------------------------------------------------------ blocks

-- BlockResponse: {blocker_id, blocked_id, username (the blocked user's),
-- reason, created_at}. The reference's "id" is left out: a block is named
-- by its pair.
CREATE FUNCTION chat.block_json(b chat.blocks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('blocker_id', b.blocker_id, 'blocked_id', b.blocked_id,
        'username', chat.username_or_empty(b.blocked_id), 'reason', b.reason,
        'created_at', chat.rfc3339(b.created_at));
$$;

-- POST /api/block {blocked_id, reason?} and POST /api/connections/block
-- {connected_user_id}: 201 with the block; it deletes any request or
-- friendship of the pair in the same transaction. 409 when already blocked.
CREATE FUNCTION chat.block_add(p_blocked uuid, p_user uuid, p_reason text)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := chat.pair_refusal(p_user, p_blocked, 'block');
    b chat.blocks;
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    PERFORM chat.pair_lock(p_user, p_blocked);
    INSERT INTO chat.blocks (blocker_id, blocked_id, reason)
    VALUES (p_user, p_blocked, coalesce(p_reason, ''))
    ON CONFLICT DO NOTHING RETURNING * INTO b;
    IF b.blocker_id IS NULL THEN
        RETURN chat.err(409, 'conflict', 'User is already blocked');
    END IF;
    DELETE FROM chat.connections
    WHERE (user_id, peer_id) IN ((p_user, p_blocked), (p_blocked, p_user));
    RETURN chat.ok(201, chat.block_json(b));
END;
$$;

-- DELETE /api/block/unblock?blocked_id=: {"status":"unblocked"}; 404 when
-- the caller has not blocked that user.
CREATE FUNCTION chat.block_remove(p_blocked uuid, p_user uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chat.pair_lock(p_user, p_blocked);
    DELETE FROM chat.blocks WHERE blocker_id = p_user AND blocked_id = p_blocked;
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'User is not blocked');
    END IF;
    RETURN chat.ok(200, '{"status":"unblocked"}');
END;
$$;

-- GET /api/block/list: the users the caller blocked, newest first.
CREATE FUNCTION chat.block_list(p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok_list(jsonb_agg(jsonb_build_object('blocked_id', b.blocked_id,
            'username', coalesce(d.username, ''),
            'display_name', coalesce(d.display_name, ''),
            'avatar_url', coalesce(d.avatar_url, ''), 'reason', b.reason,
            'created_at', chat.rfc3339(b.created_at))
        ORDER BY b.created_at DESC, b.blocked_id))
    FROM chat.blocks b LEFT JOIN auth.directory d ON d.id = b.blocked_id
    WHERE b.blocker_id = p_user;
$$;

-- GET /api/block/check?user_id=: whether the caller blocked that user
-- (never whether that user blocked the caller).
CREATE FUNCTION chat.block_check(p_target uuid, p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok(200, jsonb_build_object('is_blocked', EXISTS (
        SELECT 1 FROM chat.blocks WHERE blocker_id = p_user AND blocked_id = p_target)));
$$;

-- GET /api/block/blocked-by: who blocked the caller, newest first, without
-- their reasons.
CREATE FUNCTION chat.blocked_by(p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok_list(jsonb_agg(jsonb_build_object('user_id', b.blocker_id,
            'username', chat.username_or_empty(b.blocker_id),
            'created_at', chat.rfc3339(b.created_at))
        ORDER BY b.created_at DESC, b.blocker_id))
    FROM chat.blocks b WHERE b.blocked_id = p_user;
$$;

-- ------------------------------------------------------------ connections

-- The direction of connection c seen by p_viewer: mutual once accepted,
-- else outgoing for the one who asked and incoming for the other.
CREATE FUNCTION chat.connection_direction(c chat.connections, p_viewer uuid)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN c.status = 'accepted' THEN 'mutual'
        WHEN c.user_id = p_viewer THEN 'outgoing' ELSE 'incoming' END;
$$;

-- A connection seen by p_viewer, one of its two users: {user_id (the
-- viewer), connected_user_id, status, direction, created_at, updated_at,
-- user (the other one's brief)}.
CREATE FUNCTION chat.connection_json(c chat.connections, p_viewer uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('user_id', p_viewer, 'connected_user_id', o.id,
        'status', c.status, 'direction', chat.connection_direction(c, p_viewer),
        'created_at', chat.rfc3339(c.created_at), 'updated_at', chat.rfc3339(c.updated_at),
        'user', chat.user_brief_json(o.id))
    FROM (SELECT CASE WHEN c.user_id = p_viewer THEN c.peer_id ELSE c.user_id END AS id) o;
$$;

-- POST /api/connections/request {connected_user_id}: 201 with the new
-- pending request. When p_peer has already asked the caller, that request
-- is accepted instead (201, accepted). 409 when a request or friendship
-- exists; 403 when blocked either way or p_peer's allow_friend_requests
-- refuses the caller.
CREATE FUNCTION chat.connection_request(p_peer uuid, p_user uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    denied chat.reply := chat.pair_refusal(p_user, p_peer, 'send a friend request to');
    c chat.connections;
BEGIN
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    PERFORM chat.pair_lock(p_user, p_peer);
    SELECT * INTO c FROM chat.connections
    WHERE (user_id, peer_id) IN ((p_user, p_peer), (p_peer, p_user));
    IF c.status = 'pending' AND c.user_id = p_peer THEN
        UPDATE chat.connections SET status = 'accepted', updated_at = now()
        WHERE user_id = p_peer AND peer_id = p_user RETURNING * INTO c;
        RETURN chat.ok(201, chat.connection_json(c, p_user));
    ELSIF c.status = 'accepted' THEN
        RETURN chat.err(409, 'conflict', 'You are already friends');
    ELSIF c.status = 'pending' THEN
        RETURN chat.err(409, 'conflict', 'Friend request already sent');
    END IF;
    denied := chat.reach_refusal(p_user, p_peer, 'allow_friend_requests');
    IF denied.status IS NOT NULL THEN
        RETURN denied;
    END IF;
    INSERT INTO chat.connections (user_id, peer_id) VALUES (p_user, p_peer) RETURNING * INTO c;
    RETURN chat.ok(201, chat.connection_json(c, p_user));
END;
$$;

-- POST /api/connections/accept {connected_user_id}: accepts the pending
-- request p_peer sent the caller; 404 when there is none.
CREATE FUNCTION chat.connection_accept(p_peer uuid, p_user uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
DECLARE
    c chat.connections;
BEGIN
    PERFORM chat.pair_lock(p_user, p_peer);
    UPDATE chat.connections SET status = 'accepted', updated_at = now()
    WHERE user_id = p_peer AND peer_id = p_user AND status = 'pending'
    RETURNING * INTO c;
    IF c.user_id IS NULL THEN
        RETURN chat.err(404, 'not_found', 'No pending friend request from this user');
    END IF;
    RETURN chat.ok(200, chat.connection_json(c, p_user));
END;
$$;

-- POST /api/connections/reject {connected_user_id}: deletes the pending
-- request p_peer sent the caller; 404 when there is none.
CREATE FUNCTION chat.connection_reject(p_peer uuid, p_user uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chat.pair_lock(p_user, p_peer);
    DELETE FROM chat.connections
    WHERE user_id = p_peer AND peer_id = p_user AND status = 'pending';
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'No pending friend request from this user');
    END IF;
    RETURN chat.ok(200, '{"status":"rejected"}');
END;
$$;

-- POST /api/connections/remove {connected_user_id}: ends a friendship
-- with p_peer or withdraws the caller's own pending request to p_peer (an
-- incoming request is rejected, not removed); 404 otherwise.
CREATE FUNCTION chat.connection_remove(p_peer uuid, p_user uuid)
RETURNS chat.reply LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chat.pair_lock(p_user, p_peer);
    DELETE FROM chat.connections
    WHERE ((user_id, peer_id) IN ((p_user, p_peer), (p_peer, p_user)) AND status = 'accepted')
       OR (user_id = p_user AND peer_id = p_peer AND status = 'pending');
    IF NOT FOUND THEN
        RETURN chat.err(404, 'not_found', 'Connection not found');
    END IF;
    RETURN chat.ok(200, '{"status":"removed"}');
END;
$$;

-- GET /api/connections?status=, /pending, /sent: the caller's connections
-- of p_status ('accepted' or 'pending'), of p_direction ('incoming',
-- 'outgoing', or NULL for both), the latest change first, as
-- {"connections":[...],"total":n}.
CREATE FUNCTION chat.connections_of(p_user uuid, p_status text, p_direction text)
RETURNS chat.reply LANGUAGE sql STABLE AS $$
    SELECT chat.ok(200, jsonb_build_object(
        'connections', coalesce(jsonb_agg(chat.connection_json(c, p_user)
            ORDER BY c.updated_at DESC, c.user_id, c.peer_id), '[]'),
        'total', count(*)))
    FROM chat.connections c
    WHERE p_user IN (c.user_id, c.peer_id) AND c.status = p_status
      AND (p_direction IS NULL OR chat.connection_direction(c, p_user) = p_direction);
$$;

-- GET /api/connections/status?user_id=: {"status":"none"}, or the status
-- and direction of the caller's connection with that user.
CREATE FUNCTION chat.connection_status(p_peer uuid, p_user uuid) RETURNS chat.reply
LANGUAGE sql STABLE AS $$
    SELECT chat.ok(200, coalesce((SELECT jsonb_build_object('status', c.status,
            'direction', chat.connection_direction(c, p_user))
        FROM chat.connections c
        WHERE (c.user_id, c.peer_id) IN ((p_user, p_peer), (p_peer, p_user))),
        '{"status":"none"}'));
$$;
