"""Direct messages between two users (reference §1.9, §2.4, with its BUGs
fixed): send (content validated like room messages and stored exactly as
written), blocks and privacy checked on every message, the conversation
list (latest message, unread counts, pages), history with cursor pages
(deleted messages without their content), edit and delete by the sender
only (a non-participant gets 404), reactions, read receipts, and the
events each write leaves in chat.conversation_events (seq 1, 2, 3...)."""

import threading

from authlib import client_ip  # noqa: F401  (autouse: one client address per test)
from authlib import assert_error, get, pg_exec, pg_rows, post, put, request
from chatlib import real_user, token_user
from stacklib import RFC3339_RE, UUID4_RE

NO_SUCH = "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"
EMOJI = "\U0001F600"  # 4 bytes in UTF-8
DM_KEYS = {"id", "conversation_id", "sender_id", "receiver_id", "content", "is_edited",
           "is_deleted", "created_at", "updated_at", "seq", "sender", "receiver"}
USER9_KEYS = {"id", "username", "email", "display_name", "avatar_url", "is_admin",
              "email_verified", "two_factor_enabled", "password_expired"}
CONV_KEYS = {"conversation_id", "user_id", "username", "display_name", "avatar_url",
             "last_message", "last_message_id", "last_sender_id", "last_time", "unread_count"}
REACTION_KEYS = {"id", "direct_message_id", "message_id", "user_id", "username", "emoji",
                 "created_at"}
ENVELOPE_KEYS = {"type", "conversation_id", "user_id", "target_user_id", "payload",
                 "timestamp", "seq"}
STATUS_KEYS = {"peer_id", "conversation_id", "unread_count", "last_read_seq", "read_at",
               "peer_last_read_seq", "peer_read_at", "peer_last_read_message_id"}


# ------------------------------------------------------------ requests

def send_raw(stack, token, body):
    return post(stack, "/api/dm/send", body, token=token)


def send(stack, sender, receiver, content="hello"):
    """POST /api/dm/send from sender to receiver (ChatUsers), asserting 200
    and the shape; returns the message."""
    r = send_raw(stack, sender.token, {"receiver_id": receiver.id, "content": content})
    assert r.status_code == 200, f"dm send: {r.status_code} {r.text[:300]}"
    m = assert_dm(stack, r.json(), sender, receiver)
    assert m["content"] == content
    return m


def conversations(stack, token, **params):
    return get(stack, "/api/dm/conversations", token=token, params=params)


def conv_list(stack, user, **params):
    r = conversations(stack, user.token, **params)
    assert r.status_code == 200, f"conversations: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert isinstance(body, list), body
    for c in body:
        assert set(c) == CONV_KEYS, f"conversation keys: {sorted(c)}"
        assert RFC3339_RE.match(c["last_time"]), c
        assert isinstance(c["unread_count"], int) and not isinstance(c["unread_count"], bool)
    return body


def conv_with(stack, user, peer):
    """The row of user's conversation list for peer."""
    rows = [c for c in conv_list(stack, user) if c["user_id"] == peer.id]
    assert len(rows) == 1, rows
    return rows[0]


def history(stack, token, peer_id, **params):
    return get(stack, "/api/dm/messages", token=token, params={"user_id": peer_id, **params})


def ids(resp):
    assert resp.status_code == 200, f"{resp.status_code} {resp.text[:300]}"
    body = resp.json()
    assert isinstance(body, list), body
    return [m["id"] for m in body]


def update(stack, token, message_id, content):
    return put(stack, "/api/dm/update", {"message_id": message_id, "content": content},
               token=token)


def delete(stack, token, message_id):
    return request(stack, "DELETE", "/api/dm/delete", {"message_id": message_id}, token=token)


def react(stack, token, message_id, emoji):
    return post(stack, "/api/dm/reaction/add", {"message_id": message_id, "emoji": emoji},
                token=token)


def unreact(stack, token, message_id, emoji):
    return request(stack, "DELETE", "/api/dm/reaction/remove", token=token,
                   params={"message_id": message_id, "emoji": emoji})


def reactions(stack, token, message_id):
    return get(stack, "/api/dm/reactions", token=token, params={"message_id": message_id})


def read(stack, token, message_id):
    return post(stack, "/api/dm/read", {"message_id": message_id}, token=token)


def read_all(stack, token, peer_id):
    return post(stack, "/api/dm/read/all", token=token, params={"peer_id": peer_id})


def read_status(stack, token, peer_id):
    return get(stack, "/api/dm/read/status", token=token, params={"peer_id": peer_id})


# ------------------------------------------------------------ shapes and rows

def directory(stack, user_id):
    rows = pg_rows(stack, "SELECT username, display_name, avatar_url FROM auth.directory"
                   " WHERE id = %s", (user_id,))
    assert len(rows) == 1, rows
    return rows[0]


def assert_user9(stack, u, user):
    """The reference's 9-field user shape of ChatUser user: what chat may
    show (no email, flags false)."""
    assert set(u) == USER9_KEYS, f"user keys: {sorted(u)}"
    username, display_name, avatar_url = directory(stack, user.id)
    assert u == {"id": user.id, "username": user.username, "email": "",
                 "display_name": display_name or "", "avatar_url": avatar_url or "",
                 "is_admin": False, "email_verified": False, "two_factor_enabled": False,
                 "password_expired": False}, u
    assert username == user.username


def assert_dm(stack, m, sender, receiver):
    """DirectMessageResponse with conversation_id and seq, sender and
    receiver the right way round."""
    assert set(m) == DM_KEYS, f"dm keys: {sorted(m)}"
    assert UUID4_RE.match(m["id"]) and UUID4_RE.match(m["conversation_id"]), m
    assert RFC3339_RE.match(m["created_at"]) and RFC3339_RE.match(m["updated_at"]), m
    assert m["updated_at"] >= m["created_at"], m
    assert isinstance(m["seq"], int) and not isinstance(m["seq"], bool) and m["seq"] > 0, m
    for k in ("is_edited", "is_deleted"):
        assert isinstance(m[k], bool), (k, m)
    assert isinstance(m["content"], str), m
    assert m["sender_id"] == sender.id and m["receiver_id"] == receiver.id, m
    assert_user9(stack, m["sender"], sender)
    assert_user9(stack, m["receiver"], receiver)
    return m


def conv_of(stack, a, b):
    """The id of the direct conversation of a and b, or None."""
    lo, hi = sorted((a.id, b.id))
    rows = pg_rows(stack, "SELECT id::text FROM chat.conversations WHERE kind = 'direct'"
                   " AND pair_lo = %s AND pair_hi = %s", (lo, hi))
    return rows[0][0] if rows else None


