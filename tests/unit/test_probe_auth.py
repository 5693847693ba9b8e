"""Authenticated health checks in the pure core (core/probe_auth, and what the decision makes of an
auth failure): the configuration's errors, the credentials a secret becomes, and a 401/403 that is
neither the node going down nor a success."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from nginx_eip_failover.core.config import load_settings
from nginx_eip_failover.core.decision import (
    ALERT_PROBE_AUTH_FAILED,
    Decision,
    decide,
    node_verdicts,
    record_probes,
    round_context,
)
from nginx_eip_failover.core.errors import ConfigError
from nginx_eip_failover.core.log_records import _observation_from_list, _observation_to_list
from nginx_eip_failover.core.ports import Notice, Observation
from nginx_eip_failover.core.probe_auth import (
    MAX_AUTH_SECRET_BYTES,
    ProbeAuth,
    ProbeSecretError,
    auth_headers,
    client_certificate_pem,
    is_auth_failure,
    is_client_cert_refusal,
    load_probe_auth,
    secret_service,
)
from nginx_eip_failover.core.quorum import report_of
from nginx_eip_failover.core.state import ControllerState
from nginx_eip_failover.core.streaks import ProbeRuns
from support.core_builders import I1, I2, down, settings, state, up

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nginx-probe-token-AbCdEf"
PARAMETER_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/nginx/probe-token"
HEADER = ProbeAuth(kind="header", secret_arn=SECRET_ARN)
BASIC = ProbeAuth(kind="basic", secret_arn=PARAMETER_ARN)
CFG = settings(probe_auth=HEADER)


# --- configuration: every error names the variable and the value ----------------------------------


def test_no_variables_means_no_auth() -> None:
    auth = load_probe_auth({})
    assert auth == ProbeAuth() and not auth.enabled


def test_a_header_secret_is_parsed_with_its_defaults() -> None:
    auth = load_probe_auth({"HEALTH_CHECK_AUTH_KIND": "header", "HEALTH_CHECK_AUTH_SECRET_ARN": SECRET_ARN})
    assert auth == ProbeAuth(kind="header", secret_arn=SECRET_ARN, header_name="Authorization")
    assert auth.enabled and not auth.failure_is_down
    assert secret_service(SECRET_ARN) == "secretsmanager" and secret_service(PARAMETER_ARN) == "ssm"


@pytest.mark.parametrize(
    ("env", "variable", "value"),
    [
        ({"HEALTH_CHECK_AUTH_KIND": "bearer"}, "HEALTH_CHECK_AUTH_KIND", "bearer"),
        ({"HEALTH_CHECK_AUTH_KIND": "header"}, "HEALTH_CHECK_AUTH_SECRET_ARN", ""),
        ({"HEALTH_CHECK_AUTH_SECRET_ARN": SECRET_ARN}, "HEALTH_CHECK_AUTH_KIND", "none"),
        (
            {"HEALTH_CHECK_AUTH_KIND": "header", "HEALTH_CHECK_AUTH_SECRET_ARN": "my-token"},
            "HEALTH_CHECK_AUTH_SECRET_ARN",
            "my-token",
        ),
        (
            {
                "HEALTH_CHECK_AUTH_KIND": "header",
                "HEALTH_CHECK_AUTH_SECRET_ARN": SECRET_ARN,
                "HEALTH_CHECK_AUTH_HEADER_NAME": "X Key",
            },
            "HEALTH_CHECK_AUTH_HEADER_NAME",
            "X Key",
        ),
        (
            {
                "HEALTH_CHECK_AUTH_KIND": "basic",
                "HEALTH_CHECK_AUTH_SECRET_ARN": SECRET_ARN,
                "HEALTH_CHECK_AUTH_HEADER_NAME": "X-Key",
            },
            "HEALTH_CHECK_AUTH_HEADER_NAME",
            "X-Key",
        ),
        ({"HEALTH_CHECK_AUTH_FAILURE_IS_DOWN": "yes"}, "HEALTH_CHECK_AUTH_FAILURE_IS_DOWN", "yes"),
        (
            {"HEALTH_CHECK_CLIENT_CERT_SECRET_ARN": "arn:aws:s3:::bucket/cert.pem"},
            "HEALTH_CHECK_CLIENT_CERT_SECRET_ARN",
            "arn:aws:s3:::bucket/cert.pem",
        ),
    ],
)
def test_a_bad_variable_is_named_with_its_value(env: dict[str, str], variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_probe_auth(env)
    assert raised.value.variable == variable
    assert f'{variable}="{value}"' in str(raised.value)


def test_the_settings_carry_the_probe_auth() -> None:
    env = {
        "EIP_ALLOCATION_ID": "eipalloc-00000000000000001",
        "NODE1_INSTANCE_ID": I1,
        "NODE1_HEALTH_CHECK_URL": "http://127.0.0.1:1/",
        "NODE1_PRIORITY": "101",
        "NODE2_INSTANCE_ID": I2,
        "NODE2_HEALTH_CHECK_URL": "http://127.0.0.1:2/",
        "NODE2_PRIORITY": "100",
        "STATE_TABLE_NAME": "state",
        "HEALTH_CHECK_AUTH_KIND": "basic",
        "HEALTH_CHECK_AUTH_SECRET_ARN": PARAMETER_ARN,
        "HEALTH_CHECK_AUTH_FAILURE_IS_DOWN": "true",
    }
    assert load_settings(env).probe_auth == ProbeAuth(kind="basic", secret_arn=PARAMETER_ARN, failure_is_down=True)


# --- the secret's text: what a probe sends, or an error naming the parameter, never the value --------


def test_a_header_secret_is_the_headers_value() -> None:
    assert auth_headers(HEADER, "Bearer s3cret-token\n") == {"Authorization": "Bearer s3cret-token"}
    named = replace(HEADER, header_name="X-Api-Key")
    assert auth_headers(named, "abc") == {"X-Api-Key": "abc"}


@pytest.mark.parametrize("secret", ['{"username": "probe", "password": "p:w"}', "probe:p:w"])
def test_a_basic_secret_is_json_or_user_colon_password(secret: str) -> None:
    (value,) = auth_headers(BASIC, secret).values()
    assert value == "Basic " + base64.b64encode(b"probe:p:w").decode()


@pytest.mark.parametrize(
    ("auth", "secret", "problem"),
    [
        (HEADER, "", "empty"),
        (HEADER, "Bearer zq9\r\nX-Evil: 1", "control character"),
        (HEADER, "x" * (MAX_AUTH_SECRET_BYTES + 1), f"more than {MAX_AUTH_SECRET_BYTES}"),
        (BASIC, "zq9-no-colon", "username:password"),
        (BASIC, '{"username": "zq9"}', '"password"'),
        (BASIC, "[1, 2]", "username:password"),
        (BASIC, '{"user": zq9', "not JSON"),
    ],
)
def test_a_malformed_secret_names_the_parameter_and_hides_the_value(auth: ProbeAuth, secret: str, problem: str) -> None:
    with pytest.raises(ProbeSecretError) as raised:
        auth_headers(auth, secret)
    message = str(raised.value)
    assert message.startswith(f"HealthCheckAuthSecretArn ({auth.secret_arn}): ")
    assert problem in message
    if secret.strip():
        assert secret.strip() not in message and "zq9" not in message


def test_a_client_certificate_secret_needs_a_certificate_and_an_unencrypted_key() -> None:
    auth = ProbeAuth(client_cert_secret_arn=SECRET_ARN)
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
    assert client_certificate_pem(auth, cert + key) == cert + key
    for bad, problem in ((cert, "no PEM private key"), (key, "no PEM certificate")):
        with pytest.raises(ProbeSecretError, match=f"HealthCheckClientCertSecretArn .*{problem}"):
            client_certificate_pem(auth, bad)
    encrypted = cert + key.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY")
    with pytest.raises(ProbeSecretError, match="encrypted"):
        client_certificate_pem(auth, encrypted)


def test_which_answers_are_auth_failures() -> None:
    assert is_auth_failure(401, HEADER) and is_auth_failure(403, HEADER)
    assert not is_auth_failure(404, HEADER) and not is_auth_failure(500, HEADER)
    # Without credentials a 401 is the node's answer (a failure, as before); configured so, too.
    assert not is_auth_failure(401, ProbeAuth())
    assert not is_auth_failure(401, replace(HEADER, failure_is_down=True))
    mtls = ProbeAuth(client_cert_secret_arn=SECRET_ARN)
    assert is_client_cert_refusal(mtls, status=400, body=b"<h1>400 No required SSL certificate was sent</h1>")
    assert is_client_cert_refusal(
        mtls, error="SSLError: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"
    )
    assert not is_client_cert_refusal(mtls, status=400, body=b"bad request")
    assert not is_client_cert_refusal(HEADER, status=400, body=b"No required SSL certificate was sent")


# --- the decision: an auth failure is neither down nor up ------------------------------------------


def _probe(node: str, result: str) -> Observation:
    if result == "auth":
        return Observation(node, False, "auth failed: HTTP 401", 3.0, auth_failed=True)
    return Observation(node, result == "ok", "HTTP 200" if result == "ok" else "refused", 3.0)


class Prober:
    """One prober's rounds through the core exactly as the controller runs them (runs, verdicts,
    the round's context, record_probes, decide)."""

    def __init__(self, cfg=CFG) -> None:  # type: ignore[no-untyped-def]
        self.cfg = cfg
        self.runs = ProbeRuns()

    def cycle(self, current: ControllerState, association: str | None, now: float, **results: str) -> Decision:
        observations = [_probe(node, result) for node, result in results.items()]
        self.runs, attached = self.runs.extend(observations, now, self.cfg)
        verdicts = node_verdicts(attached, self.cfg.quorum)
        ctx = round_context(self.cfg, now, "monitor", verdicts)
        return decide(record_probes(current, verdicts, ctx, now), association, ctx, move_id=f"m{now:g}")


