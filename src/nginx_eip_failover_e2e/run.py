"""The end-to-end run: nodes stack, controller, drill, nginx stopped on the primary, failover timed,
and the teardown in `finally` (a failure, an exception or Ctrl-C at any step still deletes both stacks,
releases what is left and prints the bill-relevant resources).

    report = run_e2e(E2EOptions(expected_account="123456789012", ...), ports, out=sys.stdout)

Every AWS call goes through `ports.clients` (one session) or the ports' implementations, so the
integration test runs this same function against the lab's moto server.
"""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.exceptions import ClientError

from .account import require_account
from .aws import AwsClients
from .controller import ControllerDeployment, controller_parameters
from .nginx_stop import NginxStopper
from .resources import Resource, billed_resources, check_deleted, is_gone, render
from .stacks import Nodes, Waiting, create_nodes_stack, delete_stack

HttpGet = Callable[[str, float], int]  # url, timeout -> HTTP status; OSError when unreachable


class E2EError(Exception):
    """A step did not do what the run expects (names the step and what was seen)."""


def http_status(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http://<the EIP>/health)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass(frozen=True)
class E2EOptions:
    expected_account: str | None
    run_id: str
    nodes_parameters: Mapping[str, str] = field(default_factory=dict)  # InstanceType, ProbeCidr, ...
    controller_settings: Mapping[str, str] = field(default_factory=dict)  # further controller parameters
    ready_timeout: float = 900.0  # instances boot, nginx installs, the first schedule runs
    failover_timeout: float = 300.0
    poll_seconds: float = 0.5
    waiting: Waiting = field(default_factory=Waiting)

    @property
    def nodes_stack(self) -> str:
        return f"nginx-eip-failover-e2e-{self.run_id}-nodes"


@dataclass
class Ports:
    clients: AwsClients
    controller: ControllerDeployment
    stop_nginx: NginxStopper
    eip_url: Callable[[Nodes], str]  # the URL that answers through the EIP (real: http://<EIP>/health)
    http_get: HttpGet = http_status
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class Failover:
    """nginx stopped on node1 -> the EIP on node2 (seconds). The stop happened between the SSM command
    being sent and SSM reporting it done, so the true failover time lies between the two figures."""

    stop_confirmed_after_sent: float
    associated_after_sent: float
    answered_after_sent: float

    @property
    def associated_after_confirmed(self) -> float:
        return self.associated_after_sent - self.stop_confirmed_after_sent

    def describe(self) -> str:
        return (
            f"Failover time (nginx stopped on node1 through SSM -> EIP on node2): "
            f"{self.associated_after_confirmed:.2f}-{self.associated_after_sent:.2f} s "
            f"(from SSM reporting the stop done / from sending it); the EIP answered HTTP "
            f"{self.answered_after_sent:.2f} s after sending"
        )


@dataclass
class Report:
    account: str | None = None
    steps: list[str] = field(default_factory=list)
    drill: dict[str, Any] | None = None
    failover: Failover | None = None
    resources: list[Resource] = field(default_factory=list)
    teardown: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.failover is not None
            and all(resource.deleted is True for resource in self.resources)
            and all(outcome == "deleted" for outcome in self.teardown.values())
        )


