"""Presence (chatd/presence.c, state in Redis: chatd/presence_store.c,
chosen status and last_seen in chat.presence): the REST routes
/api/presence/{update,room,user}, the internal routes gatewayd's hub calls
(/internal/chat/presence, /internal/chat/presence-reset), the Redis sets,
the ephemeral presence-update events in every room of the user, two
gatewayd and two chatd sharing the state, and the fallback to chatd's
memory when Redis is down.

Internal routes and events go over chatd's IPC sockets (helpers in
test_chat_typing.py)."""

import asyncio
import json
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import websockets

from authlib import (ExtraGatewayd, assert_error, client_ip, get, pg_exec, pg_rows,  # noqa: F401
                     post, request)
from chatlib import join, new_room, real_user, token_user
from stacklib import RFC3339_RE, sanitizer_env, wait_until
from test_chat_typing import (ChatdClient, ChatdEvents, chatd_call, redis_cli, sock_path,
                              typers, ws_next, ws_subscribe, ws_url)

EVENT_KEYS = {"type", "room_id", "user_id", "target_user_id", "payload", "timestamp"}
GW1, GW2 = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def events(stack):
    ev = ChatdEvents(sock_path(stack, "chatd.pub"))
    yield ev
    ev.close()


def sockets(stack, user, state, inst):
    """What gatewayd instance inst says of user's sockets."""
    status, body = chatd_call(stack, "/internal/chat/presence",
                              f"state={state}&instance={inst}", user.id)
    assert status == 200, body
    assert set(body) == {"status", "changed"} and body["status"] == "ok", body
    return body["changed"]


def update(stack, user, status, **kw):
    body = {"status": status}
    body.update(kw)
    return post(stack, "/api/presence/update", body, token=user.token)


def user_presence(stack, viewer, user_id):
    return get(stack, "/api/presence/user", token=viewer.token, params={"user_id": user_id})


def shown(stack, viewer, user):
    r = user_presence(stack, viewer, user.id)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"user_id", "status", "last_seen"} and body["user_id"] == user.id, body
    assert body["last_seen"] is None or RFC3339_RE.match(body["last_seen"]), body
    return body["status"]


def room_list(stack, viewer, room_id):
    r = get(stack, "/api/presence/room", token=viewer.token, params={"room_id": room_id})
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list), body
    for m in body:
        assert set(m) == {"user_id", "username", "status", "last_seen"}, m
        assert RFC3339_RE.match(m["last_seen"]) and m["status"] != "offline", m
    return {m["user_id"]: m["status"] for m in body}


def two_rooms(stack):
    """Users a, b (registered) sharing rooms r1 and r2 (a owns both)."""
    a, b = real_user(stack, "pr"), real_user(stack, "pr")
    rooms = [new_room(stack, a.token)["id"] for _ in range(2)]
    for r in rooms:
        join(stack, b.token, r)
    return a, b, rooms


def presence_events(events, rooms, timeout=5):
    """{room: event} of the next presence-update in each room."""
    return {r: events.room_event(r, {"presence-update"}, timeout) for r in rooms}


def assert_presence_event(ev, room, user, status):
    assert ev is not None, f"no presence-update in {room}"
    assert set(ev) == EVENT_KEYS, ev	# ephemeral: no seq
    assert ev["type"] == "presence-update" and ev["room_id"] == room, ev
    assert ev["user_id"] == user.id and RFC3339_RE.match(ev["timestamp"]), ev
    assert ev["payload"] == {"user_id": user.id, "username": user.username,
                             "status": status}, ev


def presence_row(stack, user_id):
    rows = pg_rows(stack, "SELECT status, room_id::text, last_seen FROM chat.presence"
                   " WHERE user_id = %s", (user_id,))
    return rows[0] if rows else None


# ------------------------------------------------------------ REST update

def test_update_answers_the_choice_and_keeps_it(stack):
    a, b, (r1, _) = two_rooms(stack)
    r = update(stack, a, "away")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"user_id", "username", "status", "last_seen"}, body
    assert (body["user_id"], body["username"], body["status"]) == (a.id, a.username, "away")
    assert RFC3339_RE.match(body["last_seen"]), body
    assert presence_row(stack, a.id)[:2] == ("away", None)
    r = update(stack, a, "dnd", room_id=r1.upper())
    assert r.status_code == 200 and r.json()["room_id"] == r1 and r.json()["status"] == "dnd"
    assert presence_row(stack, a.id)[:2] == ("dnd", r1)
    # room_id omitted clears it (the reference's rule).
    assert "room_id" not in update(stack, a, "busy").json()
    assert presence_row(stack, a.id)[:2] == ("busy", None)


