"""What the job's balancer (evallaunch.serving.balancer) knows of each server behind it,
and how it reads their answers: which to retry, how long they ask to wait, the tokens used."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Headers that belong to one connection, not to the message (RFC 9110 7.6.1), plus the ones
# aiohttp sets itself. Bodies pass through undecoded, so Content-Encoding stays.
HOP_HEADERS = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
    )
)


#: Answers that are retried besides 5xx: 429 Too Many Requests.
RETRIED = frozenset({429})


def retry_after_s(value: str | None) -> float | None:
    """Seconds a Retry-After header asks to wait (a number, or an HTTP date); None if none."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Upstream:
    """One server behind the balancer, with its live counters."""

    url: str
    alive: Callable[[], bool] = lambda: True
    active: int = 0
    requests: int = 0
    failures: int = 0
    down_until: float = 0.0

    def stats(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "alive": self.alive(),
            "active": self.active,
            "requests": self.requests,
            "failures": self.failures,
        }


def usage_of(body: bytes, encoding: str | None) -> dict[str, int]:
    """The token counts an OpenAI answer reports (its `usage`), {} when it reports none."""
    if encoding not in (None, "identity"):
        return {}
    try:
        usage = json.loads(body).get("usage") or {}
    except (ValueError, AttributeError):
        return {}
    keys = ("prompt_tokens", "completion_tokens")
    return {key: usage[key] for key in keys if isinstance(usage.get(key), int)}
