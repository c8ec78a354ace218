"""Typing in conversations (chatd/typing.c): /api/typing/{start,stop,users}
with dm_user_id (the caller's direct conversation with that user) or
conversation_id (any conversation, group DMs included), the internal route
/internal/dm/typing that gatewayd's hub calls, the Redis keys
(enclavr:typing:dm:<conversation>), and the ephemeral dm-typing /
dm-stop-typing events published on dm.<conversation> with "to", the
members (start, throttle, stop, expiry, a dm-message of the typist).

Only members may type or list: a non-member is answered 404 as if the
conversation did not exist, a direct conversation where either user
blocked the other 403. Events are read on chatd's own PUB socket (the
helpers of test_chat_typing.py) and, once delivered, on the peer's
WebSocket."""

import asyncio
import json
import time
import uuid

import pytest
import websockets

from authlib import assert_error, client_ip, get, pg_exec, pg_rows, post, request  # noqa: F401
from chatlib import join, new_room, real_user, token_user
from stacklib import RFC3339_RE
from test_chat_typing import (THROTTLE_S, TTL_S, ChatdEvents, assert_ok, chatd_call,
                              redis_cli, sock_path, typing_list, ws_next, ws_url)

DM_EVENT_KEYS = {"type", "conversation_id", "user_id", "target_user_id", "payload",
                 "timestamp", "to"}
NIL_UUID = "00000000-0000-0000-0000-000000000000"


class DmEvents(ChatdEvents):
    def dm_event(self, conv, types, timeout=5):
        """The next event of conversation conv whose type is in types;
        None when none comes."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.next_event(f"dm.{conv}", max(0.01, deadline - time.monotonic()))
            if got is None:
                return None
            if got[1]["type"] in types:
                return got[1]


@pytest.fixture
def events(stack):
    ev = DmEvents(sock_path(stack, "chatd.pub"))
    yield ev
    ev.close()


# ------------------------------------------------------------ helpers

def send_dm(stack, sender, receiver, content="hi"):
    r = post(stack, "/api/dm/send", {"receiver_id": receiver.id, "content": content},
             token=sender.token)
    assert r.status_code == 200, r.text
    return r.json()


def direct_pair(stack):
    """Two registered users and their direct conversation's id."""
    a, b = real_user(stack, "dt"), real_user(stack, "dt")
    return send_dm(stack, a, b)["conversation_id"], a, b


def group_of(stack, users):
    """A group conversation of users (made in SQL: the group routes are
    not what is tested here)."""
    [(conv,)] = pg_rows(stack, "INSERT INTO chat.conversations (kind, name, created_by)"
                        " VALUES ('group', 'typing', %s) RETURNING id::text", (users[0].id,))
    for i, u in enumerate(users):
        pg_exec(stack, "INSERT INTO chat.conversation_members"
                " (conversation_id, user_id, kind, role) VALUES (%s, %s, 'group', %s)",
                (conv, u.id, "owner" if i == 0 else "member"))
    return conv


def start(stack, user, **where):
    return post(stack, "/api/typing/start", where, token=user.token)


def stop(stack, user, method="DELETE", **where):
    return request(stack, method, "/api/typing/stop", token=user.token, params=where)


def users_of(stack, user, **where):
    return get(stack, "/api/typing/users", token=user.token, params=where)


def typers(stack, user, **where):
    return typing_list(stack, user.token, **where)


def ids(typists):
    return [t["user_id"] for t in typists]


def assert_dm_event(ev, type_, conv, user, members):
    assert ev is not None, f"no {type_} event"
    assert set(ev) == DM_EVENT_KEYS, ev	# ephemeral: no seq
    assert ev["type"] == type_ and ev["conversation_id"] == conv, ev
    assert ev["user_id"] == user.id and ev["target_user_id"] == NIL_UUID, ev
    assert ev["payload"] == {"user_id": user.id, "username": user.username or "",
                             "conversation_id": conv}, ev
    assert ev["to"] == sorted(u.id for u in members), ev
    assert RFC3339_RE.match(ev["timestamp"]), ev


def typing_field(stack, conv, user_id):
    v = redis_cli(stack, "HGET", f"enclavr:typing:dm:{conv}", user_id)
    return tuple(int(x) for x in v.split()) if v else None


