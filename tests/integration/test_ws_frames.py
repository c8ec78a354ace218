"""RFC 6455 framing on GET /api/ws (gatewayd/wsframe.c), end to end: a
client's ping answered by a pong with the same payload, fragmented messages
(with a control frame in between), invalid UTF-8 closed with 1007, an
unmasked frame with 1002, a fragmented message past the size limit with
1009, and the close handshake started by the client. Raw sockets send the
frames a well-behaved client library would not."""
import asyncio
import json
import os
import socket
import struct

import websockets

from authlib import client_ip, new_user  # noqa: F401
from test_ws import closed_with, recv_json, run, ws_url


class RawWs:
    """A WebSocket client over a plain socket: it sends any frame, masked
    or not, and reads the server's frames one by one."""

    def __init__(self, stack, token):
        self.sock = socket.create_connection(("127.0.0.1", stack.port), timeout=5)
        self.sock.sendall((f"GET /api/ws?token={token} HTTP/1.1\r\nHost: x\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_frame(self, opcode, payload=b"", fin=True, mask=True):
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            head = bytes([b0, (0x80 if mask else 0) | n])
        elif n < 65536:
            head = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
        else:
            head = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
        if mask:
            key = os.urandom(4)
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """(fin, opcode, payload) of the server's next frame."""
        b0, b1 = self._need(2)
        assert b1 & 0x80 == 0, "a server frame must not be masked"
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack(">H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._need(8))[0]
        return bool(b0 & 0x80), b0 & 0x0f, self._need(n)

    def next_of(self, opcode):
        """The payload of the next frame with opcode, skipping others."""
        while True:
            _, op, payload = self.read_frame()
            if op == opcode:
                return payload

    def close_code(self):
        payload = self.next_of(0x8)
        return struct.unpack(">H", payload[:2])[0], payload[2:].decode()

    def ends(self):
        """True once the server ends the TCP connection."""
        try:
            while self.sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
        return True

    def close(self):
        self.sock.close()


def test_client_ping_gets_a_pong_with_the_same_payload(stack):
    u = new_user(stack, "wsfping")
    raw = RawWs(stack, u.access)
    try:
        raw.send_frame(0x9, b"are you there? \x00\xff")
        assert raw.next_of(0xA) == b"are you there? \x00\xff"
        raw.send_frame(0x9)
        assert raw.next_of(0xA) == b""
        raw.send_frame(0xA, b"unsolicited")        # a pong: nothing comes back
        raw.send_frame(0x1, json.dumps({"type": "ping"}).encode())
        _, op, payload = raw.read_frame()
        assert op == 0x1 and json.loads(payload)["type"] == "pong", (op, payload)
    finally:
        raw.close()

    async def go():
        async with websockets.connect(ws_url(stack, u.access)) as ws:
            waiter = await ws.ping(b"\x01payload\x02")   # websockets matches the payload
            await asyncio.wait_for(waiter, 5)
    run(go())


def test_fragmented_messages_end_to_end(stack):
    u = new_user(stack, "wsfrag")

    async def go():
        async with websockets.connect(ws_url(stack, u.access)) as ws:
            await ws.send(iter(['{"type"', ':"pi', 'ng"}']))
            assert (await recv_json(ws))["type"] == "pong"
            pad = "\u00e9" * 20000                   # 46 KB of UTF-8 in two frames
            parts = [json.dumps({"type": "ping", "pad": pad}, ensure_ascii=False)[:-1],
                     ', "more": "' + pad[:3000] + '"}']
            await ws.send(iter(parts))
            assert (await recv_json(ws))["type"] == "pong"
    run(go())

    raw = RawWs(stack, u.access)
    try:
        raw.send_frame(0x1, b'{"ty', fin=False)
        raw.send_frame(0x9, b"between")                 # control frames may interleave
        raw.send_frame(0x0, b'pe":"p', fin=False)
        raw.send_frame(0x0, b"", fin=False)
        raw.send_frame(0x0, b'ing","x":"caf\xc3', fin=False)   # a character cut in two
        raw.send_frame(0x0, b'\xa9"}')
        assert raw.next_of(0xA) == b"between"
        _, op, payload = raw.read_frame()
        assert op == 0x1 and json.loads(payload)["type"] == "pong", (op, payload)
    finally:
        raw.close()


def test_invalid_utf8_closes_with_1007(stack):
    u = new_user(stack, "wsfutf8")
    for frames in ([(0x1, b'{"type":"ping","x":"\xff"}', True)],
                   [(0x1, b'{"type":"ping","x":"\xe2\x82', False), (0x0, b'"}', True)]):
        raw = RawWs(stack, u.access)
        try:
            for op, payload, fin in frames:
                raw.send_frame(op, payload, fin=fin)
            assert raw.close_code()[0] == 1007
            assert raw.ends()
        finally:
            raw.close()


def test_protocol_errors_close_with_1002(stack):
    u = new_user(stack, "wsf1002")
    for send in (lambda r: r.send_frame(0x1, b'{"type":"ping"}', mask=False),
                 lambda r: r.send_frame(0x0, b"nothing to continue"),
                 lambda r: r.send_frame(0x9, b"x" * 126),
                 lambda r: r.send_frame(0x3, b"reserved opcode")):
        raw = RawWs(stack, u.access)
        try:
            send(raw)
            assert raw.close_code()[0] == 1002
            assert raw.ends()
        finally:
            raw.close()


def test_fragmented_message_past_the_limit_closes_with_1009(stack):
    u = new_user(stack, "wsfbig")

    async def go():
        async with websockets.connect(ws_url(stack, u.access)) as ws:
            try:
                await ws.send(iter(["x" * 40000, "y" * 40000]))
            except websockets.ConnectionClosed:
                pass                    # closed before the last piece went
            assert (await closed_with(ws))[0] == 1009
    run(go())


def test_close_started_by_the_client_is_echoed(stack):
    u = new_user(stack, "wsfclose")
    raw = RawWs(stack, u.access)
    try:
        raw.send_frame(0x8, struct.pack(">H", 4000) + b"bye")
        assert raw.close_code() == (4000, "bye")
        assert raw.ends()
    finally:
        raw.close()

    async def go():
        ws = await websockets.connect(ws_url(stack, u.access))
        await ws.close(1000, "done")
        assert ws.close_code == 1000
    run(go())
