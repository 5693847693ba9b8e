"""Reading template.yaml: where it is, its parameters, resources and the functions' environment.

The stack is never restated in the lab: everything it creates comes from this template, so when the
template changes, the lab changes with it (see `provisioner`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .cdk_names import with_template_names
from .cfn_yaml import load_template

TEMPLATE_ENV = "NGINX_EIP_FAILOVER_TEMPLATE"
MONITOR_FUNCTION = "MonitorFunction"
CONTROL_FUNCTION = "ControlFunction"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
SCHEDULE_TYPE = "AWS::Scheduler::Schedule"


class TemplateError(ValueError):
    """The template cannot be turned into a lab stack; the message names the place in it."""


def find_template(start: Path | None = None) -> Path:
    """template.yaml of this checkout: $NGINX_EIP_FAILOVER_TEMPLATE, else the nearest one above."""
    override = os.environ.get(TEMPLATE_ENV)
    if override:
        return Path(override)
    places = [Path(__file__).resolve().parent, (start or Path.cwd()).resolve()]
    for place in places:
        for directory in (place, *place.parents):
            candidate = directory / "template.yaml"
            if candidate.is_file():
                return candidate
    raise TemplateError(f"template.yaml not found above {places[0]} or {places[1]}; set {TEMPLATE_ENV}")


class StackTemplate:
    """Read access to a template's parameters, resources and functions' environment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # A CDK synthesized template (JSON, which is YAML) is read under template.yaml's logical names.
        self.data = with_template_names(load_template(path))
        self.parameters: dict[str, dict[str, Any]] = dict(self.data.get("Parameters") or {})
        self.resources: dict[str, dict[str, Any]] = dict(self.data.get("Resources") or {})
        self.conditions: dict[str, Any] = dict(self.data.get("Conditions") or {})
        self.mappings: dict[str, Any] = dict(self.data.get("Mappings") or {})
        if not self.resources:
            raise TemplateError(f"{path}: no Resources")

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {name: resource for name, resource in self.resources.items() if resource.get("Type") in types}

    def function(self, logical_id: str) -> dict[str, Any]:
        resource = self.resources.get(logical_id)
        if resource is None or resource.get("Type") not in FUNCTION_TYPES:
            raise TemplateError(f"{self.path}: no function resource {logical_id!r}")
        return resource

    def raw_environment(self, logical_id: str) -> dict[str, Any]:
        """The function's Environment.Variables, the Globals' first (SAM merges them so)."""
        merged: dict[str, Any] = {}
        if self.function(logical_id).get("Type") == "AWS::Serverless::Function":
            globals_ = ((self.data.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
            merged.update(globals_.get("Variables") or {})
        properties = self.function(logical_id).get("Properties") or {}
        merged.update((properties.get("Environment") or {}).get("Variables") or {})
        return merged

    def role_statements(self, role: str) -> list[tuple[str, Any]]:
        """(source, unresolved policy document) of an AWS::IAM::Role's inline policies and of the
        AWS::IAM::Policy resources attached to it (a plain CloudFormation template, e.g. a CDK synth)."""
        documents: list[tuple[str, Any]] = []
        for policy in (self.resources.get(role, {}).get("Properties") or {}).get("Policies") or []:
            documents.append((f"{role} Policies {policy.get('PolicyName', '?')}", policy.get("PolicyDocument")))
        for logical_id, resource in self.of_type("AWS::IAM::Policy").items():
            properties = resource.get("Properties") or {}
            if {"Ref": role} in (properties.get("Roles") or []):
                documents.append((f"{logical_id} (AWS::IAM::Policy)", properties.get("PolicyDocument")))
        return documents

    def schedules(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Each AWS::Scheduler::Schedule resource -> (the function it targets, its properties)."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for logical_id, resource in self.of_type(SCHEDULE_TYPE).items():
            properties = resource.get("Properties") or {}
            target = (properties.get("Target") or {}).get("Arn")
            if isinstance(target, dict) and isinstance(target.get("Fn::GetAtt"), list):
                function = str(target["Fn::GetAtt"][0])
                if function in self.resources and self.resources[function].get("Type") in FUNCTION_TYPES:
                    found[logical_id] = (function, properties)
        return found

    def parameter_for_variable(self, variable: str, functions: Iterable[str]) -> str | None:
        """The parameter a variable is a plain `!Ref` of in every given function, if any."""
        found: set[str] = set()
        for function in functions:
            value = self.raw_environment(function).get(variable)
            if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self.parameters:
                found.add(value["Ref"])
            else:
                return None
        return found.pop() if len(found) == 1 else None


def validate_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    """The checks CloudFormation makes on a parameter value before a deploy."""

    def fail(problem: str) -> TemplateError:
        return TemplateError(f"parameter {name}={value!r} {problem}")

    kind = spec.get("Type", "String")
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            raise fail("must be a Number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise fail(f"is below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise fail(f"is above MaxValue {spec['MaxValue']}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [stringify(item) for item in allowed]:
        raise fail(f"is not one of AllowedValues {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and kind == "String" and not re.fullmatch(str(pattern), value):
        raise fail(f"does not match AllowedPattern {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise fail(f"is shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise fail(f"is longer than MaxLength {spec['MaxLength']}")


def stringify(value: Any) -> str:
    """A template value as CloudFormation writes it into a string (booleans in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