def events(stack, conv):
    """The envelopes of the conversation, checked: seq 1, 2, 3... without a
    gap, the conversation's last_seq the last, each envelope of the stored
    shape (no "to") with target_user_id the other user of the pair."""
    rows = pg_rows(stack, "SELECT seq, envelope FROM chat.conversation_events"
                   " WHERE conversation_id = %s ORDER BY seq", (conv,))
    assert [s for s, _ in rows] == list(range(1, len(rows) + 1)), [s for s, _ in rows]
    (lo, hi, last_seq), = pg_rows(stack, "SELECT pair_lo::text, pair_hi::text, last_seq"
                                  " FROM chat.conversations WHERE id = %s", (conv,))
    assert last_seq == len(rows), (last_seq, len(rows))
    envs = []
    for seq, env in rows:
        assert set(env) == ENVELOPE_KEYS, f"envelope keys: {sorted(env)}"
        assert "to" not in env
        assert env["seq"] == seq and env["conversation_id"] == conv, env
        assert env["user_id"] in (lo, hi), env
        assert env["target_user_id"] == (hi if env["user_id"] == lo else lo), env
        assert RFC3339_RE.match(env["timestamp"]), env
        envs.append(env)
    return envs


def event_types(stack, conv):
    return [e["type"] for e in events(stack, conv)]


def event_count(stack, conv):
    return pg_rows(stack, "SELECT count(*) FROM chat.conversation_events"
                   " WHERE conversation_id = %s", (conv,))[0][0]


def dm_count(stack, *users):
    """Messages sent by any of users."""
    return pg_rows(stack, "SELECT count(*) FROM chat.dm_messages WHERE sender_id::text = ANY(%s)",
                   ([u.id for u in users],))[0][0]


def conv_count(stack, *users):
    """Conversations any of users is a member of."""
    return pg_rows(stack, "SELECT count(DISTINCT conversation_id) FROM chat.conversation_members"
                   " WHERE user_id::text = ANY(%s)", ([u.id for u in users],))[0][0]


def block(stack, blocker, blocked):
    assert pg_exec(stack, "INSERT INTO chat.blocks (blocker_id, blocked_id) VALUES (%s, %s)",
                   (blocker.id, blocked.id)) == 1


def unblock(stack, blocker, blocked):
    assert pg_exec(stack, "DELETE FROM chat.blocks WHERE blocker_id = %s AND blocked_id = %s",
                   (blocker.id, blocked.id)) == 1


def set_privacy(stack, user, value):
    pg_exec(stack, "INSERT INTO chat.privacy (user_id, allow_direct_messages) VALUES (%s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET allow_direct_messages = excluded"
            ".allow_direct_messages", (user.id, value))


def connect(stack, a, b, status):
    """The one connection row of the pair: (a, b, status)."""
    pg_exec(stack, "DELETE FROM chat.connections WHERE (user_id, peer_id) IN"
            " ((%s, %s), (%s, %s))", (a.id, b.id, b.id, a.id))
    assert pg_exec(stack, "INSERT INTO chat.connections (user_id, peer_id, status)"
                   " VALUES (%s, %s, %s)", (a.id, b.id, status)) == 1


# ------------------------------------------------------------ send

def test_send_answers_message_and_emits_dm_message(stack):
    a, b = real_user(stack), real_user(stack)
    assert conv_of(stack, a, b) is None
    m = send(stack, a, b, "hello b")
    assert not m["is_edited"] and not m["is_deleted"] and m["seq"] == 1
    assert m["created_at"] == m["updated_at"]
    conv = m["conversation_id"]
    assert conv_of(stack, a, b) == conv
    rows = pg_rows(stack, "SELECT kind, created_by::text, last_seq FROM chat.conversations"
                   " WHERE id = %s", (conv,))
    assert rows == [("direct", a.id, 1)]
    members = pg_rows(stack, "SELECT user_id::text, kind FROM chat.conversation_members"
                      " WHERE conversation_id = %s ORDER BY user_id", (conv,))
    assert members == sorted([(a.id, "direct"), (b.id, "direct")])
    assert pg_rows(stack, "SELECT sender_id::text, content, seq FROM chat.dm_messages"
                   " WHERE id = %s", (m["id"],)) == [(a.id, "hello b", 1)]
    (env,) = events(stack, conv)
    assert env["type"] == "dm-message" and env["payload"] == m and env["seq"] == m["seq"]
    assert env["user_id"] == a.id and env["target_user_id"] == b.id

    # The reply: same conversation, sender and receiver the other way round.
    r = send(stack, b, a, "hello a")
    assert r["conversation_id"] == conv and r["seq"] == 2
    envs = events(stack, conv)
    assert [e["type"] for e in envs] == ["dm-message", "dm-message"]
    assert envs[1]["payload"] == r and envs[1]["user_id"] == b.id
    assert envs[1]["target_user_id"] == a.id
    # A second message of a: still one conversation.
    assert send(stack, a, b, "again")["conversation_id"] == conv
    assert conv_count(stack, a, b) == 1


def test_text_is_stored_exactly_as_written(stack):
    a, b = real_user(stack), real_user(stack)
    texts = ["line one\nline two\n\n  indented\tand a tab\n",
             "<script>alert('x')</script> <b>&amp; & \"quoted\" 'single'</b>",
             "é ü ß 中文 " + EMOJI + " \u200d\u2764\ufe0f",
             "  leading and trailing spaces  ",
             "x",
             EMOJI * 4000,
             "a" * 4000]
    sent = [send(stack, a, b, t) for t in texts]
    for m, t in zip(sent, texts):
        assert m["content"] == t
        assert pg_rows(stack, "SELECT content FROM chat.dm_messages WHERE id = %s",
                       (m["id"],)) == [(t,)]
    got = {m["id"]: m["content"] for m in history(stack, b.token, a.id).json()}
    assert got == {m["id"]: t for m, t in zip(sent, texts)}
    assert pg_rows(stack, "SELECT length(content), octet_length(content) FROM chat.dm_messages"
                   " WHERE id = %s", (sent[5]["id"],)) == [(4000, 16000)]
    assert conv_with(stack, b, a)["last_message"] == "a" * 4000