def test_a_holder_refusing_the_credentials_keeps_the_eip_and_stays_up() -> None:
    prober = Prober()
    current = state(node1=up(), node2=up())
    notices: list[Notice] = []
    for tick in range(1, 4 * CFG.fall_threshold):
        decision = prober.cycle(current, I1, float(tick), node1="auth", node2="ok")
        assert decision.move is None, decision.reason
        current, notices = decision.state, [*notices, *decision.notices]
        assert current.health("node1").status == "up" and current.health("node1").fail_streak == 0
    assert ALERT_PROBE_AUTH_FAILED in current.alerts
    # One notice for the whole outage, naming the node; a history entry says so too.
    assert [n.kind for n in notices] == [ALERT_PROBE_AUTH_FAILED]
    assert "node1 refused the health check's credentials" in notices[0].message
    assert [e.event for e in current.history] == [ALERT_PROBE_AUTH_FAILED]
    cleared = prober.cycle(current, I1, 100.0, node1="ok", node2="ok")
    assert ALERT_PROBE_AUTH_FAILED not in cleared.state.alerts
    assert [n.kind for n in cleared.notices] == [f"{ALERT_PROBE_AUTH_FAILED}_cleared"]
    assert cleared.state.history[-1].event == f"{ALERT_PROBE_AUTH_FAILED}_cleared"


