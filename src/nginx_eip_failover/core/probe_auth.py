"""Authenticated health checks: what the probes present, parsed and checked without I/O.

An NGINX Plus API is often protected: a bearer token or another header, basic auth, or mutual TLS.
The credential lives in Secrets Manager or an SSM SecureString named by ARN (never in the template
or the environment); the adapter (adapters/probe_credentials) reads it and this module turns the
secret's text into what a probe sends, or into an error that names the template parameter and never
shows the secret. A 401/403 answer is an auth failure, not the node going down (docs/health-auth.md;
decision.record_probes says what the decision makes of it), unless HealthCheckAuthFailureIsDown.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from nginx_eip_failover.core.errors import ConfigError, FailoverError

AuthKind = Literal["none", "header", "basic"]
AUTH_KINDS: tuple[AuthKind, ...] = ("none", "header", "basic")
# A credential is a token or a user and password, a client certificate a PEM chain and its key: a
# secret larger than these is a mistake (the wrong secret), refused before it reaches a request.
MAX_AUTH_SECRET_BYTES = 4096
MAX_CLIENT_CERT_SECRET_BYTES = 65536
# The statuses that mean "you are not let in": the node answered, so it is not known to be down.
AUTH_FAILURE_STATUSES = frozenset({401, 403})
DEFAULT_HEADER_NAME = "Authorization"

# The template parameter behind each variable: errors name what an operator can change.
PARAMETER_OF = {
    "HEALTH_CHECK_AUTH_KIND": "HealthCheckAuthKind",
    "HEALTH_CHECK_AUTH_SECRET_ARN": "HealthCheckAuthSecretArn",
    "HEALTH_CHECK_AUTH_HEADER_NAME": "HealthCheckAuthHeaderName",
    "HEALTH_CHECK_AUTH_FAILURE_IS_DOWN": "HealthCheckAuthFailureIsDown",
    "HEALTH_CHECK_CLIENT_CERT_SECRET_ARN": "HealthCheckClientCertSecretArn",
}
# The fleet document's field for each variable (a group's settings.health_check_auth).
FIELD_OF = {
    "HEALTH_CHECK_AUTH_KIND": "kind",
    "HEALTH_CHECK_AUTH_SECRET_ARN": "secret_arn",
    "HEALTH_CHECK_AUTH_HEADER_NAME": "header_name",
    "HEALTH_CHECK_AUTH_FAILURE_IS_DOWN": "failure_is_down",
    "HEALTH_CHECK_CLIENT_CERT_SECRET_ARN": "client_cert_secret_arn",
}
# A Secrets Manager secret (its full ARN, with the 6-character suffix) or an SSM parameter.
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$")
_PARAMETER_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9/_.-]{1,1011}$")
# RFC 9110 token characters: a header name an HTTP client sends as it is.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_PEM_KEY = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", re.DOTALL)


class ProbeSecretError(FailoverError):
    """A probe secret cannot be read or is not what its kind needs. The message names the template
    parameter and the ARN, and never any part of the secret's value."""

    def __init__(self, parameter: str, arn: str, problem: str) -> None:
        self.parameter = parameter
        self.arn = arn
        self.problem = problem
        super().__init__(f"{parameter} ({arn}): {problem}")


@dataclass(frozen=True)
class ProbeAuth:
    """How every probe authenticates (HealthCheckAuth* and HealthCheckClientCertSecretArn)."""

    kind: AuthKind = "none"
    secret_arn: str | None = None
    header_name: str = DEFAULT_HEADER_NAME
    # HealthCheckAuthFailureIsDown: a 401/403 counts as the node failing, as any other 4xx does.
    failure_is_down: bool = False
    client_cert_secret_arn: str | None = None
    # Where these settings come from, for errors: None for the template's parameters, else e.g.
    # "fleet group web settings.health_check_auth" (a fleet document's group).
    where: str | None = None

    @property
    def enabled(self) -> bool:
        return self.kind != "none" or self.client_cert_secret_arn is not None

    def parameter(self, variable: str) -> str:
        """What an operator changes to fix `variable`'s secret: a template parameter, or a group's field."""
        if self.where is None:
            return PARAMETER_OF[variable]
        return f"{self.where}.{FIELD_OF[variable]}"


