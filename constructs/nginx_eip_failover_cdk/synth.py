"""Synthesize NginxEipFailover stacks from template.yaml parameter values, offline (no AWS account:
the stacks are environment-agnostic, the asset is only staged).

    python -m nginx_eip_failover_cdk.synth SPEC.json OUT_DIR
    python -m nginx_eip_failover_cdk.synth --lab OUT_DIR     # OUT_DIR/nginx-eip-failover-lab.template.json

SPEC.json is a list of {"name": STACK, "values": {TemplateParameter: value, ...}, "parameters": [...]}:
`values` are the template.yaml parameter values the props are made from (`props_from_template_parameters`);
`parameters` names those that become CloudFormation parameters of the stack instead, named and checked
as in template.yaml (the lab provisions such a stack with its own values, as it does template.yaml).
Writes OUT_DIR/<name>.template.json for each, from one process (one jsii start, one asset copy).
`--lab` writes the stack the local lab runs (`make demo STACK=cdk`): every setting that flows into the
functions unchanged is a parameter (LAB_PARAMETERS), so the lab gives its pair and its settings as it
gives them to template.yaml; the rest is the construct's defaults (lean profile, pair by instance).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from .construct import NginxEipFailover
from .parameters import BY_NAME, LAB_PARAMETERS, ParameterSpec
from .props import props_from_template_parameters

CONSTRUCT_ID = "Failover"
LAB_STACK = "nginx-eip-failover-lab"


def cfn_parameter(stack: cdk.Stack, spec: ParameterSpec) -> cdk.CfnParameter:
    """A stack parameter with the template's name and checks (the token the construct passes through)."""
    return cdk.CfnParameter(
        stack,
        spec.name,
        type=spec.type,
        default=spec.default,
        allowed_pattern=spec.allowed_pattern,
        allowed_values=[str(v) for v in spec.allowed_values] if spec.allowed_values is not None else None,
        min_value=spec.min_value,
        max_value=spec.max_value,
        constraint_description=spec.constraint_description,
    )


def failover_stack(app: cdk.App, name: str, values: dict[str, Any], parameters: list[str]) -> cdk.Stack:
    stack = cdk.Stack(app, name, stack_name=name)
    given = dict(values)
    for parameter in parameters:
        spec = BY_NAME[parameter]
        cfn = cfn_parameter(stack, spec)
        given[parameter] = cfn.value_as_number if spec.type == "Number" else cfn.value_as_string
    props = props_from_template_parameters(given)
    NginxEipFailover(stack, CONSTRUCT_ID, **{field: getattr(props, field) for field in asdict(props)})
    return stack


def synthesize(specs: list[dict[str, Any]], out: Path) -> list[Path]:
    # Path metadata names each resource by its construct ID: the lab and the parity test map the
    # synthesized logical IDs back to template.yaml's names with it.
    app = cdk.App(
        outdir=str(out / "cdk.out"), analytics_reporting=False, context={"aws:cdk:enable-path-metadata": True}
    )
    stacks = [failover_stack(app, spec["name"], spec.get("values", {}), spec.get("parameters", [])) for spec in specs]
    assembly = app.synth()
    written = []
    for stack in stacks:
        template = assembly.get_stack_by_name(stack.stack_name).template
        path = out / f"{stack.stack_name}.template.json"
        path.write_text(json.dumps(template, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m nginx_eip_failover_cdk.synth SPEC.json|--lab OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    lab = [{"name": LAB_STACK, "values": {}, "parameters": list(LAB_PARAMETERS)}]
    specs = lab if argv[0] == "--lab" else json.loads(Path(argv[0]).read_text())
    for path in synthesize(specs, out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
