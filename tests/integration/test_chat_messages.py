"""Room messages (reference §1.6, §2.3, issue 4): history with cursor pages
(exact under concurrent inserts), send (text stored exactly as written,
slow mode, system messages, mentions), edit with history, delete, forward,
full-text search, read receipts and mentions."""

import asyncio
import threading

import websockets

from authlib import client_ip  # noqa: F401  (autouse: one client address per test)
from authlib import assert_error, get, pg_exec, pg_rows, post, put, request
from chatlib import (assert_message, history, join, last_event, real_user, room_events,
                     room_with, send, send_raw, set_role, token_user, as_admin, new_room)
from stacklib import wait_until

EMOJI = "\U0001F600"  # 4 bytes in UTF-8


def set_settings(stack, room_id, **fields):
    """Writes room settings directly (the settings route is another
    concern's; these tests only need the values in place)."""
    cols = ", ".join(f"{k} = %s" for k in fields)
    assert pg_exec(stack, f"UPDATE chat.room_settings SET {cols} WHERE room_id = %s",
                   (*fields.values(), room_id)) == 1


def message_count(stack, room_id):
    return pg_rows(stack, "SELECT count(*) FROM chat.messages WHERE room_id = %s",
                   (room_id,))[0][0]


def ids(resp):
    assert resp.status_code == 200, f"{resp.status_code} {resp.text[:300]}"
    body = resp.json()
    assert isinstance(body, list), body
    return [m["id"] for m in body]


# ------------------------------------------------------------ send

def test_send_answers_message_and_emits_chat_message(stack):
    owner, bob = real_user(stack), real_user(stack)
    room = room_with(stack, owner, bob)
    m = send(stack, bob.token, room, "hello there")
    assert m["room_id"] == room and m["user_id"] == bob.id
    assert m["username"] == bob.username and m["type"] == "text"
    assert m["content"] == "hello there" and not m["is_edited"] and not m["is_deleted"]
    env = last_event(stack, room, "chat-message")
    assert env["payload"] == m and env["user_id"] == bob.id and env["room_id"] == room
    assert env["seq"] == m["seq"]
    rows = pg_rows(stack, "SELECT content, type, seq FROM chat.messages WHERE id = %s",
                   (m["id"],))
    assert rows == [("hello there", "text", m["seq"])]
    (at,) = pg_rows(stack, "SELECT last_message_at FROM chat.members"
                    " WHERE room_id = %s AND user_id = %s", (room, bob.id))[0]
    assert at is not None


def test_text_is_stored_exactly_as_written(stack):
    owner = token_user(stack)
    room = room_with(stack, owner)
    texts = ["line one\nline two\n\n  indented\tand a tab\n",
             "<b>&amp; & \"quoted\" 'single' </b><script>x</script>",
             "two links http://a.example and http://b.example, HTTP://c",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "é ü ß 中文 " + EMOJI + " \u200d\u2764\ufe0f"]
    sent = [send(stack, owner.token, room, t) for t in texts]
    for m, t in zip(sent, texts):
        assert m["content"] == t
    got = {m["id"]: m["content"] for m in history(stack, owner.token, room).json()}
    for m, t in zip(sent, texts):
        assert got[m["id"]] == t
        assert pg_rows(stack, "SELECT content FROM chat.messages WHERE id = %s",
                       (m["id"],)) == [(t,)]


def test_content_length_is_counted_in_characters(stack):
    owner = token_user(stack)
    room = room_with(stack, owner)
    m = send(stack, owner.token, room, EMOJI * 4000)
    assert m["content"] == EMOJI * 4000
    assert pg_rows(stack, "SELECT length(content), octet_length(content) FROM chat.messages"
                   " WHERE id = %s", (m["id"],)) == [(4000, 16000)]
    assert send(stack, owner.token, room, "x")["content"] == "x"
    before = message_count(stack, room)
    for content in (EMOJI * 4001, "a" * 4001):
        assert_error(send_raw(stack, owner.token, {"room_id": room, "content": content}),
                     400, "invalid_request", "message content exceeds maximum length")
    assert message_count(stack, room) == before


