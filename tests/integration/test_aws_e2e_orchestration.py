"""The real-account end-to-end test's orchestration (`nginx_eip_failover_e2e.run_e2e`), run against the
lab: its one session points at the lab's moto server through AWS_ENDPOINT_URL, so the nodes stack is
created and deleted by moto's CloudFormation from tests/e2e/aws/nodes.yaml, the stop goes through moto's
SSM, and the resources are checked by moto's describes. What moto cannot do is put behind the run's
ports: the controller is the lab's (template.yaml's stack in moto, the real handlers in fresh processes,
the monitor on the lab's schedule) and the nodes are real nginx on 127.0.0.1, stopped by the lab when
the SSM command is sent.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_e2e.account import ACCOUNT_VARIABLE, AccountRefused
from nginx_eip_failover_e2e.aws import AwsClients
from nginx_eip_failover_e2e.controller import ControlError
from nginx_eip_failover_e2e.nginx_stop import STOP_COMMAND, NginxStopError, SsmNginxStop
from nginx_eip_failover_e2e.resources import Resource
from nginx_eip_failover_e2e.run import E2EOptions, Ports, Report, run_e2e
from nginx_eip_failover_e2e.stacks import Waiting
from nginx_eip_failover_lab import processes
from nginx_eip_failover_lab.account import ACCOUNT_ID
from nginx_eip_failover_lab.aws.moto_server import DUMMY_AWS_ENV, MotoServer
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.scheduler import MonitorScheduler
from nginx_eip_failover_lab.stack.fixtures import Pair

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# Test-friendly controller settings (the real run keeps the template's defaults).
FAST = {
    "HealthCheckIntervalSeconds": "0.3",
    "HealthCheckTimeoutSeconds": "0.3",
    "FallThreshold": "3",
    "RiseThreshold": "2",
    "PreemptDelaySeconds": "2",
    "MinSecondsBetweenMoves": "0",
    "PreflightIntervalSeconds": "0",
}
# The parameters that name the pair and its URLs: the lab's own pair and nginx take their place.
PAIR_PARAMETERS = (
    "ElasticIpAllocationId",
    "Node1InstanceId",
    "Node2InstanceId",
    "Node1HealthCheckUrl",
    "Node2HealthCheckUrl",
)


@dataclass
class LabController:
    """The controller port on the lab: deploy = template.yaml's stack created in moto for the nodes
    stack's pair, probing real nginx on 127.0.0.1; the monitor on the lab's schedule."""

    moto: MotoServer
    base_dir: Path
    stack_name: str
    deployed_with: dict[str, str] = field(default_factory=dict)
    lab: LabEnvironment | None = None
    scheduler: MonitorScheduler | None = None
    requests: list[str] = field(default_factory=list)

    def deploy(self, parameters: Mapping[str, str]) -> None:
        self.deployed_with = dict(parameters)
        ec2 = self._client("ec2")
        allocation = parameters["ElasticIpAllocationId"]
        public_ip = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]["PublicIp"]
        pair = Pair((parameters["Node1InstanceId"], parameters["Node2InstanceId"]), allocation, public_ip)
        settings = {key: value for key, value in parameters.items() if key not in PAIR_PARAMETERS}
        self.lab = LabEnvironment(
            settings=settings, base_dir=self.base_dir, moto=self.moto, stack_name=self.stack_name, pair=pair
        ).start()
        assert self.lab.stack is not None
        self.scheduler = MonitorScheduler(self.lab.monitor_env, self.lab.stack.schedule_input, remaining_ms=3000)
        self.scheduler.start()

    def control(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if self.lab is None:
            raise ControlError("not deployed")
        self.requests.append(str(request["action"]))
        result = self.lab.control(dict(request))
        if not result.ok:
            raise ControlError(f"{result.error_type}: {result.error_message}")
        assert isinstance(result.payload, dict)
        return result.payload

    def resources(self) -> list[Resource]:
        """What the lab created in moto that a deployed stack is billed for: tables, alarms."""
        if self.lab is None or self.lab.stack is None:
            return []
        stack = self.lab.stack
        tables = [
            Resource(self.stack_name, logical, "AWS::DynamoDB::Table", name)
            for logical, name in stack.resource_names("AWS::DynamoDB::Table").items()
        ]
        alarms = [Resource(self.stack_name, a.logical_id, "AWS::CloudWatch::Alarm", a.name) for a in stack.alarms]
        return tables + alarms

    def delete(self) -> str:
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.lab is None:
            return "deleted"
        self.lab.stop()
        for resource in self.resources():
            if resource.type == "AWS::DynamoDB::Table":
                self._client("dynamodb").delete_table(TableName=resource.physical_id)
            else:
                self._client("cloudwatch").delete_alarms(AlarmNames=[resource.physical_id])
        return "deleted"

    def node(self, instance_id: str) -> str:
        assert self.lab is not None
        name = self.lab.node_of(instance_id)
        assert name in ("node1", "node2"), instance_id
        return name

    def _client(self, service: str) -> Any:
        from nginx_eip_failover_lab.environment import lab_client

        return lab_client(service, self.moto.url)


@dataclass
class LabNginxStop:
    """The SSM command as the real run sends it (to moto's SSM), then the lab stops that node's nginx:
    moto runs no command on an instance."""

    ssm: SsmNginxStop
    controller: LabController
    stopped: list[str] = field(default_factory=list)

    def __call__(self, instance_id: str) -> None:
        self.ssm(instance_id)
        assert self.controller.lab is not None
        self.controller.lab.nodes[self.controller.node(instance_id)].stop()
        self.stopped.append(instance_id)


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    """The standard AWS environment pointed at the lab's moto server, and one session built from it."""
    for key in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in {**DUMMY_AWS_ENV, "AWS_ENDPOINT_URL": moto_server.url}.items():
        monkeypatch.setenv(key, value)
    yield AwsClients()


@dataclass
class Run:
    options: E2EOptions
    ports: Ports
    controller: LabController
    stop: LabNginxStop
    clients: AwsClients
    out: io.StringIO = field(default_factory=io.StringIO)

    def __call__(self) -> Report:
        return run_e2e(self.options, self.ports, self.out)

    def stack_status(self, name: str) -> str:
        """The stack's last status in moto's CloudFormation ("absent" when it was never created)."""
        summaries = self.clients.client("cloudformation").list_stacks()["StackSummaries"]
        statuses = [s["StackStatus"] for s in summaries if s["StackName"] == name]
        return statuses[0] if statuses else "absent"


@pytest.fixture
def make_run(moto_server: MotoServer, aws_env: AwsClients, tmp_path: Path) -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def make(account: str | None = ACCOUNT_ID, stop: Callable[[str], None] | None = None) -> Run:
        run_id = uuid.uuid4().hex[:8]
        controller = LabController(moto_server, tmp_path / run_id, f"nginx-eip-failover-e2e-{run_id}")
        lab_stop = LabNginxStop(SsmNginxStop(aws_env.client("ssm"), poll=0.1), controller)
        ports = Ports(
            clients=aws_env,
            controller=controller,
            stop_nginx=stop or lab_stop,
            # The lab has no routed EIP: node2's own URL stands in for the EIP once it is on node2.
            eip_url=lambda _nodes: _node2_url(controller),
        )
        options = E2EOptions(
            expected_account=account,
            run_id=run_id,
            nodes_parameters={"InstanceType": "t4g.nano", "ProbeCidr": "127.0.0.1/32"},
            controller_settings=FAST,
            ready_timeout=60,
            failover_timeout=30,
            poll_seconds=0.1,
            waiting=Waiting(delay=1, attempts=30),
        )
        run = Run(options, ports, controller, lab_stop, aws_env)
        runs.append(run)
        return run

    yield make
    for run in runs:  # a test that failed before the teardown still stops its processes
        if run.controller.scheduler is not None:
            run.controller.scheduler.stop()
        if run.controller.lab is not None:
            run.controller.lab.stop()
    leftovers = {pid: name for pid, name in processes.running().items() if name != "moto server"}
    assert not leftovers, f"processes left running after the test: {leftovers}"


def _node2_url(controller: LabController) -> str:
    assert controller.lab is not None
    return controller.lab.nodes["node2"].health_url


def _assert_torn_down(run: Run, report: Report) -> None:
    assert run.stack_status(run.options.nodes_stack) == "DELETE_COMPLETE"
    assert report.teardown == {run.controller.stack_name: "deleted", run.options.nodes_stack: "deleted"}
    kinds = {resource.type for resource in report.resources}
    assert {"AWS::EC2::Instance", "AWS::EC2::EIP", "AWS::DynamoDB::Table", "AWS::CloudWatch::Alarm"} <= kinds
    assert all(resource.deleted is True for resource in report.resources), report.resources
    printed = run.out.getvalue()
    assert "Bill-relevant resources created:" in printed
    for resource in report.resources:
        assert resource.physical_id in printed
    assert f"{len(report.resources)} bill-relevant resources created, all deleted" in printed


def test_a_run_drills_fails_over_through_ssm_and_tears_everything_down(make_run: Callable[..., Run]) -> None:
    run = make_run()
    report = run()
    assert report.error is None, run.out.getvalue()
    assert report.ok
    assert report.account == ACCOUNT_ID
    # the controller was deployed against the nodes stack's pair, probing the private IPs from the VPC
    deployed = run.controller.deployed_with
    assert deployed["Node1HealthCheckUrl"].startswith("http://10.42.1.") and deployed["CreateVpcEndpoints"] == "true"
    assert deployed["SubnetIds"].count("subnet-") == 2 and deployed["SecurityGroupIds"].startswith("sg-")
    # the drill ran through the ControlFunction and measured both moves
    assert report.drill is not None and report.drill["result"] == "done"
    assert [leg["to"] for leg in report.drill["legs"]] == ["node2", "node1"]
    assert all(leg["association_seconds"] > 0 for leg in report.drill["legs"])
    assert "drill" in run.controller.requests
    # nginx was stopped on node1 by an SSM command moto recorded, and the EIP moved to node2
    node1 = run.stop.stopped[0]
    assert run.controller.deployed_with["Node1InstanceId"] == node1
    commands = run.clients.client("ssm").list_commands(InstanceId=node1)["Commands"]
    assert [c["Parameters"]["commands"] for c in commands] == [[STOP_COMMAND]]
    assert report.failover is not None
    failover = report.failover
    assert 0 <= failover.stop_confirmed_after_sent <= failover.associated_after_sent <= failover.answered_after_sent
    assert "Failover time" in run.out.getvalue()
    _assert_torn_down(run, report)
    # moto's CloudFormation does not release a stack's EIP (AWS's does): the run's sweep of what its
    # stacks left released it, and the table shows it deleted because EC2 no longer has it
    eip = next(r for r in report.resources if r.type == "AWS::EC2::EIP")
    assert f"released {eip.physical_id}" in run.out.getvalue()


def test_a_failure_mid_run_still_deletes_both_stacks_and_prints_the_table(make_run: Callable[..., Run]) -> None:
    def ssm_fails(instance_id: str) -> None:
        raise NginxStopError(f"injected: the SSM command on {instance_id} failed")

    run = make_run(stop=ssm_fails)
    report = run()
    assert not report.ok
    assert report.error is not None and "injected" in report.error
    assert report.drill is not None and report.failover is None  # it failed after the drill, at the stop
    _assert_torn_down(run, report)


def test_a_deploy_that_fails_halfway_still_deletes_what_it_created(make_run: Callable[..., Run]) -> None:
    # GIVEN a controller deployment that fails after creating its tables and alarms (as a stack
    # rolled back halfway would leave them)
    run = make_run()
    deploy = run.controller.deploy

    def deploy_then_fail(parameters: Mapping[str, str]) -> None:
        deploy(parameters)
        raise ControlError("injected: the controller stack failed to create")

    run.controller.deploy = deploy_then_fail  # type: ignore[method-assign]
    report = run()
    # THEN nothing after the deploy ran, and both stacks' resources are gone
    assert report.error is not None and "injected" in report.error
    assert report.drill is None and run.controller.requests == []
    _assert_torn_down(run, report)


def test_ctrl_c_mid_run_tears_down_then_goes_on_up(make_run: Callable[..., Run]) -> None:
    def interrupted(_instance_id: str) -> None:
        raise KeyboardInterrupt

    run = make_run(stop=interrupted)
    with pytest.raises(KeyboardInterrupt):
        run()
    assert run.stack_status(run.options.nodes_stack) == "DELETE_COMPLETE"
    assert "all deleted" in run.out.getvalue()
    assert run.controller.lab is not None and all(not node.running for node in run.controller.lab.nodes.values())


@pytest.mark.parametrize(
    ("account", "message"),
    [
        (None, f"{ACCOUNT_VARIABLE} is not set"),
        ("210987654321", f"{ACCOUNT_VARIABLE} is 210987654321 but the credentials belong to account {ACCOUNT_ID}"),
        ("prod", f"{ACCOUNT_VARIABLE} is 'prod': expected a 12-digit AWS account ID"),
    ],
)
def test_the_run_is_refused_unless_the_account_variable_names_the_credentials_account(
    make_run: Callable[..., Run], account: str | None, message: str
) -> None:
    run = make_run(account=account)
    with pytest.raises(AccountRefused, match=message):
        run()
    assert run.stack_status(run.options.nodes_stack) == "absent"
    assert run.controller.lab is None and run.out.getvalue() == ""


def _module(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nginx_eip_failover_e2e", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(env),
        cwd=REPO,
    )


def test_the_command_refuses_a_mismatched_account_before_creating_anything(aws_env: AwsClients) -> None:
    env = {**os.environ, ACCOUNT_VARIABLE: "210987654321"}
    result = _module(env, "--run-id", "refused1")  # refused before it looks up its own address
    assert result.returncode == 2, result.stderr
    assert f"but the credentials belong to account {ACCOUNT_ID}" in result.stderr
    names = {s["StackName"] for s in aws_env.client("cloudformation").list_stacks()["StackSummaries"]}
    assert not any("refused1" in name for name in names)


def test_make_aws_e2e_without_the_account_variable_skips_with_a_clear_message() -> None:
    env = {key: value for key, value in os.environ.items() if key != ACCOUNT_VARIABLE}
    result = subprocess.run(
        ["make", "--no-print-directory", "aws-e2e"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert f"aws-e2e: skipped: {ACCOUNT_VARIABLE} is not set" in result.stdout
