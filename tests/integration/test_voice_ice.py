"""GET /api/voice/ice (voiced/ice.c): the STUN and TURN servers and TURN
credentials in coturn's shared-secret scheme, checked against the stack's
own coturn (scripts/stack.sh starts one per stack): credentials from the
route are accepted, expired ones and ones made with another secret are
refused with 401. Then voiced's [turn] options, on a private stack."""

import base64
import configparser
import hashlib
import hmac
import os
import re
import socket
import struct
import subprocess
import time

import pytest

from stacklib import assert_json_error, pid_running, port_open, wait_until

TTL_DEFAULT = 86400
UCLIENT_TIMEOUT = 25  # seconds; a run waits 1 to 6 s before it sends


# ------------------------------------------------------------ helpers

def turn_secret(st):
    """The secret of the stack's voiced ([turn] secret_file), checked to be
    the one its coturn was given."""
    conf = configparser.ConfigParser(interpolation=None, strict=False)
    conf.read(st.run_dir / "etc" / "voiced.conf")
    path = conf["turn"]["secret_file"]
    secret = open(path).readline().strip()
    turn_conf = (st.run_dir / "etc" / "turnserver.conf").read_text()
    assert f"\nstatic-auth-secret={secret}\n" in turn_conf
    assert len(secret) >= 32
    return secret


def credential(secret, username):
    """coturn's TURN REST API password: base64(HMAC-SHA1(secret, username))."""
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def get_ice(st, token):
    return st.get("/api/voice/ice", headers={"Authorization": f"Bearer {token}"})


def ice_ok(st, token):
    r = get_ice(st, token)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()


def uclient(st, username, password, tcp=False):
    """turnutils_uclient in client-to-client mode (-y: two clients relay to
    each other through their allocations), a few small messages; started,
    not waited for."""
    args = ["timeout", str(UCLIENT_TIMEOUT), "turnutils_uclient", "-y", "-n", "3", "-m", "1",
            "-l", "100", "-p", str(st.turn_port), "-u", username, "-w", password]
    if tcp:
        args.append("-t")
    args.append("127.0.0.1")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def uclient_result(proc):
    out, _ = proc.communicate(timeout=UCLIENT_TIMEOUT + 5)
    return proc.returncode, out


