"""TLS: `serve --ssl-certfile/--ssl-keyfile` serves HTTPS that a verifying client accepts (with a
certificate made here), refuses plain HTTP, and a non-loopback bind without TLS or an https://
base URL warns about the risk."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from unifiedmcp._loopback import free_port
from unifiedmcp.ledger import Ledger

from ._serve import start_serve
from .conftest import http_client


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, valid for a day, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unifiedmcp test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return certfile, keyfile


def test_serve_speaks_https_that_a_verifying_client_accepts(tmp_path: Path) -> None:
    certfile, keyfile = _self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(certfile))
    ledger_path = tmp_path / "ledger.sqlite3"
    with Ledger(ledger_path) as ledger:
        ledger.upsert_customer("cus_tls", tier="pro")
        token = ledger.create_key("cus_tls").token
    served = start_serve(
        ledger_path, tmp_path, "--tools", "customers.read", "--ssl-certfile", str(certfile), "--ssl-keyfile",
        str(keyfile), scheme="https", verify=trust,
    )
    try:
        assert httpx.get(f"{served.url}/healthz", verify=trust).json()["status"] == "ok"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{served.url}/healthz")  # the system's trust store does not know it
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(served.url.replace("https://", "http://") + "/healthz")  # no plain HTTP on that port

        async def mcp_call() -> dict:
            import httpx2
            import mcp
            from mcp.client.streamable_http import streamable_http_client

            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, verify=trust, timeout=30)
            async with mcp.Client(streamable_http_client(served.mcp, http_client=http)) as client:
                return (await client.call_tool("get_usage", {})).structured_content

        assert asyncio.run(mcp_call())["calls"] == 1
    finally:
        served.stop()
    assert "warning" not in served.log.read_text()


@pytest.mark.parametrize(
    ("args", "warned"),
    [
        (["--host", "0.0.0.0", "--base-url", "http://billing.example.com"], True),
        (["--host", "0.0.0.0", "--base-url", "https://billing.example.com"], False),  # TLS at the proxy
        (["--host", "127.0.0.1"], False),
    ],
)
def test_a_public_bind_without_tls_warns_naming_the_risk(tmp_path: Path, args: list[str], warned: bool) -> None:
    """The warning comes before anything opens; an unreachable ledger then stops the server, so
    nothing is ever bound to a public interface here."""
    done = subprocess.run(
        [sys.executable, "-m", "unifiedmcp", "serve", "--port", str(free_port()), *args],
        env={"PATH": "/usr/bin:/bin", "UNIFIEDMCP_DATA_DIR": str(tmp_path),
             "UNIFIEDMCP_LEDGER": f"postgresql://127.0.0.1:{free_port()}/none"},
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    said = " ".join(done.stderr.split())
    assert done.returncode == 1 and "cannot open ledger" in said
    assert ("plain HTTP" in said and "unencrypted" in said and "--ssl-certfile" in said) == warned, said
