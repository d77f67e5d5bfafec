"""Keep notifications within FCM's payload limits by shortening the body, never the data."""

import json

# FCM counts the keys and values of the notification and data payloads.
TOKEN_LIMIT = 4096
TOPIC_LIMIT = 2048
TITLE_MAX_CHARS = 200
ELLIPSIS = "…"


def payload_size(title: str, body: str, data: dict[str, str]) -> int:
    """Bytes of the notification and data as compact UTF-8 JSON.

    This counts JSON punctuation on top of FCM's keys-and-values rule, so a payload that
    fits here also fits FCM's limit.
    """
    document = {"notification": {"title": title, "body": body}, "data": data}
    return len(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())


def _shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars].rstrip() + ELLIPSIS


def fit(title: str, body: str, data: dict[str, str], limit: int = TOKEN_LIMIT) -> tuple[str, str]:
    """Return (title, body) shortened with an ellipsis so that the payload is within `limit`.

    The title is capped at TITLE_MAX_CHARS characters first; then the body is cut to the
    longest prefix that fits (binary search on characters, so multi-byte text is never split
    inside a character). Raises ValueError when the data and title alone do not fit.
    """
    title = _shorten(title, TITLE_MAX_CHARS)
    if payload_size(title, body, data) <= limit:
        return title, body
    if payload_size(title, ELLIPSIS, data) > limit:
        raise ValueError(f"the title and data alone exceed {limit} bytes")
    low, high = 0, len(body) - 1  # the longest prefix known to fit, and one known not to
    while low < high:
        middle = (low + high + 1) // 2
        if payload_size(title, _shorten(body, middle), data) <= limit:
            low = middle
        else:
            high = middle - 1
    return title, _shorten(body, low)
