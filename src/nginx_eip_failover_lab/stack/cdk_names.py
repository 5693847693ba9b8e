"""A template synthesized by the CDK construct (constructs/), read under template.yaml's logical names.

The CDK names each resource `<path><hash>` (e.g. FailoverMonitorFunctionBCE2C7E9); its `aws:cdk:path`
metadata ends in the construct ID, which the construct sets to template.yaml's logical name
(MonitorFunction, MonitorFunctionEveryMinute, ...). Every logical ID, and every reference to one (Ref,
Fn::GetAtt, ${X} and ${X.Attr} in Fn::Sub, DependsOn), is renamed to that ID, so the lab and the parity
test read a synthesized template exactly as they read template.yaml. A template without that metadata
(template.yaml itself) is returned unchanged.
"""

from __future__ import annotations

import re
from typing import Any

PATH_METADATA = "aws:cdk:path"
_NOT_RENAMED = {"AWS::CDK::Metadata"}


class CdkTemplateError(ValueError):
    """Two resources of the synthesized template would get the same name."""


def synthesized_names(data: dict[str, Any]) -> dict[str, str]:
    """Synthesized logical ID -> the construct ID its path ends in ("{}" when not synthesized by the CDK)."""
    names: dict[str, str] = {}
    for logical_id, resource in (data.get("Resources") or {}).items():
        path = (resource.get("Metadata") or {}).get(PATH_METADATA)
        if not isinstance(path, str) or resource.get("Type") in _NOT_RENAMED:
            continue
        parts = path.split("/")
        if parts[-1] == "Resource" and len(parts) > 1:  # an L2's inner resource: its construct's ID
            parts = parts[:-1]
        names[logical_id] = parts[-1]
    taken: dict[str, str] = {}
    for logical_id, name in names.items():
        if name in taken:
            raise CdkTemplateError(f"{taken[name]} and {logical_id} both end their {PATH_METADATA} in {name!r}")
        taken[name] = logical_id
    return names


def with_template_names(data: dict[str, Any]) -> dict[str, Any]:
    """The template with its logical IDs (and the references to them) renamed by `synthesized_names`."""
    names = synthesized_names(data)
    if not names:
        return data
    renamed: dict[str, Any] = _rename(data, names)
    renamed["Resources"] = {
        names.get(logical_id, logical_id): resource for logical_id, resource in renamed["Resources"].items()
    }
    return renamed


def _rename(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_rename(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and isinstance(value["Ref"], str):
        return {"Ref": names.get(value["Ref"], value["Ref"])}
    if set(value) == {"Fn::GetAtt"} and isinstance(value["Fn::GetAtt"], list):
        target, *rest = value["Fn::GetAtt"]
        return {"Fn::GetAtt": [names.get(target, target), *(_rename(item, names) for item in rest)]}
    if set(value) == {"Fn::Sub"}:
        argument = value["Fn::Sub"]
        if isinstance(argument, str):
            return {"Fn::Sub": _rename_sub(argument, names)}
        text, variables = argument
        return {"Fn::Sub": [_rename_sub(text, names, set(variables)), _rename(variables, names)]}
    renamed = {key: _rename(item, names) for key, item in value.items()}
    depends = renamed.get("DependsOn")
    if isinstance(depends, str):
        renamed["DependsOn"] = names.get(depends, depends)
    elif isinstance(depends, list):
        renamed["DependsOn"] = [names.get(item, item) for item in depends]
    return renamed


def _rename_sub(text: str, names: dict[str, str], variables: frozenset[str] | set[str] = frozenset()) -> str:
    def substitute(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner.startswith("!") or inner in variables:
            return match.group(0)
        target, dot, attribute = inner.partition(".")
        return "${" + names.get(target, target) + dot + attribute + "}"

    return re.sub(r"\$\{([^}]+)\}", substitute, text)
