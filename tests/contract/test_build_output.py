"""The contract suite runs what `sam build` produced, on the runtime's Python and SDK (make contract-test).

Run outside `make contract-test` (NGINX_EIP_FAILOVER_CONTRACT_BUILD unset), these tests skip: the
ordinary suite imports src/ on purpose. Under it, they fail if anything (this process, or a function
the lab invokes) imports the function code from anywhere but the build output, or runs a Python or
boto3 other than the Lambda runtime's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import botocore
import pytest

import nginx_eip_failover
from nginx_eip_failover_lab import environment

BUILD_ENV = "NGINX_EIP_FAILOVER_CONTRACT_BUILD"
ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PINS = ROOT / "requirements" / "lambda-runtime.txt"

pytestmark = pytest.mark.skipif(
    not os.environ.get(BUILD_ENV), reason=f"{BUILD_ENV} unset: not a make contract-test run"
)


def _runtime_pin(package: str) -> str:
    for line in RUNTIME_PINS.read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        if name.strip() == package:
            return version.strip()
    raise AssertionError(f"{RUNTIME_PINS} pins no {package}")


def _build_dir() -> Path:
    return Path(os.environ[BUILD_ENV]).resolve()


def test_this_process_imports_the_build_output_not_src() -> None:
    package = Path(nginx_eip_failover.__file__).resolve()
    assert package.is_relative_to(_build_dir()), f"nginx_eip_failover imported from {package}, not {_build_dir()}"
    assert ".aws-sam" in package.parts
    # The build leaves the operator CLI out: a package that has it is src/, whatever its path says.
    assert not (package.parent / "cli").exists()


def test_the_runtime_python_and_sdk() -> None:
    assert sys.version_info[:2] == (3, 13)
    assert boto3.__version__ == _runtime_pin("boto3")
    assert botocore.__version__ == _runtime_pin("botocore")


def test_the_functions_the_lab_invokes_import_the_build_output_too() -> None:
    # The lab runs each invocation in a fresh process with this PYTHONPATH (environment._function_env).
    probe = (
        "import json, boto3, aws_lambda_powertools, nginx_eip_failover.handlers.monitor as m;"
        "print(json.dumps({'code': m.__file__, 'boto3': boto3.__version__,"
        " 'powertools': aws_lambda_powertools.__file__}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": environment._function_path(), "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(seen["code"]).resolve().is_relative_to(_build_dir()), seen
    # Powertools is the locked one shipped in the build, boto3 the runtime's (not shipped in the build).
    assert Path(seen["powertools"]).resolve().is_relative_to(_build_dir()), seen
    assert seen["boto3"] == _runtime_pin("boto3")
    assert not (_build_dir() / "boto3").exists(), "the build ships boto3: the functions must use the runtime's"


def test_the_build_installed_exactly_the_lock() -> None:
    lock = ROOT / "src" / "requirements.txt"
    pinned = {
        line.split("==")[0].strip().lower().replace("_", "-"): line.split("==")[1].split()[0].rstrip("\\").strip()
        for line in lock.read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    }
    shipped = {}
    for meta in _build_dir().glob("*.dist-info"):
        name, version = meta.name.removesuffix(".dist-info").split("-", 1)
        shipped[name.lower().replace("_", "-")] = version
    assert shipped == pinned
