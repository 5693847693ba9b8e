"""`python -m nginx_eip_failover.cli ...`: the same as the `nginx-eip-failover` command."""

from __future__ import annotations

from .commands import main

if __name__ == "__main__":
    raise SystemExit(main())