def test_bad_content_is_refused_and_nothing_written(stack):
    owner = token_user(stack)
    room = room_with(stack, owner)
    for content in ("a\x07b", "bell\x07", "cr\rlf", "esc\x1b[0m", "del\x7f", "\x0b", "\x0c"):
        assert_error(send_raw(stack, owner.token, {"room_id": room, "content": content}),
                     400, "invalid_request", "message contains invalid characters")
    for content in ("", "   ", "\n\t \n"):
        assert_error(send_raw(stack, owner.token, {"room_id": room, "content": content}),
                     400, "invalid_request", "Message content cannot be empty")
    assert_error(send_raw(stack, owner.token, {"room_id": room}),
                 400, "invalid_request", "Message content cannot be empty")
    for content in (5, ["x"], {"a": 1}, True):
        assert_error(send_raw(stack, owner.token, {"room_id": room, "content": content}),
                     400, "invalid_request", "content must be a string")
    # A NUL never reaches the handler as text: the JSON itself is refused.
    r = send_raw(stack, owner.token, '{"room_id":"%s","content":"a\\u0000b"}' % room)
    assert r.status_code == 400, r.text
    # Bytes that are not UTF-8.
    r = send_raw(stack, owner.token, b'{"room_id":"%s","content":"\xff\xfe"}' % room.encode())
    assert r.status_code == 400, r.text
    assert message_count(stack, room) == 0


def test_send_checks_room_id_and_body(stack):
    owner, outsider = token_user(stack), token_user(stack)
    room = room_with(stack, owner)
    private = room_with(stack, owner, is_private=True)
    assert_error(send_raw(stack, owner.token, {"content": "x"}), 400, "invalid_request",
                 "room_id is required")
    assert_error(send_raw(stack, owner.token, {"room_id": "nope", "content": "x"}), 400,
                 "invalid_request", "room_id must be a UUID")
    assert_error(send_raw(stack, owner.token, {"room_id": 7, "content": "x"}), 400,
                 "invalid_request")
    assert_error(send_raw(stack, owner.token, "[1,2]"), 400, "invalid_json")
    assert_error(send_raw(stack, owner.token, "not json"), 400, "invalid_json")
    assert_error(send_raw(stack, owner.token,
                          {"room_id": "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1", "content": "x"}),
                 404, "not_found", "Room not found")
    assert_error(send_raw(stack, outsider.token, {"room_id": room, "content": "x"}),
                 403, "not_member", "You must be a member of this room to send messages")
    # A private room does not admit it exists.
    assert_error(send_raw(stack, outsider.token, {"room_id": private, "content": "x"}),
                 404, "not_found", "Room not found")
    assert message_count(stack, room) == 0 and message_count(stack, private) == 0


def test_system_messages_only_from_global_admins(stack):
    owner = token_user(stack)
    room = room_with(stack, owner)
    assert send(stack, owner.token, room, "t", type="text")["type"] == "text"
    assert send(stack, owner.token, room, "t", type="")["type"] == "text"
    assert_error(send_raw(stack, owner.token, {"room_id": room, "content": "s", "type": "system"}),
                 403, "forbidden")
    for bad in ("user", "SYSTEM", 1):
        assert_error(send_raw(stack, owner.token, {"room_id": room, "content": "s", "type": bad}),
                     400, "invalid_request")
    admin = as_admin(stack, owner)
    assert send(stack, admin.token, room, "notice", type="system")["type"] == "system"
    assert message_count(stack, room) == 3


def test_slow_mode_429_with_retry_after_and_nothing_written(stack):
    owner, bob, mod = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, owner, bob, mod)
    set_role(stack, owner.token, room, mod.id, "moderator")
    set_settings(stack, room, slow_mode_seconds=30)
    send(stack, bob.token, room, "first")
    r = send_raw(stack, bob.token, {"room_id": room, "content": "second"})
    assert r.status_code == 429, r.text
    body = r.json()
    assert set(body) == {"error", "message", "retry_after", "slow_mode_seconds"}, body
    assert body["error"] == "slow_mode_enabled"
    assert body["message"] == "Slow mode is enabled for this room"
    assert body["slow_mode_seconds"] == 30
    assert isinstance(body["retry_after"], int) and 1 <= body["retry_after"] <= 31, body
    assert r.headers.get("Retry-After") == str(body["retry_after"]), r.headers
    assert message_count(stack, room) == 1
    # Moderators and up are exempt; another member has their own clock.
    send(stack, mod.token, room, "m1")
    send(stack, mod.token, room, "m2")
    send(stack, owner.token, room, "o1")
    send(stack, owner.token, room, "o2")
    # Once the interval has passed (moved back in the database), bob may send.
    pg_exec(stack, "UPDATE chat.members SET last_message_at = now() - interval '31 seconds'"
            " WHERE room_id = %s AND user_id = %s", (room, bob.id))
    send(stack, bob.token, room, "later")
    set_settings(stack, room, slow_mode_seconds=0)
    send(stack, bob.token, room, "free again")


