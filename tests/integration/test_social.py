"""Blocks and friendships (reference §1.14 blocks, §1.15 connections):
every route's success and error paths; what a block does (it ends any
request or friendship, refuses friend requests and direct messages both
ways until it is lifted, and keeps the blocked author's mentions from the
blocker); allow_friend_requests refusing requests; and requests crossing or
racing a block at the same moment."""

import threading

from authlib import client_ip  # noqa: F401  (autouse: one client address per test)
from authlib import assert_401, assert_error, get, pg_exec, pg_rows, post, request
from chatlib import real_user, room_with, send
from stacklib import RFC3339_RE

NO_SUCH = "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"
BLOCK_KEYS = {"blocker_id", "blocked_id", "username", "reason", "created_at"}
BLOCK_ROW_KEYS = {"blocked_id", "username", "display_name", "avatar_url", "reason", "created_at"}
CONN_KEYS = {"user_id", "connected_user_id", "status", "direction", "created_at",
             "updated_at", "user"}


def block(stack, u, target_id, reason=None, path="/api/block", key="blocked_id"):
    body = {key: target_id}
    if reason is not None:
        body["reason"] = reason
    return post(stack, path, body, token=u.token)


def unblock(stack, u, target_id):
    return request(stack, "DELETE", "/api/block/unblock", token=u.token,
                   params={"blocked_id": target_id})


def is_blocked(stack, u, target_id):
    r = get(stack, "/api/block/check", token=u.token, params={"user_id": target_id})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"is_blocked"}, r.text
    return r.json()["is_blocked"]


def conn(stack, u, action, peer_id):
    """POST /api/connections/<action> {connected_user_id}."""
    return post(stack, f"/api/connections/{action}", {"connected_user_id": peer_id},
                token=u.token)


def conn_status(stack, u, peer_id):
    r = get(stack, "/api/connections/status", token=u.token, params={"user_id": peer_id})
    assert r.status_code == 200, r.text
    return r.json()


def conn_list(stack, u, path="/api/connections", **params):
    """A list route's {"connections", "total"}, checked; the connections."""
    r = get(stack, path, token=u.token, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"connections", "total"}, body
    assert body["total"] == len(body["connections"]), body
    for c in body["connections"]:
        assert_conn(c, u.id)
    return body["connections"]


def assert_conn(c, me, peer=None, status=None, direction=None):
    """The connection object, as seen by me."""
    assert set(c) == CONN_KEYS, c
    assert c["user_id"] == me, c
    assert RFC3339_RE.match(c["created_at"]) and RFC3339_RE.match(c["updated_at"]), c
    assert set(c["user"]) == {"id", "username", "display_name", "avatar_url"}, c
    assert c["user"]["id"] == c["connected_user_id"], c
    if peer is not None:
        assert c["connected_user_id"] == peer.id and c["user"]["username"] == peer.username, c
    if status is not None:
        assert (c["status"], c["direction"]) == (status, direction), c
    return c


def pair_rows(stack, a, b):
    """The chat.connections rows of the pair, as (requester, status)."""
    return pg_rows(stack, "SELECT user_id::text, status FROM chat.connections"
                   " WHERE (user_id, peer_id) IN ((%s, %s), (%s, %s))", (a.id, b.id, b.id, a.id))


def dm(stack, sender, receiver, content="hi"):
    return post(stack, "/api/dm/send", {"receiver_id": receiver.id, "content": content},
                token=sender.token)


def friends(stack, a, b):
    """Makes a and b friends through the routes."""
    assert conn(stack, a, "request", b.id).status_code == 201
    assert conn(stack, b, "accept", a.id).status_code == 200


# ------------------------------------------------------------ blocks

