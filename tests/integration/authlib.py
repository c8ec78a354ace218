"""Helpers of the authd tests (test_auth_*.py): accounts made through
gatewayd, token and error-shape checks, polling for a revocation, TOTP
codes that never reuse a step, database look-ups, and a second gatewayd.

Every account is new (a unique name per call), so the tests share the
session's stack without seeing each other. Every test is its own client:
its requests leave from a loopback address of its own (127.x.y.z, see the
autouse fixture `client_ip`, which each test module imports), so that the
per-IP limits of gatewayd count each test apart and no test spends
another's budget."""

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from stacklib import (HTTP_TIMEOUT, RFC3339_RE, UUID4_RE, assert_json_error, b64url,
                      free_port, sanitizer_env, wait_until)

PASSWORD = "Corr3ct-Horse!battery"
REVOKE_WITHIN_S = 1.0        # issue 3: revoked tokens fail on every gatewayd within 1 s
USER_KEYS = {"id", "username", "email", "display_name", "avatar_url", "is_admin",
             "email_verified", "two_factor_enabled", "password_expired", "created_at"}
PUBLIC_KEYS = {"id", "username", "display_name", "avatar_url", "created_at"}
REFRESH_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")


def uniq(prefix="u"):
    """A fresh username (3-32 characters of [A-Za-z0-9_-])."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"[:32]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")))


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------ the client

class _SourceAdapter(HTTPAdapter):
    """Connections bound to one local address."""

    def __init__(self, source_ip, **kw):
        self.source_ip = source_ip
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(*args, **kw)


_client = {"ip": "127.0.0.1"}


def new_client_ip():
    """A fresh loopback address (never 127.0.0.1)."""
    b = uuid.uuid4().bytes
    return f"127.{b[0]}.{b[1]}.{max(2, b[2] % 255)}"


@pytest.fixture(autouse=True)
def client_ip():
    """Every test sends from its own loopback address (see the module
    docstring); yields that address."""
    _client["ip"] = new_client_ip()
    yield _client["ip"]
    _client["ip"] = "127.0.0.1"


def request(stack, method, path, body=None, token=None, port=None, source_ip=None, **kw):
    """One request through gatewayd (port: another gatewayd of the stack),
    from the test's client address; body: a dict (sent as JSON), or bytes/
    str (sent as they are)."""
    headers = dict(kw.pop("headers", {}) or {})
    if token is not None:
        headers.update(bearer(token))
    base = stack.base if port is None else f"http://127.0.0.1:{port}"
    kw.setdefault("timeout", HTTP_TIMEOUT)
    if body is not None and not isinstance(body, (bytes, str)):
        kw["json"] = body
    elif body is not None:
        kw["data"] = body
    with requests.Session() as s:
        s.mount("http://", _SourceAdapter(source_ip or _client["ip"]))
        return s.request(method, base + path, headers=headers, **kw)


def post(stack, path, body=None, token=None, **kw):
    return request(stack, "POST", path, body, token, **kw)


def put(stack, path, body=None, token=None, **kw):
    return request(stack, "PUT", path, body, token, **kw)


def get(stack, path, token=None, **kw):
    return request(stack, "GET", path, None, token, **kw)


def register(stack, username=None, email=None, password=PASSWORD, **kw):
    username = uniq() if username is None else username
    email = f"{uuid.uuid4().hex}@example.test" if email is None else email
    return post(stack, "/api/auth/register",
                {"username": username, "email": email, "password": password}, **kw)


def login(stack, ident, password=PASSWORD, **kw):
    return post(stack, "/api/auth/login", {"username": ident, "password": password}, **kw)


def refresh(stack, refresh_token, **kw):
    return post(stack, "/api/auth/refresh", {"refresh_token": refresh_token}, **kw)


def me(stack, token, **kw):
    return get(stack, "/api/auth/me", token=token, **kw)


class User:
    """An account and the tokens of its latest session."""

    def __init__(self, username, email, password, body):
        self.username, self.email, self.password = username, email, password
        self.id = body["user"]["id"]
        self.user = body["user"]
        self.access = body["access_token"]
        self.refresh = body["refresh_token"]

    def session(self, stack):
        """Logs in once more: (access, refresh) of a new session."""
        r = login(stack, self.username, self.password)
        body = assert_token_response(r, self.username, self.email)
        return body["access_token"], body["refresh_token"]


def new_user(stack, prefix="u", password=PASSWORD, **kw):
    username = uniq(prefix)
    email = f"{username.lower()}@example.test"
    r = register(stack, username, email, password, **kw)
    body = assert_token_response(r, username, email)
    return User(username, email, password, body)


def assert_error(resp, status, code, message=None):
    """The JSON error shape (with "message"), as stacklib checks it."""
    return assert_json_error(resp, status, code, message)


def assert_401(resp, code, message=None):
    """A 401 of gatewayd's token check: the JSON error and the RFC 6750
    Bearer challenge. (authd's own 401s of the public routes, login,
    refresh and 2FA verify, are checked with assert_error.)"""
    body = assert_json_error(resp, 401, code, message)
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer"), resp.headers
    return body


def assert_user(user, username=None, email=None):
    assert set(user) == USER_KEYS, f"user keys: {sorted(user)}"
    assert UUID4_RE.match(user["id"]), user
    assert RFC3339_RE.match(user["created_at"]), user
    for k in ("is_admin", "email_verified", "two_factor_enabled", "password_expired"):
        assert isinstance(user[k], bool), (k, user)
    for k in ("username", "email", "display_name", "avatar_url"):
        assert isinstance(user[k], str), (k, user)
    if username is not None:
        assert user["username"] == username, user
    if email is not None:
        assert user["email"] == email, user
    return user


def assert_token_response(resp, username=None, email=None):
    """200 with {access_token, refresh_token, expires_in 900, token_type
    "Bearer", user}; returns the body."""
    assert resp.status_code == 200, f"expected 200, got {resp.status_code}: {resp.text[:500]}"
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    assert resp.headers.get("Cache-Control") == "no-store", resp.headers
    body = resp.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in", "token_type", "user"}, body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900 and isinstance(body["expires_in"], int), body["expires_in"]
    assert REFRESH_RE.match(body["refresh_token"]), body["refresh_token"]
    assert body["access_token"].count(".") == 2
    assert_user(body["user"], username, email)
    return body


def claims(token):
    """The payload of a JWT (not verified)."""
    seg = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def wait_refused(stack, token, code="session_revoked", within=REVOKE_WITHIN_S, port=None,
                 what="the token"):
    """Polls GET /api/auth/me until the token is refused with 401 code; fails
    unless that happens within `within` seconds of the call. Returns the
    final response."""
    t0 = time.monotonic()
    last = None
    while True:
        r = me(stack, token, port=port)
        last = (r.status_code, r.text[:200])
        if r.status_code == 401:
            elapsed = time.monotonic() - t0
            assert_401(r, code)
            assert elapsed <= within, f"{what} refused only after {elapsed:.2f}s"
            return r
        assert r.status_code == 200, f"unexpected answer while polling: {last}"
        if time.monotonic() - t0 > within:
            raise AssertionError(f"{what} still accepted {within}s after its revocation: {last}")
        time.sleep(0.02)


def assert_accepted(stack, token, port=None, user_id=None):
    r = me(stack, token, port=port)
    assert r.status_code == 200, f"the token should still work: {r.status_code} {r.text[:300]}"
    if user_id is not None:
        assert r.json()["id"] == user_id
    return r.json()


# ------------------------------------------------------------ TOTP

class Totp:
    """Codes of one secret that the server will accept: each step at most
    once and in increasing order (authd refuses a step not above the last
    one used), within its window of -1..+1 step."""

    STEP = 30

    def __init__(self, secret):
        import pyotp
        self.totp = pyotp.TOTP(secret)
        self.last = None

    def at_step(self, step):
        return self.totp.at(step * self.STEP)

    def code(self, earliest=False):
        """The code of the next usable step: the previous step when
        earliest (and it is not used and not about to leave the window),
        else the current one, else the next. Waits (polling the clock) in
        the rare case both are spent."""
        deadline = time.monotonic() + 2 * self.STEP + 5
        while True:
            now = time.time()
            cur = int(now // self.STEP)
            into = now - cur * self.STEP
            lowest = cur - 1 if earliest and into < self.STEP - 2 else cur
            step = lowest if self.last is None else max(lowest, self.last + 1)
            if step <= cur + 1:
                self.last = step
                return self.at_step(step)
            assert time.monotonic() < deadline, "no usable TOTP step"
            time.sleep(0.2)

    def used_code(self):
        """The code of the last step used (a replay)."""
        assert self.last is not None
        return self.at_step(self.last)

    def wrong_code(self):
        """Six digits that match no step of the window."""
        cur = int(time.time() // self.STEP)
        window = {self.at_step(s) for s in range(cur - 2, cur + 3)}
        for n in range(1000000):
            c = f"{(123457 + n * 7919) % 1000000:06d}"
            if c not in window:
                return c
        raise AssertionError("unreachable")


def enable_2fa(stack, user, token=None):
    """setup + enable for user; returns (setup body, Totp)."""
    token = token or user.access
    r = post(stack, "/api/auth/2fa/setup", token=token)
    assert r.status_code == 200, r.text
    setup = r.json()
    totp = Totp(setup["secret"])
    r = post(stack, "/api/auth/2fa/enable", {"code": totp.code(earliest=True)}, token=token)
    assert r.status_code == 200 and r.json() == {"enabled": True}, r.text
    return setup, totp


def challenge_of(stack, user, password=None):
    """Logs a 2FA account in: the challenge body (no tokens)."""
    r = login(stack, user.username, password or user.password)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == {"require_2fa": True, "user_id": user.id, "challenge": body.get("challenge")}, body
    assert REFRESH_RE.match(body["challenge"]), body
    return body


def verify(stack, user_id, challenge, code, **kw):
    return post(stack, "/api/auth/2fa/verify",
                {"user_id": user_id, "challenge": challenge, "code": code}, **kw)


# ------------------------------------------------------------ database

def pg_rows(stack, sql, params=()):
    conn = stack.pg()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def pg_exec(stack, sql, params=()):
    conn = stack.pg()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount
    finally:
        conn.close()


def rows_containing(stack, *needles):
    """{needle: [tables]} of the needles that some row of the auth schema
    holds in its text form (empty when none does)."""
    found = {}
    conn = stack.pg()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = 'auth' AND table_type = 'BASE TABLE'")
            tables = [t for (t,) in cur.fetchall()]
            assert "users" in tables and "sessions" in tables, tables
            for t in tables:
                cur.execute(f"SELECT x::text FROM auth.{t} x")
                text = "\n".join(row for (row,) in cur.fetchall())
                for n in needles:
                    if n in text:
                        found.setdefault(n, []).append(t)
    finally:
        conn.close()
    return found


# ------------------------------------------------------------ a second gatewayd

class ExtraGatewayd:
    """Another gatewayd of the stack, from its gatewayd.conf with another
    port; logs into RUN_DIR/log (so that the stack's sanitizer check reads
    them). stop() ends exactly this process."""

    def __init__(self, stack):
        self.stack = stack
        self.port = free_port()
        self.conf = Path(stack.run_dir) / "etc" / f"gatewayd-{self.port}.conf"
        text = (Path(stack.run_dir) / "etc" / "gatewayd.conf").read_text()
        text, n = re.subn(r"(?m)^port = \d+$", f"port = {self.port}", text, count=1)
        assert n == 1, "no 'port =' line in gatewayd.conf"
        # its own control socket and metrics port: the stack's are taken
        text = re.sub(r"(?m)^socket = .*$",
                      f"socket = {stack.run_dir}/sock/gatewayd-{self.port}.ctl", text)
        text = re.sub(r"(?m)^listen = 127\.0\.0\.1:\d+$", "listen = 127.0.0.1:0", text)
        self.conf.write_text(text)
        self.log_path = Path(stack.run_dir) / "log" / f"gatewayd-{self.port}.log"
        self.proc = None

    def start(self, timeout=20):
        binary = Path(self.stack.bin_dir) / "gatewayd"
        assert binary.exists(), binary
        env = sanitizer_env(self.stack.run_dir)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(binary), "-f", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)

        def healthy():
            if self.proc.poll() is not None:
                return "exited"
            try:
                r = requests.get(f"http://127.0.0.1:{self.port}/health", timeout=2)
                return r.status_code == 200 and "up"
            except requests.RequestException:
                return False
        try:
            state = wait_until(healthy, timeout, interval=0.05,
                               what=f"gatewayd on port {self.port} to answer /health with 200")
            assert state == "up", (f"the extra gatewayd exited ({self.proc.returncode}):\n"
                                   f"{self.log_path.read_text()[-2000:]}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            raise AssertionError(f"gatewayd {self.proc.pid} needed SIGKILL")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        rc = self.stop()
        try:
            self.conf.unlink()
        except OSError:
            pass
        if exc[0] is None:
            assert rc == 0, f"the second gatewayd exited with {rc}:\n{self.log_path.read_text()[-2000:]}"
