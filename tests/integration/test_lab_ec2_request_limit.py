"""The lab's AWS proxy enforces EC2's request limit on mutating calls when switched on; the
controller's API budget paces a burst so that none is throttled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from nginx_eip_failover.adapters.ec2.api_budget import ApiBudget
from nginx_eip_failover_lab.aws.ec2_request_limit import Ec2RequestLimit
from nginx_eip_failover_lab.aws.moto_server import MotoServer
from nginx_eip_failover_lab.aws.proxy import AwsProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsProxy]:
    started = AwsProxy(moto_server.url).start()
    yield started
    started.stop()


def _ec2(proxy: AwsProxy) -> Any:
    return boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=proxy.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def _pair(ec2: Any) -> tuple[str, str]:
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    return instance, ec2.allocate_address(Domain="vpc")["AllocationId"]


def test_the_request_limit_is_off_by_default(proxy: AwsProxy) -> None:
    ec2 = _ec2(proxy)
    instance, allocation = _pair(ec2)
    for _ in range(8):
        ec2.associate_address(AllocationId=allocation, InstanceId=instance, AllowReassociation=True)
    assert proxy.count("AssociateAddress") == 8


def test_mutating_calls_beyond_the_bucket_get_ec2s_throttling_error(proxy: AwsProxy) -> None:
    ec2 = _ec2(proxy)
    instance, allocation = _pair(ec2)
    limit = proxy.limit_ec2_requests(Ec2RequestLimit(burst=3, refill_per_second=0.01))
    assert limit is not None
    for _ in range(3):
        ec2.associate_address(AllocationId=allocation, InstanceId=instance, AllowReassociation=True)
    with pytest.raises(ClientError) as raised:
        ec2.associate_address(AllocationId=allocation, InstanceId=instance, AllowReassociation=True)
    error = raised.value.response
    assert error["Error"] == {"Code": "RequestLimitExceeded", "Message": "Request limit exceeded."}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
    # reads are not limited; the throttled call never reached moto
    ec2.describe_addresses(AllocationIds=[allocation])
    assert proxy.count("AssociateAddress") == 3
    assert proxy.calls("AssociateAddress")[-1].fault == "RequestLimitExceeded before"
    assert limit.throttled == 1
    # switched off again, calls go through
    proxy.limit_ec2_requests(None)
    ec2.associate_address(AllocationId=allocation, InstanceId=instance, AllowReassociation=True)
    assert proxy.count("AssociateAddress") == 4


def test_the_api_budget_paces_a_burst_so_that_none_is_throttled(proxy: AwsProxy) -> None:
    ec2 = _ec2(proxy)
    instance, allocation = _pair(ec2)
    proxy.limit_ec2_requests(Ec2RequestLimit(burst=3, refill_per_second=20.0))
    budget = ApiBudget(burst=3, refill_per_second=20.0)
    for _ in range(10):
        budget.acquire()
        ec2.associate_address(AllocationId=allocation, InstanceId=instance, AllowReassociation=True)
    assert proxy.count("AssociateAddress") == 10
    assert all(call.fault is None for call in proxy.calls("AssociateAddress"))
