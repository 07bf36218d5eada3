"""Inference-server mode (evallaunch.serving): real processes and real HTTP on 127.0.0.1.

The balancer's behaviour is checked against tiny aiohttp servers; process handling against
`python -m http.server` servers; the rest against `transformers serve` on the embedded model,
and whole jobs (`backend=lighteval_server`/`lmeval_server`) against the in-process backends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from omegaconf import OmegaConf

from evallaunch.backends.base import GenerationRequest
from evallaunch.engines.settings import EngineSettings
from evallaunch.errors import EvallaunchError
from evallaunch.models.embedded import embedded_checkpoint
from evallaunch.serving.balancer import LoadBalancer
from evallaunch.serving.job_servers import build_servers, server_settings
from evallaunch.serving.servers import Server, ServerPool, free_port
from tests.helpers import (
    REPO,
    Evaluate,
    compose_spec,
    engine_kept_max_new_tokens,
    job_dir,
    make_request,
)

EMBEDDED = "embedded:smollm2-135m-instruct"
# Two problems, a few greedy tokens: enough to compare completions, cheap on 2 cores.
GREEDY = [
    "benchmark.limit=2",
    "benchmark.n=1",
    "generation.max_new_tokens=16",
    "generation.temperature=0",
]


# Straight to 127.0.0.1, whatever http_proxy says.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, payload: Any = None, timeout: float = 60) -> tuple[int, Any]:
    data = json.dumps(payload or {}).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with OPENER.open(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def processes_with(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline and running(int(entry.name)):
                found.append(int(entry.name))
    return found


# --- the balancer, against tiny aiohttp servers --------------------------------------------


class TinyServers:
    """Real aiohttp servers on 127.0.0.1, in one background event loop.

    Modes: "ok" answers {"server": name}, after `release()` for the path /hold;
    "503" and "400" answer that status; "drop" closes the connection without answering.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: list[web.AppRunner] = []
        self.hold = self._call(self._event())

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def _event(self) -> asyncio.Event:
        return asyncio.Event()

    def add(self, mode: str, name: str = "") -> str:
        return str(self._call(self._start(mode, name)))

    async def _start(self, mode: str, name: str) -> str:
        async def handle(request: web.Request) -> web.StreamResponse:
            await request.read()
            if mode in ("503", "400"):
                return web.json_response({"error": mode}, status=int(mode))
            if mode == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            if request.path == "/hold":
                await self.hold.wait()
            return web.json_response({"server": name})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    def release(self) -> None:
        self.loop.call_soon_threadsafe(self.hold.set)

    def close(self) -> None:
        for runner in self.runners:
            self._call(runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def tiny() -> Iterator[TinyServers]:
    servers = TinyServers()
    yield servers
    servers.release()
    servers.close()


def test_least_connections(tiny: TinyServers) -> None:
    urls = [tiny.add("ok", "a"), tiny.add("ok", "b")]
    with LoadBalancer(urls) as balancer, ThreadPoolExecutor(4) as pool:

        def active() -> list[int]:
            return [s["active"] for s in balancer.stats()["servers"]]

        held = pool.submit(post, balancer.url + "/hold")
        wait_until(lambda: sum(active()) == 1)
        busy = active().index(1)
        idle = "ab"[1 - busy]
        # While one server holds a request, every new request goes to the other one.
        assert [post(balancer.url + "/who")[1]["server"] for _ in range(3)] == [idle] * 3
        second = pool.submit(post, balancer.url + "/hold")  # both busy: one request each
        wait_until(lambda: active() == [1, 1])
        tiny.release()
        assert held.result(10)[0] == second.result(10)[0] == 200
    counts = sorted(s["requests"] for s in balancer.stats()["servers"])
    assert counts == [1, 4] or counts == [2, 3]
    assert balancer.stats()["retries"] == 0


def test_requests_beyond_the_engines_slots_wait_at_the_balancer(tiny: TinyServers) -> None:
    """capacity=1 per server: with both servers busy, new requests wait in line at the
    balancer (the engines never queue), and take the first slot that frees, oldest first."""
    urls = [tiny.add("ok", "a"), tiny.add("ok", "b")]
    with LoadBalancer(urls, capacity=1) as balancer, ThreadPoolExecutor(4) as pool:

        def send(path: str, unit: str) -> int:
            request = urllib.request.Request(
                balancer.url + path, b"{}", {"X-Evallaunch-Unit": unit}
            )
            with OPENER.open(request, timeout=30) as answer:
                return int(answer.status)

        held = [pool.submit(send, "/hold", f"held{i}") for i in range(2)]
        wait_until(lambda: [s["active"] for s in balancer.stats()["servers"]] == [1, 1])
        first = pool.submit(send, "/who", "first")
        wait_until(lambda: balancer.stats()["most_waiting"] == 1)
        second = pool.submit(send, "/who", "second")
        wait_until(lambda: balancer.stats()["most_waiting"] == 2)
        assert not first.done() and not second.done()
        assert balancer.answered("first") == 0
        tiny.release()
        assert [f.result(10) for f in (*held, first, second)] == [200] * 4
    assert balancer.answered("first") == balancer.answered("second") == 1
    served = {r["unit"]: r for r in balancer.requests}
    assert served["first"]["end"] <= served["second"]["end"] or (
        served["first"]["server"] != served["second"]["server"]
    )
    assert max(s["active"] for s in balancer.stats()["servers"]) == 0


def test_failed_requests_are_retried_on_other_servers(tiny: TinyServers) -> None:
    dead = f"http://127.0.0.1:{free_port(0)}"  # nothing listens there
    urls = [tiny.add("503"), dead, tiny.add("drop"), tiny.add("ok", "good")]
    with LoadBalancer(urls, max_retries=3) as balancer:
        status, body = post(balancer.url + "/v1/chat/completions", {"messages": []})
        assert (status, body) == (200, {"server": "good"})
        stats = balancer.stats()
        assert stats["retries"] == 3
        assert [s["failures"] for s in stats["servers"]] == [1, 1, 1, 0]
        # The refused and dropped servers now cool down; the 5xx one is tried first again.
        assert post(balancer.url + "/x")[1] == {"server": "good"}


def test_client_errors_are_not_retried_and_retries_are_bounded(tiny: TinyServers) -> None:
    with LoadBalancer([tiny.add("400"), tiny.add("ok", "b")]) as balancer:
        assert post(balancer.url + "/x")[0] == 400
        assert balancer.stats()["retries"] == 0
    with LoadBalancer([tiny.add("503"), tiny.add("503")], max_retries=2) as balancer:
        status, body = post(balancer.url + "/x")
        assert status == 502 and "after 3 attempt(s)" in body["error"]["message"]
        assert sum(s["requests"] for s in balancer.stats()["servers"]) == 3


def test_dead_servers_are_skipped(tiny: TinyServers) -> None:
    urls = [tiny.add("ok", "a"), tiny.add("ok", "b")]
    with LoadBalancer(urls, alive=[lambda: False, lambda: True]) as balancer:
        assert {post(balancer.url + "/x")[1]["server"] for _ in range(4)} == {"b"}
        with OPENER.open(balancer.url + "/_balancer/health", timeout=5) as answer:
            assert answer.status == 200
    with LoadBalancer(urls, alive=[lambda: False] * 2) as balancer:
        assert post(balancer.url + "/x")[0] == 502


# --- server processes: commands, health, shutdown ------------------------------------------


def http_servers(tmp_path: Path, count: int = 2) -> list[Server]:
    servers: list[Server] = []
    for index in range(count):
        port = free_port(0, [s.port for s in servers])
        argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        servers.append(Server(index, argv, port, tmp_path / f"server-{index}.log"))
    return servers


def request_for(model_path: str | Path, tmp_path: Path, **changes: Any) -> GenerationRequest:
    """A greedy 16-token request for `model_path`."""
    defaults = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 16}
    return make_request(tmp_path, model_path=str(model_path), **{**defaults, **changes})


