"""The EC2 adapter against moto: describe, verified moves, no needless AssociateAddress, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from nginx_eip_failover.adapters import aws_clients
from nginx_eip_failover.adapters.ec2.elastic_ip import ElasticIpMover
from nginx_eip_failover.core.errors import ElasticIpError
from support.moto_pair import create_pair


@dataclass
class Ec2World:
    client: Any
    allocation_id: str
    public_ip: str
    instances: list[str]
    associate_calls: list[dict[str, Any]] = field(default_factory=list)

    def holder(self) -> str | None:
        address = self.client.describe_addresses(AllocationIds=[self.allocation_id])["Addresses"][0]
        return address.get("InstanceId") or None


@pytest.fixture
def world(moto_module: None, boto_session: boto3.session.Session) -> Ec2World:
    """Fresh instances and a fresh EIP in the module's moto, seen through a fresh client."""
    client = boto_session.client("ec2", region_name="us-east-1")
    pair = create_pair(client)
    state = Ec2World(client, pair.allocation_id, pair.public_ip, list(pair.instance_ids))

    def count(params: dict[str, Any], **_: Any) -> None:
        state.associate_calls.append(params)

    client.meta.events.register("before-parameter-build.ec2.AssociateAddress", count)
    return state


def test_describe_an_unassociated_eip(world: Ec2World) -> None:
    association = ElasticIpMover(world.client, world.allocation_id).describe()
    assert association.allocation_id == world.allocation_id
    assert association.public_ip == world.public_ip
    assert association.instance_id is None


def test_move_associates_with_reassociation_and_verifies(world: Ec2World) -> None:
    mover = ElasticIpMover(world.client, world.allocation_id)
    result = mover.move(world.instances[0])
    assert result.association.instance_id == world.instances[0]
    assert world.holder() == world.instances[0]
    assert len(world.associate_calls) == 1
    assert world.associate_calls[0]["AllowReassociation"] is True
    assert world.associate_calls[0]["AllocationId"] == world.allocation_id
    result = mover.move(world.instances[1])
    assert result.association.instance_id == world.instances[1]
    assert world.holder() == world.instances[1]
    assert mover.describe().instance_id == world.instances[1]
    assert len(world.associate_calls) == 2


def test_no_associate_address_when_the_eip_is_already_there(world: Ec2World) -> None:
    calls: list[str] = []
    world.client.meta.events.register("before-call.ec2.AssociateAddress", lambda **_: calls.append("call"))
    world.client.associate_address(AllocationId=world.allocation_id, InstanceId=world.instances[1])
    assert calls == ["call"]
    result = ElasticIpMover(world.client, world.allocation_id).move(world.instances[1])
    assert calls == ["call"]
    assert result.association.instance_id == world.instances[1]
    assert (result.associate_ms, result.verify_ms) == (0.0, 0.0)


def test_an_unknown_allocation_is_an_elastic_ip_error(world: Ec2World) -> None:
    mover = ElasticIpMover(world.client, "eipalloc-0000000000000dead")
    with pytest.raises(ElasticIpError, match=r"DescribeAddresses eipalloc-0000000000000dead: .*NotFound"):
        mover.describe()
    with pytest.raises(ElasticIpError):
        mover.move(world.instances[0])
    assert world.associate_calls == []


def test_a_refused_association_is_an_elastic_ip_error_and_moves_nothing(world: Ec2World) -> None:
    mover = ElasticIpMover(world.client, world.allocation_id)
    mover.move(world.instances[0])
    with pytest.raises(ElasticIpError, match=r"AssociateAddress .*InvalidInstanceID"):
        mover.move("i-00000000000000fff")
    assert world.holder() == world.instances[0]


def test_a_denied_association_names_the_iam_action_and_the_resources(world: Ec2World) -> None:
    def deny(model: Any, **_: Any) -> None:
        if model.name == "AssociateAddress":
            raise ClientError(
                {
                    "Error": {
                        "Code": "UnauthorizedOperation",
                        "Message": "You are not authorized to perform this operation.",
                    }
                },
                "AssociateAddress",
            )

    world.client.meta.events.register("before-call.ec2.AssociateAddress", deny)
    with pytest.raises(ElasticIpError) as raised:
        ElasticIpMover(world.client, world.allocation_id).move(world.instances[1])
    assert str(raised.value) == (
        f"AssociateAddress {world.allocation_id}: UnauthorizedOperation: denied ec2:AssociateAddress on "
        f"elastic-ip/{world.allocation_id}, instance/{world.instances[1]}"
    )
    assert world.holder() != world.instances[1]


def test_an_unreachable_endpoint_is_an_elastic_ip_error() -> None:
    client = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(ElasticIpError, match="DescribeAddresses eipalloc-0123456789abcdef0"):
        ElasticIpMover(client, "eipalloc-0123456789abcdef0").describe()


class LaggingEc2:
    """DescribeAddresses shows a new association only after `lag` more calls (eventual consistency)."""

    def __init__(self, lag: int) -> None:
        self.instance: str | None = "i-0123456789abcdef1"
        self.pending: str | None = None
        self.lag = lag
        self.describes = 0

    def describe_addresses(self, **_: Any) -> dict[str, Any]:
        self.describes += 1
        if self.pending is not None:
            if self.lag == 0:
                self.instance, self.pending = self.pending, None
            else:
                self.lag -= 1
        return {"Addresses": [{"PublicIp": "198.51.100.7", "InstanceId": self.instance or ""}]}

    def associate_address(self, **kwargs: Any) -> dict[str, Any]:
        self.pending = kwargs["InstanceId"]
        return {}


def test_move_waits_until_describe_shows_the_new_association() -> None:
    client = LaggingEc2(lag=3)
    sleeps: list[float] = []
    mover = ElasticIpMover(
        client,  # type: ignore[arg-type]
        "eipalloc-0123456789abcdef0",
        verify_interval_seconds=0.25,
        sleep=sleeps.append,
    )
    result = mover.move("i-0123456789abcdef2")
    assert result.association.instance_id == "i-0123456789abcdef2"
    assert sleeps == [0.25] * 3


def test_move_gives_up_verifying_after_the_timeout_and_reports_what_it_saw() -> None:
    client = LaggingEc2(lag=10**9)
    mover = ElasticIpMover(
        client,  # type: ignore[arg-type]
        "eipalloc-0123456789abcdef0",
        verify_timeout_seconds=0.05,
        verify_interval_seconds=0.01,
    )
    result = mover.move("i-0123456789abcdef2")
    assert result.association.instance_id == "i-0123456789abcdef1"
    assert client.describes >= 2


def test_clients_use_standard_retries_and_the_aws_endpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    for client in (aws_clients.ec2(), aws_clients.dynamodb(), aws_clients.sns()):
        assert client.meta.endpoint_url == "http://127.0.0.1:4566"
        assert client.meta.config.retries["mode"] in ("standard", "adaptive")
    assert aws_clients.ec2() is aws_clients.ec2()


def test_a_mover_given_connect_builds_its_client_at_its_first_call(world: Ec2World) -> None:
    built: list[str] = []

    def connect() -> Any:
        built.append("ec2")
        return world.client

    mover = ElasticIpMover(None, world.allocation_id, connect=connect)
    assert built == []  # a cold alarm invocation probes before EC2's client exists
    mover.describe()
    mover.move(world.instances[1])
    assert built == ["ec2"]
    assert mover.describe().instance_id == world.instances[1]


def test_a_mover_without_a_client_or_a_way_to_connect_one_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a client"):
        ElasticIpMover(None, "eipalloc-0123456789abcdef0")
