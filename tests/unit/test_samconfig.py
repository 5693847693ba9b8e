"""samconfig.toml's placeholders cannot be deployed: each fails its parameter's AllowedPattern (Python's
re agrees with CloudFormation's Java patterns on these), and the error CloudFormation shows, the
ConstraintDescription, names the parameter. The example IDs it carried up to 0.1.0 fit the
patterns, so a template rule refuses each of them by name."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from template_loader import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
OLD_EXAMPLES = {
    "ElasticIpAllocationId": "eipalloc-0123456789abcdef0",
    "Node1InstanceId": "i-0123456789abcdef1",
    "Node2InstanceId": "i-0123456789abcdef2",
}


def _overrides() -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    text = config["default"]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in shlex.split(text))


def test_samconfig_names_only_template_parameters() -> None:
    assert set(_overrides()) <= set(TEMPLATE["Parameters"])


@pytest.mark.parametrize("name", sorted(name for name, value in _overrides().items() if "REPLACE-ME" in value))
def test_each_placeholder_fails_its_pattern_and_the_message_names_the_parameter(name: str) -> None:
    parameter = TEMPLATE["Parameters"][name]
    value = _overrides()[name]
    assert not re.fullmatch(parameter["AllowedPattern"], value), f"{name}={value} would be accepted"
    assert name in parameter["ConstraintDescription"]


def test_every_required_parameter_in_samconfig_is_a_placeholder() -> None:
    required = {name for name, parameter in TEMPLATE["Parameters"].items() if "Default" not in parameter}
    overrides = _overrides()
    assert required <= set(overrides)
    assert all("REPLACE-ME" in overrides[name] for name in required)


def test_a_rule_refuses_the_old_examples_by_name() -> None:
    assertions = TEMPLATE["Rules"]["ExamplePlaceholdersReplaced"]["Assertions"]
    refused = {}
    for assertion in assertions:
        equals = assertion["Assert"]["Fn::Not"][0]["Fn::Equals"]
        refused[equals[0]["Ref"]] = equals[1]
        assert equals[0]["Ref"] in assertion["AssertDescription"]
    assert refused == OLD_EXAMPLES
    for name, value in OLD_EXAMPLES.items():  # they do fit the patterns: only the rule stops them
        assert re.fullmatch(TEMPLATE["Parameters"][name]["AllowedPattern"], value)
