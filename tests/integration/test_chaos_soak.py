"""The chaos soak, CI-sized: one fixed seed for 50 s of faults on the real lab (real nginx, the moto
server behind the recording, fault-injecting proxy, the functions in fresh processes), checked by the
simulator's invariant checker over the recorded timeline. `make chaos` runs the same for 5 minutes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nginx_eip_failover_lab import processes
from nginx_eip_failover_lab.aws.moto_server import MotoServer
from nginx_eip_failover_lab.chaos.soak import run_soak
from nginx_eip_failover_lab.chaos.world import ChaosSettings

pytestmark = pytest.mark.integration

SEED = 8  # after the opening: sub-interval blips with monitors starting during them; a kill at ~14 s


def test_a_minute_of_chaos_on_the_real_lab_breaks_no_invariant(moto_server: MotoServer, tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_soak(
        ChaosSettings(seed=SEED, seconds=50.0, settle_seconds=10.0), out=out, moto=moto_server, base_dir=tmp_path
    )
    summary = out.getvalue()
    # THEN the checker found nothing, and every actor ran without failing itself
    assert result.passed, summary
    # AND the run was not a happy path: the holder failed over (at least at the opening, where its
    # nginx is stopped for 8 s), and faults of every family and several kinds of node fault were injected
    assert result.moves_by_cause()["failover"] >= 1, summary
    assert {"node", "aws", "kill", "operator", "alarm"} <= result.fault_families(), summary
    node_faults = {kind for kind in result.faults_by_type() if kind.startswith("node:")}
    assert len(node_faults) >= 3, summary
    # AND every invariant was judged on something, the decision log replayed included
    judged = result.checked.judged
    assert all(judged[name] > 0 for name in ("no_move_to_down", "no_move_off_healthy", "state_item", "replay_exact")), (
        judged
    )
    assert judged["operator_answers"] > 0 and judged["one_call_per_decision"] > 0, judged
    # AND nothing the soak started is left running
    leftovers = {pid: name for pid, name in processes.running().items() if name != "moto server"}
    assert not leftovers, leftovers
