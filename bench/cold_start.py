"""Cold start: what the handlers add to a bare `import boto3`, measured in fresh processes.

Every sample is a new Python process (as a new Lambda container is), the kinds interleaved so that
machine noise hits them alike; the figures are medians of the process's CPU time
(`time.process_time`, all threads): other load on a shared machine barely moves it, and CPU is what
a 128 MB function (about 7 % of a vCPU) is throttled on, so it is what a cold start costs there.
Wall times are printed beside them.

* import: `import boto3` alone vs importing each handler module (which imports boto3 itself);
* first invocation: handler import + settings + clients + one monitor cycle against the lab's moto
  server and real nginx nodes vs `import boto3` + one EC2 client + one DescribeAddresses.

Bytecode matters, so two layouts are measured:

* "as shipped": everything has bytecode. The functions build with src/Makefile (BuildMethod:
  makefile), which runs `compileall` at build time.
* "without bytecode": what sam's default pip builder (aws-lambda-builders' python_pip workflow)
  would ship: it excludes `*.pyc` and `__pycache__` and installs dependencies by unzipping wheels,
  so the function's own package *and* Powertools would be compiled from source on every cold start
  (the package directory is read-only in Lambda, nothing can be cached). Kept for comparison: it is
  why src/Makefile exists. boto3 comes with the runtime, already compiled, in both.

Both are emulated with PYTHONPYCACHEPREFIX: a private bytecode tree holding either everything or
everything but Powertools and the function's package, and PYTHONDONTWRITEBYTECODE so it stays so.

    python -m bench.cold_start [--trials N] [--quick]
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import figures as recorded
from .common import Options, Row, median, parse_options, report, say

NAME = "cold_start"
TARGET_RATIO = 1.2
HANDLERS = ("nginx_eip_failover.handlers.monitor", "nginx_eip_failover.handlers.control")
# Imported by the handlers for a reason; anything else new after an invocation is reported.
EXPECTED_EXTRA = {"aws_lambda_powertools", "nginx_eip_failover", "typing_extensions"}
MUST_NOT_IMPORT = (
    "aws_xray_sdk",
    "wrapt",
    "pydantic",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.typing",
    "aws_lambda_powertools.utilities.parser",
    "yaml",
    "moto",
    "awscrt",
)

_PRELUDE = "import sys, time, os\nclock = time.process_time\n"

IMPORT_BOTO3 = (
    _PRELUDE
    + """t0 = clock()
import boto3
t1 = clock()
print("RESULT", repr({"import_ms": (t1 - t0) * 1000}))
"""
)

IMPORT_HANDLER = (
    _PRELUDE
    + """t0 = clock()
__import__(sys.argv[1])
t1 = clock()
print("RESULT", repr({"import_ms": (t1 - t0) * 1000}))
"""
)

BARE_FIRST_CALL = (
    _PRELUDE
    + """w0 = time.perf_counter()
t0 = clock()
import boto3
t1 = clock()
client = boto3.session.Session().client("ec2")
t2 = clock()
client.describe_addresses(AllocationIds=[os.environ["EIP_ALLOCATION_ID"]])
t3 = clock()
w3 = time.perf_counter()
print("RESULT", repr({
    "import_ms": (t1 - t0) * 1000, "client_ms": (t2 - t1) * 1000, "call_ms": (t3 - t2) * 1000,
    "total_ms": (t3 - t0) * 1000, "wall_ms": (w3 - w0) * 1000,
    "modules": sorted({m.split(".")[0] for m in sys.modules}),
}))
"""
)

# The floor for any design that keeps its state in DynamoDB: two clients, two reads.
BARE_TWO_CLIENTS = (
    _PRELUDE
    + """t0 = clock()
import boto3
session = boto3.session.Session()
ec2 = session.client("ec2")
dynamodb = session.client("dynamodb")
ec2.describe_addresses(AllocationIds=[os.environ["EIP_ALLOCATION_ID"]])
dynamodb.get_item(TableName=os.environ["STATE_TABLE_NAME"], Key={"pk": {"S": "eip#" + os.environ["EIP_ALLOCATION_ID"]}},
                  ConsistentRead=True)