# ------------------------------------------------------------ history

def test_history_newest_first_with_cursors(stack):
    owner, other = token_user(stack), token_user(stack)
    room = room_with(stack, owner)
    room2 = room_with(stack, other)
    foreign = send(stack, other.token, room2, "elsewhere")
    sent = [send(stack, owner.token, room, f"m{i}")["id"] for i in range(7)]
    newest = sent[::-1]
    assert ids(history(stack, owner.token, room)) == newest
    assert ids(history(stack, owner.token, room, limit=3)) == newest[:3]
    assert ids(history(stack, owner.token, room, limit=3, before=newest[2])) == newest[3:6]
    assert ids(history(stack, owner.token, room, limit=3, before=newest[5])) == newest[6:]
    assert ids(history(stack, owner.token, room, before=sent[0])) == []
    assert ids(history(stack, owner.token, room, limit=2, after=sent[0])) == [sent[2], sent[1]]
    assert ids(history(stack, owner.token, room, after=sent[4])) == [sent[6], sent[5]]
    assert ids(history(stack, owner.token, room, after=sent[6])) == []
    assert ids(history(stack, owner.token, room, limit=100)) == newest
    for m in history(stack, owner.token, room).json():
        assert_message(m, listed=True)
        assert m["reactions"] == [] and m["thread"] is None, m
    for bad in ("0", "101", "-1", "abc", "5x", ""):
        r = history(stack, owner.token, room, limit=bad)
        if bad == "":
            assert r.status_code == 200, r.text
        else:
            assert_error(r, 400, "invalid_parameter")
    assert_error(history(stack, owner.token, room, before=sent[1], after=sent[2]),
                 400, "invalid_parameter")
    assert_error(history(stack, owner.token, room, before="xyz"), 400, "invalid_parameter",
                 "Invalid before")
    assert_error(history(stack, owner.token, room, before=foreign["id"]), 400,
                 "invalid_parameter")
    assert_error(get(stack, "/api/messages", token=owner.token), 400, "missing_parameter",
                 "room_id is required")
    assert_error(get(stack, "/api/messages", token=owner.token, params={"room_id": "x"}),
                 400, "invalid_parameter", "Invalid room_id")


def test_history_members_only(stack):
    owner, outsider = token_user(stack), token_user(stack)
    room = room_with(stack, owner)
    private = room_with(stack, owner, is_private=True)
    send(stack, owner.token, room, "secret")
    assert_error(history(stack, outsider.token, room), 403, "not_member",
                 "You are not a member of this room")
    assert_error(history(stack, outsider.token, private), 404, "not_found")
    assert_error(history(stack, owner.token, "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"),
                 404, "not_found")
    # A global admin may read (moderation), without being a member.
    assert len(ids(history(stack, as_admin(stack, outsider).token, private))) == 0
    assert len(ids(history(stack, as_admin(stack, outsider).token, room))) == 1