def run_e2e(options: E2EOptions, ports: Ports, out: TextIO) -> Report:
    """The whole run; AccountRefused (before anything is created) when the account is not the one named."""
    report = Report()
    report.account = require_account(ports.clients.client("sts"), options.expected_account)

    def step(text: str) -> None:
        report.steps.append(text)
        print(f">> {text}", file=out, flush=True)

    step(f"account {report.account}, region {ports.clients.region}, run {options.run_id}")
    nodes: Nodes | None = None
    try:
        step(f"creating the nodes stack {options.nodes_stack} (tests/e2e/aws/nodes.yaml)")
        nodes = create_nodes_stack(
            ports.clients.client("cloudformation"),
            options.nodes_stack,
            options.nodes_parameters,
            run_id=options.run_id,
            waiting=options.waiting,
        )
        step(f"nodes: {nodes.instance_ids[0]}, {nodes.instance_ids[1]}; EIP {nodes.public_ip} ({nodes.allocation_id})")
        step(f"deploying the controller stack {ports.controller.stack_name}")
        ports.controller.deploy(controller_parameters(nodes.outputs, options.controller_settings))
        _wait_ready(options, ports, nodes, step)
        report.drill = _drill(ports, step)
        report.failover = _fail_over(options, ports, nodes, step)
        step(report.failover.describe())
    except BaseException as exc:  # Ctrl-C too: the teardown below runs, then it goes on up
        report.error = f"{type(exc).__name__}: {exc}"
        print(f"!! the run failed: {report.error}", file=out, flush=True)
        if not isinstance(exc, Exception):
            raise
    finally:
        with _teardown_not_interruptible(out):
            _tear_down(options, ports, nodes, report, step)
        print(render(report.resources), file=out, flush=True)
    return report


def _wait_ready(options: E2EOptions, ports: Ports, nodes: Nodes, step: Callable[[str], None]) -> None:
    """Until the controller reports both nodes up and the EIP on node1 (the higher priority)."""
    step("waiting for both nodes up and the EIP on node1 (the monitor's schedule places it)")
    started = ports.monotonic()
    seen = "no answer yet"
    while ports.monotonic() - started < options.ready_timeout:
        status = ports.controller.control({"action": "status"})["status"]
        health = {name: node.get("health") for name, node in (status.get("nodes") or {}).items()}
        holder = (status.get("eip") or {}).get("node")
        seen = f"health {health}, EIP on {holder}"
        if holder == "node1" and health.get("node1") == "up" and health.get("node2") == "up":
            step(f"ready after {ports.monotonic() - started:.1f} s: {seen}")
            return
        ports.sleep(max(options.poll_seconds, 1.0))
    raise E2EError(f"not ready within {options.ready_timeout:.0f} s: {seen}")


def _drill(ports: Ports, step: Callable[[str], None]) -> dict[str, Any]:
    step("drill: the ControlFunction moves the EIP to node2 and back, measuring each move")
    answer = ports.controller.control({"action": "drill", "reason": "nginx-eip-failover e2e"})
    drill = dict(answer.get("drill") or {})
    if drill.get("result") != "done":
        raise E2EError(f"the drill did not complete: result {drill.get('result')!r}, error {answer.get('error')!r}")
    legs = ", ".join(f"{leg['to']} in {leg['association_seconds']:.2f} s" for leg in drill.get("legs") or [])
    step(f"drill {drill.get('id')} done: {legs}")
    return drill


def _fail_over(options: E2EOptions, ports: Ports, nodes: Nodes, step: Callable[[str], None]) -> Failover:
    node1, node2 = nodes.instance_ids
    step(f"stopping nginx on node1 ({node1}) through SSM")
    sent = ports.monotonic()
    ports.stop_nginx(node1)
    confirmed = ports.monotonic() - sent
    step(f"SSM reports nginx stopped on node1 {confirmed:.2f} s after sending; watching the EIP")
    associated = _until(options, ports, sent, lambda: _eip_instance(ports, nodes) == node2)
    if associated is None:
        raise E2EError(
            f"the EIP did not move to node2 within {options.failover_timeout:.0f} s (on {_eip_instance(ports, nodes)})"
        )
    url = ports.eip_url(nodes)
    answered = _until(options, ports, sent, lambda: _answers(ports, url))
    if answered is None:
        raise E2EError(f"{url} did not answer 2xx within {options.failover_timeout:.0f} s of the move")
    return Failover(confirmed, associated, answered)


def _until(options: E2EOptions, ports: Ports, started: float, seen: Callable[[], bool]) -> float | None:
    while ports.monotonic() - started < options.failover_timeout:
        if seen():
            return ports.monotonic() - started
        ports.sleep(options.poll_seconds)
    return None