t1 = clock()
print("RESULT", repr({"total_ms": (t1 - t0) * 1000}))
"""
)

# The handler's first invocation, as Lambda runs it: import, then the handler builds the settings
# and the clients (once per container) and runs one cycle (1.5 s of remaining time: one cycle only).
# A second invocation in the same process shows what a warm container pays, and that no client is
# created again.
HANDLER_FIRST_CALL = (
    _PRELUDE
    + """result_stream = sys.stdout
sys.stdout = open(os.devnull, "w")  # Powertools writes logs and metrics to stdout
w0 = time.perf_counter()
t0 = clock()
import nginx_eip_failover.handlers.monitor as handler
t1 = clock()
import boto3.session
created = []
_client = boto3.session.Session.client
def counting_client(self, service, *args, **kwargs):
    started = clock()
    client = _client(self, service, *args, **kwargs)
    created.append((service, (clock() - started) * 1000))
    return client
boto3.session.Session.client = counting_client

# The harness's context double; its modules are left out of the module lists below.
before_harness = set(sys.modules)
from nginx_eip_failover_lab.lambda_context import LambdaContextDouble
harness = set(sys.modules) - before_harness

from nginx_eip_failover.handlers import wiring
t2 = clock()
wiring.controller()  # what the handler's first line does; cached for the container's life
t3 = clock()
first = handler.lambda_handler({"trigger": "schedule"}, LambdaContextDouble(1500, aws_request_id="bench"))
t4 = clock()
w4 = time.perf_counter()
clients_first = len(created)
built_first = {name for name, _ in created}
second = handler.lambda_handler({"trigger": "schedule"}, LambdaContextDouble(1500, aws_request_id="bench"))
t5 = clock()
print("RESULT", repr({
    "import_ms": (t1 - t0) * 1000,
    "setup_ms": (t3 - t2) * 1000,
    "cycle_ms": (t4 - t3) * 1000,
    "total_ms": (t1 - t0 + t4 - t2) * 1000,
    "warm_ms": (t5 - t4) * 1000,
    "wall_ms": (w4 - w0) * 1000,
    "clients": created,
    # Built again: a service whose client the first invocation had built already. (A client first
    # built while the second runs, by the first's background preflight, is counted apart.)
    "clients_created_by_second": sum(1 for name, _ in created[clients_first:] if name in built_first),
    "clients_first_built_by_second": len(created) - clients_first,
    "cycles": [first["cycles"], second["cycles"]],
    "modules": sorted({m.split(".")[0] for m in sys.modules if m not in harness}),
    "forbidden": sorted(m for m in sys.modules if m not in harness and m.startswith(MUST_NOT_IMPORT)),
}), file=result_stream)
""".replace("MUST_NOT_IMPORT", repr(MUST_NOT_IMPORT))
)


# A cold container woken by a node's CloudWatch alarm: from the handler module's import to the first
# probe's connection to a node (the `socket.connect` audit event, the standard library's own hook:
# nothing of ours is patched). Only the nodes' ports count; AWS calls go to other ports.
ALARM_FIRST_PROBE = (
    _PRELUDE
    + """import json
from urllib.parse import urlsplit
result_stream = sys.stdout
sys.stdout = open(os.devnull, "w")
ports = {urlsplit(os.environ[name]).port for name in ("NODE1_HEALTH_CHECK_URL", "NODE2_HEALTH_CHECK_URL")}
event = json.loads(sys.argv[1])
first = {}
def on_audit(name, args):
    if name == "socket.connect" and not first and isinstance(args[1], tuple) and args[1][1] in ports:
        first.update(cpu=clock(), wall=time.perf_counter())
sys.addaudithook(on_audit)
w0 = time.perf_counter()
t0 = clock()
import nginx_eip_failover.handlers.monitor as handler
from nginx_eip_failover_lab.lambda_context import LambdaContextDouble
t1 = clock()
handler.lambda_handler(event, LambdaContextDouble(1500, aws_request_id="bench-alarm"))
print("RESULT", repr({
    "import_ms": (t1 - t0) * 1000,
    "probe_cpu_ms": (first["cpu"] - t0) * 1000,
    "probe_wall_ms": (first["wall"] - w0) * 1000,
}), file=result_stream, flush=True)  # flushed now: the audit hook outlives the interpreter's own flush
"""
)


def _run(script: str, env: Mapping[str, str], *args: str) -> dict[str, Any]:
    process = subprocess.run(
        [sys.executable, "-c", script, *args], env=dict(env), capture_output=True, text=True, timeout=60, check=False
    )
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            import ast

            return dict(ast.literal_eval(line[len("RESULT ") :]))
    raise RuntimeError(f"benchmark process failed (exit {process.returncode}):\n{process.stderr[-3000:]}")


def _source_dirs() -> list[Path]:
    """Where Powertools and the function's package live: what sam build ships as source only."""
    import aws_lambda_powertools

    import nginx_eip_failover

    return [Path(aws_lambda_powertools.__file__).resolve().parent, Path(nginx_eip_failover.__file__).resolve().parent]


