"""The SNS adapter: notices reach subscribers; a failing publish never raises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from nginx_eip_failover.adapters import sns_notifier as notifications
from nginx_eip_failover.adapters.sns_notifier import Notifier
from nginx_eip_failover.core.ports import Notice

MOVE = Notice("move", "warning", "EIP eipalloc-0123456789abcdef0 moved from node1 to node2: node1 is down")
NO_NODE = Notice("no_node_up", "critical", "no node is up; EIP stays on node1")


@pytest.fixture
def sns_to_sqs(boto_session: boto3.session.Session) -> Iterator[tuple[Any, str, Any, str]]:
    with mock_aws():
        sns = boto_session.client("sns", region_name="us-east-1")
        sqs = boto_session.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="failover-notices")["TopicArn"]
        queue = sqs.create_queue(QueueName="notices")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        yield sns, topic, sqs, queue


def received(sqs: Any, queue: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_notices_are_published_to_the_topic(sns_to_sqs: tuple[Any, str, Any, str]) -> None:
    sns, topic, sqs, queue = sns_to_sqs
    Notifier(sns, topic, source="nginx-eip-failover").publish([MOVE, NO_NODE])
    bodies = sorted(received(sqs, queue), key=lambda body: body["Subject"])
    assert [body["Subject"] for body in bodies] == [
        "[nginx-eip-failover] CRITICAL: no node up",
        "[nginx-eip-failover] WARNING: move",
    ]
    assert [body["Message"] for body in bodies] == [NO_NODE.message, MOVE.message]
    assert bodies[1]["MessageAttributes"]["kind"]["Value"] == "move"
    assert bodies[0]["MessageAttributes"]["severity"]["Value"] == "critical"
    assert all(body["TopicArn"] == topic for body in bodies)


def test_a_long_subject_is_cut_to_what_sns_accepts(sns_to_sqs: tuple[Any, str, Any, str]) -> None:
    sns, topic, sqs, queue = sns_to_sqs
    Notifier(sns, topic, source="x" * 120).publish([MOVE])
    [body] = received(sqs, queue)
    assert len(body["Subject"]) == 100
    assert body["Message"] == MOVE.message


def test_a_missing_topic_does_not_raise(sns_to_sqs: tuple[Any, str, Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    sns, topic, sqs, queue = sns_to_sqs
    logged: list[str] = []
    monkeypatch.setattr(notifications.logger, "exception", lambda message, **_: logged.append(message))
    Notifier(sns, topic.replace("failover-notices", "deleted-topic"), source="s").publish([MOVE])
    assert logged == ["could not publish notice"]
    assert received(sqs, queue) == []


class FlakySns:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        if self.errors:
            raise self.errors.pop(0)
        self.published.append(kwargs)
        return {"MessageId": "1"}


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "AuthorizationError", "Message": "denied"}}, "Publish"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    ],
    ids=["client-error", "unreachable"],
)
def test_a_failed_publish_does_not_stop_the_next_notice(error: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications.logger, "exception", lambda *a, **k: None)
    sns = FlakySns([error])
    Notifier(sns, "arn:aws:sns:us-east-1:123456789012:t", source="s").publish([MOVE, NO_NODE])  # type: ignore[arg-type]
    assert [message["Message"] for message in sns.published] == [NO_NODE.message]


def test_without_a_topic_notices_are_only_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[tuple[str, str]] = []
    monkeypatch.setattr(notifications.logger, "warning", lambda m, **_: logged.append(("warning", m)))
    monkeypatch.setattr(notifications.logger, "error", lambda m, **_: logged.append(("error", m)))
    sns = FlakySns([])
    Notifier(sns, None, source="s").publish([MOVE, NO_NODE])  # type: ignore[arg-type]
    Notifier(None, "arn:aws:sns:us-east-1:123456789012:t", source="s").publish([MOVE])
    assert sns.published == []
    assert logged == [("warning", MOVE.message), ("error", NO_NODE.message), ("warning", MOVE.message)]


def test_a_notifier_given_connect_builds_its_client_at_the_first_notice_only(
    sns_to_sqs: tuple[Any, str, Any, str],
) -> None:
    sns, topic, sqs, queue = sns_to_sqs
    built: list[str] = []

    def connect() -> Any:
        built.append("client")
        return sns

    notifier = Notifier(None, topic, source="s", connect=connect)
    assert built == []  # nothing on the cold path
    notifier.publish([])
    assert built == []
    notifier.publish([MOVE])
    notifier.publish([NO_NODE])
    assert built == ["client"]
    assert [body["MessageAttributes"]["kind"]["Value"] for body in received(sqs, queue)] == ["move", "no_node_up"]
