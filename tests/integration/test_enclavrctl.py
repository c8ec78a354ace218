"""enclavrctl and the daemons' control sockets (libcommon/control.c): status,
reload (good and broken files), log-level, authd's revoke-user (sockets
closed with 4001, tokens refused within 1 s), the SO_PEERCRED check for
another uid, and garbage on the socket. The stack puts the sockets in
RUN_DIR/sock/<daemon>.ctl; every test leaves the shared stack as it was."""

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import websockets

from authlib import REVOKE_WITHIN_S, client_ip, me, new_user  # noqa: F401
from stacklib import (DAEMONS, UUID_RE, bin_dir, sanitizer_env, sanitizer_text_reports,
                      wait_until)

NOBODY = 65534


def ctl_bin():
    return str(bin_dir() / "enclavrctl")


def ctl(stack, *args, env=None, prefix=(), sock_dir=True):
    """Runs enclavrctl [-s RUN_DIR/sock] args; returns (rc, parsed stdout or
    None, stderr)."""
    opts = ["-s", str(stack.run_dir / "sock")] if sock_dir else []
    res = subprocess.run([*prefix, ctl_bin(), *opts, *map(str, args)], capture_output=True,
                         text=True, timeout=30,
                         env=env if env is not None else sanitizer_env(stack.run_dir))
    assert not sanitizer_text_reports(res.stdout + res.stderr), res.stderr
    out = json.loads(res.stdout) if res.stdout.strip() else None
    return res.returncode, out, res.stderr


def sock_path(stack, daemon):
    return stack.run_dir / "sock" / f"{daemon}.ctl"


