"""The one-command demo, end to end: real nginx, a moto server, the handlers in fresh processes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_quick_demo_passes_every_step_and_reports_the_failover_time() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nginx_eip_failover_lab", "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "ALL PASS" in result.stdout
    assert re.search(r"^\s*1\s+steady state\s.*PASS", result.stdout, re.MULTILINE)
    rows = re.findall(r"^\s*(\d+)\s{2}.*\s(PASS|FAIL|SKIP)\s", result.stdout, re.MULTILINE)
    assert len(rows) >= 10 and {verdict for _, verdict in rows} == {"PASS"}, rows
    failover = re.search(r"^Failover time .*: (\d+\.\d+) s", result.stdout, re.MULTILINE)
    assert failover, output[-6000:]
    assert float(failover.group(1)) > 0
    assert re.search(r"^Failback time .*: (\d+\.\d+) s", result.stdout, re.MULTILINE)
    # the decision log, read back and replayed with the recorded settings, reproduces the demo exactly
    assert re.search(
        r"^Decision log: \d+ change records; .* reproduced exactly \(0 gaps[;)]", result.stdout, re.MULTILINE
    )