def build_bytecode(base: Mapping[str, str], compiled: Path, shipped: Path) -> None:
    """Two private PYTHONPYCACHEPREFIX trees: `compiled` has bytecode for every module the benchmark
    processes import (written by running each of them once), `shipped` the same minus Powertools and
    the function's package."""
    env = {key: value for key, value in base.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPYCACHEPREFIX=str(compiled), POWERTOOLS_TRACE_DISABLED="true")
    for script, args in (
        (IMPORT_BOTO3, ()),
        (BARE_FIRST_CALL, ()),
        (BARE_TWO_CLIENTS, ()),
        (HANDLER_FIRST_CALL, ()),
        *((IMPORT_HANDLER, (module,)) for module in HANDLERS),
        *(((ALARM_FIRST_PROBE, (base["BENCH_ALARM_EVENT"],)),) if "BENCH_ALARM_EVENT" in base else ()),
    ):
        _run(script, env, *args)
    shutil.copytree(compiled, shipped)
    for source in _source_dirs():
        shutil.rmtree(shipped / source.relative_to(source.anchor), ignore_errors=True)


def layout_env(base: Mapping[str, str], prefix: Path) -> dict[str, str]:
    env = {key: value for key, value in base.items() if key not in ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")}
    env.update(PYTHONPYCACHEPREFIX=str(prefix), PYTHONDONTWRITEBYTECODE="1", POWERTOOLS_TRACE_DISABLED="true")
    return env


def import_profile(env: Mapping[str, str], module: str) -> list[tuple[str, float, float]]:
    """(module, self ms, cumulative ms) of what importing `module` adds after boto3 (-X importtime)."""
    script = f"import boto3\nimport {module}\n"
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script], env=dict(env), capture_output=True, text=True, check=False
    )
    lines = process.stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if re.search(r"\|\s*boto3\s*$", line)), -1)
    rows = []
    for line in lines[start + 1 :]:
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s+(.*)$", line)
        if match:
            rows.append((match.group(3).strip(), int(match.group(1)) / 1000, int(match.group(2)) / 1000))
    return rows


def _median_profile(runs: Sequence[Sequence[tuple[str, float, float]]]) -> list[tuple[str, float, float]]:
    """Per module, the median self and cumulative times over several -X importtime runs."""
    by_name: dict[str, list[tuple[float, float]]] = {}
    for rows in runs:
        for name, self_ms, cumulative_ms in rows:
            by_name.setdefault(name, []).append((self_ms, cumulative_ms))
    return [(name, median([v[0] for v in values]), median([v[1] for v in values])) for name, values in by_name.items()]


