"""The template's IAM policies, resolved as deployed: each action granted only on resource types it is
authorized against, and the documents `make iam-lint` hands parliament."""

from __future__ import annotations

import json
from pathlib import Path

from nginx_eip_failover_lab.iam.policy_documents import resource_mismatches, write_documents
from nginx_eip_failover_lab.stack.template import find_template

ENI_GRANT = (
    "Action: ec2:AssignPrivateIpAddresses\n"
    "              Resource: !Sub arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:network-interface/*"
)


def test_every_grant_names_only_resources_its_actions_are_authorized_against() -> None:
    assert resource_mismatches() == []


def test_a_resource_its_action_never_uses_is_found(tmp_path: Path) -> None:
    text = find_template().read_text()
    assert text.count(ENI_GRANT) == 2  # both functions
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace(ENI_GRANT, ENI_GRANT.replace("network-interface/*", "route-table/*")))
    problems = resource_mismatches(broken)
    assert len(problems) == 2
    assert all(
        "ec2:AssignPrivateIpAddresses is never authorized against" in p and "route-table/*" in p for p in problems
    )


def test_the_documents_for_the_linter_cover_both_pair_shapes(tmp_path: Path) -> None:
    written = write_documents(tmp_path)
    names = sorted(path.name.split(".", 2)[1] for path in written if path.name.startswith("by-eni."))
    assert [name for name in names if name.startswith("role-")] == [
        "role-ControlFunction",
        "role-MonitorFunction",
        "role-MonitorFunctionEveryMinuteRole",
    ]
    assert sum(name.startswith("resource-lambda-") for name in names) == 1  # the alarms' permissions
    assert sum(name.startswith("resource-kms-") for name in names) == 1  # the key policy
    by_eni = json.loads((tmp_path / "by-eni.role-MonitorFunction.json").read_text())
    pair = next(s for s in by_eni["Statement"] if s["Sid"] == "MoveTheElasticIpBetweenThePair")
    assert [arn.split(":")[-1].split("/")[0] for arn in pair["Resource"]] == [
        "elastic-ip",
        "network-interface",
        "network-interface",
    ]
    for path in written:
        document = json.loads(path.read_text())
        assert document["Version"] == "2012-10-17" and document["Statement"]
        if ".role-" in path.name:
            assert all("Principal" not in statement for statement in document["Statement"])
