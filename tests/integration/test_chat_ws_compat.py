"""GET /api/voice/ws?room_id=: the reference's room socket as an adapter
over the hub - its pre-upgrade checks, chat events in the reference's
envelope, ping/pong, heartbeat/heartbeat-ack, typing, user-joined /
user-left to the others, and its error shape."""
import asyncio

import pytest
import websockets

from authlib import client_ip  # noqa: F401
from chatlib import new_room, room_with, send, token_user
from test_chat_ws import Sock, run

NIL = "00000000-0000-0000-0000-000000000000"


def compat_url(stack, token, room_id=None):
    q = f"token={token}" + (f"&room_id={room_id}" if room_id is not None else "")
    return f"ws://127.0.0.1:{stack.port}/api/voice/ws?{q}"


async def compat(stack, user, room_id):
    return Sock(await websockets.connect(compat_url(stack, user.token, room_id),
                                         max_queue=None), ephemeral=True)


@pytest.mark.parametrize("room_id,status,message", [
    (None, 400, "Room ID is required"),
    ("", 400, "Room ID is required"),
    ("not-a-uuid", 400, "Invalid room ID"),
    ("00000000-0000-4000-8000-000000000000", 403, "Not in room"),
])
def test_refused_before_the_upgrade(stack, room_id, status, message):
    u = token_user(stack)

    async def go():
        with pytest.raises(websockets.InvalidStatusCode) as e:
            async with websockets.connect(compat_url(stack, u.token, room_id)):
                pass
        assert e.value.status_code == status
    run(go())


def test_a_non_member_is_refused_403(stack):
    owner, outsider = token_user(stack), token_user(stack)
    room = new_room(stack, owner.token)["id"]

    async def go():
        with pytest.raises(websockets.InvalidStatusCode) as e:
            async with websockets.connect(compat_url(stack, outsider.token, room)):
                pass
        assert e.value.status_code == 403
    run(go())


def test_chat_events_ping_heartbeat_and_errors(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)

    async def go():
        s = await compat(stack, b, room)
        await s.send(type="ping")
        pong = await s.expect("pong")
        assert pong["room_id"] == room and pong["user_id"] == b.id
        assert pong["target_user_id"] == NIL and pong["timestamp"].endswith("Z")
        await s.send(type="heartbeat")
        ack = await s.expect("heartbeat-ack")
        assert ack["payload"]["user_id"] == b.id and ack["payload"]["state"] == "connected"
        await s.send(type="some-unknown-type")           # ignored, like the reference
        await s.ws.send("{not json")
        err = await s.expect("error")
        assert set(err["payload"]) == {"error"} and err["room_id"] == room, err
        m = await asyncio.to_thread(send, stack, a.token, room, "to the compat socket")
        f = await s.expect("chat-message")
        assert f["payload"] == m and f["room_id"] == room and f["user_id"] == a.id
        assert f["target_user_id"] == NIL and isinstance(f["seq"], int)
        await s.close()
    run(go())


def test_user_joined_and_typing_reach_the_others_only(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)

    async def go():
        sa, sb = await compat(stack, a, room), await compat(stack, b, room)
        await asyncio.sleep(0.3)          # both subscribed
        await sb.send(type="user-joined")
        joined = await sa.expect("user-joined")
        assert joined["user_id"] == b.id and joined["room_id"] == room
        online = await sa.expect("online-users-list")
        assert {u["user_id"] for u in online["payload"]} == {a.id, b.id}, online
        assert all(u["status"] == "online" for u in online["payload"]), online
        await sb.send(type="typing")
        typing = await sa.expect("user-typing")
        assert typing["user_id"] == b.id
        await sb.send(type="stop-typing")
        assert (await sa.expect("user-stopped-typing"))["user_id"] == b.id
        await sb.send(type="user-left")
        assert (await sa.expect("user-left"))["user_id"] == b.id
        # b never got its own
        await sb.send(type="ping")
        frames = await sb.until(lambda f: f["type"] == "pong")
        own = [f for f in frames if f["type"] in ("user-joined", "user-typing",
                                                 "user-stopped-typing", "user-left")]
        assert own == [], own
        await sa.close(), await sb.close()
    run(go())
