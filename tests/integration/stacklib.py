"""Shared helpers of the integration tier: starting and stopping a whole
stack with scripts/stack.sh, the sanitizer-report check, JWT minting, raw
HTTP over sockets, and common assertions.

Only Debian's /usr/bin/python3 packages are used (pytest, requests,
psycopg2, nacl, aiosmtpd)."""

import base64
import email
import email.policy
import hashlib
import hmac
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

import nacl.signing
import requests
from requests.structures import CaseInsensitiveDict

REPO = Path(__file__).resolve().parents[2]
STACK_SH = REPO / "scripts" / "stack.sh"
DAEMONS = ("authd", "chatd", "voiced")
ALL_DAEMONS = DAEMONS + ("gatewayd",)

# Lines that mean a sanitizer found something. The daemons write them to
# their own log (stderr) or to RUN_DIR/log/{asan,ubsan}.<pid>.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

HTTP_TIMEOUT = 5  # seconds, for every request and socket


class StackError(Exception):
    pass


def bin_dir():
    """The daemons to test: $ENCLAVR_BIN, else build/san/bin of the repo."""
    env = os.environ.get("ENCLAVR_BIN")
    if env:
        return Path(env)
    return REPO / "build" / "san" / "bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop_process(pid, timeout=5):
    """SIGSTOP pid and wait until every thread of it is stopped: kill()
    returns before the group stop reaches all threads, and a thread still
    running could read a request meant to wait in a socket."""
    os.kill(pid, signal.SIGSTOP)

    def all_stopped():
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state not in ("T", "t"):
                return False
        return True
    wait_until(all_stopped, timeout, interval=0.01, what=f"process {pid} to stop")


def pid_running(pid):
    """True while pid exists and is not a zombie (PID 1 here may not reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Polls predicate until it returns a truthy value; returns it, or
    raises AssertionError with the last value/exception at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - reported below
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def sanitizer_env(run_dir, env=None):
    env = dict(os.environ if env is None else env)
    log = Path(run_dir) / "log"
    env["ASAN_OPTIONS"] = f"abort_on_error=0:detect_leaks=1:log_path={log}/asan"
    env["LSAN_OPTIONS"] = f"suppressions={REPO / 'tests' / 'lsan.supp'}:print_suppressions=0"
    env["UBSAN_OPTIONS"] = f"print_stacktrace=1:log_path={log}/ubsan"
    return env


# ------------------------------------------------------------ sanitizers

def find_sanitizer_reports(log_dir, context_after=40):
    """Every file under log_dir holding a sanitizer report, as one text block
    per file (the first hit with the lines around it, and the hit count)."""
    reports = []
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        return reports
    for path in sorted(p for p in log_dir.rglob("*") if p.is_file()):
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        hits = [i for i, line in enumerate(lines) if any(m in line for m in SANITIZER_MARKERS)]
        if not hits:
            continue
        first = hits[0]
        excerpt = "\n".join(lines[max(0, first - 3):first + context_after])
        reports.append(f"=== {path} ({len(hits)} sanitizer line(s), first at line {first + 1}) ===\n{excerpt}")
    return reports


def sanitizer_text_reports(text):
    """The same check for a captured stdout/stderr string."""
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


# ------------------------------------------------------------ tokens

def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(header, payload, sign):
    """A compact JWT: header and payload are dicts (or raw str/bytes for
    malformed cases); sign(signing_input: bytes) -> signature bytes."""
    def seg(x):
        if isinstance(x, (dict, list)):
            x = json.dumps(x, separators=(",", ":"))
        return b64url(x)
    signing_input = f"{seg(header)}.{seg(payload)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def default_claims(**over):
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "sid": str(uuid.uuid4()), "adm": False,
              "iat": now, "exp": now + 600}
    for k, v in over.items():
        if v is DROP:
            claims.pop(k, None)
        else:
            claims[k] = v
    return claims


class _Drop:
    def __repr__(self):
        return "DROP"


DROP = _Drop()  # default_claims(adm=DROP) leaves the claim out


def hs256_signer(secret):
    return lambda msg: hmac.new(secret, msg, hashlib.sha256).digest()


# ------------------------------------------------------------ raw HTTP

class RawResponse:
    """A parsed HTTP/1.1 response with requests-like attributes."""

    def __init__(self, status_line, header_lines, body):
        parts = status_line.split(" ", 2)
        self.status_line = status_line
        self.http_version = parts[0]
        self.status_code = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.header_list = []
        self.headers = CaseInsensitiveDict()
        for line in header_lines:
            name, _, value = line.partition(":")
            name, value = name.strip(), value.strip()
            self.header_list.append((name, value))
            if name in self.headers:
                self.headers[name] = self.headers[name] + ", " + value
            else:
                self.headers[name] = value
        self.content = body

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)

    def header_values(self, name):
        return [v for n, v in self.header_list if n.lower() == name.lower()]

    def __repr__(self):
        return f"<RawResponse {self.status_code} {self.text[:200]!r}>"


def parse_one_response(buf, head=False):
    """Parses one response from the start of buf. Returns (response, rest)
    or (None, buf) when buf does not yet hold a complete one."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, buf
    head_text = buf[:end].decode("latin-1")
    lines = head_text.split("\r\n")
    resp = RawResponse(lines[0], lines[1:], b"")
    rest = buf[end + 4:]
    if head or resp.status_code in (204, 304) or 100 <= resp.status_code < 200:
        return resp, rest
    if "chunked" in resp.headers.get("Transfer-Encoding", "").lower():
        raise AssertionError("gatewayd is not expected to send chunked responses")
    cl = resp.headers.get("Content-Length")
    if cl is None:
        raise AssertionError(f"response without Content-Length: {head_text!r}")
    n = int(cl)
    if len(rest) < n:
        return None, buf
    resp.content = rest[:n]
    return resp, rest[n:]