def test_commands_are_filled_in_per_server(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 4096}))
    settings = OmegaConf.create(
        {
            "num_servers": 2,
            "command": "python3 -m srv {model_path} --port {port} --tp {tensor_parallel_size}"
            " --dp {data_parallel_size} --len {max_model_length} --dtype {dtype} --i {index}",
            "base_port": free_port(0),
        }
    )
    engine = EngineSettings(replicas=2, tensor_parallel_size=2)
    request = request_for(tmp_path, tmp_path, engine=engine)
    one, two = build_servers(settings, request, tmp_path)
    assert one.port == settings.base_port and two.port != one.port
    assert (
        one.argv[1:]
        == (
            f"-m srv {tmp_path} --port {one.port} --tp 2 --dp 1 --len 4096 --dtype float32 --i 0"
        ).split()
    )
    assert Path(one.argv[0]).name.startswith("python3")
    with pytest.raises(EvallaunchError, match=r"unknown field\(s\) gpus"):
        build_servers(OmegaConf.merge(settings, {"command": "x {gpus}"}), request, tmp_path)
    with pytest.raises(EvallaunchError, match="not found on PATH"):
        build_servers(
            OmegaConf.merge(settings, {"command": "no-such-server-cli {port}"}), request, tmp_path
        )


def test_one_vllm_server_per_engine_replica_with_the_plans_settings(tmp_path: Path) -> None:
    """model_type=vllm with several replicas: evallaunch's `vllm serve` replicas, each given
    the engine settings (slots, memory share, context, CUDA graphs) as flags."""
    cfg = compose_spec(["backend.model_type=vllm", "paths.data_dir=x"])
    settings = server_settings(cfg)
    engine = EngineSettings(
        replicas=3, tensor_parallel_size=2, max_num_seqs=256, max_model_len=32768, dtype="bfloat16"
    )
    request = request_for("/ckpt", tmp_path, engine=engine)
    settings.base_port = free_port(0)
    fake_vllm = tmp_path / ".venv-vllm" / "bin" / "python"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("evallaunch.serving.job_servers.vllm_python", lambda: str(fake_vllm))
        servers = build_servers(settings, request, tmp_path)
    assert len(servers) == 3
    words = servers[0].argv
    assert words[:3] == [str(fake_vllm), "-m", "vllm.entrypoints.openai.api_server"]
    flags = " ".join(words)
    for flag in (
        "--model /ckpt",
        "--tensor-parallel-size 2",
        "--max-num-seqs 256",
        "--max-model-len 32768",
        "--gpu-memory-utilization 0.9",
        "--dtype bfloat16",
    ):
        assert flag in flags
    assert "--enforce-eager" not in flags  # CUDA graphs on
    eager = dataclasses.replace(request, engine=dataclasses.replace(engine, enforce_eager=True))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("evallaunch.serving.job_servers.vllm_python", lambda: str(fake_vllm))
        assert "--enforce-eager" in build_servers(settings, eager, tmp_path)[0].argv
    # Any other engine argument (parallelism.engine_args), the same for vllm.LLM and serve.
    speculative = {"method": "ngram", "num_speculative_tokens": 4}
    extra: dict[str, Any] = {"enable_prefix_caching": True, "enable_chunked_prefill": False}
    extra |= {"speculative_config": speculative, "kv_cache_dtype": "fp8"}
    more = dataclasses.replace(engine, engine_args=extra)
    assert more.vllm_args() == engine.vllm_args() | extra
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("evallaunch.serving.job_servers.vllm_python", lambda: str(fake_vllm))
        argv = build_servers(settings, dataclasses.replace(request, engine=more), tmp_path)[0].argv
    assert "--enable-prefix-caching" in argv and "--no-enable-chunked-prefill" in argv
    assert json.loads(argv[argv.index("--speculative-config") + 1]) == speculative
    assert argv[argv.index("--kv-cache-dtype") + 1] == "fp8"


