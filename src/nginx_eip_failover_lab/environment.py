"""The lab as one object: AWS (a moto server, optionally behind the recording proxy), two real nginx
nodes, the pair (instances and EIP) and the stack from template.yaml, and the functions' environment.

    with LabEnvironment(parameters={"PreemptDelaySeconds": "8"}) as lab:
        lab.monitor()                       # one MonitorFunction invocation in a fresh process
        lab.nodes["node1"].stop()           # really stops that nginx
        lab.control({"action": "status"})   # one ControlFunction invocation
        lab.holder()                        # "node1", "node2", None or "foreign:i-..."

Settings are given as template parameter values; a setting the contract does not name a parameter
for (e.g. MIN_SECONDS_BETWEEN_MOVES) may be given by its environment variable, and the lab finds
the parameter that feeds it in the template.

A fleet (`fleet_groups=N`, `address_set_group=True`) adds groups to the stack's fleet document:
instances, ENIs and EIPs created in moto, nodes served by one multi-port nginx (`fleet_nginx`), the
document applied through the ControlFunction (`fleet_show`, then `fleet_apply`), as an operator
would. Without them the lab is the stack's own pair alone, as before.

    with LabEnvironment(fleet_groups=3, address_set_group=True) as lab:
        lab.groups["g01"].nodes["node1"].stop()
        lab.group_placement("addr")         # {"eip eipalloc-..": "node1", "secondary 10.0.1.50": ..}
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

import nginx_eip_failover

from . import warm as warm_containers
from .account import REGION
from .aws.moto_server import DUMMY_AWS_ENV, MotoServer
from .aws.node_groups import (
    NodeGroups,
    create_lifecycle_hooks,
    create_node_groups,
    group_instances,
    termination_event,
)
from .aws.proxy import AwsProxy
from .aws.tagged_nodes import TaggedNodes, create_tagged_nodes, launch_tagged_instance, tagged_instances
from .aws.triggers import create_triggers
from .iam.enforcement import IamEnforcer, access_key_for, enforcement_enabled, lab_lookups
from .iam.policies import stack_policies
from .invoke import InvokeResult, invoke_handler
from .nodes.fleet import FleetProvisioner, LabGroup, fleet_document, placement
from .nodes.fleet_nginx import FleetNginx
from .nodes.nginx_node import NginxNode, ensure_nginx
from .stack.fixtures import Pair, SecondSet, create_instance, create_pair, create_second_set
from .stack.provisioner import LabStack, create_stack
from .stack.template import CONTROL_FUNCTION, MONITOR_FUNCTION, StackTemplate, TemplateError, find_template
from .stack.triggers import alarm_event

LIFECYCLE_FUNCTION = "LifecycleFunction"  # found nodes only (template.yaml)

NODE_NAMES = ("node1", "node2")


def _function_path() -> str:
    """PYTHONPATH of the functions' processes: where this process imported the function code and the
    lab from. Normally both are src/ (the CodeUri); `make contract-test` imports the code from the sam
    build output and the lab from a copy of it alone, and the functions must run that same code."""
    roots = [Path(nginx_eip_failover.__file__).parent.parent, Path(__file__).parent.parent]
    return os.pathsep.join(dict.fromkeys(str(root) for root in roots))


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()
_session: list[boto3.session.Session] = []


def lab_client(service: str, endpoint_url: str) -> Any:
    """A boto3 client of the lab's AWS with the dummy credentials (cached: creating one costs ~0.2 s)."""
    with _clients_lock:
        key = (service, endpoint_url)
        if key not in _clients:
            if not _session:
                _session.append(
                    boto3.session.Session(
                        aws_access_key_id=DUMMY_AWS_ENV["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=DUMMY_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=DUMMY_AWS_ENV["AWS_SESSION_TOKEN"],
                        region_name=REGION,
                    )
                )
            _clients[key] = _session[0].client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]
        return _clients[key]


def resolve_settings(template: StackTemplate, settings: Mapping[str, str]) -> dict[str, str]:
    """Parameter values from settings named by parameter or by the environment variable they feed."""
    parameters: dict[str, str] = {}
    for key, value in settings.items():
        if key in template.parameters:
            parameters[key] = str(value)
            continue
        parameter = template.parameter_for_variable(key, (MONITOR_FUNCTION, CONTROL_FUNCTION))
        if parameter is None:
            raise TemplateError(
                f"{template.path}: {key} is neither a parameter nor a variable both functions take from one "
                "(a literal in the template cannot be changed by the lab without drifting from the stack)"
            )
        parameters[parameter] = str(value)
    return parameters


