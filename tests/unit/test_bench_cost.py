"""bench/cost.py reads the template's alarms, each under its condition as the example deployment evaluates it."""

from __future__ import annotations

from bench.cost import template_alarm_metrics


def test_the_cost_bench_counts_every_alarm_of_the_template_in_both_profiles() -> None:
    lean, full = template_alarm_metrics("lean"), template_alarm_metrics("full")
    # The two nodes' status-check alarms (present unless a node is found by tags) are among lean's.
    assert lean >= 2
    assert full >= lean