def test_pagination_exact_under_concurrent_inserts(stack):
    """Writers insert while a reader pages backwards with before= again and
    again: every pass holds each message at most once, in strictly
    descending seq, and exactly the room's messages up to the newest it saw.
    Then a forward pass with after= from the first message sees every
    message exactly once."""
    owner, bob = token_user(stack), token_user(stack)
    room = room_with(stack, owner, bob)
    first = send(stack, owner.token, room, "first")
    errors = []

    def writer(user, n):
        try:
            for i in range(n):
                r = send_raw(stack, user.token, {"room_id": room, "content": f"{user.id[:4]} {i}"})
                if r.status_code != 200:
                    errors.append(r.text)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    writers = [threading.Thread(target=writer, args=(u, 60)) for u in (owner, bob)]
    for t in writers:
        t.start()
    passes, tops = 0, []
    try:
        while any(t.is_alive() for t in writers) or passes < 2:
            seen, before = [], None
            for _ in range(100):      # 121 messages at most, 7 a page
                params = {"limit": 7}
                if before:
                    params["before"] = before
                page = history(stack, owner.token, room, **params)
                assert page.status_code == 200, page.text
                page = page.json()
                if not page:
                    break
                seen.extend(page)
                before = page[-1]["id"]
            else:
                raise AssertionError("paging backwards never ended")
            seqs = [m["seq"] for m in seen]
            assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
            expect = pg_rows(stack, "SELECT id::text FROM chat.messages WHERE room_id = %s"
                             " AND seq <= %s ORDER BY seq DESC", (room, seqs[0]))
            assert [m["id"] for m in seen] == [i for (i,) in expect]
            passes += 1
            tops.append(seqs[0])
    finally:
        for t in writers:
            t.join()
    assert not errors, errors[:3]
    # At least two passes ran while messages were still being inserted.
    final_top = max(s for (s,) in pg_rows(stack, "SELECT seq FROM chat.messages"
                                          " WHERE room_id = %s", (room,)))
    assert sum(1 for t in tops if t < final_top) >= 2, (tops, final_top)
    forward, after = [first["id"]], first["id"]
    for _ in range(100):
        page = ids(history(stack, owner.token, room, limit=9, after=after))
        if not page:
            break
        forward.extend(reversed(page))
        after = page[0]
    else:
        raise AssertionError("paging forwards never ended")
    all_ids = [i for (i,) in pg_rows(stack, "SELECT id::text FROM chat.messages"
                                      " WHERE room_id = %s ORDER BY seq", (room,))]
    assert len(all_ids) == 121
    assert forward == all_ids
    # Every message is one chat-message event of the same seq, and back.
    events = {e["seq"]: e["payload"]["id"] for e in room_events(stack, room, "chat-message")}
    rows = dict(pg_rows(stack, "SELECT seq, id::text FROM chat.messages WHERE room_id = %s",
                        (room,)))
    assert events == rows


def test_a_full_page_of_the_longest_messages(stack):
    owner = token_user(stack)
    room = room_with(stack, owner)
    texts = [f"{i:03d}" + EMOJI * 3997 for i in range(100)]
    for t in texts:
        send(stack, owner.token, room, t)
    r = history(stack, owner.token, room, limit=100)
    assert r.status_code == 200, r.text[:300]
    assert [m["content"] for m in r.json()] == texts[::-1]


def test_deleted_messages_stay_in_history_emptied(stack):
    owner = token_user(stack)
    room = room_with(stack, owner)
    a = send(stack, owner.token, room, "keep")
    b = send(stack, owner.token, room, "gone")
    r = request(stack, "DELETE", "/api/message/delete", token=owner.token,
                params={"message_id": b["id"]})
    assert r.status_code == 200 and r.json() == {"status": "deleted"}, r.text
    got = history(stack, owner.token, room).json()
    assert [m["id"] for m in got] == [b["id"], a["id"]]
    assert got[0]["content"] == "" and got[0]["is_deleted"] is True
    assert got[1]["content"] == "keep" and got[1]["is_deleted"] is False


# ------------------------------------------------------------ update

def update(stack, token, message_id, content):
    return put(stack, "/api/message/update", {"content": content}, token=token,
               params={"message_id": message_id})


def edit_history(stack, token, message_id):
    return get(stack, "/api/message/edit-history", token=token,
               params={"message_id": message_id})


