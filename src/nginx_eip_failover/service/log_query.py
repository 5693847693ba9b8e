"""The `log` control action: `{"action": "log", "since": <epoch s>, "until": <epoch s>, "limit": N,
"after": "<sort key>"}` reads the decision log, oldest first, one page at a time.

Every field is optional: `since` defaults to an hour ago, `until` to now (both epoch seconds, at
most 9,999,999,999: a larger bound is refused as the epoch milliseconds it almost surely is), `limit`
to 200 (at most 1000), `after` continues from the `next` key of the previous page. The answer stays
below Lambda's 6 MB response limit whatever the records hold: a page ends early (with `next`) when
it is full.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nginx_eip_failover.core.errors import InvalidRequestError
from nginx_eip_failover.core.log_records import record_json, record_to_dict
from nginx_eip_failover.core.ports import DecisionLog

DEFAULT_SINCE_SECONDS = 3600.0
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
# Lambda's synchronous response limit is 6 MB: a page stops adding records past this many bytes.
MAX_PAGE_BYTES = 4 * 1024 * 1024
# The last epoch second the log's sort keys can hold (13 digits of milliseconds: 2286-11-20). A bound
# past it is almost surely epoch milliseconds passed by mistake.
MAX_TIME_SECONDS = 9_999_999_999
_SORT_KEY = re.compile(r"^\d{13}#[0-9a-z]{1,32}#\d{6}$")


@dataclass(frozen=True)
class LogQuery:
    since: float | None = None
    until: float | None = None
    limit: int = DEFAULT_LIMIT
    after: str | None = None


def parse_log_query(event: Mapping[str, Any]) -> LogQuery:
    since = _time(event, "since")
    until = _time(event, "until")
    if since is not None and until is not None and until < since:
        raise InvalidRequestError("until", until, f"must not be before since ({since:g})")
    limit = event.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError("limit", limit, f"must be a whole number from 1 to {MAX_LIMIT}")
    after = event.get("after")
    if after is not None and (not isinstance(after, str) or not _SORT_KEY.fullmatch(after)):
        raise InvalidRequestError("after", after, "must be the 'next' key of a previous log answer")
    return LogQuery(since=since, until=until, limit=limit, after=after)


def _time(event: Mapping[str, Any], field: str) -> float | None:
    value = event.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InvalidRequestError(field, value, "must be a time in epoch seconds (a non-negative number)")
    if value > MAX_TIME_SECONDS:
        raise InvalidRequestError(
            field,
            value,
            f"must be a time in epoch seconds, at most {MAX_TIME_SECONDS} (2286-11-20); "
            "this looks like epoch milliseconds: divide by 1000",
        )
    return float(value)


def log_answer(query: LogQuery, log: DecisionLog | None, now: float) -> dict[str, Any]:
    """The `log` action's answer: records (as log_records' JSON), and `next` when there are more."""
    if log is None:
        return {"ok": True, "action": "log", "enabled": False, "records": [], "next": None}
    since = query.since if query.since is not None else now - DEFAULT_SINCE_SECONDS
    until = query.until if query.until is not None else now
    found = log.read(since, until, query.limit + 1, after=query.after)
    records: list[dict[str, Any]] = []
    size = 0
    next_key: str | None = None
    for index, record in enumerate(found):
        if index == query.limit:
            next_key = records_key(records)
            break
        size += len(record_json(record).encode("utf-8", "surrogatepass"))
        if records and size > MAX_PAGE_BYTES:
            next_key = records_key(records)
            break
        records.append(record_to_dict(record))
    return {"ok": True, "action": "log", "enabled": True, "records": records, "next": next_key}


def records_key(records: list[dict[str, Any]]) -> str | None:
    return str(records[-1]["key"]) if records else None
