"""The lab's chaos soak: its world, actors, record and timeline (python -m nginx_eip_failover_lab.chaos)."""