def test_update_by_author_writes_history_and_event(stack):
    owner, bob = real_user(stack), real_user(stack)
    room = room_with(stack, owner, bob)
    m = send(stack, bob.token, room, "v1")
    r = update(stack, bob.token, m["id"], "v2\nwith <b>")
    assert r.status_code == 200, r.text
    u = assert_message(r.json())
    assert u["id"] == m["id"] and u["content"] == "v2\nwith <b>" and u["is_edited"] is True
    assert u["seq"] == m["seq"] and u["created_at"] == m["created_at"]
    env = last_event(stack, room, "message-updated")
    assert env["payload"] == u and env["user_id"] == bob.id
    assert update(stack, bob.token, m["id"], "v3").status_code == 200
    r = edit_history(stack, owner.token, m["id"])
    assert r.status_code == 200, r.text
    h = r.json()
    assert [e["content"] for e in h] == ["v1", "v2\nwith <b>"]
    for e in h:
        assert set(e) == {"id", "message_id", "content", "edited_by", "edited_at"}, e
        assert e["message_id"] == m["id"] and e["edited_by"] == bob.id
    assert edit_history(stack, bob.token, send(stack, bob.token, room, "x")["id"]).json() == []


def test_update_refusals(stack):
    owner, bob = token_user(stack), token_user(stack)
    room = room_with(stack, owner, bob)
    m = send(stack, bob.token, room, "mine")
    assert_error(update(stack, owner.token, m["id"], "not yours"), 403, "forbidden",
                 "You can only edit your own messages")
    assert_error(update(stack, bob.token, m["id"], "a\x07"), 400, "invalid_request")
    assert_error(update(stack, bob.token, m["id"], ""), 400, "invalid_request")
    assert_error(update(stack, bob.token, m["id"], "x" * 4001), 400, "invalid_request")
    assert_error(update(stack, bob.token, "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1", "x"), 404,
                 "not_found", "Message not found")
    assert_error(put(stack, "/api/message/update", {"content": "x"}, token=bob.token), 400,
                 "missing_parameter", "message_id is required")
    assert_error(put(stack, "/api/message/update", "nope", token=bob.token,
                     params={"message_id": m["id"]}), 400, "invalid_json")
    set_settings(stack, room, allow_message_edits=False)
    assert_error(update(stack, bob.token, m["id"], "edit"), 403, "edits_disabled")
    set_settings(stack, room, allow_message_edits=True)
    request(stack, "DELETE", "/api/message/delete", token=bob.token, params={"message_id": m["id"]})
    assert_error(update(stack, bob.token, m["id"], "resurrect"), 409, "message_deleted")
    assert pg_rows(stack, "SELECT content, is_edited FROM chat.messages WHERE id = %s",
                   (m["id"],)) == [("", False)]
    assert pg_rows(stack, "SELECT count(*) FROM chat.message_edits WHERE message_id = %s",
                   (m["id"],)) == [(0,)]


# ------------------------------------------------------------ delete

def delete(stack, token, message_id):
    return request(stack, "DELETE", "/api/message/delete", token=token,
                   params={"message_id": message_id})


def test_delete_by_author_or_moderator(stack):
    owner, bob, carol, mod = (token_user(stack) for _ in range(4))
    room = room_with(stack, owner, bob, carol, mod)
    set_role(stack, owner.token, room, mod.id, "moderator")
    m1 = send(stack, bob.token, room, "one")
    update(stack, bob.token, m1["id"], "one, edited")
    assert_error(delete(stack, carol.token, m1["id"]), 403, "forbidden",
                 "You can only delete your own messages")
    r = delete(stack, bob.token, m1["id"])
    assert r.status_code == 200 and r.json() == {"status": "deleted"}
    env = last_event(stack, room, "message-deleted")
    assert env["payload"] == {"id": m1["id"], "room_id": room} and env["user_id"] == bob.id
    assert pg_rows(stack, "SELECT content, is_deleted FROM chat.messages WHERE id = %s",
                   (m1["id"],)) == [("", True)]
    assert edit_history(stack, bob.token, m1["id"]).json() == []
    n = len(room_events(stack, room))
    assert delete(stack, bob.token, m1["id"]).status_code == 200   # again: no new event
    assert len(room_events(stack, room)) == n
    m2 = send(stack, bob.token, room, "two")
    assert delete(stack, mod.token, m2["id"]).status_code == 200
    m3 = send(stack, mod.token, room, "three")
    assert_error(delete(stack, bob.token, m3["id"]), 403, "forbidden")
    assert delete(stack, owner.token, m3["id"]).status_code == 200
    assert_error(delete(stack, bob.token, "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"), 404,
                 "not_found")
    assert_error(request(stack, "DELETE", "/api/message/delete", token=bob.token,
                         params={"message_id": "1234"}), 400, "invalid_parameter")


