"""The deployment surface the CDK and Terraform parity tests (issue #28) compare with: read from
template.yaml at test time, for both pair shapes and both observability profiles."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from nginx_eip_failover_lab.iac_surface import VARIANTS, differences, surface, variant_parameters
from nginx_eip_failover_lab.stack.template import find_template


@pytest.fixture(scope="module")
def surfaces() -> dict[str, dict[str, Any]]:
    return {variant: surface(variant_parameters(variant)) for variant in VARIANTS}


def _grants(found: dict[str, Any], role: str, action: str) -> list[str]:
    """Resources of the role's unconditioned statements with this action (a tag-scoped statement
    grants every shape's resource types, limited by its condition)."""
    statements = found["identity"][role]
    return sorted(r for s in statements if action in s["Action"] and "Condition" not in s for r in s["Resource"])


def test_every_variant_resolves_to_logical_names_only(surfaces: dict[str, dict[str, Any]]) -> None:
    for variant, found in surfaces.items():
        text = json.dumps(found)
        # No physical name of a made-up resource is left: a random suffix would make parity fail.
        assert not re.search(r"nginx-eip-failover-[A-Z][A-Za-z0-9]+-[A-Z0-9]{7,}", text), variant
        assert found["identity"]["MonitorFunction"] and found["identity"]["ControlFunction"], variant
        assert found["schedules"], variant


def test_the_surface_is_the_same_on_every_call(surfaces: dict[str, dict[str, Any]]) -> None:
    assert surface(variant_parameters("eni-full")) == surfaces["eni-full"]


def test_pair_shape_decides_what_association_is_granted_on(surfaces: dict[str, dict[str, Any]]) -> None:
    for role in ("MonitorFunction", "ControlFunction"):
        by_instance = _grants(surfaces["instance-lean"], role, "ec2:AssociateAddress")
        by_eni = _grants(surfaces["eni-lean"], role, "ec2:AssociateAddress")
        assert any(":instance/i-0123456789abcdef1" in r for r in by_instance), role
        assert not any(":network-interface/" in r for r in by_instance), role
        assert any(":network-interface/eni-0123456789abcdef2" in r for r in by_eni), role
        assert not any(":instance/" in r for r in by_eni), role


def test_full_profile_brings_the_key_policy(surfaces: dict[str, dict[str, Any]]) -> None:
    def key_policies(found: dict[str, Any]) -> list[str]:
        return [arn for arn in found["resource_based"] if arn.startswith("arn:aws:kms:")]

    assert key_policies(surfaces["instance-full"]) and key_policies(surfaces["eni-full"])
    assert not key_policies(surfaces["instance-lean"]) and not key_policies(surfaces["eni-lean"])


def test_a_statement_added_to_the_template_shows_up(tmp_path: Path) -> None:
    # The parity tests must see template changes other engineers make: nothing here is restated.
    original = find_template().read_text()
    marker = "            - Sid: MoveTheElasticIpBetweenThePair\n"
    assert original.count(marker) == 2
    added = (
        "            - Sid: AddedForTheTest\n"
        "              Effect: Allow\n"
        "              Action: ec2:DescribeTags\n"
        "              Resource: '*'\n"
    )
    changed = tmp_path / "template.yaml"
    changed.write_text(original.replace(marker, added + marker, 1))
    before = surface(variant_parameters("instance-lean"))
    after = surface(variant_parameters("instance-lean"), changed)
    assert "ec2:DescribeTags" not in json.dumps(before["identity"]["MonitorFunction"])
    assert {"Action": ["ec2:DescribeTags"], "Effect": "Allow", "Resource": ["*"]} in after["identity"][
        "MonitorFunction"
    ]


def test_differences_name_what_is_missing_extra_or_changed(surfaces: dict[str, dict[str, Any]]) -> None:
    expected = surfaces["instance-lean"]
    assert differences(expected, copy.deepcopy(expected)) == []
    drifted = copy.deepcopy(expected)
    dropped = drifted["identity"]["ControlFunction"].pop(0)
    drifted["identity"]["ControlFunction"].append({"Action": ["ec2:*"], "Effect": "Allow", "Resource": ["*"]})
    drifted["environment"]["MonitorFunction"]["FALL_THRESHOLD"] = "4"
    drifted["schedules"].clear()
    found = differences(expected, drifted, "cdk")
    assert f"identity ControlFunction: cdk lacks statement {json.dumps(dropped, sort_keys=True)}" in found
    assert any(
        line.startswith("identity ControlFunction: cdk has extra statement") and "ec2:*" in line for line in found
    )
    assert "environment MonitorFunction.FALL_THRESHOLD: template.yaml has '3', cdk has '4'" in found
    assert "schedules: cdk lacks MonitorFunctionEveryMinute" in found
    assert len(found) == 4
