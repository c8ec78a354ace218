"""Configuration checking from the command line: -n (check), -N (print the
effective configuration), and errors that name the file and line."""

import re
import subprocess

import pytest

from stacklib import (ALL_DAEMONS, REPO, bin_dir, find_sanitizer_reports, sanitizer_env,
                      sanitizer_text_reports)


def run(tmp_path, daemon, *args):
    """Runs a daemon binary with args under the sanitizers (their reports
    go to tmp_path/log) and fails on any report."""
    log = tmp_path / "log"
    log.mkdir(exist_ok=True)
    res = subprocess.run([str(bin_dir() / daemon), *map(str, args)], capture_output=True,
                         text=True, timeout=30, env=sanitizer_env(tmp_path), cwd=tmp_path)
    reports = find_sanitizer_reports(log) + sanitizer_text_reports(res.stdout + res.stderr)
    assert not reports, "sanitizer report(s):\n" + "\n".join(reports) + res.stderr
    return res


def defaults_text(tmp_path, daemon):
    res = run(tmp_path, daemon, "-N", "-f", "/dev/null")
    assert res.returncode == 0, res.stderr
    return res.stdout


def shipped_or_generated_conf(tmp_path, daemon):
    """The repo's etc/<daemon>.conf, or (while it is not written yet) the
    daemon's own defaults as a file."""
    path = REPO / "etc" / f"{daemon}.conf"
    if path.is_file():
        return path
    gen = tmp_path / f"{daemon}.conf"
    gen.write_text(defaults_text(tmp_path, daemon))
    return gen


@pytest.mark.parametrize("daemon", ALL_DAEMONS)
def test_check_shipped_config_ok(tmp_path, daemon):
    conf = shipped_or_generated_conf(tmp_path, daemon)
    res = run(tmp_path, daemon, "-n", "-f", conf)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{daemon}: {conf}: OK\n"
    assert res.stderr == ""


@pytest.mark.parametrize("daemon", ALL_DAEMONS)
def test_shipped_config_lists_every_option_at_default(tmp_path, daemon):
    """etc/*.conf says: 'Every option is listed below at its default value'."""
    path = REPO / "etc" / f"{daemon}.conf"
    if not path.is_file() or "Every option is listed" not in path.read_text():
        pytest.skip(f"{path} does not (yet) claim to list every option")
    text = path.read_text()
    defaults = defaults_text(tmp_path, daemon)
    res = run(tmp_path, daemon, "-N", "-f", path)
    assert res.returncode == 0, res.stderr
    assert res.stdout == defaults, "the shipped file changes some default"
    section = None
    listed = set()
    for line in text.splitlines():
        if m := re.match(r"^\[(\w+)\]$", line):
            section = m.group(1)
        elif m := re.match(r"^(\w+) =", line):
            listed.add((section, m.group(1)))
    section = None
    for line in defaults.splitlines():
        if m := re.match(r"^\[(\w+)\]$", line):
            section = m.group(1)
        elif m := re.match(r"^(\w+) =", line):
            assert (section, m.group(1)) in listed, f"[{section}] {m.group(1)} is not in {path}"


def test_check_stack_configs_ok(tmp_path, stack):
    for daemon in ALL_DAEMONS:
        conf = stack.run_dir / "etc" / f"{daemon}.conf"
        res = run(tmp_path, daemon, "-n", "-f", conf)
        assert res.returncode == 0 and res.stdout.endswith(": OK\n"), res.stderr


BAD_CONFIGS = [
    # (content, line, what stderr must also say)
    ("# a comment\n[http]\nport = 99999\n", 3, r"port: 99999 is outside 1\.\.65535"),
    ("[http]\nport = 0\n", 2, r"port: 0 is outside"),
    ("[http]\nport = 80abc\n", 2, r'port: not an integer: "80abc"'),
    ("[http]\nlisten = 127.0.0.1\n\nbogus_key = 1\n", 4, r'unknown option "bogus_key" in section \[http\]'),
    ("[log]\nlevel = info\n[nosuch]\nkey = 1\n", 4, r'unknown option "key" in section \[nosuch\]'),
    ("[log]\nlevel = loud\n", 2, r'level: "loud" is not one of the allowed values'),
    ("[http]\nthis line is not ini\n", 2, r"syntax error"),
    ("port = 8080\n", 1, r'unknown option "port" in section \[\]'),
    ("[log]\nlevel = info\n[http]\nweb_root =\n", 4, r"web_root: must not be empty"),
    ("[http]\nrequest_timeout_ms = 99\n", 2, r"request_timeout_ms: 99 is outside 100\.\.600000"),
]