NO_PROBE_AUTH = ProbeAuth()


def load_probe_auth(env: Mapping[str, str]) -> ProbeAuth:
    """The HEALTH_CHECK_AUTH_* variables, checked against each other; a ConfigError names the variable."""

    def value(name: str) -> str:
        return env.get(name, "").strip()

    kind_text = value("HEALTH_CHECK_AUTH_KIND") or "none"
    if kind_text not in AUTH_KINDS:
        raise ConfigError("HEALTH_CHECK_AUTH_KIND", kind_text, f"must be one of {', '.join(AUTH_KINDS)}")
    kind: AuthKind = kind_text
    secret_arn = _arn(value("HEALTH_CHECK_AUTH_SECRET_ARN"), "HEALTH_CHECK_AUTH_SECRET_ARN")
    cert_arn = _arn(value("HEALTH_CHECK_CLIENT_CERT_SECRET_ARN"), "HEALTH_CHECK_CLIENT_CERT_SECRET_ARN")
    if kind != "none" and secret_arn is None:
        raise ConfigError("HEALTH_CHECK_AUTH_SECRET_ARN", "", f"is required when HEALTH_CHECK_AUTH_KIND is {kind}")
    if kind == "none" and secret_arn is not None:
        raise ConfigError(
            "HEALTH_CHECK_AUTH_KIND", kind_text, "is none, but HEALTH_CHECK_AUTH_SECRET_ARN is set: say header or basic"
        )
    header_name = value("HEALTH_CHECK_AUTH_HEADER_NAME") or DEFAULT_HEADER_NAME
    if not _HEADER_NAME.fullmatch(header_name):
        raise ConfigError("HEALTH_CHECK_AUTH_HEADER_NAME", header_name, "must be an HTTP header name (1-64 chars)")
    if kind == "basic" and header_name.lower() != DEFAULT_HEADER_NAME.lower():
        raise ConfigError("HEALTH_CHECK_AUTH_HEADER_NAME", header_name, "must be Authorization for basic auth")
    down_text = value("HEALTH_CHECK_AUTH_FAILURE_IS_DOWN").lower() or "false"
    if down_text not in ("true", "false"):
        raise ConfigError("HEALTH_CHECK_AUTH_FAILURE_IS_DOWN", down_text, "must be true or false")
    return ProbeAuth(
        kind=kind,
        secret_arn=secret_arn,
        header_name=header_name,
        failure_is_down=down_text == "true",
        client_cert_secret_arn=cert_arn,
    )


def probe_auth_from_fields(fields: Mapping[str, object]) -> ProbeAuth:
    """A fleet group's `settings.health_check_auth` object, by the same rules as the variables (a
    ConfigError names the variable; the fleet's parser names the field from FIELD_OF)."""
    by_field = {field: variable for variable, field in FIELD_OF.items()}
    env: dict[str, str] = {}
    for field, value in fields.items():
        env[by_field[field]] = str(value).lower() if isinstance(value, bool) else str(value)
    return load_probe_auth(env)


def _arn(text: str, variable: str) -> str | None:
    if not text:
        return None
    if not (_SECRET_ARN.fullmatch(text) or _PARAMETER_ARN.fullmatch(text)):
        raise ConfigError(
            variable,
            text,
            "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>) "
            "or an SSM parameter ARN (arn:aws:ssm:<region>:<account>:parameter/<name>)",
        )
    return text


def secret_service(arn: str) -> Literal["secretsmanager", "ssm"]:
    """Which service holds the secret an ARN names (load_probe_auth accepted only these two)."""
    return "ssm" if arn.split(":", 3)[2] == "ssm" else "secretsmanager"


