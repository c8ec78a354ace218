"""Typing indicators (chatd/typing.c, state in Redis: chatd/presence_store.c):
the REST routes /api/typing/{start,stop,users}, the internal route
/internal/chat/typing that gatewayd's hub calls, the Redis keys, the
ephemeral user-typing / user-stopped-typing events (throttle, expiry sweep),
and membership everywhere.

Internal routes and events are tested on chatd's own sockets: the helpers
below speak nng's SP protocol over the stack's IPC sockets (REQ to
sock/chatd.rep, SUB to sock/chatd.pub) with the frame of
libcommon/ipc_proto.h, so no nng binding is needed. test_chat_presence.py
imports them."""

import asyncio
import json
import re
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import websockets

from authlib import assert_error, client_ip, get, pg_exec, post, request  # noqa: F401
from chatlib import join, new_room, real_user, token_user
from stacklib import RFC3339_RE

TTL_S = 10
THROTTLE_S = 3
EVENT_KEYS = {"type", "room_id", "user_id", "target_user_id", "payload", "timestamp"}

# ------------------------------------------------------------ nng over IPC

SP_REQ, SP_REP, SP_PUB, SP_SUB = 0x30, 0x31, 0x20, 0x21
IPC_MAGIC, IPC_VERSION = 0x454E, 1
IPC_HTTP_REQUEST, IPC_HTTP_RESPONSE, IPC_EVENT = 5, 6, 7


class SpPipe:
    """One nng SP connection over a Unix socket (nng's IPC transport): an
    8-byte handshake naming both protocols, then messages of a 0x01 byte, a
    64-bit big-endian length and the payload."""

    def __init__(self, path, proto, peer, timeout=5):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.sock.sendall(b"\x00SP\x00" + struct.pack(">H", proto) + b"\x00\x00")
        hs = self._exact(8)
        assert hs[:4] == b"\x00SP\x00" and struct.unpack(">H", hs[4:6])[0] == peer, hs

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("nng peer closed the connection")
            buf += chunk
        return buf

    def send(self, payload):
        self.sock.sendall(b"\x01" + struct.pack(">Q", len(payload)) + payload)

    def recv(self, timeout=5):
        self.sock.settimeout(timeout)
        hdr = self._exact(9)
        assert hdr[0] == 1, hdr
        return self._exact(struct.unpack(">Q", hdr[1:])[0])

    def close(self):
        self.sock.close()


def ipc_frame(type_, ident, body):
    return struct.pack(">HBBIQ", IPC_MAGIC, IPC_VERSION, type_, len(body), ident) + body


def ipc_frames(buf):
    """[(type, id, body bytes)] of a message of frames back to back."""
    out, off = [], 0
    while off < len(buf):
        magic, ver, type_, length, ident = struct.unpack(">HBBIQ", buf[off:off + 16])
        assert magic == IPC_MAGIC and ver == IPC_VERSION, buf[off:off + 16]
        out.append((type_, ident, buf[off + 16:off + 16 + length]))
        off += 16 + length
    assert off == len(buf), "trailing bytes after the last frame"
    return out


def sock_path(stack, name):
    return Path(stack.run_dir) / "sock" / name


class ChatdClient:
    """Calls chatd routes (internal ones included) as gatewayd does: a raw
    REQ pipe to a chatd REP socket and the forwarded-request envelope."""

    def __init__(self, path):
        self.pipe = SpPipe(path, SP_REQ, SP_REP)

    def call(self, path, query="", user_id=None, method="GET", body=""):
        ident = int.from_bytes(uuid.uuid4().bytes[:6], "big")
        env = {"method": method, "route": path, "path": path, "query": query,
               "body": body, "request_id": str(uuid.uuid4()), "client_addr": "",
               "user_agent": "test_chat_typing"}
        env["principal"] = ({"user_id": user_id, "session_id": "", "admin": False}
                            if user_id else None)
        reqid = 0x80000000 | (ident & 0x7FFFFFFF)
        self.pipe.send(struct.pack(">I", reqid) +
                       ipc_frame(IPC_HTTP_REQUEST, ident, json.dumps(env).encode()))
        while True:
            msg = self.pipe.recv()
            if struct.unpack(">I", msg[:4])[0] != reqid:
                continue	# a late reply to an earlier call
            for type_, fid, body in ipc_frames(msg[4:]):
                if fid == ident:
                    assert type_ == IPC_HTTP_RESPONSE, (type_, body)
                    resp = json.loads(body)
                    return resp["status"], (json.loads(resp["body"]) if resp["body"] else None)
            raise AssertionError(f"no frame {ident} in the reply")

    def close(self):
        self.pipe.close()


