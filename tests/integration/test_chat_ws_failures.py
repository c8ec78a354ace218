"""The hub under failure and abuse, on a private stack whose gatewayd has
small [ws] limits: chatd killed with SIGKILL in the middle of a burst of
sends (every message whose POST succeeded is stored and reaches the
subscriber, live or after resume), a slow reader closed with 1013 that
then resumes without loss, a silent client closed after the idle timeout
while a ponging one stays, pings spread over sockets opened together, and
the per-socket message rate limit."""
import asyncio
import json
import selectors
import socket
import threading
import time

import pytest
import requests
import websockets

from authlib import client_ip, pg_rows  # noqa: F401
from chatlib import room_with, send, send_raw, token_user
from stacklib import wait_until
from test_chat_ws import Sock, chat_messages, emit_unpublished, run, ws_url

WS_LIMITS = """
[ws]
ping_interval_ms = 1500
idle_timeout_ms = 6000
max_queue_bytes = 8192
rate_per_second = 5
burst = 10
"""


@pytest.fixture(scope="module")
def st(own_stack):
    conf = own_stack.run_dir / "etc" / "gatewayd.conf"
    conf.write_text(conf.read_text() + WS_LIMITS)
    own_stack.restart("gatewayd")
    wait_until(lambda: requests.get(own_stack.url("/health"), timeout=2).status_code == 200,
               20, what="gatewayd to come back with the [ws] limits")
    return own_stack


def test_kill_chatd_mid_burst_loses_no_acknowledged_message(st):
    a, b = token_user(st), token_user(st)
    room = room_with(st, a, b)
    acked, stop = [], threading.Event()

    def sender():
        i = 0
        while not stop.is_set() and i < 400:
            try:
                r = send_raw(st, a.token, {"room_id": room, "content": f"burst {i}"})
            except requests.RequestException:
                r = None
            if r is not None and r.status_code == 200:
                acked.append(r.json())
            elif r is not None:
                assert r.status_code in (502, 503, 504), (r.status_code, r.text)
            i += 1

    async def go():
        sb = await Sock.open(st, b)
        await sb.subscribe(room)
        t = threading.Thread(target=sender)
        t.start()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(st.kill, "chatd")
        await asyncio.sleep(0.3)
        await asyncio.to_thread(st.start_daemon, "chatd")
        await asyncio.to_thread(wait_until, lambda: len(acked) > 0 and
                                send_raw(st, a.token, {"room_id": room, "content": "probe"})
                                .status_code == 200, 20, 0.2, "chatd to take sends again")
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.to_thread(t.join)
        last = await asyncio.to_thread(send, st, a.token, room, "the end")
        # Live delivery, then a resume from the last seq in order: what
        # the dead chatd never published comes from the database.
        frames = await sb.until(lambda f: f.get("payload", {}).get("id") == last["id"], 20)
        got = chat_messages(frames, room)
        seqs = [f["seq"] for f in frames if "seq" in f]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), "out of order or twice"
        contiguous = seqs[0]
        for s in seqs[1:]:
            if s != contiguous + 1:
                break
            contiguous = s
        await sb.send(type="resume", room_id=room, payload={"seq": contiguous})
        more = await sb.until(lambda f: f["type"] == "resumed", 20)
        got_ids = {f["payload"]["id"] for f in got + chat_messages(more, room)}
        await sb.close()
        return got_ids

    got_ids = run(go(), timeout=120)
    assert len(acked) >= 20, f"only {len(acked)} sends succeeded"
    stored = {str(i) for (i,) in pg_rows(st, "SELECT id FROM chat.messages WHERE room_id = %s",
                                         (room,))}
    acked_ids = {m["id"] for m in acked}
    assert acked_ids <= stored, f"{len(acked_ids - stored)} acknowledged messages not stored"
    assert acked_ids <= got_ids, f"{len(acked_ids - got_ids)} acknowledged messages not delivered"


def test_slow_reader_is_closed_with_1013_then_resumes_without_loss(st):
    a, b = token_user(st), token_user(st)
    room = room_with(st, a, b)
    big = "\U0001F600" * 3900         # 15.6 KB: the kernel's buffers fill fast

    async def go():
        # A reader that stops reading: a tiny receive buffer, never recv().
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)     # before connect:
        raw.connect(("127.0.0.1", st.port))                           # a small window
        slow = await websockets.connect(ws_url(st, b.token), sock=raw, max_size=2**22)
        await slow.send(json.dumps({"type": "subscribe", "room_id": room}))
        sub = json.loads(await slow.recv())
        while sub["type"] == "presence-update":
            sub = json.loads(await slow.recv())
        assert sub["type"] == "subscribed", sub
        seen = sub["payload"]["seq"]
        def burst(k):
            return [send(st, a.token, room, f"{k}.{i} {big}") for i in range(80)]
        parts = await asyncio.gather(*(asyncio.to_thread(burst, k) for k in range(4)))
        sent = sorted((m for p in parts for m in p), key=lambda m: m["seq"])
        # Now read: whatever was queued, then the close code 1013.
        code = None
        try:
            while True:
                f = json.loads(await asyncio.wait_for(slow.recv(), 10))
                if f.get("type") == "chat-message":
                    assert f["seq"] == seen + 1, "a frame was skipped before the close"
                    seen = f["seq"]
        except websockets.ConnectionClosed as e:
            code = e.code
        assert code == 1013, code
        assert seen < sent[-1]["seq"], "the reader was never behind"
        sb = await Sock.open(st, b)
        await sb.send(type="resume", room_id=room, payload={"seq": seen})
        frames = await sb.until(lambda f: f["type"] == "resumed", 20)
        msgs = chat_messages(frames, room)
        assert [m["seq"] for m in msgs] == list(range(seen + 1, sent[-1]["seq"] + 1))
        assert msgs[-1]["payload"] == sent[-1]
        await sb.close()
    run(go(), timeout=90)


