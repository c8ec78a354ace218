"""gatewayd's HTTP edge: 404/405, request-target validation, size limits
(413/414/431), malformed requests, body validation and slow clients."""

import json
import threading
import time

import pytest

from stacklib import RawConn, assert_json_error, parse_responses, raw_request, simple_request

# ------------------------------------------------------------ 404 / 405


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/nope"),
    ("GET", "/api"),
    ("POST", "/api/nope"),
    ("GET", "/api/health/authdx"),
    ("GET", "/api/health/authd/echo/extra"),
    ("DELETE", "/api/nothing/here"),
])
def test_unknown_api_route_404(stack, method, path):
    r = stack.request(method, path)
    assert_json_error(r, 404, "not_found", "No such route")
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/nope.html", "/missing/", "/a/b/c.js", "/index.html/x"])
def test_unknown_static_file_404(stack, path):
    assert_json_error(stack.get(path), 404, "not_found", "No such file")


def test_head_unknown_static_file_404_without_body(stack):
    r = stack.request("HEAD", "/nope.html")
    assert r.status_code == 404
    assert r.content == b""
    assert int(r.headers["Content-Length"]) > 0


@pytest.mark.parametrize("method,path,allow", [
    ("DELETE", "/api/health/authd", "GET, HEAD, OPTIONS"),
    ("POST", "/api/health/chatd", "GET, HEAD, OPTIONS"),
    ("PUT", "/api/health/voiced", "GET, HEAD, OPTIONS"),
    ("GET", "/api/health/authd/echo", "POST, OPTIONS"),
    ("HEAD", "/api/health/authd/echo", "POST, OPTIONS"),
    ("POST", "/health", "GET, HEAD, OPTIONS"),
    ("PUT", "/status", "GET, HEAD, OPTIONS"),
    ("DELETE", "/info", "GET, HEAD, OPTIONS"),
    ("POST", "/index.html", "GET, HEAD, OPTIONS"),
    ("PATCH", "/", "GET, HEAD, OPTIONS"),
])
def test_method_not_allowed_405(stack, method, path, allow):
    r = stack.request(method, path)
    assert r.headers.get("Allow") == allow, r.headers
    if method == "HEAD":
        assert r.status_code == 405 and r.content == b""
        return
    assert_json_error(r, 405, "method_not_allowed")
    allowed = [m.strip() for m in r.headers["Allow"].split(",")]
    assert method not in allowed


# ------------------------------------------------------------ request targets

BAD_PATHS = [
    "/a/../b", "/..", "/../etc/passwd", "/.", "/a/./b", "/a/.",
    "/%2e%2e/etc/passwd", "/a/%2E%2E/b", "/.%2e/x", "/%2e/x", "/a/..%2fb/..%2f..%2fetc",
    "/api/health/%2e%2e/authd",
    "/%ff", "/%c3%28", "/%ed%a0%80", "/%c0%af",
    "/a%00b", "/a%01", "/a%7f", "/a%0d%0aX-Injected:%20y", "/%09",
    "/%zz", "/%2", "/abc%",
    "%2fabc",
]


@pytest.mark.parametrize("target", BAD_PATHS)
def test_bad_path_400(stack, target):
    r = raw_request(stack.port, simple_request("GET", target))
    assert_json_error(r, 400, "bad_path" if target.startswith("/") else "bad_request")
    assert r.headers.get("Connection") == "close", r.headers


