"""Keep-alive and pipelining: several requests in one write are answered
completely and in order, the connection stays open, Connection: close
closes it."""

import json
import threading

from stacklib import RawConn, assert_json_error, parse_responses, simple_request


def req(method, target, rid, extra=(), body=b""):
    return simple_request(method, target, [f"X-Request-ID: {rid}", *extra], body)


def test_pipelined_requests_in_order(stack):
    tok = stack.token()
    batch = (req("GET", "/info", "p-1")
             + req("GET", "/api/health/authd", "p-2")
             + req("GET", "/api/nope", "p-3")
             + req("POST", "/api/health/chatd/echo?n=4", "p-4",
                   [f"Authorization: Bearer {tok}"], b'{"n":4}')
             + req("GET", "/health", "p-5")
             + req("HEAD", "/", "p-6")
             + req("GET", "/status", "p-7"))
    with RawConn(stack.port) as c:
        c.send(batch)
        resps = c.read_responses(7, timeout=10, heads=(5,))
        assert [r.headers.get("X-Request-ID") for r in resps] == [f"p-{i}" for i in range(1, 8)], \
            [(r.status_code, r.headers.get("X-Request-ID")) for r in resps]
        assert [r.status_code for r in resps] == [200, 200, 404, 200, 200, 200, 200]
        assert "server_time" in resps[0].json()
        assert resps[1].json()["daemon"] == "authd"
        assert_json_error(resps[2], 404, "not_found")
        echo = resps[3].json()
        assert (echo["daemon"], echo["query"], echo["body"], echo["request_id"]) == \
            ("chatd", "n=4", {"n": 4}, "p-4")
        assert resps[4].json()["status"] == "ok"
        assert resps[5].content == b"" and int(resps[5].headers["Content-Length"]) > 0
        assert "active_clients" in resps[6].json()
        for r in resps:
            assert "close" not in r.headers.get("Connection", "").lower(), r.headers
        assert c.buf == b"", f"unexpected bytes after the responses: {c.buf[:200]!r}"

        # still open: one more request on the same connection
        c.send(req("GET", "/info", "p-8"))
        r = c.read_response()
        assert r.status_code == 200 and r.headers["X-Request-ID"] == "p-8"

        # Connection: close is honoured and the server closes
        c.send(req("GET", "/api/health/voiced", "p-9", ["Connection: close"]))
        r = c.read_response()
        assert r.status_code == 200 and r.json()["daemon"] == "voiced"
        assert r.headers["Connection"] == "close"
        assert c.closed_by_peer(timeout=3), "the server kept the connection open"


def test_pipelined_batch_split_across_writes(stack):
    """Requests split at awkward places still parse and answer in order."""
    batch = b"".join(req("GET", p, f"s-{i}") for i, p in
                     enumerate(["/info", "/api/health/voiced", "/status", "/api/health/authd"]))
    with RawConn(stack.port) as c:
        for i in range(0, len(batch), 37):
            c.send(batch[i:i + 37])
        resps = c.read_responses(4, timeout=10)
        assert [r.headers.get("X-Request-ID") for r in resps] == [f"s-{i}" for i in range(4)]
        assert all(r.status_code == 200 for r in resps)


def test_many_sequential_requests_on_one_connection(stack):
    with RawConn(stack.port) as c:
        for i in range(50):
            c.send(req("GET", "/api/health/authd" if i % 5 == 0 else "/info", f"k-{i}"))
            r = c.read_response()
            assert r.status_code == 200 and r.headers["X-Request-ID"] == f"k-{i}"


def test_concurrent_clients(stack):
    """40 clients at once, each with its own keep-alive connection, mixing
    gatewayd's own answers, forwarded requests and static files."""
    tok = stack.token()
    errors = []

    def client(n):
        try:
            with RawConn(stack.port, timeout=10) as c:
                for i in range(6):
                    rid = f"c{n}-{i}"
                    kind = (n + i) % 4
                    if kind == 0:
                        c.send(req("GET", "/info", rid))
                    elif kind == 1:
                        c.send(req("GET", f"/api/health/{('authd', 'chatd', 'voiced')[n % 3]}", rid))
                    elif kind == 2:
                        c.send(req("POST", "/api/health/chatd/echo", rid,
                                   [f"Authorization: Bearer {tok}"], b'{"n":%d}' % n))
                    else:
                        c.send(req("GET", "/js/app.js", rid, ["Accept-Encoding: gzip"]))
                    r = c.read_response(timeout=10)
                    if r.status_code != 200 or r.headers.get("X-Request-ID") != rid:
                        errors.append((rid, r.status_code, r.text[:100]))
                    elif kind == 2 and r.json()["body"] != {"n": n}:
                        errors.append((rid, r.text[:100]))
        except Exception as e:  # noqa: BLE001 - collected and asserted
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]


def test_error_in_pipeline_closes_after_earlier_answers(stack):
    """A malformed request in the middle of a pipeline: the earlier one is
    answered, then a 400, then the connection closes."""
    batch = req("GET", "/info", "e-1") + b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n" + req("GET", "/info", "e-3")
    with RawConn(stack.port) as c:
        c.send(batch)
        resps = c.read_responses(3, timeout=5)
        assert [r.status_code for r in resps] == [200, 400], resps
        assert resps[0].headers["X-Request-ID"] == "e-1"
        assert_json_error(resps[1], 400, "bad_method")
        assert c.closed_by_peer()


def test_http10_closes_by_default(stack):
    with RawConn(stack.port) as c:
        c.send(b"GET /info HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status_code == 200
        assert r.headers["Connection"] == "close"
        assert c.closed_by_peer(timeout=3)


def test_http10_keep_alive(stack):
    with RawConn(stack.port) as c:
        for _ in range(2):
            c.send(b"GET /info HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = c.read_response()
            assert r.status_code == 200
            assert "close" not in r.headers.get("Connection", "")


def test_request_answered_after_client_half_close(stack):
    """A client may send its request and shut down its write side (nc -N,
    some HTTP/1.0-era clients). A request already received must still be
    answered before the server closes. (Tried 10 times: the loss is a race
    that the server wins now and then.)"""
    lost = 0
    for i in range(10):
        with RawConn(stack.port) as c:
            c.send(req("GET", "/info", f"h-{i}"))
            c.shutdown_write()
            data = c.read_until_close(timeout=5)
        lost += not data.startswith(b"HTTP/1.1 200")
    assert lost == 0, (
        f"BUG: gatewayd dropped the response to GET /info in {lost} of 10 tries when the "
        "client half-closed its side right after sending the request")


def test_pipelined_requests_answered_after_client_half_close(stack):
    results = []
    for i in range(5):
        batch = req("GET", "/info", f"hp-{i}-1") + req("GET", "/api/health/authd", f"hp-{i}-2") + \
            req("GET", "/status", f"hp-{i}-3")
        with RawConn(stack.port) as c:
            c.send(batch)
            c.shutdown_write()
            c.read_until_close(timeout=5)
            resps, _ = parse_responses(c.buf)
        got = [(r.status_code, r.headers.get("X-Request-ID")) for r in resps]
        results.append(got)
        if got != [(200, f"hp-{i}-{n}") for n in (1, 2, 3)]:
            break
    assert len(results) == 5, (
        "BUG: after a client half-close, pipelined requests already received were not all "
        f"answered: {results[-1]}")
    json.loads(resps[1].content)
