"""The web client's static files: index, types, validators, gzip, HEAD."""

import gzip
import http.client
import time
from email.utils import formatdate, parsedate_to_datetime

import pytest

from stacklib import HTTP_TIMEOUT, REPO, assert_json_error, assert_security_headers

WEB = REPO / "web"


def fetch(stack, path, method="GET", headers=None):
    """One request with http.client (which never decompresses)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, resp.headers, body
    finally:
        conn.close()


def test_index_at_root(stack):
    status, h, body = fetch(stack, "/")
    assert status == 200
    assert body == (WEB / "index.html").read_bytes()
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert int(h["Content-Length"]) == len(body)
    assert h["Cache-Control"] == "no-cache"
    assert h.get("Content-Encoding") is None


@pytest.mark.parametrize("name,ctype", [
    ("index.html", "text/html; charset=utf-8"),
    ("css/base.css", "text/css; charset=utf-8"),
    ("js/app.js", "text/javascript; charset=utf-8"),
])
def test_content_types(stack, name, ctype):
    status, h, body = fetch(stack, "/" + name)
    assert status == 200
    assert h["Content-Type"] == ctype
    assert body == (WEB / name).read_bytes()
    assert h["X-Content-Type-Options"] == "nosniff"


def test_etag_if_none_match_304(stack):
    status, h, body = fetch(stack, "/js/app.js")
    etag = h["ETag"]
    assert status == 200 and etag.startswith('"') and etag.endswith('"')
    status, h2, body2 = fetch(stack, "/js/app.js", headers={"If-None-Match": etag})
    assert status == 304
    assert body2 == b""
    assert h2["ETag"] == etag
    assert h2.get("Content-Length") in (None, "0")
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"):
        assert h2[name]
    # a list containing it, a weak form, and '*' also match
    for inm in (f'"nope", {etag}', f"W/{etag}", "*"):
        assert fetch(stack, "/js/app.js", headers={"If-None-Match": inm})[0] == 304, inm
    # another tag does not
    status, _, body3 = fetch(stack, "/js/app.js", headers={"If-None-Match": '"other"'})
    assert status == 200 and body3 == body


def test_last_modified_if_modified_since_304(stack):
    status, h, body = fetch(stack, "/css/base.css")
    lm = h["Last-Modified"]
    assert status == 200 and lm.endswith(" GMT")
    assert abs(parsedate_to_datetime(lm).timestamp() - (WEB / "css/base.css").stat().st_mtime) < 1
    status, h2, body2 = fetch(stack, "/css/base.css", headers={"If-Modified-Since": lm})
    assert status == 304 and body2 == b""
    later = formatdate(time.time() + 3600, usegmt=True)
    assert fetch(stack, "/css/base.css", headers={"If-Modified-Since": later})[0] == 304
    earlier = formatdate(parsedate_to_datetime(lm).timestamp() - 3600, usegmt=True)
    status, _, body3 = fetch(stack, "/css/base.css", headers={"If-Modified-Since": earlier})
    assert status == 200 and body3 == body
    # garbage dates are ignored
    assert fetch(stack, "/css/base.css", headers={"If-Modified-Since": "yesterday"})[0] == 200


@pytest.mark.parametrize("name", ["index.html", "css/base.css", "js/app.js"])
def test_gzip(stack, name):
    raw = (WEB / name).read_bytes()
    status, h, body = fetch(stack, "/" + name, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200
    assert h["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in h["Vary"]
    assert int(h["Content-Length"]) == len(body) < len(raw)
    assert gzip.decompress(body) == raw
    # without gzip, the same resource says it varies too
    status, h2, body2 = fetch(stack, "/" + name, headers={"Accept-Encoding": "identity"})
    assert status == 200 and body2 == raw
    assert h2.get("Content-Encoding") is None
    assert "Accept-Encoding" in h2["Vary"]


def test_gzip_refused_with_q0(stack):
    status, h, body = fetch(stack, "/js/app.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert status == 200 and h.get("Content-Encoding") is None
    assert body == (WEB / "js/app.js").read_bytes()


@pytest.mark.parametrize("path,ae", [("/", None), ("/js/app.js", None), ("/js/app.js", "gzip")])
def test_head(stack, path, ae):
    headers = {"Accept-Encoding": ae} if ae else {}
    gstatus, gh, gbody = fetch(stack, path, headers=headers)
    status, h, body = fetch(stack, path, "HEAD", headers=headers)
    assert status == 200 == gstatus
    assert body == b""
    assert int(h["Content-Length"]) == len(gbody)
    assert h["Content-Type"] == gh["Content-Type"]
    assert h["ETag"] == gh["ETag"]
    assert h.get("Content-Encoding") == gh.get("Content-Encoding")


def test_static_404_is_json(stack):
    r = stack.get("/no/such/file.css")
    assert_json_error(r, 404, "not_found")
    assert_security_headers(r)


def test_file_path_with_trailing_slash_404(stack):
    assert_json_error(stack.get("/index.html/"), 404, "not_found")
