"""The Lambda context double of the lab, the benchmarks and the tests.

It has what the handlers and Powertools read from a real context (function name, memory, ARN,
request id, ...) and a remaining time that really runs down: `get_remaining_time_in_millis` counts
to a deadline fixed when the double is made, as Lambda's counts to the function's timeout.

    context = LambdaContextDouble(3000)                                   # 3 s left from now
    context = LambdaContextDouble(1500, function_name="ControlFunction")
"""

from __future__ import annotations

import time
import uuid
from dataclasses import KW_ONLY, InitVar, dataclass, field

from .account import ACCOUNT_ID, REGION


def _request_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class LambdaContextDouble:
    remaining_ms: InitVar[float] = 0.0
    _: KW_ONLY
    function_name: str = "MonitorFunction"
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=_request_id)
    function_version: str = "$LATEST"
    log_stream_name: str = "lab"
    deadline: float = field(init=False)  # time.monotonic() when the invocation's time is up

    def __post_init__(self, remaining_ms: float) -> None:
        object.__setattr__(self, "deadline", time.monotonic() + remaining_ms / 1000)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))