def test_update_room_must_be_mine(stack):
    a, b, _ = two_rooms(stack)
    other = new_room(stack, token_user(stack).token)["id"]
    assert_error(update(stack, a, "online", room_id=other), 403, "not_member")
    assert_error(update(stack, a, "online", room_id=str(uuid.uuid4())), 403, "not_member")
    assert presence_row(stack, a.id) is None	# nothing written


@pytest.mark.parametrize("body,code", [
    ({}, "missing_parameter"),
    ({"status": "sleeping"}, "invalid_parameter"),
    ({"status": "ONLINE"}, "invalid_parameter"),
    ({"status": ""}, "invalid_parameter"),
    ({"status": 1}, "invalid_parameter"),
    ({"status": None}, "invalid_parameter"),
    ({"status": "online "}, "invalid_parameter"),
    ({"status": "x" * 900}, "invalid_parameter"),
    ({"status": "online", "room_id": "x"}, "invalid_parameter"),
    ({"status": "online", "room_id": 7}, "invalid_parameter"),
    ("[]", "invalid_json"),
])
def test_update_bad_bodies(stack, body, code):
    u = token_user(stack)
    assert_error(post(stack, "/api/presence/update", body, token=u.token), 400, code)


def test_auth_methods_limits(stack):
    for method, path in (("POST", "/api/presence/update"), ("GET", "/api/presence/room"),
                         ("GET", "/api/presence/user")):
        r = request(stack, method, path, {"status": "online"} if method == "POST" else None)
        assert r.status_code == 401, (path, r.text)
    u = token_user(stack)
    r = get(stack, "/api/presence/update", token=u.token)
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    r = post(stack, "/api/presence/room", {}, token=u.token)
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    r = post(stack, "/api/presence/update", {"status": "online", "x": "y" * 2000}, token=u.token)
    assert r.status_code == 413, r.text


# ------------------------------------------------------------ REST reads

def test_user_presence_follows_sockets_and_choice(stack):
    a, b, _ = two_rooms(stack)
    assert shown(stack, b, a) == "offline"
    assert user_presence(stack, b, a.id).json()["last_seen"] is None	# never seen
    assert sockets(stack, a, "online", GW1) is True
    assert shown(stack, b, a) == "online"
    assert shown(stack, a, a) == "online"
    for choice, seen in (("away", "away"), ("busy", "busy"), ("dnd", "dnd"),
                         ("invisible", "offline"), ("offline", "offline"), ("online", "online")):
        assert update(stack, a, choice).status_code == 200
        assert shown(stack, b, a) == seen, choice
    assert sockets(stack, a, "offline", GW1) is True
    assert shown(stack, b, a) == "offline"
    assert RFC3339_RE.match(user_presence(stack, b, a.id).json()["last_seen"])
    # A choice without a socket shows offline.
    update(stack, a, "away")
    assert shown(stack, b, a) == "offline"


def test_user_presence_needs_a_shared_room(stack):
    a, b, _ = two_rooms(stack)
    stranger = real_user(stack, "pr")
    sockets(stack, a, "online", GW1)
    assert_error(user_presence(stack, stranger, a.id), 403, "forbidden")
    assert shown(stack, b, a) == "online"
    admin = token_user(stack, admin=True)
    assert shown(stack, admin, a) == "online"
    assert_error(user_presence(stack, b, str(uuid.uuid4())), 404, "not_found")
    assert_error(user_presence(stack, b, token_user(stack).id), 404, "not_found")
    assert_error(get(stack, "/api/presence/user", token=b.token), 400, "missing_parameter")
    assert_error(get(stack, "/api/presence/user", token=b.token,
                     params={"user_id": "nope"}), 400, "invalid_parameter")
    sockets(stack, a, "offline", GW1)


