"""The command line: options, the request each subcommand sends, the transport it goes through,
what is printed and the exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from . import drill, emergency_stop, incident, transports
from .common import PROG, TransportError, UsageError, version
from .rendering import render_action, render_fleet, render_history, render_json, render_plan, render_status
from .transports import FUNCTION_OUTPUT, Transport

if TYPE_CHECKING:
    from nginx_eip_failover.service.status import StatusDocument

FUNCTION_ENV = "NGINX_EIP_FAILOVER_FUNCTION_NAME"
STACK_ENV = "NGINX_EIP_FAILOVER_STACK_NAME"
DEFAULT_HISTORY_LIMIT = 20

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Refusals that `--force` overrides (RefusedError codes: see nginx_eip_failover.core.errors.RefusalCode).
FORCE_OVERRIDES = frozenset({"target_down", "foreign_holder"})


# ----------------------------------------------------------------------------------------- parsing


def _target_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Where to send the request and how to print it; accepted before or after the subcommand.

    On the subcommands the defaults are SUPPRESS, so a value given before the subcommand is not
    overwritten by the subcommand's default.
    """

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("where and how (AWS CLI conventions)")
    group.add_argument("--profile", default=default(None), help="AWS profile (default: AWS_PROFILE or default)")
    group.add_argument("--region", default=default(None), help="AWS region (default: AWS_REGION / profile)")
    group.add_argument(
        "--endpoint-url",
        default=default(None),
        help="AWS endpoint for Lambda and CloudFormation (AWS_ENDPOINT_URL is honoured too)",
    )
    group.add_argument(
        "--function-name",
        default=default(None),
        help=f"the ControlFunction's name or ARN (default: ${FUNCTION_ENV})",
    )
    group.add_argument(
        "--stack-name",
        default=default(None),
        help=f"the stack; its {FUNCTION_OUTPUT} output names the function (default: ${STACK_ENV})",
    )
    group.add_argument("--lab", action="store_true", default=default(False), help="use the local lab (lab up)")
    group.add_argument(
        "--lab-file",
        default=default(None),
        metavar="PATH",
        help="the running lab's description (implies --lab; default: $NGINX_EIP_FAILOVER_LAB_FILE or "
        "/tmp/nginx-eip-failover-lab/lab.json)",
    )
    group.add_argument(
        "--output",
        choices=["table", "json"],
        default=default("table"),
        help="table (default) or json: the function's raw answer",
    )
    group.add_argument(
        "--json", dest="output", action="store_const", const="json", default=default("table"), help="--output json"
    )


