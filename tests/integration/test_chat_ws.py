"""The WebSocket hub (gatewayd/hub.c) fed by chatd's room events:
subscribe / unsubscribe / resume, per-room seq without gaps, events to
every subscriber, a member who leaves stops receiving at once, a gap in the
published events filled from chatd, and two gatewayd processes fanning out
the same events."""
import asyncio
import json

import websockets

from authlib import ExtraGatewayd, client_ip, get, pg_rows, post, put, request  # noqa: F401
from chatlib import (join, kick, leave, new_room, real_user, room_with, send, set_role,
                     token_user)

WAIT_S = 5


def ws_url(stack, token, port=None):
    return f"ws://127.0.0.1:{port or stack.port}/api/ws?token={token}"


def run(coro, timeout=40):
    return asyncio.run(asyncio.wait_for(coro, timeout))


EPHEMERAL = ("presence-update", "user-typing", "user-stopped-typing", "dm-typing",
             "dm-stop-typing")


class Sock:
    """A WebSocket client that keeps every frame it received. Ephemeral
    events (presence, typing: they come whenever someone connects) are
    set aside in .ephemeral unless the test asks for them."""

    def __init__(self, ws, ephemeral=False):
        self.ws = ws
        self.frames = []
        self.ephemeral = []
        self.keep_ephemeral = ephemeral

    @classmethod
    async def open(cls, stack, user, port=None, ephemeral=False):
        # An unbounded receive queue: the client keeps reading (and
        # answering pings) even while the test is not looking.
        return cls(await websockets.connect(ws_url(stack, user.token, port), max_size=2**22,
                                            max_queue=None), ephemeral)

    async def send(self, **msg):
        await self.ws.send(json.dumps(msg))

    async def next(self, timeout=WAIT_S):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            f = json.loads(await asyncio.wait_for(self.ws.recv(),
                                                  max(0.05, deadline - loop.time())))
            if self.keep_ephemeral or f.get("type") not in EPHEMERAL:
                self.frames.append(f)
                return f
            self.ephemeral.append(f)

    async def until(self, pred, timeout=WAIT_S):
        """Frames up to and including the first one pred accepts."""
        got = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            f = await self.next(max(0.05, deadline - loop.time()))
            got.append(f)
            if pred(f):
                return got

    async def expect(self, type, room_id=None, timeout=WAIT_S, conversation_id=None):
        frames = await self.until(lambda f: f["type"] in (type, "error") and
                                  (room_id is None or f.get("room_id") == room_id) and
                                  (conversation_id is None or
                                   f.get("conversation_id") == conversation_id), timeout)
        assert frames[-1]["type"] == type, frames[-1]
        return frames[-1]

    async def silent(self, within=0.7):
        """Nothing arrives within `within` seconds (the socket stays open)."""
        try:
            f = await self.next(within)
        except asyncio.TimeoutError:
            return True
        raise AssertionError(f"unexpected frame: {f}")

    async def subscribe(self, room_id):
        await self.send(type="subscribe", room_id=room_id)
        return (await self.expect("subscribed", room_id))["payload"]["seq"]

    async def close(self):
        await self.ws.close()


def emit_unpublished(stack, room_id, user_id, note):
    """An event chatd would have written but never published (as when it
    dies between commit and publish): a room-note with payload {note}."""
    pg_rows(stack, "SELECT chat.emit(%s, 'room-note', %s, %s::jsonb)",
            (room_id, user_id, json.dumps({"note": note})))


def chat_messages(frames, room_id=None):
    return [f for f in frames if f["type"] == "chat-message" and
            (room_id is None or f["room_id"] == room_id)]


def test_subscribe_errors(stack):
    owner, outsider = token_user(stack), token_user(stack)
    room = new_room(stack, owner.token)["id"]

    async def go():
        s = await Sock.open(stack, outsider)
        await s.send(type="subscribe", room_id=room)
        err = await s.expect("error")
        assert err["room_id"] == room and err["payload"]["code"] == "not_member", err
        await s.send(type="subscribe", room_id="00000000-0000-4000-8000-000000000000")
        assert (await s.expect("error"))["payload"]["code"] == "not_found"
        for bad in ("nope", 7, None, "00000000-0000-4000-8000-00000000000"):
            await s.send(type="subscribe", room_id=bad)
            assert (await s.expect("error"))["payload"]["code"] == "invalid_room_id"
        await s.send(type="resume", room_id=room, payload={"seq": -1})
        assert (await s.expect("error"))["payload"]["code"] == "invalid_seq"
        await s.send(type="unsubscribe", room_id=room)
        assert (await s.expect("error"))["payload"]["code"] == "not_subscribed"
        await s.send(type="typing", room_id=room)
        assert (await s.expect("error"))["payload"]["code"] == "not_subscribed"
        await s.close()
    run(go())


