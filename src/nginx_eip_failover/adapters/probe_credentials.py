"""The health checks' credentials, read from Secrets Manager or an SSM SecureString (core/probe_auth).

Read at the first probe round (the cold start) and again once `max_age_seconds` have passed, so a
rotation is picked up; the re-read runs in a background thread while the probes keep using the last
good value, so a slow Secrets Manager never stretches a probe cycle. Values go through Powertools'
parameters utility (its providers, with this package's botocore configuration). A secret's value is
never logged, stored or put in an error: errors name the template parameter and the ARN only.

A client certificate secret (PEM certificate chain and key) is written to a file of its own under the
temp directory, mode 0600, for the TLS context to load; a rotated one is written to a new file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nginx_eip_failover.adapters import aws_clients
from nginx_eip_failover.core.probe_auth import (
    ProbeAuth,
    ProbeSecretError,
    auth_headers,
    client_certificate_pem,
    secret_service,
)
from nginx_eip_failover.observability import logger

# Secrets Manager rotation replaces a secret's value at most every few hours; 5 minutes between reads
# picks a rotation up promptly for a few cents a month (one GetSecretValue per container per 5 min).
DEFAULT_MAX_AGE_SECONDS = 300.0
# After a failed first read the next attempt waits this long: probes do not each wait for a timeout.
RETRY_AFTER_FAILURE_SECONDS = 30.0


@dataclass(frozen=True)
class ProbeSecrets:
    """What the probes present now: headers, and the client certificate's file (None: no mTLS)."""

    headers: dict[str, str]
    client_cert_file: str | None = None
    # Changes when the client certificate does (the prober rebuilds its TLS context then).
    version: int = 0


def _read_secret(connect: Callable[[str], Any], arn: str) -> str:
    """One secret's text, read fresh (Powertools' provider; its cache is bypassed: the age is ours)."""
    from aws_lambda_powertools.utilities import parameters  # only a stack that authenticates probes

    service = secret_service(arn)
    provider: Any
    if service == "ssm":
        provider = parameters.SSMProvider(boto3_client=connect("ssm"))
        value = provider.get(arn, decrypt=True, force_fetch=True)
    else:
        provider = parameters.SecretsProvider(boto3_client=connect("secretsmanager"))
        value = provider.get(arn, force_fetch=True)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("a binary secret that is not UTF-8 text") from None
    if not isinstance(value, str):
        raise ValueError(f"a {type(value).__name__}, not text")
    return value


def _clients(service: str) -> Any:
    # Literal service names (tests/unit/test_vpc_endpoints.py derives the template's endpoints from them).
    return aws_clients.client("ssm") if service == "ssm" else aws_clients.client("secretsmanager")


