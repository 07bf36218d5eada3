"""One model's benchmarks in one job (`launch.benchmarks_per_job`) on one set of servers.

Within `shared_servers`, the servers and balancer a job starts stay up for the rest of the
batch: a job that would start the very same servers uses them instead, so each replica's
engine loads once. The launcher runs those jobs at the same time, each in its own process
(evallaunch.launching.batch_members): every benchmark's requests wait in the one balancer
queue, and a slot that one benchmark's last long sequence frees goes to another's next
request. Such a process finds the servers in its environment (`BATCH_SERVERS_ENV`, the
announcement `shared_servers` hands to `on_start` as the servers come up) and asks the
balancer over HTTP how many of its units' requests are answered.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.serving.balancer import LoadBalancer
from evallaunch.serving.servers import Server

log = logging.getLogger(__name__)

#: The announcement of the batch's running servers, for the jobs it runs in other
#: processes: JSON {"key": what they run, "url": the balancer's, "servers": how many}.
BATCH_SERVERS_ENV = "EVALLAUNCH_BATCH_SERVERS"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclasses.dataclass
class SharedServers:
    """The servers and balancer a job of the batch started, kept up for the others."""

    key: str
    stack: ExitStack  # closing it records the requests and stops balancer and servers
    servers: list[Server]
    balancer: LoadBalancer


#: Within `shared_servers`: the kept servers by what they run (at most one set: the node's
#: GPUs hold one), and who to tell when they come up.
_kept: dict[str, SharedServers] | None = None
_on_start: Callable[[dict[str, Any]], None] | None = None


@contextmanager
def shared_servers(on_start: Callable[[dict[str, Any]], None] | None = None) -> Iterator[None]:
    """Within the block, the servers a job starts stay up for the next jobs that would start
    the very same ones; they stop as the block ends. `on_start` gets the announcement
    (`BATCH_SERVERS_ENV`'s value) when a job's servers are up."""
    global _kept, _on_start
    _kept, _on_start = {}, on_start
    try:
        yield
    finally:
        kept, _kept, _on_start = _kept, None, None
        for shared in kept.values():
            shared.stack.close()


def kept_servers(key: str) -> SharedServers | None:
    """The batch's running servers that run `key`, if any are alive."""
    shared = _kept.get(key) if _kept is not None else None
    if shared is not None and any(server.alive() for server in shared.servers):
        return shared
    return None


def keep(shared: SharedServers) -> bool:
    """Keep a job's new servers up for the batch (False outside `shared_servers`: the job
    stops them itself). Servers kept for other settings stop first: the GPUs hold one set."""
    if _kept is None:
        return False
    for other in list(_kept):
        log.info("Stopping the batch's servers of other settings before these start")
        _kept.pop(other).stack.close()
    _kept[shared.key] = shared
    if _on_start is not None:
        url, count = shared.balancer.url, len(shared.servers)
        _on_start({"key": shared.key, "url": url, "servers": count})
    return True


def announced_servers(key: str) -> dict[str, Any] | None:
    """The servers of the batch this process is a job of (`BATCH_SERVERS_ENV`), which run
    `key`; None outside such a job."""
    raw = os.environ.get(BATCH_SERVERS_ENV)
    if not raw:
        return None
    announced: dict[str, Any] = json.loads(raw)
    if announced["key"] != key:
        theirs, ours = json.loads(announced["key"]), json.loads(key)
        differ = sorted(name for name in {*theirs, *ours} if theirs.get(name) != ours.get(name))
        raise EvallaunchError(
            "this job of a batch needs other servers than the ones its batch runs (they "
            f"differ in: {', '.join(differ)})",
            hint="run it in a batch of its own: launch.benchmarks_per_job=1",
        )
    return announced


def remote_answered(url: str, scope: str) -> Callable[[str], int]:
    """`answered(unit)` of the balancer at `url`, asked over HTTP (0 when it does not say)."""

    def answered(unit: str) -> int:
        query = urllib.parse.urlencode({"unit": scope + unit})
        try:
            with _NO_PROXY.open(f"{url}/_balancer/answered?{query}", timeout=5) as answer:
                return int(json.load(answer)["answered"])
        except (OSError, ValueError, KeyError):
            return 0

    return answered