@pytest.mark.parametrize("target", [b"/a\x01b", b"/a\x7fb", b"/a\x00b"])
def test_raw_control_bytes_in_target_400(stack, target):
    r = raw_request(stack.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    body = assert_json_error(r, 400, r.json().get("error"))
    assert body["error"] in ("bad_path", "bad_request"), body


def test_raw_invalid_utf8_in_path_400(stack):
    r = raw_request(stack.port, b"GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_error(r, 400, "bad_path")


def test_invalid_utf8_query_400(stack):
    r = raw_request(stack.port, b"GET /info?x=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_error(r, 400, "bad_query")


@pytest.mark.parametrize("target", ["/a..b/c", "/...", "/.well-known/x", "/x/..y", "/%41pi/x"])
def test_dotted_names_that_are_not_traversal_are_fine(stack, target):
    """Only '.' and '..' segments are refused, not names containing dots."""
    r = raw_request(stack.port, simple_request("GET", target))
    assert_json_error(r, 404, "not_found")


def test_percent_encoded_query_is_fine(stack):
    r = raw_request(stack.port, simple_request("GET", "/info?x=%ff&y=%00"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("target", ["http://127.0.0.1/info", "*"])
def test_non_origin_form_target_400(stack, target):
    method = "OPTIONS" if target == "*" else "GET"
    r = raw_request(stack.port, simple_request(method, target))
    assert_json_error(r, 400, "bad_request")


# ------------------------------------------------------------ size limits

def test_url_over_8k_414(stack):
    r = raw_request(stack.port, simple_request("GET", "/" + "a" * 9000))
    assert_json_error(r, 414, "uri_too_long")
    assert r.headers["Connection"] == "close"


def test_query_over_8k_414(stack):
    r = raw_request(stack.port, simple_request("GET", "/info?q=" + "b" * 8200))
    assert_json_error(r, 414, "uri_too_long")


def test_url_just_under_8k_is_fine(stack):
    r = raw_request(stack.port, simple_request("GET", "/info?q=" + "c" * 8000))
    assert r.status_code == 200, r


def test_headers_100k_431(stack):
    pad = [f"X-Pad-{i}: {'v' * 1000}" for i in range(100)]
    with RawConn(stack.port) as c:
        c.send(simple_request("GET", "/info", pad))
        r = c.read_response()
        assert_json_error(r, 431, "headers_too_large")
        assert r.headers["Connection"] == "close"
        assert c.closed_by_peer(), "the connection must be closed after 431"
        assert not c.reset, "the connection ended with a reset, not a close"


def test_one_100k_header_431(stack):
    r = raw_request(stack.port, simple_request("GET", "/info", ["X-Big: " + "z" * 100 * 1024]))
    assert_json_error(r, 431, "headers_too_large")


def test_too_many_headers_431(stack):
    r = raw_request(stack.port, simple_request("GET", "/info", [f"X-H{i}: 1" for i in range(101)]))
    assert_json_error(r, 431, "headers_too_large")


def test_headers_under_limit_are_fine(stack):
    pad = [f"X-Pad-{i}: {'v' * 1000}" for i in range(12)]  # ~12 KiB < 16 KiB
    r = raw_request(stack.port, simple_request("GET", "/info", pad))
    assert r.status_code == 200, r


# ------------------------------------------------------------ malformed

@pytest.mark.parametrize("data", [
    b"GET / XTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.x\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /api/health/authd/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32,  # a TLS ClientHello
])
def test_malformed_request_400(stack, data):
    with RawConn(stack.port) as c:
        c.send(data)
        r = c.read_response()
        body = assert_json_error(r, 400, r.json().get("error"))
        assert body["error"] in ("bad_request", "bad_method"), body
        assert r.headers["Connection"] == "close"
        assert c.closed_by_peer()


@pytest.mark.parametrize("header", [b"Host : 127.0.0.1", b"X-Thing\t: 1",
                                    b"Transfer-Encoding : chunked"])
def test_whitespace_before_header_colon_400(stack, header):
    """RFC 9112 section 5.1: "A server MUST reject, with a response status
    code of 400 (Bad Request), any received request message that contains
    whitespace between a header field name and colon" (a request-smuggling
    vector behind proxies that read such a field differently)."""
    data = b"GET /info HTTP/1.1\r\n" + header + b"\r\nConnection: close\r\n\r\n"
    with RawConn(stack.port, timeout=3) as c:
        c.send(data)
        r = c.read_response()
        assert r.status_code == 400, (
            f"BUG: gatewayd answered {r.status_code} to a request with whitespace between a "
            f"header name and its colon ({header!r}); RFC 9112 5.1 requires 400")
        # A tab is refused by http_parser itself, a space by gatewayd's
        # header-name check.
        code = "bad_request" if b"\t" in header else "bad_header"
        assert_json_error(r, 400, code)


@pytest.mark.parametrize("method", [b"FOO", b"get", b"BREW", b"G\xc3\x89T"])
def test_unknown_method_400(stack, method):
    r = raw_request(stack.port, method + b" /info HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_error(r, 400, "bad_method", "Unknown request method")


# ------------------------------------------------------------ bodies

ECHO = "/api/health/authd/echo"


def echo_request(token, body, extra=()):
    return simple_request("POST", ECHO, [f"Authorization: Bearer {token}",
                                         "Content-Type: application/json", *extra], body)


def json_of_size(n):
    body = b'{"a":"' + b"x" * (n - 8) + b'"}'
    assert len(body) == n
    json.loads(body)
    return body


def test_body_at_limit_ok(stack, user_token):
    r = raw_request(stack.port, echo_request(user_token, json_of_size(4096)))
    assert r.status_code == 200, r
    assert len(r.json()["body"]["a"]) == 4088


def test_body_over_limit_content_length_413(stack, user_token):
    with RawConn(stack.port) as c:
        c.send(echo_request(user_token, json_of_size(4097)))
        r = c.read_response()
        assert_json_error(r, 413, "body_too_large")
        assert r.headers["Connection"] == "close"
        assert c.closed_by_peer()


def test_declared_huge_body_413_without_sending_it(stack, user_token):
    """A Content-Length over the limit is refused at the headers."""
    head = simple_request("POST", ECHO, [f"Authorization: Bearer {user_token}",
                                         "Content-Length: 10000000"])
    t0 = time.monotonic()
    r = raw_request(stack.port, head)
    assert_json_error(r, 413, "body_too_large")
    assert time.monotonic() - t0 < 1.5


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def test_body_over_limit_chunked_413(stack, user_token):
    head = simple_request("POST", ECHO, [f"Authorization: Bearer {user_token}",
                                         "Content-Type: application/json",
                                         "Transfer-Encoding: chunked"])
    with RawConn(stack.port) as c:
        c.send(head + chunked(json_of_size(6000), 1000))
        r = c.read_response()
        assert_json_error(r, 413, "body_too_large")
        assert c.closed_by_peer()


def test_body_chunked_within_limit_ok(stack, user_token):
    head = simple_request("POST", ECHO + "?via=chunked", [f"Authorization: Bearer {user_token}",
                                                          "Content-Type: application/json",
                                                          "Transfer-Encoding: chunked"])
    body = json.dumps({"chunks": list(range(200))}).encode()
    r = raw_request(stack.port, head + chunked(body, 100))
    assert r.status_code == 200, r
    assert r.json()["body"] == {"chunks": list(range(200))}
    assert r.json()["query"] == "via=chunked"


def test_413_reaches_a_client_still_sending_its_body(stack, user_token):
    """The 413 goes out at the headers; the client keeps sending 1 MiB of
    body. The server must not reset the connection under it (lingering
    close): the client reads the whole 413, then a clean close."""
    head = simple_request("POST", ECHO, [f"Authorization: Bearer {user_token}",
                                         f"Content-Length: {2 * 1024 * 1024}"])
    with RawConn(stack.port) as c:
        assert c.send(head)
        sent = 0
        chunk = b"x" * 65536
        while sent < 1024 * 1024 and c.send(chunk):
            sent += len(chunk)
        assert sent == 1024 * 1024, f"the server reset the connection after {sent} body bytes"
        r = c.read_response()
        assert_json_error(r, 413, "body_too_large")
        assert c.closed_by_peer(timeout=4)
        assert not c.reset, "the connection ended with a reset, not a close"


def test_413_with_requests_client_big_body(stack, user_token):
    r = stack.request("POST", ECHO, data=b"y" * (3 * 1024 * 1024),
                      headers={"Authorization": f"Bearer {user_token}",
                               "Content-Type": "application/json"})
    assert_json_error(r, 413, "body_too_large")


def test_413_with_requests_client(stack, user_token):
    r = stack.request("POST", ECHO, data=json_of_size(5000),
                      headers={"Authorization": f"Bearer {user_token}",
                               "Content-Type": "application/json"})
    assert_json_error(r, 413, "body_too_large")


@pytest.mark.parametrize("body", [b'{"a":', b"{} x", b"{'a':1}", b'{"a":"\xff"}', b"nope",
                                  b'{"a":1}\x00', b"[1,2"])
def test_malformed_json_400(stack, user_token, body):
    r = stack.request("POST", ECHO, data=body,
                      headers={"Authorization": f"Bearer {user_token}",
                               "Content-Type": "application/json"})
    assert_json_error(r, 400, "invalid_json")


@pytest.mark.parametrize("body", [b"[1,2]", b'"text"', b"42", b""])
def test_echo_requires_a_json_object_400(stack, user_token, body):
    r = stack.request("POST", ECHO, data=body,
                      headers={"Authorization": f"Bearer {user_token}",
                               "Content-Type": "application/json"})
    assert_json_error(r, 400, "invalid_json", "Body must be a JSON object")


def test_expect_100_continue(stack, user_token):
    """RFC 9110 section 10.1.1: on a request with "Expect: 100-continue" the
    origin server MUST send either an immediate final status or an
    immediate 100 (Continue). Clients such as curl (for bodies over 1 KiB)
    otherwise stall before sending the body."""
    head = simple_request("POST", ECHO, [f"Authorization: Bearer {user_token}",
                                         "Content-Type: application/json",
                                         "Expect: 100-continue", "Content-Length: 11"])
    with RawConn(stack.port, timeout=3) as c:
        c.send(head)
        t0 = time.monotonic()
        c._recv(t0 + 1.0)
        first = c.buf
        assert first.startswith(b"HTTP/1.1 100"), (
            "BUG: no 100 Continue (nor a final status) within 1 s of a request with "
            f"'Expect: 100-continue'; got {first[:60]!r}")
        c.buf = c.buf[c.buf.index(b"\r\n\r\n") + 4:]
        c.send(b'{"ok":true}')
        r = c.read_response()
        assert r.status_code == 200 and r.json()["body"] == {"ok": True}, r


# ------------------------------------------------------------ slow clients

REQUEST_TIMEOUT_S = 2.0  # REQUEST_TIMEOUT_MS=2000 in the stack's env
MARGIN_S = 2.5


def slowloris(port, head, drip, result):
    """Sends head at once (may be empty), then drip one byte a second, until
    the server answers or closes. Records when, and what it sent back."""
    c = RawConn(port, timeout=REQUEST_TIMEOUT_S + MARGIN_S + 2)
    t0 = time.monotonic()
    try:
        if head:
            c.send(head)
        for i in range(len(drip)):
            if not c.send(drip[i:i + 1]):
                break
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not c.eof:
                if not c._recv(deadline):
                    break
            if c.buf or c.eof or time.monotonic() - t0 > REQUEST_TIMEOUT_S + MARGIN_S + 1:
                break
        c.read_until_close(timeout=1.0)
        result.update(elapsed=time.monotonic() - t0, data=c.buf, eof=c.eof)
    finally:
        c.close()


def check_slowloris_result(res):
    assert res, "the slow client thread did not finish"
    assert res["eof"], f"the server did not close the slow connection: {res}"
    elapsed = res["elapsed"]
    assert REQUEST_TIMEOUT_S - 0.5 <= elapsed <= REQUEST_TIMEOUT_S + MARGIN_S, \
        f"slow client was cut after {elapsed:.2f}s, expected ~{REQUEST_TIMEOUT_S}s"
    if res["data"]:
        resps, rest = parse_responses(res["data"])
        assert len(resps) == 1 and rest == b"", res["data"][:500]
        assert_json_error(resps[0], 408, "request_timeout")
        assert resps[0].headers["Connection"] == "close"


def test_slowloris_408_while_others_are_served(stack, user_token):
    head_res, body_res = {}, {}
    t_head = threading.Thread(target=slowloris, args=(
        stack.port, b"", b"GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1234567890\r\n\r\n",
        head_res))
    body = b'{"slow":"' + b"s" * 40 + b'"}'
    t_body = threading.Thread(target=slowloris, args=(
        stack.port, echo_request(user_token, b"")[:-2] + b"Content-Length: %d\r\n\r\n" % len(body),
        body, body_res))
    t_head.start()
    t_body.start()
    try:
        # Meanwhile, other clients are served at once.
        t_end = time.monotonic() + REQUEST_TIMEOUT_S + 0.5
        n = 0
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            r = stack.get("/api/health/authd" if n % 2 else "/info", timeout=2)
            assert r.status_code == 200, r.text
            assert time.monotonic() - t0 < 1.0, "a normal client waited behind a slow one"
            n += 1
            time.sleep(0.2)
        assert n >= 5
    finally:
        t_head.join(REQUEST_TIMEOUT_S + MARGIN_S + 5)
        t_body.join(REQUEST_TIMEOUT_S + MARGIN_S + 5)
    check_slowloris_result(head_res)
    check_slowloris_result(body_res)