def test_bad_send_is_refused_and_nothing_written(stack):
    a, b = real_user(stack), real_user(stack)
    rid = b.id

    def refused(body, status, code, message=None):
        assert_error(send_raw(stack, a.token, body), status, code, message)

    for content in ("", "   ", "\n\t \n"):
        refused({"receiver_id": rid, "content": content}, 400, "invalid_request",
                "Message content cannot be empty")
    refused({"receiver_id": rid}, 400, "invalid_request", "Message content cannot be empty")
    refused({"receiver_id": rid, "content": None}, 400, "invalid_request",
            "Message content cannot be empty")
    for content in ("a" * 4001, EMOJI * 4001):
        refused({"receiver_id": rid, "content": content}, 400, "invalid_request",
                "message content exceeds maximum length")
    for content in ("a\x07b", "cr\rlf", "esc\x1b[0m", "del\x7f", "\x0b", "\x0c", "\x01"):
        refused({"receiver_id": rid, "content": content}, 400, "invalid_request",
                "message contains invalid characters")
    for content in (5, ["x"], {"a": 1}, True):
        refused({"receiver_id": rid, "content": content}, 400, "invalid_request",
                "content must be a string")
    refused({"content": "x"}, 400, "invalid_request", "receiver_id is required")
    refused({"receiver_id": "nope", "content": "x"}, 400, "invalid_request",
            "receiver_id must be a UUID")
    for bad in (7, None, [rid], {"id": rid}, True):
        refused({"receiver_id": bad, "content": "x"}, 400, "invalid_request")
    refused("not json", 400, "invalid_json")
    refused("[1,2]", 400, "invalid_json")
    r = send_raw(stack, a.token, '{"receiver_id":"%s","content":"a\\u0000b"}' % rid)
    assert r.status_code == 400, r.text
    r = send_raw(stack, a.token, b'{"receiver_id":"%s","content":"\xff\xfe"}' % rid.encode())
    assert r.status_code == 400, r.text
    refused({"receiver_id": a.id, "content": "me"}, 400, "invalid_request",
            "Cannot send message to yourself")
    # Upper case is the same user.
    refused({"receiver_id": a.id.upper(), "content": "me"}, 400, "invalid_request",
            "Cannot send message to yourself")
    refused({"receiver_id": NO_SUCH, "content": "x"}, 404, "not_found", "Receiver not found")
    # A user known only by a token (not in auth.directory) cannot receive.
    refused({"receiver_id": token_user(stack).id, "content": "x"}, 404, "not_found",
            "Receiver not found")
    assert dm_count(stack, a, b) == 0 and conv_count(stack, a, b) == 0
    # An upper-case receiver id is the same user.
    m = send(stack, a, b, "fine")
    r = send_raw(stack, a.token, {"receiver_id": b.id.upper(), "content": "upper"})
    assert r.status_code == 200, r.text
    assert r.json()["conversation_id"] == m["conversation_id"]


def test_routes_need_a_token(stack):
    for method, path in (("POST", "/api/dm/send"), ("GET", "/api/dm/conversations"),
                         ("GET", "/api/dm/messages"), ("PUT", "/api/dm/update"),
                         ("DELETE", "/api/dm/delete"), ("POST", "/api/dm/reaction/add"),
                         ("DELETE", "/api/dm/reaction/remove"), ("GET", "/api/dm/reactions"),
                         ("POST", "/api/dm/read"), ("POST", "/api/dm/read/all"),
                         ("GET", "/api/dm/read/status")):
        r = request(stack, method, path)
        assert r.status_code == 401, (method, path, r.status_code, r.text[:200])


