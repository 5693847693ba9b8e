"""Docs that cannot drift: generated references and a checker of what docs/ and README.md claim.

Development only (`sam build` ships `nginx_eip_failover` alone). `python -m nginx_eip_failover_docs
generate` (make docs) writes docs/parameters.md from template.yaml, docs/cli.md from the CLI's own
parser and docs/figures.md from docs/figures.json (the figures the benchmarks record); `python -m
nginx_eip_failover_docs check` (make docs-check, in CI) fails when a generated page is stale, when a
doc names a file, module, make target, CLI command or template parameter that does not exist, when
it states a fact (history limit, refresh period) that the code contradicts, or when its prose quotes
a cost or a failover time that is not one of the recorded figures.
"""
