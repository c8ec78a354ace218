"""Access tokens at the edge: every way to be refused with 401, and the
authenticated echo route proving the principal, body, query and request id
reach the daemon."""

import base64
import json
import time
import uuid

import nacl.signing
import pytest

from stacklib import DAEMONS, DROP, assert_json_error, b64url, hs256_signer, make_jwt

ECHO = "/api/health/authd/echo"


def post_echo(stack, auth=None, body=b"{}", path=ECHO, headers=None):
    h = {"Content-Type": "application/json"}
    if auth is not None:
        h["Authorization"] = auth
    h.update(headers or {})
    return stack.request("POST", path, data=body, headers=h)


def assert_401(resp, code="invalid_token", message=None):
    body = assert_json_error(resp, 401, code, message)
    assert resp.headers["Cache-Control"] == "no-store"
    return body


# ------------------------------------------------------------ refusals

def test_no_token_401(stack):
    assert_401(post_echo(stack), "unauthorized", "Authorization required")


@pytest.mark.parametrize("auth", ["Basic x", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ",
                                  "bearer abc.def.ghi", "Token abc", "x"])
def test_non_bearer_authorization_401(stack, auth):
    assert_401(post_echo(stack, auth), "unauthorized", "Invalid authorization format")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "a.b", "a.b.c.d", "....", ".",
                                   "eyJhbGciOiJFZERTQSJ9..", "!!!.@@@.###"])
def test_garbage_token_401(stack, token):
    assert_401(post_echo(stack, f"Bearer {token}"))


def test_alg_none_401(stack):
    tok = make_jwt({"alg": "none", "typ": "JWT"}, {"sub": str(uuid.uuid4()),
                   "sid": str(uuid.uuid4()), "adm": True, "iat": int(time.time()),
                   "exp": int(time.time()) + 600}, lambda m: b"")
    assert tok.endswith(".")
    assert_401(post_echo(stack, f"Bearer {tok}"), message="Invalid token algorithm")
    # and with the (valid) EdDSA signature bolted on: still the header decides
    good = stack.token(adm=True)
    h, p, s = good.split(".")
    forged = f"{b64url(json.dumps({'alg': 'none'}))}.{p}.{s}"
    assert_401(post_echo(stack, f"Bearer {forged}"))


@pytest.mark.parametrize("secret", ["raw", "base64"])
def test_hs256_with_public_key_as_secret_401(stack, secret):
    """The classic algorithm confusion: HMAC keyed with the public key."""
    key = stack.public_key if secret == "raw" else stack.public_key_text.encode()
    tok = make_jwt({"alg": "HS256", "typ": "JWT"},
                   {"sub": str(uuid.uuid4()), "sid": str(uuid.uuid4()), "adm": True,
                    "iat": int(time.time()), "exp": int(time.time()) + 600},
                   hs256_signer(key))
    assert_401(post_echo(stack, f"Bearer {tok}"), message="Invalid token algorithm")


@pytest.mark.parametrize("header", [{"alg": "eddsa"}, {"alg": "Ed25519"}, {"typ": "JWT"},
                                    {"alg": ["EdDSA"]}, {"alg": None}])
def test_other_alg_headers_401(stack, header):
    assert_401(post_echo(stack, f"Bearer {stack.token(header=header)}"))


def test_token_signed_by_another_key_401(stack):
    other = nacl.signing.SigningKey.generate()
    tok = stack.token(key=other)
    assert_401(post_echo(stack, f"Bearer {tok}"), message="Invalid token signature")


def test_tampered_payload_401(stack):
    h, p, s = stack.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["adm"] = True
    forged = f"{h}.{b64url(json.dumps(claims))}.{s}"
    assert_401(post_echo(stack, f"Bearer {forged}"), message="Invalid token signature")


def test_truncated_signature_401(stack):
    tok = stack.token()
    assert_401(post_echo(stack, f"Bearer {tok[:-4]}"))


def test_expired_401(stack):
    now = int(time.time())
    tok = stack.token(iat=now - 1200, exp=now - 60)
    assert_401(post_echo(stack, f"Bearer {tok}"), "token_expired", "Token expired")


def test_iat_far_in_future_401(stack):
    now = int(time.time())
    tok = stack.token(iat=now + 3600, exp=now + 7200)
    assert_401(post_echo(stack, f"Bearer {tok}"), message="Token not yet valid")


def test_iat_within_leeway_ok(stack):
    now = int(time.time())
    r = post_echo(stack, f"Bearer {stack.token(iat=now + 15)}")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("claims", [
    {"sub": "not-a-uuid"},
    {"sub": "12345"},
    {"sub": ""},
    {"sub": 42},
    {"sid": "not-a-uuid"},
    {"sub": DROP},
    {"sid": DROP},
    {"adm": DROP},
    {"adm": "true"},
    {"adm": 1},
    {"exp": DROP},
    {"iat": DROP},
    {"exp": "soon"},
])
def test_bad_claims_401(stack, claims):
    assert_401(post_echo(stack, f"Bearer {stack.token(**claims)}"))


def test_non_json_segments_401(stack):
    sign = lambda m: stack.signing_key.sign(m).signature  # noqa: E731
    for header, payload in [("not json", {"sub": "x"}), ({"alg": "EdDSA"}, "not json"),
                            ({"alg": "EdDSA"}, [1, 2]), ([1], {"a": 1})]:
        assert_401(post_echo(stack, f"Bearer {make_jwt(header, payload, sign)}"))


