"""WebRTC signalling on the sockets (voice-offer, voice-answer,
voice-ice-candidate): relayed to the target with the sender's user_id only
between participants of the same voice channel (the reference relayed to
anyone), on /api/ws and on the reference's /api/voice/ws; and a participant
whose sockets all close leaves its channel within 5 s, the room told."""
import asyncio
import time

import websockets

from authlib import client_ip, get, post  # noqa: F401
from chatlib import real_user, room_with
from test_chat_ws import Sock, run
from test_chat_ws_compat import compat_url

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def channel(stack, owner, room, name="talk"):
    r = post(stack, "/api/voice-channel/create", {"room_id": room, "name": name},
             token=owner.token)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def join(stack, user, channel_id):
    r = post(stack, "/api/voice-channel/join", {"channel_id": channel_id}, token=user.token)
    assert r.status_code in (200, 201), r.text


def participants(stack, user, channel_id):
    r = get(stack, "/api/voice-channel/participants", token=user.token,
            params={"channel_id": channel_id})
    assert r.status_code == 200, r.text
    body = r.json()
    rows = body["participants"] if isinstance(body, dict) else body
    return {p["user_id"] for p in rows}


def test_signals_go_only_between_participants_of_one_channel(stack):
    a, b, c, d = (real_user(stack) for _ in range(4))
    room = room_with(stack, a, b, c, d)
    talk, other = channel(stack, a, room), channel(stack, a, room, "other")
    join(stack, a, talk)
    join(stack, b, talk)
    join(stack, c, other)

    async def go():
        sa, sb, sc, sd = [await Sock.open(stack, u) for u in (a, b, c, d)]
        await sa.send(type="voice-offer", target_user_id=b.id, payload={"sdp": SDP})
        f = await sb.expect("voice-offer")
        assert f["user_id"] == a.id and f["target_user_id"] == b.id
        assert f["payload"] == {"sdp": SDP}
        assert f["channel_id"] == talk and f["room_id"] == room and "timestamp" in f
        await sb.send(type="voice-answer", target_user_id=a.id, sdp=SDP)
        f = await sa.expect("voice-answer")
        assert f["user_id"] == b.id and f["sdp"] == SDP
        await sa.send(type="voice-ice-candidate", target_user_id=b.id,
                      payload={"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"})
        assert (await sb.expect("voice-ice-candidate"))["user_id"] == a.id

        # another channel of the same room, no channel at all, oneself
        for sender, target in ((sa, c), (sc, a), (sd, a), (sa, d)):
            await sender.send(type="voice-offer", target_user_id=target.id, payload={})
            err = await sender.expect("error")
            assert err["payload"]["code"] == "not_in_channel", err
        await sa.send(type="voice-offer", target_user_id=a.id, payload={})
        assert (await sa.expect("error"))["payload"]["code"] == "invalid_signal"
        for bad in ("nope", None, 7):
            await sa.send(type="voice-offer", target_user_id=bad, payload={})
            assert (await sa.expect("error"))["payload"]["code"] == "invalid_signal"
        await sa.send(type="voice-offer", target_user_id=b.id, payload="not an object")
        assert (await sa.expect("error"))["payload"]["code"] == "invalid_signal"
        for s in (sb, sc, sd):
            assert await s.silent(0.5)
        for s in (sa, sb, sc, sd):
            await s.close()
    run(go())


def test_the_reference_socket_relays_the_same_types(stack):
    a, b = real_user(stack), real_user(stack)
    room = room_with(stack, a, b)
    talk = channel(stack, a, room)
    join(stack, a, talk)
    join(stack, b, talk)

    async def go():
        sb = Sock(await websockets.connect(compat_url(stack, b.token, room), max_queue=None),
                  ephemeral=False)
        sa = Sock(await websockets.connect(compat_url(stack, a.token, room), max_queue=None),
                  ephemeral=False)
        await sa.send(type="voice-offer", target_user_id=b.id, sdp=SDP)
        f = await sb.expect("voice-offer")
        assert f["user_id"] == a.id and f["sdp"] == SDP and f["room_id"] == room
        await sb.close()
        await sa.close()
    run(go())


def test_a_participant_without_sockets_leaves_within_5s(stack):
    owner, leaver = real_user(stack), real_user(stack)
    room = room_with(stack, owner, leaver)
    talk = channel(stack, owner, room)

    async def go():
        so = await Sock.open(stack, owner)
        await so.subscribe(room)
        sl1, sl2 = await Sock.open(stack, leaver), await Sock.open(stack, leaver)
        await asyncio.to_thread(join, stack, leaver, talk)
        await so.expect("voice-joined", room)
        await asyncio.sleep(1.5)            # voiced sees the sockets
        await sl1.close()
        await asyncio.sleep(3)              # one socket left: stays
        assert leaver.id in await asyncio.to_thread(participants, stack, owner, talk)
        t0 = time.monotonic()
        await sl2.close()
        f = await so.expect("voice-left", room, timeout=8)
        assert time.monotonic() - t0 < 5, time.monotonic() - t0
        assert f["payload"]["user_id"] == leaver.id and f["payload"]["channel_id"] == talk
        assert leaver.id not in await asyncio.to_thread(participants, stack, owner, talk)
        await so.close()
    run(go())