# ------------------------------------------------------------ REST

def test_start_list_stop_by_user_and_by_conversation(stack):
    conv, a, b = direct_pair(stack)
    assert typers(stack, a, dm_user_id=b.id) == []
    assert_ok(start(stack, b, dm_user_id=a.id))
    [t] = typers(stack, a, dm_user_id=b.id)
    assert t["user_id"] == b.id and t["username"] == b.username, t
    assert typers(stack, b, dm_user_id=a.id) == [t]
    assert typers(stack, a, conversation_id=conv) == [t]
    # By conversation_id, upper-case too; a renewal keeps the start.
    assert_ok(start(stack, b, conversation_id=conv.upper()))
    assert_ok(start(stack, a, conversation_id=conv))
    assert typers(stack, a, conversation_id=conv)[0] == t
    assert ids(typers(stack, b, dm_user_id=a.id.upper())) == [b.id, a.id]
    assert_ok(stop(stack, b, dm_user_id=a.id))
    assert ids(typers(stack, b, conversation_id=conv)) == [a.id]
    # POST with the id in the body, and a stop of someone not typing.
    assert_ok(post(stack, "/api/typing/stop", {"conversation_id": conv}, token=a.token))
    assert_ok(post(stack, "/api/typing/stop", {"dm_user_id": b.id}, token=a.token))
    assert_ok(stop(stack, a, method="POST", conversation_id=conv))
    assert typers(stack, a, dm_user_id=b.id) == []


def test_no_conversation_with_this_user(stack):
    a, c = real_user(stack, "dt"), real_user(stack, "dt")
    msg = "No conversation with this user"
    for peer in (c.id, str(uuid.uuid4()), a.id):	# no DM yet, nobody, oneself
        assert_error(start(stack, a, dm_user_id=peer), 404, "not_found", msg)
        assert_error(stop(stack, a, dm_user_id=peer), 404, "not_found", msg)
        assert_error(post(stack, "/api/typing/stop", {"dm_user_id": peer}, token=a.token),
                     404, "not_found", msg)
        assert_error(users_of(stack, a, dm_user_id=peer), 404, "not_found", msg)
    # Once a message was sent, either side may type.
    send_dm(stack, c, a)
    assert_ok(start(stack, a, dm_user_id=c.id))
    assert ids(typers(stack, c, dm_user_id=a.id)) == [a.id]
    assert_ok(stop(stack, a, dm_user_id=c.id))


def test_non_members_are_told_not_found(stack):
    conv, a, b = direct_pair(stack)
    outsider = real_user(stack, "dt")
    msg = "Conversation not found"
    for who, where in ((outsider, conv), (a, str(uuid.uuid4()))):
        assert_error(start(stack, who, conversation_id=where), 404, "not_found", msg)
        assert_error(stop(stack, who, conversation_id=where), 404, "not_found", msg)
        assert_error(users_of(stack, who, conversation_id=where), 404, "not_found", msg)
    # A room's id is no conversation, nor a conversation's a room.
    room = new_room(stack, a.token)["id"]
    assert_error(start(stack, a, conversation_id=room), 404, "not_found", msg)
    assert_error(start(stack, a, room_id=conv), 404, "not_found", "Room not found")
    assert typing_field(stack, conv, outsider.id) is None


def test_blocked_either_way(stack):
    conv, a, b = direct_pair(stack)
    assert_ok(start(stack, a, dm_user_id=b.id))
    for blocker, blocked in ((a, b), (b, a)):
        pg_exec(stack, "INSERT INTO chat.blocks (blocker_id, blocked_id) VALUES (%s, %s)",
                (blocker.id, blocked.id))
        try:
            for who, peer in ((a, b), (b, a)):
                for r in (start(stack, who, dm_user_id=peer.id),
                          start(stack, who, conversation_id=conv),
                          stop(stack, who, dm_user_id=peer.id),
                          users_of(stack, who, dm_user_id=peer.id)):
                    assert_error(r, 403, "blocked")
        finally:
            pg_exec(stack, "DELETE FROM chat.blocks WHERE blocker_id = %s AND blocked_id = %s",
                    (blocker.id, blocked.id))
    assert ids(typers(stack, b, dm_user_id=a.id)) == [a.id]
    assert_ok(stop(stack, a, conversation_id=conv))