def raw(stack, daemon, data, shut=True):
    """Sends bytes on the control socket; returns the answer line, parsed."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(sock_path(stack, daemon)))
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass    # the daemon answered and closed while we were sending
        buf = b""
        try:
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except ConnectionResetError:
            pass
    assert buf.endswith(b"\n") and buf.count(b"\n") == 1, buf
    return json.loads(buf)


def test_status_of_each_daemon(stack):
    for d in DAEMONS:
        path = sock_path(stack, d)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
        rc, st, err = ctl(stack, d, "status")
        assert rc == 0, err
        assert st["daemon"] == d and UUID_RE.match(st["instance"]), st
        assert st["pid"] == stack.pid(d), st
        assert isinstance(st["uptime_s"], int) and st["uptime_s"] >= 0, st
        assert st["database"] is True and st["redis"] is True, st
        assert st["draining"] is False and st["log_level"] == "info", st
        assert st["version"] and st["ipc"]["listen"].endswith(f"/sock/{d}.rep"), st
        assert st["ipc"]["in_flight"] >= 0, st
    rc, every, err = ctl(stack, "all", "status")
    assert rc == 0, err
    assert set(DAEMONS) <= set(every), every
    assert all(every[d]["daemon"] == d for d in DAEMONS), every


def test_help_lists_the_daemons_own_commands(stack):
    rc, out, _ = ctl(stack, "authd", "help")
    assert rc == 0 and "revoke-user <user uuid>" in out["commands"], out
    assert "status" in out["commands"] and "reload" in out["commands"], out
    rc, out, _ = ctl(stack, "chatd", "help")
    assert rc == 0 and not any(c.startswith("revoke-user") for c in out["commands"]), out


def test_reload_applies_and_a_broken_file_keeps_the_old_config(stack):
    conf = stack.run_dir / "etc" / "chatd.conf"
    original = conf.read_text()
    assert "drain_timeout_ms = 5000" in original
    try:
        conf.write_text(original.replace("drain_timeout_ms = 5000", "drain_timeout_ms = 6000"))
        rc, out, err = ctl(stack, "chatd", "reload")
        assert rc == 0, err
        assert out == {"reloaded": True, "changed": 1, "log_level": "info"}, out
        wait_until(lambda: "reload: 1 option changed" in stack.log("chatd"), 5,
                   what="the reload in chatd's log")

        conf.write_text(original + "[ipc]\nno_such_option = 1\n")
        rc, out, err = ctl(stack, "chatd", "reload")
        assert rc == 1, (out, err)
        assert out["error"] == "reload_failed", out
        assert f"{conf}:" in out["message"] and "no_such_option" in out["message"], out
        assert "keeping the old config" in stack.log("chatd")
        rc, st, _ = ctl(stack, "chatd", "status")       # still serving
        assert rc == 0 and st["pid"] == stack.pid("chatd"), st
        assert stack.get("/api/health/chatd").status_code == 200
    finally:
        conf.write_text(original)
    rc, out, err = ctl(stack, "chatd", "reload")
    assert rc == 0 and out["changed"] == 1, (out, err)
    rc, out, _ = ctl(stack, "chatd", "reload")
    assert rc == 0 and out["changed"] == 0, out


def test_log_level_debug_then_info(stack):
    try:
        rc, out, err = ctl(stack, "voiced", "log-level", "debug")
        assert rc == 0 and out == {"log_level": "debug", "previous": "info"}, (out, err)
        assert stack.get("/api/health/voiced").status_code == 200
        wait_until(lambda: "GET /api/health/voiced -> 200" in stack.log("voiced"), 5,
                   what="a debug line in voiced's log")
        rc, out, _ = ctl(stack, "voiced", "status")
        assert out["log_level"] == "debug", out
    finally:
        rc, out, _ = ctl(stack, "voiced", "log-level", "info")
    assert rc == 0 and out == {"log_level": "info", "previous": "debug"}, out
    mark = len(stack.log("voiced"))
    assert stack.get("/api/health/voiced").status_code == 200
    time.sleep(0.3)
    assert "GET /api/health/voiced -> 200" not in stack.log("voiced")[mark:]
    rc, out, _ = ctl(stack, "voiced", "log-level", "loud")
    assert rc == 1 and out["error"] == "invalid_argument", out
    rc, out, _ = ctl(stack, "voiced", "log-level")
    assert rc == 0 and out["log_level"] == "info", out


async def _closed_with(ws, within=1.5):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    except websockets.ConnectionClosed as e:
        return e.code


def test_revoke_user_closes_sockets_and_refuses_tokens(stack):
    u = new_user(stack, "ctlrev")
    second, _ = u.session(stack)
    other = new_user(stack, "ctlkeep")
    url = f"ws://127.0.0.1:{stack.port}/api/ws?token="

    async def go():
        async with websockets.connect(url + u.access) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
            rc, out, err = await asyncio.to_thread(ctl, stack, "authd", "revoke-user", u.id)
            t0 = time.monotonic()
            assert rc == 0 and out == {"revoked": 2}, (out, err)
            assert await _closed_with(ws) == 4001
            return t0
    t0 = asyncio.run(asyncio.wait_for(go(), 20))
    for token in (u.access, second):
        while me(stack, token).status_code != 401:
            assert time.monotonic() - t0 < REVOKE_WITHIN_S, "a token still works"
            time.sleep(0.02)
    assert me(stack, other.access).status_code == 200
    rc, out, _ = ctl(stack, "authd", "revoke-user", u.id)
    assert rc == 0 and out == {"revoked": 0}, out
    for bad in ("not-a-uuid", ""):
        rc, out, _ = ctl(stack, "authd", "revoke-user", *([bad] if bad else []))
        assert rc == 1 and out["error"] == "invalid_argument", out
    rc, out, _ = ctl(stack, "chatd", "revoke-user", u.id)
    assert rc == 1 and out["error"] == "unknown_command", out


def test_another_uid_is_refused_and_logged(stack):
    """The socket is reached through a hard link in a directory nobody can
    traverse, and made 0666, so that only SO_PEERCRED can refuse."""
    sock = sock_path(stack, "authd")
    tmp = Path(tempfile.mkdtemp(prefix="ctl-"))
    try:
        tmp.chmod(0o755)
        link = tmp / "authd.ctl"
        os.link(sock, link)
        sock.chmod(0o666)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        rc, out, err = ctl(stack, "-S", link, "authd", "status", env=env, prefix=prefix,
                           sock_dir=False)
        assert rc == 1, (out, err)
        assert out == {"error": "forbidden", "message": "Permission denied"}, out
        wait_until(lambda: f"control: refused uid {NOBODY}" in stack.log("authd"), 5,
                   what="the refusal in authd's log")
    finally:
        sock.chmod(0o600)
        shutil.rmtree(tmp, ignore_errors=True)
    rc, _, _ = ctl(stack, "authd", "status")
    assert rc == 0


def test_garbage_and_oversize_lines(stack):
    d = "chatd"
    assert raw(stack, d, b"\x00\xffgarbage\n")["error"] == "bad_request"
    assert raw(stack, d, b"\n")["error"] == "bad_request"
    assert raw(stack, d, b"no-such-command\n")["error"] == "unknown_command"
    assert raw(stack, d, b"x" * 5000)["error"] == "line_too_long"
    assert raw(stack, d, b"y" * 100000 + b"\n", shut=False)["error"] == "line_too_long"
    assert raw(stack, d, b"status")["daemon"] == d          # no newline, then EOF
    assert raw(stack, d, b"status\r\nreload\n")["daemon"] == d
    for _ in range(3):                                      # connect and leave
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(sock_path(stack, d)))
    rc, st, _ = ctl(stack, d, "status")
    assert rc == 0 and st["pid"] == stack.pid(d)
    assert stack.get("/api/health/chatd").status_code == 200


def test_usage_and_connection_errors(stack, tmp_path):
    env = sanitizer_env(stack.run_dir)
    for args in ([], ["authd"], ["-S", "/x", "all", "status"], ["../etc", "status"],
                 ["authd", "bad\nline"], ["-q", "authd", "status"]):
        res = subprocess.run([ctl_bin(), *args], capture_output=True, text=True, env=env,
                             timeout=10)
        assert res.returncode == 2 and "usage:" in res.stderr, (args, res.stderr)
    res = subprocess.run([ctl_bin(), "-s", str(tmp_path), "authd", "status"],
                         capture_output=True, text=True, env=env, timeout=10)
    assert res.returncode == 2 and "authd.ctl" in res.stderr, res.stderr
    res = subprocess.run([ctl_bin(), "-s", str(tmp_path), "all", "status"],
                         capture_output=True, text=True, env=env, timeout=10)
    assert res.returncode == 2 and "no control socket" in res.stderr, res.stderr


@pytest.mark.last
def test_stale_socket_does_not_stop_a_restart(stack):
    """SIGKILL leaves the socket file behind; the next start replaces it."""
    stack.kill("voiced")
    assert sock_path(stack, "voiced").exists()
    stack.start_daemon("voiced")
    wait_until(lambda: ctl(stack, "voiced", "status")[1]["pid"] == stack.pid("voiced"), 30,
               what="voiced's control socket after a restart")
    wait_until(lambda: stack.get("/health").status_code == 200, 30, what="/health")


def test_gatewayd_status_sessions_and_kick(stack):
    """gatewayd's socket: status (its upstreams), the WebSockets open here,
    and kick by session or by user (close code 4003)."""
    rc, st, err = ctl(stack, "gatewayd", "status")
    assert rc == 0, err
    assert st["daemon"] == "gatewayd" and st["pid"] == stack.pid("gatewayd"), st
    assert st["upstreams"] == {"authd": True, "chatd": True, "voiced": True}, st
    u = new_user(stack, "ctlkick")
    url = f"ws://127.0.0.1:{stack.port}/api/ws?token="

    async def go():
        async with websockets.connect(url + u.access) as a, \
                websockets.connect(url + u.access) as b:
            for ws in (a, b):
                await ws.send(json.dumps({"type": "ping"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
            rc, out, err = await asyncio.to_thread(ctl, stack, "gatewayd", "sessions")
            assert rc == 0, err
            mine = [s for s in out["sessions"] if s["user_id"] == u.id]
            assert len(mine) == 2 and all(s["kind"] == "ws" for s in mine), out
            assert {"session_id", "peer", "rooms", "conversations", "queued_bytes",
                    "open_s"} <= set(mine[0]), mine
            rc, out, err = await asyncio.to_thread(ctl, stack, "gatewayd", "kick", u.id)
            assert rc == 0 and out == {"kicked": 2}, (out, err)
            assert await _closed_with(a) == 4003 and await _closed_with(b) == 4003
    asyncio.run(asyncio.wait_for(go(), 20))
    rc, out, _ = ctl(stack, "gatewayd", "kick", "nope")
    assert rc == 1 and out["error"] == "bad_request", out
    rc, out, _ = ctl(stack, "gatewayd", "kick", u.id)
    assert rc == 0 and out == {"kicked": 0}, out
