"""Tokens through gatewayd: refresh with rotation and reuse detection, the
access-token attacks refused at the edge on GET /api/auth/me, me, logout,
and what the database keeps (hashes only)."""

import json
import re
import time
import uuid

import nacl.signing
import pytest

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import (HEX64_RE, PASSWORD, assert_401, assert_accepted, assert_error,
                     assert_token_response, b64url_json, claims, get, me, new_user, pg_exec,
                     pg_rows, post, refresh, rows_containing, sha256_hex, wait_refused)
from stacklib import b64url, hs256_signer, make_jwt


# ------------------------------------------------------------ refresh

def test_refresh_rotates_the_refresh_token(stack):
    u = new_user(stack, "rot")
    r = refresh(stack, u.refresh)
    body = assert_token_response(r, u.username, u.email)
    assert body["refresh_token"] != u.refresh
    assert body["user"]["id"] == u.id
    old, new = claims(u.access), claims(body["access_token"])
    assert new["sub"] == u.id and new["sid"] == old["sid"], (old, new)
    assert new["exp"] - new["iat"] == 900
    assert_accepted(stack, body["access_token"], user_id=u.id)
    assert_accepted(stack, u.access, user_id=u.id)
    # the new one rotates again
    body2 = assert_token_response(refresh(stack, body["refresh_token"]))
    assert body2["refresh_token"] not in (u.refresh, body["refresh_token"])


def test_replayed_refresh_token_revokes_the_session(stack):
    u = new_user(stack, "replay")
    other_access, other_refresh = u.session(stack)       # another session of the user
    body = assert_token_response(refresh(stack, u.refresh))
    new_access, new_refresh = body["access_token"], body["refresh_token"]
    sid = claims(u.access)["sid"]

    r = refresh(stack, u.refresh)
    assert_error(r, 401, "refresh_token_reused")
    # every access token of that session dies, within 1 s
    wait_refused(stack, u.access, "session_revoked", what="the first access token")
    wait_refused(stack, new_access, "session_revoked", what="the refreshed access token")
    # and the successor refresh token with them
    assert_error(refresh(stack, new_refresh), 401, "invalid_refresh_token")
    # replaying once more stays refused
    assert refresh(stack, u.refresh).status_code == 401
    # the user's other session is not touched
    assert_accepted(stack, other_access, user_id=u.id)
    assert_token_response(refresh(stack, other_refresh))
    [(revoked,)] = pg_rows(stack, "SELECT revoked_at IS NOT NULL FROM auth.sessions WHERE id = %s",
                           (sid,))
    assert revoked
    # the replay is logged, naming the session
    assert re.search(rf"refresh token was replayed: session {sid} revoked", stack.log("authd")), \
        "authd did not log the replay"


@pytest.mark.parametrize("token", ["", "x", "A" * 42, "A" * 44, "A" * 42 + "=", "A" * 42 + "+",
                                   "A" * 42 + "/", "A" * 42 + ".", "\u00e9" * 43, "A" * 200])
def test_malformed_refresh_token_401(stack, token):
    assert_error(refresh(stack, token), 401, "invalid_refresh_token")


@pytest.mark.parametrize("what", ["token", "session"])
def test_expired_refresh_token_401(stack, what):
    u = new_user(stack, "exp")
    sid = claims(u.access)["sid"]
    sql = ("UPDATE auth.refresh_tokens SET expires_at = now() - interval '1 second'"
           " WHERE session_id = %s" if what == "token" else
           "UPDATE auth.sessions SET expires_at = now() - interval '1 second' WHERE id = %s")
    assert pg_exec(stack, sql, (sid,)) == 1
    assert_error(refresh(stack, u.refresh), 401, "invalid_refresh_token")


def test_unknown_refresh_token_401(stack):
    assert_error(refresh(stack, b64url(uuid.uuid4().bytes * 2)[:43]), 401, "invalid_refresh_token")


@pytest.mark.parametrize("body", [{}, {"refresh_token": None}, {"refresh_token": 5},
                                  {"refresh_token": ["x"]}, {"token": "A" * 43}])
def test_refresh_body_without_token_401(stack, body):
    assert_error(post(stack, "/api/auth/refresh", body), 401, "invalid_refresh_token")


def test_refresh_non_json_400(stack):
    assert_error(post(stack, "/api/auth/refresh", b"refresh_token=abc"), 400, "invalid_json")


def test_access_token_is_not_a_refresh_token(stack):
    u = new_user(stack, "confuse")
    assert_error(refresh(stack, u.access), 401, "invalid_refresh_token")
    assert_accepted(stack, u.access)          # and trying did no harm
    assert_token_response(refresh(stack, u.refresh))


def test_refresh_token_is_not_an_access_token(stack):
    u = new_user(stack, "confuse")
    r = me(stack, u.refresh)
    assert_401(r, "invalid_token")
    r = get(stack, f"/api/auth/me?token={u.refresh}")
    assert_401(r, "invalid_token")
    assert_token_response(refresh(stack, u.refresh))   # still a good refresh token


# ------------------------------------------------------------ attacks on /me