def test_group_conversation(stack):
    a, b, c = (real_user(stack, "dt") for _ in range(3))
    outsider = real_user(stack, "dt")
    conv = group_of(stack, [a, b, c])
    assert_ok(start(stack, b, conversation_id=conv))
    assert_ok(start(stack, c, conversation_id=conv))
    assert ids(typers(stack, a, conversation_id=conv)) == [b.id, c.id]
    assert_error(start(stack, outsider, conversation_id=conv), 404, "not_found")
    assert_error(users_of(stack, outsider, conversation_id=conv), 404, "not_found")
    # A group is no direct conversation: dm_user_id does not reach it.
    assert_error(start(stack, a, dm_user_id=b.id), 404, "not_found")
    # A typist who left is not listed.
    pg_exec(stack, "DELETE FROM chat.conversation_members"
            " WHERE conversation_id = %s AND user_id = %s", (conv, c.id))
    assert ids(typers(stack, a, conversation_id=conv)) == [b.id]
    assert_error(stop(stack, c, conversation_id=conv), 404, "not_found")
    assert_ok(stop(stack, b, conversation_id=conv))


@pytest.mark.parametrize("body,code", [
    ({"conversation_id": None}, "missing_parameter"),
    ({"dm_user_id": None}, "missing_parameter"),
    ({"conversation_id": "nope"}, "invalid_parameter"),
    ({"dm_user_id": 12}, "invalid_parameter"),
    ({"conversation_id": str(uuid.uuid4()), "dm_user_id": str(uuid.uuid4())},
     "invalid_parameter"),
    ({"room_id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4())}, "invalid_parameter"),
])
def test_start_bad_bodies(stack, body, code):
    u = token_user(stack)
    assert_error(post(stack, "/api/typing/start", body, token=u.token), 400, code)


@pytest.mark.parametrize("params,code", [
    ({"conversation_id": ""}, "missing_parameter"),
    ({"conversation_id": "zz"}, "invalid_parameter"),
    ({"dm_user_id": "1" * 100}, "invalid_parameter"),
    ({"room_id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4())}, "invalid_parameter"),
    ({"dm_user_id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4())},
     "invalid_parameter"),
])
def test_stop_and_users_bad_queries(stack, params, code):
    u = token_user(stack)
    assert_error(request(stack, "DELETE", "/api/typing/stop", token=u.token, params=params),
                 400, code)
    assert_error(get(stack, "/api/typing/users", token=u.token, params=params), 400, code)


def test_redis_keys_apart_from_rooms(stack):
    conv, a, b = direct_pair(stack)
    before = int(time.time() * 1000)
    assert_ok(start(stack, a, dm_user_id=b.id))
    started, expires, announced = typing_field(stack, conv, a.id)
    assert before - 1000 <= started <= announced < expires, (started, expires, announced)
    assert expires - announced == TTL_S * 1000
    due = float(redis_cli(stack, "ZSCORE", "enclavr:typing-due", f"dm:{conv}/{a.id}"))
    assert int(due) == expires
    assert 0 < int(redis_cli(stack, "PTTL", f"enclavr:typing:dm:{conv}")) <= TTL_S * 1000
    assert redis_cli(stack, "EXISTS", f"enclavr:typing:{conv}") == "0"
    assert_ok(stop(stack, a, conversation_id=conv))
    assert typing_field(stack, conv, a.id) is None
    assert redis_cli(stack, "ZSCORE", "enclavr:typing-due", f"dm:{conv}/{a.id}") == ""


# ------------------------------------------------------------ events

def test_events_throttle_and_stop(stack, events):
    conv, a, b = direct_pair(stack)
    assert_ok(start(stack, a, dm_user_id=b.id))
    assert_dm_event(events.dm_event(conv, {"dm-typing"}), "dm-typing", conv, a, [a, b])
    # Renewed within 3 s: not announced again.
    assert_ok(start(stack, a, conversation_id=conv))
    assert events.dm_event(conv, {"dm-typing", "dm-stop-typing"}, timeout=1) is None
    assert_ok(stop(stack, a, dm_user_id=b.id))
    assert_dm_event(events.dm_event(conv, {"dm-stop-typing"}), "dm-stop-typing", conv, a,
                    [a, b])
    # A stop of someone not typing says nothing; a new start is announced.
    assert_ok(stop(stack, a, dm_user_id=b.id))
    assert events.dm_event(conv, {"dm-stop-typing"}, timeout=0.5) is None
    assert_ok(start(stack, a, dm_user_id=b.id))
    assert_dm_event(events.dm_event(conv, {"dm-typing"}), "dm-typing", conv, a, [a, b])
    time.sleep(THROTTLE_S + 0.2)
    assert_ok(start(stack, a, dm_user_id=b.id))
    assert_dm_event(events.dm_event(conv, {"dm-typing"}), "dm-typing", conv, a, [a, b])
    stop(stack, a, dm_user_id=b.id)


def test_group_events_go_to_every_member(stack, events):
    a, b, c = (real_user(stack, "dt") for _ in range(3))
    conv = group_of(stack, [a, b, c])
    assert_ok(start(stack, c, conversation_id=conv))
    assert_dm_event(events.dm_event(conv, {"dm-typing"}), "dm-typing", conv, c, [a, b, c])
    assert_ok(stop(stack, c, conversation_id=conv))
    assert_dm_event(events.dm_event(conv, {"dm-stop-typing"}), "dm-stop-typing", conv, c,
                    [a, b, c])


def test_expiry_announces_a_stop(stack, events):
    """The sweep tells a conversation's expiry from a room's: each gets its
    own event, on its own topic."""
    conv, a, b = direct_pair(stack)
    room = new_room(stack, a.token)["id"]
    join(stack, b.token, room)
    assert_ok(start(stack, a, dm_user_id=b.id))
    assert_ok(start(stack, a, room_id=room))
    t0 = time.monotonic()
    assert events.dm_event(conv, {"dm-typing"}) is not None
    ev = events.dm_event(conv, {"dm-stop-typing"}, timeout=TTL_S + 4)
    assert_dm_event(ev, "dm-stop-typing", conv, a, [a, b])
    assert time.monotonic() - t0 >= TTL_S - 1.5
    assert typers(stack, b, dm_user_id=a.id) == []
    assert typing_field(stack, conv, a.id) is None
    # The room's own expiry came as user-stopped-typing on room.<id>.
    assert typers(stack, b, room_id=room) == []
    assert redis_cli(stack, "EXISTS", f"enclavr:typing:{room}") == "0"


def test_a_message_ends_typing(stack, events):
    conv, a, b = direct_pair(stack)
    assert_ok(start(stack, a, dm_user_id=b.id))
    assert_ok(start(stack, b, dm_user_id=a.id))
    assert events.dm_event(conv, {"dm-typing"}) is not None
    # b's message ends b's typing only.
    send_dm(stack, b, a, "done")
    assert_dm_event(events.dm_event(conv, {"dm-stop-typing"}), "dm-stop-typing", conv, b,
                    [a, b])
    assert events.dm_event(conv, {"dm-stop-typing"}, timeout=0.5) is None
    assert ids(typers(stack, b, conversation_id=conv)) == [a.id]
    # A message of someone not typing says nothing.
    send_dm(stack, b, a, "again")
    assert events.dm_event(conv, {"dm-stop-typing"}, timeout=0.5) is None
    stop(stack, a, dm_user_id=b.id)


# ------------------------------------------------------------ internal route

def test_internal_dm_typing(stack, events):
    conv, a, b = direct_pair(stack)
    outsider = token_user(stack)
    q = f"conversation_id={conv}&state=start"
    assert chatd_call(stack, "/internal/dm/typing", q, a.id) == (200, {"status": "ok"})
    assert_dm_event(events.dm_event(conv, {"dm-typing"}), "dm-typing", conv, a, [a, b])
    assert ids(typers(stack, b, conversation_id=conv)) == [a.id]
    status, body = chatd_call(stack, "/internal/dm/typing", q, outsider.id)
    assert status == 404 and body["error"] == "not_found", body
    for bad in (f"conversation_id={conv}", f"conversation_id={conv}&state=go",
                "conversation_id=x&state=stop", "state=stop", f"room_id={conv}&state=stop"):
        status, body = chatd_call(stack, "/internal/dm/typing", bad, a.id)
        assert status == 400 and body["error"] in ("invalid_parameter", "missing_parameter"), (
            bad, body)
    assert chatd_call(stack, "/internal/dm/typing", q)[0] == 401
    assert chatd_call(stack, "/internal/dm/typing", f"conversation_id={conv}&state=stop",
                      a.id) == (200, {"status": "ok"})
    assert_dm_event(events.dm_event(conv, {"dm-stop-typing"}), "dm-stop-typing", conv, a,
                    [a, b])
    # Not routed from HTTP.
    r = get(stack, "/internal/dm/typing", token=a.token,
            params={"conversation_id": conv, "state": "start"})
    assert r.status_code == 404, r.text


# ------------------------------------------------------------ WebSocket

def test_ws_peer_sees_dm_typing(stack):
    conv, a, b = direct_pair(stack)

    async def go():
        async with websockets.connect(ws_url(stack, a.token)) as wa, \
                websockets.connect(ws_url(stack, b.token)) as wb:
            await asyncio.sleep(0.3)	# gatewayd registers the sockets
            r = await asyncio.to_thread(start, stack, a, dm_user_id=b.id)
            assert_ok(r)
            m = await ws_next(wb, {"dm-typing"})
            assert m is not None, "gatewayd did not deliver dm-typing"
            assert m["conversation_id"] == conv and m["user_id"] == a.id, m
            assert m["payload"] == {"user_id": a.id, "username": a.username,
                                    "conversation_id": conv}, m
            assert "seq" not in m and "to" not in m, m
            # The hub's own typing messages go through /internal/dm/typing.
            await wb.send(json.dumps({"type": "typing", "conversation_id": conv}))
            m = await ws_next(wa, {"dm-typing"})
            assert m is not None and m["user_id"] == b.id, m
            await wb.send(json.dumps({"type": "stop-typing", "conversation_id": conv}))
            m = await ws_next(wa, {"dm-stop-typing"})
            assert m is not None and m["user_id"] == b.id, m
            # A typist's message ends its typing for the peer too.
            await asyncio.to_thread(send_dm, stack, a, b, "sent")
            m = await ws_next(wb, {"dm-stop-typing"})
            assert m is not None and m["user_id"] == a.id, m
    asyncio.run(asyncio.wait_for(go(), 30))
    assert typers(stack, b, conversation_id=conv) == []


# ------------------------------------------------------------ without Redis

def test_memory_fallback_keeps_conversations_apart(stack, events):
    """Keys of the wrong type make Redis answer errors, so chatd's memory
    answers: a conversation's start, its list, and its expiry (the memory
    sweep) still come out as a conversation's."""
    conv, a, b = direct_pair(stack)
    key = f"enclavr:typing:dm:{conv}"
    redis_cli(stack, "SET", key, "not a hash")
    try:
        assert_ok(start(stack, a, dm_user_id=b.id))
        assert ids(typers(stack, b, conversation_id=conv)) == [a.id]
    finally:
        redis_cli(stack, "DEL", key)
    assert_dm_event(events.dm_event(conv, {"dm-typing"}), "dm-typing", conv, a, [a, b])
    # The sweep asks Redis first: break it too until the expiry is announced.
    saved = redis_cli(stack, "EXISTS", "enclavr:typing-due") == "1"
    if saved:
        redis_cli(stack, "RENAME", "enclavr:typing-due", "enclavr:typing-due-saved")
    redis_cli(stack, "SET", "enclavr:typing-due", "not a zset")
    try:
        ev = events.dm_event(conv, {"dm-stop-typing"}, timeout=TTL_S + 4)
    finally:
        redis_cli(stack, "DEL", "enclavr:typing-due")
        if saved:
            redis_cli(stack, "RENAME", "enclavr:typing-due-saved", "enclavr:typing-due")
    assert_dm_event(ev, "dm-stop-typing", conv, a, [a, b])
    assert_ok(start(stack, b, dm_user_id=a.id))	# Redis again
    assert "presence: Redis answers again" in stack.log("chatd")
    assert ids(typers(stack, a, dm_user_id=b.id)) == [b.id]
    assert_ok(stop(stack, b, dm_user_id=a.id))