def test_block_list_check_blocked_by_unblock(stack):
    alice, bob, carol = real_user(stack), real_user(stack), real_user(stack)
    r = block(stack, alice, bob.id, "spam, mostly")
    assert r.status_code == 201, r.text
    b = r.json()
    assert set(b) == BLOCK_KEYS, b
    assert (b["blocker_id"], b["blocked_id"], b["username"], b["reason"]) == \
        (alice.id, bob.id, bob.username, "spam, mostly")
    assert RFC3339_RE.match(b["created_at"]), b
    assert_error(block(stack, alice, bob.id), 409, "conflict")
    r = block(stack, alice, carol.id.upper())      # any case; no reason
    assert r.status_code == 201 and r.json()["reason"] == "", r.text

    r = get(stack, "/api/block/list", token=alice.token)
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [x["blocked_id"] for x in rows] == [carol.id, bob.id], rows      # newest first
    assert all(set(x) == BLOCK_ROW_KEYS for x in rows), rows
    assert rows[1]["username"] == bob.username and rows[1]["reason"] == "spam, mostly"
    assert rows[1]["display_name"] == bob.username and rows[1]["avatar_url"] == ""

    assert is_blocked(stack, alice, bob.id) is True
    assert is_blocked(stack, bob, alice.id) is False      # check never says who blocked you
    assert is_blocked(stack, alice, NO_SUCH) is False
    r = get(stack, "/api/block/blocked-by", token=bob.token)
    assert r.status_code == 200, r.text
    by = r.json()
    assert len(by) == 1 and set(by[0]) == {"user_id", "username", "created_at"}, by
    assert (by[0]["user_id"], by[0]["username"]) == (alice.id, alice.username)
    assert get(stack, "/api/block/blocked-by", token=alice.token).json() == []

    r = unblock(stack, alice, bob.id)
    assert r.status_code == 200 and r.json() == {"status": "unblocked"}, r.text
    assert_error(unblock(stack, alice, bob.id), 404, "not_found")
    assert_error(unblock(stack, bob, alice.id), 404, "not_found")
    assert is_blocked(stack, alice, bob.id) is False
    assert [x["blocked_id"] for x in get(stack, "/api/block/list", token=alice.token).json()] \
        == [carol.id]
    assert get(stack, "/api/block/blocked-by", token=bob.token).json() == []


def test_block_rejects_bad_input(stack):
    alice, bob = real_user(stack), real_user(stack)
    assert_error(block(stack, alice, alice.id), 400, "invalid_request",
                 "Cannot block yourself")
    assert_error(block(stack, alice, NO_SUCH), 404, "not_found")
    for bad in ({}, {"blocked_id": "nope"}, {"blocked_id": 7}, {"blocked_id": None},
                {"blocked_id": bob.id, "reason": 5}, {"blocked_id": bob.id, "reason": "x" * 256},
                {"blocked_id": bob.id, "reason": "bell\x07"},
                {"blocked_id": bob.id, "reason": "two\nlines"}):
        assert_error(post(stack, "/api/block", bad, token=alice.token), 400, "invalid_request")
    for raw in (b"not json", b"[]", b'{"blocked_id":"' + bob.id.encode() + b'","reason":"\xff"}',
                b'{"blocked_id":"' + bob.id.encode() + b'","reason":"\\ud800"}'):
        r = post(stack, "/api/block", raw, token=alice.token,
                 headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.status_code, r.text)
    assert pg_rows(stack, "SELECT count(*) FROM chat.blocks WHERE blocker_id = %s",
                   (alice.id,)) == [(0,)]
    r = block(stack, alice, bob.id, "é" * 255)    # 255 characters, 510 bytes
    assert r.status_code == 201 and r.json()["reason"] == "é" * 255, r.text

    for params in ({}, {"blocked_id": "x"}, {"blocked_id": bob.id[:-1]}):
        r = request(stack, "DELETE", "/api/block/unblock", token=alice.token, params=params)
        assert r.status_code == 400, r.text
    for params in ({}, {"user_id": "'; DROP TABLE chat.blocks; --"}):
        r = get(stack, "/api/block/check", token=alice.token, params=params)
        assert r.status_code == 400, r.text
    for method, path in (("POST", "/api/block"), ("DELETE", "/api/block/unblock"),
                         ("GET", "/api/block/list"), ("GET", "/api/block/check"),
                         ("GET", "/api/block/blocked-by")):
        assert_401(request(stack, method, path), "unauthorized")
    assert request(stack, "PUT", "/api/block", token=alice.token).status_code == 405


