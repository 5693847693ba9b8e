"""The SNS adapter: operators hear about moves, drift, refused moves and no-node-up."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from nginx_eip_failover.core.ports import Notice
from nginx_eip_failover.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

_SUBJECT_LIMIT = 100  # SNS rejects longer subjects


class Notifier:
    def __init__(
        self,
        client: SNSClient | None,
        topic_arn: str | None,
        source: str,
        *,
        connect: Callable[[], SNSClient] | None = None,
    ) -> None:
        """`connect` (instead of `client`) builds the client at the first publish: notices are rare,
        and an SNS client costs a cold start about 10 ms of CPU it has better uses for."""
        self._sns = client
        self._connect = connect
        self._topic = topic_arn
        self._source = source

    def publish(self, notices: Sequence[Notice]) -> None:
        for notice in notices:
            log = logger.error if notice.severity == "critical" else logger.warning
            log(notice.message, extra={"notice": notice.kind, "severity": notice.severity})
            if self._topic is None:
                continue
            if self._sns is None and self._connect is not None:
                self._sns = self._connect()
            if self._sns is None:
                continue
            subject = f"[{self._source}] {notice.severity.upper()}: {notice.kind.replace('_', ' ')}"
            try:
                self._sns.publish(
                    TopicArn=self._topic,
                    Subject=subject[:_SUBJECT_LIMIT],
                    Message=notice.message,
                    MessageAttributes={
                        "kind": {"DataType": "String", "StringValue": notice.kind},
                        "severity": {"DataType": "String", "StringValue": notice.severity},
                    },
                )
            except (ClientError, BotoCoreError):
                # A notification must never stand in the way of a failover; the log line stays.
                logger.exception("could not publish notice", extra={"notice": notice.kind})