# ------------------------------------------------------------ forward

def forward(stack, token, message_id, room_id):
    return post(stack, "/api/message/forward", {"message_id": message_id, "room_id": room_id},
                token=token)


def test_forward_201_into_a_room_of_both(stack):
    owner, bob, outsider = token_user(stack), token_user(stack), token_user(stack)
    a = room_with(stack, owner, bob)
    b = room_with(stack, bob)
    m = send(stack, owner.token, a, "pass it on\n<i>")
    r = forward(stack, bob.token, m["id"], b)
    assert r.status_code == 201, r.text
    f = assert_message(r.json(), forwarded=True)
    assert f["forwarded_from"] == m["id"] and f["room_id"] == b and f["user_id"] == bob.id
    assert f["content"] == m["content"] and f["type"] == "text" and f["id"] != m["id"]
    assert last_event(stack, b, "chat-message")["payload"] == f
    assert_error(forward(stack, owner.token, m["id"], b), 403, "not_member",
                 "You must be a member of the target room")
    assert_error(forward(stack, outsider.token, m["id"], b), 403, "not_member",
                 "You must be a member of the original room")
    assert_error(forward(stack, bob.token, m["id"], "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"),
                 404, "not_found", "Target room not found")
    assert_error(forward(stack, bob.token, "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1", b),
                 404, "not_found", "Original message not found")
    assert_error(post(stack, "/api/message/forward", {"room_id": b}, token=bob.token),
                 400, "invalid_request", "message_id is required")
    delete(stack, owner.token, m["id"])
    assert_error(forward(stack, bob.token, m["id"], b), 404, "not_found",
                 "Original message not found")


# ------------------------------------------------------------ search

def search(stack, token, q, **params):
    return get(stack, "/api/messages/search", token=token, params={"q": q, **params})


def test_search_full_text_in_the_callers_rooms(stack):
    owner, bob = real_user(stack), token_user(stack)
    word = "zq" + owner.id[:8].replace("-", "")
    mine = room_with(stack, owner)
    theirs = room_with(stack, bob)
    m1 = send(stack, owner.token, mine, f"the {word} is here")
    m2 = send(stack, owner.token, mine, f"another {word.upper()} mention & more")
    send(stack, owner.token, mine, "nothing relevant")
    send(stack, bob.token, theirs, f"{word} in a room the owner is not in")
    gone = send(stack, owner.token, mine, f"{word} deleted")
    delete(stack, owner.token, gone["id"])
    r = search(stack, owner.token, word)
    assert r.status_code == 200, r.text
    hits = r.json()
    assert [h["id"] for h in hits] == [m2["id"], m1["id"]]
    for h in hits:
        assert set(h) == {"id", "room_id", "room_name", "user_id", "username", "content",
                          "created_at", "seq"}, h
        assert h["room_id"] == mine and h["username"] == owner.username
    assert [h["id"] for h in search(stack, owner.token, word, limit=1).json()] == [m2["id"]]
    assert [h["id"] for h in search(stack, owner.token, f'"the {word}"').json()] == [m1["id"]]
    assert [h["id"] for h in search(stack, owner.token, f"{word} -another").json()] == [m1["id"]]
    assert search(stack, owner.token, "zzzznotaword" + word).json() == []
    assert search(stack, owner.token, "!!! ---").json() == []
    assert_error(get(stack, "/api/messages/search", token=owner.token), 400,
                 "missing_parameter", "Search query is required")
    assert_error(search(stack, owner.token, "a" * 201), 400, "invalid_parameter",
                 "Search query is too long")
    assert search(stack, owner.token, "a" * 200).status_code == 200
    assert_error(search(stack, owner.token, word, limit=0), 400, "invalid_parameter")
    assert_error(search(stack, owner.token, "a\x01"), 400, "invalid_parameter")


# ------------------------------------------------------------ mentions

