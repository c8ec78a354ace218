"""scripts/stack.sh and the make targets around it: refusing to clobber a
running stack, and `make up`/`make down` with RUN_DIR and HTTP_PORT."""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from stacklib import (ALL_DAEMONS, REPO, STACK_SH, free_port, make_run_dir, pid_running,
                      port_open, remove_run_dir, sanitizer_env)


def sh(env, *args, timeout=60):
    return subprocess.run([str(STACK_SH), *map(str, args)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_start_daemon_refuses_a_running_one(stack):
    res = sh(stack.env, "start-daemon", stack.run_dir, "authd")
    assert res.returncode != 0
    assert "authd is already running" in res.stderr


def test_up_refuses_a_running_stack(stack):
    res = sh(stack.env, "up", stack.run_dir, free_port(), stack.bin_dir)
    assert res.returncode != 0
    assert "already running" in res.stderr
    assert stack.get("/health").status_code == 200


def test_up_refuses_a_busy_port(stack, tmp_path):
    run = Path(tempfile.mkdtemp(prefix="enc-b-", dir="/tmp"))
    try:
        res = sh(sanitizer_env(run), "up", run, stack.port, stack.bin_dir)
        assert res.returncode != 0
        assert f"port {stack.port} is in use" in res.stderr
    finally:
        remove_run_dir(run)


@pytest.mark.last
def test_make_up_and_down():
    """The developer entry point: builds build/rel if needed (slow the first
    time), starts a stack in RUN_DIR on HTTP_PORT, then stops exactly it."""
    run = make_run_dir("enc-mk-")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "ENCLAVR_BIN",
                        "SANITIZE")}
    env = sanitizer_env(run, env)
    passed = False
    try:
        res = subprocess.run(["make", "-s", "up", f"RUN_DIR={run}", f"HTTP_PORT={port}"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"make up failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        assert f"http://127.0.0.1:{port}/" in res.stdout
        stack_env = dict(line.split("=", 1) for line in (run / "env").read_text().splitlines())
        assert stack_env["HTTP_PORT"] == str(port)
        assert stack_env["BIN_DIR"] == str(REPO / "build" / "rel" / "bin")

        r = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        pids = {n: int((run / "pids" / f"{n}.pid").read_text()) for n in (*ALL_DAEMONS, "redis")}
        pg_pid = int((run / "pg" / "postmaster.pid").read_text().split()[0])

        res = subprocess.run(["make", "-s", "down", f"RUN_DIR={run}"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "is stopped" in res.stdout
        assert not port_open(port), "the HTTP port still accepts connections"
        for name, pid in pids.items():
            assert not pid_running(pid), f"{name} ({pid}) still runs after make down"
        assert not pid_running(pg_pid), "PostgreSQL still runs after make down"
        passed = True
    finally:
        sh(env, "down", run)
        if passed:
            remove_run_dir(run)
        else:
            print(f"\n[enclavr] run directory kept for debugging: {run}")