def test_a_standby_refusing_the_credentials_never_receives_the_eip() -> None:
    prober = Prober()
    current = state(node1=up(), node2=up())
    for tick in range(1, 2 * CFG.fall_threshold):
        decision = prober.cycle(current, I1, float(tick), node1="fail", node2="auth")
        current = decision.state
        assert decision.move is None, decision.reason
    assert current.health("node1").status == "down"
    assert current.health("node2").status == "up"  # not taken down by the 401s ...
    assert "no other node is up" in decision.reason  # ... but not trusted with the EIP either


def test_auth_failures_never_let_a_down_node_rise() -> None:
    prober = Prober()
    current = state(I2, node1=down(), node2=up())
    for tick in range(1, 4 * CFG.rise_threshold):
        current = prober.cycle(current, I2, float(tick), node1="auth", node2="ok").state
        assert current.health("node1").status == "down" and current.health("node1").ok_streak == 0


def test_an_auth_failure_breaks_a_run_so_failures_around_it_are_not_consecutive() -> None:
    prober = Prober()
    current = state(node1=up(), node2=up())
    pattern = ["fail", "fail", "auth", "fail", "fail", "auth", "fail", "fail"]
    for tick, result in enumerate(pattern, start=1):
        decision = prober.cycle(current, I1, float(tick), node1=result, node2="ok")
        current = decision.state
        assert decision.move is None
    # Never FallThreshold (3) failures in a row: node1 keeps the EIP, still up, though failing.
    assert current.health("node1").status == "up"
    down_now = prober.cycle(current, I1, 9.0, node1="fail", node2="ok")
    assert down_now.state.health("node1").status == "down" and down_now.move is not None


def test_configured_as_down_a_refusal_is_a_plain_failure() -> None:
    # HealthCheckAuthFailureIsDown: the prober reports a 401 as a failure (not auth_failed), so it counts.
    prober = Prober(settings(probe_auth=replace(HEADER, failure_is_down=True)))
    current = state(node1=up(), node2=up())
    for tick in range(1, CFG.fall_threshold + 1):
        decision = prober.cycle(current, I1, float(tick), node1="fail", node2="ok")
        current = decision.state
    assert current.health("node1").status == "down" and decision.move is not None
    assert ALERT_PROBE_AUTH_FAILED not in current.alerts


def test_one_observer_refused_does_not_vote_and_the_others_decide() -> None:
    observations = [
        Observation("node1", False, "auth failed: HTTP 401", 2.0, observer="a", auth_failed=True),
        Observation("node1", True, "HTTP 200", 2.0, observer="b"),
        Observation("node2", False, "auth failed: HTTP 403", 2.0, observer="a", auth_failed=True),
    ]
    verdicts = node_verdicts(observations, quorum=1)
    assert verdicts["node1"].ok and not verdicts["node1"].auth_failed
    assert not verdicts["node2"].ok and verdicts["node2"].auth_failed
    # What an observer shares: no vote on a node it could not authenticate to.
    report = report_of("a", observations[:1], at=5.0)
    assert "node1" not in report.ok and "node1" not in report.failing_since


