"""[http] trusted_proxies: behind a trusted reverse proxy the client is the
forwarded address (rate limits, sessions' ip_address); from anyone else
X-Forwarded-For is ignored, so a client cannot dodge its limit by forging
one. A gatewayd of the shared stack, started with its own config."""
import os
import re

import pytest

from authlib import PASSWORD, ExtraGatewayd, get, new_client_ip, new_user, request
from test_ratelimit import fresh_window

LIMIT = 3
PROXY = "127.0.0.1"


@pytest.fixture(scope="module")
def gw(stack):
    g = ExtraGatewayd(stack)
    text = g.conf.read_text()
    text = re.sub(r"(?m)^auth_per_minute = \d+$", f"auth_per_minute = {LIMIT}", text)
    text = text.replace("[http]\n", f"[http]\ntrusted_proxies = {PROXY}, 10.0.0.0/8\n", 1)
    g.conf.write_text(text)
    with g:
        yield g


def login(stack, gw, user, source, xff=None):
    headers = {"X-Forwarded-For": xff} if xff else {}
    return request(stack, "POST", "/api/auth/login",
                   {"username": user.username, "password": PASSWORD},
                   port=gw.port, source_ip=source, headers=headers)


def counted(stack, gw, source, xff=None):
    """A sign-in request that costs no hash (an empty body), which the rate
    limit counts all the same: "ok" when let through, 429 when limited."""
    headers = {"X-Forwarded-For": xff} if xff else {}
    status = request(stack, "POST", "/api/auth/login", {}, port=gw.port, source_ip=source,
                     headers=headers).status_code
    return 429 if status == 429 else "ok"


def test_behind_a_trusted_proxy_each_forwarded_client_counts_apart(stack, gw):
    fresh_window(15)
    a, b = f"203.0.113.{os.getpid() % 200 + 1}", f"198.51.100.{os.getpid() % 200 + 1}"
    assert [counted(stack, gw, PROXY, a) for _ in range(LIMIT + 1)] == ["ok"] * LIMIT + [429]
    # another client behind the same proxy is not affected
    assert counted(stack, gw, PROXY, b) == "ok"
    # a chain: the right-most hop that is not a trusted proxy is the client
    assert counted(stack, gw, PROXY, f"192.0.2.1, {a}, 10.1.2.3") == 429


def test_the_forwarded_client_is_the_sessions_address(stack, gw):
    u = new_user(stack, "xffs")
    r = login(stack, gw, u, PROXY, "203.0.113.99")
    assert r.status_code == 200
    sessions = get(stack, "/api/auth/sessions", token=r.json()["access_token"]).json()
    sessions = sessions.get("sessions", sessions) if isinstance(sessions, dict) else sessions
    mine = [s for s in sessions if s.get("current")]
    assert mine and mine[0]["ip_address"] == "203.0.113.99", sessions


def test_forwarded_for_from_an_untrusted_peer_is_ignored(stack, gw):
    fresh_window(15)
    peer = new_client_ip()
    codes = [counted(stack, gw, peer, f"192.0.2.{i}") for i in range(LIMIT + 1)]
    assert codes == ["ok"] * LIMIT + [429], codes


def test_garbage_forwarded_for_keeps_the_proxy_as_client(stack, gw):
    u = new_user(stack, "xffg")
    r = login(stack, gw, u, PROXY, "not-an-address")
    assert r.status_code == 200
    sessions = get(stack, "/api/auth/sessions", token=r.json()["access_token"]).json()
    sessions = sessions.get("sessions", sessions) if isinstance(sessions, dict) else sessions
    assert [s["ip_address"] for s in sessions if s.get("current")] == [PROXY]