def chatd_call(stack, path, query="", user_id=None):
    """One call to the stack's chatd: (status, parsed body)."""
    c = ChatdClient(sock_path(stack, "chatd.rep"))
    try:
        return c.call(path, query, user_id)
    finally:
        c.close()


class ChatdEvents:
    """A SUB pipe on a chatd PUB socket. nng's PUB sends every topic; the
    filtering is ours. Ready once the first heartbeat arrived (the PUB side
    has then added the pipe)."""

    def __init__(self, path):
        self.pipe = SpPipe(path, SP_SUB, SP_PUB)
        self.next_event("heartbeat.", timeout=5)

    def next_event(self, prefix, timeout=5):
        """(topic, body) of the next event whose topic starts with prefix;
        None when none arrives within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                msg = self.pipe.recv(timeout=left)
            except (socket.timeout, TimeoutError):
                return None
            nul = msg.index(b"\x00")
            topic = msg[:nul].decode()
            if topic.startswith(prefix):
                [(type_, _, body)] = ipc_frames(msg[nul + 1:])
                assert type_ == IPC_EVENT
                return topic, json.loads(body)

    def room_event(self, room_id, types, timeout=5):
        """The next event of room_id whose type is in types (others of the
        room are skipped); None when none comes."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.next_event(f"room.{room_id}", max(0.01, deadline - time.monotonic()))
            if got is None:
                return None
            if got[1]["type"] in types:
                return got[1]

    def close(self):
        self.pipe.close()


@pytest.fixture
def events(stack):
    ev = ChatdEvents(sock_path(stack, "chatd.pub"))
    yield ev
    ev.close()


# ------------------------------------------------------------ helpers

def redis_cli(stack, *args):
    out = subprocess.run(["redis-cli", "-p", str(stack.redis_port), "--raw", *args],
                         capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.rstrip("\n")


def room_with(stack, n_members=1, real=False):
    """A new room and its users: [owner, member1, ...] (ChatUser)."""
    mk = (lambda: real_user(stack, "ty")) if real else (lambda: token_user(stack))
    users = [mk() for _ in range(n_members + 1)]
    room = new_room(stack, users[0].token)
    for u in users[1:]:
        join(stack, u.token, room["id"])
    return room["id"], users


def start(stack, token, room_id, **kw):
    return post(stack, "/api/typing/start", {"room_id": room_id}, token=token, **kw)


def stop(stack, token, room_id, method="DELETE"):
    return request(stack, method, "/api/typing/stop", token=token, params={"room_id": room_id})


def typers(stack, token, room_id):
    return typing_list(stack, token, room_id=room_id)


def typing_list(stack, token, **where):
    """GET /api/typing/users?<where>: 200, and each typist's shape."""
    r = get(stack, "/api/typing/users", token=token, params=where)
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list), body
    for t in body:
        assert set(t) == {"user_id", "username", "started_at"}, t
        assert RFC3339_RE.match(t["started_at"]), t
    return body


def assert_ok(r):
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok"}, r.text


def assert_typing_event(ev, type_, room_id, user):
    assert ev is not None, f"no {type_} event"
    assert set(ev) == EVENT_KEYS, ev	# ephemeral: no seq
    assert ev["type"] == type_ and ev["room_id"] == room_id and ev["user_id"] == user.id, ev
    assert ev["payload"] == {"user_id": user.id, "username": user.username or ""}, ev
    assert RFC3339_RE.match(ev["timestamp"]), ev


def typing_field(stack, room_id, user_id):
    """(started, expires, announced) in Unix ms from Redis, or None."""
    v = redis_cli(stack, "HGET", f"enclavr:typing:{room_id}", user_id)
    if not v:
        return None
    return tuple(int(x) for x in v.split())


# ------------------------------------------------------------ REST

