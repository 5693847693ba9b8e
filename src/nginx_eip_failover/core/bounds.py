"""Byte bounds for every free-text field that reaches the state item, a log line or a notice.

DynamoDB's item limit is in bytes, and a character takes 1 to 4 bytes in UTF-8 (6 to 12 when
`json.dumps` escapes it), so a bound in characters is no bound at all. The state item stores UTF-8
JSON (`ensure_ascii=False`); sizes here are measured the same way. Text is cut on a character
boundary and a cut is marked with an ellipsis.
"""

from __future__ import annotations

import json

# A probe detail or an error, as stored: room for "no peer up (0/12000 peers up: 11990 down, ...)".
MAX_DETAIL_BYTES = 200
# An operator's reason: at most 500 characters, so at most 2000 bytes of UTF-8 whatever the script.
MAX_REASON_BYTES = 2000
# A history entry's reason (a move's reason quotes an operator's reason or a probe's detail).
MAX_ENTRY_REASON_BYTES = MAX_REASON_BYTES + 200
_ELLIPSIS = "..."


def stored_size(text: str) -> int:
    """Bytes `text` takes inside the state item's UTF-8 JSON (escapes included, quotes excluded)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")) - 2


def bounded(text: str, max_bytes: int = MAX_DETAIL_BYTES) -> str:
    """`text` if it fits in `max_bytes` once JSON-escaped, else its longest prefix that does, plus '...'."""
    if stored_size(text) <= max_bytes:
        return text
    budget = max_bytes - len(_ELLIPSIS)
    # Binary search for the longest fitting prefix: linear in the text's length overall.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if stored_size(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low] + _ELLIPSIS