def test_the_decision_log_keeps_an_auth_failure() -> None:
    observation = Observation("node1", False, "auth failed: HTTP 401", 4.5, auth_failed=True)
    assert _observation_from_list(_observation_to_list(observation)) == observation
    plain = Observation("node1", False, "refused", 4.5, run=(1.0, 2.0))
    assert _observation_from_list(_observation_to_list(plain)) == plain
    # Records written before auth failures existed read as plain observations.
    assert not _observation_from_list(["node1", False, 4.5, "refused", "local"]).auth_failed


# --- a fleet group's own settings.health_check_auth ---------------------------------------------------


def _fleet_group(auth: dict[str, object]) -> dict[str, object]:
    return {
        "name": "web",
        "nodes": [
            {"instance_id": "i-00000000000000001", "health_check_url": "http://127.0.0.1:8001/", "priority": 101},
            {"instance_id": "i-00000000000000002", "health_check_url": "http://127.0.0.1:8002/", "priority": 100},
        ],
        "elastic_ips": [{"allocation_id": "eipalloc-00000000000001001"}],
        "settings": {"health_check_auth": auth},
    }


def test_a_fleet_group_authenticates_with_its_own_secret_and_errors_name_its_field() -> None:
    from nginx_eip_failover.core.fleet_config import parse_fleet

    base = settings(probe_auth=HEADER)
    [web] = parse_fleet(
        {"groups": [_fleet_group({"kind": "basic", "secret_arn": PARAMETER_ARN, "failure_is_down": True})]}, base
    )
    assert (web.probe_auth.kind, web.probe_auth.secret_arn, web.probe_auth.failure_is_down) == (
        "basic",
        PARAMETER_ARN,
        True,
    )
    # Its secret's problems name the group's field, not the stack's parameter.
    with pytest.raises(ProbeSecretError, match=r"^fleet group web settings\.health_check_auth\.secret_arn \("):
        auth_headers(web.probe_auth, "zq9-no-colon")
    [plain] = parse_fleet({"groups": [_fleet_group({"kind": "none"})]}, base)
    assert not plain.probe_auth.enabled  # this group's nodes are not protected
    [inherited] = parse_fleet({"groups": [{**_fleet_group({}), "settings": {}}]}, base)
    assert inherited.probe_auth == HEADER  # no field: the stack's own


@pytest.mark.parametrize(
    ("auth", "field", "value"),
    [
        ({"kind": "header"}, "settings.health_check_auth.secret_arn", ""),
        ({"kind": "header", "secret_arn": "token"}, "settings.health_check_auth.secret_arn", "token"),
        (
            {"kind": "header", "secret_arn": SECRET_ARN, "header_name": "X Y"},
            "settings.health_check_auth.header_name",
            "X Y",
        ),
    ],
)
def test_a_bad_group_auth_names_the_group_field_and_value(auth: dict[str, object], field: str, value: str) -> None:
    from nginx_eip_failover.core.errors import FleetConfigError
    from nginx_eip_failover.core.fleet_config import parse_fleet

    with pytest.raises(FleetConfigError) as raised:
        parse_fleet({"groups": [_fleet_group(auth)]}, settings())
    assert (raised.value.group, raised.value.field, raised.value.value) == ("web", field, value)
    assert raised.value.field in str(raised.value)


def test_the_schema_refuses_an_unknown_auth_kind_naming_the_field() -> None:
    from nginx_eip_failover.core.errors import FleetConfigError
    from nginx_eip_failover.core.fleet_config import parse_fleet

    with pytest.raises(FleetConfigError, match=r"health_check_auth\.kind"):
        parse_fleet({"groups": [_fleet_group({"kind": "token"})]}, settings())


def test_groups_with_different_credentials_never_share_a_fleet_cycles_probe() -> None:
    # Active/active groups on the same nodes share one probe per node per cycle (service/shared_probes),
    # but only with the same credentials: a probe sent with one group's token says nothing for another's.
    from nginx_eip_failover.service.shared_probes import ProbeRounds, SharedProber

    cfg = settings()
    rounds = ProbeRounds()

    def shared(auth: ProbeAuth) -> SharedProber:
        return SharedProber(Prober(cfg), cfg.nodes, rounds, observer="local", timeout_seconds=1.0, auth=auth)  # type: ignore[arg-type]

    assert shared(HEADER).key == shared(HEADER).key
    assert shared(HEADER).key != shared(BASIC).key != shared(ProbeAuth()).key
