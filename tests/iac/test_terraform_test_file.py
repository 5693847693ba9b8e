"""The `terraform test` file in which Terraform itself compares the module's IAM with template.yaml's
(nginx_eip_failover_lab.terraform.test_file; make terraform-validate runs it where terraform is)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nginx_eip_failover_lab.iac_surface import VARIANTS
from nginx_eip_failover_lab.terraform.hcl import read_module
from nginx_eip_failover_lab.terraform.surface import find_module
from nginx_eip_failover_lab.terraform.test_file import (
    ARN_OVERRIDES,
    EXTRA_RUNS,
    LAMBDA_PERMISSIONS,
    PLAN_IDS,
    ROLE_POLICIES,
    parity_test_text,
    write,
)

PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))


def test_it_names_only_resources_of_the_module_and_plans_every_variant() -> None:
    resources = set(read_module(find_module()).resources)
    assert {*ARN_OVERRIDES, *ROLE_POLICIES, *LAMBDA_PERMISSIONS} <= resources
    text = parity_test_text()
    for variant in VARIANTS:
        assert f'run "{variant.replace("-", "_")}" {{' in text
    for name in EXTRA_RUNS:
        assert f'run "{name}" {{' in text
    runs = len(VARIANTS) + len(EXTRA_RUNS)
    # Each run compares the three role policies and the monitor's permissions; full adds the key's.
    monitor = "toset(flatten([for d in [jsondecode(aws_iam_role_policy.monitor.policy)"
    assert text.count(monitor + "] :") == (runs - 2) * 3  # + 2 in the message
    # found nodes (both extra runs have a group): the lookup policy is the monitor's too; the lifecycle
    # function's policy and permission.
    assert text.count(monitor + ", jsondecode(aws_iam_role_policy.found_nodes_lookup_monitor[0].policy)] :") == 2 * 3
    assert text.count("[for d in [jsondecode(aws_iam_role_policy.lifecycle[0].policy)] :") == 2 * 3
    assert "Principal = { Service = [aws_lambda_permission.instance_terminating[0].principal] }" in text
    assert "jsonencode(aws_lambda_function.lifecycle[0].environment[0].variables) ==" in text
    assert text.count("toset([for s in jsondecode(aws_kms_key.notification[0].policy)") == 4 * 3
    # node 2 found by tags: its alarm's permission is not compared, node 1's is.
    found_by_tags = text[text.index('run "found_by_tags" {') :]
    assert "NODE2_INSTANCE_TAGS" in found_by_tags and "node2_status_check_alarm" not in found_by_tags
    assert "aws_lambda_permission.node1_status_check_alarm[0].principal" in found_by_tags
    assert "ec2:DescribeRouteTables" in text
    # ... and both functions' environments and the schedule.
    assert text.count("jsonencode(aws_lambda_function.monitor.environment[0].variables) ==") == runs
    assert text.count("aws_scheduler_schedule.monitor.target[0].arn == aws_lambda_function.monitor.arn") == runs
    # The documented example IDs are refused by the module: the plans use others.
    assert all(value in text for value in PLAN_IDS.values())
    assert "eipalloc-0123456789abcdef0" not in text


def _terraform_test(directory: Path, zip_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}
    subprocess.run(
        ["terraform", f"-chdir={directory}", "init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"],
        check=True,
        capture_output=True,
        env=env,
    )
    return subprocess.run(
        ["terraform", f"-chdir={directory}", "test", "-no-color", f"-var=function_zip={zip_path}"],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.mark.skipif(
    shutil.which("terraform") is None or not PLUGIN_DIR.is_dir(),
    reason="needs a terraform binary and the aws provider in TF_PLUGIN_DIR (make terraform-validate runs it there)",
)
def test_terraform_finds_an_action_the_template_does_not_grant(tmp_path: Path) -> None:
    import zipfile

    zip_path = tmp_path / "function.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("placeholder.txt", "")
    out = tmp_path / "module"
    write(out)
    iam = out / "iam.tf"
    marker = '"dynamodb:BatchWriteItem", "dynamodb:Query"'
    assert iam.read_text().count(marker) == 1
    iam.write_text(iam.read_text().replace(marker, marker + ', "dynamodb:Scan"'))
    result = _terraform_test(out, zip_path)
    assert result.returncode != 0
    assert "ControlFunction: Terraform has" in result.stdout + result.stderr
    assert "dynamodb:Scan" in result.stdout + result.stderr
    # The found nodes' run compares the lifecycle function's role too.
    found_nodes = out / "found-nodes.tf"
    marker = 'Action = "autoscaling:CompleteLifecycleAction"'
    assert found_nodes.read_text().count(marker) == 1
    iam.write_text(iam.read_text().replace(', "dynamodb:Scan"', ""))
    found_nodes.write_text(found_nodes.read_text().replace(marker, 'Action = "autoscaling:*"'))
    result = _terraform_test(out, zip_path)
    assert result.returncode != 0
    assert "LifecycleFunction: Terraform has" in result.stdout + result.stderr
    assert "ControlFunction: Terraform has" not in result.stdout + result.stderr
