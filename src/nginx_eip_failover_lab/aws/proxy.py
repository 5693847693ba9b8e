"""A small HTTP proxy in front of the moto server that records every AWS call and can inject faults.

Point a function's AWS_ENDPOINT_URL at `AwsProxy.url` instead of the moto server: each request is
recorded as (service, action, status) - so a test can count the AssociateAddress calls that really
reached EC2; an EC2 call with its parameters, and every call with botocore's invocation id, which
ties one API call's retries together - and `inject(Fault(...))` makes chosen calls fail (an AWS error answer, a delay, a
dropped connection) either before the call reaches moto or after it took effect there. An error or
a drop with `delay_seconds` holds the call first: "before", it never reaches moto (a caller killed
meanwhile never made it); "after", it took effect and the answer is held.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlsplit

from .ec2_request_limit import THROTTLE_CODE, THROTTLE_MESSAGE, THROTTLE_STATUS, Ec2RequestLimit

if TYPE_CHECKING:
    from nginx_eip_failover_lab.iam.enforcement import IamEnforcer

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_ACCESS_KEY = re.compile(r"Credential=([^/]+)/")
_JSON_SERVICES = ("dynamodb",)


@dataclass(frozen=True)
class Call:
    service: str
    action: str
    status: int  # what the caller got (0: no answer)
    at: float  # time.time() when the answer was sent
    fault: str | None = None  # the fault injected into this call, if any
    upstream_status: int | None = None  # what moto answered; None: the call never reached it
    # An EC2 (query API) call's parameters, first value of each (e.g. InstanceId of AssociateAddress);
    # empty for JSON services, whose bodies the proxy does not keep.
    params: tuple[tuple[str, str], ...] = ()
    received_at: float | None = None  # time.time() when the request reached the proxy
    # botocore's amz-sdk-invocation-id: the same for every retry of one API call
    sdk_invocation: str | None = None
    # The access key the request was signed with: whose credentials made it (a function's own, or
    # a session of a role it assumed)
    access_key: str | None = None

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.params if key == name), None)


@dataclass
class Fault:
    """Make matching calls fail. `when`: "before" moto sees the request, or "after" it took effect.

    kind "error": answer `status` with an AWS error `code` (e.g. 503 "RequestLimitExceeded",
    400 "ThrottlingException", 500 "InternalError"); kind "drop": close the connection without an
    answer; kind "delay": wait `delay_seconds`, then forward normally. An "error" or "drop" waits
    `delay_seconds` too (0 by default) before it fails: "before" moto sees the call, or "after" it
    took effect. `times` calls are affected (None: every matching call until `clear_faults`).
    """

    action: str  # e.g. "AssociateAddress", "PutItem"; "*" for every call of the service
    service: str | None = None  # "ec2", "dynamodb", "sns"; None: any
    kind: Literal["error", "drop", "delay"] = "error"
    status: int = 500
    code: str = "InternalError"
    message: str = "fault injected by the lab's AWS proxy"
    delay_seconds: float = 0.0
    when: Literal["before", "after"] = "before"
    times: int | None = 1
    hits: int = 0

    def matches(self, service: str, action: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return (self.service is None or self.service == service) and self.action in ("*", action)


def _error_body(service: str, code: str, message: str) -> tuple[bytes, str]:
    request_id = str(uuid.uuid4())
    if service in _JSON_SERVICES:
        body = {"__type": f"com.amazonaws.{service}.v20120810#{code}", "message": message}
        return json.dumps(body).encode(), "application/x-amz-json-1.0"
    if service == "ec2":
        xml = (
            f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return xml.encode(), "text/xml"
    xml = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return xml.encode(), "text/xml"


class AwsProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._request_limit: Ec2RequestLimit | None = None
        self.iam: IamEnforcer | None = None  # the template's least privilege (iam_enforcement)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> AwsProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- records -----------------------------------------------------------------------------
    def calls(self, action: str | None = None, service: str | None = None) -> list[Call]:
        with self._lock:
            return [
                call
                for call in self._calls
                if (action is None or call.action == action) and (service is None or call.service == service)
            ]

    def count(self, action: str, service: str | None = None) -> int:
        """How many `action` calls reached the moto server and succeeded there (took effect)."""
        return sum(
            1 for call in self.calls(action, service) if call.upstream_status is not None and call.upstream_status < 300
        )

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- faults ------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def limit_ec2_requests(self, limit: Ec2RequestLimit | None) -> Ec2RequestLimit | None:
        """Enforce EC2's request limit on mutating calls (None: off, the default); beyond it a call
        is answered 503 RequestLimitExceeded before it reaches moto."""
        with self._lock:
            self._request_limit = limit
        return limit

    def _throttle(self, service: str, action: str) -> Fault | None:
        limit = self._request_limit
        if limit is None or limit.admits(service, action):
            return None
        return Fault(action, service, status=THROTTLE_STATUS, code=THROTTLE_CODE, message=THROTTLE_MESSAGE)

    def _take_fault(self, service: str, action: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, action):
                    fault.hits += 1
                    return fault
        return None

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def query_params(service: str, body: bytes) -> tuple[tuple[str, str], ...]:
    """The form parameters of a query-API (EC2) call, first value of each; () for other services."""
    if service != "ec2":
        return ()
    try:
        form = parse_qs(body.decode("utf-8", errors="replace"))
    except ValueError:
        return ()
    return tuple((key, values[0]) for key, values in sorted(form.items()) if key != "Action" and values)


def identify(headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """(service, action) of a signed AWS request: the credential scope and the target or Action."""
    lowered = {key.lower(): value for key, value in headers.items()}
    scope = _CREDENTIAL_SCOPE.search(lowered.get("authorization", ""))
    service = scope.group(1) if scope else "unknown"
    target = lowered.get("x-amz-target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    try:
        form = parse_qs(body.decode("utf-8", errors="replace"))
    except ValueError:
        form = {}
    return service, (form.get("Action") or ["unknown"])[0]


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: AwsProxy
    protocol_version = "HTTP/1.1"
    _params: tuple[tuple[str, str], ...] = ()
    _received_at: float | None = None
    _sdk_invocation: str | None = None
    _access_key: str | None = None

    def log_message(self, format: str, *args: object) -> None:
        return

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            # The caller went away (an invocation killed while its call was held): nobody to answer.
            self.close_connection = True

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key: value for key, value in self.headers.items() if key.lower() not in ("connection", "keep-alive")}
        service, action = identify(headers, body)
        self._received_at = time.time()
        self._params = query_params(service, body)
        self._sdk_invocation = {key.lower(): value for key, value in headers.items()}.get("amz-sdk-invocation-id")
        signed = _ACCESS_KEY.search({key.lower(): value for key, value in headers.items()}.get("authorization", ""))
        self._access_key = signed.group(1) if signed else None
        if self.owner.iam is not None and self._refused_by_iam(service, action, headers, body):
            return
        fault = self.owner._throttle(service, action) or self.owner._take_fault(service, action)
        if fault is not None and (fault.kind == "delay" or fault.when == "before"):
            time.sleep(fault.delay_seconds)
        if fault is not None and fault.when == "before" and fault.kind != "delay":
            self._fail(service, action, fault, None)
            return
        status, upstream_headers, answer = self.owner._forward(self.command, self.path, headers, body)
        if fault is not None and fault.when == "after" and fault.kind != "delay":
            time.sleep(fault.delay_seconds)
            self._fail(service, action, fault, status)
            return
        self._record(service, action, status, fault.kind if fault else None, status)
        if self.owner.iam is not None:
            self.owner.iam.answered(self.command, self.path, headers, body, status, answer)  # sessions it hands out
        self.send_response(status)
        for key, value in upstream_headers:
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    def _record(self, service: str, action: str, status: int, fault: str | None, upstream: int | None) -> None:
        self.owner._record(
            Call(
                service,
                action,
                status,
                time.time(),
                fault,
                upstream,
                self._params,
                self._received_at,
                self._sdk_invocation,
                self._access_key,
            )
        )

    def _refused_by_iam(self, service: str, action: str, headers: dict[str, str], body: bytes) -> bool:
        """IAM decides before anything else (DryRun, throttling): a denied call never reaches moto."""
        assert self.owner.iam is not None
        denial = self.owner.iam.authorize(self.command, self.path, headers, body)
        if denial is None:
            return False
        self.owner._record(
            Call(service, action, denial.status, time.time(), f"iam {denial.code}", None, access_key=self._access_key)
        )
        self.send_response(denial.status)
        for key, value in denial.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(denial.body)))
        self.end_headers()
        self.wfile.write(denial.body)
        return True

    def _fail(self, service: str, action: str, fault: Fault, upstream_status: int | None) -> None:
        if fault.kind == "drop":
            self._record(service, action, 0, f"drop {fault.when}", upstream_status)
            self.close_connection = True
            return
        described = f"{fault.code} {fault.when}"
        self._record(service, action, fault.status, described, upstream_status)
        answer, content_type = _error_body(service, fault.code, fault.message)
        self.send_response(fault.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(answer)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(answer)
