"""Two-factor authentication with a real authenticator (pyotp): setup,
enable, the login's second step (challenge + TOTP or recovery code), each
TOTP step and each recovery code used once, the challenge's limits, disable
(revoking the other sessions), recovery codes, and what the database keeps.

Each test has its own account: authd accepts a TOTP step only above the
last one used, so one account has about three codes per 30 s (see
authlib.Totp)."""

import json
import re
import uuid

import pyotp
import pytest
import requests

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import (HEX64_RE, PASSWORD, REFRESH_RE, Totp, assert_401, assert_accepted,
                     assert_error, assert_token_response, challenge_of, claims, enable_2fa, get,
                     login, me, new_user, pg_exec, pg_rows, post, register, rows_containing,
                     sha256_hex, verify, wait_refused)
from stacklib import pid_running, wait_until

RECOVERY_RE = re.compile(r"^[a-z2-7]{5}-[a-z2-7]{5}$")


def status(stack, token):
    r = get(stack, "/api/auth/2fa/status", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def remaining(stack, token):
    r = get(stack, "/api/auth/2fa/recovery-codes", token=token)
    assert r.status_code == 200, r.text
    assert isinstance(r.json().get("message"), str)
    return r.json()["remaining"]


def login_2fa(stack, user, code):
    """Login + verify: the token response's body."""
    ch = challenge_of(stack, user)
    r = verify(stack, user.id, ch["challenge"], code)
    return assert_token_response(r, user.username, user.email)


# ------------------------------------------------------------ setup, enable

def test_setup_answers_secret_uri_and_recovery_codes(stack):
    name = f"tf_{uuid.uuid4().hex[:10]}"
    email = f"{name}+otp@example.test"
    r = register(stack, name, email)
    token = r.json()["access_token"]
    r = post(stack, "/api/auth/2fa/setup", token=token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"secret", "qr_code_url", "recovery_codes"}, body
    secret = body["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret           # 20 bytes, base32
    url = body["qr_code_url"]
    assert url.startswith("otpauth://totp/Enclavr:"), url
    parsed = pyotp.parse_uri(url)
    assert parsed.secret == secret and parsed.issuer == "Enclavr" and parsed.name == email, url
    assert parsed.digits == 6 and parsed.interval == 30
    codes = body["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    assert all(RECOVERY_RE.match(c) for c in codes), codes
    # not on until enabled
    assert status(stack, token) == {"enabled": False}
    assert me(stack, token).json()["two_factor_enabled"] is False
    assert_token_response(login(stack, name))
    # a second setup replaces the pending secret
    again = post(stack, "/api/auth/2fa/setup", token=token).json()
    assert again["secret"] != secret
    r = post(stack, "/api/auth/2fa/enable", {"code": pyotp.TOTP(secret).now()}, token=token)
    assert_error(r, 400, "invalid_code")
    r = post(stack, "/api/auth/2fa/enable", {"code": pyotp.TOTP(again["secret"]).now()}, token=token)
    assert r.status_code == 200 and r.json() == {"enabled": True}, r.text


def test_enable_checks_the_code(stack):
    u = new_user(stack, "tfen")
    assert_error(post(stack, "/api/auth/2fa/enable", {"code": "123456"}, token=u.access),
                 400, "not_set_up")
    setup = post(stack, "/api/auth/2fa/setup", token=u.access).json()
    totp = Totp(setup["secret"])
    for code in (totp.wrong_code(), "abcdef", "12345", "1234567", " " + totp.totp.now()):
        assert_error(post(stack, "/api/auth/2fa/enable", {"code": code}, token=u.access),
                     400, "invalid_code")
    assert status(stack, u.access) == {"enabled": False}
    r = post(stack, "/api/auth/2fa/enable", {"code": totp.code(earliest=True)}, token=u.access)
    assert r.status_code == 200 and r.json() == {"enabled": True}, r.text
    assert status(stack, u.access) == {"enabled": True}
    assert me(stack, u.access).json()["two_factor_enabled"] is True
    assert_error(post(stack, "/api/auth/2fa/enable", {"code": totp.code()}, token=u.access),
                 400, "already_enabled")
    assert_error(post(stack, "/api/auth/2fa/setup", token=u.access), 400, "already_enabled")
    # the session that enabled it stays
    assert_accepted(stack, u.access, user_id=u.id)


# ------------------------------------------------------------ login with 2FA

def test_login_answers_a_challenge_then_verify_gives_tokens(stack):
    u = new_user(stack, "tflogin")
    _, totp = enable_2fa(stack, u)
    for ident in (u.username, u.email.upper()):
        r = login(stack, ident)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"require_2fa", "user_id", "challenge"}, body
        assert body["require_2fa"] is True and body["user_id"] == u.id
        assert REFRESH_RE.match(body["challenge"])
        assert "access_token" not in r.text and "refresh_token" not in r.text
    ch = challenge_of(stack, u)
    assert_error(verify(stack, u.id, ch["challenge"], totp.wrong_code()), 401, "invalid_code")
    r = verify(stack, u.id, ch["challenge"], totp.code())
    body = assert_token_response(r, u.username, u.email)
    assert body["user"]["two_factor_enabled"] is True
    assert claims(body["access_token"])["sub"] == u.id
    assert_accepted(stack, body["access_token"], user_id=u.id)
    assert_token_response(post(stack, "/api/auth/refresh", {"refresh_token": body["refresh_token"]}))
    # the challenge is spent, whatever the code
    assert_error(verify(stack, u.id, ch["challenge"], totp.code()), 401, "invalid_challenge")


def test_wrong_password_of_a_2fa_account_gives_no_challenge(stack):
    u = new_user(stack, "tfwrong")
    enable_2fa(stack, u)
    r = login(stack, u.username, PASSWORD + "!")
    assert_error(r, 401, "invalid_credentials", "Invalid credentials")
    assert "challenge" not in r.text


def test_a_totp_step_is_accepted_once(stack):
    u = new_user(stack, "tfreplay")
    _, totp = enable_2fa(stack, u)
    code = totp.code()
    login_2fa(stack, u, code)
    ch = challenge_of(stack, u)
    assert_error(verify(stack, u.id, ch["challenge"], code), 401, "invalid_code")
    # the enabling code was spent too
    assert_error(verify(stack, u.id, ch["challenge"], totp.at_step(totp.last - 1)), 401,
                 "invalid_code")
    # a later step works on the same challenge
    body = assert_token_response(verify(stack, u.id, ch["challenge"], totp.code()))
    assert body["user"]["id"] == u.id


def test_recovery_code_works_exactly_once(stack):
    u = new_user(stack, "tfrec")
    setup, _ = enable_2fa(stack, u)
    codes = setup["recovery_codes"]
    assert remaining(stack, u.access) == 10
    login_2fa(stack, u, codes[0])
    assert remaining(stack, u.access) == 9
    ch = challenge_of(stack, u)
    assert_error(verify(stack, u.id, ch["challenge"], codes[0]), 401, "invalid_code")
    # written the other ways a person types it
    login_2fa(stack, u, codes[1].upper())
    login_2fa(stack, u, codes[2].replace("-", " "))
    login_2fa(stack, u, codes[3].replace("-", ""))
    assert remaining(stack, u.access) == 6
    for c in codes[1:4]:
        ch = challenge_of(stack, u)
        assert_error(verify(stack, u.id, ch["challenge"], c), 401, "invalid_code")


def test_challenge_dies_after_5_wrong_codes(stack):
    u = new_user(stack, "tffive")
    setup, totp = enable_2fa(stack, u)
    ch = challenge_of(stack, u)
    for _ in range(5):
        assert_error(verify(stack, u.id, ch["challenge"], totp.wrong_code()), 401, "invalid_code")
    right = totp.code()
    assert_error(verify(stack, u.id, ch["challenge"], right), 401, "invalid_challenge")
    assert_error(verify(stack, u.id, ch["challenge"], setup["recovery_codes"][0]), 401,
                 "invalid_challenge")
    # neither the step nor the recovery code was spent by the dead challenge
    login_2fa(stack, u, right)
    login_2fa(stack, u, setup["recovery_codes"][0])


def test_expired_challenge_is_refused(stack):
    u = new_user(stack, "tfexp")
    _, totp = enable_2fa(stack, u)
    ch = challenge_of(stack, u)
    n = pg_exec(stack, "UPDATE auth.login_challenges SET expires_at = now() - interval '1 second'"
                       " WHERE challenge_hash = %s", (sha256_hex(ch["challenge"]),))
    assert n == 1
    assert_error(verify(stack, u.id, ch["challenge"], totp.code()), 401, "invalid_challenge")
    # a fresh one works (the step was not spent)
    login_2fa(stack, u, totp.at_step(totp.last))


def test_challenge_expires_in_5_minutes(stack):
    u = new_user(stack, "tfttl")
    enable_2fa(stack, u)
    ch = challenge_of(stack, u)
    [(secs,)] = pg_rows(stack, "SELECT extract(epoch FROM expires_at - now())"
                               " FROM auth.login_challenges WHERE challenge_hash = %s",
                        (sha256_hex(ch["challenge"]),))
    assert 280 <= secs <= 300, secs


def test_challenge_is_bound_to_its_user(stack):
    a, b = new_user(stack, "tfa"), new_user(stack, "tfb")
    _, ta = enable_2fa(stack, a)
    _, tb = enable_2fa(stack, b)
    ch = challenge_of(stack, a)
    assert_error(verify(stack, b.id, ch["challenge"], tb.code()), 401, "invalid_challenge")
    assert_error(verify(stack, str(uuid.uuid4()), ch["challenge"], ta.code()), 401,
                 "invalid_challenge")
    body = assert_token_response(verify(stack, a.id, ch["challenge"], ta.at_step(ta.last)))
    assert body["user"]["id"] == a.id


def test_verify_bad_requests(stack):
    u = new_user(stack, "tfbad")
    _, totp = enable_2fa(stack, u)
    ch = challenge_of(stack, u)["challenge"]
    code = totp.wrong_code()
    # (a missing or mistyped "code": test_bad_code_member_is_400_and_authd_survives)
    for body in ({"challenge": ch, "code": code},
                 {"user_id": "not-a-uuid", "challenge": ch, "code": code},
                 {"user_id": u.id, "code": code}):
        assert_error(post(stack, "/api/auth/2fa/verify", body), 400, "invalid_request")
    assert_error(post(stack, "/api/auth/2fa/verify", b"nope"), 400, "invalid_json")
    good = totp.code()
    for bad in ("short", ch + "x", ch[:-1] + "=", "A" * 43):
        assert_error(verify(stack, u.id, bad, good), 401, "invalid_challenge")
    # none of this spent the challenge's tries
    body = assert_token_response(verify(stack, u.id, ch, totp.at_step(totp.last)))
    assert body["user"]["id"] == u.id


def test_verify_for_an_account_without_2fa_is_refused(stack):
    u = new_user(stack, "tfnone")
    r = verify(stack, u.id, "A" * 43, "123456")
    assert_error(r, 401, "invalid_challenge")


# ------------------------------------------------------------ disable

def _two_sessions_with_2fa(stack, prefix):
    """An account with 2FA: (user, totp, setup, current token from a 2FA
    login, the token of the registration's session)."""
    u = new_user(stack, prefix)
    setup, totp = enable_2fa(stack, u)
    body = login_2fa(stack, u, totp.code())
    return u, totp, setup, body["access_token"], u.access


def _assert_disabled(stack, u, current, other):
    wait_refused(stack, other, "session_revoked", what="the other session's token")
    assert_accepted(stack, current, user_id=u.id)
    assert status(stack, current) == {"enabled": False}
    assert me(stack, current).json()["two_factor_enabled"] is False
    assert remaining(stack, current) == 0
    assert_token_response(login(stack, u.username))       # no challenge any more


def test_disable_with_a_totp_code(stack):
    u, totp, _, current, other = _two_sessions_with_2fa(stack, "tfdis")
    r = post(stack, "/api/auth/2fa/disable", {"code": totp.code()}, token=current)
    assert r.status_code == 200 and r.json() == {"enabled": False}, r.text
    _assert_disabled(stack, u, current, other)


def test_disable_with_the_password(stack):
    u, _, _, current, other = _two_sessions_with_2fa(stack, "tfdisp")
    r = post(stack, "/api/auth/2fa/disable", {"code": u.password}, token=current)
    assert r.status_code == 200 and r.json() == {"enabled": False}, r.text
    _assert_disabled(stack, u, current, other)


def test_disable_with_a_recovery_code(stack):
    u, _, setup, current, other = _two_sessions_with_2fa(stack, "tfdisr")
    r = post(stack, "/api/auth/2fa/disable", {"code": setup["recovery_codes"][5]}, token=current)
    assert r.status_code == 200 and r.json() == {"enabled": False}, r.text
    _assert_disabled(stack, u, current, other)


def test_disable_with_a_password_shaped_like_a_recovery_code(stack):
    """"Abcde-23456" meets the password policy and also has the shape of a
    recovery code; as the account password it must disable 2FA."""
    password = "Abcde-23456"
    u = new_user(stack, "tfshape", password=password)
    enable_2fa(stack, u)
    r = post(stack, "/api/auth/2fa/disable", {"code": password}, token=u.access)
    assert r.status_code == 200, (f"BUG: the account password {password!r} was not accepted "
                                  f"to disable 2FA: {r.status_code} {r.text}")
    assert r.json() == {"enabled": False}


def test_disable_refuses_wrong_proofs(stack):
    u, totp, setup, current, other = _two_sessions_with_2fa(stack, "tfdisw")
    for code in (totp.wrong_code(), u.password + "x", "Wrong-Password-1", "aaaaa-bbbbb",
                 totp.used_code()):
        assert_error(post(stack, "/api/auth/2fa/disable", {"code": code}, token=current),
                     400, "invalid_code")
    assert status(stack, current) == {"enabled": True}
    assert_accepted(stack, other, user_id=u.id)
    assert remaining(stack, current) == 10
    challenge_of(stack, u)


def test_disable_when_not_enabled_400(stack):
    u = new_user(stack, "tfoff")
    assert_error(post(stack, "/api/auth/2fa/disable", {"code": u.password}, token=u.access),
                 400, "not_enabled")


def test_disable_kills_pending_challenges(stack):
    u, totp, _, current, _ = _two_sessions_with_2fa(stack, "tfpend")
    ch = challenge_of(stack, u)
    r = post(stack, "/api/auth/2fa/disable", {"code": u.password}, token=current)
    assert r.status_code == 200, r.text
    assert_error(verify(stack, u.id, ch["challenge"], totp.code()), 401, "invalid_challenge")


# ------------------------------------------------------------ recovery codes

def test_new_recovery_codes_replace_the_old(stack):
    u = new_user(stack, "tfnew")
    setup, _ = enable_2fa(stack, u)
    old = setup["recovery_codes"]
    login_2fa(stack, u, old[0])
    assert remaining(stack, u.access) == 9
    # New codes need proof of the account, like disabling 2FA does.
    assert_error(post(stack, "/api/auth/2fa/recovery-codes", {}, token=u.access), 400,
                 "invalid_request")
    assert_error(post(stack, "/api/auth/2fa/recovery-codes", {"code": "Wrong#Pass1"},
                      token=u.access), 400, "invalid_code")
    assert remaining(stack, u.access) == 9
    r = post(stack, "/api/auth/2fa/recovery-codes", {"code": u.password}, token=u.access)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"codes"}, r.json()
    new = r.json()["codes"]
    assert len(new) == 10 and len(set(new)) == 10 and not set(new) & set(old), new
    assert all(RECOVERY_RE.match(c) for c in new), new
    assert remaining(stack, u.access) == 10
    ch = challenge_of(stack, u)
    assert_error(verify(stack, u.id, ch["challenge"], old[1]), 401, "invalid_code")
    body = assert_token_response(verify(stack, u.id, ch["challenge"], new[0]))
    assert body["user"]["id"] == u.id
    assert remaining(stack, u.access) == 9


def test_new_recovery_codes_need_2fa_on(stack):
    u = new_user(stack, "tfnocodes")
    assert_error(post(stack, "/api/auth/2fa/recovery-codes", {"code": u.password},
                      token=u.access), 400, "not_enabled")
    assert remaining(stack, u.access) == 0


def test_2fa_routes_require_a_token(stack):
    for method, path in (("GET", "/api/auth/2fa/status"), ("POST", "/api/auth/2fa/setup"),
                         ("POST", "/api/auth/2fa/enable"), ("POST", "/api/auth/2fa/disable"),
                         ("GET", "/api/auth/2fa/recovery-codes"),
                         ("POST", "/api/auth/2fa/recovery-codes")):
        r = get(stack, path) if method == "GET" else post(stack, path, {"code": "123456"})
        assert_401(r, "unauthorized")


# ------------------------------------------------------------ the database

def test_database_keeps_recovery_codes_and_challenges_hashed(stack):
    u = new_user(stack, "tfdb")
    setup, _ = enable_2fa(stack, u)
    rows = pg_rows(stack, "SELECT code_hash FROM auth.recovery_codes WHERE user_id = %s"
                          " AND used_at IS NULL", (u.id,))
    hashes = sorted(h for (h,) in rows)
    assert hashes == sorted(sha256_hex(c.replace("-", "")) for c in setup["recovery_codes"])
    assert all(HEX64_RE.match(h) for h in hashes)
    codes = setup["recovery_codes"]
    assert rows_containing(stack, *codes, *(c.replace("-", "") for c in codes)) == {}
    ch = challenge_of(stack, u)["challenge"]
    assert rows_containing(stack, ch) == {}
    assert pg_rows(stack, "SELECT user_id::text FROM auth.login_challenges WHERE challenge_hash = %s",
                   (sha256_hex(ch),)) == [(u.id,)]
    login_2fa(stack, u, setup["recovery_codes"][0])
    [(used,)] = pg_rows(stack, "SELECT count(*) FROM auth.recovery_codes WHERE user_id = %s"
                               " AND used_at IS NOT NULL", (u.id,))
    assert used == 1


@pytest.mark.parametrize("first", ["totp", "recovery"])
def test_two_codes_racing_on_one_challenge_give_one_session(stack, first):
    """Two verifications of one challenge at once: one session at most."""
    from concurrent.futures import ThreadPoolExecutor
    u = new_user(stack, "tfrace")
    setup, totp = enable_2fa(stack, u)
    ch = challenge_of(stack, u)["challenge"]
    codes = [totp.code(), setup["recovery_codes"][0]]
    if first == "recovery":
        codes.reverse()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: verify(stack, u.id, ch, c), codes))
    assert sorted(r.status_code for r in results) == [200, 401], [r.text for r in results]
    r = get(stack, "/api/auth/sessions/count", token=u.access)
    assert r.json()["active_sessions"] == 2, r.text      # registration + the one login


