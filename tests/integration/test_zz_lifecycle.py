"""Disruptive tests on a private stack (module scope): a daemon killed with
SIGKILL is reported down and comes back after a restart; then the stack is
stopped with stack.sh down and every daemon must have drained and stopped
cleanly, with no sanitizer report."""

import os
import re
import select
import signal
import subprocess
import time

import pytest

from stacklib import (ALL_DAEMONS, RawConn, assert_json_error, find_sanitizer_reports,
                      pid_running, port_open, simple_request, stop_process, wait_until)

pytestmark = pytest.mark.last


def status_is(st, path, status):
    """A wait_until predicate; wraps the response (a requests.Response is
    falsy for 4xx/5xx)."""
    def check():
        r = st.get(path, timeout=4)
        return [r] if r.status_code == status else None
    return check


def test_killed_daemon_is_503_then_recovers(own_stack):
    st = own_stack
    before = st.get("/api/health/chatd").json()
    assert before["starts"] >= 1
    tok = st.token()

    st.kill("chatd")
    t0 = time.monotonic()
    [r] = wait_until(status_is(st, "/api/health/chatd", 503), 6, interval=0.2,
                     what="/api/health/chatd to answer 503 after chatd was killed")
    assert time.monotonic() - t0 < 6
    assert_json_error(r, 503, "service_unavailable", "chatd is not available")
    r = st.request("POST", "/api/health/chatd/echo", data=b"{}",
                   headers={"Authorization": f"Bearer {tok}"})
    assert_json_error(r, 503, "service_unavailable", "chatd is not available")

    r = st.get("/health")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["error"] == "unavailable" and "chatd" in body["message"], body
    assert body["status"] == "degraded"
    assert body["daemons"]["chatd"]["status"] == "down", body
    assert body["daemons"]["authd"]["status"] == "up"
    assert body["daemons"]["voiced"]["status"] == "up"
    assert r.headers["Content-Type"] == "application/json"

    # the others are not affected
    for d in ("authd", "voiced"):
        assert st.get(f"/api/health/{d}").status_code == 200
    r = st.request("POST", "/api/health/authd/echo", data=b"{}",
                   headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 200

    st.start_daemon("chatd")
    t0 = time.monotonic()
    [r] = wait_until(status_is(st, "/api/health/chatd", 200), 10, interval=0.2,
                     what="/api/health/chatd to answer 200 after the restart")
    after = r.json()
    assert after["instance"] != before["instance"]
    assert after["starts"] == before["starts"] + 1, (before, after)
    wait_until(status_is(st, "/health", 200), 10 - (time.monotonic() - t0), interval=0.2,
               what="/health to answer 200 after the restart")
    r = st.request("POST", "/api/health/chatd/echo", data=b'{"back":true}',
                   headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 200 and r.json()["body"] == {"back": True}

    with st.pg() as conn, conn.cursor() as cur:
        cur.execute("SELECT id::text FROM chat.instances")
        ids = {row[0] for row in cur.fetchall()}
    conn.close()
    assert {before["instance"], after["instance"]} <= ids


def test_hung_daemon_504_then_503_then_recovers(own_stack):
    """A daemon that stops answering (SIGSTOP) but keeps its IPC connection:
    a request in flight ends in 504 after [upstream] timeout_ms (5 s); once
    its heartbeats are older than heartbeat_timeout_ms (3 s) it is refused
    at once with 503; after SIGCONT it serves again."""
    st = own_stack
    tok = st.token()
    pid = st.pid("voiced")
    stop_process(pid)
    try:
        t0 = time.monotonic()
        r = st.request("POST", "/api/health/voiced/echo", data=b"{}", timeout=10,
                       headers={"Authorization": f"Bearer {tok}"})
        elapsed = time.monotonic() - t0
        assert_json_error(r, 504, "upstream_timeout", "voiced did not answer in time")
        assert 4.5 <= elapsed <= 7, f"504 after {elapsed:.2f}s, expected ~5s"

        t0 = time.monotonic()
        r = st.get("/api/health/voiced")
        assert_json_error(r, 503, "service_unavailable", "voiced is not available")
        assert time.monotonic() - t0 < 1

        r = st.get("/health", timeout=5)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["error"] == "unavailable" and "voiced" in body["message"], body
        assert body["daemons"]["voiced"] == {"status": "down", "reason": "no answer in time"}
        assert st.get("/api/health/authd").status_code == 200
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(status_is(st, "/api/health/voiced", 200), 6, interval=0.2,
               what="/api/health/voiced to answer 200 after SIGCONT")
    wait_until(status_is(st, "/health", 200), 6, interval=0.2, what="/health 200 after SIGCONT")
    r = st.request("POST", "/api/health/voiced/echo", data=b'{"again":1}',
                   headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 200 and r.json()["body"] == {"again": 1}


def ipc_queued(st, daemon):
    """Bytes waiting in daemon's REP socket(s) (ss -x Recv-Q): > 0 once
    gatewayd has forwarded a request that the (stopped) daemon has not read."""
    out = subprocess.run(["ss", "-xn"], capture_output=True, text=True, timeout=5).stdout
    path = str(st.run_dir / "sock" / f"{daemon}.rep")
    return sum(int(line.split()[2]) for line in out.splitlines() if path in line.split())


def forwarded_or_answered(st, c):
    """True once the request sits in voiced's socket, or once gatewayd has
    answered it (which the caller reports)."""
    if ipc_queued(st, "voiced") > 0:
        return True
    ready, _, _ = select.select([c.sock], [], [], 0)
    return bool(ready) and c._recv(time.monotonic() + 1)


def test_sigterm_gatewayd_finishes_request_in_flight(own_stack):
    """SIGTERM: gatewayd stops accepting at once, lets the request in flight
    finish (voiced is held with SIGSTOP until then), answers it with
    Connection: close, and exits. Then it is started again for what follows."""
    st = own_stack
    gw_pid, voiced_pid = st.pid("gatewayd"), st.pid("voiced")
    token = st.token()
    wait_until(status_is(st, "/api/health/voiced", 200), 6, interval=0.2,
               what="voiced to be up before it is stopped")
    stop_process(voiced_pid)
    try:
        with RawConn(st.port, timeout=10) as c:
            c.send(simple_request("POST", "/api/health/voiced/echo?drain=1",
                                  [f"Authorization: Bearer {token}"], b'{"in":"flight"}'))
            wait_until(lambda: forwarded_or_answered(st, c), 5, interval=0.05,
                       what="gatewayd to forward the request to voiced")
            assert not c.buf, f"answered while voiced was stopped: {c.buf[:300]!r}"
            os.kill(gw_pid, signal.SIGTERM)
            wait_until(lambda: not port_open(st.port), 2, interval=0.05,
                       what="gatewayd to stop accepting connections")
            assert pid_running(gw_pid), "gatewayd exited with a request in flight"
            os.kill(voiced_pid, signal.SIGCONT)
            r = c.read_response(timeout=5)
            assert r.status_code == 200, r
            assert r.json()["body"] == {"in": "flight"} and r.json()["query"] == "drain=1"
            assert r.headers["Connection"] == "close"
            assert c.closed_by_peer(timeout=3)
    finally:
        os.kill(voiced_pid, signal.SIGCONT)
    wait_until(lambda: not pid_running(gw_pid), 5, what="gatewayd to exit after its drain")
    life = last_life(st.log("gatewayd"), START_MARKERS["gatewayd"])
    assert re.search(r" info draining$", life, re.M), life
    assert re.search(r" info stopping with 0 connection\(s\) open", life), life

    st.start_daemon("gatewayd")
    wait_until(status_is(st, "/health", 200), 10, interval=0.2, what="gatewayd to come back")


def last_life(log, start_marker):
    """The part of a daemon's log written by its last start."""
    i = log.rfind(start_marker)
    assert i >= 0, f"no {start_marker!r} line in the log"
    return log[i:]


START_MARKERS = {"gatewayd": "http: listening on", "authd": "ready (instance",
                 "chatd": "ready (instance", "voiced": "ready (instance"}


def test_stack_down_drains_and_stops_everything(own_stack):
    st = own_stack
    pids = {name: st.pid(name) for name in (*ALL_DAEMONS, "redis")}
    pg_pid = int((st.run_dir / "pg" / "postmaster.pid").read_text().split()[0])
    assert all(pid_running(p) for p in (*pids.values(), pg_pid))

    # an idle keep-alive client, which the drain must close
    idle = RawConn(st.port)
    idle.send(simple_request("GET", "/info"))
    assert idle.read_response().status_code == 200

    t0 = time.monotonic()
    res = st.down()
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    assert "is stopped" in res.stdout
    # stack.sh waits 10 s per daemon before SIGKILL: a clean stop is quick
    assert elapsed < 8, f"stack.sh down took {elapsed:.1f}s (a daemon needed SIGKILL?)"

    assert idle.closed_by_peer(timeout=1), "the idle connection was not closed"
    idle.close()
    for name, pid in pids.items():
        assert not pid_running(pid), f"{name} ({pid}) still runs"
    assert not pid_running(pg_pid), "PostgreSQL still runs"
    assert not port_open(st.port)
    assert not list((st.run_dir / "pids").glob("*.pid"))

    for name in ALL_DAEMONS:
        life = last_life(st.log(name), START_MARKERS[name])
        assert re.search(r" info draining$", life, re.M), f"{name} did not log draining:\n{life}"
        unit = "connection" if name == "gatewayd" else "request"
        assert re.search(rf" info stopping with \d+ {unit}\(s\)", life), \
            f"{name} did not log its stop:\n{life}"
        stopping = life[life.rindex(" info draining"):]
        assert not re.search(r" (error|warn) ", stopping), \
            f"{name} logged a problem while stopping:\n{stopping}"
    reports = find_sanitizer_reports(st.run_dir / "log")
    assert not reports, "\n".join(reports)

