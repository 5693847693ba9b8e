"""The session's record of IAM verdicts: every call the functions made in the integration tests,
evaluated against the template's policies (the lab's proxy, `iam_enforcement`), and the grants of
those policies that no call used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nginx_eip_failover_lab.environment import LabEnvironment
from nginx_eip_failover_lab.iam.enforcement import Verdict, exercised_grants
from nginx_eip_failover_lab.iam.policies import StackPolicies


@dataclass
class IamLedger:
    calls: int = 0
    denied: list[str] = field(default_factory=list)
    # (role, statement, action, resource pattern with the lab's names generalised) -> used?
    grants: dict[tuple[str, str, str, str], bool] = field(default_factory=dict)

    def add(self, lab: LabEnvironment) -> list[Verdict]:
        """Record a finished lab's verdicts; returns its denials that no test acknowledged."""
        iam = lab.iam
        verdicts = iam.verdicts()
        self.calls += len(verdicts)
        unacknowledged = iam.denials()
        self.denied += [verdict.describe() for verdict in unacknowledged]
        used = exercised_grants(iam.policies, verdicts)
        for role, statement, action, resource in _grants(iam.policies):
            key = (role, statement, action, _generalise(resource, lab))
            self.grants[key] = self.grants.get(key, False) or (role, statement, action, resource) in used
        return unacknowledged

    def export(self) -> dict[str, Any]:
        """This process's record as plain data: a pytest-xdist worker sends it to the controller."""
        return {
            "calls": self.calls,
            "denied": self.denied,
            "grants": [[*key, used] for key, used in self.grants.items()],
        }

    def merge(self, exported: dict[str, Any]) -> None:
        """Add a worker's `export()`: calls and denials add up, a grant is used if any worker used it."""
        self.calls += int(exported["calls"])
        self.denied += list(exported["denied"])
        for role, statement, action, resource, used in exported["grants"]:
            key = (role, statement, action, resource)
            self.grants[key] = self.grants.get(key, False) or bool(used)

    def unexercised(self) -> list[str]:
        return sorted(
            f"{statement}: {action} on {resource}"
            for (_, statement, action, resource), used in self.grants.items()
            if not used
        )

    def summary(self) -> list[str]:
        if not self.calls:
            return []
        lines = [
            f"IAM: {self.calls} calls of the functions evaluated against template.yaml's policies; "
            f"{len(self.denied)} denied (unacknowledged)"
        ]
        unexercised = self.unexercised()
        lines.append(f"IAM: {len(unexercised)} grants no test exercised" + (":" if unexercised else ""))
        lines += [f"  {line}" for line in unexercised]
        return lines


def _grants(policies: StackPolicies) -> list[tuple[str, str, str, str]]:
    return [
        (role, statement.source, action, resource)
        for role, statements in policies.identity.items()
        for statement in statements
        if statement.effect == "Allow"
        for action in statement.actions
        for resource in statement.resources
    ]


def _generalise(resource: str, lab: LabEnvironment) -> str:
    """A grant's resource with this lab's names replaced, so that grants of all labs add up."""
    assert lab.stack is not None and lab.pair is not None
    replacements = {lab.stack_name: "<stack>", lab.pair.allocation_id: "<eip>"}
    replacements.update({instance: f"<node{i + 1}>" for i, instance in enumerate(lab.pair.instance_ids)})
    replacements.update({eni: f"<node{i + 1}-eni>" for i, eni in enumerate(lab.pair.network_interface_ids)})
    for name, physical in lab.stack.physical_ids.items():
        replacements[physical] = f"<{name}>"
    for old, new in sorted(replacements.items(), key=lambda item: -len(item[0])):
        resource = resource.replace(old, new)
    return resource


IAM_LEDGER = IamLedger()