def test_first_messages_sent_at_once_make_one_conversation(stack):
    for _ in range(3):
        a, b = real_user(stack), real_user(stack)
        barrier = threading.Barrier(2)
        out = {}

        def go(sender, receiver):
            try:
                barrier.wait(5)
                out[sender.id] = send_raw(stack, sender.token,
                                          {"receiver_id": receiver.id, "content": "hi!"})
            except Exception as e:  # noqa: BLE001
                out[sender.id] = e

        threads = [threading.Thread(target=go, args=(a, b)),
                   threading.Thread(target=go, args=(b, a))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        ra, rb = out[a.id], out[b.id]
        assert not isinstance(ra, Exception) and not isinstance(rb, Exception), (ra, rb)
        assert ra.status_code == 200 and rb.status_code == 200, (ra.text, rb.text)
        ma = assert_dm(stack, ra.json(), a, b)
        mb = assert_dm(stack, rb.json(), b, a)
        assert ma["conversation_id"] == mb["conversation_id"]
        assert sorted([ma["seq"], mb["seq"]]) == [1, 2]
        assert conv_count(stack, a, b) == 1
        conv = ma["conversation_id"]
        assert pg_rows(stack, "SELECT count(*) FROM chat.conversation_members"
                       " WHERE conversation_id = %s", (conv,)) == [(2,)]
        assert event_types(stack, conv) == ["dm-message", "dm-message"]
        assert len(conv_list(stack, a)) == 1 and len(conv_list(stack, b)) == 1


# ------------------------------------------------------------ blocks and privacy

def test_blocks_refuse_both_ways_and_write_nothing(stack):
    a, b = real_user(stack), real_user(stack)
    # Before any conversation: b blocked a.
    block(stack, b, a)
    assert_error(send_raw(stack, a.token, {"receiver_id": b.id, "content": "hi"}),
                 403, "blocked", "You are blocked by this user")
    # ... and b, the blocker, may not write to a either.
    assert_error(send_raw(stack, b.token, {"receiver_id": a.id, "content": "hi"}),
                 403, "blocked", "You have blocked this user")
    assert dm_count(stack, a, b) == 0 and conv_count(stack, a, b) == 0
    unblock(stack, b, a)
    m = send(stack, a, b, "unblocked")
    conv = m["conversation_id"]
    # Checked on every message, not only the first.
    block(stack, a, b)
    assert_error(send_raw(stack, a.token, {"receiver_id": b.id, "content": "x"}),
                 403, "blocked", "You have blocked this user")
    assert_error(send_raw(stack, b.token, {"receiver_id": a.id, "content": "x"}),
                 403, "blocked", "You are blocked by this user")
    # A block both ways.
    block(stack, b, a)
    assert_error(send_raw(stack, a.token, {"receiver_id": b.id, "content": "x"}), 403, "blocked")
    assert dm_count(stack, a, b) == 1 and event_count(stack, conv) == 1
    unblock(stack, a, b)
    unblock(stack, b, a)
    assert send(stack, b, a, "friends again")["seq"] == 2
    assert event_types(stack, conv) == ["dm-message", "dm-message"]


def test_privacy_none_and_friends(stack):
    a, b = real_user(stack), real_user(stack)
    set_privacy(stack, b, "none")
    assert_error(send_raw(stack, a.token, {"receiver_id": b.id, "content": "x"}),
                 403, "not_allowed")
    # b's own setting does not stop b from writing.
    m = send(stack, b, a, "from b")
    # ... but a cannot answer while b accepts nobody.
    assert_error(send_raw(stack, a.token, {"receiver_id": b.id, "content": "x"}),
                 403, "not_allowed")
    set_privacy(stack, b, "friends")
    assert_error(send_raw(stack, a.token, {"receiver_id": b.id, "content": "x"}),
                 403, "not_allowed", "This user only accepts this from friends")
    for x, y in ((a, b), (b, a)):
        connect(stack, x, y, "pending")
        assert_error(send_raw(stack, a.token, {"receiver_id": b.id, "content": "x"}),
                     403, "not_allowed")
    assert dm_count(stack, a) == 0
    connect(stack, a, b, "accepted")
    send(stack, a, b, "as a friend (a asked)")
    connect(stack, b, a, "accepted")
    send(stack, a, b, "as a friend (b asked)")
    pg_exec(stack, "DELETE FROM chat.connections WHERE user_id = %s", (b.id,))
    assert_error(send_raw(stack, a.token, {"receiver_id": b.id, "content": "x"}),
                 403, "not_allowed")
    set_privacy(stack, b, "everyone")
    send(stack, a, b, "to everyone")
    assert event_types(stack, m["conversation_id"]) == ["dm-message"] * 4


# ------------------------------------------------------------ conversations

def test_conversation_list_order_fields_and_last_message(stack):
    a, b, c, d = (real_user(stack) for _ in range(4))
    assert conv_list(stack, a) == []
    send(stack, a, b, "to b 1")
    send(stack, c, a, "from c 1")
    send(stack, a, d, "to d 1")
    b2 = send(stack, b, a, "from b 2")
    rows = conv_list(stack, a)
    assert [r["user_id"] for r in rows] == [b.id, d.id, c.id]
    rb = rows[0]
    username, display_name, avatar_url = directory(stack, b.id)
    assert rb == {"conversation_id": b2["conversation_id"], "user_id": b.id,
                  "username": b.username, "display_name": display_name or "",
                  "avatar_url": avatar_url or "", "last_message": "from b 2",
                  "last_message_id": b2["id"], "last_sender_id": b.id,
                  "last_time": b2["created_at"], "unread_count": 1}
    assert rows[1]["last_message"] == "to d 1" and rows[1]["unread_count"] == 0
    assert rows[1]["last_sender_id"] == a.id
    assert rows[2]["last_message"] == "from c 1" and rows[2]["unread_count"] == 1
    # The latest message, not the greatest text.
    b3 = send(stack, a, b, "aaa latest")
    assert conv_with(stack, a, b)["last_message"] == "aaa latest"
    # b sees a, once.
    rows_b = conv_list(stack, b)
    assert len(rows_b) == 1 and rows_b[0]["user_id"] == a.id
    assert rows_b[0]["username"] == a.username and rows_b[0]["last_message_id"] == b3["id"]
    # An edit shows the new content and keeps the order.
    assert update(stack, a.token, b3["id"], "edited text").status_code == 200
    row = conv_with(stack, b, a)
    assert row["last_message"] == "edited text" and row["last_message_id"] == b3["id"]
    assert [r["user_id"] for r in conv_list(stack, a)] == [b.id, d.id, c.id]
    # Deleting the latest falls back on the previous live message.
    assert delete(stack, a.token, b3["id"]).status_code == 200
    row = conv_with(stack, a, b)
    assert row["last_message"] == "from b 2" and row["last_message_id"] == b2["id"]
    assert row["last_sender_id"] == b.id and row["last_time"] == b2["created_at"]
    # No live message left: no content, no id.
    dm = conv_with(stack, a, d)
    assert delete(stack, a.token, dm["last_message_id"]).status_code == 200
    dm = conv_with(stack, a, d)
    assert dm["last_message"] == "" and dm["last_message_id"] is None
    assert dm["last_sender_id"] is None and RFC3339_RE.match(dm["last_time"])


def test_conversation_list_pages_and_bad_parameters(stack):
    a = real_user(stack)
    peers = [real_user(stack) for _ in range(5)]
    for p in peers:
        send(stack, p, a, f"from {p.username}")
    newest = [p.id for p in reversed(peers)]
    assert [r["user_id"] for r in conv_list(stack, a)] == newest
    seen, before = [], None
    for _ in range(10):
        params = {"limit": 2}
        if before:
            params["before"] = before
        page = conv_list(stack, a, **params)
        if not page:
            break
        assert len(page) <= 2
        seen.extend(r["user_id"] for r in page)
        before = page[-1]["conversation_id"]
    assert seen == newest
    assert [r["user_id"] for r in conv_list(stack, a, limit=1)] == newest[:1]
    assert [r["user_id"] for r in conv_list(stack, a, limit=200)] == newest
    for bad in ("0", "201", "-1", "abc", "5x", "1.5"):
        assert_error(conversations(stack, a.token, limit=bad), 400, "invalid_parameter")
    assert_error(conversations(stack, a.token, before="xyz"), 400, "invalid_parameter",
                 "Invalid before")
    assert_error(conversations(stack, a.token, before=NO_SUCH), 400, "invalid_parameter")
    # Another pair's conversation is no cursor of a's.
    other = send(stack, peers[0], peers[1], "between them")["conversation_id"]
    assert_error(conversations(stack, a.token, before=other), 400, "invalid_parameter")
    # The cursor is a conversation id, not a message id.
    mid = conv_list(stack, a)[0]["last_message_id"]
    assert_error(conversations(stack, a.token, before=mid), 400, "invalid_parameter")


def test_unread_counts(stack):
    a, b = real_user(stack), real_user(stack)
    m = [send(stack, a, b, f"m{i}") for i in range(4)]
    assert conv_with(stack, b, a)["unread_count"] == 4
    assert conv_with(stack, a, b)["unread_count"] == 0
    # Deleting an unread message: it no longer counts.
    assert delete(stack, a.token, m[3]["id"]).status_code == 200
    assert conv_with(stack, b, a)["unread_count"] == 3
    # Read up to m1: m2 is left.
    assert read(stack, b.token, m[1]["id"]).status_code == 200
    assert conv_with(stack, b, a)["unread_count"] == 1
    assert read_status(stack, b.token, a.id).json()["unread_count"] == 1
    m4 = send(stack, a, b, "m4")
    assert conv_with(stack, b, a)["unread_count"] == 2
    r = read_all(stack, b.token, a.id)
    assert r.status_code == 200 and r.json() == {"marked_count": 2, "status": "ok"}, r.text
    assert conv_with(stack, b, a)["unread_count"] == 0
    # Deleting a message already read changes nothing.
    assert delete(stack, a.token, m[0]["id"]).status_code == 200
    assert conv_with(stack, b, a)["unread_count"] == 0
    # Writing reads: b's reply clears b's count and adds one to a's.
    send(stack, a, b, "m5")
    assert conv_with(stack, b, a)["unread_count"] == 1
    reply = send(stack, b, a, "reply")
    assert conv_with(stack, b, a)["unread_count"] == 0
    assert conv_with(stack, a, b)["unread_count"] == 1
    assert read(stack, a.token, reply["id"]).status_code == 200
    assert conv_with(stack, a, b)["unread_count"] == 0
    # The counts agree with the messages.
    assert pg_rows(stack, "SELECT user_id::text, unread FROM chat.conversation_members"
                   " WHERE conversation_id = %s ORDER BY user_id", (m4["conversation_id"],)) \
        == sorted([(a.id, 0), (b.id, 0)])


# ------------------------------------------------------------ history

def test_history_newest_first_with_cursors(stack):
    a, b, c = real_user(stack), real_user(stack), real_user(stack)
    foreign = send(stack, b, c, "elsewhere")
    sent = []
    for i in range(7):
        x, y = (a, b) if i % 2 == 0 else (b, a)
        sent.append(send(stack, x, y, f"m{i}"))
    ids_sent = [m["id"] for m in sent]
    newest = ids_sent[::-1]
    assert ids(history(stack, a.token, b.id)) == newest
    assert ids(history(stack, b.token, a.id)) == newest
    # Every entry has sender and receiver the right way round.
    for m in history(stack, b.token, a.id).json():
        sender, receiver = (a, b) if m["sender_id"] == a.id else (b, a)
        assert_dm(stack, m, sender, receiver)
    assert history(stack, a.token, b.id).json()[-1] == sent[0]
    assert ids(history(stack, a.token, b.id, limit=3)) == newest[:3]
    assert ids(history(stack, a.token, b.id, limit=3, before=newest[2])) == newest[3:6]
    assert ids(history(stack, a.token, b.id, limit=3, before=newest[5])) == newest[6:]
    assert ids(history(stack, a.token, b.id, before=ids_sent[0])) == []
    assert ids(history(stack, a.token, b.id, limit=2, after=ids_sent[0])) == [ids_sent[2],
                                                                               ids_sent[1]]
    assert ids(history(stack, a.token, b.id, after=ids_sent[4])) == [ids_sent[6], ids_sent[5]]
    assert ids(history(stack, a.token, b.id, after=ids_sent[6])) == []
    # Paging backwards and forwards: each message once, none skipped.
    back, before = [], None
    for _ in range(10):
        page = ids(history(stack, a.token, b.id, limit=3, **({"before": before} if before else {})))
        if not page:
            break
        back.extend(page)
        before = page[-1]
    assert back == newest
    fwd, after = [ids_sent[0]], ids_sent[0]
    for _ in range(10):
        page = ids(history(stack, b.token, a.id, limit=2, after=after))
        if not page:
            break
        fwd.extend(reversed(page))
        after = page[0]
    assert fwd == ids_sent
    # Parameters.
    assert ids(history(stack, a.token, b.id, limit=100)) == newest
    for bad in ("0", "101", "-1", "abc", "5x"):
        assert_error(history(stack, a.token, b.id, limit=bad), 400, "invalid_parameter")
    assert_error(history(stack, a.token, b.id, before=ids_sent[1], after=ids_sent[2]),
                 400, "invalid_parameter")
    assert_error(history(stack, a.token, b.id, before="xyz"), 400, "invalid_parameter",
                 "Invalid before")
    assert_error(history(stack, a.token, b.id, after="xyz"), 400, "invalid_parameter",
                 "Invalid after")
    assert_error(history(stack, a.token, b.id, before=foreign["id"]), 400, "invalid_parameter")
    assert_error(history(stack, a.token, b.id, after=NO_SUCH), 400, "invalid_parameter")
    assert_error(get(stack, "/api/dm/messages", token=a.token), 400, "missing_parameter",
                 "user_id is required")
    assert_error(history(stack, a.token, "x"), 400, "invalid_parameter", "Invalid user_id")
    assert_error(history(stack, a.token, NO_SUCH), 404, "not_found", "User not found")
    # No conversation yet: empty, and no cursor fits.
    assert history(stack, a.token, c.id).json() == []
    assert_error(history(stack, a.token, c.id, before=ids_sent[0]), 400, "invalid_parameter")
    assert history(stack, a.token, a.id).json() == []
    # c is no party of a and b: c's history "with b" is c's own.
    assert ids(history(stack, c.token, b.id)) == [foreign["id"]]


def test_history_shows_deleted_message_without_content(stack):
    a, b = real_user(stack), real_user(stack)
    m1 = send(stack, a, b, "keep")
    m2 = send(stack, a, b, "secret to delete")
    send(stack, b, a, "after")
    assert delete(stack, a.token, m2["id"]).status_code == 200
    for viewer, peer in ((a, b), (b, a)):
        got = {m["id"]: m for m in history(stack, viewer.token, peer.id).json()}
        assert len(got) == 3
        assert got[m2["id"]]["content"] == "" and got[m2["id"]]["is_deleted"] is True
        assert got[m1["id"]]["content"] == "keep" and got[m1["id"]]["is_deleted"] is False
        assert_dm(stack, got[m2["id"]], a, b)
    assert pg_rows(stack, "SELECT content, is_deleted FROM chat.dm_messages WHERE id = %s",
                   (m2["id"],)) == [("", True)]
    env = events(stack, m1["conversation_id"])[-1]
    assert env["type"] == "dm-message-deleted"
    assert "secret to delete" not in str(env)


def test_history_default_page_is_100(stack):
    a, b = real_user(stack), real_user(stack)
    first = send(stack, a, b, "first")
    conv = first["conversation_id"]
    # 104 more messages, written directly (the route is not what is tested;
    # the conversation, without their events, is dropped at the end).
    try:
        pg_exec(stack, "INSERT INTO chat.dm_messages (conversation_id, seq, sender_id, content)"
                " SELECT %s, s, %s, 'bulk ' || s FROM generate_series(2, 105) s", (conv, b.id))
        pg_exec(stack, "UPDATE chat.conversations SET last_seq = 105 WHERE id = %s", (conv,))
        page = history(stack, a.token, b.id).json()
        assert [m["seq"] for m in page] == list(range(105, 5, -1))
        assert page[0]["content"] == "bulk 105" and page[0]["sender_id"] == b.id
        rest = history(stack, a.token, b.id, before=page[-1]["id"]).json()
        assert [m["seq"] for m in rest] == [5, 4, 3, 2, 1] and rest[-1]["id"] == first["id"]
    finally:
        pg_exec(stack, "DELETE FROM chat.conversations WHERE id = %s", (conv,))


def test_concurrent_writes_keep_seq_and_unread_exact(stack):
    """Both users write at once while each marks everything read again and
    again: seq stays gap-free and every unread count equals the other's
    live messages above the reader's watermark."""
    a, b = real_user(stack), real_user(stack)
    conv = send(stack, a, b, "start")["conversation_id"]
    errors = []

    def writer(x, y, n):
        try:
            for i in range(n):
                r = send_raw(stack, x.token, {"receiver_id": y.id, "content": f"{i}"})
                if r.status_code != 200:
                    errors.append(r.text)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def reader(x, y, n):
        try:
            for _ in range(n):
                r = read_all(stack, x.token, y.id)
                if r.status_code != 200 or r.json()["marked_count"] < 0:
                    errors.append(r.text)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=writer, args=(a, b, 15)),
               threading.Thread(target=writer, args=(b, a, 15)),
               threading.Thread(target=reader, args=(a, b, 8)),
               threading.Thread(target=reader, args=(b, a, 8))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    envs = events(stack, conv)
    msgs = pg_rows(stack, "SELECT seq, id::text FROM chat.dm_messages"
                   " WHERE conversation_id = %s ORDER BY seq", (conv,))
    assert len(msgs) == 31
    by_seq = {e["seq"]: e for e in envs}
    for seq, mid in msgs:
        assert by_seq[seq]["type"] == "dm-message" and by_seq[seq]["payload"]["id"] == mid
    assert sum(1 for e in envs if e["type"] == "dm-message") == 31
    truth = dict(pg_rows(stack, """
        SELECT mb.user_id::text, (SELECT count(*) FROM chat.dm_messages m
            WHERE m.conversation_id = mb.conversation_id AND m.sender_id <> mb.user_id
              AND m.seq > mb.last_read_seq AND NOT m.is_deleted)
        FROM chat.conversation_members mb WHERE mb.conversation_id = %s""", (conv,)))
    assert conv_with(stack, a, b)["unread_count"] == truth[a.id]
    assert conv_with(stack, b, a)["unread_count"] == truth[b.id]
    marked = read_all(stack, b.token, a.id).json()["marked_count"]
    assert marked == truth[b.id]
    assert conv_with(stack, b, a)["unread_count"] == 0