def auth_headers(auth: ProbeAuth, secret: str) -> dict[str, str]:
    """The header a probe sends for `secret` (the secret's text as read), or ProbeSecretError.

    header: the secret is the header's whole value (e.g. "Bearer <token>").
    basic: the secret is JSON {"username": ..., "password": ...} (Secrets Manager's own convention
    for credentials) or "username:password".
    """
    parameter = auth.parameter("HEALTH_CHECK_AUTH_SECRET_ARN")
    arn = auth.secret_arn or ""
    _check_size(secret, MAX_AUTH_SECRET_BYTES, parameter, arn)
    if auth.kind == "header":
        value = secret.strip()
        if not value:
            raise ProbeSecretError(parameter, arn, "the secret is empty")
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            # A CR or LF would end the header (a request-splitting risk); no header value holds control chars.
            raise ProbeSecretError(parameter, arn, "the secret holds a control character (CR, LF, ...)")
        return {auth.header_name: value}
    if auth.kind == "basic":
        username, password = _basic_credentials(secret, parameter, arn)
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    return {}


def _basic_credentials(secret: str, parameter: str, arn: str) -> tuple[str, str]:
    text = secret.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise ProbeSecretError(parameter, arn, "the secret starts with '{' but is not JSON") from None
        if not isinstance(data, dict):
            raise ProbeSecretError(parameter, arn, 'the secret\'s JSON is not an object with "username" and "password"')
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ProbeSecretError(parameter, arn, 'the secret\'s JSON needs string fields "username" and "password"')
    else:
        username, sep, password = text.partition(":")
        if not sep:
            raise ProbeSecretError(parameter, arn, 'basic auth needs "username:password" or JSON with those fields')
    if not username or ":" in username:
        raise ProbeSecretError(parameter, arn, "the username is empty or holds ':'")
    if any(ord(char) < 0x20 for char in username + password):
        raise ProbeSecretError(parameter, arn, "the username or password holds a control character")
    return username, password


def client_certificate_pem(auth: ProbeAuth, secret: str) -> str:
    """The PEM text of a client certificate secret (certificate chain and private key), checked."""
    parameter = auth.parameter("HEALTH_CHECK_CLIENT_CERT_SECRET_ARN")
    arn = auth.client_cert_secret_arn or ""
    _check_size(secret, MAX_CLIENT_CERT_SECRET_BYTES, parameter, arn)
    if not _PEM_CERT.search(secret):
        raise ProbeSecretError(parameter, arn, "the secret holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    if not _PEM_KEY.search(secret):
        raise ProbeSecretError(parameter, arn, "the secret holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
    if "ENCRYPTED" in secret:
        raise ProbeSecretError(parameter, arn, "the private key is encrypted: store it without a passphrase")
    return secret


def _check_size(secret: str, limit: int, parameter: str, arn: str) -> None:
    size = len(secret.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise ProbeSecretError(parameter, arn, f"the secret is {size} bytes, more than {limit}")


def is_auth_failure(status: int, auth: ProbeAuth) -> bool:
    """Whether an answer's status is an auth failure rather than the node failing its check: only when
    probes authenticate (without credentials a 401 is the node's answer, a failure as before)."""
    return auth.enabled and status in AUTH_FAILURE_STATUSES and not auth.failure_is_down


# How a TLS server refuses a client certificate: a handshake alert (OpenSSL's text for it), or, from
# nginx with `ssl_verify_client on`, a 400 page saying so (nginx answers the request to tell why).
_CERT_ALERTS = ("alert certificate required", "alert bad certificate", "alert unknown ca", "alert certificate unknown")
_NGINX_CERT_PAGES = (b"No required SSL certificate was sent", b"The SSL certificate error")


def is_client_cert_refusal(auth: ProbeAuth, *, status: int | None = None, body: bytes = b"", error: str = "") -> bool:
    """Whether an answer (status and body) or a TLS error is the node refusing the client certificate:
    an auth failure like a 401 (only when a client certificate is configured)."""
    if auth.client_cert_secret_arn is None or auth.failure_is_down:
        return False
    if status == 400:
        return any(page in body for page in _NGINX_CERT_PAGES)
    lowered = error.lower()
    return any(alert in lowered for alert in _CERT_ALERTS)