def connected(stack, users, fn, also=()):
    """Runs fn while every one of users and of also holds a /api/ws socket;
    returns what fn returned. users must show online to themselves (also
    need not: their sockets open first, and chatd records sockets in
    order)."""
    async def go():
        socks = [await websockets.connect(
            f"ws://127.0.0.1:{stack.port}/api/ws?token={u.token}") for u in (*also, *users)]
        try:
            for u in users:
                wait_until(lambda u=u: get(stack, "/api/presence/user", token=u.token,
                                           params={"user_id": u.id}).json()["status"] == "online",
                           5, interval=0.05, what=f"{u} online")
            return await asyncio.to_thread(fn)
        finally:
            for ws in socks:
                await ws.close()
    return asyncio.run(asyncio.wait_for(go(), 30))


def here_mentioned(stack, message_id):
    return {u for (u,) in pg_rows(stack, "SELECT user_id::text FROM chat.mentions"
                                  " WHERE message_id = %s AND type = 'here'", (message_id,))}


def test_here_mentions_only_the_members_online_who_show_it(stack):
    """@here: the members holding a socket, not the others, and not those
    who show themselves offline (invisible, or online status hidden)."""
    owner, on, off, invisible, hidden = (real_user(stack) for _ in range(5))
    room = room_with(stack, owner, on, off, invisible, hidden)
    r = put(stack, "/api/status/update", {"status": "invisible"}, token=invisible.token)
    assert r.status_code == 200, r.text
    r = put(stack, "/api/privacy/update", {"show_online_status": False}, token=hidden.token)
    assert r.status_code == 200, r.text
    m = connected(stack, [owner, on], lambda: send(stack, owner.token, room, "hi @HERE"),
                  also=[invisible, hidden])
    assert here_mentioned(stack, m["id"]) == {on.id}
    assert here_mentioned(stack, send(stack, owner.token, room, "@here, anyone?")["id"]) == set()
    a = send(stack, owner.token, room, "@all of you")
    assert len(pg_rows(stack, "SELECT 1 FROM chat.mentions WHERE message_id = %s",
                       (a["id"],))) == 4

def test_mentions_and_notifications_written_with_the_message(stack):
    owner, bob, carol, outsider = (real_user(stack) for _ in range(4))
    room = room_with(stack, owner, bob, carol)
    m = send(stack, owner.token, room,
             f"hi @{bob.username.upper()} and @{outsider.username} and @{owner.username}"
             f" mail x@{carol.username} @nosuchuser_zz @{carol.username}x"
             f" @{'a' * 32}{carol.username}")
    rows = pg_rows(stack, "SELECT user_id::text, type, mentioned_by::text FROM chat.mentions"
                   " WHERE message_id = %s", (m["id"],))
    assert rows == [(bob.id, "user", owner.id)]
    notes = pg_rows(stack, "SELECT user_id::text, type, title, data FROM chat.notifications"
                    " WHERE data->>'message_id' = %s", (m["id"],))
    assert notes == [(bob.id, "mention", f"{owner.username} mentioned you",
                      {"message_id": m["id"], "room_id": room, "mention_type": "user"})]
    a = send(stack, bob.token, room, f"@all look, and @{carol.username}")
    rows = dict(pg_rows(stack, "SELECT user_id::text, type FROM chat.mentions"
                        " WHERE message_id = %s", (a["id"],)))
    assert rows == {owner.id: "all", carol.id: "user"}
    titles = dict(pg_rows(stack, "SELECT user_id::text, title FROM chat.notifications"
                          " WHERE data->>'message_id' = %s", (a["id"],)))
    assert titles == {owner.id: f"{bob.username} mentioned @all",
                      carol.id: f"{bob.username} mentioned you"}
    h = connected(stack, [owner, bob], lambda: send(stack, carol.token, room, "@here now"))
    assert dict(pg_rows(stack, "SELECT user_id::text, type FROM chat.mentions"
                        " WHERE message_id = %s", (h["id"],))) == {owner.id: "here", bob.id: "here"}

    r = get(stack, "/api/mentions", token=bob.token)
    assert r.status_code == 200, r.text
    mine = r.json()
    assert [x["message_id"] for x in mine] == [h["id"], m["id"]]
    assert set(mine[0]) == {"id", "message_id", "room_id", "user_id", "mentioned_by",
                            "username", "type", "content", "created_at"}
    assert mine[1]["mentioned_by"] == owner.id and mine[1]["username"] == owner.username
    assert mine[1]["content"] == m["content"]
    assert [x["message_id"] for x in get(stack, "/api/mentions", token=bob.token,
                                         params={"limit": 1}).json()] == [h["id"]]
    assert get(stack, "/api/mentions", token=outsider.token).json() == []
    assert_error(get(stack, "/api/mentions", token=bob.token, params={"limit": 101}), 400,
                 "invalid_parameter")

    r = get(stack, "/api/mentions/message", token=carol.token, params={"message_id": a["id"]})
    assert r.status_code == 200, r.text
    assert {x["user_id"]: x["type"] for x in r.json()} == {owner.id: "all", carol.id: "user"}
    assert_error(get(stack, "/api/mentions/message", token=outsider.token,
                     params={"message_id": a["id"]}), 403, "not_member")
    assert_error(get(stack, "/api/mentions/message", token=carol.token), 400,
                 "missing_parameter")
    # Deleting the message takes its mentions with it.
    delete(stack, owner.token, m["id"])
    assert [x["message_id"] for x in get(stack, "/api/mentions", token=bob.token).json()] \
        == [h["id"]]