def _eip_instance(ports: Ports, nodes: Nodes) -> str | None:
    address = ports.clients.client("ec2").describe_addresses(AllocationIds=[nodes.allocation_id])["Addresses"][0]
    return address.get("InstanceId") or None


def _answers(ports: Ports, url: str) -> bool:
    try:
        return 200 <= ports.http_get(url, 2.0) < 300
    except OSError:
        return False


def _tear_down(
    options: E2EOptions, ports: Ports, nodes: Nodes | None, report: Report, step: Callable[[str], None]
) -> None:
    """Both stacks deleted (the controller first: it would move the EIP back), then anything left
    released, then every resource checked. Each part runs whatever failed before it."""
    cloudformation = ports.clients.client("cloudformation")
    step("teardown: listing what the run created")
    for listing in (ports.controller.resources, lambda: billed_resources(cloudformation, options.nodes_stack)):
        try:
            report.resources.extend(listing())
        except Exception as exc:  # a listing that fails must not stop the deletes
            step(f"teardown: could not list resources: {exc}")
    step(f"teardown: deleting the controller stack {ports.controller.stack_name}")
    report.teardown[ports.controller.stack_name] = ports.controller.delete()
    # A non-default VPC's EIP cannot be released while associated, and the stack deletes the EIP
    # and the instances concurrently: disassociate it first.
    _release_eips(ports, report.resources, release=False, step=step)
    step(f"teardown: deleting the nodes stack {options.nodes_stack}")
    report.teardown[options.nodes_stack] = delete_stack(cloudformation, options.nodes_stack, waiting=options.waiting)
    _release_leftovers(ports, report.resources, step)
    check_deleted(ports.clients.client, report.resources)
    for stack, outcome in report.teardown.items():
        step(f"teardown: {stack}: {outcome}")


def _release_eips(ports: Ports, resources: list[Resource], *, release: bool, step: Callable[[str], None]) -> None:
    ec2 = ports.clients.client("ec2")
    for resource in (r for r in resources if r.type == "AWS::EC2::EIP"):
        try:
            addresses = ec2.describe_addresses(PublicIps=[resource.physical_id])["Addresses"]
        except ClientError:
            continue  # gone already
        for address in addresses:
            if address.get("AssociationId"):
                ec2.disassociate_address(AssociationId=address["AssociationId"])
                step(f"teardown: disassociated {resource.physical_id} from {address.get('InstanceId')}")
            if release:
                ec2.release_address(AllocationId=address["AllocationId"])
                step(f"teardown: released {resource.physical_id} ({address['AllocationId']}), left by its stack")


def _release_leftovers(ports: Ports, resources: list[Resource], step: Callable[[str], None]) -> None:
    """What a failed stack delete left that costs by the hour (instances, the EIP), and log groups."""
    try:
        left = [r for r in resources if r.type == "AWS::EC2::Instance" and not is_gone(ports.clients.client, r)]
        if left:
            ports.clients.client("ec2").terminate_instances(InstanceIds=[r.physical_id for r in left])
            step(f"teardown: terminated {', '.join(r.physical_id for r in left)}, left by their stack")
        _release_eips(ports, [r for r in resources if not is_gone(ports.clients.client, r)], release=True, step=step)
        # An invocation still running when its stack deleted the log group writes it again.
        for group in (r for r in resources if r.type == "AWS::Logs::LogGroup"):
            if not is_gone(ports.clients.client, group):
                ports.clients.client("logs").delete_log_group(logGroupName=group.physical_id)
                step(f"teardown: deleted the log group {group.physical_id}, written again after its stack's delete")
    except ClientError as exc:
        step(f"teardown: releasing leftovers failed: {exc}")


@contextmanager
def _teardown_not_interruptible(out: TextIO) -> Iterator[None]:
    """Ctrl-C during the teardown would leave billed resources: it is noted and the teardown goes on."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(_signum: int, _frame: object) -> None:
        print("!! tearing down: interrupting now would leave resources behind; it goes on", file=out, flush=True)

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