def _by_package(rows: Sequence[tuple[str, float, float]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for name, self_ms, _cumulative in rows:
        top = name.split(".")[0]
        totals[top] = totals.get(top, 0.0) + self_ms
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def measure_layout(label: str, env: Mapping[str, str], repeats: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"boto3": [], **{module: [] for module in HANDLERS}}
    first: dict[str, list[dict[str, Any]]] = {"bare": [], "floor": [], "handler": []}
    alarm: list[dict[str, Any]] = []
    for _ in range(repeats):
        samples["boto3"].append(_run(IMPORT_BOTO3, env)["import_ms"])
        for module in HANDLERS:
            samples[module].append(_run(IMPORT_HANDLER, env, module)["import_ms"])
        first["bare"].append(_run(BARE_FIRST_CALL, env))
        first["floor"].append(_run(BARE_TWO_CLIENTS, env))
        first["handler"].append(_run(HANDLER_FIRST_CALL, env))
        if "BENCH_ALARM_EVENT" in env:
            alarm.append(_run(ALARM_FIRST_PROBE, env, env["BENCH_ALARM_EVENT"]))
    figures: dict[str, Any] = {"label": label}
    for key in ("probe_cpu_ms", "probe_wall_ms"):
        if alarm:
            figures[f"alarm_{key}"] = median([sample[key] for sample in alarm])
    figures["boto3_ms"] = median(samples["boto3"])
    for module in HANDLERS:
        short = module.rsplit(".", 1)[-1]
        figures[f"{short}_ms"] = median(samples[module])
        figures[f"{short}_ratio"] = figures[f"{short}_ms"] / figures["boto3_ms"]
    for kind in ("bare", "floor", "handler"):
        for key in ("import_ms", "total_ms", "client_ms", "call_ms", "setup_ms", "cycle_ms", "warm_ms", "wall_ms"):
            values = [sample[key] for sample in first[kind] if key in sample]
            if values:
                figures[f"first_{kind}_{key}"] = median(values)
    figures["first_ratio"] = figures["first_handler_total_ms"] / figures["first_bare_total_ms"]
    figures["floor_ratio"] = figures["first_handler_total_ms"] / figures["first_floor_total_ms"]
    last = first["handler"][-1]
    figures["clients"] = last["clients"]
    figures["client_ms"] = {
        service: median([ms for sample in first["handler"] for name, ms in sample["clients"] if name == service])
        for service, _ms in last["clients"]
    }
    figures["clients_created_by_second"] = max(sample["clients_created_by_second"] for sample in first["handler"])
    figures["clients_late"] = max(sample.get("clients_first_built_by_second", 0) for sample in first["handler"])
    figures["forbidden"] = sorted({name for sample in first["handler"] for name in sample["forbidden"]})
    bare_modules = set(first["bare"][-1]["modules"])
    figures["extra_packages"] = sorted(set(last["modules"]) - bare_modules)
    figures["cycles"] = last["cycles"]
    say(f"[{NAME}] {label}: " + json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}))
    return figures


def record(shipped: dict[str, Any], repeats: int) -> None:
    """The as-shipped ratios docs quote (docs/figures.md), medians of CPU time."""
    command, when = recorded.invoked_command(), recorded.now()
    where = f"as shipped, CPU, medians of {repeats} fresh processes"
    keys = (
        ("import_monitor_ratio", "monitor_ratio", "x", "import monitor handler / import boto3", 2),
        ("import_control_ratio", "control_ratio", "x", "import control handler / import boto3", 2),
        ("first_invocation_ratio", "first_ratio", "x", "first invocation / boto3 + EC2 client + DescribeAddresses", 2),
        ("first_invocation_floor_ratio", "floor_ratio", "x", "first invocation / boto3 + EC2 and DynamoDB clients", 2),
        ("first_probe_cpu_ms", "alarm_probe_cpu_ms", "ms", "cold alarm invocation: handler start to first probe", 0),
    )
    recorded.record_all(
        recorded.Figure(f"{NAME}.{key}", float(shipped[field]), unit, f"{label} ({where})", command, when, decimals)
        for key, field, unit, label, decimals in keys
        if field in shipped
    )


