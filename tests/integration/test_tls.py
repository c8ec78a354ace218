"""TLS in gatewayd ([http] tls_cert_file, tls_key_file, tls_min_version,
tls_ciphers, redirect_port): HTTPS and WSS from a certificate and key,
TLS 1.2 or later with AEAD suites only, the plain redirect port, and
SIGHUP replacing the certificate without dropping open connections (a
file that does not load keeps the previous one). A gatewayd of the shared
stack, started with its own config."""
import asyncio
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess

import pytest
import requests
import websockets

from authlib import ExtraGatewayd, client_ip, new_user  # noqa: F401 (client_ip: autouse)
from chatlib import room_with, send, token_user
from stacklib import free_port, wait_until


def make_cert(directory, name, cn):
    """A self-signed P-256 certificate for 127.0.0.1: (cert path, key path)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-keyout", str(key),
                    "-out", str(cert), "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    key.chmod(0o600)
    return cert, key


def der_fingerprint(pem_path):
    der = ssl.PEM_cert_to_DER_cert(pem_path.read_text())
    return hashlib.sha256(der).hexdigest()


def presented_fingerprint(port):
    """The SHA-256 of the certificate a new handshake presents."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


def s_client(port, *args):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=20)


class TlsGatewayd(ExtraGatewayd):
    """An ExtraGatewayd that serves HTTPS from cert and key (the live
    files: tests replace them and send SIGHUP) with a redirect port."""

    def __init__(self, stack, cert, key):
        super().__init__(stack)
        self.cert, self.key = cert, key
        self.redirect_port = free_port()
        text = self.conf.read_text().replace(
            "[http]\n", f"[http]\ntls_cert_file = {cert}\ntls_key_file = {key}\n"
            f"redirect_port = {self.redirect_port}\n", 1)
        self.conf.write_text(text)

    def start(self, timeout=20):
        orig_get = requests.get
        # ExtraGatewayd.start polls http:// /health: ask over https instead.
        requests.get = lambda url, **kw: orig_get(url.replace("http://", "https://", 1),
                                                  verify=str(self.cert), **kw)
        try:
            return super().start(timeout)
        finally:
            requests.get = orig_get

    def log(self):
        return self.log_path.read_text(errors="replace")

    def reload(self, expect):
        """SIGHUP, then waits for the log's (n+1)-th line holding expect."""
        before = self.log().count(expect)
        os.kill(self.proc.pid, signal.SIGHUP)
        wait_until(lambda: self.log().count(expect) > before, 10,
                   what=f"{expect!r} in {self.log_path}")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    return d, make_cert(d, "live", "localhost")


@pytest.fixture(scope="module")
def gw(stack, certs):
    _, (cert, key) = certs
    with TlsGatewayd(stack, cert, key) as g:
        yield g


def verifying_context(cert):
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False	# the certificate names 127.0.0.1 as an IP SAN
    return ctx


def test_handshake_tls12_and_13_but_not_11_or_weak_ciphers(gw):
    r = s_client(gw.port, "-tls1_2")
    assert r.returncode == 0 and "TLSv1.2" in r.stdout, r.stdout + r.stderr
    r = s_client(gw.port, "-tls1_3")
    assert r.returncode == 0 and "TLSv1.3" in r.stdout, r.stdout + r.stderr
    r = s_client(gw.port, "-tls1_1")
    assert r.returncode != 0 or "Cipher is (NONE)" in r.stdout, r.stdout
    # no static-RSA or CBC suite in TLS 1.2
    r = s_client(gw.port, "-tls1_2", "-cipher", "AES128-SHA:AES256-SHA256")
    assert r.returncode != 0 or "Cipher is (NONE)" in r.stdout, r.stdout


def test_https_health_verified_against_the_certificate(gw):
    ctx = verifying_context(gw.cert)
    conn = http.client.HTTPSConnection("127.0.0.1", gw.port, context=ctx, timeout=5)
    for _ in range(3):		# keep-alive over one TLS session
        conn.request("GET", "/health")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
    conn.close()
    # a larger response (the web client's index) comes through whole
    r = requests.get(f"https://127.0.0.1:{gw.port}/", verify=str(gw.cert), timeout=5)
    assert r.status_code == 200 and len(r.content) > 0