def test_two_subscribers_get_every_message_in_seq_order(stack):
    a, b = real_user(stack, "wsa"), real_user(stack, "wsb")
    room = room_with(stack, a, b)

    async def go():
        sa, sb = await Sock.open(stack, a), await Sock.open(stack, b)
        seq_a, seq_b = await sa.subscribe(room), await sb.subscribe(room)
        assert seq_a == seq_b and seq_a >= 1      # the join was an event
        sent = [await asyncio.to_thread(send, stack, a.token, room, f"m{i}") for i in range(5)]
        for s in (sa, sb):
            frames = await s.until(lambda f: f.get("payload", {}).get("id") == sent[-1]["id"])
            got = chat_messages(frames, room)
            assert [f["payload"] for f in got] == sent
            assert [f["seq"] for f in got] == list(range(seq_a + 1, seq_a + 6))
            for f in got:
                assert f["room_id"] == room and f["user_id"] == a.id
                assert f["timestamp"].endswith("Z") and f["seq"] == f["payload"]["seq"]
        await sa.close(), await sb.close()
    run(go())


def test_resume_returns_exactly_the_missed_events(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)

    async def go():
        sb = await Sock.open(stack, b)
        seen = await sb.subscribe(room)
        await sb.close()
        missed = [await asyncio.to_thread(send, stack, a.token, room, f"while away {i}")
                  for i in range(7)]
        sb = await Sock.open(stack, b)
        await sb.send(type="resume", room_id=room, payload={"seq": seen})
        frames = await sb.until(lambda f: f["type"] in ("resumed", "error"))
        assert frames[-1] == {"type": "resumed", "room_id": room,
                              "payload": {"seq": seen + 7}}, frames[-1]
        assert [f["payload"] for f in frames[:-1]] == missed
        assert [f["seq"] for f in frames[:-1]] == list(range(seen + 1, seen + 8))
        # and it is live afterwards
        m = await asyncio.to_thread(send, stack, a.token, room, "live again")
        f = await sb.expect("chat-message", room)
        assert f["payload"] == m and f["seq"] == seen + 8
        # resuming from 0 replays the room's whole history, joins included
        await sb.send(type="resume", room_id=room, payload={"seq": 0})
        frames = await sb.until(lambda f: f["type"] == "resumed")
        assert [f["seq"] for f in frames[:-1]] == list(range(1, seen + 9))
        await sb.close()
    run(go())


def test_unsubscribe_stops_events(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)

    def ws_rooms():
        return stack.get("/info").json()["ws_rooms"]

    async def go():
        sb = await Sock.open(stack, b)
        before = await asyncio.to_thread(ws_rooms)
        await sb.subscribe(room)
        assert await asyncio.to_thread(ws_rooms) == before + 1
        await sb.send(type="unsubscribe", room_id=room)
        assert await sb.expect("unsubscribed", room)
        assert await asyncio.to_thread(ws_rooms) == before
        await asyncio.to_thread(send, stack, a.token, room, "not for b")
        await sb.silent()
        await sb.close()
    run(go())


def test_member_who_leaves_or_is_kicked_stops_receiving_at_once(stack):
    a, b, c = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, a, b, c)

    async def go():
        sa, sb, sc = [await Sock.open(stack, u) for u in (a, b, c)]
        for s in (sa, sb, sc):
            await s.subscribe(room)
        await asyncio.to_thread(leave, stack, b.token, room)
        left = await sb.expect("member-left", room)
        assert left["payload"]["user_id"] == b.id
        await asyncio.to_thread(kick, stack, a.token, room, c.id)
        frames = await sc.until(lambda f: f["type"] == "member-left" and
                                f["payload"]["user_id"] == c.id)
        assert frames[-1]["payload"].get("removed_by") == a.id, frames[-1]
        m = await asyncio.to_thread(send, stack, a.token, room, "after they went")
        f = await sa.until(lambda f: f.get("payload", {}).get("id") == m["id"])
        assert f[-1]["type"] == "chat-message"
        await sb.silent(0.5)
        await sc.silent(0.2)
        # and they cannot come back without being members
        await sb.send(type="subscribe", room_id=room)
        assert (await sb.expect("error"))["payload"]["code"] == "not_member"
        for s in (sa, sb, sc):
            await s.close()
    run(go())