class ProbeCredentials:
    def __init__(
        self,
        auth: ProbeAuth,
        *,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        connect: Callable[[str], Any] = _clients,
        monotonic: Callable[[], float] = time.monotonic,
        cert_dir: str | None = None,
    ) -> None:
        self.auth = auth
        self._max_age = max_age_seconds
        self._connect = connect
        self._monotonic = monotonic
        self._cert_dir = cert_dir or tempfile.gettempdir()
        self._lock = threading.Lock()
        self._current: ProbeSecrets | None = None
        self._read_at = 0.0
        self._failed_at: float | None = None
        self._error: ProbeSecretError | None = None
        self._refreshing = False
        self._cert_pem: str | None = None
        self._cert_file: str | None = None
        self._version = 0

    def current(self) -> ProbeSecrets:
        """The credentials to probe with; raises ProbeSecretError while none could ever be read."""
        now = self._monotonic()
        with self._lock:
            current = self._current
            if current is not None:
                if now - self._read_at >= self._max_age and not self._refreshing:
                    self._refreshing = True
                    threading.Thread(target=self._refresh, name="probe-secrets", daemon=True).start()
                return current
            failed_at = self._failed_at
            if self._error is not None and failed_at is not None and now - failed_at < RETRY_AFTER_FAILURE_SECONDS:
                raise self._error
        self._refresh()
        with self._lock:
            if self._current is None:
                assert self._error is not None
                raise self._error
            return self._current

    def check(self) -> list[tuple[str, str, str | None]]:
        """Preflight: read every configured secret now and check its form. One row per parameter:
        (parameter, ARN, None if good else the problem). Never shows a value."""
        rows: list[tuple[str, str, str | None]] = []
        for variable, arn, parse in self._secrets():
            parameter = self.auth.parameter(variable)
            try:
                parse(self._read(variable, arn))
            except ProbeSecretError as exc:
                rows.append((parameter, arn, exc.problem))
                continue
            rows.append((parameter, arn, None))
        return rows

    # -- reading ---------------------------------------------------------------------------------
    def _secrets(self) -> list[tuple[str, str, Callable[[str], object]]]:
        found: list[tuple[str, str, Callable[[str], object]]] = []
        if self.auth.secret_arn is not None:
            found.append(
                ("HEALTH_CHECK_AUTH_SECRET_ARN", self.auth.secret_arn, lambda text: auth_headers(self.auth, text))
            )
        if self.auth.client_cert_secret_arn is not None:
            found.append(
                (
                    "HEALTH_CHECK_CLIENT_CERT_SECRET_ARN",
                    self.auth.client_cert_secret_arn,
                    lambda text: client_certificate_pem(self.auth, text),
                )
            )
        return found

    def _read(self, variable: str, arn: str) -> str:
        try:
            return _read_secret(self._connect, arn)
        except Exception as exc:
            # The provider's error names the service's code (AccessDenied, ResourceNotFound, ...), not the value.
            problem = f"cannot be read: {_describe(exc)}"
            raise ProbeSecretError(self.auth.parameter(variable), arn, problem) from None

    def _refresh(self) -> None:
        try:
            headers: dict[str, str] = {}
            cert_pem: str | None = None
            for variable, arn, _parse in self._secrets():
                text = self._read(variable, arn)
                if variable == "HEALTH_CHECK_AUTH_SECRET_ARN":
                    headers = auth_headers(self.auth, text)
                else:
                    cert_pem = client_certificate_pem(self.auth, text)
            cert_file = self._cert_file_for(cert_pem)
        except ProbeSecretError as exc:
            with self._lock:
                self._refreshing = False
                self._error, self._failed_at = exc, self._monotonic()
                kept = self._current is not None
                self._read_at = self._monotonic() if kept else self._read_at
            # A rotation's failed re-read keeps the last good value (tried again after max_age).
            logger.warning("health check secret not read", extra={"error": str(exc), "kept_last_value": kept})
            return
        with self._lock:
            self._current = ProbeSecrets(headers, cert_file, self._version)
            self._read_at = self._monotonic()
            self._error = self._failed_at = None
            self._refreshing = False

    def _cert_file_for(self, pem: str | None) -> str | None:
        """The client certificate's file: written anew (0600) when the PEM changed, else the same one."""
        if pem is None:
            return None
        if pem == self._cert_pem and self._cert_file is not None:
            return self._cert_file
        # mkstemp creates the file with mode 0600, readable by this process's user only.
        handle, path = tempfile.mkstemp(prefix="nginx-eip-failover-client-", suffix=".pem", dir=self._cert_dir)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(pem)
        except OSError as exc:
            raise ProbeSecretError(
                self.auth.parameter("HEALTH_CHECK_CLIENT_CERT_SECRET_ARN"),
                self.auth.client_cert_secret_arn or "",
                f"cannot be written to {self._cert_dir}: {exc.__class__.__name__}",
            ) from None
        previous = self._cert_file
        self._cert_pem, self._cert_file = pem, path
        self._version += 1
        if previous is not None:
            # A probe may still hold it open; the temp directory is the container's anyway.
            with contextlib.suppress(OSError):
                Path(previous).unlink()
        return path


def _describe(exc: BaseException) -> str:
    # Powertools wraps the botocore error (GetParameterError); its text carries AWS's code and message,
    # which name the ARN and the refusal, never the secret (a value is only in a successful answer).
    cause = exc.__cause__ or exc.__context__
    text = str(exc) if str(exc) else str(cause)
    return f"{exc.__class__.__name__}: {text}"[:300]