# ------------------------------------------------------------ update and delete

def test_update_by_the_sender_only(stack):
    a, b, c = real_user(stack), real_user(stack), real_user(stack)
    m = send(stack, a, b, "original")
    conv = m["conversation_id"]
    r = update(stack, a.token, m["id"], "edited <b>x</b>\n" + EMOJI)
    assert r.status_code == 200, r.text
    e = assert_dm(stack, r.json(), a, b)      # not swapped (the reference's BUG)
    assert e["id"] == m["id"] and e["conversation_id"] == conv and e["seq"] == m["seq"]
    assert e["content"] == "edited <b>x</b>\n" + EMOJI and e["is_edited"] is True
    assert e["is_deleted"] is False
    assert e["created_at"] == m["created_at"] and e["updated_at"] >= m["updated_at"]
    env = events(stack, conv)[-1]
    assert env["type"] == "dm-message-updated" and env["payload"] == e
    assert env["user_id"] == a.id and env["target_user_id"] == b.id
    got = history(stack, b.token, a.id).json()
    assert got == [e]
    # The receiver may not edit; a non-participant does not learn it exists.
    assert_error(update(stack, b.token, m["id"], "by b"), 403, "forbidden",
                 "Cannot edit this message")
    assert_error(update(stack, c.token, m["id"], "by c"), 404, "not_found", "Message not found")
    assert_error(update(stack, a.token, NO_SUCH, "x"), 404, "not_found")
    # Content is checked as on send.
    for content, message in (("", "Message content cannot be empty"),
                             ("  \n", "Message content cannot be empty"),
                             ("a" * 4001, "message content exceeds maximum length"),
                             ("a\x07", "message contains invalid characters"),
                             (5, "content must be a string")):
        assert_error(update(stack, a.token, m["id"], content), 400, "invalid_request", message)
    assert_error(put(stack, "/api/dm/update", {"message_id": m["id"]}, token=a.token),
                 400, "invalid_request", "Message content cannot be empty")
    assert_error(put(stack, "/api/dm/update", {"content": "x"}, token=a.token),
                 400, "invalid_request", "message_id is required")
    assert_error(update(stack, a.token, "nope", "x"), 400, "invalid_request",
                 "message_id must be a UUID")
    assert_error(put(stack, "/api/dm/update", "nope", token=a.token), 400, "invalid_json")
    assert update(stack, a.token, m["id"], "a" * 4000).status_code == 200
    # A deleted message cannot be edited.
    assert delete(stack, a.token, m["id"]).status_code == 200
    assert_error(update(stack, a.token, m["id"], "again"), 404, "not_found")
    assert pg_rows(stack, "SELECT content, is_edited, is_deleted FROM chat.dm_messages"
                   " WHERE id = %s", (m["id"],)) == [("", True, True)]
    assert event_types(stack, conv) == ["dm-message", "dm-message-updated",
                                        "dm-message-updated", "dm-message-deleted"]


