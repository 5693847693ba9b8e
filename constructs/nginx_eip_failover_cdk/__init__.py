"""nginx-eip-failover as an AWS CDK (v2) construct library: `NginxEipFailover` creates what
template.yaml creates, from typed props that mirror its parameters.

    from nginx_eip_failover_cdk import NginxEipFailover, Node
    NginxEipFailover(stack, "Failover", elastic_ip_allocation_id="eipalloc-...",
                     nodes=(Node("i-...", "http://10.0.1.10:8080/health"), Node("i-...", "http://10.0.2.10:8080/health")))

The props and their checks (`props`, `parameters`) import without aws_cdk; the construct itself is
loaded on first use, so the repository's tests can read the props next to template.yaml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .parameters import PropError
from .props import FailoverPolicy, FailoverProps, HealthAuth, HealthChecks, Network, Node, Observers

if TYPE_CHECKING:
    from .construct import CodeNotBuiltError, NginxEipFailover

__all__ = [
    "CodeNotBuiltError",
    "FailoverPolicy",
    "FailoverProps",
    "HealthAuth",
    "HealthChecks",
    "Network",
    "NginxEipFailover",
    "Node",
    "Observers",
    "PropError",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("NginxEipFailover", "CodeNotBuiltError"):
        from . import construct

        return getattr(construct, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