def raw_ws(st, token):
    """A socket that sent a WebSocket handshake and will say nothing more."""
    raw = socket.create_connection(("127.0.0.1", st.port))
    raw.sendall((f"GET /api/ws?token={token} HTTP/1.1\r\nHost: x\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    return raw


def test_pings_of_sockets_opened_together_are_spread(st):
    """Quiet sockets opened at once are not all pinged in the same tick:
    each waits between half the interval (1.5 s here) and all of it."""
    u = token_user(st)
    socks = [raw_ws(st, u.token) for _ in range(16)]
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    data, pinged = {}, {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        data[s] = b""
    while len(pinged) < len(socks) and time.monotonic() - t0 < 5:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            chunk = s.recv(4096)
            assert chunk, "closed before any ping"
            data[s] += chunk
            head, _, body = data[s].partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101"), head
            if b"\x89\x00" in body and s not in pinged:
                pinged[s] = time.monotonic() - t0
    for s in socks:
        s.close()
    times = sorted(pinged.values())
    assert len(times) == len(socks), f"{len(times)} of {len(socks)} pinged in 5 s"
    assert 0.6 <= times[0] and times[-1] <= 2.0, times
    # Uniform over 0.75 s: all 16 within 0.15 s would be 16 * 0.2^15 luck.
    assert times[-1] - times[0] >= 0.15, times


def test_silent_client_is_closed_and_a_ponging_one_stays(st):
    u = token_user(st)

    async def go():
        # websockets answers pings by itself: it stays past the timeout.
        alive = await websockets.connect(ws_url(st, u.token), ping_interval=None)
        # A raw client that completes the handshake and then says nothing.
        raw = raw_ws(st, u.token)
        raw.settimeout(15)
        t0 = time.monotonic()
        data = b""
        while b"\x88" not in data.split(b"\r\n\r\n", 1)[-1]:
            chunk = await asyncio.to_thread(raw.recv, 4096)
            assert chunk, "closed without a close frame"
            data += chunk
        waited = time.monotonic() - t0
        body = data.split(b"\r\n\r\n", 1)[1]
        assert b"\x89" in body, "no ping before the close"      # ping frames came
        close = body[body.index(b"\x88"):]
        assert int.from_bytes(close[2:4], "big") == 1008, close
        assert 5.5 <= waited <= 10.0, waited
        raw.close()
        await alive.send(json.dumps({"type": "ping"}))
        assert json.loads(await alive.recv())["type"] == "pong"
        await alive.close()
    run(go())


def test_message_rate_limit_then_close(st):
    u = token_user(st)

    async def go():
        ws = await websockets.connect(ws_url(st, u.token), max_queue=None)
        for _ in range(30):
            await ws.send(json.dumps({"type": "ping"}))
        answers = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(30)]
        kinds = [a["type"] if a["type"] == "pong" else a["payload"]["code"] for a in answers]
        assert kinds.count("pong") >= 10 and "rate_limited" in kinds, kinds
        with pytest.raises(websockets.ConnectionClosed) as e:
            for _ in range(500):
                await ws.send(json.dumps({"type": "ping"}))
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert e.value.code == 1008
    run(go())


def test_events_missed_across_a_chatd_restart_arrive_without_a_later_one(st):
    """An event chatd committed but never published (it died first) reaches
    subscribers once gatewayd is connected to the new chatd, even when no
    later event comes to show the gap."""
    a, b = token_user(st), token_user(st)
    room = room_with(st, a, b)

    async def go():
        sb = await Sock.open(st, b)
        seq = await sb.subscribe(room)
        emit_unpublished(st, room, a.id, "never published")
        await asyncio.to_thread(st.restart, "chatd")
        f = await sb.expect("room-note", timeout=20)
        assert f["seq"] == seq + 1 and f["payload"] == {"note": "never published"}
        m = await asyncio.to_thread(send, st, a.token, room, "after the restart")
        f = await sb.expect("chat-message")
        assert f["seq"] == seq + 2 and f["payload"] == m
        await sb.close()
    run(go(), timeout=60)
