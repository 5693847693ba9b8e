"""The template's second address set (SecondElasticIpAllocationId): active/active on the pair, a
group of its own with the priorities reversed, every bad value named with its variable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nginx_eip_failover.core.config import SECOND_SET_GROUP, Settings, load_second_set, load_settings
from nginx_eip_failover.core.errors import ConfigError, FleetConfigError
from nginx_eip_failover.core.fleet_config import parse_fleet
from nginx_eip_failover.core.ports import FleetDocument
from nginx_eip_failover.service.fleet import Fleet

SECOND = "eipalloc-0000000000000b0a1"


@pytest.fixture
def active_active_env(base_env: dict[str, str]) -> dict[str, str]:
    return {
        **base_env,
        "NODE1_NETWORK_INTERFACE_ID": "eni-00000000000000001",
        "NODE2_NETWORK_INTERFACE_ID": "eni-00000000000000002",
        "NODE1_PRIVATE_IP_ADDRESS": "10.0.1.20",
        "NODE2_PRIVATE_IP_ADDRESS": "10.0.2.20",
        "SECOND_EIP_ALLOCATION_ID": SECOND,
        "NODE1_SECOND_PRIVATE_IP_ADDRESS": "10.0.1.30",
        "NODE2_SECOND_PRIVATE_IP_ADDRESS": "10.0.2.30",
    }


def _second(env: dict[str, str]) -> Settings | None:
    return load_second_set(load_settings(env), env)


def test_without_a_second_eip_there_is_no_second_set(base_env: dict[str, str]) -> None:
    assert _second(base_env) is None
    assert _second({**base_env, "SECOND_EIP_ALLOCATION_ID": ""}) is None


def test_the_second_set_is_the_pair_with_the_priorities_reversed_and_its_own_eip(
    active_active_env: dict[str, str],
) -> None:
    pair = load_settings(active_active_env)
    second = _second(active_active_env)
    assert second is not None
    assert second.group == SECOND_SET_GROUP
    assert second.allocation_id == SECOND != pair.allocation_id  # its own state item
    assert [(n.name, n.instance_id) for n in second.nodes] == [(n.name, n.instance_id) for n in pair.nodes]
    assert [n.priority for n in second.nodes] == [100, 101]
    assert second.address_set.elastic_ips[0].private_ips == {"node1": "10.0.1.30", "node2": "10.0.2.30"}
    assert (second.preempt_delay_seconds, second.fall_threshold) == (pair.preempt_delay_seconds, pair.fall_threshold)


BAD = [
    ({"SECOND_EIP_ALLOCATION_ID": "eip-1"}, "SECOND_EIP_ALLOCATION_ID", "eip-1"),
    ({"SECOND_EIP_ALLOCATION_ID": "PAIR"}, "SECOND_EIP_ALLOCATION_ID", "is EIP_ALLOCATION_ID"),
    ({"NODE2_SECOND_PRIVATE_IP_ADDRESS": ""}, "NODE2_SECOND_PRIVATE_IP_ADDRESS", '=""'),
    ({"NODE1_SECOND_PRIVATE_IP_ADDRESS": "10.0.1.300"}, "NODE1_SECOND_PRIVATE_IP_ADDRESS", "10.0.1.300"),
    ({"NODE1_SECOND_PRIVATE_IP_ADDRESS": "10.0.1.20"}, "NODE1_SECOND_PRIVATE_IP_ADDRESS", "10.0.1.20"),
]


@pytest.mark.parametrize(("change", "variable", "shown"), BAD, ids=[row[1] + "=" + row[2] for row in BAD])
def test_a_bad_second_set_names_the_variable_and_the_value(
    active_active_env: dict[str, str], change: dict[str, str], variable: str, shown: str
) -> None:
    env = {**active_active_env, **change}
    if env["SECOND_EIP_ALLOCATION_ID"] == "PAIR":  # the pair's own EIP
        env["SECOND_EIP_ALLOCATION_ID"] = env["EIP_ALLOCATION_ID"]
    with pytest.raises(ConfigError) as raised:
        _second(env)
    assert raised.value.variable == variable, str(raised.value)
    assert shown in str(raised.value)


def test_the_second_set_needs_the_pair_by_eni(base_env: dict[str, str]) -> None:
    env = {**base_env, "SECOND_EIP_ALLOCATION_ID": SECOND, "NODE1_SECOND_PRIVATE_IP_ADDRESS": "10.0.1.30"}
    with pytest.raises(ConfigError) as raised:
        _second(env)
    assert raised.value.variable == "NODE1_NETWORK_INTERFACE_ID"


def test_a_private_ip_without_a_second_eip_is_refused(base_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as raised:
        _second({**base_env, "NODE2_SECOND_PRIVATE_IP_ADDRESS": "10.0.2.30"})
    assert (raised.value.variable, raised.value.value) == ("NODE2_SECOND_PRIVATE_IP_ADDRESS", "10.0.2.30")


def _group(name: str, allocation_id: str) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"instance_id": "i-00000000000000091", "health_check_url": "http://10.0.9.1/", "priority": 101},
            {"instance_id": "i-00000000000000092", "health_check_url": "http://10.0.9.2/", "priority": 100},
        ],
        "elastic_ips": [{"allocation_id": allocation_id}],
    }


def test_the_fleet_document_may_not_take_the_second_sets_name_or_eip(active_active_env: dict[str, str]) -> None:
    pair = load_settings(active_active_env)
    second = _second(active_active_env)
    assert second is not None
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [_group(SECOND_SET_GROUP, "eipalloc-00000000000000c01")]}, pair, (second,))
    assert (raised.value.group, raised.value.field) == (SECOND_SET_GROUP, "name")
    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [_group("web", SECOND)]}, pair, (second,))
    assert (raised.value.field, raised.value.value) == ("elastic_ips[0].allocation_id", SECOND)
    assert "also served by group 'second' (its field 'SecondElasticIpAllocationId')" in str(raised.value)


class _Controller:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class _Store:
    def __init__(self, text: str | None) -> None:
        self.text = text

    def load(self, *, consistent: bool = False) -> FleetDocument:
        return FleetDocument(self.text, 1 if self.text else 0)

    def save(self, text: str, expected_version: int) -> int:
        raise AssertionError("not saved here")


def test_the_fleet_keeps_the_second_set_beside_the_documents_groups(active_active_env: dict[str, str]) -> None:
    pair, second = load_settings(active_active_env), _second(active_active_env)
    assert second is not None
    store = _Store(json.dumps({"groups": [_group("web", "eipalloc-00000000000000c01")]}))
    fleet = Fleet(
        _Controller(pair),  # type: ignore[arg-type]
        _Controller,  # type: ignore[arg-type]
        store,
        fixed=(_Controller(second),),  # type: ignore[arg-type]
    )
    assert sorted(fleet.controllers()) == ["default", "second", "web"]
    store.text = json.dumps({"groups": [_group("second", "eipalloc-00000000000000c02")]})
    fleet.refresh()  # invalid now (the name is the second set's): the groups loaded before stay
    assert sorted(fleet.controllers()) == ["default", "second", "web"]
    store.text = None
    fleet._version = -1
    fleet.refresh()
    assert sorted(fleet.controllers()) == ["default", "second"]