def run(options: Options) -> list[Row]:
    from nginx_eip_failover_lab.environment import LabEnvironment

    repeats = options.count(15, 5)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-bytecode-") as scratch, LabEnvironment(use_proxy=False) as lab:
        placed = lab.monitor(remaining_ms=1000)  # the state item exists, as in a running deployment
        if not placed.ok:
            raise RuntimeError(f"the lab's first monitor invocation failed: {placed.error_message}")
        base = {
            **lab.monitor_env,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "BENCH_ALARM_EVENT": json.dumps(lab.alarm_event("node1")),
        }
        compiled, shipped = Path(scratch) / "compiled", Path(scratch) / "shipped"
        build_bytecode(base, compiled, shipped)
        layouts = [
            ("as shipped: precompiled by src/Makefile", layout_env(base, compiled)),
            ("without bytecode: sam's default builder", layout_env(base, shipped)),
        ]
        results = []
        for label, env in layouts:
            say(f"[{NAME}] {label}: {repeats} fresh processes per kind")
            results.append(measure_layout(label, env, repeats))
        profile = _median_profile([import_profile(layouts[0][1], HANDLERS[0]) for _ in range(5)])
        profile_compiled = _median_profile([import_profile(layouts[1][1], HANDLERS[0]) for _ in range(5)])

    for figures in results:
        label = figures["label"]
        # The target applies to what is shipped; the other layout is there to show why.
        target = f"<= {TARGET_RATIO}x" if label.startswith("as shipped") else ""
        for short in ("monitor", "control"):
            rows.append(
                Row(
                    NAME,
                    f"import {short} handler / import boto3 ({label})",
                    f"{figures[f'{short}_ratio']:.2f}x ({figures[f'{short}_ms']:.0f} / {figures['boto3_ms']:.0f} ms)",
                    target,
                    figures[f"{short}_ratio"] <= TARGET_RATIO if target else None,
                )
            )
        rows.append(
            Row(
                NAME,
                f"first invocation / bare boto3 client + DescribeAddresses ({label})",
                f"{figures['first_ratio']:.2f}x ({figures['first_handler_total_ms']:.0f} / "
                f"{figures['first_bare_total_ms']:.0f} ms)",
                target,
                figures["first_ratio"] <= TARGET_RATIO if target else None,
            )
        )
        if "alarm_probe_cpu_ms" in figures:
            rows.append(
                Row(
                    NAME,
                    f"cold alarm invocation: handler start to first probe sent ({label})",
                    f"{figures['alarm_probe_cpu_ms']:.0f} ms CPU, {figures['alarm_probe_wall_ms']:.0f} ms wall"
                    f" (import boto3 alone: {figures['boto3_ms']:.0f} ms CPU)",
                )
            )
        rows.append(
            Row(
                NAME,
                f"first invocation / floor: boto3 + EC2 and DynamoDB clients + one read each ({label})",
                f"{figures['floor_ratio']:.2f}x ({figures['first_handler_total_ms']:.0f} / "
                f"{figures['first_floor_total_ms']:.0f} ms)",
            )
        )
    shipped = results[0]
    if not options.quick:
        record(results[0], repeats)
    rows.append(
        Row(
            NAME,
            "first invocation split (as shipped): import / settings+clients / cycle",
            f"{shipped['first_handler_import_ms']:.0f} / {shipped['first_handler_setup_ms']:.0f} / "
            f"{shipped['first_handler_cycle_ms']:.0f} ms; clients "
            + ", ".join(f"{service} {ms:.0f} ms" for service, ms in shipped["client_ms"].items()),
        )
    )
    rows.append(
        Row(
            NAME,
            "clients per container / created again by a 2nd invocation",
            f"{len(shipped['clients'])} / {shipped['clients_created_by_second']}"
            + (
                f" ({shipped['clients_late']} first built during the 2nd, by the 1st's background preflight)"
                if shipped["clients_late"] > shipped["clients_created_by_second"]
                else ""
            ),
            "once per container",
            shipped["clients_created_by_second"] == 0,
        )
    )
    unexpected = sorted(set(shipped["extra_packages"]) - EXPECTED_EXTRA)
    rows.append(
        Row(
            NAME,
            "unused imports after an invocation (X-Ray SDK, pydantic, data classes, ...)",
            ", ".join(shipped["forbidden"] + unexpected) or "none",
            "none",
            not shipped["forbidden"] and not unexpected,
        )
    )
    for title, rows_profile in (("as shipped", profile), ("without bytecode", profile_compiled)):
        packages = _by_package(rows_profile)
        heaviest = sorted(rows_profile, key=lambda row: -row[1])[:8]
        say(
            f"[{NAME}] handler import beyond boto3 ({title}), self time by package: "
            + ", ".join(f"{name} {ms:.1f} ms" for name, ms in packages.items())
        )
        say(f"[{NAME}] heaviest modules ({title}): " + ", ".join(f"{name} {ms:.1f} ms" for name, ms, _ in heaviest))
    packages = _by_package(profile)
    rows.append(
        Row(
            NAME,
            "handler import beyond boto3, self time (as shipped)",
            ", ".join(f"{name} {ms:.0f} ms" for name, ms in list(packages.items())[:3]),
        )
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    rows = run(parse_options(argv, __doc__ or ""))
    return report(rows)


if __name__ == "__main__":
    raise SystemExit(main())