def _forge(stack, user, kind):
    sub, sid = user.id, claims(user.access)["sid"]
    now = int(time.time())
    good = {"sub": sub, "sid": sid, "adm": True, "iat": now, "exp": now + 600}
    if kind == "alg_none":
        return make_jwt({"alg": "none", "typ": "JWT"}, good, lambda m: b"")
    if kind == "alg_none_with_signature":
        h, p, s = stack.token(payload=good).split(".")
        return f"{b64url(json.dumps({'alg': 'none'}))}.{p}.{s}"
    if kind == "hs256_public_key":
        return make_jwt({"alg": "HS256", "typ": "JWT"}, good, hs256_signer(stack.public_key))
    if kind == "hs256_public_key_base64":
        return make_jwt({"alg": "HS256", "typ": "JWT"}, good,
                        hs256_signer(stack.public_key_text.encode()))
    if kind == "wrong_key":
        return stack.token(key=nacl.signing.SigningKey.generate(), payload=good)
    if kind == "expired":
        return stack.token(payload=dict(good, iat=now - 1000, exp=now - 1))
    if kind == "iat_future":
        return stack.token(payload=dict(good, iat=now + 90, exp=now + 900))
    if kind == "tampered":
        h, p, s = user.access.split(".")
        return f"{h}.{b64url_json(dict(claims(user.access), adm=True))}.{s}"
    if kind == "garbage":
        return "garbage"
    if kind == "truncated":
        return user.access[:-2]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind,code", [
    ("alg_none", "invalid_token"), ("alg_none_with_signature", "invalid_token"),
    ("hs256_public_key", "invalid_token"), ("hs256_public_key_base64", "invalid_token"),
    ("wrong_key", "invalid_token"), ("expired", "token_expired"), ("iat_future", "invalid_token"),
    ("tampered", "invalid_token"), ("garbage", "invalid_token"), ("truncated", "invalid_token"),
])
def test_forged_tokens_refused_on_me(stack, kind, code):
    u = new_user(stack, "forge")
    tok = _forge(stack, u, kind)
    r = me(stack, tok)
    body = assert_401(r, code)
    assert r.headers["WWW-Authenticate"].startswith('Bearer realm="enclavr"'), r.headers
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert u.email not in r.text and u.id not in r.text, body
    # also as ?token=
    assert get(stack, "/api/auth/me", params={"token": tok}).status_code == 401


def test_iat_within_leeway_accepted_on_me(stack):
    u = new_user(stack, "leeway")
    now = int(time.time())
    tok = stack.token(sub=u.id, sid=claims(u.access)["sid"], iat=now + 20, exp=now + 600)
    assert_accepted(stack, tok, user_id=u.id)


def test_me_without_or_with_bad_authorization_401(stack):
    r = get(stack, "/api/auth/me")
    assert_401(r, "unauthorized")
    r = get(stack, "/api/auth/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_401(r, "unauthorized")


# ------------------------------------------------------------ me, logout

def test_me_returns_the_user(stack):
    u = new_user(stack, "me")
    r = me(stack, u.access)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == u.user


def test_me_of_a_deleted_user_404(stack):
    u = new_user(stack, "gone")
    tok = stack.token(sub=str(uuid.uuid4()), sid=claims(u.access)["sid"])
    assert_error(me(stack, tok), 404, "not_found")


def test_logout_revokes_the_session_only(stack):
    u = new_user(stack, "logout")
    other_access, other_refresh = u.session(stack)
    sid = claims(u.access)["sid"]
    [(revoked,)] = pg_rows(stack, "SELECT revoked_at FROM auth.sessions WHERE id = %s", (sid,))
    assert revoked is None

    r = post(stack, "/api/auth/logout", token=u.access)
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}
    wait_refused(stack, u.access, "session_revoked")
    assert_error(refresh(stack, u.refresh), 401, "invalid_refresh_token")
    # logging out again with the dead token: refused at the edge
    assert_401(post(stack, "/api/auth/logout", token=u.access), "session_revoked")
    # the other session lives on
    assert_accepted(stack, other_access, user_id=u.id)
    assert_token_response(refresh(stack, other_refresh))
    [(revoked,)] = pg_rows(stack, "SELECT revoked_at FROM auth.sessions WHERE id = %s", (sid,))
    assert revoked is not None


def test_logout_with_a_body_works(stack):
    """The web client may send {"refresh_token": ...} along."""
    u = new_user(stack, "logoutb")
    r = post(stack, "/api/auth/logout", {"refresh_token": u.refresh}, token=u.access)
    assert r.status_code == 200 and r.json() == {"success": True}, r.text
    wait_refused(stack, u.access)


# ------------------------------------------------------------ the database

def test_database_keeps_only_hashes_of_tokens_and_passwords(stack):
    u = new_user(stack, "hashes")
    body = assert_token_response(refresh(stack, u.refresh))
    sid = claims(u.access)["sid"]
    rows = pg_rows(stack, "SELECT token_hash, used_at IS NOT NULL FROM auth.refresh_tokens"
                          " WHERE session_id = %s ORDER BY created_at", (sid,))
    assert [(h, used) for h, used in rows] == [(sha256_hex(u.refresh), True),
                                               (sha256_hex(body["refresh_token"]), False)], rows
    for h, _ in rows:
        assert HEX64_RE.match(h)
    assert rows_containing(stack, u.refresh, body["refresh_token"], u.access,
                           body["access_token"], u.password) == {}, "stored in clear"
    [(pw_hash,)] = pg_rows(stack, "SELECT password_hash FROM auth.users WHERE id = %s", (u.id,))
    assert pw_hash.startswith("$argon2id$v=19$"), pw_hash
    assert PASSWORD not in pw_hash


def test_sessions_row_records_the_client(stack, client_ip):
    u = new_user(stack, "row")
    sid = claims(u.access)["sid"]
    [(ip, agent, expires_ok)] = pg_rows(
        stack, "SELECT ip_address, user_agent, expires_at > now() + interval '6 days'"
               " FROM auth.sessions WHERE id = %s AND user_id = %s", (sid, u.id))
    assert ip == client_ip
    assert agent.startswith("python-requests/"), agent
    assert expires_ok