def parse_responses(buf, heads=()):
    """All complete responses in buf; heads = indexes answering HEAD."""
    out = []
    while buf:
        resp, rest = parse_one_response(buf, head=len(out) in heads)
        if resp is None:
            break
        out.append(resp)
        buf = rest
    return out, buf


class RawConn:
    """One client TCP connection with a timeout on every operation."""

    def __init__(self, port, timeout=HTTP_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.reset = False

    def send(self, data):
        """Sends data; returns False when the peer had closed (EPIPE/RST)."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def _recv(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            # Linux keeps the bytes that arrived before a RST readable; a
            # reset after the response is the server closing with unread input.
            self.reset = True
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_responses(self, n, timeout=None, heads=()):
        """Reads until n complete responses arrived (or EOF/timeout); heads
        holds the indexes (in this call) of responses to HEAD requests."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = []
        while len(out) < n:
            resp, rest = parse_one_response(self.buf, head=len(out) in heads)
            if resp is not None:
                out.append(resp)
                self.buf = rest
                continue
            if self.eof or not self._recv(deadline):
                break
        return out

    def read_response(self, timeout=None, head=False):
        resps = self.read_responses(1, timeout, heads=(0,) if head else ())
        assert resps, (f"no complete response within {timeout or self.timeout}s "
                       f"(eof={self.eof}, reset={self.reset}, got {self.buf[:300]!r})")
        return resps[0]

    def read_until_close(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof and self._recv(deadline):
            pass
        return self.buf

    def closed_by_peer(self, timeout=2.0):
        """True when the server closes the connection within timeout."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._recv(deadline):
                break
        return self.eof

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_request(port, data, timeout=HTTP_TIMEOUT, head=False):
    """Sends data (a whole request, any bytes) on a new connection and
    returns the first response (asserting one arrives)."""
    with RawConn(port, timeout) as c:
        c.send(data)
        return c.read_response(timeout, head=head)


def simple_request(method, target, headers=(), body=b"", version="HTTP/1.1"):
    if isinstance(target, str):
        target = target.encode()
    lines = [method.encode() + b" " + target + b" " + version.encode(), b"Host: 127.0.0.1"]
    for h in headers:
        lines.append(h.encode() if isinstance(h, str) else h)
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# ------------------------------------------------------------ assertions

def assert_json_error(resp, status, code, message=None):
    """status, the one error shape {"error": code, "message": text}, and
    the headers of a JSON error."""
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:500]}"
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body, dict), body
    assert body.get("error") == code, f"expected error {code!r}: {body}"
    assert isinstance(body.get("message"), str) and body["message"], body
    if message is not None:
        if isinstance(message, re.Pattern):
            assert message.search(body["message"]), body
        else:
            assert body["message"] == message, body
    assert int(resp.headers.get("Content-Length", -1)) == len(resp.content), resp.headers
    assert_security_headers(resp)
    return body


def assert_security_headers(resp):
    h = resp.headers
    assert h.get("X-Content-Type-Options") == "nosniff", h
    assert h.get("X-Frame-Options") == "DENY", h
    assert h.get("Referrer-Policy"), h
    csp = h.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert h.get("Server") == "enclavr", h
    assert h.get("Date"), h


# ------------------------------------------------------------ mail

class MailSink:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, in its own thread) that
    keeps every message it accepts. The stack's authd sends its mail here
    (stack.sh writes SMTP_URL into authd.conf)."""

    def __init__(self, login=None):
        """login: (user, password) that the server then requires (AUTH
        PLAIN or LOGIN, without TLS: loopback only)."""
        from aiosmtpd.controller import Controller
        self._lock = threading.Lock()
        self._received = []
        self.port = free_port()
        kw = {}
        if login is not None:
            kw = {"authenticator": self._authenticator(login), "auth_required": True,
                  "auth_require_tls": False}
        with warnings.catch_warnings():     # AUTH without TLS: on loopback, on purpose
            warnings.simplefilter("ignore", UserWarning)
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kw)

    @staticmethod
    def _authenticator(login):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        def check(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and \
                (auth_data.login.decode(), auth_data.password.decode()) == login
            return AuthResult(success=ok)
        return check

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()

    # aiosmtpd's handler hook, run on the controller's loop.
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        with self._lock:
            self._received.append({"from": envelope.mail_from,
                                   "to": [a.lower() for a in envelope.rcpt_tos],
                                   "raw": envelope.original_content or envelope.content,
                                   "message": msg})
        return "250 Message accepted for delivery"

    def messages(self, to=None):
        """Every message received so far (to: only those for that address),
        oldest first, as dicts with from, to, raw and message (parsed)."""
        with self._lock:
            got = list(self._received)
        if to is not None:
            got = [m for m in got if to.lower() in m["to"]]
        return got

    def wait_for(self, to, timeout=5, count=1):
        """Waits until count messages for to arrived; returns the last one's
        parsed email.message.EmailMessage."""
        got = wait_until(lambda: len(self.messages(to)) >= count and self.messages(to),
                         timeout, what=f"{count} mail(s) to {to}")
        return got[count - 1]["message"]

    @staticmethod
    def body(msg):
        return msg.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def link_token(msg, path):
        """The token of the link to path ("/reset-password") in msg's body."""
        m = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)", MailSink.body(msg))
        assert m, f"no {path} link in the mail:\n{MailSink.body(msg)}"
        return m.group(1)


# ------------------------------------------------------------ the stack

class Stack:
    """One whole stack under run_dir: PostgreSQL, Redis, coturn, authd,
    chatd, voiced and gatewayd, started by scripts/stack.sh."""

    def __init__(self, run_dir, port, bindir, request_timeout_ms=2000):
        self.run_dir = Path(run_dir)
        self.port = port
        self.bin_dir = Path(bindir)
        self.base = f"http://127.0.0.1:{port}"
        self.origin = f"http://127.0.0.1:{port}"
        self.env = sanitizer_env(self.run_dir)
        self.env["REQUEST_TIMEOUT_MS"] = str(request_timeout_ms)
        self.env.setdefault("HEALTH_WAIT_S", "60")
        self.stack_env = {}
        self.mail = None  # a MailSink, when the stack sends mail to one
        self.signing_key = None
        self.public_key = None
        self.public_key_text = None
        self.stopped = False

    # -- lifecycle

    def _sh(self, *args, timeout=120):
        return subprocess.run([str(STACK_SH), *map(str, args)], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)

    def up(self):
        res = self._sh("up", self.run_dir, self.port, self.bin_dir)
        if res.returncode != 0:
            raise StackError(f"stack.sh up failed (rc {res.returncode}):\n{res.stdout}\n{res.stderr}\n"
                             + self.describe_logs())
        for line in (self.run_dir / "env").read_text().splitlines():
            k, _, v = line.partition("=")
            self.stack_env[k] = v
        key = base64.b64decode((self.run_dir / "etc" / "token.key").read_text().strip())
        assert len(key) == 64, "token.key must hold 64 bytes (seed + public key)"
        self.signing_key = nacl.signing.SigningKey(key[:32])
        self.public_key = bytes(self.signing_key.verify_key)
        self.public_key_text = (self.run_dir / "etc" / "token.pub").read_text().strip()
        assert self.public_key == key[32:] == base64.b64decode(self.public_key_text)
        return res

    def down(self):
        self.stopped = True
        return self._sh("down", self.run_dir, timeout=120)

    def describe_logs(self, tail=30):
        out = []
        for path in sorted((self.run_dir / "log").glob("*")):
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            out.append(f"--- {path} (last {tail} lines) ---\n" + "\n".join(lines[-tail:]))
        return "\n".join(out)

    @property
    def pg_port(self):
        return int(self.stack_env["PG_PORT"])

    @property
    def redis_port(self):
        return int(self.stack_env["REDIS_PORT"])

    @property
    def turn_port(self):
        """The stack's coturn (UDP and TCP on 127.0.0.1)."""
        return int(self.stack_env["TURN_PORT"])

    def metrics_port(self, name):
        """The loopback port of a daemon's /metrics exporter."""
        return int(self.stack_env[f"{name.upper()}_METRICS_PORT"])

    def pid(self, name):
        return int((self.run_dir / "pids" / f"{name}.pid").read_text().strip())

    def kill(self, name, sig=signal.SIGKILL, timeout=5):
        pid = self.pid(name)
        os.kill(pid, sig)
        wait_until(lambda: not pid_running(pid), timeout, what=f"{name} ({pid}) to exit")
        return pid

    def start_daemon(self, name):
        res = self._sh("start-daemon", self.run_dir, name, timeout=30)
        assert res.returncode == 0, f"start-daemon {name}: {res.stdout}{res.stderr}"
        return self.pid(name)

    def restart(self, name):
        self.kill(name)
        return self.start_daemon(name)

    def log(self, name):
        return (self.run_dir / "log" / f"{name}.log").read_text(errors="replace")

    # -- HTTP

    def url(self, path):
        return self.base + path

    def get(self, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.get(self.url(path), **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.request(method, self.url(path), **kw)

    # -- tokens

    def token(self, header=None, key=None, **claims):
        """An EdDSA token signed with the stack's key (or key), with
        default_claims(**claims); header replaces the JOSE header."""
        key = key or self.signing_key
        header = header if header is not None else {"alg": "EdDSA", "typ": "JWT"}
        payload = claims.pop("payload", None) or default_claims(**claims)
        return make_jwt(header, payload, lambda m: key.sign(m).signature)

    def claims_of(self, token):
        seg = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))

    # -- database

    def pg(self):
        import psycopg2
        return psycopg2.connect(host="127.0.0.1", port=self.pg_port, dbname="enclavr",
                                user="enclavr", connect_timeout=5)


def make_run_dir(prefix="enc-"):
    """A short private (0700, as mkdtemp makes it) run directory under /tmp:
    IPC socket paths must stay under ~100 bytes. As root, stack.sh keeps the
    PostgreSQL cluster where the postgres user can reach it (/var/tmp,
    symlinked as RUN_DIR/pg), which remove_run_dir also deletes."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def remove_run_dir(run_dir):
    run_dir = Path(run_dir)
    pg = run_dir / "pg"
    if pg.is_symlink():
        target = pg.resolve()
        if str(target).startswith("/var/tmp/enclavr-pg."):
            shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)


def launch_stack(prefix="enc-", request_timeout_ms=2000):
    """Starts a stack; on failure stops what started and raises StackError
    (with logs and sanitizer reports), keeping the run directory."""
    run_dir = make_run_dir(prefix)
    port = free_port()
    st = Stack(run_dir, port, bin_dir(), request_timeout_ms)
    try:
        # The SMTP sink listens before authd starts, so no mail is lost.
        st.mail = MailSink().start()
        st.env["SMTP_URL"] = st.mail.url
        st.up()
    except BaseException as e:
        st.down()
        if st.mail is not None:
            st.mail.stop()
        reports = find_sanitizer_reports(run_dir / "log")
        msg = f"{e}\nrun directory kept: {run_dir}"
        if reports:
            msg += "\nSANITIZER REPORTS:\n" + "\n".join(reports)
        raise StackError(msg) from None
    return st


def finish_stack(st, keep=False):
    """Stops the stack and checks its logs for sanitizer reports. Returns a
    list of problems (empty when all is well). The run directory is removed
    only when there are none and keep is false."""
    problems = []
    res = st.down()
    if st.mail is not None:
        st.mail.stop()
    if res.returncode != 0:
        problems.append(f"stack.sh down failed (rc {res.returncode}): {res.stdout}{res.stderr}")
    reports = find_sanitizer_reports(st.run_dir / "log")
    if reports:
        problems.append("SANITIZER REPORTS in the daemons' logs:\n" + "\n\n".join(reports))
    if problems or keep:
        print(f"\n[enclavr] run directory kept for debugging: {st.run_dir}")
    else:
        remove_run_dir(st.run_dir)
    return problems
