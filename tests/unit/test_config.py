"""Configuration from the environment: every variable valid, missing, empty, malformed, out of range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover.core.errors import ConfigError

REQUIRED = (
    "EIP_ALLOCATION_ID",
    "NODE1_INSTANCE_ID",
    "NODE2_INSTANCE_ID",
    "NODE1_HEALTH_CHECK_URL",
    "NODE2_HEALTH_CHECK_URL",
    "NODE1_PRIORITY",
    "NODE2_PRIORITY",
    "STATE_TABLE_NAME",
)

# variable -> (attribute of Settings, default when the variable is absent)
DEFAULTS = {
    "HEALTH_CHECK_INTERVAL_SECONDS": ("interval_seconds", 1.0),
    "HEALTH_CHECK_TIMEOUT_SECONDS": ("timeout_seconds", 1.0),
    "FALL_THRESHOLD": ("fall_threshold", 3),
    "RISE_THRESHOLD": ("rise_threshold", 2),
    "PREEMPT": ("preempt", True),
    "PREEMPT_DELAY_SECONDS": ("preempt_delay_seconds", 60.0),
    "MIN_SECONDS_BETWEEN_MOVES": ("min_seconds_between_moves", 0.0),
    "FLAP_WINDOW_SECONDS": ("flap_window_seconds", 300.0),
    "FLAP_SUPPRESS_THRESHOLD": ("flap_suppress_threshold", 3),
    "NOTIFICATION_TOPIC_ARN": ("topic_arn", None),
    "HEALTH_CHECK_CA_BUNDLE": ("ca_bundle", None),
}

# (variable, bad value, a fragment of the problem the message states)
INVALID = [
    ("EIP_ALLOCATION_ID", "eip-0123456789abcdef0", "allocation ID"),
    ("EIP_ALLOCATION_ID", "eipalloc-XYZ", "allocation ID"),
    ("EIP_ALLOCATION_ID", "i-0123456789abcdef1", "allocation ID"),
    ("NODE1_INSTANCE_ID", "i-xyz", "instance ID"),
    ("NODE2_INSTANCE_ID", "node2", "instance ID"),
    ("NODE2_INSTANCE_ID", "eipalloc-0123456789abcdef0", "instance ID"),
    ("NODE1_HEALTH_CHECK_URL", "ftp://10.0.1.10/health", "http:// or https://"),
    ("NODE1_HEALTH_CHECK_URL", "10.0.1.10:8080/health", "http:// or https://"),
    ("NODE2_HEALTH_CHECK_URL", "http:///health", "host"),
    ("NODE2_HEALTH_CHECK_URL", "http://10.0.2.10:99999/health", "port"),
    ("NODE1_HEALTH_CHECK_URL", "http://10.0.1.10:port/health", "port"),
    ("NODE1_PRIORITY", "high", "whole number"),
    ("NODE1_PRIORITY", "100.5", "whole number"),
    ("NODE2_PRIORITY", "-1", "[0, 255]"),
    ("NODE2_PRIORITY", "256", "[0, 255]"),
    ("HEALTH_CHECK_INTERVAL_SECONDS", "fast", "number"),
    ("HEALTH_CHECK_INTERVAL_SECONDS", "0", "(0, 60]"),
    ("HEALTH_CHECK_INTERVAL_SECONDS", "-1", "(0, 60]"),
    ("HEALTH_CHECK_INTERVAL_SECONDS", "60.5", "(0, 60]"),
    ("HEALTH_CHECK_INTERVAL_SECONDS", "nan", "finite"),
    ("HEALTH_CHECK_TIMEOUT_SECONDS", "inf", "finite"),
    ("HEALTH_CHECK_TIMEOUT_SECONDS", "0", "(0, 10]"),
    ("HEALTH_CHECK_TIMEOUT_SECONDS", "11", "(0, 10]"),
    # A probe must fit inside its interval (1 s here).
    ("HEALTH_CHECK_TIMEOUT_SECONDS", "1.5", "must not exceed HEALTH_CHECK_INTERVAL_SECONDS (1)"),
    ("HEALTH_CHECK_TIMEOUT_SECONDS", "1s", "number"),
    ("FALL_THRESHOLD", "0", "[1, 100]"),
    ("FALL_THRESHOLD", "101", "[1, 100]"),
    ("FALL_THRESHOLD", "2.5", "whole number"),
    ("RISE_THRESHOLD", "0", "[1, 100]"),
    ("RISE_THRESHOLD", "two", "whole number"),
    ("PREEMPT", "yes", "'true' or 'false'"),
    ("PREEMPT", "1", "'true' or 'false'"),
    ("PREEMPT_DELAY_SECONDS", "-5", "[0, 86400]"),
    ("PREEMPT_DELAY_SECONDS", "86401", "[0, 86400]"),
    ("PREEMPT_DELAY_SECONDS", "1m", "number"),
    ("MIN_SECONDS_BETWEEN_MOVES", "-0.5", "[0, 86400]"),
    ("FLAP_WINDOW_SECONDS", "forever", "number"),
    ("FLAP_SUPPRESS_THRESHOLD", "0", "[1, 100]"),
    ("HEALTH_CHECK_CA_BUNDLE", "/no/such/ca-bundle.pem", "readable file"),
]


def _error(env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    return raised.value


def test_the_template_environment_parses_into_settings(base_env: dict[str, str]) -> None:
    settings = load_settings(base_env)
    assert settings.allocation_id == "eipalloc-0123456789abcdef0"
    assert [(n.name, n.instance_id, n.priority) for n in settings.nodes] == [
        ("node1", "i-0123456789abcdef1", 101),
        ("node2", "i-0123456789abcdef2", 100),
    ]
    assert settings.nodes[1].health_check_url == "http://10.0.2.10:8080/api/9/http/upstreams/backend"
    assert settings.table_name == "nginx-eip-failover-state"
    assert settings.node("node2").instance_id == "i-0123456789abcdef2"
    assert settings.node_by_instance("i-0123456789abcdef1").name == "node1"  # type: ignore[union-attr]
    assert settings.node_by_instance("i-0000000000000ffff") is None


def test_load_settings_reads_os_environ_by_default(base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in base_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FALL_THRESHOLD", "7")
    assert load_settings().fall_threshold == 7


@pytest.mark.parametrize("variable", REQUIRED)
@pytest.mark.parametrize("value", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_a_required_variable_missing_or_empty_names_itself(
    base_env: dict[str, str], variable: str, value: str | None
) -> None:
    if value is None:
        del base_env[variable]
    else:
        base_env[variable] = value
    error = _error(base_env)
    assert error.variable == variable
    assert f"{variable}={json.dumps(value)}" in str(error)
    assert "required" in str(error)


@pytest.mark.parametrize(
    ("variable", "url", "masked"),
    [
        ("NODE1_HEALTH_CHECK_URL", "https://admin:s3cret@10.0.1.10/health", "https://***@10.0.1.10/health"),
        ("NODE2_HEALTH_CHECK_URL", "http://admin@10.0.2.10:8080/health", "http://***@10.0.2.10:8080/health"),
    ],
)
def test_credentials_in_a_url_are_refused_and_masked_in_the_error(
    base_env: dict[str, str], variable: str, url: str, masked: str
) -> None:
    base_env[variable] = url
    error = _error(base_env)
    assert error.variable == variable
    assert "credentials" in str(error)
    assert "s3cret" not in str(error)
    assert "admin" not in str(error)
    assert f'{variable}="{masked}"' in str(error)


@pytest.mark.parametrize(("variable", "value", "problem"), INVALID, ids=[f"{v}={x}" for v, x, _ in INVALID])
def test_an_invalid_value_names_the_variable_the_value_and_the_problem(
    base_env: dict[str, str], variable: str, value: str, problem: str
) -> None:
    base_env[variable] = value
    error = _error(base_env)
    assert (error.variable, error.value) == (variable, value)
    message = str(error)
    assert variable in message
    assert value in message
    assert problem in message


@pytest.mark.parametrize(("variable", "default"), DEFAULTS.items(), ids=list(DEFAULTS))
def test_an_optional_variable_missing_or_empty_takes_its_default(
    base_env: dict[str, str], variable: str, default: tuple[str, object]
) -> None:
    attribute, value = default
    base_env.pop(variable, None)
    assert getattr(load_settings(base_env), attribute) == value
    base_env[variable] = "  "
    assert getattr(load_settings(base_env), attribute) == value


@pytest.mark.parametrize(
    ("variable", "text", "attribute", "value"),
    [
        ("HEALTH_CHECK_INTERVAL_SECONDS", "0.5", "interval_seconds", 0.5),
        ("HEALTH_CHECK_INTERVAL_SECONDS", "60", "interval_seconds", 60.0),
        ("HEALTH_CHECK_TIMEOUT_SECONDS", "0.25", "timeout_seconds", 0.25),
        ("HEALTH_CHECK_TIMEOUT_SECONDS", " 1 ", "timeout_seconds", 1.0),
        ("FALL_THRESHOLD", "1", "fall_threshold", 1),
        ("RISE_THRESHOLD", "100", "rise_threshold", 100),
        ("PREEMPT", "false", "preempt", False),
        ("PREEMPT", "FALSE", "preempt", False),
        ("PREEMPT", "True", "preempt", True),
        ("PREEMPT_DELAY_SECONDS", "0", "preempt_delay_seconds", 0.0),
        ("PREEMPT_DELAY_SECONDS", "2.5", "preempt_delay_seconds", 2.5),
        ("MIN_SECONDS_BETWEEN_MOVES", "0", "min_seconds_between_moves", 0.0),
        ("FLAP_WINDOW_SECONDS", "0", "flap_window_seconds", 0.0),
        ("STATE_TABLE_NAME", " my-table ", "table_name", "my-table"),
        ("MONITOR_LEASE_TABLE_NAME", " lease-table ", "lease_table_name", "lease-table"),
        ("MONITOR_LEASE_TABLE_NAME", " ", "lease_table_name", None),
        ("OBSERVABILITY_PROFILE", "full", "observability", "full"),
        ("OBSERVABILITY_PROFILE", " lean ", "observability", "lean"),
        ("FLEET_FOUND_NODES", "tags-and-auto-scaling-groups", "fleet_found_nodes", "tags-and-auto-scaling-groups"),
        ("FLEET_FOUND_NODES", "", "fleet_found_nodes", "tags"),
        (
            "NOTIFICATION_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:t",
            "topic_arn",
            "arn:aws:sns:us-east-1:123456789012:t",
        ),
    ],
)
def test_valid_values_including_fractions_and_bounds(
    base_env: dict[str, str], variable: str, text: str, attribute: str, value: object
) -> None:
    base_env["HEALTH_CHECK_TIMEOUT_SECONDS"] = "0.25"  # fits every interval below
    base_env[variable] = text
    assert getattr(load_settings(base_env), attribute) == value


def test_the_longest_probe_timeout_fits_a_long_interval(base_env: dict[str, str]) -> None:
    base_env.update(HEALTH_CHECK_INTERVAL_SECONDS="60", HEALTH_CHECK_TIMEOUT_SECONDS="10")
    assert load_settings(base_env).timeout_seconds == 10.0


@pytest.mark.parametrize("priorities", [("0", "255"), ("255", "0"), (" 101 ", "+100")])
def test_priority_bounds_are_inclusive(base_env: dict[str, str], priorities: tuple[str, str]) -> None:
    base_env["NODE1_PRIORITY"], base_env["NODE2_PRIORITY"] = priorities
    parsed = [node.priority for node in load_settings(base_env).nodes]
    assert parsed == [int(p) for p in priorities]


@pytest.mark.parametrize(
    ("suffix", "value"),
    [
        ("PRIORITY", "100"),
        ("INSTANCE_ID", "i-0123456789abcdef1"),
        ("HEALTH_CHECK_URL", "http://10.0.1.10:8080/api/9/http/upstreams/backend"),
    ],
    ids=["equal priorities", "same instance twice", "same URL twice"],
)
def test_the_two_nodes_must_differ(base_env: dict[str, str], suffix: str, value: str) -> None:
    base_env[f"NODE1_{suffix}"] = value
    base_env[f"NODE2_{suffix}"] = value
    error = _error(base_env)
    assert error.variable == f"NODE2_{suffix}"
    assert f"NODE2_{suffix}" in str(error)
    assert value in str(error)
    assert f"NODE1_{suffix}" in str(error)


def test_ca_bundle_must_be_a_file_not_a_directory(base_env: dict[str, str], tmp_path: Path) -> None:
    base_env["HEALTH_CHECK_CA_BUNDLE"] = str(tmp_path)
    error = _error(base_env)
    assert error.variable == "HEALTH_CHECK_CA_BUNDLE"
    assert str(tmp_path) in str(error)


def test_an_existing_ca_bundle_is_kept(base_env: dict[str, str], tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    base_env["HEALTH_CHECK_CA_BUNDLE"] = str(bundle)
    assert load_settings(base_env).ca_bundle == str(bundle)


def test_https_urls_with_ports_and_paths_are_accepted(base_env: dict[str, str]) -> None:
    base_env["NODE1_HEALTH_CHECK_URL"] = "https://nginx-a.internal:8443/api/9/http/upstreams/web?x=1"
    base_env["NODE2_HEALTH_CHECK_URL"] = "http://[fd00::2]/healthz"
    urls = [node.health_check_url for node in load_settings(base_env).nodes]
    assert urls == [base_env["NODE1_HEALTH_CHECK_URL"], base_env["NODE2_HEALTH_CHECK_URL"]]


def test_a_partly_configured_third_node_names_its_missing_variable(base_env: dict[str, str]) -> None:
    base_env["NODE3_PRIORITY"] = "50"
    error = _error(base_env)
    assert error.variable == "NODE3_INSTANCE_ID"


def test_a_missing_second_node_is_an_error_not_a_single_node_pair(base_env: dict[str, str]) -> None:
    for suffix in ("INSTANCE_ID", "HEALTH_CHECK_URL", "PRIORITY"):
        del base_env[f"NODE2_{suffix}"]
    assert _error(base_env).variable.startswith("NODE2_")


def test_the_monitor_lease_table_is_optional(base_env: dict[str, str]) -> None:
    # Without it scheduled invocations do not hand over: each probes until its own deadline.
    assert "MONITOR_LEASE_TABLE_NAME" not in base_env
    assert load_settings(base_env).lease_table_name is None


@pytest.mark.parametrize("value", ["FULL", "verbose", "lean,full"])
def test_an_unknown_observability_profile_names_the_variable_and_the_choices(
    base_env: dict[str, str], value: str
) -> None:
    base_env["OBSERVABILITY_PROFILE"] = value
    error = _error(base_env)
    assert (error.variable, error.value) == ("OBSERVABILITY_PROFILE", value)
    assert "must be one of lean, full" in str(error)


def test_the_observability_profile_defaults_to_the_templates_default(base_env: dict[str, str]) -> None:
    base_env.pop("OBSERVABILITY_PROFILE", None)
    assert load_settings(base_env).observability == "lean"


def test_an_unknown_fleet_found_nodes_value_names_the_variable_and_the_choices(base_env: dict[str, str]) -> None:
    base_env["FLEET_FOUND_NODES"] = "auto-scaling-groups"
    error = _error(base_env)
    assert (error.variable, error.value) == ("FLEET_FOUND_NODES", "auto-scaling-groups")
    assert "must be one of tags, tags-and-auto-scaling-groups" in str(error)


# ------------------------------------------------------------------ the pair by ENI + private IP
ENI_ENV = {
    "NODE1_NETWORK_INTERFACE_ID": "eni-0123456789abcdef1",
    "NODE1_PRIVATE_IP_ADDRESS": "10.0.1.20",
    "NODE2_NETWORK_INTERFACE_ID": "eni-0123456789abcdef2",
    "NODE2_PRIVATE_IP_ADDRESS": "10.0.2.21",
}


def test_the_pair_goes_by_instance_when_no_network_interface_is_set(base_env: dict[str, str]) -> None:
    empty = {name: "" for name in ENI_ENV}  # the template passes empty parameters through
    settings = load_settings({**base_env, **empty})
    assert settings.addresses is None
    assert [node.network_interface_id for node in settings.nodes] == [None, None]


def test_the_pair_by_eni_lands_the_eip_on_each_nodes_private_ip(base_env: dict[str, str]) -> None:
    settings = load_settings({**base_env, **ENI_ENV})
    assert [node.network_interface_id for node in settings.nodes] == ["eni-0123456789abcdef1", "eni-0123456789abcdef2"]
    assert settings.addresses is not None
    [eip] = settings.addresses.elastic_ips
    assert eip.allocation_id == base_env["EIP_ALLOCATION_ID"]
    assert dict(eip.private_ips) == {"node1": "10.0.1.20", "node2": "10.0.2.21"}
    assert settings.addresses.secondary_ips == () and settings.addresses.routes == ()


@pytest.mark.parametrize("missing", sorted(ENI_ENV))
def test_the_pair_by_eni_needs_all_four_and_names_the_missing_one(base_env: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**base_env, **ENI_ENV, missing: ""})
    assert raised.value.variable == missing
    assert "every node" in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("NODE1_NETWORK_INTERFACE_ID", "i-0123456789abcdef1", "network interface ID"),
        ("NODE2_PRIVATE_IP_ADDRESS", "10.0.2.300", "IPv4 address"),
        ("NODE2_NETWORK_INTERFACE_ID", "eni-0123456789abcdef1", "same network interface"),
    ],
)
def test_a_bad_network_interface_or_private_ip_names_the_variable_and_value(
    base_env: dict[str, str], variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**base_env, **ENI_ENV, variable: value})
    assert (raised.value.variable, raised.value.value) == (variable, value)
    assert problem in str(raised.value)
