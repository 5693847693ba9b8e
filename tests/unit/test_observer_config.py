"""OBSERVER_NAME, OBSERVERS and OBSERVER_HEARTBEAT_SECONDS: today's single observer by default, and a
clear error naming the variable and value for anything else that does not fit."""

from __future__ import annotations

import pytest

from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover.core.errors import ConfigError


def test_one_local_observer_by_default(base_env: dict[str, str]) -> None:
    settings = load_settings(base_env)
    assert (settings.observer, settings.observers, settings.shares_verdicts) == ("local", ("local",), False)


def test_three_observers_share_through_the_lease_table(base_env: dict[str, str]) -> None:
    env = {**base_env, "OBSERVER_NAME": "az-b", "OBSERVERS": "local, az-b,az-c", "MONITOR_LEASE_TABLE_NAME": "t"}
    settings = load_settings(env)
    assert settings.observers == ("local", "az-b", "az-c")
    assert settings.observer == "az-b" and settings.shares_verdicts
    assert settings.observer_heartbeat_seconds == 10.0


@pytest.mark.parametrize(
    ("overrides", "variable", "words"),
    [
        ({"OBSERVERS": "local,local"}, "OBSERVERS", "twice"),
        ({"OBSERVERS": "a,b,c,d,e,f"}, "OBSERVERS", "1 to 5"),
        ({"OBSERVERS": "b,c"}, "OBSERVERS", "OBSERVER_NAME"),
        ({"OBSERVERS": "local,Bad Name"}, "OBSERVERS", "'Bad Name'"),
        ({"OBSERVER_NAME": "x" * 40}, "OBSERVER_NAME", "1-32"),
        ({"OBSERVER_HEARTBEAT_SECONDS": "0.5"}, "OBSERVER_HEARTBEAT_SECONDS", "[1, 300]"),
        ({"OBSERVERS": "local,b", "MONITOR_LEASE_TABLE_NAME": ""}, "MONITOR_LEASE_TABLE_NAME", "several"),
    ],
)
def test_bad_observer_settings_name_the_variable_and_value(
    base_env: dict[str, str], overrides: dict[str, str], variable: str, words: str
) -> None:
    env = {**base_env, "MONITOR_LEASE_TABLE_NAME": "t", **overrides}
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    assert raised.value.variable == variable
    assert words in str(raised.value)
