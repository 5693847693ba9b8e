"""The lab's moto server: moto's own server with the EC2 behaviours it lacks patched in first.

    python -m nginx_eip_failover_lab.aws.moto_launcher -H 127.0.0.1 -p PORT

Same arguments as `python -m moto.server`; `moto_gaps.apply()` runs before it serves (AssociateAddress
with PrivateIpAddress, AssignPrivateIpAddresses with AllowReassignment, the private-ip filter on
secondary addresses: see docs/reliability.md).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from moto import server

    from . import moto_gaps, moto_lifecycle_gaps

    moto_gaps.apply()
    moto_lifecycle_gaps.apply()  # Auto Scaling's lifecycle hooks (found nodes)
    server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