def test_delete_by_the_sender_only(stack):
    a, b, c = real_user(stack), real_user(stack), real_user(stack)
    m1 = send(stack, a, b, "one")
    m2 = send(stack, a, b, "two")
    conv = m1["conversation_id"]
    assert react(stack, b.token, m1["id"], EMOJI).status_code == 200
    assert_error(delete(stack, b.token, m1["id"]), 403, "forbidden",
                 "Cannot delete this message")
    assert_error(delete(stack, c.token, m1["id"]), 404, "not_found", "Message not found")
    assert_error(delete(stack, a.token, NO_SUCH), 404, "not_found")
    n = event_count(stack, conv)
    r = delete(stack, a.token, m1["id"])
    assert r.status_code == 200 and r.json() == {"status": "deleted"}, r.text
    env = events(stack, conv)[-1]
    assert env["type"] == "dm-message-deleted" and env["user_id"] == a.id
    assert env["target_user_id"] == b.id
    assert env["payload"] == {"message_id": m1["id"], "conversation_id": conv,
                              "seq": m1["seq"]}
    assert event_count(stack, conv) == n + 1
    assert pg_rows(stack, "SELECT count(*) FROM chat.dm_reactions WHERE message_id = %s",
                   (m1["id"],)) == [(0,)]
    # Once only.
    assert_error(delete(stack, a.token, m1["id"]), 404, "not_found")
    assert event_count(stack, conv) == n + 1
    # The id in the query works too.
    r = request(stack, "DELETE", "/api/dm/delete", token=a.token,
                params={"message_id": m2["id"]})
    assert r.status_code == 200 and r.json() == {"status": "deleted"}, r.text
    # Bad requests.
    assert_error(request(stack, "DELETE", "/api/dm/delete", token=a.token), 400,
                 "missing_parameter", "message_id is required")
    assert_error(request(stack, "DELETE", "/api/dm/delete", {}, token=a.token), 400,
                 "missing_parameter")
    assert_error(request(stack, "DELETE", "/api/dm/delete", {"message_id": "x"},
                         token=a.token), 400, "invalid_request", "message_id must be a UUID")
    assert_error(request(stack, "DELETE", "/api/dm/delete", {"message_id": 5},
                         token=a.token), 400, "invalid_request")
    assert_error(request(stack, "DELETE", "/api/dm/delete", token=a.token,
                         params={"message_id": "x"}), 400, "invalid_parameter",
                 "Invalid message_id")
    assert_error(request(stack, "DELETE", "/api/dm/delete", "nope", token=a.token),
                 400, "invalid_json")
    assert event_types(stack, conv) == ["dm-message", "dm-message", "dm-reaction-added",
                                        "dm-message-deleted", "dm-message-deleted"]


# ------------------------------------------------------------ reactions

