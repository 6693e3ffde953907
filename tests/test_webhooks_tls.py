"""Webhooks over HTTPS: the worker connects to the checked address but speaks TLS to the URL's host name (SNI
and certificate verification), sends that name as Host, and refuses a certificate it cannot verify."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from pbx.webhooks import deliver, security
from pbx.webhooks.deliver import post

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

HOST = "crm.example.se"


def certificate(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "crm.pem", tmp_path / "crm.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """An HTTPS receiver on 127.0.0.1 with a certificate for crm.example.se, which resolves there."""
    cert_file, key_file = certificate(tmp_path)
    seen: dict = {"sni": [], "host": []}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen["host"].append(self.headers.get("host"))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(security.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(security, "_RESOLVED", {})
    monkeypatch.setattr(deliver, "_local", threading.local())  # a pool made with this test's context
    yield f"https://{HOST}:{server.server_address[1]}/hooks", cert_file, seen
    server.shutdown()
    server.server_close()


@override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"])
def test_a_certificate_the_worker_cannot_verify_is_refused(tls_receiver):
    url, _cert, seen = tls_receiver
    outcome = post(url, b"{}", {"content-type": "application/json"})
    assert not outcome.ok and outcome.status_code is None and "ConnectError" in outcome.error
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.error
    assert seen["sni"] == [HOST] and seen["host"] == []  # asked for crm.example.se; nothing was posted


@override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32"])
def test_a_trusted_receiver_gets_the_post_with_its_own_name_as_sni_and_host(tls_receiver, monkeypatch):
    url, cert_file, seen = tls_receiver
    trusting = ssl.create_default_context(cafile=str(cert_file))
    monkeypatch.setattr(deliver.ssl, "create_default_context", lambda: trusting)
    outcome = post(url, b"{}", {"content-type": "application/json"})
    assert outcome.ok and outcome.status_code == 204
    port = url.split(":")[2].split("/")[0]
    assert seen["sni"] == [HOST] and seen["host"] == [f"{HOST}:{port}"]
