"""Evaluating a model someone else serves (`model=endpoint`).

The server is real: `transformers serve` on the embedded model, started by the test. In
front of it stands the test's proxy, playing a shared or hosted API: it refuses requests
without the API key, and answers some with 429 (Retry-After) or 500, or none at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pandas as pd
import pytest
from aiohttp import web

from evallaunch.config.compose import compose_config
from evallaunch.errors import EvallaunchError
from evallaunch.job.fingerprint import config_fingerprint
from evallaunch.models.embedded import embedded_checkpoint
from evallaunch.serving.balancer import LoadBalancer
from evallaunch.serving.servers import HOST, Server, ServerPool, free_port
from evallaunch.serving.upstream import retry_after_s
from tests.helpers import SHARED_DATASETS, compose_spec, job_dir

KEY_ENV = "EVALLAUNCH_TEST_ENDPOINT_KEY"
KEY = "sk-test-" + secrets.token_hex(16)
RUN = [
    "model.name_or_path=embedded:smollm2-135m-instruct",
    "benchmark.limit=4",
    "benchmark.n=1",
    "generation.max_new_tokens=8",
    "generation.temperature=0",
    "sampling.problems_per_unit=1",
    "sampling.units_in_flight=1",
]
COLUMNS = ["problem_id", "prompt", "completion", "correct", "truncated"]


class Proxy:
    """An API in front of `upstream`, on its own event loop thread. Every request needs
    `Authorization: Bearer KEY` (else 401). `mode`: "ok" forwards; "flaky" answers every
    third request 429 (Retry-After: 1) and some others 500; "down" answers 503.
    `hold_after`: completion requests beyond that many wait for `release()` (and then for
    what `mode` says)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "ok"
        self.hold_after: int | None = None
        #: Completion requests: when each arrived, its body's hash, path and answer status.
        self.seen: list[dict[str, Any]] = []
        self.forwarded = 0
        self.active = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.url = self._call(self._start()) + "/v1"

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    async def _start(self) -> str:
        self._released = asyncio.Event()
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        return f"http://{HOST}:{self._runner.addresses[0][1]}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        record = {"arrived": time.monotonic(), "sha": hashlib.sha256(body).hexdigest()}
        record["path"] = request.path
        if request.method == "POST":
            self.active += 1
            try:
                if self.hold_after is not None and self.forwarded >= self.hold_after:
                    await self._released.wait()
                return await self._answer(request, body, record)
            finally:
                self.active -= 1
        if request.path == "/version":  # as vLLM says which it is
            return web.json_response({"version": "proxy-1"})
        return await self._answer(request, body, None)

    async def _answer(
        self, request: web.Request, body: bytes, record: dict[str, Any] | None
    ) -> web.StreamResponse:
        number = len(self.seen)
        status = 200
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            status = 401
        elif self.mode == "down":
            status = 503
        elif self.mode == "flaky" and number % 3 == 1:
            status = 429
        elif self.mode == "flaky" and number % 3 == 2 and number % 2:
            status = 500
        if record is not None:
            self.seen.append({**record, "status": status})
        if status == 429:
            return web.json_response({}, status=429, headers={"Retry-After": "1"})
        if status != 200:
            return web.json_response({"error": "refused"}, status=status)
        if record is not None:
            self.forwarded += 1
        path = request.path_qs.removeprefix("/v1")
        async with self._session.request(
            request.method,
            self.upstream + "/v1" + path,
            data=body,
            headers={"Content-Type": request.headers.get("Content-Type", "application/json")},
        ) as answer:
            return web.Response(
                status=answer.status, body=await answer.read(), content_type=answer.content_type
            )

    def release(self) -> None:
        self.hold_after = None
        self._loop.call_soon_threadsafe(self._released.set)

    def idle(self) -> bool:
        return self.active == 0

    def close(self) -> None:
        self.release()

        async def stop() -> None:
            await self._runner.cleanup()
            await self._session.close()

        self._call(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The proxy in front of a `transformers serve` of the embedded model."""
    folder = tmp_path_factory.mktemp("served")
    cache = os.environ.get("EVALLAUNCH_CACHE", str(Path.home() / ".cache" / "evallaunch"))
    model = embedded_checkpoint("embedded:smollm2-135m-instruct", cache)
    port = free_port(0)
    argv = [str(Path(sys.executable).with_name("transformers")), "serve", str(model)]
    argv += ["--host", HOST, "--port", str(port), "--device", "cpu", "--dtype", "float32"]
    server = Server(0, argv, port, folder / "server.log")
    with ServerPool([server], "/health", 300.0):
        front = Proxy(server.url)
        yield front
        front.close()


def evaluate(root: Path, *args: str) -> subprocess.Popen[str]:
    """`python -m evallaunch.evaluate` with the key in its environment, under root."""
    out = (root / f"job-{time.monotonic_ns()}.out").open("w")
    argv = [sys.executable, "-m", "evallaunch.evaluate", f"paths.output_root={root}/outputs"]
    argv += [f"paths.data_dir={SHARED_DATASETS}", *RUN, *args]
    env = {**os.environ, KEY_ENV: KEY, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        argv,
        cwd=root,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )


def on_endpoint(proxy: Proxy, *args: str) -> list[str]:
    return [
        "model=endpoint",
        "backend=lmeval_server",
        f"model.endpoint.url={proxy.url}",
        f"model.endpoint.api_key_env={KEY_ENV}",
        # The balancer (on base_port - 1) off evallaunch's default ports: no `ports` mark.
        f"backend.server.base_port={free_port(0) + 1}",
        "model.endpoint.retry_backoff_s=0.05",
        *args,
    ]


def finish(job: subprocess.Popen[str], root: Path, ok: bool = True) -> None:
    job.wait(timeout=600)
    if (job.returncode == 0) != ok:
        log = sorted(root.glob("job-*.out"))[-1].read_text()[-4000:]
        raise AssertionError(f"evaluate ended with {job.returncode}:\n{log}")


def outcome(root: Path, backend: str) -> tuple[dict[str, Any], pd.DataFrame]:
    folder = job_dir(root / "outputs", backend=backend)
    results = json.loads((folder / "results.json").read_text())
    return results, pd.read_parquet(folder / "details.parquet")[COLUMNS]


@pytest.fixture(scope="module")
def in_house(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The same model's greedy samples, in process (lm-eval's Hugging Face model)."""
    root = tmp_path_factory.mktemp("in_house")
    finish(evaluate(root, "backend=lmeval"), root)
    return outcome(root, "lmeval")[1]


@pytest.mark.slow
def test_a_served_model_scores_as_in_house_through_429_and_500(
    proxy: Proxy, in_house: pd.DataFrame, tmp_path: Path
) -> None:
    proxy.mode, proxy.seen = "flaky", []
    try:
        finish(evaluate(tmp_path, *on_endpoint(proxy)), tmp_path)
    finally:
        proxy.mode = "ok"
    results, samples = outcome(tmp_path, "lmeval_server")
    pd.testing.assert_frame_equal(samples, in_house)  # greedy: the same completions
    seen = proxy.seen
    refused = [s for s in seen if s["status"] != 200]
    assert {s["status"] for s in refused} == {429, 500}
    assert {s["path"] for s in seen} == {"/v1/chat/completions"}
    endpoint = results["endpoint"]
    assert endpoint["failed"] == 0 and endpoint["retries"] == len(refused)
    assert endpoint["url"] == proxy.url and endpoint["samples_as"] == "seeded requests"
    assert endpoint["reported"] == {"server_version": "proxy-1"}
    assert endpoint["usage"]["completion_tokens"] >= len(samples)
    assert endpoint["usage"]["prompt_tokens"] > endpoint["usage"]["completion_tokens"]
    assert results["engine_starts"] == 0  # nothing started: nothing to load
    for first in seen:  # Retry-After: 1 was honoured
        if first["status"] == 429:
            again = next(s for s in seen if s["sha"] == first["sha"] and s is not first)
            assert again["arrived"] - first["arrived"] >= 0.95
    # The key went to the server with every request, and into no file of the run.
    assert all(s["status"] != 401 for s in seen)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_failed_and_killed_runs_resume_without_asking_again(
    proxy: Proxy, in_house: pd.DataFrame, tmp_path: Path
) -> None:
    """An endpoint that goes down fails the job (the samples it answered are kept); a rerun
    asks only for the rest, and a run killed mid-way resumes the same way."""
    ledger = job_dir(tmp_path / "outputs", backend="lmeval_server") / "ledger"
    proxy.hold_after = proxy.forwarded + 2  # two problems answered, then the endpoint fails
    job = evaluate(tmp_path, *on_endpoint(proxy, "model.endpoint.max_retries=2"))
    wait_for(lambda: recorded(ledger) == 2 or job.poll() is not None)
    proxy.mode = "down"
    proxy.release()
    finish(job, tmp_path, ok=False)
    status = json.loads(
        (job_dir(tmp_path / "outputs", backend="lmeval_server") / "status.json").read_text()
    )
    assert status["status"] == "failed" and "request(s) to" in status["error"]
    assert "run the same command again" in status["error"]

    proxy.mode, proxy.hold_after = "ok", proxy.forwarded + 1
    job = evaluate(tmp_path, *on_endpoint(proxy))
    wait_for(lambda: recorded(ledger) == 3 or job.poll() is not None)
    os.killpg(job.pid, signal.SIGKILL)  # mid-run, with the fourth request held
    job.wait(60)
    proxy.release()
    wait_for(proxy.idle)

    proxy.seen = []
    finish(evaluate(tmp_path, *on_endpoint(proxy)), tmp_path)
    results, samples = outcome(tmp_path, "lmeval_server")
    assert len(proxy.seen) == 1  # only the fourth problem was asked for
    assert results["sampling"]["samples_reused"] == 3
    pd.testing.assert_frame_equal(samples, in_house)


def recorded(ledger: Path) -> int:
    """Units recorded complete in the job's ledger (a line with "unit" ends each)."""
    lines = [line for p in ledger.glob("*.jsonl") for line in p.read_text().splitlines()]
    return sum('"unit": ' in line for line in lines)


def wait_for(check: Any, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --- fast: the settings, and the balancer's part, against the proxy alone ------------------


def test_the_fingerprint_names_the_endpoint_not_how_fast_it_is_asked() -> None:
    base = ["model=endpoint", *RUN[:1], "backend=lmeval_server", "paths.data_dir=x"]
    url = "model.endpoint.url=http://a:8000/v1"

    def hashed(*extra: str) -> str:
        return config_fingerprint(compose_spec([*base, *extra]), "sha")

    same = hashed(url)
    assert hashed(url, "model.endpoint.max_in_flight=4", "model.endpoint.max_retries=1") == same
    assert hashed(url, "model.endpoint.served_model=other") != same
    assert hashed("model.endpoint.url=http://b/v1") != same


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_s("3") == 3.0 and retry_after_s(None) is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < (retry_after_s(later) or 0) <= 30


def test_the_balancer_adds_the_key_and_maps_the_path() -> None:
    """What the balancer sends an endpoint: its key, the path under the endpoint's own base,
    and nothing when it refuses (401 is not retried; it counts as failed)."""
    upstream = Proxy("http://127.0.0.1:9")  # answers 401 or 503 before it would forward
    upstream.mode = "down"
    try:
        with LoadBalancer(
            [upstream.url],
            headers={"Authorization": f"Bearer {KEY}"},
            strip_prefix="/v1",
            max_retries=2,
            backoff_s=0.01,
        ) as balancer:
            status = post(balancer.url + "/v1/chat/completions")
            assert status == 502 and [s["status"] for s in upstream.seen] == [503] * 3
            assert {s["path"] for s in upstream.seen} == {"/v1/chat/completions"}
            assert balancer.stats()["failed"] == 1 and balancer.retries == 2
        with LoadBalancer([upstream.url], strip_prefix="/v1", max_retries=2) as balancer:
            assert post(balancer.url + "/v1/chat/completions") == 401
            assert upstream.seen[-1]["status"] == 401 and len(upstream.seen) == 4
            assert balancer.stats()["failed"] == 1
    finally:
        upstream.close()


def post(url: str) -> int:
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, data=b"{}"), timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.endpoint.url=ftp://x"], "model.endpoint.url='ftp://x' is invalid"),
        (["backend=lmeval"], "backend=lmeval has model_type=transformers"),
        ([f"model.endpoint.api_key_env={KEY_ENV}_UNSET"], f"{KEY_ENV}_UNSET names"),
        (["model.endpoint.max_in_flight=0"], "model.endpoint.max_in_flight=0 is invalid"),
    ],
)
def test_endpoint_settings_are_checked_before_anything_runs(
    overrides: list[str], message: str
) -> None:
    from evallaunch.job.checks import validate_job

    args = ["model=endpoint", *RUN[:1], "backend=lmeval_server", "paths.data_dir=x"]
    cfg = compose_spec([*args, "model.endpoint.url=http://h:8000/v1", *overrides])
    with pytest.raises(EvallaunchError, match=message.replace("(", r"\(")):
        validate_job(cfg)