def test_reactions_add_list_remove_with_events(stack):
    a, b, c = real_user(stack), real_user(stack), real_user(stack)
    m = send(stack, a, b, "react to me")
    conv = m["conversation_id"]
    r = reactions(stack, b.token, m["id"])
    assert r.status_code == 200 and r.json() == [], r.text
    r = react(stack, b.token, m["id"], EMOJI)
    assert r.status_code == 200, r.text
    x = r.json()
    assert set(x) == REACTION_KEYS, x
    assert UUID4_RE.match(x["id"]) and RFC3339_RE.match(x["created_at"]), x
    assert x["direct_message_id"] == m["id"] and x["message_id"] == m["id"], x
    assert x["user_id"] == b.id and x["username"] == b.username and x["emoji"] == EMOJI, x
    env = events(stack, conv)[-1]
    assert env["type"] == "dm-reaction-added" and env["payload"] == x
    assert env["user_id"] == b.id and env["target_user_id"] == a.id
    n = event_count(stack, conv)
    assert_error(react(stack, b.token, m["id"], EMOJI), 409, "conflict")
    assert event_count(stack, conv) == n
    y = react(stack, a.token, m["id"], EMOJI).json()
    z = react(stack, a.token, m["id"], "+1").json()
    got = reactions(stack, a.token, m["id"])
    assert got.status_code == 200 and got.json() == [x, y, z], got.text
    assert reactions(stack, b.token, m["id"]).json() == [x, y, z]
    # A non-participant sees nothing and touches nothing.
    assert_error(reactions(stack, c.token, m["id"]), 404, "not_found")
    assert_error(react(stack, c.token, m["id"], "+1"), 404, "not_found")
    assert_error(unreact(stack, c.token, m["id"], "+1"), 404, "not_found")
    assert_error(reactions(stack, a.token, NO_SUCH), 404, "not_found")
    assert_error(react(stack, a.token, NO_SUCH, "+1"), 404, "not_found")
    # Each removes only their own.
    assert_error(unreact(stack, b.token, m["id"], "+1"), 404, "not_found")
    r = unreact(stack, b.token, m["id"], EMOJI)
    assert r.status_code == 200 and r.json() == {"status": "removed"}, r.text
    env = events(stack, conv)[-1]
    assert env["type"] == "dm-reaction-removed" and env["user_id"] == b.id
    assert env["payload"] == {"direct_message_id": m["id"], "message_id": m["id"],
                              "emoji": EMOJI, "user_id": b.id}
    assert_error(unreact(stack, b.token, m["id"], EMOJI), 404, "not_found")
    assert reactions(stack, b.token, m["id"]).json() == [y, z]
    assert event_types(stack, conv) == ["dm-message", "dm-reaction-added", "dm-reaction-added",
                                        "dm-reaction-added", "dm-reaction-removed"]
    # A deleted message takes no reaction.
    assert delete(stack, a.token, m["id"]).status_code == 200
    assert_error(react(stack, b.token, m["id"], "+1"), 404, "not_found")
    assert_error(unreact(stack, a.token, m["id"], "+1"), 404, "not_found")
    r = reactions(stack, a.token, m["id"])
    assert r.status_code in (200, 404), r.text
    if r.status_code == 200:
        assert r.json() == []
    # Parameters.
    assert_error(get(stack, "/api/dm/reactions", token=a.token), 400, "missing_parameter")
    assert_error(reactions(stack, a.token, "x"), 400, "invalid_parameter")
    assert_error(request(stack, "DELETE", "/api/dm/reaction/remove", token=a.token,
                         params={"emoji": "+1"}), 400, "missing_parameter")
    assert_error(unreact(stack, a.token, "x", "+1"), 400, "invalid_parameter")
    assert_error(request(stack, "DELETE", "/api/dm/reaction/remove", token=a.token,
                         params={"message_id": m["id"]}), 400, "invalid_request")
    assert_error(post(stack, "/api/dm/reaction/add", {"emoji": "+1"}, token=a.token),
                 400, "invalid_request", "message_id is required")
    assert_error(react(stack, a.token, "x", "+1"), 400, "invalid_request")


def test_bad_emoji_400(stack):
    a, b = real_user(stack), real_user(stack)
    m = send(stack, a, b, "m")
    for emoji in ("", " ", "a b", "x" * 33, EMOJI * 8 + "x", "\x07", "a\nb", "\x7f",
                  5, None, ["x"]):
        assert_error(react(stack, b.token, m["id"], emoji), 400, "invalid_request")
    assert_error(post(stack, "/api/dm/reaction/add", {"message_id": m["id"]}, token=b.token),
                 400, "invalid_request")
    for emoji in ("", "a b", "x" * 33, "\x07"):
        assert_error(unreact(stack, b.token, m["id"], emoji), 400, "invalid_request")
    assert pg_rows(stack, "SELECT count(*) FROM chat.dm_reactions WHERE message_id = %s",
                   (m["id"],)) == [(0,)]
    # The limits themselves are fine, and kept exactly.
    for emoji in ("x" * 32, EMOJI * 8, "\u2764\ufe0f", ":custom_name:"):
        r = react(stack, b.token, m["id"], emoji)
        assert r.status_code == 200 and r.json()["emoji"] == emoji, r.text
        r = unreact(stack, b.token, m["id"], emoji)
        assert r.status_code == 200, r.text


def test_reactions_refused_while_blocked(stack):
    a, b = real_user(stack), real_user(stack)
    m = send(stack, a, b, "m")
    conv = m["conversation_id"]
    assert react(stack, b.token, m["id"], "+1").status_code == 200
    for blocker, blocked in ((a, b), (b, a)):
        block(stack, blocker, blocked)
        n = event_count(stack, conv)
        for u in (a, b):
            assert_error(react(stack, u.token, m["id"], EMOJI), 403, "blocked")
        assert event_count(stack, conv) == n
        unblock(stack, blocker, blocked)
    assert pg_rows(stack, "SELECT count(*) FROM chat.dm_reactions WHERE message_id = %s",
                   (m["id"],)) == [(1,)]
    assert react(stack, a.token, m["id"], EMOJI).status_code == 200


# ------------------------------------------------------------ read receipts