def test_room_presence(stack):
    a, b, (r1, r2) = two_rooms(stack)
    c = real_user(stack, "pr")
    join(stack, c.token, r1)
    assert room_list(stack, a, r1) == {}	# [] when nobody, not null
    sockets(stack, b, "online", GW1)
    sockets(stack, c, "online", GW2)
    assert room_list(stack, a, r1) == {b.id: "online", c.id: "online"}
    assert room_list(stack, a, r2) == {b.id: "online"}
    update(stack, b, "away")
    update(stack, c, "invisible")
    assert room_list(stack, a, r1) == {b.id: "away"}
    sockets(stack, b, "offline", GW1)
    assert room_list(stack, c, r1) == {}
    outsider = token_user(stack)
    assert_error(get(stack, "/api/presence/room", token=outsider.token,
                     params={"room_id": r1}), 403, "not_member")
    assert_error(get(stack, "/api/presence/room", token=a.token,
                     params={"room_id": str(uuid.uuid4())}), 404, "not_found")
    assert_error(get(stack, "/api/presence/room", token=a.token), 400, "missing_parameter")
    assert_error(get(stack, "/api/presence/room", token=a.token,
                     params={"room_id": "1-2-3"}), 400, "invalid_parameter")
    sockets(stack, c, "offline", GW2)


# ------------------------------------------------------------ sockets, Redis, events

def test_sockets_on_two_gatewayds(stack, events):
    a, b, rooms = two_rooms(stack)
    assert sockets(stack, a, "online", GW1) is True
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, a, "online")
    assert set(redis_cli(stack, "SMEMBERS", f"enclavr:presence:{a.id}").split()) == {GW1}
    assert a.id in redis_cli(stack, "SMEMBERS", f"enclavr:presence-instance:{GW1}").split()
    # A second gatewayd, and repeated reports: nothing to announce.
    assert sockets(stack, a, "online", GW2) is False
    assert sockets(stack, a, "online", GW2) is False
    assert set(redis_cli(stack, "SMEMBERS", f"enclavr:presence:{a.id}").split()) == {GW1, GW2}
    assert sockets(stack, a, "offline", GW1) is False
    assert events.room_event(rooms[0], {"presence-update"}, timeout=0.5) is None
    assert shown(stack, b, a) == "online"
    assert sockets(stack, a, "offline", GW2) is True
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, a, "offline")
    assert redis_cli(stack, "EXISTS", f"enclavr:presence:{a.id}") == "0"
    assert a.id not in redis_cli(stack, "SMEMBERS", f"enclavr:presence-instance:{GW2}").split()
    assert sockets(stack, a, "offline", GW2) is False	# unknown socket: ignored
    assert presence_row(stack, a.id)[0] == "online"	# the row records last_seen


def test_choices_are_announced_when_they_show(stack, events):
    a, b, rooms = two_rooms(stack)
    update(stack, a, "away")	# no socket: nothing shows
    assert events.room_event(rooms[0], {"presence-update"}, timeout=0.5) is None
    sockets(stack, a, "online", GW1)
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, a, "away")
    for choice, seen in (("dnd", "dnd"), ("invisible", "offline"), ("offline", None),
                         ("online", "online"), ("online", None)):
        assert update(stack, a, choice).status_code == 200
        if seen is None:
            assert events.room_event(rooms[1], {"presence-update"}, timeout=0.5) is None
        else:
            for room, ev in presence_events(events, rooms).items():
                assert_presence_event(ev, room, a, seen)
    # Invisible users come and go unannounced.
    update(stack, a, "invisible")
    presence_events(events, rooms)
    sockets(stack, a, "offline", GW1)
    sockets(stack, a, "online", GW1)
    assert events.room_event(rooms[0], {"presence-update"}, timeout=0.5) is None
    assert shown(stack, b, a) == "offline"
    sockets(stack, a, "offline", GW1)


def test_reset_drops_one_gatewayds_sockets(stack, events):
    a, b, rooms = two_rooms(stack)
    gw = str(uuid.uuid4())
    sockets(stack, a, "online", gw)
    sockets(stack, a, "online", GW2)
    sockets(stack, b, "online", gw)
    for _ in range(2):
        presence_events(events, rooms)
    status, body = chatd_call(stack, "/internal/chat/presence-reset", f"instance={gw}")
    assert (status, body) == (200, {"status": "ok", "offline": 1}), body
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, b, "offline")
    assert events.room_event(rooms[0], {"presence-update"}, timeout=0.5) is None
    assert shown(stack, b, a) == "online" and shown(stack, a, b) == "offline"
    assert redis_cli(stack, "EXISTS", f"enclavr:presence-instance:{gw}") == "0"
    assert chatd_call(stack, "/internal/chat/presence-reset", f"instance={gw}") == (
        200, {"status": "ok", "offline": 0})
    sockets(stack, a, "offline", GW2)