def test_oversized_token_401(stack):
    tok = stack.token(payload={"sub": str(uuid.uuid4()), "sid": str(uuid.uuid4()),
                               "adm": False, "iat": int(time.time()),
                               "exp": int(time.time()) + 600, "pad": "p" * 5000})
    assert len(tok) > 4096
    assert_401(post_echo(stack, f"Bearer {tok}"))


def test_401_carries_www_authenticate_challenge(stack):
    """RFC 9110 section 11.6.1 / 15.5.2: "A server generating a 401
    (Unauthorized) response MUST send a WWW-Authenticate header field
    containing at least one challenge" (for tokens: RFC 6750 'Bearer')."""
    for r in (post_echo(stack), post_echo(stack, "Bearer garbage")):
        assert r.status_code == 401
        challenge = r.headers.get("WWW-Authenticate")
        assert challenge is not None and challenge.startswith("Bearer"), (
            f"BUG: gatewayd's 401 ({r.json()['error']}) carries no WWW-Authenticate challenge")


def test_public_route_ignores_bad_token(stack):
    r = stack.get("/api/health/authd", headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 200, r.text


# ------------------------------------------------------------ accepted

@pytest.mark.parametrize("daemon", DAEMONS)
def test_echo_with_valid_token(stack, daemon):
    sub, sid = str(uuid.uuid4()), str(uuid.uuid4())
    tok = stack.token(sub=sub, sid=sid, adm=False)
    payload = {"hello": "wörld", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
    r = post_echo(stack, f"Bearer {tok}", json.dumps(payload).encode(),
                  path=f"/api/health/{daemon}/echo?x=1&y=two%20words",
                  headers={"X-Request-ID": f"echo-{daemon}-1"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Request-ID"] == f"echo-{daemon}-1"
    body = r.json()
    assert body == {"daemon": daemon, "user_id": sub, "session_id": sid, "admin": False,
                    "request_id": f"echo-{daemon}-1", "query": "x=1&y=two%20words",
                    "body": payload}, body


@pytest.mark.parametrize("payload", [
    {"s": "\u00e9\u4e2d\U0001f600"},
    {"s": "quote\" backslash\\ nl\n tab\t"},
    {"big": 2 ** 31, "neg": -1.5e-300, "t": True, "f": False, "z": None},
    {"nested": [[[{"a": []}]], {}]},
])
def test_echo_round_trips_json_exactly(stack, user_token, payload):
    r = post_echo(stack, f"Bearer {user_token}", json.dumps(payload).encode())
    assert r.status_code == 200, r.text
    assert r.json()["body"] == payload


def test_escaped_nul_is_not_silently_truncated(stack, user_token):
    """A JSON string may contain \u0000. It must reach the daemon intact or
    be refused (400); silently cutting the string at the NUL lets a value
    that passed validation differ from the one sent (e.g. "admin\u0000x")."""
    body = b'{"s":"admin\\u0000x"}'
    assert json.loads(body) == {"s": "admin\x00x"}
    r = post_echo(stack, f"Bearer {user_token}", body)
    if r.status_code == 400:
        assert_json_error(r, 400, "invalid_json")
        return
    assert r.status_code == 200, r.text
    got = r.json()["body"]
    assert got == {"s": "admin\x00x"}, (
        f"BUG: the JSON string \"admin\\u0000x\" reached the daemon as {got['s']!r}")


def test_echo_admin_claim(stack):
    r = post_echo(stack, f"Bearer {stack.token(adm=True)}", b'{"a":1}')
    assert r.status_code == 200, r.text
    assert r.json()["admin"] is True


@pytest.mark.parametrize("query,forwarded", [
    ("token={tok}", ""),
    ("a=b&token={tok}", "a=b"),
    ("a=b&token={tok}&c=d%20e", "a=b&c=d%20e"),
    ("token={tok}&tokenish=1", "tokenish=1"),
])
def test_token_in_query(stack, query, forwarded):
    """?token= authenticates (for WebSocket clients), and is removed from
    the query the daemon sees (docs/ipc.md: never the credential)."""
    sub, sid = str(uuid.uuid4()), str(uuid.uuid4())
    tok = stack.token(sub=sub, sid=sid)
    r = post_echo(stack, None, b'{"q":true}', path=f"/api/health/chatd/echo?{query.format(tok=tok)}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["user_id"], body["session_id"], body["body"]) == (sub, sid, {"q": True})
    assert body["query"] == forwarded
    assert tok not in r.text


def test_bad_token_in_query_401(stack):
    assert_401(post_echo(stack, None, path=f"{ECHO}?token=garbage"))
    other = nacl.signing.SigningKey.generate()
    assert_401(post_echo(stack, None, path=f"{ECHO}?token={stack.token(key=other)}"),
               message="Invalid token signature")


def test_header_token_wins_over_query(stack):
    """A present Authorization header is the token; ?token= is not a fallback."""
    good = stack.token()
    assert_401(post_echo(stack, "Bearer garbage", path=f"{ECHO}?token={good}"))


def test_generated_request_id_reaches_daemon(stack, user_token):
    r = post_echo(stack, f"Bearer {user_token}")
    assert r.status_code == 200
    assert r.json()["request_id"] == r.headers["X-Request-ID"]