def test_read_is_idempotent_and_emits_once(stack):
    a, b, c = real_user(stack), real_user(stack), real_user(stack)
    m1 = send(stack, a, b, "one")
    m2 = send(stack, a, b, "two")
    m3 = send(stack, a, b, "three")
    conv = m1["conversation_id"]
    r = read(stack, b.token, m2["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"status", "message_id", "read_at"}, body
    assert body["status"] == "ok" and body["message_id"] == m2["id"]
    assert RFC3339_RE.match(body["read_at"]), body
    env = events(stack, conv)[-1]
    assert env["type"] == "dm-message-read" and env["user_id"] == b.id
    assert env["target_user_id"] == a.id
    assert env["payload"] == {"message_id": m2["id"], "user_id": b.id,
                              "read_at": body["read_at"], "seq": m2["seq"]}
    n = event_count(stack, conv)
    # Again, or an older message, or one's own: 200 and nothing new.
    for who, msg in ((b, m2), (b, m1), (a, m3)):
        r = read(stack, who.token, msg["id"])
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ok" and r.json()["message_id"] == msg["id"]
    assert event_count(stack, conv) == n
    assert pg_rows(stack, "SELECT last_read_seq FROM chat.conversation_members"
                   " WHERE conversation_id = %s AND user_id = %s", (conv, b.id)) == [(m2["seq"],)]
    # Errors.
    assert_error(read(stack, c.token, m1["id"]), 404, "not_found")
    assert_error(read(stack, b.token, NO_SUCH), 404, "not_found")
    assert_error(post(stack, "/api/dm/read", {}, token=b.token), 400, "missing_parameter",
                 "message_id is required")
    assert_error(read(stack, b.token, "x"), 400, "invalid_request", "message_id must be a UUID")
    assert_error(post(stack, "/api/dm/read", "nope", token=b.token), 400, "invalid_json")
    # The id in the query works too.
    r = post(stack, "/api/dm/read", token=b.token, params={"message_id": m3["id"]})
    assert r.status_code == 200, r.text
    assert event_types(stack, conv) == ["dm-message"] * 3 + ["dm-message-read"] * 2


def test_read_all_and_read_status(stack):
    a, b, c = real_user(stack), real_user(stack), real_user(stack)
    # No conversation yet.
    r = read_all(stack, a.token, c.id)
    assert r.status_code == 200 and r.json() == {"marked_count": 0, "status": "ok"}, r.text
    r = read_status(stack, a.token, c.id)
    assert r.status_code == 200, r.text
    assert r.json() == {"peer_id": c.id, "conversation_id": None, "unread_count": 0,
                        "last_read_seq": 0, "read_at": None, "peer_last_read_seq": 0,
                        "peer_read_at": None, "peer_last_read_message_id": None}
    m1 = send(stack, a, b, "one")
    m2 = send(stack, a, b, "two")
    m3 = send(stack, a, b, "three")
    conv = m1["conversation_id"]
    sb = read_status(stack, b.token, a.id).json()
    assert set(sb) == STATUS_KEYS, sb
    assert sb["peer_id"] == a.id and sb["conversation_id"] == conv
    assert sb["unread_count"] == 3 and sb["last_read_seq"] == 0 and sb["read_at"] is None
    assert sb["peer_last_read_seq"] == m3["seq"] and RFC3339_RE.match(sb["peer_read_at"])
    assert sb["peer_last_read_message_id"] == m3["id"]
    assert read(stack, b.token, m1["id"]).status_code == 200
    sa = read_status(stack, a.token, b.id).json()
    assert sa["peer_id"] == b.id and sa["conversation_id"] == conv and sa["unread_count"] == 0
    assert sa["last_read_seq"] == m3["seq"] and RFC3339_RE.match(sa["read_at"])
    assert sa["peer_last_read_seq"] == m1["seq"] and RFC3339_RE.match(sa["peer_read_at"])
    assert sa["peer_last_read_message_id"] == m1["id"]
    n = event_count(stack, conv)
    r = read_all(stack, b.token, a.id)
    assert r.status_code == 200 and r.json() == {"marked_count": 2, "status": "ok"}, r.text
    envs = events(stack, conv)
    assert len(envs) == n + 1
    env = envs[-1]
    assert env["type"] == "dm-messages-read-all" and env["user_id"] == b.id
    assert env["target_user_id"] == a.id
    assert set(env["payload"]) == {"user_id", "peer_id", "read_at", "seq"}, env
    assert env["payload"]["user_id"] == b.id and env["payload"]["peer_id"] == a.id
    assert env["payload"]["seq"] == n and RFC3339_RE.match(env["payload"]["read_at"])
    # Nothing left: 0 and no event.
    r = read_all(stack, b.token, a.id)
    assert r.status_code == 200 and r.json() == {"marked_count": 0, "status": "ok"}, r.text
    assert event_count(stack, conv) == n + 1
    # The sender has nothing to mark.
    assert read_all(stack, a.token, b.id).json() == {"marked_count": 0, "status": "ok"}
    assert event_count(stack, conv) == n + 1
    sb = read_status(stack, b.token, a.id).json()
    # (The watermark counts events, not only messages: at least m3's seq.)
    assert sb["unread_count"] == 0 and sb["last_read_seq"] >= m3["seq"]
    assert sb["peer_last_read_message_id"] == m3["id"]
    sa = read_status(stack, a.token, b.id).json()
    assert sa["peer_last_read_message_id"] == m3["id"]
    assert sa["peer_last_read_seq"] == sb["last_read_seq"]
    assert m2["seq"] < m3["seq"]
    # Parameters.
    for route in (lambda t, q: post(stack, "/api/dm/read/all", token=t, params=q),
                  lambda t, q: get(stack, "/api/dm/read/status", token=t, params=q)):
        assert_error(route(a.token, {}), 400, "missing_parameter", "peer_id is required")
        assert_error(route(a.token, {"peer_id": "x"}), 400, "invalid_parameter",
                     "Invalid peer_id")


def test_event_log_of_a_whole_conversation(stack):
    """Every kind of write, in order: one event each, seq gap-free, refused
    and idempotent requests none."""
    a, b = real_user(stack), real_user(stack)
    m1 = send(stack, a, b, "one")
    conv = m1["conversation_id"]
    m2 = send(stack, b, a, "two")
    assert update(stack, a.token, m1["id"], "one!").status_code == 200
    assert_error(update(stack, b.token, m1["id"], "no"), 403, "forbidden")
    assert react(stack, a.token, m2["id"], "+1").status_code == 200
    assert_error(react(stack, a.token, m2["id"], "+1"), 409, "conflict")
    assert unreact(stack, a.token, m2["id"], "+1").status_code == 200
    assert read(stack, a.token, m2["id"]).status_code == 200
    assert read(stack, a.token, m2["id"]).status_code == 200
    m3 = send(stack, a, b, "three")
    assert read_all(stack, b.token, a.id).json()["marked_count"] == 1
    assert delete(stack, b.token, m2["id"]).status_code == 200
    assert_error(delete(stack, b.token, m2["id"]), 404, "not_found")
    envs = events(stack, conv)
    assert [e["type"] for e in envs] == [
        "dm-message", "dm-message", "dm-message-updated", "dm-reaction-added",
        "dm-reaction-removed", "dm-message-read", "dm-message", "dm-messages-read-all",
        "dm-message-deleted"]
    assert [e["user_id"] for e in envs] == [a.id, b.id, a.id, a.id, a.id, a.id, a.id, b.id, b.id]
    assert envs[6]["payload"]["id"] == m3["id"] and envs[6]["seq"] == m3["seq"] == 7
    assert [m["seq"] for m in (m1, m2)] == [1, 2]