def test_plain_http_on_the_tls_port_is_not_answered(gw):
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
    assert not data.startswith(b"HTTP/1.1 200"), data


def test_redirect_port_sends_to_https(gw):
    for method, status in (("GET", 301), ("HEAD", 301), ("POST", 308)):
        conn = http.client.HTTPConnection("127.0.0.1", gw.redirect_port, timeout=5)
        conn.request(method, "/api/rooms?x=1", body=b"{}" if method == "POST" else None,
                     headers={"Host": "chat.example.org:8080"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == status, (method, resp.status)
        assert resp.getheader("Location") == \
            f"https://chat.example.org:{gw.port}/api/rooms?x=1", resp.getheaders()
        conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", gw.redirect_port, timeout=5)
    conn.request("GET", "/", headers={"Host": "[::1]:80"})
    resp = conn.getresponse()
    assert resp.status == 301 and resp.getheader("Location") == f"https://[::1]:{gw.port}/"


def wss_url(gw, token):
    return f"wss://127.0.0.1:{gw.port}/api/ws?token={token}"


async def ping(ws):
    await ws.send(json.dumps({"type": "ping"}))
    m = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert m["type"] == "pong", m


def test_wss_ping_pong_and_a_burst(stack, gw):
    u = new_user(stack, "tlsws")

    async def go():
        async with websockets.connect(wss_url(gw, u.access), ssl=verifying_context(gw.cert)) as ws:
            await ping(ws)
            for _ in range(40):
                await ws.send(json.dumps({"type": "ping"}))
            for _ in range(40):
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert m["type"] == "pong", m
    asyncio.run(asyncio.wait_for(go(), 30))


def test_wss_catch_up_larger_than_one_tls_write(stack, gw):
    """A resume that replays ~240 KB: frames go through the TLS layer in
    pieces, in order, none lost."""
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)
    texts = [f"{i:03d} " + "x" * 3000 for i in range(80)]
    for t in texts:
        send(stack, a.token, room, t)

    async def go():
        async with websockets.connect(wss_url(gw, b.token), ssl=verifying_context(gw.cert),
                                      max_size=2**20) as ws:
            await ws.send(json.dumps({"type": "resume", "room_id": room,
                                      "payload": {"seq": 0}}))
            got = []
            while True:
                f = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if f["type"] == "resumed":
                    break
                if f["type"] == "chat-message":
                    got.append(f["payload"]["content"])
            assert got == texts
            await ping(ws)
    asyncio.run(asyncio.wait_for(go(), 60))


def test_sighup_replaces_the_certificate_and_open_sockets_survive(stack, gw, certs):
    d, _ = certs
    u = new_user(stack, "tlsrl")
    old_fp = der_fingerprint(gw.cert)
    assert presented_fingerprint(gw.port) == old_fp

    async def go():
        async with websockets.connect(wss_url(gw, u.access), ssl=verifying_context(gw.cert)) as ws:
            await ping(ws)
            new_cert, new_key = make_cert(d, "next", "enclavr-next")
            new_fp = der_fingerprint(new_cert)
            assert new_fp != old_fp
            os.replace(new_key, gw.key)
            os.replace(new_cert, gw.cert)
            gw.reload("reload: tls: loaded")
            await ping(ws)		# the open socket keeps its session
            assert presented_fingerprint(gw.port) == new_fp
            # a new WSS socket verifies against the new certificate
            async with websockets.connect(wss_url(gw, u.access),
                                          ssl=verifying_context(gw.cert)) as ws2:
                await ping(ws2)
            await ping(ws)
            return new_fp
    new_fp = asyncio.run(asyncio.wait_for(go(), 30))

    # a certificate file that does not load: the previous one is kept
    good = gw.cert.read_bytes()
    gw.cert.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    try:
        gw.reload("keeping the previous certificate")
        assert "cannot load " + str(gw.cert) in gw.log()
        assert presented_fingerprint(gw.port) == new_fp
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", gw.port, context=ctx, timeout=5)
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        gw.cert.write_bytes(good)


def test_a_world_readable_key_is_warned_about(gw):
    gw.key.chmod(0o644)
    try:
        gw.reload("reload: tls: loaded")
        assert f"tls: {gw.key} is accessible to every user" in gw.log()
    finally:
        gw.key.chmod(0o600)
