"""Integration fixtures: one moto server per session; per test, a fresh lab (two real nginx, a fresh
pair, table and topic created from template.yaml, a recording AWS proxy) whose handlers run in
separate processes with the template's environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nginx_eip_failover_lab import processes
from nginx_eip_failover_lab.aws.moto_server import MotoServer
from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.nodes.nginx_node import find_nginx, install_instructions
from support.iam_ledger import IAM_LEDGER
from support.lab_driving import LabFactory

# Short, test-friendly settings (given as template parameters); a test overrides what it needs.
FAST_SETTINGS = {
    "HealthCheckIntervalSeconds": "0.3",
    "HealthCheckTimeoutSeconds": "0.3",  # at most the interval
    "FallThreshold": "3",
    "RiseThreshold": "2",
    "Preempt": "true",
    "PreemptDelaySeconds": "2",
    "MinSecondsBetweenMoves": "0",
    # The monitor's periodic preflight adds AWS calls (dry runs, a claim per fresh process) that tests
    # counting calls do not expect; test_lab_preflight.py turns it on where it is the subject.
    "PreflightIntervalSeconds": "0",
}


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    if find_nginx() is None:
        pytest.fail(install_instructions(), pytrace=False)  # CI installs it: never skip silently
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_lab(moto_server: MotoServer, tmp_path: Path) -> Iterator[LabFactory]:
    """Factory: make_lab(PreemptDelaySeconds="5", ...) -> a started lab; all stopped after the test.
    A fleet: make_lab(fleet_groups=3, full_address_sets=True, address_set_group=True, ...)."""
    labs: list[LabEnvironment] = []

    def make(
        *,
        fleet_groups: int = 0,
        full_address_sets: bool = False,
        address_set_group: bool = False,
        pair_by_network_interface: bool = False,
        second_address_set: bool = False,
        found_nodes: bool = False,
        found_by_tags: tuple[str, ...] = (),
        **settings: str,
    ) -> LabEnvironment:
        lab = LabEnvironment(
            settings={**FAST_SETTINGS, **settings},
            base_dir=tmp_path / f"lab{len(labs)}",
            moto=moto_server,
            fleet_groups=fleet_groups,
            full_address_sets=full_address_sets,
            address_set_group=address_set_group,
            pair_by_network_interface=pair_by_network_interface,
            second_address_set=second_address_set,
            found_nodes=found_nodes,
            found_by_tags=found_by_tags,
        )
        labs.append(lab)
        return lab.start()

    yield make
    for lab in labs:
        lab.stop()
    # Least privilege: every call the functions made is allowed by the template's policies, as IAM
    # evaluates them (the proxy refused the others). A test that denies on purpose acknowledges them.
    denied = [verdict for lab in labs if lab.proxy is not None and lab.proxy.iam for verdict in IAM_LEDGER.add(lab)]
    assert not denied, "calls the template's IAM policies do not allow:\n" + "\n".join(v.describe() for v in denied)
    leftovers = {pid: name for pid, name in processes.running().items() if name != "moto server"}
    assert not leftovers, f"processes left running after the test: {leftovers}"


@pytest.fixture
def lab(make_lab: LabFactory) -> LabEnvironment:
    return make_lab()