def assert_relayed(rc, out):
    """uclient's success: exit 0, every message sent came back through
    the relays, none lost."""
    assert rc == 0, out
    m = re.search(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", out, re.M)
    assert m, out
    assert int(m.group(1)) > 0 and m.group(1) == m.group(2), out
    assert "Total lost packets 0 " in out, out


def assert_refused(st, rc, out, username):
    """uclient's answer to 401 after 401: it retries the Allocate with the
    new nonce until it gives up (exit 255); coturn logs the username it
    found no credentials for, which is what makes its answer a 401."""
    assert rc == 255, out
    assert "Cannot complete Allocation" in out, out
    assert "tot_send_msgs" not in out, out
    line = f"check_stun_auth: Cannot find credentials of user <{username}>"
    wait_until(lambda: line in st.log("turnserver"), 5, what=f"coturn to log {line!r}")


# A minimal STUN client (RFC 5389, RFC 5766) for the exact error code of an
# Allocate request made with some credentials.
STUN_MAGIC = 0x2112A442
ALLOCATE, ALLOCATE_OK, ALLOCATE_ERR = 0x0003, 0x0103, 0x0113
A_USERNAME, A_MI, A_ERROR, A_REALM, A_NONCE, A_TRANSPORT = 0x6, 0x8, 0x9, 0x14, 0x15, 0x19


def stun_attr(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def stun_message(kind, attrs, key=None):
    txid = os.urandom(12)
    body = b"".join(stun_attr(k, v) for k, v in attrs)
    if key is not None:
        head = struct.pack("!HHI", kind, len(body) + 24, STUN_MAGIC) + txid
        body += stun_attr(A_MI, hmac.new(key, head + body, hashlib.sha1).digest())
    return struct.pack("!HHI", kind, len(body), STUN_MAGIC) + txid + body


def stun_parse(data):
    kind, length, magic = struct.unpack("!HHI", data[:8])
    assert magic == STUN_MAGIC and len(data) == 20 + length, data
    attrs, i = {}, 20
    while i < len(data):
        k, n = struct.unpack("!HH", data[i:i + 4])
        attrs.setdefault(k, data[i + 4:i + 4 + n])
        i += 4 + n + (-n % 4)
    return kind, attrs


def stun_error_code(attrs):
    v = attrs[A_ERROR]
    return v[2] * 100 + v[3]


def turn_allocate(port, username, password):
    """An Allocate over UDP: the unauthenticated one for the realm and the
    nonce, then one signed with the long-term key. Returns (type, attrs)."""
    udp = (A_TRANSPORT, bytes([17, 0, 0, 0]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.connect(("127.0.0.1", port))
        s.send(stun_message(ALLOCATE, [udp]))
        kind, attrs = stun_parse(s.recv(2048))
        assert kind == ALLOCATE_ERR and stun_error_code(attrs) == 401, attrs
        realm, nonce = attrs[A_REALM], attrs[A_NONCE]
        key = hashlib.md5(username.encode() + b":" + realm + b":" + password.encode()).digest()
        s.send(stun_message(ALLOCATE, [udp, (A_USERNAME, username.encode()), (A_REALM, realm),
                                       (A_NONCE, nonce)], key))
        return stun_parse(s.recv(2048))


# ------------------------------------------------------------ the route

def test_ice_needs_a_token(stack):
    r = stack.get("/api/voice/ice")
    assert_json_error(r, 401, "unauthorized")
    r = get_ice(stack, "not-a-token")
    assert_json_error(r, 401, "invalid_token")


def test_ice_shape(stack):
    body = ice_ok(stack, stack.token())
    port = stack.turn_port
    assert set(body) == {"ice_servers", "ttl"}, body
    assert body["ttl"] == TTL_DEFAULT
    stun, turn = body["ice_servers"]
    assert stun == {"urls": [f"stun:127.0.0.1:{port}"]}, stun
    assert set(turn) == {"urls", "username", "credential"}, turn
    assert turn["urls"] == [f"turn:127.0.0.1:{port}?transport=udp",
                            f"turn:127.0.0.1:{port}?transport=tcp"], turn


def test_ice_credentials_are_the_callers_and_expire(stack):
    secret = turn_secret(stack)
    tok = stack.token()
    claims = stack.claims_of(tok)
    before = int(time.time())
    turn = ice_ok(stack, tok)["ice_servers"][1]
    after = int(time.time())
    expiry, _, user = turn["username"].partition(":")
    assert user == claims["sub"]
    assert before + TTL_DEFAULT <= int(expiry) <= after + TTL_DEFAULT
    assert turn["credential"] == credential(secret, turn["username"])

    other = ice_ok(stack, stack.token())["ice_servers"][1]
    assert other["username"].split(":")[1] != user
    assert other["credential"] == credential(secret, other["username"])


# ------------------------------------------------------------ the real coturn

def test_coturn_relays_with_issued_credentials(stack):
    """Credentials from the route allocate relays on the stack's coturn and
    carry traffic between two clients, over UDP and over TCP to the
    server (both runs at once: each waits a few seconds before sending)."""
    turn = ice_ok(stack, stack.token())["ice_servers"][1]
    kind, attrs = turn_allocate(stack.turn_port, turn["username"], turn["credential"])
    assert kind == ALLOCATE_OK, attrs
    runs = [uclient(stack, turn["username"], turn["credential"], tcp=tcp) for tcp in (False, True)]
    for proc in runs:
        assert_relayed(*uclient_result(proc))


def test_coturn_refuses_expired_credentials(stack):
    secret = turn_secret(stack)
    username = f"{int(time.time()) - 60}:{stack.claims_of(stack.token())['sub']}"
    password = credential(secret, username)
    kind, attrs = turn_allocate(stack.turn_port, username, password)
    assert kind == ALLOCATE_ERR and stun_error_code(attrs) == 401, attrs
    assert_refused(stack, *uclient_result(uclient(stack, username, password)), username)


def test_coturn_refuses_another_secret(stack):
    username = f"{int(time.time()) + 600}:{stack.claims_of(stack.token())['sub']}"
    password = credential("not-the-secret-of-this-stack-0123456789", username)
    kind, attrs = turn_allocate(stack.turn_port, username, password)
    assert kind == ALLOCATE_ERR and stun_error_code(attrs) == 401, attrs
    assert_refused(stack, *uclient_result(uclient(stack, username, password)), username)


# ------------------------------------------------------------ [turn] options

def restart_voiced(st, turn_section):
    """Restarts the private stack's voiced with turn_section in place of
    the [turn] section stack.sh wrote. Returns voiced's pid."""
    path = st.run_dir / "etc" / "voiced.conf"
    text = path.read_text()
    path.write_text(text[:text.index("[turn]\n")] + "[turn]\n" + turn_section)
    st.kill("voiced")
    return st.start_daemon("voiced")


def wait_ice(st, token):
    def ready():
        r = get_ice(st, token)
        return r.json() if r.status_code == 200 else None
    return wait_until(ready, 15, interval=0.2, what="/api/voice/ice to answer 200")


def test_no_secret_offers_stun_only(own_stack):
    st = own_stack
    restart_voiced(st, f"host = 127.0.0.1\nport = {st.turn_port}\n")
    body = wait_ice(st, st.token())
    assert body == {"ice_servers": [{"urls": [f"stun:127.0.0.1:{st.turn_port}"]}],
                    "ttl": TTL_DEFAULT}, body
    assert "[turn] no secret: /api/voice/ice offers STUN only" in st.log("voiced")


def test_inline_secret_tls_port_ipv6_host_and_ttl(own_stack):
    st = own_stack
    secret = "inline-secret-" + "a1" * 16
    restart_voiced(st, f"secret = {secret}\nhost = ::1\nport = 3478\ntls_port = 5349\n"
                       "ttl_seconds = 60\n")
    tok = st.token()
    before = int(time.time())
    body = wait_ice(st, tok)
    assert body["ttl"] == 60
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:[::1]:3478"]}
    assert turn["urls"] == ["turn:[::1]:3478?transport=udp", "turn:[::1]:3478?transport=tcp",
                            "turns:[::1]:5349?transport=tcp"], turn
    expiry, _, user = turn["username"].partition(":")
    assert user == st.claims_of(tok)["sub"]
    assert before + 60 <= int(expiry) <= int(time.time()) + 60
    assert turn["credential"] == credential(secret, turn["username"])


BAD_TURN = [
    ("secret = short-secret\n", "the secret must be at least 16 characters"),
    ("secret = has a blank in the middle ok\n", "printable ASCII without blanks"),
    ("secret = 0123456789abcdef0123\nsecret_file = {run}/etc/turn.secret\n",
     "secret and secret_file are both set"),
    ("secret_file = {run}/etc/no-such-file\n", "secret_file {run}/etc/no-such-file:"),
    ("host = bad/host\n", 'host "bad/host" is not a host name or address'),
]


@pytest.mark.parametrize("section,message", BAD_TURN)
def test_bad_turn_config_refuses_to_start(own_stack, section, message):
    st = own_stack
    run = str(st.run_dir)
    log_before = len(st.log("voiced"))
    pid = restart_voiced(st, section.format(run=run))
    wait_until(lambda: not pid_running(pid), 15, what="voiced to refuse to start")
    log = st.log("voiced")[log_before:]
    assert message.format(run=run) in log, log
    assert "initialisation failed" in log, log


def test_down_stops_coturn(own_stack):
    """stack.sh down stops the stack's coturn with the rest (last test of
    the private stack)."""
    st = own_stack
    pid = st.pid("turnserver")
    assert pid_running(pid)
    res = st.down()
    assert res.returncode == 0, res.stdout + res.stderr
    assert not pid_running(pid)
    assert not port_open(st.turn_port)
    assert not (st.run_dir / "pids" / "turnserver.pid").exists()