def test_a_gap_in_published_events_is_filled_from_chatd(stack):
    """An event chatd wrote but never published (as when it dies between
    commit and publish) still reaches subscribers, in order, before the
    next published one."""
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)

    async def go():
        sb = await Sock.open(stack, b)
        seq = await sb.subscribe(room)
        emit_unpublished(stack, room, a.id, "unpublished")
        m = await asyncio.to_thread(send, stack, a.token, room, "after the gap")
        frames = await sb.until(lambda f: f["type"] == "chat-message")
        assert [(f["type"], f["seq"]) for f in frames] == [
            ("room-note", seq + 1), ("chat-message", seq + 2)]
        assert frames[0]["payload"] == {"note": "unpublished"}
        assert frames[1]["payload"] == m
        await sb.close()
    run(go())


def test_many_rooms_on_one_socket(stack):
    a = token_user(stack)
    rooms = [new_room(stack, a.token)["id"] for _ in range(4)]

    async def go():
        s = await Sock.open(stack, a)
        for r in rooms:
            await s.subscribe(r)
        sent = {}
        for r in rooms:
            sent[r] = await asyncio.to_thread(send, stack, a.token, r, "to " + r)
        frames = await s.until(lambda f: f.get("payload", {}).get("id") == sent[rooms[-1]]["id"])
        got = {f["room_id"]: f["payload"] for f in chat_messages(frames)}
        assert got == sent
        await s.close()
    run(go())


def test_two_gatewayds_fan_out_the_same_events(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)
    extra = ExtraGatewayd(stack)
    extra.start()
    try:
        async def go():
            sa = await Sock.open(stack, a)
            sb = await Sock.open(stack, b, port=extra.port)
            await sa.subscribe(room), await sb.subscribe(room)
            m = await asyncio.to_thread(send, stack, b.token, room, "across gatewayds")
            for s in (sa, sb):
                f = await s.expect("chat-message", room)
                assert f["payload"] == m
            await sa.close(), await sb.close()
        run(go())
    finally:
        extra.stop()


def test_two_clients_see_every_event_type_in_order(stack):
    """Every persisted event type reaches both subscribers, with the REST
    answer as its payload where the reference has one, seq by seq; the
    ephemeral ones (typing, presence) arrive without a seq."""
    owner, mod = real_user(stack, "evo"), real_user(stack, "evm")
    room = new_room(stack, owner.token)["id"]

    async def go():
        so, = [await Sock.open(stack, owner, ephemeral=True)]
        await so.subscribe(room)
        await asyncio.to_thread(join, stack, mod.token, room)
        sm = await Sock.open(stack, mod, ephemeral=True)
        await sm.subscribe(room)
        await asyncio.to_thread(set_role, stack, owner.token, room, mod.id, "moderator")

        def rest():
            m = send(stack, owner.token, room, "first")
            assert put(stack, "/api/message/update", {"content": "first, edited"},
                       token=owner.token, params={"message_id": m["id"]}).status_code == 200
            assert post(stack, "/api/reaction/add", {"message_id": m["id"], "emoji": "👍"},
                        token=mod.token).status_code == 200
            assert request(stack, "DELETE", "/api/reaction/remove", token=mod.token,
                           params={"message_id": m["id"], "emoji": "👍"}).status_code == 200
            p = post(stack, "/api/pinnedmessage/pin", {"message_id": m["id"]}, token=mod.token,
                     params={"room_id": room})
            assert p.status_code in (200, 201), p.text
            assert request(stack, "DELETE", "/api/pinnedmessage/unpin", token=mod.token,
                           params={"pin_id": p.json()["id"]}).status_code == 200
            t = post(stack, "/api/thread/create",
                     {"parent_id": m["id"], "room_id": room, "content": "a thread"},
                     token=owner.token)
            assert t.status_code in (200, 201), t.text
            assert post(stack, "/api/thread/message", {"content": "in the thread"},
                        token=mod.token, params={"thread_id": t.json()["id"]}).status_code \
                in (200, 201)
            assert request(stack, "DELETE", "/api/message/delete", token=mod.token,
                           params={"message_id": m["id"]}).status_code == 200
            assert post(stack, "/api/typing/start", {"room_id": room},
                        token=owner.token).status_code == 200
            return m

        m = await asyncio.to_thread(rest)
        want = ["chat-message", "message-updated", "reaction-added", "reaction-removed",
                "message-pinned", "message-unpinned", "thread-created", "thread-message",
                "message-deleted"]
        for s in (so, sm):
            frames = await s.until(lambda f: f["type"] == "user-typing")
            persisted = [f for f in frames if "seq" in f and f["type"] != "member-role-changed"]
            types = [f["type"] for f in persisted]
            # message-deleted may also unpin etc.; the wanted ones appear in order
            it = iter(types)
            assert all(t in it for t in want), types
            seqs = [f["seq"] for f in frames if "seq" in f]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
            by_type = {f["type"]: f for f in persisted}
            assert by_type["chat-message"]["payload"] == m
            assert by_type["message-updated"]["payload"]["content"] == "first, edited"
            assert by_type["message-deleted"]["payload"]["id"] == m["id"]
            assert by_type["reaction-added"]["payload"]["emoji"] == "👍"
            typing = frames[-1]
            assert "seq" not in typing and typing["user_id"] == owner.id
        # the owner's socket saw the moderator join
        joined = [f for f in so.frames if f["type"] == "member-joined"]
        assert joined and joined[0]["payload"]["user_id"] == mod.id
        await so.close(), await sm.close()
    run(go())