def test_health_check_and_stop(tmp_path: Path) -> None:
    servers = http_servers(tmp_path)
    with ServerPool(servers, health_path="/", startup_timeout_s=30) as pool:
        assert all(s.alive() and pool.healthy(s) for s in servers)
        assert all(s.ready_after_s is not None for s in servers)
        pids = [s.proc.pid for s in servers if s.proc]
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # ours while running
    assert not any(running(pid) for pid in pids)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the previous one again


def test_server_that_never_becomes_healthy(tmp_path: Path) -> None:
    argv = ["sh", "-c", "echo loading weights; exec sleep 987.125"]
    pool = ServerPool([Server(0, argv, free_port(0), tmp_path / "s.log")], startup_timeout_s=2)
    started = time.monotonic()
    with pytest.raises(EvallaunchError) as info:
        pool.start()
    assert time.monotonic() - started < 5
    assert "did not answer GET http://127.0.0.1:" in str(info.value)
    assert "loading weights" in str(info.value.hint)  # the tail of the server's log
    assert not processes_with("sleep 987.125")


@pytest.mark.ports
def test_job_whose_servers_never_become_healthy(evaluate: Evaluate, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = evaluate(
        "backend=lmeval_server",
        "backend.server.command='sh -c \"echo loading weights; exec sleep 987.25\"'",
        "backend.server.startup_timeout_s=3",
        *GREEDY,
        check=False,
        forked=True,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = next(line for line in proc.stderr.splitlines() if line.startswith("evallaunch: error:"))
    assert "inference server 1 of 2 did not answer GET http://127.0.0.1:" in error
    assert "within 3s" in error and "server-0.log" in error
    assert "loading weights" in proc.stderr  # the log's tail follows as the hint
    assert time.monotonic() - started < 60
    assert not processes_with("sleep 987.25")
    status = json.loads(
        (job_dir(tmp_path / "outputs", backend="lmeval_server") / "status.json").read_text()
    )
    assert status["status"] == "failed" and "did not answer" in status["error"]


def test_server_that_exits_while_starting(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('CUDA out of memory'); sys.exit(3)"]
    pool = ServerPool([Server(0, argv, free_port(0), tmp_path / "s.log")], startup_timeout_s=60)
    with pytest.raises(EvallaunchError, match="exited with status 3 while starting") as info:
        pool.start()
    assert "CUDA out of memory" in str(info.value.hint)


CHILD = """
import json, signal, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from evallaunch.serving.servers import Server, ServerPool, free_port

mode, folder = sys.argv[1], Path(sys.argv[2])
if mode == "chained":
    def previous(signum, frame):
        print("previous handler ran", flush=True)
        sys.exit(7)
    signal.signal(signal.SIGTERM, previous)
servers = []
for index in range(2):
    port = free_port(0, [s.port for s in servers])
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    servers.append(Server(index, argv, port, folder / f"s{{index}}.log"))
pool = ServerPool(servers, "/", 30)
if mode == "atexit":  # no `with`: the atexit hook stops them
    pool.start()
    print(json.dumps([s.proc.pid for s in servers]), flush=True)
    sys.stdin.readline()
    sys.exit(3)
with pool:  # starts the servers once
    print(json.dumps([s.proc.pid for s in servers]), flush=True)  # the job runs, servers up
    sys.stdin.readline()  # the test's go, or a signal meanwhile
    if mode == "exception":
        raise RuntimeError("boom")
"""


def default_sigint() -> None:
    """A Ctrl-C reaches a foreground job, whose SIGINT is not ignored; a suite started in
    the background (`make test &`, nohup) would pass its ignored SIGINT on to the job."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("mode", "signum", "returncode"),
    [
        ("normal", None, 0),
        ("exception", None, 1),
        ("atexit", None, 3),
        ("sigterm", signal.SIGTERM, 128 + signal.SIGTERM),
        ("sigint", signal.SIGINT, None),
        ("chained", signal.SIGTERM, 7),
        ("sigkill", signal.SIGKILL, -signal.SIGKILL),
    ],
)
def test_servers_end_with_the_job(
    tmp_path: Path, mode: str, signum: int | None, returncode: int | None
) -> None:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(CHILD.format(repo=str(REPO))))
    job = subprocess.Popen(
        [sys.executable, str(script), mode, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    assert job.stdout is not None and job.stderr is not None
    line = job.stdout.readline()  # the pids, once the servers answer
    if not line:
        job.wait(timeout=60)
        raise AssertionError(f"the job ended first ({job.returncode}): {job.stderr.read()}")
    pids = json.loads(line)
    assert all(running(pid) for pid in pids)
    if signum is not None:
        os.kill(job.pid, signum)
        # stdin stays open: the job can only end through the signal (EOF would end it too).
        job.wait(timeout=60)
    out, err = job.communicate(None if signum else "go\n", timeout=60)
    wait_until(lambda: not any(running(pid) for pid in pids), timeout=15)
    if returncode is not None:
        assert job.returncode == returncode, err
    else:
        assert job.returncode != 0 and "KeyboardInterrupt" in err
    if mode == "chained":  # our handler stopped the servers, then called the previous one
        assert "previous handler ran" in out
    if mode == "exception":
        assert "RuntimeError: boom" in err


# --- transformers serve on the embedded model ----------------------------------------------


@pytest.fixture(scope="module")
def model_path() -> Path:
    cache = os.environ.get("EVALLAUNCH_CACHE", str(Path.home() / ".cache" / "evallaunch"))
    return embedded_checkpoint(EMBEDDED, cache)


def chat(url: str, model_path: Path, text: str, max_tokens: int) -> tuple[int, Any]:
    payload = {
        "model": str(model_path),
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    return post(url + "/v1/chat/completions", payload, timeout=300)


def test_clients_seed_each_sample_and_send_no_empty_stop(model_path: Path, tmp_path: Path) -> None:
    """n samples of a prompt get seeds seed, seed+1, ... (one seed would repeat one sample),
    and no `"stop": []` is sent (`transformers serve` fails on it)."""
    from lighteval.tasks.requests import Doc

    from evallaunch.backends.lighteval_backend import LightevalBackend
    from evallaunch.backends.lmeval_backend import LmevalBackend

    # Each unit keeps every slot of every replica busy: 2 replicas x 48 sequences.
    engine = EngineSettings(replicas=2, max_num_seqs=48)
    request = request_for(model_path, tmp_path, base_url="http://127.0.0.1:1/v1", n=2)
    request = dataclasses.replace(request, engine=engine, unit="b0000-0000abcd")
    settings = {"num_servers": 2}
    model = LightevalBackend("l", "server", server=settings)._server_model(request)
    doc = Doc(query="1+1?", choices=["2"], gold_index=0, generation_size=8, num_samples=2)
    first, second = model._payload(doc, 0), model._payload(doc, 1)
    assert (first["seed"], second["seed"]) == (1234, 1235) and "stop" not in first
    assert first["messages"] == [{"role": "user", "content": "1+1?"}]
    assert first["model"] == str(model_path) and first["max_tokens"] == 8
    assert model.concurrent_requests == 96 and model.unit == "b0000-0000abcd"

    lm = LmevalBackend("m", "server", server=settings)._server_lm(request)
    assert lm.base_url == "http://127.0.0.1:1/v1/chat/completions" and lm._concurrent == 96
    assert lm.header["X-Evallaunch-Unit"] == "b0000-0000abcd"  # requests name their unit
    messages = [{"role": "user", "content": "1+1?"}]
    seeds = []
    for _ in range(2):
        payload = lm._create_payload(messages, generate=True, gen_kwargs={"until": []}, seed=7)
        assert "stop" not in payload
        seeds.append(payload["seed"])
    assert seeds == [7, 8]


@pytest.fixture(scope="class")
def real(
    model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerPool, LoadBalancer]]:
    """Two `transformers serve` servers (the CPU config's command) behind a balancer."""
    folder = tmp_path_factory.mktemp("servers")
    port = f"backend.server.base_port={free_port(0)}"
    settings = compose_spec(["backend=lighteval_server", "paths.data_dir=x", port]).backend.server
    servers = build_servers(settings, request_for(model_path, folder), folder)
    with ServerPool(servers, settings.health_path, settings.startup_timeout_s) as pool:
        print("\nstartup (s):", [s.ready_after_s for s in servers])
        alive = [s.alive for s in servers]
        with LoadBalancer([s.url for s in servers], alive=alive) as balancer:
            yield pool, balancer
    assert not any(s.alive() for s in servers)


@pytest.mark.slow
@pytest.mark.ports
class TestRealServers:
    """The CPU config's servers on the embedded model, torn down after this class."""

    def test_health(self, real: tuple[ServerPool, LoadBalancer]) -> None:
        pool, balancer = real
        for server in pool.servers:
            with OPENER.open(server.url + "/health", timeout=5) as answer:
                assert answer.status == 200 and json.loads(answer.read()) == {"status": "ok"}
        with OPENER.open(balancer.url + "/_balancer/health", timeout=5) as answer:
            assert answer.status == 200

    def test_both_servers_answer_through_the_balancer(
        self, real: tuple[ServerPool, LoadBalancer], model_path: Path
    ) -> None:
        pool, balancer = real
        questions = [f"What is {i} + {i}?" for i in range(4)]
        with ThreadPoolExecutor(4) as threads:
            answers = list(threads.map(lambda q: chat(balancer.url, model_path, q, 4), questions))
        for status, body in answers:
            assert status == 200 and body["choices"][0]["message"]["content"]
        assert [s["requests"] >= 1 for s in balancer.stats()["servers"]] == [True, True]

    def test_a_killed_server_does_not_lose_a_request(
        self, real: tuple[ServerPool, LoadBalancer], model_path: Path
    ) -> None:
        pool, balancer = real
        before = balancer.stats()
        with ThreadPoolExecutor(1) as threads:
            pending = threads.submit(chat, balancer.url, model_path, "Count to fifty.", 32)
            wait_until(lambda: any(s["active"] for s in balancer.stats()["servers"]))
            victim = next(i for i, s in enumerate(balancer.stats()["servers"]) if s["active"])
            proc = pool.servers[victim].proc
            assert proc is not None
            os.killpg(proc.pid, signal.SIGKILL)  # mid-generation
            status, body = pending.result(300)
        assert status == 200 and body["choices"][0]["message"]["content"]
        after = balancer.stats()
        assert after["retries"] > before["retries"]
        assert after["servers"][victim]["failures"] > before["servers"][victim]["failures"]
        assert not pool.servers[victim].alive()
        assert chat(balancer.url, model_path, "Hi", 2)[0] == 200  # the other one serves on


# --- whole jobs: server mode agrees with the in-process backends ---------------------------


def evaluate_job(root: Path, datasets: Path, *args: str) -> subprocess.Popen[str]:
    """Start `python -m evallaunch.evaluate` writing under root/outputs (output: root/*.out)."""
    out = (root / f"job-{time.monotonic_ns()}.out").open("w")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evallaunch.evaluate",
            f"paths.output_root={root / 'outputs'}",
            f"paths.data_dir={datasets}",
            *args,
        ],
        cwd=root,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def finish(job: subprocess.Popen[str], root: Path) -> None:
    job.wait(timeout=900)
    if job.returncode != 0:
        logs = sorted(root.glob("job-*.out"))
        raise AssertionError(f"evaluate failed ({job.returncode}):\n{logs[-1].read_text()[-4000:]}")


def details(root: Path, backend: str) -> pd.DataFrame:
    status = json.loads((job_dir(root / "outputs", backend=backend) / "status.json").read_text())
    assert status["status"] == "completed"
    return pd.read_parquet(job_dir(root / "outputs", backend=backend) / "details.parquet")


def server_stats(root: Path, backend: str) -> dict[str, Any]:
    stats = job_dir(root / "outputs", backend=backend) / "backend" / "servers" / "balancer.json"
    return dict(json.loads(stats.read_text()))


def no_server_left(stats: dict[str, Any]) -> bool:
    ports = [s["url"].rsplit(":", 1)[1] for s in stats["servers"]]
    return not any(processes_with(f"--port {port} ") for port in ports)


@pytest.fixture(scope="module")
def in_process(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Greedy runs of both in-process backends (the reference)."""
    root = tmp_path_factory.mktemp("in_process")
    for backend in ("lighteval", "lmeval"):
        finish(evaluate_job(root, shared_datasets, f"backend={backend}", *GREEDY), root)
    return root


COLUMNS = ["problem_id", "prompt", "completion", "correct", "truncated"]
# The server jobs' sweeps have a second member: the harness's own gsm8k (no few-shot, on
# the same settings), whose completions must also stay within max_new_tokens=16.
WITH_HARNESS_TASK = [
    "--multirun",
    "benchmark=math_500,harness",
    "benchmark.task=gsm8k",
    "benchmark.num_fewshot=0",
]


def harness_task_kept_max_new_tokens(root: Path, backend: str) -> None:
    """The sweep's harness member: no completion over the 16 tokens the servers got (the
    model's count), the cut ones flagged "length"."""
    folder = job_dir(root / "outputs", "gsm8k", backend)
    assert json.loads((folder / "results.json").read_text())["backend"]["model_type"] == "server"
    assert engine_kept_max_new_tokens(folder, 16)["truncated"].any()


@pytest.mark.ports
@pytest.mark.slow
def test_lmeval_server_agrees_with_in_process(
    in_process: Path, mirror: Path, tmp_path: Path
) -> None:
    job = evaluate_job(tmp_path, mirror, "backend=lmeval_server", *GREEDY, *WITH_HARNESS_TASK)
    finish(job, tmp_path)
    harness_task_kept_max_new_tokens(tmp_path, "lmeval_server")
    stats = server_stats(tmp_path, "lmeval_server")
    assert [s["requests"] for s in stats["servers"]] == [1, 1]  # a problem each, concurrently
    assert no_server_left(stats)
    # Greedy decoding of the same chat-templated prompt by the same float32 weights.
    expected = details(in_process, "lmeval")[COLUMNS]
    pd.testing.assert_frame_equal(details(tmp_path, "lmeval_server")[COLUMNS], expected)
    served = engine_kept_max_new_tokens(job_dir(tmp_path / "outputs", backend="lmeval_server"))
    assert served["truncated"].any()  # the servers got max_new_tokens=16, and said "length"


@pytest.mark.ports
@pytest.mark.slow
def test_lighteval_server_survives_a_killed_server_and_agrees(
    in_process: Path, mirror: Path, tmp_path: Path
) -> None:
    job = evaluate_job(tmp_path, mirror, "backend=lighteval_server", *GREEDY, *WITH_HARNESS_TASK)
    logs = job_dir(tmp_path / "outputs", backend="lighteval_server") / "backend" / "servers"
    killed = None
    while killed is None and job.poll() is None:  # kill the first server that gets a request
        for log in sorted(logs.glob("server-*.log")):
            text = log.read_text(errors="replace")
            if "[Request received]" in text:
                pid = re.search(r"Started server process \[(\d+)\]", text)
                assert pid, text
                os.killpg(int(pid.group(1)), signal.SIGKILL)
                killed = int(log.stem.rsplit("-", 1)[1])
                break
        time.sleep(0.01)
    finish(job, tmp_path)
    harness_task_kept_max_new_tokens(tmp_path, "lighteval_server")
    assert killed is not None
    stats = server_stats(tmp_path, "lighteval_server")
    assert stats["retries"] >= 1 and stats["servers"][killed]["failures"] >= 1
    assert not stats["servers"][killed]["alive"]
    assert no_server_left(stats)
    kept = engine_kept_max_new_tokens(job_dir(tmp_path / "outputs", backend="lighteval_server"))
    assert kept["truncated"].any()  # the servers got max_new_tokens=16, and said "length"
    served = details(tmp_path, "lighteval_server")[COLUMNS]
    local = details(in_process, "lighteval")[COLUMNS]
    pd.testing.assert_series_equal(served["prompt"], local["prompt"])
    if _lighteval_cut_prompts(in_process):
        # lighteval 0.13's in-process model cuts the prompt to its last max_new_tokens tokens
        # when generation_parameters.max_new_tokens is set (as evallaunch sets it), so with
        # these tiny budgets it answers another question. The servers get the whole prompt:
        # their greedy completions are those of the in-process lm-eval run.
        local = details(in_process, "lmeval")[COLUMNS]
    pd.testing.assert_frame_equal(served, local)


def _lighteval_cut_prompts(root: Path) -> bool:
    """Whether lighteval's in-process details report prompt tokens cut off."""
    backend_dir = (
        job_dir(root / "outputs", backend="lighteval") / "backend"
    )  # units/<unit>/backend/details/
    files = [f for f in backend_dir.rglob("*.parquet") if "details" in f.parts]
    assert files
    responses = pd.read_parquet(files[0])["model_response"]
    return any(int(r.get("truncated_tokens_count") or 0) > 0 for r in responses)


def test_the_jobs_of_one_batch_share_the_servers_they_would_each_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within shared_servers (a Slurm job running one model's benchmarks) the servers the
    first job starts serve the next jobs that would start the same ones, whether they run
    in the same process or in their own (told by the announcement `on_start` receives), each
    job's units counted in its own scope; a job that needs other servers stops them first
    (the node's GPUs hold one set) and starts its own."""
    from evallaunch.backends.base import UNIT_HEADER
    from evallaunch.serving.batch_servers import BATCH_SERVERS_ENV, shared_servers
    from evallaunch.serving.job_servers import inference_servers

    command = f"{sys.executable} -m http.server {{port}} --bind {{host}}"
    settings = [f"backend.server.command='{command}'", "backend.server.health_path=/"]
    settings += ["backend.server.num_servers=1", f"backend.server.base_port={free_port(0)}"]
    cfg = compose_spec(["backend=lmeval_server", "paths.data_dir=x", *settings])
    first, second = request_for("m", tmp_path / "a"), request_for("m", tmp_path / "b")
    elsewhere, other = request_for("m", tmp_path / "c"), request_for("other", tmp_path / "d")
    announced: list[dict[str, Any]] = []

    def ask(url: str, unit: str) -> None:
        get = urllib.request.Request(url.removesuffix("/v1") + "/", headers={UNIT_HEADER: unit})
        with OPENER.open(get, timeout=30) as answer:
            assert answer.status == 200  # through the balancer, to the first job's server

    with shared_servers(on_start=announced.append):
        with inference_servers(cfg, first) as (asked, serving):
            assert (serving.started, serving.reused) == (1, 0)
            url = str(asked.base_url)
            ask(url, asked.unit + "u0")
            assert serving.answered is not None and serving.answered("u0") == 1
        pids = processes_with(f"http.server {cfg.backend.server.base_port}")
        assert pids  # still up for the next jobs of the batch
        assert [a["url"] + "/v1" for a in announced] == [url]
        with inference_servers(cfg, second) as (asked, serving):
            assert (serving.started, serving.reused, asked.base_url) == (0, 1, url)
            assert serving.answered is not None and serving.answered("u0") == 0  # its own
            ask(url, asked.unit + "u0")
            assert serving.answered("u0") == 1
        with monkeypatch.context() as env:  # a job of the batch in a process of its own
            env.setenv(BATCH_SERVERS_ENV, json.dumps(announced[0]))
            with inference_servers(cfg, elsewhere) as (asked, serving):
                assert (serving.started, serving.reused, asked.base_url) == (0, 1, url)
                ask(url, asked.unit + "u0")
                assert serving.answered is not None and serving.answered("u0") == 1  # HTTP
            refused = pytest.raises(EvallaunchError, match="(?s)differ in: model.*_per_job=1")
            with refused, inference_servers(cfg, other):
                pass
        with inference_servers(cfg, other) as (asked, serving):
            assert not any(running(pid) for pid in pids)  # the first job's servers stopped
            assert (serving.started, serving.reused) == (1, 0) and asked.base_url != url
    for job in ("a", "b"):  # each job keeps its record of the requests
        assert (tmp_path / job / "backend" / "servers" / "balancer.json").is_file()
    requests = (tmp_path / "a" / "backend" / "servers" / "requests.jsonl").read_text()
    assert len(requests.splitlines()) == 3  # the batch's, recorded as its servers stopped
