"""A deterministic simulator of the whole controller (development only; `sam build` never ships it).

The real service layer (FailoverController, the monitor loop and its lease hand-off, the fleet runner,
operator requests, the decision journal) runs against simulated adapters behind the ports of
`core/ports.py`, on one simulated clock, with a seeded scheduler that picks which actor runs at every
I/O point. The same seed gives a byte-identical trace.

    python -m nginx_eip_failover_sim --seed 7 --steps 4000       one seed, its trace on a violation
    python -m nginx_eip_failover_sim --seeds 1..200              many seeds, a coverage summary

Modules: `timeline` (the recorded events) and `invariants` (the checker, shared with the chaos soak
on the lab), `scheduler` (actors as threads, one running at a time), `world` (nodes, DynamoDB, EC2,
SNS), `actors` (invocations and operators), `run` (one seed end to end), `__main__` (the CLI).
"""
