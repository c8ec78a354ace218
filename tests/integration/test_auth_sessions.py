"""Sessions of the caller (§2.13): list with the current one marked,
count, revoke one, revoke all, rotate. Each revocation makes the affected
access tokens fail within 1 s and leaves the others alone."""

import uuid

import pytest

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import (assert_401, assert_accepted, assert_error, assert_token_response, claims,
                     get, login, new_user, pg_exec, post, refresh, wait_refused)
from stacklib import RFC3339_RE, UUID4_RE

SESSION_KEYS = {"id", "created_at", "expires_at", "last_used_at", "ip_address", "user_agent",
                "current"}


def sessions_of(stack, token):
    r = get(stack, "/api/auth/sessions", token=token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"sessions", "count"}, body
    assert body["count"] == len(body["sessions"]), body
    return body["sessions"]


def count_of(stack, token):
    r = get(stack, "/api/auth/sessions/count", token=token)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"active_sessions"}, r.json()
    return r.json()["active_sessions"]


def sid(token):
    return claims(token)["sid"]


def three_sessions(stack, prefix):
    """A user with three sessions: [(access, refresh)] oldest first, each
    opened with its own User-Agent."""
    u = new_user(stack, prefix)
    out = [(u.access, u.refresh)]
    for i in (1, 2):
        r = login(stack, u.username, headers={"User-Agent": f"enclavr-test/{i}"})
        body = assert_token_response(r)
        out.append((body["access_token"], body["refresh_token"]))
    return u, out


def test_list_marks_exactly_the_current_session(stack, client_ip):
    u, toks = three_sessions(stack, "list")
    for access, _ in toks:
        sessions = sessions_of(stack, access)
        assert len(sessions) == 3, sessions
        current = [s for s in sessions if s["current"]]
        assert len(current) == 1 and current[0]["id"] == sid(access), sessions
        assert all(s["current"] is False for s in sessions if s is not current[0])
    sessions = sessions_of(stack, toks[0][0])
    assert [s["id"] for s in sessions] == [sid(a) for a, _ in reversed(toks)], "newest first"
    for s in sessions:
        assert set(s) == SESSION_KEYS, s
        assert UUID4_RE.match(s["id"])
        for k in ("created_at", "expires_at", "last_used_at"):
            assert RFC3339_RE.match(s[k]), s
        assert s["ip_address"] == client_ip, s
    assert [s["user_agent"] for s in sessions][:2] == ["enclavr-test/2", "enclavr-test/1"]
    assert count_of(stack, toks[0][0]) == 3


def test_list_shows_only_own_live_sessions(stack):
    a, b = new_user(stack, "mine"), new_user(stack, "theirs")
    ids = [s["id"] for s in sessions_of(stack, a.access)]
    assert ids == [sid(a.access)]
    assert sid(b.access) not in ids
    extra_access, _ = a.session(stack)
    assert post(stack, "/api/auth/logout", token=extra_access).status_code == 200
    assert [s["id"] for s in sessions_of(stack, a.access)] == [sid(a.access)]
    assert count_of(stack, a.access) == 1


def test_session_records_the_peer_address_and_a_bounded_agent(stack, client_ip):
    """X-Forwarded-For is not trusted; a long User-Agent is cut (the
    reference failed the login), one that is not UTF-8 does no harm."""
    u = new_user(stack, "peer")
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.10",
               "User-Agent": "A" * 600}
    access = assert_token_response(login(stack, u.username, headers=headers))["access_token"]
    [s] = [s for s in sessions_of(stack, access) if s["current"]]
    assert s["ip_address"] == client_ip
    assert s["user_agent"] == "A" * 512
    access = assert_token_response(login(stack, u.username,
                                         headers={"User-Agent": b"caf\xe9 \xff"}))["access_token"]
    [s] = [s for s in sessions_of(stack, access) if s["current"]]
    assert isinstance(s["user_agent"], str)


def test_expired_session_is_not_listed(stack):
    u = new_user(stack, "expired")
    other, _ = u.session(stack)
    assert pg_exec(stack, "UPDATE auth.sessions SET expires_at = now() - interval '1 second'"
                          " WHERE id = %s", (sid(other),)) == 1
    assert [s["id"] for s in sessions_of(stack, u.access)] == [sid(u.access)]
    assert count_of(stack, u.access) == 1


