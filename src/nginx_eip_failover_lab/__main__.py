"""The local failover lab.

    python -m nginx_eip_failover_lab [demo] [--quick] [--verbose] [--keep]
        the scripted demo: live timeline, summary table, exit 0 only if every step behaved
    python -m nginx_eip_failover_lab up [--file PATH] [--groups N] [--address-set]
        start the lab and keep the monitor running until Ctrl-C; writes PATH (default
        $NGINX_EIP_FAILOVER_LAB_FILE or /tmp/nginx-eip-failover-lab/lab.json) for other tools;
        --groups N adds N fleet groups (g01...; their nodes are ports of one nginx), --address-set
        adds the group `addr` (an EIP by ENI + private IP, a secondary IP and a /32 route), both
        applied as the fleet document through the ControlFunction
    python -m nginx_eip_failover_lab address-set [--verbose] [--keep]
        a short demo: the address set of group `addr` moves as one on failover
    python -m nginx_eip_failover_lab found-nodes [--keep]
        a short demo: nodes in Auto Scaling groups, instances replaced while the EIP stays on the
        healthy node (docs/found-nodes.md)
    python -m nginx_eip_failover_lab control '{"action": "status"}' [--file PATH]
        invoke the ControlFunction against a running `up` lab

The functions reach AWS through the lab's proxy, which refuses what template.yaml's IAM policies do
not allow, as AWS would (NGINX_EIP_FAILOVER_LAB_IAM=off: evaluated and reported, not refused).

Everything listens on 127.0.0.1; AWS is a local moto server (no account, no real AWS call); the
nodes are real nginx processes. Exit codes: 0 all good, 1 a step failed, 2 nginx missing or a lab
setup error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import processes
from .environment import LabEnvironment
from .iam.enforcement import ENFORCEMENT_ENV, enforcement_enabled, summary_line
from .invoke import invoke_handler
from .nodes.nginx_node import NginxMissingError, ensure_nginx
from .scenarios.address_set_demo import run_address_set_demo
from .scenarios.demo import NORMAL, QUICK, DemoParameters, DemoScenario, summary_table
from .scenarios.found_nodes_demo import run_found_nodes_demo
from .scenarios.replay_check import replay_lab_log
from .scenarios.timeline import EipObserver, Timeline
from .scheduler import MonitorScheduler
from .stack.template import TemplateError

LAB_FILE_ENV = "NGINX_EIP_FAILOVER_LAB_FILE"
DEFAULT_LAB_FILE = Path("/tmp/nginx-eip-failover-lab/lab.json")  # noqa: S108 - a well-known place for the CLI


def lab_file(path: str | None) -> Path:
    return Path(path or os.environ.get(LAB_FILE_ENV) or DEFAULT_LAB_FILE)


def print_setup(lab: LabEnvironment, params: DemoParameters, timeline: Timeline) -> None:
    assert lab.stack is not None and lab.pair is not None
    out = timeline.out
    print(
        f"Template: {lab.template_path}  (stack {lab.stack_name}, created in the moto server at {lab.moto.url})",
        file=out,
    )
    for logical_id, physical in lab.stack.physical_ids.items():
        kind = lab.template.resources.get(logical_id, {}).get("Type", "(SAM event)")  # e.g. the schedule's rule
        print(f"  {logical_id:<20} {kind:<24} {physical}", file=out)
    for note in lab.stack.notes:
        print(f"  note: {note}", file=out)
    print(
        f"  schedule input: {json.dumps(lab.stack.schedule_input)}; alarms: "
        f"{', '.join(a.name for a in lab.stack.alarms) or 'none'}",
        file=out,
    )
    print(f"Elastic IP {lab.pair.allocation_id} ({lab.pair.public_ip}), unassociated at start", file=out)
    for name, node in lab.nodes.items():
        priority = lab.monitor_env.get(f"{name.upper()}_PRIORITY", "?")
        print(
            f"  {name}: {lab.instance_id(name)}  priority {priority}  nginx pid {node.pid}  {node.health_url}", file=out
        )
    print("Parameters (demo-friendly; production defaults are in template.yaml):", file=out)
    for line in params.describe().splitlines():
        print(f"  {line}", file=out)
    if lab.proxy is not None:
        print(f"The functions reach AWS through a recording proxy at {lab.proxy.url}", file=out)
        if lab.proxy.iam is not None:
            how = "refuses" if lab.proxy.iam.enforce else f"({ENFORCEMENT_ENV}=off) only records"
            print(f"  it {how} every call template.yaml's IAM policies do not allow", file=out)
    print(
        "Timeline: time since start | what | detail   (EIP holder as seen from outside by DescribeAddresses)",
        file=out,
        flush=True,
    )


def run_demo(params: DemoParameters, *, verbose: bool, keep: bool) -> int:
    timeline = Timeline()
    print("nginx-eip-failover local lab: a moto server as AWS, two real nginx as the NGINX Plus pair,", flush=True)
    print("the real MonitorFunction/ControlFunction handlers in a fresh process per invocation.\n", flush=True)
    lab = LabEnvironment(settings=params.settings())
    scheduler: MonitorScheduler | None = None
    observer: EipObserver | None = None
    keep_files = keep  # an interrupted run leaves nothing behind; a failed one keeps its logs
    try:
        lab.start()
        assert lab.stack is not None
        print_setup(lab, params, timeline)
        observer = EipObserver(lab, timeline, verbose=verbose)
        scheduler = MonitorScheduler(
            lab.monitor_env,
            lab.stack.schedule_input,
            remaining_ms=params.invocation_ms,
            on_result=observer.report_invocation,
        )
        timeline.say("LAB", f"lab up in {timeline.since():.1f} s; the schedule starts invoking MonitorFunction")
        observer.start()
        scheduler.start()
        report = DemoScenario(lab, params, timeline, observer, scheduler).run()
        scheduler.stop()
        observer.stop()
        invocations = len(scheduler.invocations)
        failed = sum(1 for item in scheduler.invocations if not item.result.ok)
        print("\n" + "=" * 100)
        print("Summary")
        print("=" * 100)
        print(summary_table(report, params))
        checked = replay_lab_log(lab)
        print(checked.line)
        iam_line, iam_allowed = summary_line(lab.proxy.iam if lab.proxy else None)
        print(iam_line)
        print(
            f"{invocations} monitor invocations ({failed} failed), each in a fresh process; "
            f"total {timeline.since():.1f} s"
        )
        passed = report.passed and checked.exact and iam_allowed
        if failed:
            passed = False
            last = next(item for item in reversed(scheduler.invocations) if not item.result.ok)
            print(
                f"A monitor invocation failed: {last.result.error_type}: {last.result.error_message}\n"
                f"{last.result.logs[-3000:]}"
            )
        keep_files = keep or not passed
        return 0 if passed else 1
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:
        keep_files = True
        raise
    finally:
        _stop_all(scheduler, observer, lab)
        if keep_files:
            print(f"Lab files (nginx configs and logs, moto log): {lab.dir}", flush=True)
        else:
            lab.remove_files()


def _stop_all(scheduler: MonitorScheduler | None, observer: EipObserver | None, lab: LabEnvironment) -> None:
    """Stop what the lab runs, invocations first, so nothing probes a node being stopped."""
    if scheduler is not None:
        scheduler.stop()
    if observer is not None:
        observer.stop()
    lab.stop()


def run_up(path: Path, params: DemoParameters, *, verbose: bool, groups: int = 0, address_set: bool = False) -> int:
    timeline = Timeline()
    lab = LabEnvironment(
        settings=params.settings(),
        use_proxy=enforcement_enabled(),  # through the proxy, under the template's least privilege
        fleet_groups=groups,
        address_set_group=address_set,
    )
    scheduler: MonitorScheduler | None = None
    observer: EipObserver | None = None
    try:
        lab.start()
        assert lab.stack is not None
        print_setup(lab, params, timeline)
        if lab.groups:
            print_fleet(lab, timeline)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({**lab.describe(), "pid": os.getpid()}, indent=2) + "\n")
        temporary.replace(path)
        observer = EipObserver(lab, timeline, verbose=verbose).start()
        scheduler = MonitorScheduler(
            lab.monitor_env,
            lab.stack.schedule_input,
            remaining_ms=params.invocation_ms,
            on_result=observer.report_invocation,
        ).start()
        print(f"\nLab running; its description is in {path}", flush=True)
        print(f'  {sys.executable} -m nginx_eip_failover_lab control \'{{"action": "status"}}\'', flush=True)
        print("  or from Python: invoke_handler('control', event, json.load(open(PATH))['control_env'])", flush=True)
        print(
            f"  hang node1: kill -STOP -{lab.nodes['node1'].pid}   resume: kill -CONT -{lab.nodes['node1'].pid}",
            flush=True,
        )
        print("Ctrl-C stops everything.\n", flush=True)
        while True:
            time.sleep(1)
    finally:
        _stop_all(scheduler, observer, lab)
        path.unlink(missing_ok=True)
        lab.remove_files()


def print_fleet(lab: LabEnvironment, timeline: Timeline) -> None:
    out = timeline.out
    nginx = lab.fleet_nginx
    print(
        f"Fleet: {len(lab.groups)} groups applied (fleet document version {lab.fleet_version}); their "
        f"{2 * len(lab.groups)} nodes are ports of one nginx (pid {nginx.pid if nginx else '?'})",
        file=out,
    )
    for name, group in lab.groups.items():
        addresses = ", ".join(group.labels())
        ports = " ".join(f"{node}:{group.nodes[node].port}" for node in group.nodes)
        print(f"  {name}: {addresses}  nodes {ports}", file=out)
    print('  status of every group: control \'{"action": "status"}\' (with a fleet, a table per group)', file=out)


def run_control(request: str, path: Path) -> int:
    try:
        described: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        print(
            f"no running lab: {path} not found (start one with: python -m nginx_eip_failover_lab up)", file=sys.stderr
        )
        return 2
    result = invoke_handler("control", json.loads(request), described["control_env"], remaining_ms=30000)
    if result.ok:
        print(json.dumps(result.payload, indent=2))
        return 0
    print(json.dumps({"errorType": result.error_type, "errorMessage": result.error_message}, indent=2))
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nginx_eip_failover_lab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", nargs="?", default="demo", choices=["demo", "up", "control", "address-set", "found-nodes"]
    )
    parser.add_argument("request", nargs="?", help="control: the request as JSON")
    parser.add_argument("--quick", action="store_true", help="shorter preempt delay and holds (for CI)")
    parser.add_argument("--verbose", action="store_true", help="print every monitor invocation")
    parser.add_argument("--keep", action="store_true", help="keep the lab's files even when the demo passes")
    parser.add_argument(
        "--file", help=f"up/control: the lab description file (default ${LAB_FILE_ENV} or {DEFAULT_LAB_FILE})"
    )
    parser.add_argument("--groups", type=int, default=0, help="up: this many extra fleet groups (g01, ...)")
    parser.add_argument(
        "--address-set",
        action="store_true",
        help="up: add the group `addr` (EIP by ENI + private IP, secondary IP, /32 route)",
    )
    args = parser.parse_args(argv)
    if args.groups < 0 or args.groups > 100:
        parser.error("--groups takes 0 to 100 (the fleet document's limit)")
    if args.command == "control":
        if not args.request:
            parser.error('control needs a request, e.g. \'{"action": "status"}\'')
        return run_control(args.request, lab_file(args.file))
    processes.install_signal_handlers()
    params = QUICK if args.quick else NORMAL
    code = 1
    message = ""
    try:
        ensure_nginx()
        if args.command == "up":
            code = run_up(
                lab_file(args.file), params, verbose=args.verbose, groups=args.groups, address_set=args.address_set
            )
        elif args.command == "address-set":
            code = run_address_set_demo(verbose=args.verbose, keep=args.keep)
        elif args.command == "found-nodes":
            code = run_found_nodes_demo(keep=args.keep)
        else:
            code = run_demo(params, verbose=args.verbose, keep=args.keep)
    except NginxMissingError as exc:
        code, message = 2, str(exc)
    except TemplateError as exc:
        code, message = 2, f"template.yaml cannot be turned into the lab's stack: {exc}"
    except KeyboardInterrupt:
        code, message = 130, "interrupted (Ctrl-C)"
    except SystemExit as exc:  # SIGTERM / SIGHUP, turned into SystemExit by the signal handler
        code = exc.code if isinstance(exc.code, int) else 1
        message = f"stopped by signal {code - 128}" if code > 128 else ""
    finally:
        processes.stop_all()
    if code >= 128:
        message += ": every process the lab started has been stopped"
    if message:
        print(message, file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
