"""The lab's IAM check: every AWS call of a placement, a failover and a preflight (the stack's pair and
an address-set group: EIP by ENI + private IP, secondary IP, route), evaluated against template.yaml's
policies by the lab's proxy; how many were denied (target 0) and what one evaluation costs the proxy.

    python -m bench --only iam_check
"""

from __future__ import annotations

import statistics
import time

from .common import Options, Row, say


def run(options: Options) -> list[Row]:
    from nginx_eip_failover_lab.environment import LabEnvironment
    from nginx_eip_failover_lab.iam.enforcement import unexercised_grants

    settings = {
        "HealthCheckIntervalSeconds": "0.3",
        "HealthCheckTimeoutSeconds": "0.3",
        "PreflightIntervalSeconds": "0",
    }
    with LabEnvironment(settings=settings, address_set_group=True) as lab:
        deadline = time.monotonic() + 60
        while (lab.holder(), lab.group_holder("addr")) != ("node1", "node1"):
            if time.monotonic() > deadline:
                raise RuntimeError("the lab's placement did not happen within 60 s")
            lab.monitor(remaining_ms=3000)
        lab.nodes["node1"].stop()
        lab.groups["addr"].nodes["node1"].stop()
        while (lab.holder(), lab.group_holder("addr")) != ("node2", "node2"):
            if time.monotonic() > deadline + 60:
                raise RuntimeError("the lab's failover did not happen within 60 s")
            lab.monitor(remaining_ms=3000)
        lab.control({"action": "preflight", "group": "addr"})
        lab.control({"action": "preflight", "group": "default"})
        iam = lab.iam
        verdicts = iam.verdicts()
        denied = [verdict for verdict in verdicts if not verdict.allowed]
        trials = 3 if options.quick else 20
        timings = []
        for _ in range(trials):
            for verdict in verdicts:
                began = time.perf_counter()
                iam.evaluate(verdict.role, verdict.call)
                timings.append((time.perf_counter() - began) * 1000)
        unexercised = unexercised_grants(iam.policies, verdicts)
    actions = sorted({verdict.call.action for verdict in verdicts})
    say(f"iam_check: {len(verdicts)} calls, actions {', '.join(actions)}")
    for verdict in denied:
        say(f"  {verdict.describe()}")
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return [
        Row("iam_check", "calls of the functions evaluated (placement, failover, preflight)", str(len(verdicts))),
        Row("iam_check", "distinct IAM actions among them", str(len(actions))),
        Row("iam_check", "calls the template's policies deny", str(len(denied)), "0", not denied),
        Row(
            "iam_check",
            "evaluation per call in the proxy, median / p99 (ms, tags read from moto when a condition needs them)",
            f"{statistics.median(timings):.2f} / {p99:.2f}",
        ),
        Row(
            "iam_check", "grants this run did not exercise (the integration tests report theirs)", str(len(unexercised))
        ),
    ]