def test_revoke_another_session(stack):
    u, toks = three_sessions(stack, "revoke")
    (a0, _), (a1, r1), (a2, _) = toks
    r = post(stack, f"/api/auth/sessions/revoke?id={sid(a1)}", token=a0)
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Session revoked successfully"}
    wait_refused(stack, a1, "session_revoked")
    assert_error(refresh(stack, r1), 401, "invalid_refresh_token")
    assert_accepted(stack, a0, user_id=u.id)
    assert_accepted(stack, a2, user_id=u.id)
    assert {s["id"] for s in sessions_of(stack, a0)} == {sid(a0), sid(a2)}
    assert count_of(stack, a2) == 2
    # revoking it again: it is no longer there
    assert_error(post(stack, f"/api/auth/sessions/revoke?id={sid(a1)}", token=a0), 404, "not_found")


def test_revoke_the_current_session(stack):
    u, toks = three_sessions(stack, "revself")
    (a0, _), (a1, _), _ = toks
    r = post(stack, f"/api/auth/sessions/revoke?id={sid(a0)}", token=a0)
    assert r.status_code == 200, r.text
    wait_refused(stack, a0, "session_revoked")
    assert_accepted(stack, a1, user_id=u.id)


def test_revoke_unknown_or_foreign_session_404(stack):
    a, b = new_user(stack, "own"), new_user(stack, "foreign")
    for target in (str(uuid.uuid4()), sid(b.access)):
        assert_error(post(stack, f"/api/auth/sessions/revoke?id={target}", token=a.access),
                     404, "not_found", "Session not found")
    assert_accepted(stack, b.access, user_id=b.id)
    assert_accepted(stack, a.access, user_id=a.id)


@pytest.mark.parametrize("query,message", [
    ("", "Session ID is required"),
    ("?id=", "Session ID is required"),
    ("?other=1", "Session ID is required"),
    ("?id=not-a-uuid", "Invalid session ID"),
    ("?id=12345", "Invalid session ID"),
    ("?id=" + "a" * 80, "Invalid session ID"),
    ("?id=%ZZ", "Invalid session ID"),
    ("?id=" + str(uuid.uuid4()) + "x", "Invalid session ID"),
])
def test_revoke_bad_id_400(stack, query, message):
    u = new_user(stack, "badid")
    assert_error(post(stack, f"/api/auth/sessions/revoke{query}", token=u.access),
                 400, "invalid_request", message)
    assert_accepted(stack, u.access)


def test_revoke_all_ends_every_session_of_the_user(stack):
    u, toks = three_sessions(stack, "all")
    other = new_user(stack, "bystander")
    r = post(stack, "/api/auth/sessions/revoke-all", token=toks[1][0])
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "All sessions revoked successfully"}
    for access, refresh_token in toks:
        wait_refused(stack, access, "session_revoked")
        assert_error(refresh(stack, refresh_token), 401, "invalid_refresh_token")
    assert_accepted(stack, other.access, user_id=other.id)
    # a new login starts afresh
    access, _ = u.session(stack)
    assert [s["id"] for s in sessions_of(stack, access)] == [sid(access)]


def test_rotate_replaces_the_session(stack):
    u, toks = three_sessions(stack, "rotate")
    (a0, r0), (a1, _), _ = toks
    r = post(stack, "/api/auth/sessions/rotate", token=a0)
    body = assert_token_response(r, u.username)
    new_access, new_refresh = body["access_token"], body["refresh_token"]
    assert sid(new_access) != sid(a0)
    assert claims(new_access)["sub"] == u.id
    wait_refused(stack, a0, "session_revoked")
    assert_error(refresh(stack, r0), 401, "invalid_refresh_token")
    assert_accepted(stack, new_access, user_id=u.id)
    assert_accepted(stack, a1, user_id=u.id)
    ids = {s["id"]: s["current"] for s in sessions_of(stack, new_access)}
    assert sid(a0) not in ids and ids[sid(new_access)] is True and len(ids) == 3, ids
    body = assert_token_response(refresh(stack, new_refresh))
    assert sid(body["access_token"]) == sid(new_access)


def test_session_routes_require_a_token(stack):
    for method, path in (("GET", "/api/auth/sessions"), ("GET", "/api/auth/sessions/count"),
                         ("POST", f"/api/auth/sessions/revoke?id={uuid.uuid4()}"),
                         ("POST", "/api/auth/sessions/revoke-all"),
                         ("POST", "/api/auth/sessions/rotate")):
        r = get(stack, path) if method == "GET" else post(stack, path)
        assert_401(r, "unauthorized")