def test_start_list_stop(stack):
    room, (a, b) = room_with(stack, 1, real=True)
    assert typers(stack, b.token, room) == []
    assert_ok(start(stack, a.token, room))
    [t] = typers(stack, b.token, room)
    assert t["user_id"] == a.id and t["username"] == a.username, t
    # A second start keeps the first start's time.
    assert_ok(start(stack, a.token, room))
    assert typers(stack, a.token, room) == [t]
    assert_ok(start(stack, b.token, room))
    assert [x["user_id"] for x in typers(stack, a.token, room)] == [a.id, b.id]
    assert_ok(stop(stack, a.token, room))
    assert [x["user_id"] for x in typers(stack, a.token, room)] == [b.id]
    # POST with the id in the body, and a stop of someone not typing.
    assert_ok(post(stack, "/api/typing/stop", {"room_id": room}, token=b.token))
    assert_ok(post(stack, "/api/typing/stop", {"room_id": room}, token=b.token))
    assert typers(stack, b.token, room) == []


def test_redis_keys(stack):
    room, (a, b) = room_with(stack, 1)
    before = int(time.time() * 1000)
    assert_ok(start(stack, a.token, room))
    started, expires, announced = typing_field(stack, room, a.id)
    assert before - 1000 <= started <= announced < expires, (started, expires, announced)
    assert expires - announced == TTL_S * 1000
    due = float(redis_cli(stack, "ZSCORE", "enclavr:typing-due", f"{room}/{a.id}"))
    assert int(due) == expires
    assert 0 < int(redis_cli(stack, "PTTL", f"enclavr:typing:{room}")) <= TTL_S * 1000
    # A renewal pushes the expiry, not the start.
    time.sleep(0.3)
    assert_ok(start(stack, a.token, room))
    s2, e2, a2 = typing_field(stack, room, a.id)
    assert s2 == started and a2 == announced and e2 >= expires + 250, (s2, e2, a2)
    assert_ok(stop(stack, a.token, room))
    assert typing_field(stack, room, a.id) is None
    assert redis_cli(stack, "ZSCORE", "enclavr:typing-due", f"{room}/{a.id}") == ""


def test_membership_everywhere(stack):
    room, (owner,) = room_with(stack, 0)
    outsider = token_user(stack)
    assert_ok(start(stack, owner.token, room))
    assert_error(start(stack, outsider.token, room), 403, "not_member")
    assert_error(stop(stack, outsider.token, room), 403, "not_member")
    assert_error(get(stack, "/api/typing/users", token=outsider.token,
                     params={"room_id": room}), 403, "not_member")
    nowhere = str(uuid.uuid4())
    assert_error(start(stack, owner.token, nowhere), 404, "not_found")
    assert_error(get(stack, "/api/typing/users", token=owner.token,
                     params={"room_id": nowhere}), 404, "not_found")
    assert typing_field(stack, room, outsider.id) is None


def test_a_typist_who_left_is_not_listed(stack):
    room, (owner, m) = room_with(stack, 1)
    assert_ok(start(stack, m.token, room))
    assert [t["user_id"] for t in typers(stack, owner.token, room)] == [m.id]
    pg_exec(stack, "DELETE FROM chat.members WHERE room_id = %s AND user_id = %s", (room, m.id))
    assert typers(stack, owner.token, room) == []


@pytest.mark.parametrize("body,status,code", [
    ({}, 400, "missing_parameter"),
    ({"room_id": None}, 400, "missing_parameter"),
    ({"room_id": "nope"}, 400, "invalid_parameter"),
    ({"room_id": 12}, 400, "invalid_parameter"),
    ({"room_id": ["x"]}, 400, "invalid_parameter"),
    ({"room_id": "0" * 36}, 400, "invalid_parameter"),
    ({"dm_user_id": str(uuid.uuid4())}, 404, "not_found"),  # test_dm_typing.py
    ({"room_id": str(uuid.uuid4()), "dm_user_id": str(uuid.uuid4())}, 400, "invalid_parameter"),
    ("[]", 400, "invalid_json"),
    ("\"x\"", 400, "invalid_json"),
])
def test_start_bad_bodies(stack, body, status, code):
    u = token_user(stack)
    assert_error(post(stack, "/api/typing/start", body, token=u.token), status, code)


