"""The template's observers: none extra by default; with subnets, Observer2/3Function are MonitorFunction
in another subnet under another observer name, and every function names the same observers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover_lab.stack.intrinsics import Resolver
from nginx_eip_failover_lab.stack.template import StackTemplate

TEMPLATE = StackTemplate(Path(__file__).resolve().parents[2] / "template.yaml")
REQUIRED = {
    "ElasticIpAllocationId": "eipalloc-0123456789abcdef0",
    "Node1InstanceId": "i-0123456789abcdef0",
    "Node2InstanceId": "i-0123456789abcdef1",
    "Node1HealthCheckUrl": "http://10.0.1.10/health",
    "Node2HealthCheckUrl": "http://10.0.2.10/health",
}
SUBNET2, SUBNET3 = "subnet-0123456789abcdef2", "subnet-0123456789abcdef3"
OBSERVER_FUNCTIONS = ("Observer2Function", "Observer3Function")
# What an observer does not share with MonitorFunction: its name, and the preflight (run once, there).
OWN = {"OBSERVER_NAME", "PREFLIGHT_INTERVAL_SECONDS", "ALARM_NAMES"}


def resolved(**parameters: str) -> tuple[Resolver, dict[str, dict[str, str]]]:
    resolver = Resolver(TEMPLATE, {**REQUIRED, **parameters}, "stack")
    env = {
        name: {key: str(value) for key, value in resolver.resolve(TEMPLATE.raw_environment(name)).items()}
        for name, resource in TEMPLATE.of_type("AWS::Serverless::Function").items()
        if resolver.included(resource)
    }
    return resolver, env


def test_one_observer_by_default_and_nothing_extra_deployed() -> None:
    _, env = resolved()
    assert set(env) == {"MonitorFunction", "ControlFunction"}
    settings = load_settings(env["MonitorFunction"])
    assert (settings.observer, settings.observers) == ("local", ("local",))


def test_an_observer_subnet_without_security_groups_deploys_no_observer() -> None:
    _, env = resolved(Observer2SubnetId=SUBNET2)
    assert "Observer2Function" not in env
    assert any(rule.startswith("ObserverPlacement") for rule in TEMPLATE.data["Rules"])


@pytest.mark.parametrize(
    ("subnets", "observers"),
    [
        ({"Observer2SubnetId": SUBNET2}, "local,observer2"),
        ({"Observer3SubnetId": SUBNET3}, "local,observer3"),
        ({"Observer2SubnetId": SUBNET2, "Observer3SubnetId": SUBNET3}, "local,observer2,observer3"),
    ],
)
def test_each_observer_subnet_adds_an_observer_every_function_knows(subnets: dict[str, str], observers: str) -> None:
    resolver, env = resolved(**subnets, SecurityGroupIds="sg-0123456789abcdef0")
    deployed = [name for name in OBSERVER_FUNCTIONS if name in env]
    assert len(deployed) == len(subnets)
    monitor = env["MonitorFunction"]
    assert monitor["OBSERVERS"] == observers
    for name in deployed:
        number = name[len("Observer")]
        assert env[name]["OBSERVER_NAME"] == f"observer{number}"
        assert env[name]["PREFLIGHT_INTERVAL_SECONDS"] == "0"
        # everything else is MonitorFunction's: the same pair, thresholds, tables and observers
        shared = {k: v for k, v in env[name].items() if k not in OWN}
        assert shared == {k: v for k, v in monitor.items() if k not in OWN}
        settings = load_settings(env[name])
        assert settings.shares_verdicts and settings.observer in settings.observers
        properties: dict[str, Any] = TEMPLATE.resources[name]["Properties"]
        assert resolver.resolve(properties["VpcConfig"])["SubnetIds"] == [subnets[f"Observer{number}SubnetId"]]
        assert properties["Role"] == {"Fn::GetAtt": ["MonitorFunctionRole", "Arn"]}  # MonitorFunction's rights
        assert properties["Handler"] == TEMPLATE.resources["MonitorFunction"]["Properties"]["Handler"]
        assert "EveryMinute" in properties["Events"]


@pytest.mark.parametrize("function", OBSERVER_FUNCTIONS)
def test_observer_functions_build_like_the_monitor(function: str) -> None:
    # sam build builds every function, deployed or not: src/Makefile needs a target for each
    assert TEMPLATE.resources[function]["Metadata"]["BuildMethod"] == "makefile"
    makefile = (TEMPLATE.path.parent / "src" / "Makefile").read_text()
    assert f"build-{function}" in makefile