# Commands that take --dry-run (plan is a dry run of a monitor cycle by itself).
DRY_RUNNABLE = frozenset({"failover", "unpin", "drain", "undrain"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Operate the NGINX Plus Elastic IP failover: show it, move the EIP, drain a node.",
        epilog="Exit codes: 0 done; 1 refused or failed (the function's message on stderr); 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    _target_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str, *, grouped: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary)
        _target_options(sub, top=False)
        if name in DRY_RUNNABLE:
            sub.add_argument("--dry-run", action="store_true", help="answer what would happen and why; change nothing")
        if grouped:
            sub.add_argument(
                "--group",
                metavar="NAME",
                help="the group of a fleet (optional while the stack serves its own pair alone; "
                "status without it shows the fleet table)",
            )
        return sub

    command("status", "show the EIP, both nodes, pin, drains, alerts and recent moves")
    failover = command("failover", "move the EIP to a node now and pin it there (until unpin)")
    failover.add_argument("--to", required=True, metavar="NODE", help="node1, node2 or an instance ID")
    failover.add_argument("--reason", help="recorded in the history")
    failover.add_argument("--force", action="store_true", help="move even if the target is not up")
    command("plan", "what the monitor would do now, and why (probes now; writes and moves nothing)")
    command("preflight", "check now that a failover would work: permissions (DryRun), resources, probes, triggers")
    unpin = command("unpin", "clear the pin; normal preemption rules apply again")
    unpin.add_argument("--reason", help="recorded in the history")
    for name, summary in (
        ("drain", "never choose NODE; the EIP leaves it when the other node is up"),
        ("undrain", "make NODE eligible again"),
    ):
        sub = command(name, summary)
        sub.add_argument("node", metavar="NODE", help="node1, node2 or an instance ID")
        sub.add_argument("--reason", help="recorded in the history")
    history = command("history", "show the recorded events (oldest first)")
    history.add_argument(
        "--limit",
        type=_positive_int,
        default=DEFAULT_HISTORY_LIMIT,
        metavar="N",
        help=f"the last N events (default {DEFAULT_HISTORY_LIMIT}; the state keeps 100)",
    )
    fleet = command(
        "fleet", "show the fleet document, or apply a new one (validated by the function first)", grouped=False
    )
    fleet_commands = fleet.add_subparsers(dest="fleet_command", metavar="show|apply", required=True)
    fleet_commands.add_parser("show", help="print the fleet document and its version (JSON)")
    apply = fleet_commands.add_parser("apply", help="replace the fleet document with FILE (JSON)")
    apply.add_argument("file", metavar="FILE", type=Path, help="the fleet document (schema: fleet.schema.json)")
    drill.add_command(command)
    incident.add_commands(command)  # explain, replay, log export: the decision log
    emergency_stop.add_commands(command)  # stop, resume: the emergency stop
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """The exact JSON request a subcommand sends (`history` reads the status)."""
    command: str = args.command
    if command == "fleet":
        return {"action": "fleet_show"}  # `apply` sends its document with the version read here
    group = {"group": args.group} if args.group else {}
    if command in ("status", "history"):
        return {"action": "status", **group}
    if command == "drill":
        return drill.build_request(args, group)
    request: dict[str, Any] = {"action": command, **group}
    if getattr(args, "dry_run", False):
        request["dry_run"] = True
    if command == "failover":
        request["target"] = args.to
        if args.force:
            request["force"] = True
    elif command in ("drain", "undrain"):
        request["node"] = args.node
    if getattr(args, "reason", None) is not None:
        request["reason"] = args.reason
    return request


def transport_for(args: argparse.Namespace, environ: Mapping[str, str]) -> Transport:
    """The transport the options (or the environment) choose: the lab, or the deployed function."""
    lab = bool(args.lab or args.lab_file)
    function_name = args.function_name
    stack_name = args.stack_name
    if lab:
        if function_name or stack_name:
            raise UsageError("--lab cannot be combined with --function-name or --stack-name")
        return transports.lab_transport(args.lab_file)
    if function_name and stack_name:
        raise UsageError("give --function-name or --stack-name, not both")
    if not function_name and not stack_name:
        function_name = environ.get(FUNCTION_ENV) or None
        stack_name = None if function_name else environ.get(STACK_ENV) or None
    if not function_name and not stack_name:
        raise UsageError(
            "which ControlFunction? give --stack-name NAME (the deployed stack), --function-name NAME_OR_ARN "
            f"or --lab (or set {STACK_ENV} / {FUNCTION_ENV})"
        )
    return transports.lambda_transport(
        function_name,
        stack_name,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )


# --------------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace, transport: Transport, out: TextIO, err: TextIO) -> int:
    """Send the subcommand's request through `transport`, print the answer, return the exit code."""
    request = build_request(args)
    response = transport(request)
    if args.command == "fleet" and not response.failed and args.fleet_command == "apply":
        request = _apply_request(args.file, response.payload)
        response = transport(request)
    if response.failed:
        if args.output == "json" and response.payload is not None:
            print(render_json(response.payload), file=out)
        print(f"{PROG}: {response.message or response.error_type}", file=err)
        if response.refusal in FORCE_OVERRIDES:
            print(f"{PROG}: add --force to move the EIP there anyway", file=err)
        return EXIT_FAILED
    payload = response.payload
    if isinstance(payload, Mapping) and isinstance(payload.get("drill"), Mapping):
        print(render_json(payload) if args.output == "json" else drill.render(payload["drill"]), file=out)
        return EXIT_OK if payload.get("ok") else EXIT_FAILED
    if isinstance(payload, Mapping) and args.command == "fleet":
        shown = payload.get("document") if args.fleet_command == "show" else payload
        print(
            render_json(shown) if args.output == "json" or args.fleet_command == "show" else _applied(payload), file=out
        )
        return EXIT_OK
    if isinstance(payload, Mapping) and args.command == "preflight":
        print(render_json(payload) if args.output == "json" else _preflight_table(payload), file=out)
        return EXIT_OK if payload.get("ok") else EXIT_FAILED
    if isinstance(payload, Mapping) and payload.get("dry_run") is True:
        print(render_json(payload) if args.output == "json" else render_plan(payload), file=out)
        return EXIT_OK if payload.get("ok") is not False else EXIT_FAILED
    if isinstance(payload, Mapping) and isinstance(payload.get("fleet"), list):
        print(render_json(payload) if args.output == "json" else render_fleet(payload["fleet"]), file=out)
        return EXIT_OK
    if not isinstance(payload, Mapping) or not isinstance(payload.get("status"), Mapping):
        print(f"{PROG}: unexpected answer from the function: {json.dumps(payload)[:500]}", file=err)
        return EXIT_FAILED
    status = cast("StatusDocument", payload["status"])
    if args.command == "history":
        entries = list(status.get("history") or [])[-args.limit :]
        print(render_json(entries) if args.output == "json" else render_history(entries), file=out)
        return EXIT_OK
    if args.output == "json":
        print(render_json(payload), file=out)
    elif args.command == "status":
        print(render_status(status), file=out)
    else:
        print(render_action(request, payload), file=out)
    if payload.get("ok") is False:
        print(f"{PROG}: {args.command} accepted but the EIP move failed: {payload.get('error')}", file=err)
        return EXIT_FAILED
    return EXIT_OK


def _preflight_table(payload: Mapping[str, Any]) -> str:
    from nginx_eip_failover.core.preflight import CheckRow, render_table

    rows = [
        CheckRow(str(row.get("check")), str(row.get("target")), row.get("status", "failed"), str(row.get("detail")))
        for row in payload.get("checks") or []
    ]
    return render_table(rows)


def _apply_request(path: Path, shown: Any) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the fleet document {str(path)!r}: {exc}") from None
    version = shown.get("version", 0) if isinstance(shown, Mapping) else 0
    return {"action": "fleet_apply", "document": document, "version": version}


def _applied(payload: Mapping[str, Any]) -> str:
    groups = payload.get("groups") or []
    return f"fleet document version {payload.get('version')} applied: {len(groups)} group(s): {', '.join(groups)}"


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: Transport | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, errors exit 2
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        env = os.environ if environ is None else environ
        if args.command in incident.COMMANDS:
            return incident.run(args, lambda: transport or transport_for(args, env), out, err)
        if args.command in emergency_stop.COMMANDS:
            return emergency_stop.run(args, env, out, err)
        chosen = transport or transport_for(args, env)
        return run(args, chosen, out, err)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_USAGE
    except TransportError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: {drill.INTERRUPTED_HINT if args.command == 'drill' else 'interrupted'}", file=err)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `nginx-eip-failover status --json | head`: the reader left; say nothing more.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