class LabEnvironment:
    def __init__(
        self,
        *,
        settings: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        moto: MotoServer | None = None,
        use_proxy: bool = True,
        template: Path | None = None,
        stack_name: str | None = None,
        fleet_groups: int = 0,
        full_address_sets: bool = False,
        address_set_group: bool = False,
        iam: bool | None = None,
        pair_by_network_interface: bool = False,
        found_nodes: bool = False,
        found_by_tags: tuple[str, ...] = (),
        pair: Pair | None = None,
        second_address_set: bool = False,
    ) -> None:
        self._own_dir = base_dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="nginx-eip-failover-lab-")) if base_dir is None else base_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self._own_moto = moto is None
        self.moto = moto or MotoServer(self.dir / "moto.log")
        self._use_proxy = use_proxy
        self.proxy: AwsProxy | None = None
        # The proxy refuses what the template's policies do not allow (None: NGINX_EIP_FAILOVER_LAB_IAM).
        self.iam_enforced = enforcement_enabled() if iam is None else iam
        # The stack's own pair by ENI + private IP (Node*NetworkInterfaceId), each node keeping its own EIP.
        self.pair_by_network_interface = pair_by_network_interface
        # Each node found in an Auto Scaling group of its own (aws/node_groups.py), not by InstanceId.
        self.found_nodes = found_nodes
        self.node_groups: NodeGroups | None = None
        self.lifecycle_hooks: list[tuple[str, str]] = []
        self.lifecycle_env: dict[str, str] = {}
        self._group_members: dict[str, str] = {}  # instance -> node, every instance a group ever had
        # These nodes found by tags (aws/tagged_nodes.py, Node*InstanceTags): not by InstanceId nor a group.
        if found_nodes and found_by_tags:
            raise ValueError(f"found_by_tags={found_by_tags!r}: the lab finds nodes by groups or by tags, not both")
        unknown = [node for node in found_by_tags if node not in NODE_NAMES]
        if unknown:
            raise ValueError(f"found_by_tags={found_by_tags!r}: {unknown} are not nodes ({', '.join(NODE_NAMES)})")
        self.found_by_tags = tuple(found_by_tags)
        self.tagged_nodes: TaggedNodes | None = None
        # Active/active from the template (SecondElasticIpAllocationId): a second EIP on the pair by ENI,
        # on a private IP of its own on each node (second_private_ips); the pair goes by ENI for it.
        self.second_address_set = second_address_set
        self.second_set: SecondSet | None = None
        self.template_path = template or find_template()
        self.template = StackTemplate(self.template_path)
        self.settings = dict(settings or {})
        self.stack_name = stack_name or f"lab-{uuid.uuid4().hex[:8]}"
        self.nginx = ensure_nginx()
        self.nodes: dict[str, NginxNode] = {}
        # A pair that exists already (the e2e test's nodes stack, created in moto by CloudFormation);
        # None: the lab creates one.
        self._given_pair = pair
        self.pair: Pair | None = None
        self.stack: LabStack | None = None
        self.monitor_env: dict[str, str] = {}
        self.control_env: dict[str, str] = {}
        self.notification_queue_url: str | None = None
        self.extra_env: dict[str, str] = {}
        self.fleet_groups = fleet_groups
        self.full_address_sets = full_address_sets
        self.address_set_group = address_set_group
        self.fleet_nginx: FleetNginx | None = None
        self.groups: dict[str, LabGroup] = {}
        self.fleet_version = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LabEnvironment:
        try:
            if self._own_moto:
                self.moto.start()
            if self._use_proxy:
                self.proxy = AwsProxy(self.moto.url).start()
            for name in NODE_NAMES:
                self.nodes[name] = NginxNode(name, self.dir, nginx=self.nginx)
                self.nodes[name].start()
            self.pair = self._given_pair or create_pair(
                self.ec2, by_network_interface=self.pair_by_network_interface or self.second_address_set
            )
            self.second_set = create_second_set(self.ec2, self.pair) if self.second_address_set else None
            if self.found_nodes:
                self.node_groups = create_node_groups(self.ec2, self.client("autoscaling"), NODE_NAMES, self.stack_name)
            if self.found_by_tags:
                self.tagged_nodes, first = create_tagged_nodes(self.ec2, self.found_by_tags, self.stack_name)
                self._group_members.update({instance: node for node, instance in first.items()})
            parameters = {
                "ElasticIpAllocationId": self.pair.allocation_id,
                "Node1InstanceId": self.pair.instance_ids[0],
                "Node2InstanceId": self.pair.instance_ids[1],
                "Node1HealthCheckUrl": self.nodes["node1"].health_url,
                "Node2HealthCheckUrl": self.nodes["node2"].health_url,
                **self._pair_network_interfaces(),
                **(self.node_groups.parameters() if self.node_groups else {}),
                **(self.tagged_nodes.parameters(NODE_NAMES) if self.tagged_nodes else {}),
                **(self.second_set.parameters() if self.second_set is not None else {}),
                **resolve_settings(self.template, self.settings),
            }
            self.stack = create_stack(
                self.template,
                {"dynamodb": self.dynamodb, "sns": self.sns, "sqs": self.sqs, "kms": self.client("kms")},
                parameters,
                self.stack_name,
            )
            create_triggers(self.stack, {name: self.client(name) for name in ("events", "scheduler", "cloudwatch")})
            if self.proxy is not None:
                self.proxy.iam = IamEnforcer(
                    stack_policies(self.stack), **lab_lookups(self.client), enforce=self.iam_enforced
                )
            self.monitor_env = self._function_env(MONITOR_FUNCTION)
            self.control_env = self._function_env(CONTROL_FUNCTION)
            if self.node_groups is not None:
                self.lifecycle_hooks = create_lifecycle_hooks(self.client("autoscaling"), self.stack)
                self.lifecycle_env = self._function_env(LIFECYCLE_FUNCTION)
            self._subscribe_inbox()
            if self.fleet_groups or self.address_set_group:
                self._start_fleet()
        except BaseException:
            self.stop()
            raise
        return self

    def _pair_network_interfaces(self) -> dict[str, str]:
        assert self.pair is not None
        if not self.pair.network_interface_ids:
            return {}
        return {
            f"Node{index + 1}{kind}": value
            for index in range(len(NODE_NAMES))
            for kind, value in (
                ("NetworkInterfaceId", self.pair.network_interface_ids[index]),
                ("PrivateIpAddress", self.pair.private_ips[index]),
            )
        }

    def stop(self) -> None:
        warm_containers.retire_all()  # they hold this lab's endpoints and state
        for node in self.nodes.values():
            node.stop()
        if self.fleet_nginx is not None:
            self.fleet_nginx.stop()
        if self.proxy is not None:
            self.proxy.stop()
        if self._own_moto:
            self.moto.stop()

    def remove_files(self) -> None:
        """Remove the lab's directory, if the lab created it (not a base_dir it was given)."""
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LabEnvironment:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
        if error is None:
            self.remove_files()  # a lab that failed keeps its logs (nginx, moto) for a look

    # -- AWS as the lab sees it (directly, not through the proxy) ---------------------------------
    def client(self, service: str) -> Any:
        return lab_client(service, self.moto.url)

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def iam(self) -> IamEnforcer:
        """The proxy's IAM evaluator: every call of the functions, allowed or not, and why."""
        if self.proxy is None or self.proxy.iam is None:
            raise RuntimeError("this lab has no AWS proxy (use_proxy=False): nothing evaluates IAM")
        return self.proxy.iam

    @property
    def endpoint_url(self) -> str:
        """What the functions use as AWS_ENDPOINT_URL: the proxy if there is one, else moto."""
        return self.proxy.url if self.proxy is not None else self.moto.url

    def function_env(self, function: str) -> dict[str, str]:
        """The environment `function` runs with (as the template sets it, pointed at the lab's AWS)."""
        return self._function_env(function)

    def _function_env(self, function: str) -> dict[str, str]:
        assert self.stack is not None
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": _function_path(),
            "LANG": "C.UTF-8",
            **DUMMY_AWS_ENV,
            # Each function signs with its own key, so the proxy evaluates the calls against its role.
            "AWS_ACCESS_KEY_ID": access_key_for(function),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": self.stack.physical_ids.get(function, function),  # as Lambda sets it
            **self.stack.env_of(function),
        }

    def _subscribe_inbox(self) -> None:
        """An SQS queue subscribed to the stack's topic: the lab reads the operators' notifications."""
        assert self.stack is not None
        topics = self.stack.resource_names("AWS::SNS::Topic")
        if not topics:
            return
        url = self.sqs.create_queue(QueueName=f"{self.stack_name}-inbox")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for topic in topics.values():
            self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"})
        self.notification_queue_url = url

    # -- the fleet ---------------------------------------------------------------------------------
    def _start_fleet(self) -> None:
        self.fleet_nginx = FleetNginx(self.dir, nginx=self.nginx, workers=2 if self.fleet_groups > 10 else 1)
        # Tagged as the template's ABAC condition asks an operator to (nginx-eip-failover=<stack name>).
        provisioner = FleetProvisioner(self.ec2, self.fleet_nginx, stack_tag=self.stack_name)
        width = max(2, len(str(self.fleet_groups)))
        for index in range(1, self.fleet_groups + 1):
            name = f"g{index:0{width}d}"
            self.groups[name] = provisioner.full(name) if self.full_address_sets else provisioner.plain(name)
        if self.address_set_group:
            self.groups["addr"] = provisioner.full("addr")
        self.fleet_nginx.start()
        self.apply_fleet()

    def fleet_document(self) -> dict[str, Any]:
        return fleet_document(list(self.groups.values()))

    def apply_fleet(self, document: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Apply the fleet document (default: every lab group) through the ControlFunction, as
        `fleet apply` does: read the version with fleet_show, then fleet_apply on it."""
        shown = self.control({"action": "fleet_show"})
        if not shown.ok:
            raise RuntimeError(f"fleet_show failed: {shown.error_type}: {shown.error_message}\n{shown.logs[-2000:]}")
        request = {
            "action": "fleet_apply",
            "document": dict(document) if document is not None else self.fleet_document(),
            "version": shown.payload["version"],
        }
        applied = self.control(request)
        if not applied.ok:
            raise RuntimeError(f"fleet_apply failed: {applied.error_type}: {applied.error_message}")
        self.fleet_version = int(applied.payload["version"])
        return dict(applied.payload)

    def group_placement(self, name: str) -> dict[str, str | None]:
        """Where each address of a fleet group is, from EC2's describes: label -> node or None."""
        return placement(self.ec2, self.groups[name])

    def group_holder(self, name: str) -> str | None:
        """The node every address of the group is on; None when they are split or nowhere."""
        nodes = set(self.group_placement(name).values())
        return nodes.pop() if len(nodes) == 1 else None

    # -- names -----------------------------------------------------------------------------------
    @property
    def allocation_id(self) -> str:
        assert self.pair is not None
        return self.pair.allocation_id

    def instance_id(self, node: str) -> str:
        assert self.pair is not None
        return self.pair.instance_ids[NODE_NAMES.index(node)]

    def node_of(self, instance_id: str | None) -> str | None:
        """The node name ("node1", "node2") of a pair member, None when unassociated, "foreign:<id>" otherwise."""
        if instance_id is None:
            return None
        if self.node_groups is not None:
            self.group_instances()  # learns every instance the groups have launched
            return self._group_members.get(instance_id, f"foreign:{instance_id}")
        if instance_id in self._group_members:  # a tag-found node's instance, now or before
            return self._group_members[instance_id]
        assert self.pair is not None
        if instance_id in self.pair.instance_ids:
            node = NODE_NAMES[self.pair.instance_ids.index(instance_id)]
            if node not in self.found_by_tags:
                return node
        return f"foreign:{instance_id}"

    @property
    def table_name(self) -> str:
        return self.monitor_env["STATE_TABLE_NAME"]

    # -- invoking the functions --------------------------------------------------------------------
    def monitor(
        self,
        event: Mapping[str, Any] | None = None,
        *,
        remaining_ms: int = 1000,
        env: Mapping[str, str] | None = None,
        on_start: Callable[[Any], None] | None = None,
        warm: bool = False,
    ) -> InvokeResult:
        """One MonitorFunction invocation; by default the schedule's input and a single cycle, in a
        fresh (cold) process; `warm`: in this lab's warm container when one is idle (lab/warm.py)."""
        assert self.stack is not None
        event = dict(self.stack.schedule_input) if event is None else event
        merged = {**self.monitor_env, **self.extra_env, **(env or {})}
        return invoke_handler("monitor", event, merged, remaining_ms=remaining_ms, on_start=on_start, warm=warm)

    def control(self, request: Any, *, env: Mapping[str, str] | None = None) -> InvokeResult:
        merged = {**self.control_env, **self.extra_env, **(env or {})}
        return invoke_handler("control", request, merged, remaining_ms=30000)

    def alarm_event(self, node: str, state: str = "ALARM") -> dict[str, Any]:
        """The event the template's CloudWatch alarm on `node`'s instance would send the monitor."""
        assert self.stack is not None
        instance = self.instance_id(node)
        return alarm_event(self.stack.alarm_for(instance), instance, state)

    # -- found nodes (aws/node_groups.py) -------------------------------------------------------
    def group_instances(self, node: str | None = None) -> dict[str, str]:
        """instance -> lifecycle state of `node`'s group (every group's when None)."""
        assert self.node_groups is not None, "this lab's nodes are not found in Auto Scaling groups"
        found: dict[str, str] = {}
        for name, group in self.node_groups.groups.items():
            if node in (None, name):
                members = group_instances(self.client("autoscaling"), group)
                self._group_members.update(dict.fromkeys(members, name))
                found.update(members)
        return found

    def node_instance(self, node: str) -> str | None:
        """`node`'s in-service instance now (None while its group has none); for a node found by tags,
        its running instance with the tags (None when there is none)."""
        if node in self.found_by_tags:
            return next((i for i, state in self.tagged_instances(node).items() if state == "running"), None)
        return next((i for i, state in self.group_instances(node).items() if state == "InService"), None)

    # -- found by tags (aws/tagged_nodes.py) ---------------------------------------------------------
    def tagged_instances(self, node: str) -> dict[str, str]:
        """instance -> EC2 state of every instance with `node`'s tags (a node found by tags)."""
        assert self.tagged_nodes is not None and node in self.found_by_tags, f"{node} is not found by tags"
        found = tagged_instances(self.ec2, self.tagged_nodes, node)
        self._group_members.update(dict.fromkeys(found, node))
        return found

    def terminate_tagged_node(self, node: str) -> str:
        """`node`'s running instance terminated (nothing replaces it) and its nginx stopped with it."""
        instance = self.node_instance(node)
        assert instance is not None, f"{node} has no running instance with its tags"
        self.ec2.terminate_instances(InstanceIds=[instance])
        self.nodes[node].stop()
        return instance

    def launch_tagged_node(self, node: str) -> str:
        """A new instance with `node`'s tags, and the node's nginx started as its."""
        assert self.tagged_nodes is not None
        instance = launch_tagged_instance(self.ec2, self.tagged_nodes, node)
        self._group_members[instance] = node
        self.nodes[node].start()
        return instance

    def terminate_node(self, node: str) -> tuple[str, dict[str, Any]]:
        """Auto Scaling terminates `node`'s instance: it waits on the lifecycle hook (Terminating:Wait);
        returns the instance and the event EventBridge delivers to the LifecycleFunction."""
        assert self.node_groups is not None
        instance = self.node_instance(node)
        assert instance is not None, f"{node} has no instance in service"
        group = self.node_groups.groups[node]
        self.client("autoscaling").terminate_instance_in_auto_scaling_group(
            InstanceId=instance, ShouldDecrementDesiredCapacity=False
        )
        hook = next(name for hook_group, name in self.lifecycle_hooks if hook_group == group)
        return instance, termination_event(group, hook, instance)

    def lifecycle(self, event: Mapping[str, Any]) -> InvokeResult:
        """One LifecycleFunction invocation (as EventBridge starts it)."""
        merged = {**self.lifecycle_env, **self.extra_env}
        return invoke_handler("lifecycle", event, merged, remaining_ms=55000)

    def replace_node(self, node: str) -> tuple[str, str, InvokeResult | None]:
        """`node`'s instance replaced as Auto Scaling does it: terminated through the hook (the
        LifecycleFunction drains it and completes the action), a new instance launched, and the node's
        nginx restarted as the new instance's. Returns (old, new, the LifecycleFunction's result).
        A node found by tags: its instance terminated and one launched with the same tags (no hook, no
        LifecycleFunction: the result is None)."""
        if node in self.found_by_tags:
            old_instance = self.terminate_tagged_node(node)
            return old_instance, self.launch_tagged_node(node), None
        old, event = self.terminate_node(node)
        result = self.lifecycle(event)
        self.nodes[node].stop()  # the old instance is gone
        new = self.node_instance(node)
        assert new is not None and new != old, f"{node}'s group launched no replacement"
        self.nodes[node].start()  # the new instance's nginx
        return old, new, result

    # -- observing ---------------------------------------------------------------------------------
    def eip_instance(self) -> str | None:
        address = self.ec2.describe_addresses(AllocationIds=[self.allocation_id])["Addresses"][0]
        return address.get("InstanceId") or None

    def holder(self) -> str | None:
        return self.node_of(self.eip_instance())

    def move_eip_by_hand(self, instance_id: str) -> None:
        self.ec2.associate_address(AllocationId=self.allocation_id, InstanceId=instance_id, AllowReassociation=True)

    def create_foreign_instance(self) -> str:
        return create_instance(self.ec2)

    def item(self) -> dict[str, Any] | None:
        """The raw state item in the table (as DynamoDB stores it), or None. With a fleet, the
        stack's own pair's item (the groups' items and the fleet document are `group_item`'s)."""
        items = self.dynamodb.scan(TableName=self.table_name, ConsistentRead=True).get("Items") or []
        items = [item for item in items if not item["pk"]["S"].startswith("preflight")]  # preflight's own items
        if self.groups:
            items = [item for item in items if item["pk"]["S"] == f"eip#{self.allocation_id}"]
        if len(items) > 1:
            raise AssertionError(f"the state table holds {len(items)} items, expected at most one")
        return items[0] if items else None

    def state(self) -> dict[str, Any]:
        item = self.item()
        if item is None:
            return {}
        state = json.loads(item["state"]["S"])
        state["version"] = int(item["version"]["N"])
        return dict(state)

    def history(self, *events: str) -> list[dict[str, Any]]:
        entries = list(self.state().get("history") or [])
        return [entry for entry in entries if not events or entry["event"] in events]

    def notifications(self) -> list[dict[str, Any]]:
        """Notifications published to the stack's topic since the last call (drained from the inbox)."""
        if self.notification_queue_url is None:
            return []
        received: list[dict[str, Any]] = []
        while True:
            messages = (
                self.sqs.receive_message(
                    QueueUrl=self.notification_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages")
                or []
            )
            if not messages:
                return received
            for message in messages:
                body = json.loads(message["Body"])
                attributes = body.get("MessageAttributes") or {}
                received.append(
                    {
                        "subject": body.get("Subject"),
                        "message": body.get("Message"),
                        "kind": (attributes.get("kind") or {}).get("Value"),
                        "severity": (attributes.get("severity") or {}).get("Value"),
                    }
                )
                self.sqs.delete_message(QueueUrl=self.notification_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def describe(self) -> dict[str, Any]:
        """What a CLI needs to drive the running lab (written to lab.json by `lab up`)."""
        assert self.stack is not None and self.pair is not None
        return {
            "endpoint_url": self.endpoint_url,
            "moto_url": self.moto.url,
            "region": REGION,
            "stack_name": self.stack_name,
            "template": str(self.template_path),
            "parameters": self.stack.parameters,
            "resources": self.stack.physical_ids,
            "elastic_ip": {"allocation_id": self.pair.allocation_id, "public_ip": self.pair.public_ip},
            "monitor_env": self.monitor_env,
            "control_env": self.control_env,
            "schedule_input": self.stack.schedule_input,
            "nodes": {
                name: {"instance_id": self.instance_id(name), **node.describe()} for name, node in self.nodes.items()
            },
            "pids": {"moto": self.moto.pid, **{name: node.pid for name, node in self.nodes.items()}},
            "lab_dir": str(self.dir),
            **(
                {
                    "fleet": {
                        "version": self.fleet_version,
                        "nginx_pid": self.fleet_nginx.pid if self.fleet_nginx else None,
                        "groups": {name: group.describe() for name, group in self.groups.items()},
                    }
                }
                if self.groups
                else {}
            ),
        }