# ------------------------------------------------------------ a bad "code" member

BAD_CODE_CASES = [
    ("enable", {}),
    ("disable", {"code": ""}),
    ("verify", {"user_id": str(uuid.uuid4()), "challenge": "A" * 43, "code": 123456}),
]


def test_bad_code_member_is_400_and_authd_survives(own_stack):
    """A body without a usable "code" (absent, empty, not a string) is 400
    invalid_request on enable, disable and verify (public), and authd lives
    on. On a private stack: when authd dies here it is restarted, so that
    each case is tried, and the stack's sanitizer check reports the crash."""
    st = own_stack
    u = new_user(st, "tfcode")
    failures = []
    for route, body in BAD_CODE_CASES:
        pid = st.pid("authd")
        try:       # a 400 takes milliseconds; a dead authd would cost the 5 s upstream timeout
            r = post(st, f"/api/auth/2fa/{route}", body,
                     token=None if route == "verify" else u.access, timeout=2)
            answer = f"{r.status_code} {r.text}"
            ok = r.status_code == 400 and r.json().get("error") == "invalid_request"
        except requests.Timeout:
            answer, ok = "no answer within 2 s", False
        alive = pid_running(pid)
        if not ok or not alive:
            failures.append(f"POST /api/auth/2fa/{route} {json.dumps(body)} -> {answer}; "
                            f"authd {'alive' if alive else 'DIED'}")
        if not alive:
            st.start_daemon("authd")
            wait_until(lambda: get(st, "/api/health/authd").status_code == 200, 20, interval=0.2,
                       what="authd back after its crash")
    assert not failures, "BUG:\n" + "\n".join(failures)


def test_password_alone_buys_no_endless_code_guessing(stack):
    """With 2FA on, a correct password does not forgive failed attempts:
    only a completed login does. Five password-only logins lock the
    identifier, so the codes of five challenges are all one can guess."""
    u = new_user(stack, "tflock")
    enable_2fa(stack, u)
    for _ in range(5):
        ch = challenge_of(stack, u)
        assert_error(verify(stack, u.id, ch["challenge"], "000000"), 401, "invalid_code")
    r = post(stack, "/api/auth/login", {"username": u.username, "password": u.password})
    assert_error(r, 429, "too_many_attempts")


def test_completed_2fa_login_forgives_failures(stack):
    u = new_user(stack, "tfforgive")
    setup, _ = enable_2fa(stack, u)
    for _ in range(3):
        challenge_of(stack, u)
    login_2fa(stack, u, setup["recovery_codes"][0])	# completes: forgiven
    for _ in range(4):
        challenge_of(stack, u)
    ch = challenge_of(stack, u)			# the 5th since: still allowed
    assert ch.get("require_2fa") is True, ch
