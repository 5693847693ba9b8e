"""Read template.yaml as plain data: a PyYAML loader that accepts CloudFormation's short-form tags.

Each tag becomes the long form CloudFormation uses itself:
`!Ref X` -> {"Ref": "X"}, `!GetAtt A.B` -> {"Fn::GetAtt": ["A", "B"]}, `!Condition C` -> {"Condition": "C"},
any other `!Name value` -> {"Fn::Name": value} (`!Sub`, `!If`, `!Join`, `!Select`, `!Not`, ...).
Only PyYAML is needed, so the helper can be imported by the tests and by the lab alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["CloudFormationLoader", "load_template", "load_yaml"]


class CloudFormationLoader(yaml.SafeLoader):
    """yaml.SafeLoader plus CloudFormation's short-form intrinsic function tags."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - PyYAML has no other node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> Any:
    """Parse CloudFormation YAML text (any document, not only a whole template)."""
    return yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass


def load_template(path: str | Path) -> dict[str, Any]:
    """The template at `path` as a dict, intrinsic functions in their long form."""
    data = load_yaml(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a CloudFormation template (no mapping at the top level)")
    return data