def test_block_ends_friendship_and_requests(stack):
    alice, bob, carol, dave = (real_user(stack) for _ in range(4))
    friends(stack, alice, bob)
    assert block(stack, bob, alice.id).status_code == 201
    assert pair_rows(stack, alice, bob) == []
    assert conn_status(stack, alice, bob.id) == {"status": "none"}
    assert conn_list(stack, alice) == []
    # A pending request, either way, goes too.
    assert conn(stack, alice, "request", carol.id).status_code == 201
    assert block(stack, carol, alice.id).status_code == 201
    assert pair_rows(stack, alice, carol) == []
    assert conn(stack, alice, "request", dave.id).status_code == 201
    assert block(stack, alice, dave.id).status_code == 201
    assert pair_rows(stack, alice, dave) == []
    assert conn_list(stack, dave, "/api/connections/pending") == []


def test_block_refuses_requests_and_dms_both_ways_until_unblocked(stack):
    alice, bob = real_user(stack), real_user(stack)
    assert dm(stack, alice, bob).status_code == 200
    assert block(stack, alice, bob.id).status_code == 201
    assert_error(conn(stack, bob, "request", alice.id), 403, "blocked",
                 "You are blocked by this user")
    assert_error(conn(stack, alice, "request", bob.id), 403, "blocked",
                 "You have blocked this user")
    assert_error(dm(stack, bob, alice), 403, "blocked")
    assert_error(dm(stack, alice, bob), 403, "blocked")
    assert pair_rows(stack, alice, bob) == []
    assert unblock(stack, alice, bob.id).status_code == 200
    assert dm(stack, bob, alice).status_code == 200
    assert dm(stack, alice, bob).status_code == 200
    r = conn(stack, bob, "request", alice.id)
    assert r.status_code == 201, r.text
    assert_conn(r.json(), bob.id, alice, "pending", "outgoing")


def test_blocker_is_not_mentioned_by_the_blocked(stack):
    author, blocker, other = real_user(stack), real_user(stack), real_user(stack)
    room = room_with(stack, author, blocker, other)
    assert block(stack, blocker, author.id).status_code == 201

    def mentioned(m):
        return sorted(u for (u,) in pg_rows(
            stack, "SELECT user_id::text FROM chat.mentions WHERE message_id = %s", (m["id"],)))

    def notified(m):
        return sorted(u for (u,) in pg_rows(
            stack, "SELECT user_id::text FROM chat.notifications WHERE data->>'message_id' = %s",
            (m["id"],)))

    m = send(stack, author.token, room, f"@{blocker.username} @{other.username} look")
    assert mentioned(m) == [other.id] and notified(m) == [other.id]
    m = send(stack, author.token, room, "@all meeting")
    assert mentioned(m) == [other.id] and notified(m) == [other.id]
    # The blocker still mentions the author; a block is one-way.
    m = send(stack, blocker.token, room, f"@{author.username} hush")
    assert mentioned(m) == [author.id]
    assert unblock(stack, blocker, author.id).status_code == 200
    m = send(stack, author.token, room, f"@{blocker.username} again")
    assert mentioned(m) == [blocker.id] and notified(m) == [blocker.id]


# ------------------------------------------------------------ connections

