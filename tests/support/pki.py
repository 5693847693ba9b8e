"""Test certificates (cryptography): a CA, a server certificate for 127.0.0.1 and client certificates,
for mutual TLS against servers and real nginx on 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Pki:
    ca_file: Path  # the CA's certificate (the probes' CA bundle, nginx's ssl_client_certificate)
    server_pem: Path  # the server's certificate and key, for 127.0.0.1
    client_pem: str  # a client certificate and key the CA signed
    stranger_pem: str  # a client certificate and key from another CA


def make_pki(directory: Path) -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def authority(name: str) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cert, key

    def leaf(ca: tuple[Any, Any], name: str, usage: Any, server: bool = False) -> str:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca[0].subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca[1], hashes.SHA256())
        pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pem.decode()

    directory.mkdir(parents=True, exist_ok=True)
    ca, other = authority("lab probe CA"), authority("another CA")
    ca_file, server_pem = directory / "ca.pem", directory / "server.pem"
    ca_file.write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    server_pem.write_text(leaf(ca, "127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, server=True))
    server_pem.chmod(0o644)  # nginx's workers read it
    ca_file.chmod(0o644)
    return Pki(
        ca_file,
        server_pem,
        leaf(ca, "probe", ExtendedKeyUsageOID.CLIENT_AUTH),
        leaf(other, "probe", ExtendedKeyUsageOID.CLIENT_AUTH),
    )
