"""Rate limits at gatewayd ([ratelimit]) on a private stack started with
RATE_AUTH_PER_MINUTE=5: the sixth request of the "auth" class from one
client within a minute is 429 with Retry-After and the JSON error; the
"default" class is not limited; two gatewayds sharing Redis share the count;
with Redis killed or stalled the limit still holds, per process, with one
warning when that starts and one when Redis is back; the limit reloads.

Each test uses its own client addresses (127.0.0.x as the source address),
so the counts of one test never reach another. The window is the minute on
the clock: a test that needs a few seconds waits for a fresh minute when
the current one is about to end."""

import http.client
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from authlib import ExtraGatewayd
from stacklib import (Stack, StackError, bin_dir, find_sanitizer_reports, finish_stack,
                      free_port, make_run_dir, pid_running, wait_until)

LIMIT = 5
LOGIN = "/api/auth/login"
RATE_BODY = {"error": "rate_limited", "message": "Too many requests; try again later"}
DEGRADED = "counting in this process until Redis answers"
RECOVERED = "Redis answers again"


@pytest.fixture(scope="module")
def rl_stack(request):
    failed_before = request.session.testsfailed
    st = Stack(make_run_dir("enc-rl-"), free_port(), bin_dir())
    st.env["RATE_AUTH_PER_MINUTE"] = str(LIMIT)
    try:
        st.up()
    except StackError as e:
        st.down()
        reports = find_sanitizer_reports(st.run_dir / "log")
        pytest.fail(f"the stack did not start:\n{e}\nrun directory kept: {st.run_dir}\n"
                    + "\n".join(reports), pytrace=False)
    yield st
    failed = request.session.testsfailed > failed_before
    problems = finish_stack(st, keep=failed)
    if problems:
        pytest.fail("\n\n".join(problems) + f"\nrun directory kept: {st.run_dir}", pytrace=False)


@pytest.fixture(scope="module")
def gw2(rl_stack):
    g = ExtraGatewayd(rl_stack).start(timeout=30)
    yield g
    assert g.stop() == 0, g.log_path.read_text(errors="replace")[-3000:]


def call(port, method, path, src="127.0.0.1", body=None):
    """One request on its own connection from source address src; returns
    (status, headers with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(src, 0))
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def status(port, method, path, src="127.0.0.1"):
    try:
        return call(port, method, path, src)
    except OSError as e:
        return 0, {}, str(e).encode()


def login(port, src, empty=False):
    """A sign-in attempt for an unknown user (a new one each time, so that
    authd's account lockout stays out of the way), or with an empty object
    that authd refuses without a lookup: whatever authd answers, it counts
    in the "auth" class."""
    if empty:
        return call(port, "POST", LOGIN, src, b"{}")
    body = json.dumps({"username": f"nobody-{uuid.uuid4().hex[:12]}", "password": "Wrong-pass1!"})
    return call(port, "POST", LOGIN, src, body.encode())


def fresh_window(need_s):
    """Waits for the next minute on the clock when fewer than need_s seconds
    are left in this one."""
    left = 60 - time.time() % 60
    if left < need_s:
        time.sleep(left + 0.3)


def assert_allowed(res, what):
    """Not refused by the gateway's limit (authd's own answer may be anything)."""
    st, _, body = res
    assert st != 0 and b'"rate_limited"' not in body, f"{what}: {st} {body!r}"


def assert_limited(res):
    st, headers, body = res
    assert st == 429, (st, body)
    assert json.loads(body) == RATE_BODY
    assert headers["content-type"] == "application/json"
    retry = int(headers["retry-after"])
    left = 60 - time.time() % 60
    assert 1 <= retry <= 60 and abs(retry - left) <= 2, (retry, left)


def log_count(path, text, since=0):
    return path.read_text(errors="replace")[since:].count(text)


def log_size(path):
    return len(path.read_text(errors="replace"))


def redis_pid(st):
    return int((st.run_dir / "pids" / "redis.pid").read_text().strip())


def redis_restart(st):
    """Starts Redis again as stack.sh does (same port, pid file and log)."""
    subprocess.run(["redis-server", "--bind", "127.0.0.1", "--port", str(st.redis_port),
                    "--dir", str(st.run_dir / "redis"), "--save", "", "--appendonly", "no",
                    "--daemonize", "yes", "--pidfile", str(st.run_dir / "pids" / "redis.pid"),
                    "--logfile", str(st.run_dir / "log" / "redis.log")], check=True, timeout=10)
    wait_until(lambda: (st.run_dir / "pids" / "redis.pid").is_file(), 5, what="Redis's pid file")


# ------------------------------------------------------------ one gatewayd

def test_sixth_auth_request_in_a_minute_is_429(rl_stack):
    st = rl_stack
    fresh_window(20)
    for i in range(LIMIT):
        assert_allowed(login(st.port, "127.0.0.2"), f"login {i + 1}")
    assert_limited(login(st.port, "127.0.0.2"))
    # The class is counted, not the route: registration is refused too.
    assert_limited(call(st.port, "POST", "/api/auth/register", "127.0.0.2", b"{}"))
    # Another client is not affected.
    assert_allowed(login(st.port, "127.0.0.3"), "another client")
    # The count is in Redis under the documented key.
    import redis
    r = redis.Redis(host="127.0.0.1", port=st.redis_port, socket_timeout=5)
    key = f"enclavr:rl:auth:127.0.0.2:{int(time.time()) // 60}"
    assert int(r.get(key)) == LIMIT + 2
    assert 60 < r.ttl(key) <= 120


def test_limited_request_never_reaches_authd(rl_stack):
    """A 429 is the gateway's: the body is not even parsed."""
    st = rl_stack
    fresh_window(20)
    for _ in range(LIMIT):
        call(st.port, "POST", LOGIN, "127.0.0.4", b"{}")
    res = call(st.port, "POST", LOGIN, "127.0.0.4", b"not json")
    assert_limited(res)