def test_sending_a_message_ends_its_authors_typing(stack):
    """Whoever sends a message has stopped typing: the room gets
    user-stopped-typing right after the chat-message, and the typing list
    no longer has them. A sender who was not typing causes no such event."""
    a, b = real_user(stack, "tya"), real_user(stack, "tyb")
    room = room_with(stack, a, b)

    async def go():
        sb = await Sock.open(stack, b, ephemeral=True)
        await sb.subscribe(room)
        assert (await asyncio.to_thread(post, stack, "/api/typing/start", {"room_id": room},
                                        token=a.token)).status_code == 200
        await sb.expect("user-typing")
        m = await asyncio.to_thread(send, stack, a.token, room, "done typing")
        frames = [f for f in await sb.until(lambda f: f["type"] == "user-stopped-typing")
                  if f["type"] != "presence-update"]
        assert [f["type"] for f in frames] == ["chat-message", "user-stopped-typing"], frames
        assert frames[0]["payload"] == m
        stopped = frames[1]
        assert stopped["user_id"] == a.id and stopped["payload"] == {
            "user_id": a.id, "username": a.username}
        typing = await asyncio.to_thread(get, stack, "/api/typing/users", token=b.token,
                                         params={"room_id": room})
        assert typing.json() == []
        await asyncio.to_thread(send, stack, a.token, room, "again")
        await sb.expect("chat-message")
        sb.keep_ephemeral = False          # presence may come and go; typing may not
        try:
            f = await sb.next(0.5)
        except asyncio.TimeoutError:
            f = None
        assert f is None, f
        assert not [e for e in sb.ephemeral if e["type"] == "user-stopped-typing"]
        await sb.close()
    run(go())


def test_a_resume_never_brings_back_a_deleted_text(stack):
    """A deleted room message (and thread message): the events that carried
    its text come back emptied on a resume, from the ring or from chatd."""
    owner, bob = real_user(stack), real_user(stack)
    room = room_with(stack, owner, bob)

    async def go():
        so = await Sock.open(stack, owner)
        await so.subscribe(room)
        m = send(stack, owner.token, room, "secret room text")
        r = put(stack, "/api/message/update", {"content": "secret, edited"}, token=owner.token,
                params={"message_id": m["id"]})
        assert r.status_code == 200, r.text
        r = request(stack, "DELETE", "/api/message/delete", token=owner.token,
                    params={"message_id": m["id"]})
        assert r.status_code == 200, r.text
        await so.expect("message-deleted", room)
        sb = await Sock.open(stack, bob)
        await sb.send(type="resume", room_id=room, payload={"seq": 0})
        frames = await sb.until(lambda f: f["type"] in ("resumed", "error"))
        assert frames[-1]["type"] == "resumed", frames[-1]
        carried = [f for f in frames if f["type"] in ("chat-message", "message-updated")]
        assert len(carried) == 2 and all(f["payload"]["content"] == "" for f in carried)
        assert "secret" not in json.dumps(frames)
        await sb.close()
        await so.close()
    run(go())
    rows = pg_rows(stack, "SELECT envelope::text FROM chat.events WHERE room_id = %s", (room,))
    assert not any("secret" in r[0] for r in rows)
