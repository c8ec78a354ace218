"""GET /api/dm/ws?peer_id=: the reference's DM socket as an adapter over
the hub - its pre-upgrade checks (peer, blocks), the conversation's events
in the reference's envelope (conversation_id = the two ids sorted and
joined with "-", "sequence"), heartbeat, mark-read as a real receipt,
mark-delivered to the other side, and join-conversation limited to the
socket's own conversation (the reference let anyone join any)."""
import asyncio

import pytest
import websockets

from authlib import client_ip, get, pg_rows, post  # noqa: F401
from chatlib import real_user
from test_chat_ws import Sock, run
from test_dm_ws import dm, dm_frames

NIL = "00000000-0000-0000-0000-000000000000"


def dm_url(stack, token, peer_id=None):
    q = f"token={token}" + (f"&peer_id={peer_id}" if peer_id is not None else "")
    return f"ws://127.0.0.1:{stack.port}/api/dm/ws?{q}"


async def dm_compat(stack, user, peer):
    return Sock(await websockets.connect(dm_url(stack, user.token, peer.id), max_queue=None),
                ephemeral=True)


def pair(a, b):
    return "-".join(sorted((a.id, b.id)))


@pytest.mark.parametrize("peer,status", [
    (None, 400), ("", 400), ("not-a-uuid", 400),
    ("00000000-0000-4000-8000-000000000000", 404), ("self", 400), ("blocked", 403),
])
def test_refused_before_the_upgrade(stack, peer, status):
    u, other = real_user(stack), real_user(stack)
    if peer == "self":
        peer = u.id
    elif peer == "blocked":
        pg_rows(stack, "INSERT INTO chat.blocks (blocker_id, blocked_id) VALUES (%s, %s)",
                (other.id, u.id))
        peer = other.id

    async def go():
        with pytest.raises(websockets.InvalidStatusCode) as e:
            async with websockets.connect(dm_url(stack, u.token, peer)):
                pass
        assert e.value.status_code == status
    run(go())


def test_events_in_the_reference_envelope_and_receipts(stack):
    a, b = real_user(stack), real_user(stack)

    async def go():
        sb = await dm_compat(stack, b, a)
        sa = await Sock.open(stack, a)
        status = (await asyncio.to_thread(get, stack, "/status")).json()
        assert status["dm_clients"] >= 1 and status["active_clients"] >= 2, status
        await sb.send(type="heartbeat")
        ack = await sb.expect("heartbeat-ack")
        assert ack["user_id"] == NIL and "sequence" not in ack
        m = await asyncio.to_thread(dm, stack, a, b, "hi over the old socket")
        f = await sb.expect("dm-message")
        assert f["conversation_id"] == pair(a, b) and f["sequence"] == 1 and "seq" not in f
        assert f["payload"] == m and f["user_id"] == a.id and f["target_user_id"] == b.id
        await dm_frames(sa, 1)

        await sb.send(type="mark-read", payload={"message_id": m["id"]})
        read = [f for f in await dm_frames(sa, 1)][0]
        assert read["type"] == "dm-message-read" and read["payload"]["message_id"] == m["id"]
        assert read["user_id"] == b.id
        rows = pg_rows(stack, "SELECT last_read_seq FROM chat.conversation_members"
                       " WHERE conversation_id = %s AND user_id = %s",
                       (m["conversation_id"], b.id))
        assert rows == [(1,)]

        await sb.send(type="mark-delivered", payload={"message_id": m["id"]})
        sa.keep_ephemeral = True
        got = await sa.expect("dm-message-delivered")
        assert got["payload"]["message_id"] == m["id"] and got["user_id"] == b.id

        await sb.send(type="mark-read", payload={"message_id": "nope"})
        assert (await sb.expect("error"))["payload"] == {"error": "Invalid message ID"}
        await sb.close()
        await sa.close()
    run(go())


def test_only_its_own_conversation(stack):
    a, b, eve = real_user(stack), real_user(stack), real_user(stack)

    async def go():
        se = await dm_compat(stack, eve, a)
        await se.send(type="join-conversation", conversation_id=pair(a, b))
        err = await se.expect("error")
        assert err["payload"] == {"error": "Cannot join this conversation"}
        await asyncio.to_thread(dm, stack, a, b, "not for eve")
        own = await asyncio.to_thread(dm, stack, a, eve, "for eve")
        f = await se.expect("dm-message")
        assert f["payload"]["id"] == own["id"] and f["conversation_id"] == pair(a, eve)
        await se.send(type="join-conversation", payload={"conversation_id": pair(a, eve)})
        joined = await se.expect("conversation-joined")
        assert joined["conversation_id"] == pair(a, eve)

        await se.send(type="leave-conversation", conversation_id=pair(a, eve))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(dm, stack, a, eve, "after leaving")
        assert await se.silent(0.7)
        await se.close()
    run(go())