def test_default_class_is_not_limited(rl_stack):
    st = rl_stack
    fresh_window(30)
    for _ in range(LIMIT + 1):
        login(st.port, "127.0.0.5")
    assert_limited(login(st.port, "127.0.0.5"))
    for i in range(3 * LIMIT):
        s, _, body = call(st.port, "GET", "/api/health/authd", "127.0.0.5")
        assert s == 200, (i, s, body)
    # Nor are the gateway's own endpoints or unrouted paths.
    assert call(st.port, "GET", "/health", "127.0.0.5")[0] == 200
    assert call(st.port, "GET", "/api/no-such-route", "127.0.0.5")[0] == 404


# ------------------------------------------------------------ two gatewayds

def test_two_gatewayds_share_the_count(rl_stack, gw2):
    st = rl_stack
    fresh_window(20)
    src = "127.0.0.10"
    for i in range(3):
        assert_allowed(login(st.port, src), f"gw1 login {i + 1}")
    for i in range(2):
        assert_allowed(login(gw2.port, src), f"gw2 login {i + 1}")
    assert_limited(login(gw2.port, src))
    assert_limited(login(st.port, src))


def test_limit_reloads(rl_stack, gw2):
    st = rl_stack
    text = gw2.conf.read_text()
    gw2.conf.write_text(text.replace(f"auth_per_minute = {LIMIT}\n", "auth_per_minute = 0\n"))
    before = log_size(gw2.log_path)
    gw2.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload:" in gw2.log_path.read_text(errors="replace")[before:], 5,
               what="the second gatewayd to reload")
    try:
        fresh_window(20)
        src = "127.0.0.11"
        for i in range(LIMIT + 3):
            assert_allowed(login(gw2.port, src), f"unlimited login {i + 1}")
        # The other gatewayd still limits (and the unlimited one counted nothing).
        for i in range(LIMIT):
            assert_allowed(login(st.port, src), f"gw1 login {i + 1}")
        assert_limited(login(st.port, src))
    finally:
        gw2.conf.write_text(text)
        before = log_size(gw2.log_path)
        gw2.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload:" in gw2.log_path.read_text(errors="replace")[before:], 5,
                   what="the second gatewayd to reload")


# ------------------------------------------------------------ Redis down

def test_redis_stalled_falls_back_without_waiting(rl_stack, gw2):
    """Redis stopped with SIGSTOP keeps its connections: a check gives up on
    it after 250 ms and counts in the process; requests never hang. (Empty
    sign-ins: authd answers them without a lookup, so whatever authd itself
    does with Redis cannot hold them up.)"""
    st = rl_stack
    gwlog = st.run_dir / "log" / "gatewayd.log"
    since = log_size(gwlog)
    pid = redis_pid(st)
    fresh_window(30)
    os.kill(pid, signal.SIGSTOP)
    try:
        src = "127.0.0.20"
        for i in range(LIMIT):
            t0 = time.monotonic()
            assert_allowed(login(st.port, src, empty=True), f"login {i + 1}")
            assert time.monotonic() - t0 < 3
        assert_limited(login(st.port, src, empty=True))
        assert log_count(gwlog, DEGRADED, since) == 1
        assert "Redis did not answer in time" in gwlog.read_text(errors="replace")[since:]
    finally:
        os.kill(pid, signal.SIGCONT)
    # The next check probes Redis and finds it back.
    wait_until(lambda: login(st.port, "127.0.0.21", empty=True) and
               log_count(gwlog, RECOVERED, since) == 1,
               10, interval=0.3, what="gatewayd to count in Redis again")
    assert log_count(gwlog, DEGRADED, since) == 1


def test_redis_down_limits_per_process_then_shared_again(rl_stack, gw2):
    st = rl_stack
    gwlog = st.run_dir / "log" / "gatewayd.log"
    since, since2 = log_size(gwlog), log_size(gw2.log_path)
    pid = redis_pid(st)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_running(pid), 5, what="Redis to exit")
    (st.run_dir / "pids" / "redis.pid").unlink(missing_ok=True)
    try:
        fresh_window(30)
        src = "127.0.0.30"
        # Each gatewayd allows LIMIT on its own.
        for i in range(LIMIT):
            assert_allowed(login(st.port, src), f"gw1 login {i + 1}")
        assert_limited(login(st.port, src))
        for i in range(LIMIT):
            assert_allowed(login(gw2.port, src), f"gw2 login {i + 1}")
        assert_limited(login(gw2.port, src))
        assert_allowed(login(st.port, "127.0.0.31"), "another client")
        assert log_count(gwlog, DEGRADED, since) == 1
        assert log_count(gw2.log_path, DEGRADED, since2) == 1
        assert log_count(gwlog, RECOVERED, since) == 0
    finally:
        redis_restart(st)
    for port, path, s in ((st.port, gwlog, since), (gw2.port, gw2.log_path, since2)):
        wait_until(lambda: login(port, "127.0.0.32") and log_count(path, RECOVERED, s) == 1,
                   15, interval=0.3, what=f"gatewayd on {port} to count in Redis again")
    # Shared again.
    fresh_window(20)
    src = "127.0.0.33"
    for i in range(3):
        assert_allowed(login(st.port, src), f"gw1 login {i + 1}")
    for i in range(2):
        assert_allowed(login(gw2.port, src), f"gw2 login {i + 1}")
    assert_limited(login(st.port, src))
    assert_limited(login(gw2.port, src))
    assert log_count(gwlog, DEGRADED, since) == 1
