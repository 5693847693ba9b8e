"""One MonitorFunction invocation in this fresh process, as Lambda runs it, timing every cycle.

    python -m bench.fleet_monitor_child --remaining-ms N   (the function's env; event on stdin)

Prints one JSON line: the handler's result, each fleet cycle's wall time, the process's CPU time
and its peak RSS (getrusage ru_maxrss, after the invocation). Used by bench.fleet.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--remaining-ms", type=int, required=True)
    args = parser.parse_args(argv)
    event = json.loads(sys.stdin.read())
    result_stream = sys.stdout
    sys.stdout = sys.stderr  # Powertools logs to stdout
    os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", "MonitorFunction")
    from nginx_eip_failover.handlers import monitor
    from nginx_eip_failover.service import fleet
    from nginx_eip_failover_lab.lambda_context import LambdaContextDouble

    cycles: list[float] = []
    cpu: list[float] = []
    original = fleet.FleetRunner.run_cycle

    def timed(self: Any, *a: Any, **k: Any) -> Any:
        started, cpu_started = time.monotonic(), time.process_time()
        try:
            return original(self, *a, **k)
        finally:
            cycles.append(time.monotonic() - started)
            cpu.append(time.process_time() - cpu_started)

    fleet.FleetRunner.run_cycle = timed  # type: ignore[method-assign]
    init_cpu = time.process_time()
    payload = monitor.lambda_handler(event, LambdaContextDouble(args.remaining_ms, function_name="MonitorFunction"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "payload": payload,
                "cycles_s": cycles,
                "cycle_cpu_s": cpu,
                "init_cpu_s": init_cpu,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "max_rss_kb": usage.ru_maxrss,
            },
            default=str,
        ),
        file=result_stream,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
