"""Benchmarks for nginx-eip-failover: `python -m bench` runs them all and prints one table.

Each module has `run(options) -> list[Row]` and can run alone (`python -m bench.cold_start`).
Nothing here reaches real AWS: the lab's moto server on 127.0.0.1 and dummy credentials.
"""