def test_diff_shows_when_the_served_model_changed(tmp_path: Path) -> None:
    from evallaunch.collect.compare import diff_runs

    runs = []
    for version in ("0.11.0", "0.12.0"):
        run = tmp_path / version
        run.mkdir()
        endpoint = {
            "url": "http://h:8000/v1",
            "served_model": "m",
            "reported": {"id": "m", "server_version": version},
            "usage": {"prompt_tokens": len(version)},  # how much, not what: not a setting
        }
        (run / "results.json").write_text(json.dumps({"endpoint": endpoint, "seed": 1}))
        runs.append(run)
    assert diff_runs(*runs) == [("endpoint.reported.server_version", "0.11.0", "0.12.0")]


def test_the_plan_and_the_launcher_give_an_endpoint_job_no_gpu() -> None:
    from evallaunch.launching.specs import job_resources
    from evallaunch.planning.plan_table import format_plan_table
    from evallaunch.planning.sweep_configs import plan_sweep

    args = ["model=endpoint", *RUN[:1], "backend=lmeval_server", "paths.data_dir=x"]
    args += ["model.endpoint.url=http://h:8000/v1", "cluster=slurm_h100_example"]
    rows = plan_sweep(args, multirun=False)
    assert rows == [("smollm2-135m-instruct@main math_500", None)]
    table = format_plan_table(rows)
    assert "endpoint" in table.splitlines()[2] and "no GPU" in table
    cfg = compose_config(args, return_hydra_config=True)
    params = {"gpus_per_node": 8, "timeout_min": 60}
    hardware = {"gpu_memory_gb": 80, "gpus_per_node": 8}
    assert job_resources(cfg, params, hardware) == {"timeout_min": 60}


def test_samples_of_one_served_model_are_never_resumed_with_another(tmp_path: Path) -> None:
    from evallaunch.backends.base import Completion
    from evallaunch.job.ledger import SampleLedger

    ledger = SampleLedger(tmp_path, "fp")
    ledger.check_source({"id": "m", "server_version": "0.11.0"})  # recorded: nothing drawn yet
    sample = Completion("p1", 0, "prompt", "text", "stop", 3)
    ledger.record_unit("u1", [sample], {})
    resumed = SampleLedger(tmp_path, "fp").load()
    resumed.check_source({"id": "m", "server_version": "0.11.0"})
    with pytest.raises(EvallaunchError, match="the served model changed"):
        resumed.check_source({"id": "m", "server_version": "0.12.0"})
