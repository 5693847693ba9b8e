"""The operator CLI: `nginx-eip-failover status | failover | unpin | drain | undrain | history`.

It builds a control request, invokes the ControlFunction (deployed: boto3 `lambda.invoke`; or the
local lab's handler in a fresh process) and prints the answer as tables, or as JSON with `--json`.

Exit codes: 0 done; 1 the function refused or failed the request, or an AWS call failed; 2 usage
error (bad options, no function to invoke). Errors go to stderr with the function's own message.

The transport is a plain function (request -> `Response`), so tests pass their own; boto3 and the
lab are imported only when the chosen transport needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

PROG = "nginx-eip-failover"
FUNCTION_ENV = "NGINX_EIP_FAILOVER_FUNCTION_NAME"
STACK_ENV = "NGINX_EIP_FAILOVER_STACK_NAME"
FUNCTION_OUTPUT = "ControlFunctionName"  # the stack output --stack-name resolves
DEFAULT_HISTORY_LIMIT = 20
RECENT_MOVES_SHOWN = 5
# Longer than the ControlFunction's 30 s timeout, so a slow answer is waited for, not retried.
READ_TIMEOUT_SECONDS = 65

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Response:
    """One ControlFunction invocation: the payload it returned, or the error it raised."""

    payload: Any = None
    error_type: str | None = None  # set when the function raised (Lambda's FunctionError)
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_type is not None


Transport = Callable[[Mapping[str, Any]], Response]


class UsageError(Exception):
    """The command line cannot be acted on (exit 2)."""


class TransportError(Exception):
    """The function could not be invoked at all (an AWS or lab error; exit 1)."""


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Operate the NGINX Plus Elastic IP failover: show it, move the EIP, drain a node.",
        epilog="Exit codes: 0 done; 1 refused or failed (the function's message on stderr); 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _target_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary)
        _target_options(sub, top=False)
        return sub

    command("status", "show the EIP, both nodes, pin, drains, alerts and recent moves")
    failover = command("failover", "move the EIP to a node now and pin it there (until unpin)")
    failover.add_argument("--to", required=True, metavar="NODE", help="node1, node2 or an instance ID")
    failover.add_argument("--reason", help="recorded in the history")
    failover.add_argument("--force", action="store_true", help="move even if the target is not up")
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
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nginx-eip-failover")
    except PackageNotFoundError:
        return "unknown"


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """The exact JSON request a subcommand sends (`history` reads the status)."""
    command: str = args.command
    if command in ("status", "history"):
        return {"action": "status"}
    request: dict[str, Any] = {"action": command}
    if command == "failover":
        request["target"] = args.to
        if args.force:
            request["force"] = True
    elif command in ("drain", "undrain"):
        request["node"] = args.node
    if args.reason is not None:
        request["reason"] = args.reason
    return request


# -------------------------------------------------------------------------------------- transports


def lambda_transport(
    function_name: str | None,
    stack_name: str | None,
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> Transport:
    """Invoke the deployed ControlFunction synchronously (RequestResponse) through boto3."""
    resolved: list[str] = [function_name] if function_name else []

    def invoke(request: Mapping[str, Any]) -> Response:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=profile, region_name=region)
        config = Config(
            read_timeout=READ_TIMEOUT_SECONDS,
            connect_timeout=10,
            retries={"mode": "standard", "total_max_attempts": 3},  # 3 calls in all, like the functions
            user_agent_extra=f"{PROG}/{_version()}",
        )
        if not resolved:
            assert stack_name is not None
            cloudformation = session.client("cloudformation", endpoint_url=endpoint_url, config=config)
            resolved.append(resolve_function_name(cloudformation, stack_name))
        client = session.client("lambda", endpoint_url=endpoint_url, config=config)
        answer = client.invoke(
            FunctionName=resolved[0],
            InvocationType="RequestResponse",
            Payload=json.dumps(request).encode(),
        )
        return decode_lambda_answer(answer)

    return _translating_aws_errors(invoke)


def resolve_function_name(cloudformation: Any, stack_name: str) -> str:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output.get("OutputValue") for output in stacks[0].get("Outputs") or []}
    name = outputs.get(FUNCTION_OUTPUT)
    if not name:
        raise TransportError(
            f"stack {stack_name} has no {FUNCTION_OUTPUT} output (outputs: {', '.join(sorted(outputs)) or 'none'}); "
            "is it an nginx-eip-failover stack? Use --function-name instead"
        )
    return str(name)


def decode_lambda_answer(answer: Mapping[str, Any]) -> Response:
    """Lambda's invoke response -> Response; a FunctionError carries the function's errorMessage."""
    body = answer["Payload"].read()
    try:
        payload = json.loads(body) if body else None
    except json.JSONDecodeError:
        payload = body.decode(errors="replace")
    function_error = answer.get("FunctionError")
    if function_error:
        if isinstance(payload, dict):
            return Response(
                payload=payload,
                error_type=str(payload.get("errorType") or function_error),
                error_message=str(payload.get("errorMessage") or payload),
            )
        return Response(payload=payload, error_type=str(function_error), error_message=str(payload))
    return Response(payload=payload)


def _translating_aws_errors(invoke: Transport) -> Transport:
    def guarded(request: Mapping[str, Any]) -> Response:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoRegionError,
            PartialCredentialsError,
            ProfileNotFound,
        )

        try:
            return invoke(request)
        except (ProfileNotFound, NoRegionError) as exc:
            raise UsageError(f"{exc} (see --profile and --region)") from exc
        except PartialCredentialsError as exc:
            raise TransportError(f"AWS credentials: {exc}") from exc
        except ClientError as exc:
            raise TransportError(f"AWS error: {exc}") from exc
        except BotoCoreError as exc:
            raise TransportError(f"AWS error: {exc}") from exc

    return guarded


def lab_transport(lab_file: str | None) -> Transport:
    """Invoke the running lab's ControlFunction handler in a fresh process with its environment."""
    from nginx_eip_failover.lab.__main__ import lab_file as default_lab_file

    path = default_lab_file(lab_file)
    try:
        described = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(
            f"no running lab: {path} not found (start one with: python -m nginx_eip_failover.lab up)"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the lab file {path}: {exc}") from exc
    pid = described.get("pid")
    if isinstance(pid, int) and not _alive(pid):
        raise UsageError(f"the lab in {path} is not running any more (pid {pid} is gone); start it again")
    env = described.get("control_env")
    if not isinstance(env, dict):
        raise UsageError(f"the lab file {path} has no control_env")

    def invoke(request: Mapping[str, Any]) -> Response:
        from nginx_eip_failover.lab.invoke import invoke_handler

        result = invoke_handler("control", dict(request), env, remaining_ms=30000)
        if result.ok:
            return Response(payload=result.payload)
        return Response(
            payload={"errorType": result.error_type, "errorMessage": result.error_message},
            error_type=result.error_type or "Error",
            error_message=result.error_message or "the handler failed without a message",
        )

    return invoke


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def transport_for(args: argparse.Namespace, environ: Mapping[str, str]) -> Transport:
    lab = bool(args.lab or args.lab_file)
    function_name = args.function_name
    stack_name = args.stack_name
    if lab:
        if function_name or stack_name:
            raise UsageError("--lab cannot be combined with --function-name or --stack-name")
        return lab_transport(args.lab_file)
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
    return lambda_transport(
        function_name,
        stack_name,
        profile=args.profile,
        region=args.region,
        endpoint_url=args.endpoint_url,
    )


# ---------------------------------------------------------------------------------------- rendering


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def show_time(value: Any) -> str:
    """ISO-8601 UTC from the status document -> `2025-06-01 10:00:03` (UTC, to the second)."""
    at = _parse_time(value)
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _since(value: Any, now: datetime | None) -> str:
    at = _parse_time(value)
    if at is None:
        return "-"
    age = f" ({duration((now - at).total_seconds())})" if now is not None else ""
    return show_time(value) + age


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, no trailing spaces."""
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return " ".join(str(value).split())  # one line per row, whatever the reason contains


def _eip_line(status: Mapping[str, Any]) -> str:
    eip = status.get("eip") or {}
    where: str
    if eip.get("instance_id") is None:
        where = "UNASSOCIATED"
    elif eip.get("foreign"):
        where = f"on {eip['instance_id']}, OUTSIDE THE PAIR (left there; `failover --to NODE` takes it back)"
    else:
        where = f"on {eip.get('node')} ({eip['instance_id']})"
    return f"Elastic IP  {eip.get('public_ip') or '-'}  {eip.get('allocation_id') or '-'}  {where}"


def _flags(node: Mapping[str, Any]) -> str:
    flags = [
        flag for flag, key in (("pinned", "pinned"), ("drained", "drained"), ("damped", "flap_damped")) if node.get(key)
    ]
    return ",".join(flags) or "-"


def _node_rows(status: Mapping[str, Any], now: datetime | None) -> list[list[str]]:
    rows = []
    for name, node in (status.get("nodes") or {}).items():
        rows.append(
            [
                name,
                _text(node.get("instance_id")),
                _text(node.get("priority")),
                _text(node.get("health")),
                _since(node.get("since"), now),
                f"{node.get('ok_streak', 0)}/{node.get('rise_threshold', '?')}",
                f"{node.get('fail_streak', 0)}/{node.get('fall_threshold', '?')}",
                _flags(node),
                "yes" if node.get("holds_eip") else "-",
                _text(node.get("last_change_reason")),
            ]
        )
    return rows


def _pin_line(status: Mapping[str, Any]) -> str:
    pin = status.get("pin")
    if not pin:
        return "Pin         none"
    return (
        f"Pin         {pin.get('node')}  (by {pin.get('by')} at {show_time(pin.get('at'))}: {_text(pin.get('reason'))})"
    )


def _drains_line(status: Mapping[str, Any]) -> str:
    drained = [name for name, node in (status.get("nodes") or {}).items() if node.get("drained")]
    if not drained:
        return "Drains      none"
    parts = []
    for name in drained:
        drain = status["nodes"][name].get("drain") or {}
        parts.append(f"{name} (by {drain.get('by')} at {show_time(drain.get('at'))}: {_text(drain.get('reason'))})")
    return "Drains      " + "; ".join(parts)


def _settings_line(status: Mapping[str, Any]) -> str:
    settings = status.get("settings") or {}
    if not settings:
        return ""
    preempt = (
        f"preempt after {duration(settings.get('preempt_delay_seconds', 0))} up"
        if settings.get("preempt")
        else "no preempt"
    )
    return (
        f"Policy      {preempt}, at least {duration(settings.get('min_seconds_between_moves', 0))} between moves; "
        f"probes every {settings.get('interval_seconds')}s, timeout {settings.get('timeout_seconds')}s"
    )


def _move_rows(entries: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for entry in entries:
        detail = entry.get("detail") or {}
        seconds = detail.get("seconds")
        rows.append(
            [
                show_time(entry.get("at")),
                _text(entry.get("event")),
                _text(detail.get("from") or "unassociated"),
                _text(entry.get("node")),
                f"{seconds:.2f}" if isinstance(seconds, int | float) else "-",
                _text(entry.get("by")),
                _text(entry.get("reason")),
            ]
        )
    return rows


def render_status(status: Mapping[str, Any]) -> str:
    now = _parse_time(status.get("checked_at"))
    lines = [_eip_line(status)]
    lines.append(
        table(
            ["NODE", "INSTANCE", "PRIORITY", "HEALTH", "SINCE (UTC)", "OK", "FAIL", "FLAGS", "EIP", "LAST CHANGE"],
            _node_rows(status, now),
        )
    )
    lines.append(_pin_line(status))
    lines.append(_drains_line(status))
    alerts = status.get("alerts") or []
    lines.append("Alerts      " + (", ".join(alerts) if alerts else "none"))
    move = status.get("move_in_progress")
    if move:
        lines.append(
            f"Moving      {move.get('id')} to {move.get('target')}, started {show_time(move.get('started_at'))}"
        )
    settings = _settings_line(status)
    if settings:
        lines.append(settings)
    lines.append(f"Checked     {show_time(status.get('checked_at'))} UTC, state version {status.get('state_version')}")
    moves = list(status.get("recent_moves") or [])[-RECENT_MOVES_SHOWN:]
    if moves:
        lines.append("")
        lines.append("Recent moves")
        lines.append(table(["TIME (UTC)", "EVENT", "FROM", "TO", "SECONDS", "BY", "REASON"], _move_rows(moves)))
    else:
        lines.append("Recent moves: none")
    return "\n".join(lines)


def render_history(entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return "No history recorded yet."
    rows = [
        [
            show_time(entry.get("at")),
            _text(entry.get("event")),
            _text(entry.get("node")),
            _text(entry.get("by")),
            _text(entry.get("reason")),
        ]
        for entry in entries
    ]
    return table(["TIME (UTC)", "EVENT", "NODE", "BY", "REASON"], rows)


def render_action(request: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """What an accepted change did, then the resulting status."""
    subject = request.get("target") or request.get("node") or ""
    words = [str(request.get("action")), *([str(subject)] if subject else [])]
    if request.get("force"):
        words.append("(forced)")
    lines = [f"Request     {' '.join(words)}: {'accepted' if payload.get('ok') else 'accepted, but the move failed'}"]
    lines.append(f"Decision    {_text(payload.get('result'))}")
    if payload.get("moved_to"):
        lines.append(f"Moved       the EIP to {payload['moved_to']}")
    if payload.get("error"):
        lines.append(f"Error       {_text(payload.get('error'))}")
    status = payload.get("status")
    if isinstance(status, Mapping):
        lines.extend(["", render_status(status)])
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main


def run(args: argparse.Namespace, transport: Transport, out: TextIO, err: TextIO) -> int:
    """Send the subcommand's request through `transport`, print the answer, return the exit code."""
    request = build_request(args)
    response = transport(request)
    if response.failed:
        if args.output == "json" and response.payload is not None:
            print(json.dumps(response.payload, indent=2), file=out)
        message = response.error_message or response.error_type
        print(f"{PROG}: {message}", file=err)
        if message and '"force": true' in message:
            print(f"{PROG}: add --force to move the EIP there anyway", file=err)
        return EXIT_FAILED
    payload = response.payload
    if not isinstance(payload, Mapping) or not isinstance(payload.get("status"), Mapping):
        print(f"{PROG}: unexpected answer from the function: {json.dumps(payload)[:500]}", file=err)
        return EXIT_FAILED
    if args.command == "history":
        entries = list(payload["status"].get("history") or [])[-args.limit :]
        print(json.dumps(entries, indent=2) if args.output == "json" else render_history(entries), file=out)
        return EXIT_OK
    if args.output == "json":
        print(json.dumps(payload, indent=2), file=out)
    elif args.command == "status":
        print(render_status(payload["status"]), file=out)
    else:
        print(render_action(request, payload), file=out)
    if payload.get("ok") is False:
        print(f"{PROG}: {args.command} accepted but the EIP move failed: {payload.get('error')}", file=err)
        return EXIT_FAILED
    return EXIT_OK


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
        chosen = transport or transport_for(args, os.environ if environ is None else environ)
        return run(args, chosen, out, err)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_USAGE
    except TransportError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `nginx-eip-failover status --json | head`: the reader left; say nothing more.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
