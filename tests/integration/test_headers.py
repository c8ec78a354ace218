"""Headers every response carries: security headers, X-Request-ID, CORS."""

import pytest

from stacklib import (UUID4_RE, RawConn, assert_json_error, assert_security_headers,
                      raw_request, simple_request)

# ------------------------------------------------------------ CORS


def test_preflight_allowed_origin(stack):
    r = stack.request("OPTIONS", "/api/health/authd/echo", headers={
        "Origin": stack.origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert "Content-Length" not in r.headers or r.headers["Content-Length"] == "0"
    h = r.headers
    assert h["Access-Control-Allow-Origin"] == stack.origin
    methods = [m.strip() for m in h["Access-Control-Allow-Methods"].split(",")]
    assert {"GET", "POST", "OPTIONS"} <= set(methods), methods
    allowed = [x.strip().lower() for x in h["Access-Control-Allow-Headers"].split(",")]
    assert {"authorization", "content-type", "x-request-id"} <= set(allowed), allowed
    assert int(h["Access-Control-Max-Age"]) > 0
    assert "Origin" in [v.strip() for v in h["Vary"].split(",")], h
    assert_security_headers(r)


def test_preflight_localhost_origin(stack):
    origin = f"http://localhost:{stack.port}"
    r = stack.request("OPTIONS", "/api/health/authd", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("origin", ["http://evil.example", "null",
                                    "http://127.0.0.1:1",
                                    "https://127.0.0.1:{port}",
                                    "http://127.0.0.1:{port}.evil.example",
                                    "http://127.0.0.1:{port}/",
                                    "http://127.0.0.1"])
def test_preflight_disallowed_origin(stack, origin):
    origin = origin.format(port=stack.port)
    r = stack.request("OPTIONS", "/api/health/authd/echo", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert "Origin" in r.headers.get("Vary", ""), r.headers


@pytest.mark.parametrize("path,status", [("/info", 200), ("/api/health/chatd", 200),
                                         ("/api/nope", 404), ("/", 200)])
def test_simple_request_allowed_origin(stack, path, status):
    r = stack.get(path, headers={"Origin": stack.origin})
    assert r.status_code == status
    assert r.headers["Access-Control-Allow-Origin"] == stack.origin
    assert "Origin" in [v.strip() for v in r.headers["Vary"].split(",")], r.headers
    exposed = r.headers.get("Access-Control-Expose-Headers", "").lower()
    assert "x-request-id" in exposed


def test_simple_request_disallowed_origin(stack):
    r = stack.get("/info", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Origin" in r.headers["Vary"]


def test_no_origin_no_cors_headers(stack):
    r = stack.get("/info")
    assert "Access-Control-Allow-Origin" not in r.headers


# ------------------------------------------------------------ security headers

def responses_of_every_kind(stack):
    tok = stack.token()
    yield "200 json", stack.get("/info")
    yield "200 static", stack.get("/")
    yield "204 preflight", stack.request("OPTIONS", "/info", headers={"Origin": stack.origin})
    etag = stack.get("/").headers["ETag"]
    yield "304", stack.get("/", headers={"If-None-Match": etag})
    yield "200 upstream", stack.get("/api/health/authd")
    yield "200 echo", stack.request("POST", "/api/health/voiced/echo", data=b"{}",
                                    headers={"Authorization": f"Bearer {tok}"})
    yield "400 invalid json", stack.request("POST", "/api/health/voiced/echo", data=b"{",
                                            headers={"Authorization": f"Bearer {tok}"})
    yield "400 from daemon", stack.request("POST", "/api/health/voiced/echo", data=b"[]",
                                           headers={"Authorization": f"Bearer {tok}"})
    yield "401", stack.request("POST", "/api/health/voiced/echo", data=b"{}")
    yield "404 api", stack.get("/api/nope")
    yield "404 static", stack.get("/nope.txt")
    yield "405", stack.request("DELETE", "/health")
    yield "400 bad path", raw_request(stack.port, simple_request("GET", "/%2e%2e/x"))
    yield "400 bad method", raw_request(stack.port, b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n")
    yield "413", raw_request(stack.port, simple_request(
        "POST", "/api/health/voiced/echo", ["Content-Length: 99999"]))
    yield "414", raw_request(stack.port, simple_request("GET", "/" + "x" * 9000))
    yield "431", raw_request(stack.port, simple_request("GET", "/", ["X-Big: " + "y" * 20000]))


def test_security_headers_on_every_response(stack):
    seen = []
    for kind, r in responses_of_every_kind(stack):
        seen.append(kind)
        try:
            assert_security_headers(r)
            assert "Permissions-Policy" in r.headers
        except AssertionError as e:
            raise AssertionError(f"{kind}: {e}") from None
    assert len(seen) == 17


def test_request_id_on_every_response(stack):
    """Every response, errors included, names its request: a generated
    UUID when the client sent none."""
    bad = []
    for kind, r in responses_of_every_kind(stack):
        rid = r.headers.get("X-Request-ID")
        if rid is None or not UUID4_RE.match(rid):
            bad.append(f"{kind} -> {r.status_code} X-Request-ID {rid!r}")
    assert not bad, ("BUG: responses to requests rejected while parsing (before the headers "
                     "were complete) carry an empty X-Request-ID:\n" + "\n".join(bad))


# ------------------------------------------------------------ X-Request-ID

@pytest.mark.parametrize("rid", ["abc", "req-123_x.y:z", "A" * 64,
                                 "0f8fad5b-d9cb-469f-a165-70867728950e"])
def test_valid_request_id_echoed(stack, rid):
    r = stack.get("/info", headers={"X-Request-ID": rid})
    assert r.headers["X-Request-ID"] == rid
    r = stack.get("/api/nope", headers={"X-Request-ID": rid})
    assert r.headers["X-Request-ID"] == rid
    assert_json_error(r, 404, "not_found")


def test_request_id_generated_when_absent(stack):
    ids = {stack.get("/info").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3
    for rid in ids:
        assert UUID4_RE.match(rid), rid


@pytest.mark.parametrize("rid", ["has spaces", "A" * 65, "x" * 200, "semi;colon", "quote\"",
                                 "slash/x", "pct%20", "tab\tx"])
def test_invalid_request_id_replaced(stack, rid):
    r = raw_request(stack.port, simple_request("GET", "/info", [f"X-Request-ID: {rid}"]))
    assert r.status_code == 200
    got = r.headers["X-Request-ID"]
    assert got != rid.strip() and UUID4_RE.match(got), got


def test_non_ascii_request_id_replaced(stack):
    r = raw_request(stack.port, simple_request("GET", "/info", [b"X-Request-ID: caf\xc3\xa9"]))
    assert UUID4_RE.match(r.headers["X-Request-ID"])


def test_request_id_header_injection_impossible(stack):
    """A request id cannot smuggle a header into the response."""
    with RawConn(stack.port) as c:
        c.send(b"GET /info HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\rSet-Cookie: x=1\r\n"
               b"Connection: close\r\n\r\n")
        data = c.read_until_close()
    assert b"Set-Cookie" not in data.split(b"\r\n\r\n")[0]
