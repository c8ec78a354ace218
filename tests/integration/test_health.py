"""The operational endpoints (/health, /status, /info), each daemon's own
health route through gatewayd, and the database state the daemons leave."""

import pytest

from stacklib import DAEMONS, RFC3339_RE, UUID_RE, assert_security_headers, wait_until

SCHEMAS = {"authd": "auth", "chatd": "chat", "voiced": "voice"}


def assert_json_ok(resp, status=200):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["Cache-Control"] == "no-store"
    assert int(resp.headers["Content-Length"]) == len(resp.content)
    assert_security_headers(resp)
    return resp.json()


def test_health_all_up(stack):
    body = assert_json_ok(stack.get("/health"))
    assert body["status"] == "ok"
    assert "error" not in body, body
    assert set(body["daemons"]) == set(DAEMONS)
    for name, d in body["daemons"].items():
        assert d["status"] == "up", (name, d)
        assert d["daemon"] == name
        assert UUID_RE.match(d["instance"]), d
        assert d["database"] is True and d["redis"] is True and d["draining"] is False, d
        assert d["routes"] >= 2, d  # GET /api/health/<d> and POST .../echo
        assert RFC3339_RE.match(d["time"]), d
        assert isinstance(d["uptime_ms"], (int, float)) and d["uptime_ms"] >= 0
    gw = body["gatewayd"]
    assert gw["status"] == "up" and gw["redis"] is True, gw
    assert gw["connections"] >= 1 and gw["uptime_ms"] >= 0, gw


def test_health_head(stack):
    r = stack.request("HEAD", "/health")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["Content-Length"]) > 20
    assert r.headers["Content-Type"] == "application/json"


def test_status_shape(stack):
    body = assert_json_ok(stack.get("/status"))
    assert set(body) == {"redis_enabled", "uptime", "active_clients", "dm_clients", "room_count"}, body
    assert body["redis_enabled"] is True
    assert isinstance(body["uptime"], str) and body["uptime"][-1] == "s", body
    for k in ("active_clients", "dm_clients", "room_count"):
        assert body[k] == 0


def test_info_shape(stack):
    body = assert_json_ok(stack.get("/info"))
    assert set(body) == {"redis_enabled", "uptime", "server_time", "version", "ws_clients",
                         "ws_rooms"}, body
    assert body["redis_enabled"] is True
    assert RFC3339_RE.match(body["server_time"]), body
    assert body["version"] and isinstance(body["version"], str)
    assert body["ws_clients"] == 0 and body["ws_rooms"] == 0


@pytest.mark.parametrize("daemon", DAEMONS)
def test_daemon_health_route(stack, daemon):
    r = stack.get(f"/api/health/{daemon}", headers={"X-Request-ID": f"health-{daemon}"})
    body = assert_json_ok(r)
    assert r.headers["X-Request-ID"] == f"health-{daemon}"
    assert body["daemon"] == daemon
    assert UUID_RE.match(body["instance"])
    assert body["database"] is True and body["redis"] is True and body["draining"] is False
    assert body["migrations"] >= 1, body
    assert body["starts"] >= 1, body
    assert RFC3339_RE.match(body["time"])


def test_daemon_health_head(stack):
    r = stack.request("HEAD", "/api/health/voiced")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["Content-Length"]) > 20


@pytest.mark.parametrize("daemon", DAEMONS)
def test_database_state(stack, daemon):
    schema = SCHEMAS[daemon]
    instance = stack.get(f"/api/health/{daemon}").json()["instance"]
    with stack.pg() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT version, name FROM {schema}.schema_migrations ORDER BY version")
        rows = cur.fetchall()
        assert rows[0] == (1, "001_instances.sql"), rows
        assert [v for v, _ in rows] == list(range(1, len(rows) + 1)), rows

        def recorded():
            cur.execute(f"SELECT daemon, version FROM {schema}.instances WHERE id = %s",
                        (instance,))
            return cur.fetchall()
        rows = wait_until(recorded, 5, what=f"{schema}.instances to record {instance}")
        assert rows[0][0] == daemon, rows
        cur.execute(f"SELECT count(*) FROM {schema}.instances")
        assert cur.fetchone()[0] >= 1
    conn.close()

