"""GET /api/ws: the handshake's checks, JSON messages, and closing - 4001
when the session is revoked (logout, revoke-all), 1001 when gatewayd
drains, 1003 for binary frames, 1009 past the message size."""
import asyncio
import json
import signal

import pytest
import requests
import websockets

from authlib import ExtraGatewayd, client_ip, new_user, post  # noqa: F401

CLOSE_WITHIN_S = 1.5


def ws_url(stack, token=None, port=None):
    port = port or stack.port
    return f"ws://127.0.0.1:{port}/api/ws" + (f"?token={token}" if token else "")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def closed_with(ws, within=CLOSE_WITHIN_S):
    """The close code the server sent within `within` seconds."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    except websockets.ConnectionClosed as e:
        return e.code, e.reason


def test_ping_pong_and_error_frames(stack):
    u = new_user(stack, "wsping")

    async def go():
        async with websockets.connect(ws_url(stack, u.access)) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            pong = await recv_json(ws)
            assert pong["type"] == "pong" and pong["timestamp"].endswith("Z"), pong
            await ws.send("not json")
            err = await recv_json(ws)
            assert err == {"type": "error", "payload": {
                "code": "invalid_message",
                "message": "A message is a JSON object with a type"}}, err
            await ws.send(json.dumps({"type": "no-such-type"}))
            err = await recv_json(ws)
            assert err["type"] == "error" and err["payload"]["code"] == "unknown_type", err
            await ws.send(json.dumps({"type": "ping"}))	# still usable
            assert (await recv_json(ws))["type"] == "pong"
    run(go())


def test_token_by_header_too(stack):
    u = new_user(stack, "wshdr")

    async def go():
        async with websockets.connect(ws_url(stack), extra_headers={
                "Authorization": "Bearer " + u.access}) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv_json(ws))["type"] == "pong"
    run(go())


@pytest.mark.parametrize("token", [None, "garbage", "a.b.c"])
def test_refused_without_a_valid_token(stack, token):
    async def go():
        with pytest.raises(websockets.InvalidStatusCode) as e:
            async with websockets.connect(ws_url(stack, token)):
                pass
        assert e.value.status_code == 401
    run(go())


def test_foreign_origin_refused_allowed_origin_accepted(stack):
    u = new_user(stack, "wsorigin")

    async def go():
        with pytest.raises(websockets.InvalidStatusCode) as e:
            async with websockets.connect(ws_url(stack, u.access), origin="http://evil.test"):
                pass
        assert e.value.status_code == 403
        ok = f"http://127.0.0.1:{stack.port}"
        async with websockets.connect(ws_url(stack, u.access), origin=ok) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv_json(ws))["type"] == "pong"
    run(go())


def test_plain_http_to_the_socket_path(stack):
    u = new_user(stack, "wsplain")
    h = {"Authorization": "Bearer " + u.access}
    r = requests.get(f"http://127.0.0.1:{stack.port}/api/ws", headers=h, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "bad_handshake", r.text
    r = requests.post(f"http://127.0.0.1:{stack.port}/api/ws", headers=h, timeout=5)
    assert r.status_code == 405 and "GET" in r.headers["Allow"], r.text


def test_logout_closes_only_that_sessions_sockets_with_4001(stack):
    u = new_user(stack, "wslogout")
    other, _ = u.session(stack)

    async def go():
        async with websockets.connect(ws_url(stack, u.access)) as a, \
                websockets.connect(ws_url(stack, other)) as b:
            await asyncio.to_thread(post, stack, "/api/auth/logout", token=u.access)
            assert await closed_with(a) == (4001, "session revoked")
            await b.send(json.dumps({"type": "ping"}))
            assert (await recv_json(b))["type"] == "pong"
    run(go())


def test_revoke_all_closes_every_socket_of_the_user(stack):
    u = new_user(stack, "wsrevall")
    second, _ = u.session(stack)

    async def go():
        async with websockets.connect(ws_url(stack, u.access)) as a, \
                websockets.connect(ws_url(stack, second)) as b:
            r = await asyncio.to_thread(post, stack, "/api/auth/sessions/revoke-all",
                                        token=u.access)
            assert r.status_code == 200, r.text
            assert (await closed_with(a))[0] == 4001
            assert (await closed_with(b))[0] == 4001
    run(go())


def test_binary_frames_close_with_1003(stack):
    u = new_user(stack, "wsbin")

    async def go():
        async with websockets.connect(ws_url(stack, u.access)) as ws:
            await ws.send(b"\x00\x01")
            assert (await closed_with(ws))[0] == 1003
    run(go())


def test_oversized_message_closes_with_1009(stack):
    u = new_user(stack, "wsbig")

    async def go():
        async with websockets.connect(ws_url(stack, u.access), max_size=None) as ws:
            await ws.send(json.dumps({"type": "ping", "pad": "x" * (70 * 1024)}))
            assert (await closed_with(ws))[0] == 1009
    run(go())


def test_info_counts_open_sockets(stack):
    u = new_user(stack, "wscount")

    def ws_clients():
        return requests.get(f"http://127.0.0.1:{stack.port}/info", timeout=5).json()["ws_clients"]

    async def go():
        before = ws_clients()
        async with websockets.connect(ws_url(stack, u.access)) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            await recv_json(ws)
            assert ws_clients() == before + 1
    run(go())


def test_draining_gatewayd_closes_sockets_with_1001(stack):
    u = new_user(stack, "wsdrain")
    with ExtraGatewayd(stack) as gw:
        async def go():
            async with websockets.connect(ws_url(stack, u.access, port=gw.port)) as ws:
                await ws.send(json.dumps({"type": "ping"}))
                await recv_json(ws)
                gw.proc.send_signal(signal.SIGTERM)
                assert await closed_with(ws, within=5) == (1001, "server shutting down")
        run(go())
        assert gw.proc.wait(timeout=10) == 0
