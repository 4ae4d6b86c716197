"""An OAuth2 token endpoint for Thunderbird's built-in test provider, on loopback HTTPS.

Thunderbird maps the IMAP host ``mochi.test`` to the issuer ``test.test``, whose token
endpoint is ``https://oauth.test.test/token`` (client ``test_client_id``, scope
``test_scope``; ``OAuth2Providers.sys.mjs``). The profile resolves ``oauth.test.test`` to
127.0.0.1 (``network.dns.localDomains``, no DNS-over-HTTPS) and sends port 443 to this
server's port (``network.socket.forcePort``), so nothing leaves the machine and no root is
needed; the test trusts :attr:`TokenEndpoint.ca_der_base64` in the profile at runtime.

It answers a refresh-token grant carrying the expected refresh token with the access
token, and anything else with ``invalid_request``: never ``invalid_grant``, on which
Thunderbird would open its interactive sign-in window. It records what it was asked,
without the tokens. The HTTP side (form in, JSON out, no request log) is the one of
``devtools/token_server.py``.
"""

from __future__ import annotations

import base64
import datetime
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devtools.token_server import JsonRequestHandler

TOKEN_HOST = "oauth.test.test"
CLIENT_ID = "test_client_id"
SCOPE = "test_scope"  # the realm of the refresh-token login Thunderbird keeps


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    """A CA certificate (no issuer: self-signed) or a server certificate for ``subject``."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:  # mozilla::pkix refuses a CA certificate as the server's own
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class TokenEndpoint:
    """``with TokenEndpoint(refresh_token, access_token) as endpoint:`` serves until exit."""

    def __init__(self, refresh_token: str, access_token: str) -> None:
        self._refresh_token = refresh_token
        self._access_token = access_token
        self.requests: list[dict[str, object]] = []  # what was asked, tokens left out
        self._dir = tempfile.TemporaryDirectory(prefix="sma-e2e-oauth-")
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("sma-e2e test CA", ca_key, None, ca_key)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(TOKEN_HOST, key, ca, ca_key)
        self.ca_der_base64 = base64.b64encode(ca.public_bytes(serialization.Encoding.DER)).decode()
        chain = Path(self._dir.name, "server.pem")
        chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path = Path(self._dir.name, "server.key")
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key_path)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(JsonRequestHandler):
            def do_POST(self) -> None:
                form = {k: v[0] for k, v in self.read_form().items()}
                good = (
                    self.path == "/token"
                    and form.get("grant_type") == "refresh_token"
                    and form.get("client_id") == CLIENT_ID
                    and form.get("refresh_token") == endpoint._refresh_token
                )
                endpoint.requests.append(
                    {"path": self.path, "grant_type": form.get("grant_type"), "answered": good}
                )
                if not good:
                    self.reply(400, {"error": "invalid_request"})
                    return
                self.reply(
                    200,
                    {
                        "access_token": endpoint._access_token,
                        "token_type": "Bearer",
                        "expires_in": 3600,
                    },
                )

        return Handler

    def prefs(self) -> dict[str, object]:
        """user.js prefs that send Thunderbird's requests for the token host here."""
        return {
            "network.dns.localDomains": TOKEN_HOST,
            "network.trr.mode": 5,  # no DNS over HTTPS
            "network.socket.forcePort": f"443={self.port}",
        }

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        self._dir.cleanup()