@pytest.mark.parametrize("path,query,code", [
    ("/internal/chat/presence", f"state=online", "missing_parameter"),
    ("/internal/chat/presence", f"state=here&instance={GW1}", "invalid_parameter"),
    ("/internal/chat/presence", f"instance={GW1}", "invalid_parameter"),
    ("/internal/chat/presence", "state=online&instance=gw-1", "invalid_parameter"),
    ("/internal/chat/presence-reset", "", "missing_parameter"),
    ("/internal/chat/presence-reset", "instance=../x", "invalid_parameter"),
])
def test_internal_bad_parameters(stack, path, query, code):
    status, body = chatd_call(stack, path, query, str(uuid.uuid4()))
    assert status == 400 and body["error"] == code, body


def test_internal_presence_needs_a_user(stack):
    status, body = chatd_call(stack, "/internal/chat/presence", f"state=online&instance={GW1}")
    assert status == 401, body


# ------------------------------------------------------------ two gatewayds, two chatd

async def ws_presence_of(ws, user, timeout=5):
    """The next presence-update about user on ws (others skipped), or None."""
    deadline = time.monotonic() + timeout
    while True:
        m = await ws_next(ws, {"presence-update"}, max(0.01, deadline - time.monotonic()))
        if m is None or m["user_id"] == user.id:
            return m


def test_ws_presence_across_two_gatewayds(stack):
    a, b, (r1, _) = two_rooms(stack)

    async def go(port2):
        async with websockets.connect(ws_url(stack, a.token)) as wa:
            await ws_subscribe(wa, r1)
            url_b = f"ws://127.0.0.1:{port2}/api/ws?token={b.token}"
            async with websockets.connect(url_b) as wb:
                m = await ws_presence_of(wa, b)
                assert m is not None and m["room_id"] == r1, m
                assert m["payload"]["status"] == "online", m
                await ws_subscribe(wb, r1)
                assert await asyncio.to_thread(shown, stack, a, b) == "online"
                # b's second socket, on the first gatewayd: no news.
                async with websockets.connect(ws_url(stack, b.token)):
                    assert await ws_presence_of(wa, b, timeout=1) is None
                assert await ws_presence_of(wa, b, timeout=1) is None
                assert await asyncio.to_thread(shown, stack, a, b) == "online"
            m = await ws_presence_of(wa, b)
            assert m is not None and m["payload"]["status"] == "offline", m
    with ExtraGatewayd(stack) as gw2:
        # A new gatewayd clears its previous run's sockets (presence-reset)
        # on its first tick once chatd is up, ~200 ms after /health: a
        # socket opened before that is cleared with them (reported to the
        # gatewayd owner). Give it that time.
        time.sleep(0.6)
        asyncio.run(asyncio.wait_for(go(gw2.port), 40))
    assert shown(stack, a, b) == "offline"


class ExtraChatd:
    """A second chatd on the stack's database and Redis, with its own IPC
    sockets (gatewayd does not know it: tests call it directly)."""

    def __init__(self, stack):
        run = Path(stack.run_dir)
        self.tag = uuid.uuid4().hex[:8]
        self.rep = run / "sock" / f"chatd-{self.tag}.rep"
        self.pub = run / "sock" / f"chatd-{self.tag}.pub"
        text = (run / "etc" / "chatd.conf").read_text()
        text, n = re.subn(r"(?m)^listen = ipc://.*$", f"listen = ipc://{self.rep}", text)
        text, m = re.subn(r"(?m)^publish = .*$", f"publish = ipc://{self.pub}", text)
        assert n == m == 1, text
        # its own control socket and metrics port: the stack's chatd has those
        text = re.sub(r"(?m)^socket = .*$", f"socket = {run}/sock/chatd-{self.tag}.ctl", text)
        text = re.sub(r"(?m)^listen = 127\.0\.0\.1:\d+$", "listen = 127.0.0.1:0", text)
        self.conf = run / "etc" / f"chatd-{self.tag}.conf"
        self.conf.write_text(text)
        self.log = run / "log" / f"chatd-{self.tag}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(Path(stack.bin_dir) / "chatd"), "-f", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=sanitizer_env(run), start_new_session=True)
        wait_until(lambda: self.proc.poll() is None and "ready" in self.log.read_text(),
                   30, what="the second chatd to be ready")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(15) == 0
        self.conf.unlink()