def test_request_accept_list_remove(stack):
    alice, bob = real_user(stack), real_user(stack)
    assert conn_status(stack, alice, bob.id) == {"status": "none"}
    r = conn(stack, alice, "request", bob.id)
    assert r.status_code == 201, r.text
    assert_conn(r.json(), alice.id, bob, "pending", "outgoing")
    assert_error(conn(stack, alice, "request", bob.id), 409, "conflict",
                 "Friend request already sent")
    assert conn_status(stack, alice, bob.id) == {"status": "pending", "direction": "outgoing"}
    assert conn_status(stack, bob, alice.id) == {"status": "pending", "direction": "incoming"}

    sent = conn_list(stack, alice, "/api/connections/sent")
    assert [c["connected_user_id"] for c in sent] == [bob.id]
    assert conn_list(stack, alice, "/api/connections/pending") == []
    pending = conn_list(stack, bob, "/api/connections/pending")
    assert len(pending) == 1
    assert_conn(pending[0], bob.id, alice, "pending", "incoming")
    assert conn_list(stack, bob, "/api/connections/sent") == []
    assert [c["direction"] for c in conn_list(stack, bob, status="pending")] == ["incoming"]
    assert conn_list(stack, bob) == [] and conn_list(stack, bob, status="accepted") == []

    assert_error(conn(stack, alice, "accept", bob.id), 404, "not_found")   # her own request
    r = conn(stack, bob, "accept", alice.id)
    assert r.status_code == 200, r.text
    assert_conn(r.json(), bob.id, alice, "accepted", "mutual")
    assert_error(conn(stack, bob, "accept", alice.id), 404, "not_found")
    assert_error(conn(stack, bob, "request", alice.id), 409, "conflict", "You are already friends")
    for me, peer in ((alice, bob), (bob, alice)):
        assert conn_status(stack, me, peer.id) == {"status": "accepted", "direction": "mutual"}
        got = conn_list(stack, me)
        assert len(got) == 1
        assert_conn(got[0], me.id, peer, "accepted", "mutual")
        assert conn_list(stack, me, status="pending") == []

    r = conn(stack, bob, "remove", alice.id)
    assert r.status_code == 200 and r.json() == {"status": "removed"}, r.text
    assert_error(conn(stack, alice, "remove", bob.id), 404, "not_found")
    assert conn_status(stack, alice, bob.id) == {"status": "none"}
    assert pair_rows(stack, alice, bob) == []


def test_reject_and_withdraw(stack):
    alice, bob = real_user(stack), real_user(stack)
    assert conn(stack, alice, "request", bob.id).status_code == 201
    assert_error(conn(stack, bob, "remove", alice.id), 404, "not_found")   # reject it instead
    assert_error(conn(stack, alice, "reject", bob.id), 404, "not_found")   # not hers to reject
    r = conn(stack, bob, "reject", alice.id)
    assert r.status_code == 200 and r.json() == {"status": "rejected"}, r.text
    assert_error(conn(stack, bob, "reject", alice.id), 404, "not_found")
    assert conn_status(stack, alice, bob.id) == {"status": "none"}
    # Asked again, then withdrawn by the one who asked.
    assert conn(stack, alice, "request", bob.id).status_code == 201
    r = conn(stack, alice, "remove", bob.id)
    assert r.status_code == 200 and r.json() == {"status": "removed"}, r.text
    assert pair_rows(stack, alice, bob) == []
    assert_error(conn(stack, bob, "accept", alice.id), 404, "not_found")
    # Friends cannot be "rejected".
    friends(stack, alice, bob)
    assert_error(conn(stack, bob, "reject", alice.id), 404, "not_found")
    assert pair_rows(stack, alice, bob) == [(alice.id, "accepted")]


def test_request_to_someone_who_asked_accepts(stack):
    alice, bob = real_user(stack), real_user(stack)
    assert conn(stack, alice, "request", bob.id).status_code == 201
    r = conn(stack, bob, "request", alice.id)
    assert r.status_code == 201, r.text
    assert_conn(r.json(), bob.id, alice, "accepted", "mutual")
    assert pair_rows(stack, alice, bob) == [(alice.id, "accepted")]


def test_privacy_allow_friend_requests(stack):
    alice, closed, picky, friend = (real_user(stack) for _ in range(4))
    pg_exec(stack, "INSERT INTO chat.privacy (user_id, allow_friend_requests) VALUES (%s, 'none'),"
            " (%s, 'friends')", (closed.id, picky.id))
    assert_error(conn(stack, alice, "request", closed.id), 403, "not_allowed")
    assert_error(conn(stack, alice, "request", picky.id), 403, "not_allowed",
                 "This user only accepts this from friends")
    assert pair_rows(stack, alice, closed) == [] and pair_rows(stack, alice, picky) == []
    # Their own requests still go out, and asking back accepts them.
    assert conn(stack, closed, "request", alice.id).status_code == 201
    r = conn(stack, alice, "request", closed.id)
    assert r.status_code == 201 and r.json()["status"] == "accepted", r.text
    assert conn(stack, picky, "request", friend.id).status_code == 201
    assert conn(stack, friend, "accept", picky.id).status_code == 200
    assert_error(conn(stack, friend, "request", picky.id), 409, "conflict")


