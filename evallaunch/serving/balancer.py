"""A least-connections HTTP load balancer in front of a job's inference servers (aiohttp).

It runs on its own event loop in a daemon thread of the job's process, listens on
127.0.0.1 and forwards every request unchanged to the live server with the fewest requests
in flight; with a capacity, requests beyond the engines' slots wait in its one line
(evallaunch.serving.slots). A request that fails with a connection error, a 429 or a 5xx
answer is retried on another server, up to `max_retries` times; once every server was
tried, or when the server sent Retry-After, it waits first (exponential backoff with jitter
from `backoff_s`, at most `max_backoff_s`, or the Retry-After). A server whose process has
died is skipped.
The balancer answers `/_balancer/stats` (failed requests, tokens used), `/_balancer/health`
and `/_balancer/answered?unit=U` (for jobs sharing it: evallaunch.serving.batch_servers).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from evallaunch.backends.base import UNIT_HEADER
from evallaunch.runtime.files import atomic_open, write_json
from evallaunch.serving.servers import HOST
from evallaunch.serving.slots import ServerSlots
from evallaunch.serving.upstream import HOP_HEADERS, RETRIED, Upstream, retry_after_s, usage_of

log = logging.getLogger(__name__)


class LoadBalancer:
    """Least-connections balancer over `urls`; `start()` returns its own base URL."""

    def __init__(
        self,
        urls: Sequence[str],
        port: int = 0,
        max_retries: int = 3,
        alive: Sequence[Callable[[], bool]] | None = None,
        connect_timeout_s: float = 10.0,
        cooldown_s: float = 5.0,
        capacity: int | None = None,
        headers: dict[str, str] | None = None,
        strip_prefix: str = "",
        backoff_s: float = 0.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        checks = list(alive) if alive is not None else [lambda: True] * len(urls)
        self.upstreams = [
            Upstream(url.rstrip("/"), check) for url, check in zip(urls, checks, strict=True)
        ]
        self.port = port
        self.max_retries = max_retries
        self.connect_timeout_s = connect_timeout_s
        self.cooldown_s = cooldown_s
        #: Which server takes a request, and the line of those waiting for a slot.
        self.slots = ServerSlots(self.upstreams, capacity)
        #: Added to every forwarded request (e.g. an endpoint's Authorization).
        self.headers = dict(headers or {})
        #: Taken off the request's path before the server's URL is put in front of it.
        self.strip_prefix = strip_prefix
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        #: Requests answered with an error (after every retry of those that are retried).
        self.failed = 0
        #: Tokens the answers report (OpenAI `usage`), summed.
        self.usage: collections.Counter[str] = collections.Counter()
        self.retries = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._session: aiohttp.ClientSession | None = None
        #: One record per request: unit, server, status, and (monotonic s) when it arrived
        #: (start), went to its server (sent; later when it waited for a slot) and ended.
        self.requests: list[dict[str, Any]] = []
        self._answered: collections.Counter[str] = collections.Counter()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> LoadBalancer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout_s: float = 30.0) -> str:
        """Listen in a background thread; return the balancer's URL once it accepts requests."""
        self._thread = threading.Thread(target=self._run, name="evallaunch-balancer", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("the load balancer did not start")
        if self._error is not None:
            raise self._error
        log.info("Load balancer at %s over %d server(s)", self.url, len(self.upstreams))
        return self.url

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop listening and end the thread (idempotent)."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def stats(self) -> dict[str, Any]:
        return {
            "retries": self.retries,
            "failed": self.failed,
            "usage": dict(self.usage),
            "capacity": self.slots.capacity,
            "most_waiting": self.slots.most_waiting,
            "servers": [u.stats() for u in self.upstreams],
        }

    def write_records(self, log_dir: Path, servers: Sequence[dict[str, Any]] = ()) -> None:
        """The counters (balancer.json; `servers`: more facts of each server) and one line
        per request (requests.jsonl)."""
        stats = self.stats()
        for entry, facts in zip(stats["servers"], servers, strict=False):
            entry.update(facts)
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            write_json(log_dir / "balancer.json", stats)
            lines = [json.dumps(record) + "\n" for record in self.requests]
            with atomic_open(log_dir / "requests.jsonl") as handle:
                handle.writelines(lines)
        except OSError as err:
            log.warning("Could not write the balancer's records to %s: %s", log_dir, err)

    # --- the event loop thread --------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as err:  # reported by start() when it happens while starting
            self._error = err
            if self._ready.is_set():
                log.exception("The load balancer stopped with an error")
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=256 * 1024**2)
        app.router.add_get("/_balancer/stats", self._stats)
        app.router.add_get("/_balancer/health", self._health)
        app.router.add_get("/_balancer/answered", self._answered_of)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout_s)
        self._session = aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        try:
            await runner.setup()
            site = web.TCPSite(runner, HOST, self.port)
            await site.start()
            self.port = int(runner.addresses[0][1])
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()
            await self._session.close()

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _answered_of(self, request: web.Request) -> web.Response:
        return web.json_response({"answered": self.answered(request.query.get("unit", ""))})

    async def _health(self, request: web.Request) -> web.Response:
        up = any(u.alive() for u in self.upstreams)
        return web.json_response({"status": "ok" if up else "no server"}, status=200 if up else 503)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        record: dict[str, Any] = {
            "unit": request.headers.get(UNIT_HEADER, ""),
            "path": request.path,
            "start": time.monotonic(),
        }
        response = await self._forward_with_retries(request, record)
        record.update(end=time.monotonic(), status=response.status)
        self.requests.append(record)
        if response.status < 400:
            self._answered[record["unit"]] += 1
        else:
            self.failed += 1
        return response

    def answered(self, unit: str) -> int:
        """Requests of `unit` (its X-Evallaunch-Unit header) answered so far."""
        return self._answered[unit]

    async def _forward_with_retries(
        self, request: web.Request, record: dict[str, Any]
    ) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        headers.update(self.headers)
        path = request.path_qs
        if self.strip_prefix and path.startswith(self.strip_prefix):
            path = path[len(self.strip_prefix) :]
        tried: set[int] = set()
        error = "no live inference server"
        attempts = 0
        wait_s: float | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff(attempt, tried, wait_s))
            index = await self.slots.acquire(tried)
            if index is None:
                break
            attempts += 1
            if attempt:
                self.retries += 1
                log.warning("Retrying %s on server %d (%s)", request.path, index, error)
            tried.add(index)
            record.update(server=index, sent=time.monotonic())
            upstream = self.upstreams[index]
            upstream.requests += 1
            wait_s = None
            try:
                async with self._session.request(
                    request.method,
                    upstream.url + path,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                ) as answer:
                    if answer.status in RETRIED or answer.status >= 500:
                        text = (await answer.text(errors="replace"))[:300]
                        error = f"server {index} answered {answer.status}: {text}"
                        upstream.failures += 1
                        wait_s = retry_after_s(answer.headers.get("Retry-After"))
                        continue
                    return await self._relay(request, answer)
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as err:
                error = f"server {index}: {type(err).__name__}: {err}"
                upstream.failures += 1
                upstream.down_until = time.monotonic() + self.cooldown_s
            finally:
                self.slots.release(index)
        message = f"load balancer: request failed after {attempts} attempt(s): {error}"
        log.error(message)
        return web.json_response({"error": {"message": message, "type": "balancer"}}, status=502)

    def _backoff(self, attempt: int, tried: set[int], retry_after: float | None) -> float:
        """Seconds to wait before retry `attempt`: the server's Retry-After; else, once every
        live server was tried, exponential backoff with jitter; else none (another server
        takes it at once)."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        if not self.backoff_s or any(
            i not in tried for i, u in enumerate(self.upstreams) if u.alive()
        ):
            return 0.0
        rounds = max(0, attempt - len(self.upstreams))
        return min(self.backoff_s * 2**rounds, self.max_backoff_s) * random.uniform(0.5, 1.0)  # noqa: S311

    async def _relay(
        self, request: web.Request, answer: aiohttp.ClientResponse
    ) -> web.StreamResponse:
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        if not answer.content_type.startswith("text/event-stream"):
            # Read it all first: a server dying mid-body is then retried like any failure.
            body = await answer.read()
            if answer.status == 200 and answer.content_type == "application/json":
                for key, tokens in usage_of(body, answer.headers.get("Content-Encoding")).items():
                    self.usage[key] += tokens
            return web.Response(status=answer.status, body=body, headers=headers)
        response = web.StreamResponse(status=answer.status, headers=headers)
        await response.prepare(request)
        try:
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, ConnectionError) as err:  # too late to retry
            log.error("Stream from %s broke off: %s", answer.url, err)
            return response
        await response.write_eof()
        return response