def test_second_chatd_shares_the_state(stack):
    a, b, (r1, _) = two_rooms(stack)
    other = ExtraChatd(stack)
    try:
        c = ChatdClient(other.rep)
        assert c.call("/internal/chat/typing", f"room_id={r1}&state=start", a.id) == (
            200, {"status": "ok"})
        assert [t["user_id"] for t in typers(stack, b.token, r1)] == [a.id]
        assert c.call("/internal/chat/presence", f"state=online&instance={GW1}", b.id) == (
            200, {"status": "ok", "changed": True})
        assert shown(stack, a, b) == "online"
        # ...and the other way round.
        assert sockets(stack, b, "offline", GW1) is True
        status, body = c.call("/api/presence/user", f"user_id={b.id}", a.id)
        assert status == 200 and body["status"] == "offline", body
        assert c.call("/internal/chat/typing", f"room_id={r1}&state=stop", a.id)[0] == 200
        assert typers(stack, b.token, r1) == []
        c.close()
    finally:
        other.stop()
    assert "presence: Redis" not in other.log.read_text()


# ------------------------------------------------------------ Redis down

@pytest.mark.last
def test_without_redis_state_stays_in_chatd(own_stack):
    st = own_stack
    a, b = real_user(st, "nr"), real_user(st, "nr")
    room = new_room(st, a.token)["id"]
    join(st, b.token, room)
    st.kill("redis", sig=signal.SIGTERM)
    ev = ChatdEvents(sock_path(st, "chatd.pub"))
    try:
        r = post(st, "/api/typing/start", {"room_id": room}, token=a.token)
        assert r.status_code == 200, r.text
        assert ev.room_event(room, {"user-typing"}) is not None
        assert [t["user_id"] for t in typers(st, b.token, room)] == [a.id]
        assert sockets(st, b, "online", GW1) is True
        assert ev.room_event(room, {"presence-update"})["payload"]["status"] == "online"
        assert shown(st, a, b) == "online"
        assert room_list(st, a, room) == {b.id: "online"}
        assert update(st, b, "away").status_code == 200
        assert shown(st, a, b) == "away"
        status, body = chatd_call(st, "/internal/chat/presence-reset", f"instance={GW1}")
        assert (status, body) == (200, {"status": "ok", "offline": 1})
        assert shown(st, a, b) == "offline"
        # The expiry sweep works from memory too.
        assert ev.room_event(room, {"user-stopped-typing"}, timeout=14) is not None
        assert typers(st, b.token, room) == []
    finally:
        ev.close()
    warnings = [l for l in st.log("chatd").splitlines() if "presence: Redis" in l]
    assert len(warnings) == 1 and " warn" in warnings[0], warnings


def conversation_presence(events, conv, timeout=5):
    """The next presence-update published on conversation conv, or None."""
    deadline = time.monotonic() + timeout
    while True:
        got = events.next_event(f"dm.{conv}", max(0.01, deadline - time.monotonic()))
        if got is None or got[1]["type"] == "presence-update":
            return got and got[1]


def test_conversation_members_see_presence_outside_rooms(stack, events):
    """Two people with a direct conversation and no room in common may see
    each other's presence, and a change goes to the conversation too
    (ephemeral: no seq; "to" the other member only); a block, either way,
    hides both."""
    a, b = real_user(stack), real_user(stack)
    assert_error(user_presence(stack, b, a.id), 403, "forbidden")
    r = post(stack, "/api/dm/send", {"receiver_id": a.id, "content": "hi"}, token=b.token)
    assert r.status_code == 200, r.text
    conv = r.json()["conversation_id"]
    assert shown(stack, b, a) == "offline"
    assert sockets(stack, a, "online", GW1)
    ev = conversation_presence(events, conv)
    assert ev is not None, "no presence-update on the conversation"
    assert ev["conversation_id"] == conv and ev["user_id"] == a.id and "seq" not in ev, ev
    assert ev["payload"] == {"user_id": a.id, "username": a.username, "status": "online"}, ev
    assert ev["to"] == [b.id], ev
    assert shown(stack, b, a) == "online" and shown(stack, a, b) == "offline"
    assert post(stack, "/api/block", {"blocked_id": b.id}, token=a.token).status_code == 201
    assert_error(user_presence(stack, b, a.id), 403, "forbidden")
    assert_error(user_presence(stack, a, b.id), 403, "forbidden")
    assert sockets(stack, a, "offline", GW1)
    assert conversation_presence(events, conv, timeout=1) is None
