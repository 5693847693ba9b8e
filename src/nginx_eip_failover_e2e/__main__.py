"""`python -m nginx_eip_failover_e2e` (what `make aws-e2e` runs): the real-account end-to-end test.

Exit 0: passed, or skipped because NGINX_EIP_FAILOVER_E2E_ACCOUNT is unset (the message says so);
1: a step failed or a resource was not confirmed deleted; 2: refused (the account does not match);
130: interrupted (after the teardown).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import urllib.request
import uuid
from pathlib import Path

from .account import ACCOUNT_VARIABLE, SKIP_MESSAGE, AccountRefused, require_account
from .aws import AwsClients
from .controller import SamDeployment
from .nginx_stop import SsmNginxStop
from .run import E2EOptions, Ports, run_e2e
from .stacks import Nodes

_REPO = Path(__file__).resolve().parents[2]
CHECKIP_URL = "https://checkip.amazonaws.com"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nginx_eip_failover_e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--instance-type", default="t4g.nano", help="both nodes' instance type (arm64)")
    parser.add_argument(
        "--probe-cidr",
        help=f"where this runs from, allowed to the EIP's port 80 (default: this machine's address, {CHECKIP_URL})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAMETER=VALUE",
        help="a further controller template parameter (repeatable), e.g. --set FallThreshold=2",
    )
    parser.add_argument("--sam", help="the sam executable (default: .venv-sam/bin/sam, else sam on PATH)")
    parser.add_argument(
        "--run-id", type=_run_id, default=uuid.uuid4().hex[:8], help="names both stacks (default: random)"
    )
    return parser.parse_args(argv)


def _run_id(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]{1,16}", value):
        raise argparse.ArgumentTypeError(f"{value!r}: 1-16 lowercase letters and digits (it names the stacks)")
    return value


def _settings(pairs: list[str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {pair!r}: expected PARAMETER=VALUE")
        settings[key] = value
    return settings


def _own_cidr() -> str:
    with urllib.request.urlopen(CHECKIP_URL, timeout=10) as response:  # an https URL of our own
        return f"{response.read().decode().strip()}/32"


def _sam(given: str | None) -> str:
    local = _REPO / ".venv-sam" / "bin" / "sam"
    return given or (str(local) if local.exists() else shutil.which("sam") or "sam")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    expected = os.environ.get(ACCOUNT_VARIABLE)
    if not expected:
        print(SKIP_MESSAGE)
        return 0
    clients = AwsClients()
    try:  # before anything else reaches out (the address lookup below, sam)
        require_account(clients.client("sts"), expected)
    except AccountRefused as refused:
        print(f"aws-e2e: refused: {refused}", file=sys.stderr)
        return 2
    options = E2EOptions(
        expected_account=expected,
        run_id=args.run_id,
        nodes_parameters={"InstanceType": args.instance_type, "ProbeCidr": args.probe_cidr or _own_cidr()},
        controller_settings=_settings(args.set),
    )
    ports = Ports(
        clients=clients,
        controller=SamDeployment(clients, f"nginx-eip-failover-e2e-{args.run_id}", args.run_id, sam=_sam(args.sam)),
        stop_nginx=SsmNginxStop(clients.client("ssm")),
        eip_url=_eip_url,
    )
    try:
        report = run_e2e(options, ports, sys.stdout)
    except AccountRefused as refused:
        print(f"aws-e2e: refused: {refused}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aws-e2e: interrupted (torn down: see the table above)", file=sys.stderr)
        return 130
    print(f"aws-e2e: {'PASS' if report.ok else 'FAIL'}" + (f" ({report.error})" if report.error else ""))
    return 0 if report.ok else 1


def _eip_url(nodes: Nodes) -> str:
    return f"http://{nodes.public_ip}/health"


if __name__ == "__main__":
    sys.exit(main())
