"""Each back-end daemon's Prometheus exporter ([metrics] listen, a loopback
port that stack.sh picks and records in RUN_DIR/env): the text format, the
families docs/operations.md lists, requests through gatewayd counted under
their route pattern, the database pool gauges, a non-loopback address
refused by -n, and Debian's prometheus scraping all three targets as up."""

import math
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest
import requests

from stacklib import (ALL_DAEMONS, DAEMONS, HTTP_TIMEOUT, bin_dir, find_sanitizer_reports, free_port,
                      sanitizer_env, sanitizer_text_reports, wait_until)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

COMMON = {
    "enclavr_http_requests_total": "counter",
    "enclavr_http_request_duration_seconds": "histogram",
    "enclavr_heartbeats_total": "counter",
    "enclavr_process_start_time_seconds": "gauge",
    "enclavr_uptime_seconds": "gauge",
    "enclavr_build_info": "gauge",
    "enclavr_draining": "gauge",
    "enclavr_redis_up": "gauge",
    "enclavr_redis_commands_total": "counter",
    "enclavr_redis_errors_total": "counter",
    "enclavr_redis_connects_total": "counter",
    "enclavr_ipc_requests_total": "counter",
    "enclavr_ipc_request_duration_seconds": "histogram",
    "enclavr_ipc_requests_in_flight": "gauge",
    "enclavr_ipc_requests_refused_total": "counter",
    "enclavr_ipc_events_published_total": "counter",
    "enclavr_ipc_events_publish_failed_total": "counter",
    "enclavr_db_pool_size": "gauge",
    "enclavr_db_pool_ready": "gauge",
    "enclavr_db_pool_busy": "gauge",
    "enclavr_db_queue_length": "gauge",
    "enclavr_db_queries_total": "counter",
    "enclavr_db_query_duration_seconds": "histogram",
    "enclavr_db_queue_wait_seconds": "histogram",
    "enclavr_db_connection_errors_total": "counter",
}
AUTHD_ONLY = {
    "enclavr_argon2_jobs_running": "gauge",
    "enclavr_argon2_jobs_queued": "gauge",
    "enclavr_argon2_jobs_capacity": "gauge",
    "enclavr_argon2_jobs_rejected_total": "counter",
    "enclavr_argon2_jobs_failed_total": "counter",
    "enclavr_argon2_duration_seconds": "histogram",
}

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(rf"^({NAME_RE})(?:\{{(.*)\}})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"')


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, f"bad labels at {text[pos:]!r}"
        assert m.group(1) not in labels, f"label {m.group(1)} twice: {text!r}"
        labels[m.group(1)] = m.group(2)
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ",", f"bad labels {text!r}"
            pos += 1
    return labels


def parse_metrics(text):
    """Checks the text exposition format strictly and returns
    ({family: type}, [(name, labels, value)])."""
    types, helps, samples = {}, set(), []
    assert text.endswith("\n"), "the last line must end with a newline"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert re.fullmatch(NAME_RE, name) and name not in helps, line
            helps.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, f"TYPE twice: {line}"
            types[name] = kind
        else:
            m = SAMPLE_RE.match(line)
            assert m, f"bad sample line {line!r}"
            name, labels, value = m.group(1), parse_labels(m.group(2) or ""), float(m.group(3))
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                    family = name[:-len(suffix)]
            assert family in types, f"sample before its TYPE: {line}"
            if types[family] == "counter":
                assert name.endswith("_total") and value >= 0, line
            samples.append((name, labels, value))
    return types, samples


def check_histograms(types, samples):
    """Buckets are cumulative, end with +Inf, and +Inf equals _count."""
    for family in (f for f, t in types.items() if t == "histogram"):
        series = {}
        for name, labels, value in samples:
            if name == family + "_bucket":
                key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                series.setdefault(key, []).append((float(labels["le"]), value))
        for key, buckets in series.items():
            les = [le for le, _ in buckets]
            assert les == sorted(les) and math.isinf(les[-1]), (family, key, les)
            counts = [c for _, c in buckets]
            assert counts == sorted(counts), (family, key, counts)
            count = value_of(samples, family + "_count", dict(key))
            assert count == counts[-1], (family, key)


def value_of(samples, name, labels=None, default=None):
    labels = labels or {}
    for n, lab, v in samples:
        if n == name and all(lab.get(k) == val for k, val in labels.items()):
            return v
    if default is not None:
        return default
    raise AssertionError(f"no sample {name}{labels}")


def scrape(stack, daemon, path="/metrics"):
    return requests.get(f"http://127.0.0.1:{stack.metrics_port(daemon)}{path}",
                        timeout=HTTP_TIMEOUT)


def scrape_parsed(stack, daemon):
    r = scrape(stack, daemon)
    assert r.status_code == 200, r.text[:300]
    return parse_metrics(r.text)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_metrics_format_and_families(stack, daemon):
    r = scrape(stack, daemon)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    types, samples = parse_metrics(r.text)
    want = dict(COMMON, **(AUTHD_ONLY if daemon == "authd" else {}))
    for name, kind in want.items():
        assert types.get(name) == kind, f"{daemon}: {name} is {types.get(name)}, want {kind}"
    if daemon != "authd":
        assert not any(n.startswith("enclavr_argon2") for n in types), daemon
    assert all(lab.get("daemon") == daemon for _, lab, _ in samples), daemon
    check_histograms(types, samples)
    assert value_of(samples, "enclavr_redis_up") == 1
    assert value_of(samples, "enclavr_db_pool_size") == 4  # [database] pool_size default
    assert value_of(samples, "enclavr_db_pool_ready") >= 1
    assert value_of(samples, "enclavr_db_queries_total", {"result": "ok"}) >= 1
    assert value_of(samples, "enclavr_uptime_seconds") >= 0
    assert value_of(samples, "enclavr_process_start_time_seconds") > time.time() - 3600
    assert any(n == "enclavr_build_info" and lab.get("version") and v == 1
               for n, lab, v in samples)
    wait_until(lambda: value_of(scrape_parsed(stack, daemon)[1], "enclavr_heartbeats_total") > 0,
               5, what=f"{daemon} heartbeats")


def test_route_counter_and_histogram_follow_requests(stack):
    labels = {"method": "GET", "route": "/api/health/chatd", "status": "200"}
    hist = {"method": "GET", "route": "/api/health/chatd"}
    _, before = scrape_parsed(stack, "chatd")
    n0 = value_of(before, "enclavr_http_requests_total", labels, default=0)
    c0 = value_of(before, "enclavr_http_request_duration_seconds_count", hist, default=0)
    q0 = value_of(before, "enclavr_ipc_requests_total", {"type": "http-request"}, default=0)
    for _ in range(3):
        assert stack.get("/api/health/chatd").status_code == 200
    _, after = scrape_parsed(stack, "chatd")
    assert value_of(after, "enclavr_http_requests_total", labels) == n0 + 3
    assert value_of(after, "enclavr_http_request_duration_seconds_count", hist) == c0 + 3
    assert value_of(after, "enclavr_http_request_duration_seconds_bucket",
                    dict(hist, le="+Inf")) == c0 + 3
    assert value_of(after, "enclavr_http_request_duration_seconds_sum", hist) > 0
    assert value_of(after, "enclavr_ipc_requests_total", {"type": "http-request"}) >= q0 + 3


def test_routes_are_labelled_by_pattern_not_path(stack):
    """GET /api/users/<uuid> is counted as /api/users/{id}: ids never
    become label values."""
    uid = str(uuid.uuid4())
    r = stack.get(f"/api/users/{uid}", headers={"Authorization": f"Bearer {stack.token()}"})
    assert r.status_code in (200, 404), r.text
    text = scrape(stack, "authd").text
    assert uid not in text
    _, samples = parse_metrics(text)
    assert value_of(samples, "enclavr_http_requests_total",
                    {"method": "GET", "route": "/api/users/{id}",
                     "status": str(r.status_code)}) >= 1


def test_exporter_answers_only_metrics(stack):
    r = scrape(stack, "voiced", "/")
    assert r.status_code == 404
    r = scrape(stack, "voiced", "/metrics/x")
    assert r.status_code == 404
    r = requests.post(f"http://127.0.0.1:{stack.metrics_port('voiced')}/metrics",
                      data=b"x", timeout=HTTP_TIMEOUT)
    assert r.status_code in (405, 413), r.status_code
    r = requests.head(f"http://127.0.0.1:{stack.metrics_port('voiced')}/metrics",
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content == b""
    assert scrape(stack, "voiced").status_code == 200  # still serving


@pytest.mark.parametrize("addr,ok", [
    ("127.0.0.1:9464", True), ("127.1.2.3:0", True), ("[::1]:9464", True),
    ("0.0.0.0:9464", False), ("192.0.2.1:9464", False), ("[::]:9464", False),
    ("127.0.0.1", False), ("localhost:9464", False), ("::1:9464", False),
])
def test_check_refuses_non_loopback(tmp_path, addr, ok):
    conf = tmp_path / "chatd.conf"
    conf.write_text(f"[metrics]\nlisten = {addr}\n")
    (tmp_path / "log").mkdir()
    res = subprocess.run([str(bin_dir() / "chatd"), "-n", "-f", str(conf)], capture_output=True,
                         text=True, timeout=30, env=sanitizer_env(tmp_path), cwd=tmp_path)
    assert not (find_sanitizer_reports(tmp_path / "log") +
                sanitizer_text_reports(res.stdout + res.stderr))
    if ok:
        assert res.returncode == 0 and res.stdout == f"chatd: {conf}: OK\n", res.stderr
    else:
        assert res.returncode == 1, res.stdout
        assert res.stderr.startswith(f"chatd: {conf}: [metrics] listen = {addr}: must be"), \
            res.stderr


# ------------------------------------------------------------ prometheus

def prometheus_targets(port):
    r = requests.get(f"http://127.0.0.1:{port}/api/v1/targets", timeout=2)
    r.raise_for_status()
    return r.json()["data"]["activeTargets"]


def all_up(port, want):
    targets = prometheus_targets(port)
    got = {t["scrapeUrl"]: t["health"] for t in targets}
    return set(got) == want and all(h == "up" for h in got.values()) and got


def test_gatewayd_metrics(stack):
    """gatewayd's own: requests by route pattern and status, connections,
    WebSockets, frames fanned out, and the IPC client's calls."""
    types, _ = scrape_parsed(stack, "gatewayd")
    for name, kind in {"enclavr_http_requests_total": "counter",
                       "enclavr_http_request_duration_seconds": "histogram",
                       "enclavr_http_connections": "gauge", "enclavr_ws_connections": "gauge",
                       "enclavr_ws_streams": "gauge",
                       "enclavr_ws_events_fanned_out_total": "counter"}.items():
        assert types.get(name) == kind, (name, types.get(name))
    uid = "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"
    route = {"method": "GET", "route": "/api/users/{id}", "status": "404"}
    _, before = scrape_parsed(stack, "gatewayd")
    calls = value_of(before, "enclavr_ipc_calls_total", {"upstream": "authd", "result": "ok"},
                     default=0)
    for _ in range(3):
        r = requests.get(f"{stack.base}/api/users/{uid}", timeout=HTTP_TIMEOUT,
                         headers={"Authorization": f"Bearer {stack.token()}"})
        assert r.status_code == 404, r.text
    _, samples = scrape_parsed(stack, "gatewayd")
    assert not any(uid in str(lab) for _, lab, _ in samples)
    assert value_of(samples, "enclavr_http_requests_total", route) == \
        value_of(before, "enclavr_http_requests_total", route, default=0) + 3
    assert value_of(samples, "enclavr_ipc_calls_total",
                    {"upstream": "authd", "result": "ok"}) >= calls + 3
    assert all(lab.get("daemon") == "gatewayd" for _, lab, _ in samples)
    check_histograms(*scrape_parsed(stack, "gatewayd"))


@pytest.mark.skipif(not shutil.which(PROMETHEUS), reason="prometheus is not installed (make deps)")
def test_prometheus_scrapes_every_daemon(stack, tmp_path):
    ports = {d: stack.metrics_port(d) for d in ALL_DAEMONS}
    targets = ", ".join(f"'127.0.0.1:{p}'" for p in ports.values())
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: enclavr\n"
        f"    static_configs:\n      - targets: [{targets}]\n")
    web = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{web}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp_path)
    try:
        want = {f"http://127.0.0.1:{p}/metrics" for p in ports.values()}
        wait_until(lambda: proc.poll() is None and all_up(web, want), 20, interval=0.25,
                   what="prometheus to see every daemon up")

        def pool_sizes():
            r = requests.get(f"http://127.0.0.1:{web}/api/v1/query",
                             params={"query": "enclavr_db_pool_size"}, timeout=2)
            res = r.json()["data"]["result"]
            return len(res) == 3 and {x["metric"]["daemon"] for x in res}
        assert wait_until(pool_sizes, 10, interval=0.25, what="a query") == set(DAEMONS)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
    assert proc.returncode in (0, -signal.SIGTERM), (tmp_path / "prometheus.log").read_text()