def test_connection_routes_reject_bad_input(stack):
    alice, bob = real_user(stack), real_user(stack)
    for action in ("request", "accept", "reject", "remove", "block"):
        path = f"/api/connections/{action}"
        for bad in ({}, {"connected_user_id": "zz"}, {"connected_user_id": 1},
                    {"blocked_id": bob.id}):
            assert_error(post(stack, path, bad, token=alice.token), 400, "invalid_request")
        r = post(stack, path, b"{", token=alice.token,
                 headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert_401(post(stack, path, {"connected_user_id": bob.id}), "unauthorized")
    assert_error(conn(stack, alice, "request", alice.id), 400, "invalid_request",
                 "Cannot send a friend request to yourself")
    assert_error(conn(stack, alice, "request", NO_SUCH), 404, "not_found")
    for action in ("accept", "reject", "remove"):
        assert_error(conn(stack, alice, action, NO_SUCH), 404, "not_found")
    for status in ("rejected", "blocked", "ACCEPTED", "x" * 40, "pending\x00"):
        assert_error(get(stack, "/api/connections", token=alice.token,
                         params={"status": status}), 400, "invalid_parameter")
    for params in ({}, {"user_id": "nope"}):
        r = get(stack, "/api/connections/status", token=alice.token, params=params)
        assert r.status_code == 400, r.text
    for path in ("/api/connections", "/api/connections/pending", "/api/connections/sent",
                 "/api/connections/status"):
        assert_401(get(stack, path), "unauthorized")


def test_connections_block_route(stack):
    alice, bob = real_user(stack), real_user(stack)
    friends(stack, alice, bob)
    r = block(stack, alice, bob.id, "enough", path="/api/connections/block",
              key="connected_user_id")
    assert r.status_code == 201, r.text
    assert set(r.json()) == BLOCK_KEYS and r.json()["reason"] == "enough", r.text
    assert pair_rows(stack, alice, bob) == []
    assert is_blocked(stack, alice, bob.id) is True
    assert_error(block(stack, alice, bob.id, path="/api/connections/block",
                       key="connected_user_id"), 409, "conflict")
    assert_error(block(stack, alice, bob.id, "\x1b[2J", path="/api/connections/block",
                       key="connected_user_id"), 400, "invalid_request")
    assert_error(block(stack, alice, alice.id, path="/api/connections/block",
                       key="connected_user_id"), 400, "invalid_request")


# ------------------------------------------------------------ races

def at_once(*calls):
    """Runs the calls on threads released together; their responses."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, fn):
        barrier.wait()
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_crossing_requests_make_one_friendship(stack):
    users = [real_user(stack) for _ in range(6)]
    for a, b in zip(users[0::2], users[1::2]):
        ra, rb = at_once(lambda: conn(stack, a, "request", b.id),
                         lambda: conn(stack, b, "request", a.id))
        assert (ra.status_code, rb.status_code) == (201, 201), (ra.text, rb.text)
        assert sorted(r.json()["status"] for r in (ra, rb)) == ["accepted", "pending"]
        rows = pair_rows(stack, a, b)
        assert len(rows) == 1 and rows[0][1] == "accepted", rows
        assert conn_status(stack, a, b.id) == {"status": "accepted", "direction": "mutual"}


def test_request_racing_a_block_does_not_survive_it(stack):
    users = [real_user(stack) for _ in range(6)]
    for a, b in zip(users[0::2], users[1::2]):
        rq, rb = at_once(lambda: conn(stack, a, "request", b.id),
                         lambda: block(stack, b, a.id))
        assert rb.status_code == 201, rb.text
        assert rq.status_code in (201, 403), rq.text
        assert pair_rows(stack, a, b) == []
