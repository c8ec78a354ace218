"""Threads (reference §1.7): create (at most one per message), read, list
per message, post, edit and delete thread messages, with their events."""

from authlib import client_ip  # noqa: F401  (autouse: one client address per test)
from authlib import assert_error, get, pg_exec, pg_rows, post, put, request
from chatlib import last_event, real_user, room_with, send, set_role, token_user, as_admin

THREAD_KEYS = {"id", "room_id", "parent_id", "created_by", "created_at", "messages"}
TMSG_KEYS = {"id", "thread_id", "user_id", "username", "content", "is_edited", "is_deleted",
             "created_at", "updated_at"}
NO_SUCH = "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"


def create(stack, token, parent_id, room_id, content=None):
    body = {"parent_id": parent_id, "room_id": room_id}
    if content is not None:
        body["content"] = content
    return post(stack, "/api/thread/create", body, token=token)


def add(stack, token, thread_id, content):
    return post(stack, "/api/thread/message", {"content": content}, token=token,
                params={"thread_id": thread_id})


def edit(stack, token, message_id, content):
    return put(stack, "/api/thread/message/update", {"content": content}, token=token,
               params={"message_id": message_id})


def remove(stack, token, message_id):
    return request(stack, "DELETE", "/api/thread/message/delete", token=token,
                   params={"message_id": message_id})


def thread_of(stack, token, thread_id):
    return get(stack, "/api/thread", token=token, params={"thread_id": thread_id})


def test_thread_lifecycle_and_events(stack):
    owner, bob = real_user(stack), real_user(stack)
    room = room_with(stack, owner, bob)
    parent = send(stack, owner.token, room, "start here")
    r = create(stack, bob.token, parent["id"], room, "first reply\nwith <b>")
    assert r.status_code == 200, r.text
    t = r.json()
    assert set(t) == THREAD_KEYS, t
    assert t["room_id"] == room and t["parent_id"] == parent["id"] and t["created_by"] == bob.id
    assert len(t["messages"]) == 1
    first = t["messages"][0]
    assert set(first) == TMSG_KEYS and first["content"] == "first reply\nwith <b>"
    assert first["username"] == bob.username and first["thread_id"] == t["id"]
    env = last_event(stack, room, "thread-created")
    assert env["payload"] == t and env["user_id"] == bob.id

    r = add(stack, owner.token, t["id"], "second")
    assert r.status_code == 200, r.text
    second = r.json()
    assert set(second) == TMSG_KEYS and second["content"] == "second"
    assert last_event(stack, room, "thread-message")["payload"] == second

    r = edit(stack, owner.token, second["id"], "second, edited")
    assert r.status_code == 200, r.text
    assert r.json()["is_edited"] is True and r.json()["content"] == "second, edited"
    env = last_event(stack, room, "thread-message-updated")
    assert env["payload"] == r.json() and env["room_id"] == room

    got = thread_of(stack, bob.token, t["id"])
    assert got.status_code == 200, got.text
    assert [m["content"] for m in got.json()["messages"]] == ["first reply\nwith <b>",
                                                             "second, edited"]
    lst = get(stack, "/api/threads", token=bob.token, params={"message_id": parent["id"]})
    assert lst.status_code == 200, lst.text
    (one,) = lst.json()
    assert one["id"] == t["id"] and one["message_count"] == 2
    assert one["last_message"]["id"] == second["id"]

    r = remove(stack, bob.token, first["id"])
    assert r.status_code == 200 and r.json() == {"status": "deleted"}, r.text
    env = last_event(stack, room, "thread-message-deleted")
    assert env["payload"] == {"id": first["id"], "thread_id": t["id"], "room_id": room}
    assert remove(stack, bob.token, first["id"]).status_code == 200
    msgs = thread_of(stack, bob.token, t["id"]).json()["messages"]
    assert msgs[0]["is_deleted"] is True and msgs[0]["content"] == ""
    one = get(stack, "/api/threads", token=bob.token, params={"message_id": parent["id"]}).json()[0]
    assert one["message_count"] == 1
    assert_error(edit(stack, bob.token, first["id"], "back"), 409, "message_deleted")


