"""python -m nginx_eip_failover_lab.chaos: the chaos soak (see chaos/soak.py)."""

from .soak import main

if __name__ == "__main__":
    raise SystemExit(main())