@pytest.mark.parametrize("params,code", [
    ({}, "missing_parameter"),
    ({"room_id": ""}, "missing_parameter"),
    ({"room_id": "zz"}, "invalid_parameter"),
    ({"room_id": "1" * 100}, "invalid_parameter"),
    ({"room_id": str(uuid.uuid4()), "dm_user_id": str(uuid.uuid4())}, "invalid_parameter"),
])
def test_stop_and_users_bad_queries(stack, params, code):
    u = token_user(stack)
    assert_error(request(stack, "DELETE", "/api/typing/stop", token=u.token, params=params),
                 400, code)
    assert_error(get(stack, "/api/typing/users", token=u.token, params=params), 400, code)


def test_auth_methods_limits(stack):
    room = str(uuid.uuid4())
    for method, path in (("POST", "/api/typing/start"), ("POST", "/api/typing/stop"),
                         ("DELETE", "/api/typing/stop"), ("GET", "/api/typing/users")):
        r = request(stack, method, path, {"room_id": room} if method == "POST" else None,
                    params=None if method == "POST" else {"room_id": room})
        assert r.status_code == 401, (method, path, r.text)
    u = token_user(stack)
    r = get(stack, "/api/typing/start", token=u.token)
    assert r.status_code == 405 and "POST" in r.headers["Allow"], r.text
    r = request(stack, "PUT", "/api/typing/stop", token=u.token)
    assert r.status_code == 405 and set(r.headers["Allow"].replace(" ", "").split(",")) >= {
        "POST", "DELETE"}, r.headers
    big = {"room_id": room, "pad": "x" * 2000}
    assert post(stack, "/api/typing/start", big, token=u.token).status_code == 413
    # Upper-case ids are the same room.
    own, (o,) = room_with(stack, 0)
    assert_ok(start(stack, o.token, own.upper()))
    assert [t["user_id"] for t in typers(stack, o.token, own.upper())] == [o.id]


def test_internal_route_is_not_routed_over_http(stack):
    u = token_user(stack)
    for path in ("/internal/chat/typing", "/internal/chat/presence",
                 "/internal/chat/presence-reset"):
        r = get(stack, path, token=u.token, params={"room_id": str(uuid.uuid4()),
                                                    "state": "start"})
        assert r.status_code == 404, (path, r.status_code, r.text)


# ------------------------------------------------------------ events

def test_events_throttle_and_stop(stack, events):
    room, (a, b) = room_with(stack, 1, real=True)
    assert_ok(start(stack, a.token, room))
    assert_typing_event(events.room_event(room, {"user-typing"}), "user-typing", room, a)
    # Renewed within 3 s: not announced again.
    assert_ok(start(stack, a.token, room))
    assert events.room_event(room, {"user-typing", "user-stopped-typing"}, timeout=1) is None
    assert_ok(stop(stack, a.token, room))
    assert_typing_event(events.room_event(room, {"user-stopped-typing"}),
                        "user-stopped-typing", room, a)
    # A stop of someone not typing says nothing; a new start is announced.
    assert_ok(stop(stack, a.token, room))
    assert events.room_event(room, {"user-stopped-typing"}, timeout=0.5) is None
    assert_ok(start(stack, a.token, room))
    assert_typing_event(events.room_event(room, {"user-typing"}), "user-typing", room, a)
    stop(stack, a.token, room)


def test_renewal_announced_again_after_the_throttle(stack, events):
    room, (a,) = room_with(stack, 0)
    assert_ok(start(stack, a.token, room))
    assert events.room_event(room, {"user-typing"}) is not None
    time.sleep(THROTTLE_S + 0.2)
    assert_ok(start(stack, a.token, room))
    assert_typing_event(events.room_event(room, {"user-typing"}), "user-typing", room, a)
    stop(stack, a.token, room)


def test_expiry_announces_a_stop(stack, events):
    room, (a, b) = room_with(stack, 1)
    assert_ok(start(stack, a.token, room))
    t0 = time.monotonic()
    assert events.room_event(room, {"user-typing"}) is not None
    ev = events.room_event(room, {"user-stopped-typing"}, timeout=TTL_S + 4)
    assert_typing_event(ev, "user-stopped-typing", room, a)
    assert time.monotonic() - t0 >= TTL_S - 1.5
    assert typers(stack, b.token, room) == []
    assert typing_field(stack, room, a.id) is None


# ------------------------------------------------------------ internal route

