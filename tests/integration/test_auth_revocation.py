"""Revocation across gatewayd processes: a second gatewayd of the shared
stack (same authd, same Redis, another port) refuses a session revoked
through the first within 1 s, for every way a session ends; and a gatewayd
started after a revocation refuses that session from its first request (it
reads enclavr:revoked:<sid> from Redis at start)."""

import time

import pytest
import redis

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import (REVOKE_WITHIN_S, ExtraGatewayd, assert_401, assert_accepted,
                     assert_token_response, challenge_of, claims, enable_2fa, login, me,
                     new_user, post, refresh, verify)


@pytest.fixture(scope="module")
def gw2(stack):
    g = ExtraGatewayd(stack)
    with g:
        yield g


def refused_everywhere(stack, token, ports, t0, code="session_revoked", within=REVOKE_WITHIN_S):
    """Polls every gatewayd (None: the stack's own) until each refuses token
    with 401 code; each must do so within `within` s of t0."""
    pending = list(ports)
    while pending:
        for port in list(pending):
            r = me(stack, token, port=port)
            if r.status_code == 401:
                assert_401(r, code)
                pending.remove(port)
                continue
            assert r.status_code == 200, f"gatewayd {port or stack.port}: {r.status_code} {r.text}"
        late = time.monotonic() - t0
        if pending and late > within:
            names = [p or stack.port for p in pending]
            raise AssertionError(f"gatewayd(s) on port(s) {names} still accept the token "
                                 f"{late:.2f}s after its revocation")
        if pending:
            time.sleep(0.02)
    return time.monotonic() - t0


def test_second_gatewayd_serves_the_same_accounts(stack, gw2):
    u = new_user(stack, "gw")
    assert_accepted(stack, u.access, port=gw2.port, user_id=u.id)
    body = assert_token_response(login(stack, u.username, port=gw2.port), u.username)
    assert_accepted(stack, body["access_token"], user_id=u.id)
    assert_token_response(refresh(stack, body["refresh_token"], port=gw2.port))


def _revoke(stack, kind, port):
    """Makes a user, ends one of its sessions in the way `kind` through the
    gatewayd on port; returns (t0, the dead token, a token that must live
    or None)."""
    u = new_user(stack, f"rv{kind[:6]}")
    other_access, _ = u.session(stack)
    if kind == "logout":
        r = post(stack, "/api/auth/logout", token=u.access, port=port)
        t0 = time.monotonic()
        assert r.status_code == 200, r.text
        return t0, u.access, other_access
    if kind == "revoke":
        r = post(stack, f"/api/auth/sessions/revoke?id={claims(u.access)['sid']}",
                 token=other_access, port=port)
        t0 = time.monotonic()
        assert r.status_code == 200, r.text
        return t0, u.access, other_access
    if kind == "revoke_all":
        r = post(stack, "/api/auth/sessions/revoke-all", token=other_access, port=port)
        t0 = time.monotonic()
        assert r.status_code == 200, r.text
        return t0, u.access, None
    if kind == "rotate":
        r = post(stack, "/api/auth/sessions/rotate", token=u.access, port=port)
        t0 = time.monotonic()
        new = assert_token_response(r)
        return t0, u.access, new["access_token"]
    if kind == "refresh_reuse":
        assert_token_response(refresh(stack, u.refresh, port=port))
        r = refresh(stack, u.refresh, port=port)
        t0 = time.monotonic()
        assert r.status_code == 401 and r.json()["error"] == "refresh_token_reused", r.text
        return t0, u.access, other_access
    if kind == "2fa_disable":
        _, totp = enable_2fa(stack, u)
        ch = challenge_of(stack, u)
        current = assert_token_response(verify(stack, u.id, ch["challenge"], totp.code()))
        r = post(stack, "/api/auth/2fa/disable", {"code": u.password},
                 token=current["access_token"], port=port)
        t0 = time.monotonic()
        assert r.status_code == 200, r.text
        return t0, u.access, current["access_token"]
    raise AssertionError(kind)


KINDS = ["logout", "revoke", "revoke_all", "rotate", "refresh_reuse", "2fa_disable"]


@pytest.mark.parametrize("kind", KINDS)
def test_revoked_through_one_gatewayd_refused_by_both_within_1s(stack, gw2, kind):
    t0, dead, alive = _revoke(stack, kind, port=None)
    refused_everywhere(stack, dead, [gw2.port, None], t0)
    if alive is not None:
        for port in (None, gw2.port):
            assert_accepted(stack, alive, port=port)


@pytest.mark.parametrize("kind", ["logout", "revoke_all"])
def test_revoked_through_the_second_refused_by_the_first(stack, gw2, kind):
    t0, dead, _ = _revoke(stack, kind, port=gw2.port)
    refused_everywhere(stack, dead, [None, gw2.port], t0)


def test_revocation_is_kept_in_redis(stack):
    u = new_user(stack, "rvredis")
    sid = claims(u.access)["sid"]
    r = redis.Redis(host="127.0.0.1", port=stack.redis_port, socket_timeout=5)
    try:
        assert r.get(f"enclavr:revoked:{sid}") is None
        assert post(stack, "/api/auth/logout", token=u.access).status_code == 200
        assert r.get(f"enclavr:revoked:{sid}") is not None
        ttl = r.ttl(f"enclavr:revoked:{sid}")
        assert 800 <= ttl <= 900, ttl         # as long as an access token lives
    finally:
        r.close()


def test_gatewayd_started_after_a_revocation_refuses_it(stack):
    u = new_user(stack, "rvlate")
    keep = new_user(stack, "rvkeep")
    r = post(stack, "/api/auth/logout", token=u.access)
    assert r.status_code == 200, r.text
    refused_everywhere(stack, u.access, [None], time.monotonic())
    with ExtraGatewayd(stack) as late:
        # from the very first request after /health answered 200
        r = me(stack, u.access, port=late.port)
        assert r.status_code == 401, (
            f"BUG: a gatewayd started after the revocation accepted the revoked session: "
            f"{r.status_code} {r.text[:200]}")
        assert_401(r, "session_revoked")
        assert_accepted(stack, keep.access, port=late.port, user_id=keep.id)
        # and it hears later revocations too
        t0 = time.monotonic()
        assert post(stack, "/api/auth/logout", token=keep.access).status_code == 200
        refused_everywhere(stack, keep.access, [late.port, None], t0)
