"""Authenticated health checks against moto's Secrets Manager and SSM and real servers on 127.0.0.1:
the secret read and re-read on rotation, errors that name the parameter and never the value, probes
that send the credential, 401/403 and a refused client certificate reported as auth failures, the
preflight's row per secret."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from nginx_eip_failover.adapters.health_probe import HealthProber
from nginx_eip_failover.adapters.probe_credentials import ProbeCredentials
from nginx_eip_failover.core.config import NodeConfig
from nginx_eip_failover.core.probe_auth import ProbeAuth, ProbeSecretError

TOKEN = "Bearer right-zq9-token"
PEERS_UP = json.dumps({"peers": [{"state": "up"}]}).encode()


@pytest.fixture
def aws(boto_session: boto3.session.Session) -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {"secretsmanager": boto_session.client("secretsmanager"), "ssm": boto_session.client("ssm")}


def _connect(aws: dict[str, Any]) -> Any:
    return lambda service: aws[service]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _node(url: str, name: str = "node1") -> NodeConfig:
    return NodeConfig(name, "i-0123456789abcdef1", url, 101)


class AuthServer:
    """A node on 127.0.0.1 that answers 200 only to requests carrying `expected` as Authorization."""

    def __init__(self, expected: str, context: ssl.SSLContext | None = None) -> None:
        self.expected = expected
        self.seen: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                given = self.headers.get("Authorization")
                owner.seen.append(given)
                status, body = (200, PEERS_UP) if given == owner.expected else (401, b"unauthorized")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if context is not None:
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        scheme = "https" if context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}/api/9/http/upstreams/backend"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server() -> Iterator[AuthServer]:
    node = AuthServer(TOKEN)
    yield node
    node.close()


# --- reading the secret ----------------------------------------------------------------------------


def test_a_secrets_manager_token_is_read_and_a_rotation_picked_up(aws: dict[str, Any], tmp_path: Path) -> None:
    arn = aws["secretsmanager"].create_secret(Name="probe-token", SecretString=TOKEN)["ARN"]
    clock = Clock()
    credentials = ProbeCredentials(
        ProbeAuth(kind="header", secret_arn=arn), connect=_connect(aws), monotonic=clock, max_age_seconds=300
    )
    assert credentials.current().headers == {"Authorization": TOKEN}
    aws["secretsmanager"].put_secret_value(SecretId=arn, SecretString="Bearer rotated")
    clock.now += 10
    assert credentials.current().headers == {"Authorization": TOKEN}  # within max_age: the cached value
    clock.now += 300
    # Past max_age the re-read runs in the background; the probes keep the old value meanwhile.
    deadline = time.monotonic() + 5
    while credentials.current().headers != {"Authorization": "Bearer rotated"} and time.monotonic() < deadline:
        time.sleep(0.01)
    assert credentials.current().headers == {"Authorization": "Bearer rotated"}


def test_an_ssm_securestring_holds_basic_credentials(aws: dict[str, Any]) -> None:
    aws["ssm"].put_parameter(
        Name="/nginx/probe", Type="SecureString", Value=json.dumps({"username": "probe", "password": "pw"})
    )
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/nginx/probe"
    credentials = ProbeCredentials(ProbeAuth(kind="basic", secret_arn=arn), connect=_connect(aws))
    assert credentials.current().headers == {"Authorization": "Basic cHJvYmU6cHc="}
    assert credentials.check() == [("HealthCheckAuthSecretArn", arn, None)]


def test_a_missing_or_malformed_secret_names_the_parameter_not_the_value(aws: dict[str, Any]) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    credentials = ProbeCredentials(ProbeAuth(kind="header", secret_arn=missing), connect=_connect(aws))
    with pytest.raises(ProbeSecretError, match=r"^HealthCheckAuthSecretArn \(arn:aws:secretsmanager:.*nope-AbCdEf\)"):
        credentials.current()
    [(parameter, arn, problem)] = credentials.check()
    assert (parameter, arn) == ("HealthCheckAuthSecretArn", missing) and problem and "cannot be read" in problem
    arn = aws["secretsmanager"].create_secret(Name="basic", SecretString="zq9-no-colon")["ARN"]
    [(_, _, problem)] = ProbeCredentials(ProbeAuth(kind="basic", secret_arn=arn), connect=_connect(aws)).check()
    assert problem and "username:password" in problem and "zq9" not in problem


def test_a_failed_rotation_keeps_the_last_good_value(aws: dict[str, Any]) -> None:
    arn = aws["secretsmanager"].create_secret(Name="t", SecretString=TOKEN)["ARN"]
    clock = Clock()
    credentials = ProbeCredentials(ProbeAuth(kind="header", secret_arn=arn), connect=_connect(aws), monotonic=clock)
    credentials.current()
    aws["secretsmanager"].put_secret_value(SecretId=arn, SecretString="   ")  # a broken rotation
    clock.now += 1000
    credentials.current()
    time.sleep(0.5)  # let the background re-read fail
    assert credentials.current().headers == {"Authorization": TOKEN}


# --- probing with it -------------------------------------------------------------------------------


def test_the_node_is_probed_with_the_token_and_a_wrong_one_is_an_auth_failure(
    aws: dict[str, Any], server: AuthServer
) -> None:
    arn = aws["secretsmanager"].create_secret(Name="token", SecretString=TOKEN)["ARN"]
    auth = ProbeAuth(kind="header", secret_arn=arn)
    [good] = HealthProber(
        [_node(server.url)], 1.0, credentials=ProbeCredentials(auth, connect=_connect(aws))
    ).probe_all()
    assert good.ok and not good.auth_failed, good.detail
    assert server.seen[-1] == TOKEN

    aws["secretsmanager"].put_secret_value(SecretId=arn, SecretString="Bearer wrong")
    [refused] = HealthProber(
        [_node(server.url)], 1.0, credentials=ProbeCredentials(auth, connect=_connect(aws))
    ).probe_all()
    assert not refused.ok and refused.auth_failed
    assert refused.detail.startswith("auth failed: HTTP 401")
    assert "wrong" not in refused.detail

    # HealthCheckAuthFailureIsDown: the same 401 is a plain failure that counts.
    down = replace(auth, failure_is_down=True)
    [failed] = HealthProber(
        [_node(server.url)], 1.0, credentials=ProbeCredentials(down, connect=_connect(aws))
    ).probe_all()
    assert not failed.ok and not failed.auth_failed and failed.detail == "HTTP 401"


def test_without_credentials_a_401_stays_a_plain_failure(server: AuthServer) -> None:
    [observation] = HealthProber([_node(server.url)], 1.0).probe_all()
    assert not observation.ok and not observation.auth_failed and server.seen[-1] is None


def test_an_unreadable_secret_makes_every_probe_an_auth_failure_naming_the_parameter(
    aws: dict[str, Any], server: AuthServer
) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf"
    credentials = ProbeCredentials(ProbeAuth(kind="header", secret_arn=missing), connect=_connect(aws))
    observations = HealthProber(
        [_node(server.url), _node(server.url, "node2")], 1.0, credentials=credentials
    ).probe_all()
    assert [o.node for o in observations] == ["node1", "node2"]
    for observation in observations:
        assert observation.auth_failed and not observation.ok
        assert "HealthCheckAuthSecretArn" in observation.detail
    assert server.seen == []  # nothing was sent without the credential


# --- mutual TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(name: str, usage: Any, san: Any = None) -> str:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pem.decode()

    directory = tmp_path_factory.mktemp("pki")
    ca_file, server_file = directory / "ca.pem", directory / "server.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server_file.write_text(leaf("127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, san))
    return {"ca": str(ca_file), "server": str(server_file), "client": leaf("probe", ExtendedKeyUsageOID.CLIENT_AUTH)}


def test_mutual_tls_presents_the_client_certificate_from_its_secret(
    aws: dict[str, Any], pki: dict[str, Any], tmp_path: Path
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    node = AuthServer(TOKEN, context)
    try:
        cert_arn = aws["secretsmanager"].create_secret(Name="client-cert", SecretString=pki["client"])["ARN"]
        token_arn = aws["secretsmanager"].create_secret(Name="token", SecretString=TOKEN)["ARN"]
        auth = ProbeAuth(kind="header", secret_arn=token_arn, client_cert_secret_arn=cert_arn)
        credentials = ProbeCredentials(auth, connect=_connect(aws), cert_dir=str(tmp_path))
        [observation] = HealthProber([_node(node.url)], 2.0, pki["ca"], credentials=credentials).probe_all()
        assert observation.ok, observation.detail
        [written] = list(tmp_path.iterdir())
        assert stat.S_IMODE(written.stat().st_mode) == 0o600

    finally:
        node.close()