def test_thread_create_refusals(stack):
    owner, bob, outsider = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, owner, bob)
    other = room_with(stack, owner)
    parent = send(stack, owner.token, room, "p")
    assert_error(create(stack, bob.token, parent["id"], other, "x"), 400, "invalid_request",
                 "Room mismatch")
    assert_error(create(stack, outsider.token, parent["id"], room, "x"), 403, "not_member")
    assert_error(create(stack, bob.token, NO_SUCH, room, "x"), 404, "not_found")
    assert_error(create(stack, bob.token, parent["id"], room, "a\x07"), 400, "invalid_request")
    assert_error(create(stack, bob.token, parent["id"], room, "y" * 4001), 400, "invalid_request")
    assert_error(post(stack, "/api/thread/create", {"room_id": room}, token=bob.token), 400,
                 "invalid_request", "parent_id is required")
    assert pg_rows(stack, "SELECT count(*) FROM chat.threads WHERE parent_id = %s",
                   (parent["id"],)) == [(0,)]
    r = create(stack, bob.token, parent["id"], room)          # no first message
    assert r.status_code == 200 and r.json()["messages"] == [], r.text
    assert_error(create(stack, owner.token, parent["id"], room, "again"), 409, "conflict")
    gone = send(stack, owner.token, room, "gone")
    request(stack, "DELETE", "/api/message/delete", token=owner.token,
            params={"message_id": gone["id"]})
    assert_error(create(stack, bob.token, gone["id"], room), 404, "not_found")


def test_thread_messages_permissions(stack):
    owner, bob, carol, mod, outsider = (token_user(stack) for _ in range(5))
    room = room_with(stack, owner, bob, carol, mod)
    set_role(stack, owner.token, room, mod.id, "moderator")
    parent = send(stack, owner.token, room, "p")
    t = create(stack, bob.token, parent["id"], room, "bob's").json()
    bm = t["messages"][0]
    assert_error(add(stack, outsider.token, t["id"], "hi"), 403, "not_member")
    assert_error(thread_of(stack, outsider.token, t["id"]), 403, "not_member")
    assert_error(add(stack, bob.token, NO_SUCH, "hi"), 404, "not_found", "Thread not found")
    assert_error(thread_of(stack, bob.token, NO_SUCH), 404, "not_found")
    assert_error(add(stack, bob.token, t["id"], ""), 400, "invalid_request")
    assert_error(post(stack, "/api/thread/message", {"content": "x"}, token=bob.token), 400,
                 "missing_parameter", "thread_id is required")
    assert_error(edit(stack, carol.token, bm["id"], "not mine"), 403, "forbidden")
    assert_error(edit(stack, mod.token, bm["id"], "mods do not edit"), 403, "forbidden")
    assert_error(remove(stack, carol.token, bm["id"]), 403, "forbidden")
    assert_error(edit(stack, bob.token, NO_SUCH, "x"), 404, "not_found")
    pg_exec(stack, "UPDATE chat.room_settings SET allow_message_edits = false WHERE room_id = %s",
            (room,))
    assert_error(edit(stack, bob.token, bm["id"], "edit"), 403, "edits_disabled")
    assert remove(stack, mod.token, bm["id"]).status_code == 200
    cm = add(stack, carol.token, t["id"], "carol").json()
    assert remove(stack, as_admin(stack, outsider).token, cm["id"]).status_code == 200
    assert pg_rows(stack, "SELECT content, is_deleted FROM chat.thread_messages WHERE id = %s",
                   (cm["id"],)) == [("", True)]
    assert get(stack, "/api/threads", token=bob.token,
               params={"message_id": send(stack, bob.token, room, "q")["id"]}).json() == []
    assert_error(get(stack, "/api/threads", token=outsider.token,
                     params={"message_id": parent["id"]}), 403, "not_member")