def test_internal_typing(stack, events):
    room, (a, b) = room_with(stack, 1, real=True)
    outsider = token_user(stack)
    q = f"room_id={room}&state=start"
    assert chatd_call(stack, "/internal/chat/typing", q, a.id) == (200, {"status": "ok"})
    assert_typing_event(events.room_event(room, {"user-typing"}), "user-typing", room, a)
    assert [t["user_id"] for t in typers(stack, b.token, room)] == [a.id]
    status, body = chatd_call(stack, "/internal/chat/typing", q, outsider.id)
    assert status == 403 and body["error"] == "not_member", body
    for bad in (f"room_id={room}", f"room_id={room}&state=go", f"room_id=x&state=stop",
                "state=stop"):
        status, body = chatd_call(stack, "/internal/chat/typing", bad, a.id)
        assert status == 400 and body["error"] in ("invalid_parameter", "missing_parameter"), (
            bad, body)
    # Without a principal, svc refuses before the handler.
    assert chatd_call(stack, "/internal/chat/typing", q)[0] == 401
    assert chatd_call(stack, "/internal/chat/typing", f"room_id={room}&state=stop",
                      a.id) == (200, {"status": "ok"})
    assert_typing_event(events.room_event(room, {"user-stopped-typing"}),
                        "user-stopped-typing", room, a)


# ------------------------------------------------------------ WebSocket

def ws_url(stack, token):
    return f"ws://127.0.0.1:{stack.port}/api/ws?token={token}"


async def ws_subscribe(ws, room_id):
    """Subscribes; skips the test while the hub does not know the message."""
    await ws.send(json.dumps({"type": "subscribe", "room_id": room_id}))
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if m["type"] == "error" and m.get("payload", {}).get("code") == "unknown_type":
            pytest.skip("gatewayd's hub does not know subscribe yet")
        if m["type"] in ("subscribed", "error"):
            assert m["type"] == "subscribed" and m["room_id"] == room_id, m
            return m


async def ws_next(ws, types, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            m = json.loads(await asyncio.wait_for(ws.recv(), left))
        except asyncio.TimeoutError:
            return None
        if m.get("type") in types:
            return m


def test_ws_subscribers_see_typing(stack):
    room, (a, b) = room_with(stack, 1, real=True)

    async def go():
        async with websockets.connect(ws_url(stack, a.token)) as wa, \
                websockets.connect(ws_url(stack, b.token)) as wb:
            await ws_subscribe(wa, room)
            await ws_subscribe(wb, room)
            r = await asyncio.to_thread(start, stack, a.token, room)
            assert_ok(r)
            for ws in (wb, wa):
                m = await ws_next(ws, {"user-typing"})
                assert m is not None and m["room_id"] == room and m["user_id"] == a.id, m
                assert m["payload"] == {"user_id": a.id, "username": a.username}, m
                assert "seq" not in m, m
            # The hub's own typing messages go through the internal route.
            await wb.send(json.dumps({"type": "typing", "room_id": room}))
            m = await ws_next(wa, {"user-typing"})
            assert m is not None and m["user_id"] == b.id, m
            await wb.send(json.dumps({"type": "stop-typing", "room_id": room}))
            m = await ws_next(wa, {"user-stopped-typing"})
            assert m is not None and m["user_id"] == b.id, m
    asyncio.run(asyncio.wait_for(go(), 30))
    assert [t["user_id"] for t in typers(stack, b.token, room)] == [a.id]
    stop(stack, a.token, room)


def test_a_redis_error_falls_back_to_memory(stack):
    """A key of the wrong type makes Redis answer an error: the request still
    succeeds (from chatd's memory), with one warning, and the next good
    answer ends the outage."""
    room, (a, b) = room_with(stack, 1)
    key = f"enclavr:typing:{room}"
    redis_cli(stack, "SET", key, "not a hash")
    try:
        assert_ok(start(stack, a.token, room))
        assert [t["user_id"] for t in typers(stack, b.token, room)] == [a.id]
    finally:
        redis_cli(stack, "DEL", key)
    assert_ok(start(stack, b.token, room))	# Redis again
    log = stack.log("chatd")
    assert re.search(r'warn presence: Redis answered "WRONGTYPE', log), log[-2000:]
    assert "presence: Redis answers again" in log
    assert [t["user_id"] for t in typers(stack, a.token, room)] == [b.id]
