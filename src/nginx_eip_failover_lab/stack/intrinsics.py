"""CloudFormation's intrinsic functions (`!Ref`, `!GetAtt`, `!Sub`, `!If`, ...) and conditions,
evaluated against the lab's stack: its parameter values, pseudo parameters and the physical names of
what the lab created."""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from nginx_eip_failover_lab.account import ACCOUNT_ID, REGION

from .template import FUNCTION_TYPES, StackTemplate, TemplateError, stringify, validate_parameter


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


def physical_suffix() -> str:
    """The random suffix CloudFormation appends to the physical names it makes up."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(12))


class Resolver:
    """Evaluates CloudFormation's intrinsic functions against the lab's stack."""

    def __init__(self, template: StackTemplate, parameters: Mapping[str, str], stack_name: str) -> None:
        self.template = template
        self.stack_name = stack_name
        self.parameters = dict(parameters)
        self.physical: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        self.pseudo: dict[str, Any] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/{uuid.uuid4()}",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}

    # -- references -------------------------------------------------------------------------
    def parameter(self, name: str) -> Any:
        spec = self.template.parameters.get(name)
        if spec is None:
            raise TemplateError(f"{self.template.path}: !Ref {name}: no such parameter or resource")
        if name in self.parameters:
            value = self.parameters[name]
        elif "Default" in spec:
            value = stringify(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no Default and the lab gave no value")
        validate_parameter(name, spec, value)
        if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith("List<"):
            return [item.strip() for item in value.split(",")] if value else []
        return value

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.parameters:
            return self.parameter(name)
        if name in self.template.resources or name in sam_generated(self.template):
            if name not in self.physical:
                self.physical[name] = f"{self.stack_name}-{name}-{physical_suffix()}"
            return self.physical[name]
        raise TemplateError(f"{self.template.path}: !Ref {name}: no such parameter or resource")

    def get_att(self, resource: str, attribute: str) -> Any:
        if (resource, attribute) in self.attributes:
            return self.attributes[(resource, attribute)]
        kind = (self.template.resources.get(resource) or {}).get("Type")
        if kind in FUNCTION_TYPES and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.ref(resource)}"
        raise TemplateError(f"{self.template.path}: !GetAtt {resource}.{attribute} is not emulated by the lab")

    # -- conditions --------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self.template.conditions:
                raise TemplateError(f"{self.template.path}: no condition {name!r}")
            self._conditions[name] = bool(self.resolve(self.template.conditions[name]))
        return self._conditions[name]

    def included(self, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.condition(str(condition))

    # -- evaluation --------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            key, argument = next(iter(value.items()))
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda name: self.ref(str(name)),
            "Fn::GetAtt": self._fn_get_att,
            "Fn::Sub": self._fn_sub,
            "Fn::Join": lambda args: str(args[0]).join(stringify(item) for item in self.resolve(args[1])),
            "Fn::Select": lambda args: self.resolve(args[1])[int(self.resolve(args[0]))],
            "Fn::Split": lambda args: str(self.resolve(args[1])).split(str(args[0])),
            "Fn::If": self._fn_if,
            "Fn::Equals": lambda args: stringify(self.resolve(args[0])) == stringify(self.resolve(args[1])),
            "Fn::Not": lambda args: not self.resolve(args[0]),
            "Fn::And": lambda args: all(self.resolve(item) for item in args),
            "Fn::Or": lambda args: any(self.resolve(item) for item in args),
            "Condition": lambda name: self.condition(str(name)),
            "Fn::FindInMap": self._fn_find_in_map,
            "Fn::GetAZs": lambda _region: [f"{REGION}{zone}" for zone in "abcdef"],
            "Fn::Base64": lambda text: self.resolve(text),
            "Fn::ToJsonString": lambda item: json.dumps(self.resolve(item), separators=(",", ":")),
        }

    def _fn_get_att(self, argument: Any) -> Any:
        resource, attribute = argument.split(".", 1) if isinstance(argument, str) else self.resolve(argument)
        return self.get_att(str(resource), str(attribute))

    def _fn_if(self, args: list[Any]) -> Any:
        return self.resolve(args[1] if self.condition(str(args[0])) else args[2])

    def _fn_find_in_map(self, args: list[Any]) -> Any:
        name, first, second = (self.resolve(item) for item in args)
        try:
            return self.template.mappings[name][first][second]
        except KeyError:
            raise TemplateError(f"{self.template.path}: !FindInMap {name}/{first}/{second} not found") from None

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = str(argument[0]), {key: self.resolve(item) for key, item in argument[1].items()}
        else:
            text, variables = str(argument), {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return stringify(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return stringify(self.get_att(resource, attribute))
            return stringify(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", substitute, text)


def sam_generated(template: StackTemplate) -> set[str]:
    """Logical IDs SAM gives the resources a function's events generate (`<Function><Event>`, e.g. the
    schedule `MonitorFunctionEveryMinute`), and the role it generates for a function without a `Role`
    (`<Function>Role`, which an AWS::IAM::Policy's `Roles` may !Ref), which the template may !Ref."""
    functions = template.of_type("AWS::Serverless::Function")
    return {
        function + event
        for function, resource in functions.items()
        for event in ((resource.get("Properties") or {}).get("Events") or {})
    } | {
        function + "Role"
        for function, resource in functions.items()
        if "Role" not in (resource.get("Properties") or {})
    }