# ------------------------------------------------------------ read receipts

def mark_read(stack, token, message_id, room_id=None):
    body = {"message_id": message_id}
    if room_id is not None:
        body["room_id"] = room_id
    return post(stack, "/api/message/read", body, token=token)


def test_read_receipts_idempotent(stack):
    owner, bob, outsider = real_user(stack), real_user(stack), token_user(stack)
    room = room_with(stack, owner, bob)
    other = room_with(stack, owner)
    r = get(stack, "/api/message/read/last", token=bob.token, params={"room_id": room})
    assert r.status_code == 200 and r.json() == {"message_id": None, "read_at": None}, r.text
    m1 = send(stack, owner.token, room, "one")
    m2 = send(stack, owner.token, room, "two")
    for _ in range(3):
        r = mark_read(stack, bob.token, m1["id"], room)
        assert r.status_code == 200 and r.json() == {"status": "read"}, r.text
    assert pg_rows(stack, "SELECT count(*) FROM chat.read_receipts WHERE message_id = %s",
                   (m1["id"],)) == [(1,)]
    r = get(stack, "/api/message/read/last", token=bob.token, params={"room_id": room})
    assert r.json()["message_id"] == m1["id"]
    assert mark_read(stack, bob.token, m2["id"]).status_code == 200
    assert mark_read(stack, owner.token, m2["id"]).status_code == 200
    mark_read(stack, bob.token, m1["id"])
    last = get(stack, "/api/message/read/last", token=bob.token, params={"room_id": room}).json()
    assert last["message_id"] == m2["id"] and last["read_at"]
    r = get(stack, "/api/message/read/receipts", token=owner.token, params={"message_id": m2["id"]})
    assert r.status_code == 200, r.text
    got = r.json()
    assert [x["user_id"] for x in got] == [bob.id, owner.id]
    assert got[0] == {"message_id": m2["id"], "user_id": bob.id, "username": bob.username,
                      "read_at": got[0]["read_at"]}
    m3 = send(stack, owner.token, room, "three")
    assert get(stack, "/api/message/read/receipts", token=owner.token,
               params={"message_id": m3["id"]}).json() == []
    assert_error(mark_read(stack, bob.token, m1["id"], other), 400, "invalid_request",
                 "Room mismatch")
    assert_error(mark_read(stack, outsider.token, m1["id"]), 403, "not_member")
    assert_error(mark_read(stack, bob.token, "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"), 404,
                 "not_found")
    assert_error(post(stack, "/api/message/read", {}, token=bob.token), 400, "invalid_request",
                 "message_id is required")
    assert_error(get(stack, "/api/message/read/last", token=outsider.token,
                     params={"room_id": room}), 403, "not_member")
    assert_error(get(stack, "/api/message/read/receipts", token=outsider.token,
                     params={"message_id": m1["id"]}), 403, "not_member")


def test_new_rooms_are_independent(stack):
    """Each test's room is new: seq starts after the room's own events."""
    owner = token_user(stack)
    room = new_room(stack, owner.token)["id"]
    m = send(stack, owner.token, room, "x")
    assert m["seq"] == len(room_events(stack, room))
    join(stack, token_user(stack).token, room)
