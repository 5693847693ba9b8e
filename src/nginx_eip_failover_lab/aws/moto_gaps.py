"""EC2 behaviours moto 5.x lacks that the address-set adapter depends on, modelled as EC2 does them.

Used by the in-process adapter tests (`aws_address_semantics()`, tests/support/moto_ec2_gaps.py)
and by the lab's moto server (`moto_launcher` applies them before serving), so both check the
adapter against EC2's behaviour. Each one is listed in docs/reliability.md ("What moto does not
check"). Without them moto:
- ignores AssociateAddress's PrivateIpAddress (an EIP always lands on, and is reported at, the
  ENI's primary private IP) and never disassociates the EIP already on that private IP;
- ignores AssignPrivateIpAddresses' AllowReassignment: the address stays on the old ENI too, and
  an address outside the ENI's subnet (the same-subnet rule) is accepted;
- matches the `addresses.private-ip-address` filter against the primary private IP only;
- ignores DryRun on ReplaceRoute and CreateRoute: it changes the route;
- cannot delete a CloudFormation stack holding a route table with subnet associations (it has no
  delete for AWS::EC2::RouteTable, so the VPC is never empty): the e2e test's nodes stack.
- knows no shared VPC: a route table of the VPC owner's account cannot point at a participant
  account's ENI (each account is its own backend), which routes in another account do.

`aws_address_semantics()` patches moto's in-process classes for the duration of a `with`;
`apply()` patches them for the life of the process (the lab's server).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2 import utils as moto_ec2_utils
from moto.ec2.exceptions import EC2ClientError, InvalidNetworkInterfaceIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_ip_addresses import ElasticAddress
from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
from moto.ec2.models.route_tables import RouteTable
from moto.ec2.responses.elastic_ip_addresses import ElasticIPAddresses
from moto.ec2.responses.elastic_network_interfaces import ElasticNetworkInterfaces
from moto.ec2.responses.route_tables import RouteTables
from moto.ec2.utils import random_eip_association_id


def _private_ip(eip: Any) -> str | None:
    if eip.eni is None:
        return None
    return getattr(eip, "aws_private_ip", None) or eip.eni.private_ip_address  # type: ignore[no-any-return]


def _ips_of(eni: Any) -> list[str]:
    return [eni.private_ip_address, *(item["PrivateIpAddress"] for item in eni.private_ip_addresses)]


def _associate_address(self: Any) -> ActionResult:
    backend = self.ec2_backend
    eip = backend.address_by_allocation([self._get_param("AllocationId")])[0]
    if self._get_param("InstanceId"):
        # By InstanceId: the primary ENI's primary private IP, whatever EIP is there now.
        instance = backend.get_instance(self._get_param("InstanceId"))
        eni = instance.nics[0]
        private_ip = eni.private_ip_address
    else:
        eni = backend.get_network_interface(self._get_param("NetworkInterfaceId"))
        instance = eni.instance
        private_ip = self._get_param("PrivateIpAddress") or eni.private_ip_address
        if private_ip not in _ips_of(eni):
            raise EC2ClientError(
                "InvalidParameterValue", f"The private IP address {private_ip} is not on network interface {eni.id}"
            )
    self.error_on_dryrun()  # as moto's own: a DryRun checks (DryRunOperation) and never acts
    already_there = eip.eni is eni and _private_ip(eip) == private_ip
    if eip.eni is not None and not already_there and not self._get_bool_param("AllowReassociation", False):
        raise EC2ClientError("Resource.AlreadyAssociated", f"resource {eip.allocation_id} is already associated")
    for other in backend.addresses:  # one EIP per private IP: the one there is disassociated
        if other is not eip and other.eni is eni and _private_ip(other) == private_ip:
            other.instance = other.eni = other.association_id = None
    eip.instance, eip.eni, eip.aws_private_ip = instance, eni, private_ip
    eip.association_id = random_eip_association_id()
    return ActionResult({"AssociationId": eip.association_id})


def _assign_private_ip_addresses(self: Any) -> ActionResult:
    backend = self.ec2_backend
    eni = backend.get_network_interface(self._get_param("NetworkInterfaceId"))
    wanted = self._get_param("PrivateIpAddresses", [])
    reassign = self._get_bool_param("AllowReassignment", False)
    self.error_on_dryrun()
    subnet = ipaddress.ip_network(eni.subnet.cidr_block)
    for ip in wanted:
        if ipaddress.ip_address(ip) not in subnet:  # the same-subnet rule
            raise EC2ClientError(
                "InvalidParameterValue", f"Address {ip} does not fall within the subnet's address range"
            )
        for other in backend.enis.values():
            if other is eni or other.subnet.vpc_id != eni.subnet.vpc_id or ip not in _ips_of(other):
                continue
            if ip == other.private_ip_address or not reassign:
                raise EC2ClientError("PrivateIpAddressLimitExceeded", f"Address {ip} is in use on {other.id}")
            other.private_ip_addresses = [i for i in other.private_ip_addresses if i["PrivateIpAddress"] != ip]
    eni = backend.assign_private_ip_addresses(eni.id, wanted, 0)
    return ActionResult({"NetworkInterfaceId": eni.id, "AssignedPrivateIpAddresses": eni.private_ip_addresses})


def _filter_matching(original: Callable[..., bool]) -> Callable[..., bool]:
    def matching(obj: Any, name: str, values: Any) -> bool:
        if name == "addresses.private-ip-address" and hasattr(obj, "private_ip_addresses"):
            return bool(set(_ips_of(obj)) & set(values if isinstance(values, list) else [values]))
        return original(obj, name, values)

    return matching


def _dry_run_first(original: Callable[[Any], ActionResult]) -> Callable[[Any], ActionResult]:
    """EC2 answers a DryRun with DryRunOperation and changes nothing; moto's route calls ignore it
    and act (a preflight's dry-run ReplaceRoute would move the route)."""

    def action(self: Any) -> ActionResult:
        self.error_on_dryrun()
        return original(self)

    return action


def _delete_route_table(self: Any, account_id: str, region_name: str) -> None:
    """A stack's route table deleted as CloudFormation does, its subnet associations with it."""
    self._associations.clear()
    self.ec2_backend.delete_route_table(self.id)


_route_call = threading.local()


def _shared_vpc(original: Callable[[Any], ActionResult]) -> Callable[[Any], ActionResult]:
    """A route call may name an ENI of another account in the same region: in a shared VPC the
    participant's instances sit in the owner's subnets, and the owner's route tables point at them."""

    def action(self: Any) -> ActionResult:
        _route_call.active = True
        try:
            return original(self)
        finally:
            _route_call.active = False

    return action


def _network_interface_in_any_account(original: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def get_network_interface(self: Any, eni_id: str) -> Any:
        try:
            return original(self, eni_id)
        except InvalidNetworkInterfaceIdError:
            if not getattr(_route_call, "active", False):
                raise
            for account in list(ec2_backends):
                other = ec2_backends[account].get(self.region_name)
                if other is not None and other is not self and eni_id in other.enis:
                    return other.enis[eni_id]
            raise

    return get_network_interface


def _patches() -> list[tuple[Any, str, Any]]:
    return [
        (ElasticAddress, "private_ip_address", property(_private_ip)),
        (ElasticIPAddresses, "associate_address", _associate_address),
        (ElasticNetworkInterfaces, "assign_private_ip_addresses", _assign_private_ip_addresses),
        (moto_ec2_utils, "is_filter_matching", _filter_matching(moto_ec2_utils.is_filter_matching)),
        (RouteTables, "replace_route", _shared_vpc(_dry_run_first(RouteTables.replace_route))),
        (RouteTables, "create_route", _shared_vpc(_dry_run_first(RouteTables.create_route))),
        (RouteTable, "delete", _delete_route_table),
        (
            NetworkInterfaceBackend,
            "get_network_interface",
            _network_interface_in_any_account(NetworkInterfaceBackend.get_network_interface),
        ),
    ]


def apply() -> None:
    """Patch moto for the rest of this process (the lab's moto server)."""
    for owner, name, value in _patches():
        setattr(owner, name, value)


@contextmanager
def aws_address_semantics() -> Iterator[None]:
    """Patch moto's in-process classes for the duration of a `with` (tests)."""
    missing = object()
    saved = [(owner, name, vars(owner).get(name, missing)) for owner, name, _ in _patches()]
    try:
        apply()
        yield
    finally:
        for owner, name, value in saved:
            if value is missing:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