@pytest.mark.parametrize("content,line,msg", BAD_CONFIGS)
def test_bad_config_names_file_and_line(tmp_path, content, line, msg):
    conf = tmp_path / "bad.conf"
    conf.write_text(content)
    res = run(tmp_path, "gatewayd", "-n", "-f", conf)
    assert res.returncode != 0
    assert res.stdout == ""
    assert f"{conf}:{line}:" in res.stderr, res.stderr
    assert re.search(msg, res.stderr), res.stderr
    assert res.stderr.startswith("gatewayd: "), res.stderr


def test_bad_config_refuses_to_start(tmp_path):
    """Without -n, the same error stops the daemon before it does anything."""
    conf = tmp_path / "bad.conf"
    conf.write_text("[http]\nport = 99999\n")
    res = run(tmp_path, "gatewayd", "-f", conf)
    assert res.returncode != 0 and f"{conf}:2:" in res.stderr


def test_first_error_line_is_reported(tmp_path):
    conf = tmp_path / "two.conf"
    conf.write_text("[http]\nport = 8080\nbad_one = 1\nport = 99999\n")
    res = run(tmp_path, "gatewayd", "-n", "-f", conf)
    assert res.returncode != 0 and f"{conf}:3:" in res.stderr, res.stderr


@pytest.mark.parametrize("daemon", ["authd", "chatd", "voiced"])
def test_backend_bad_config_line(tmp_path, daemon):
    conf = tmp_path / "bad.conf"
    conf.write_text("[ipc]\nheartbeat_ms = 5\n")
    res = run(tmp_path, daemon, "-n", "-f", conf)
    assert res.returncode != 0
    assert f"{conf}:2:" in res.stderr and "heartbeat_ms" in res.stderr, res.stderr


def test_missing_config_file(tmp_path):
    res = run(tmp_path, "gatewayd", "-n", "-f", tmp_path / "nope.conf")
    assert res.returncode != 0
    assert "nope.conf" in res.stderr and "cannot read" in res.stderr, res.stderr


def test_print_effective_config(tmp_path):
    conf = tmp_path / "gw.conf"
    conf.write_text("[http]\nport = 8123\nrequest_timeout_ms = 2500\n"
                    "cors_origins = https://a.example, https://b.example\n[redis]\nhost =\n")
    res = run(tmp_path, "gatewayd", "-N", "-f", conf)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for expect in ("[http]", "port = 8123", "request_timeout_ms = 2500",
                   "cors_origins = https://a.example, https://b.example",
                   "idle_timeout_ms = 60000", "listen = 127.0.0.1", "[upstream]",
                   "heartbeat_timeout_ms = 3000", "[redis]", "[log]", "level = info"):
        assert expect in out.splitlines(), (expect, out)
    assert re.search(r"^host = $", out, re.M), out
    assert "OK" not in out
    # what -N prints is itself a valid config with the same effect
    again = tmp_path / "again.conf"
    again.write_text(out)
    res2 = run(tmp_path, "gatewayd", "-N", "-f", again)
    assert res2.returncode == 0 and res2.stdout == out, res2.stderr


def test_check_and_print_together(tmp_path):
    conf = tmp_path / "gw.conf"
    conf.write_text("[http]\nport = 8124\n")
    res = run(tmp_path, "gatewayd", "-n", "-N", "-f", conf)
    assert res.returncode == 0
    assert "port = 8124" in res.stdout.splitlines()
    assert res.stdout.endswith(f"gatewayd: {conf}: OK\n")


def test_usage_errors(tmp_path):
    for args in (["-x"], ["-n", "extra"], ["-f"]):
        res = run(tmp_path, "gatewayd", *args)
        assert res.returncode == 2, (args, res.returncode, res.stderr)
        assert "usage:" in res.stderr
