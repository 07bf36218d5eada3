"""Engines and units: one engine per replica for the whole job, units that overlap.

The schedule is checked with a small backend whose generate() can be held and released
(so overlap is observed, not timed); whole jobs run on real `transformers serve` servers.
vLLM itself is tested in tests/test_vllm.py.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from evallaunch.backends.base import Backend, BackendOutput, Completion, GenerationRequest
from evallaunch.benchmarks.problem import Problem
from evallaunch.engines.settings import EngineSettings
from evallaunch.errors import EvallaunchError
from evallaunch.job import sampling as sampling_module
from evallaunch.job.grading import SampleGrader
from evallaunch.job.ledger import SampleLedger
from evallaunch.job.sampling import draw_samples
from evallaunch.job.units import resolve_problems_per_unit
from tests.helpers import Evaluate, compose_spec, job_dir, make_request

PROBLEMS = [Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(6)]


class ScriptedBackend(Backend):
    """Answers each sample from a hash of (unit seed, problem, index): right or wrong, the
    same in every run. `hold(k)` makes the k-th call wait until its event is set;
    `hold_unit_of(problem_id)` does that to the calls of units that start with that problem."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__("scripted")
        self.calls: list[str] = []
        self.active = 0
        self.most_active = 0
        self.started = threading.Condition()
        self.gates: dict[int | str, threading.Event] = {}
        self.fail_on = fail_on

    def hold(self, call: int) -> threading.Event:
        return self.gates.setdefault(call, threading.Event())

    def hold_unit_of(self, problem_id: str) -> threading.Event:
        return self.gates.setdefault(problem_id, threading.Event())

    def wait_started(self, calls: int, timeout: float = 30) -> None:
        with self.started:
            assert self.started.wait_for(lambda: len(self.calls) >= calls, timeout), self.calls

    def wait_for_unit(self, prefix: str, timeout: float = 30) -> None:
        def started() -> bool:
            return any(call.startswith(prefix) for call in self.calls)

        with self.started:
            assert self.started.wait_for(started, timeout), self.calls

    def generate(self, request: GenerationRequest, scorer: Any = None) -> BackendOutput:
        with self.started:
            index = len(self.calls)
            self.calls.append(request.unit)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self.started.notify_all()
        try:
            for gate in (index, request.problems[0].id):
                if gate in self.gates:
                    assert self.gates[gate].wait(30), f"call {index} was never released"
            if index == self.fail_on:
                raise RuntimeError("the engine died")
            return BackendOutput([c for p in request.problems for c in answers(request, p)])
        finally:
            with self.started:
                self.active -= 1

    def run(self, request: GenerationRequest, scorer: Any) -> BackendOutput:
        raise NotImplementedError


def answers(request: GenerationRequest, problem: Problem) -> list[Completion]:
    out = []
    for index in range(request.n):
        digest = hashlib.sha256(f"{request.seed}:{problem.id}:{index}".encode()).digest()
        answer = problem.answer if digest[0] < 64 else "-1"  # right about a quarter of the time
        text = f"\\boxed{{{answer}}}"
        out.append(Completion(problem.id, index, problem.prompt, text, "stop", 5))
    return out


def request_for(tmp_path: Path, n: int, problems: list[Problem] = PROBLEMS) -> GenerationRequest:
    return make_request(
        tmp_path,
        problems=problems,
        n=n,
    )


def sampling(**changes: Any) -> SimpleNamespace:
    settings = {
        "problems_per_unit": 2,
        "samples_per_unit": 2,
        "adaptive": False,
        "adaptive_rule": "interval",
        "ci_width": 0.6,
        "min_samples": 2,
        "match_n": None,
    }
    return SimpleNamespace(**{**settings, **changes})


def draw(tmp_path: Path, backend: Backend, n: int, in_flight: int, **changes: Any) -> Any:
    ledger = SampleLedger(tmp_path, "fingerprint", SampleGrader("math", PROBLEMS))
    return draw_samples(backend, request_for(tmp_path, n), ledger, sampling(**changes), in_flight)


def test_the_next_unit_starts_before_the_first_one_ends(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    first = backend.hold(0)
    done = threading.Thread(target=draw, args=(tmp_path, backend, 4, 2))
    done.start()
    backend.wait_started(2)  # the second unit is generating while the first is held
    first.set()
    done.join(30)
    assert backend.most_active == 2 and len(backend.calls) == 6  # 3 chunks x 2 blocks


def test_one_unit_in_flight_runs_them_one_after_another(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    output, report = draw(tmp_path, backend, 4, 1)
    assert backend.most_active == 1 and report.units == 6
    assert len(output.completions) == len(PROBLEMS) * 4


def test_overlap_draws_the_same_samples(tmp_path: Path) -> None:
    """Units keep their seeds: overlapping them changes when samples are drawn, not which."""
    one, _ = draw(tmp_path / "one", ScriptedBackend(), 6, 1)
    three, _ = draw(tmp_path / "three", ScriptedBackend(), 6, 3)
    key = lambda c: (c.problem_id, c.sample_index)  # noqa: E731
    assert sorted(one.completions, key=key) == sorted(three.completions, key=key)


def test_a_failed_unit_keeps_the_units_already_finished(tmp_path: Path) -> None:
    backend = ScriptedBackend(fail_on=1)
    backend.hold(1)  # unit 1 fails only once unit 0 has been recorded
    ledger = SampleLedger(tmp_path, "fingerprint")
    request = request_for(tmp_path, 4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            draw_samples(backend, request, ledger, sampling(), 2)
        except RuntimeError as err:
            errors.append(err)

    job = threading.Thread(target=run)
    job.start()
    backend.wait_started(2)
    reader = SampleLedger(tmp_path, "fingerprint")
    while not reader.load().units:  # the first unit is recorded as soon as it ends
        reader = SampleLedger(tmp_path, "fingerprint")
    backend.gates[1].set()
    job.join(30)
    assert [str(e) for e in errors] == ["the engine died"]
    recorded = SampleLedger(tmp_path, "fingerprint").load()
    assert backend.calls[0] in recorded.units and backend.calls[1] not in recorded.units
    # The rerun generates only what is missing.
    rerun = ScriptedBackend()
    _, report = draw_samples(rerun, request, recorded, sampling(), 2)
    assert report.units_reused >= 1 and backend.calls[0] not in rerun.calls


def test_adaptive_chunks_do_not_wait_for_each_other(tmp_path: Path) -> None:
    """With adaptive sampling a chunk's next block waits for its own previous block only:
    chunk 0 goes on to block 1 while chunk 1's block 0 is still generating."""
    backend = ScriptedBackend()
    slow_chunk = backend.hold_unit_of("p3")  # chunk 1 (problems p3-p5), from its block 0 on
    job = threading.Thread(
        target=draw,
        args=(tmp_path, backend, 6, 2),
        kwargs={"adaptive": True, "problems_per_unit": 3},
    )
    job.start()
    backend.wait_for_unit("b0001-")  # a block 1 (chunk 0's) starts while chunk 1 is held
    assert not slow_chunk.is_set()
    slow_chunk.set()
    job.join(30)
    assert not job.is_alive()


def test_the_time_left_comes_from_the_first_answered_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With servers that say how many of a unit's requests they answered, progress (the
    log and the job's progress file, which `evallaunch status` reads) moves before the
    first unit ends."""
    monkeypatch.setattr(sampling_module, "PROGRESS_EVERY_S", 0.0)
    backend = ScriptedBackend()
    first, second = backend.hold(0), backend.hold(1)  # both units in flight, neither done
    ledger = SampleLedger(tmp_path, "fingerprint", SampleGrader("math", PROBLEMS))
    progress = tmp_path / "progress.json"
    job = threading.Thread(
        target=draw_samples,
        args=(backend, request_for(tmp_path, 4), ledger, sampling(), 2, lambda unit: 3),
        kwargs={"progress_file": progress},
    )
    with caplog.at_level("INFO", logger="evallaunch.job.sampling"):
        job.start()
        backend.wait_started(2)
        deadline = time.monotonic() + 30
        said: dict[str, Any] = {}
        while said.get("samples_done") != 6 and time.monotonic() < deadline:
            time.sleep(0.05)
            said = json.loads(progress.read_text())  # written whole (atomically)
        first.set()
        second.set()
        job.join(30)
    assert "Generating: 6/24 samples answered, about" in caplog.text  # 2 units x 3 answered
    assert said["samples_done"] == 6 and said["seconds_left"] > 0
    assert not job.is_alive()


def test_adaptive_results_do_not_depend_on_overlap(tmp_path: Path) -> None:
    changes = {"adaptive": True, "problems_per_unit": 2, "ci_width": 0.9}
    one, first = draw(tmp_path / "one", ScriptedBackend(), 8, 1, **changes)
    two, second = draw(tmp_path / "two", ScriptedBackend(), 8, 2, **changes)
    assert first.samples_per_problem == second.samples_per_problem
    assert {(c.problem_id, c.sample_index, c.completion) for c in one.completions} == {
        (c.problem_id, c.sample_index, c.completion) for c in two.completions
    }
    assert first.samples_per_problem["min"] < 8  # some problems settled early


@pytest.mark.parametrize(
    ("replicas", "slots", "per_unit", "problems", "low", "high"),
    [
        (8, 256, 4, 500, 500, 500),  # 2,048 slots: all of MATH-500 (n=4) in one block
        (8, 256, 16, 30, 30, 30),  # AIME: never more than the benchmark
        (1, 32, 16, 500, 32, 32),  # a small engine: the floor of 32 problems
        (2, 64, 1, 500, 128, 500),  # enough sequences for every slot
    ],
)
def test_auto_units_fill_the_engines(
    replicas: int, slots: int, per_unit: int, problems: int, low: int, high: int
) -> None:
    engine = EngineSettings(replicas=replicas, max_num_seqs=slots)
    chosen = resolve_problems_per_unit("auto", engine, per_unit, problems)
    assert low <= chosen <= high
    assert chosen * per_unit >= min(replicas * slots, problems * per_unit)


# --- whole jobs on two `transformers serve` servers -----------------------------------------

GREEDY = [
    "backend=lmeval_server",
    "backend.server.num_servers=1",
    "benchmark.limit=4",
    "benchmark.n=1",
    "generation.max_new_tokens=12",
    "generation.temperature=0",
    "sampling.problems_per_unit=1",
]


@pytest.mark.ports
@pytest.mark.slow
def test_overlapping_units_keep_the_server_busy(evaluate: Evaluate, tmp_path: Path) -> None:
    """Four one-problem units, two in flight, through one server: one engine for the whole
    job; each unit's request reaches the server before the previous unit's answer comes
    back (the server never waits for a unit to be scored); the completions are those of
    the same job run unit after unit."""
    # Long enough answers that the next unit's request is prepared while one is generated.
    longer = "generation.max_new_tokens=48"
    evaluate(*GREEDY, longer, "sampling.units_in_flight=2")
    folder = job_dir(tmp_path / "outputs", backend="lmeval_server")
    results = json.loads((folder / "results.json").read_text())
    assert results["sampling"]["units"] == 4
    assert results["engine_starts"] == 1 and results["engine"]["units_in_flight"] == 2
    logs = (folder / "backend" / "servers").glob("server-*.log")
    assert sum(log.read_text().count("Started server process") for log in logs) == 1
    requests = [
        json.loads(line)
        for line in (folder / "backend" / "servers" / "requests.jsonl").read_text().splitlines()
    ]
    assert len({r["unit"] for r in requests}) == 4 and all(r["status"] == 200 for r in requests)
    spans = sorted((r["start"], r["end"]) for r in requests)  # one request per unit
    for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False):
        assert later_start < earlier_end

    evaluate(*GREEDY, longer, "sampling.units_in_flight=1", "experiment_name=serial")
    serial = tmp_path / "outputs" / "serial" / "smollm2-135m-instruct" / "main" / "math_500"
    columns = ["problem_id", "completion", "correct"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "details.parquet")[columns],
        pd.read_parquet(serial / "lmeval_server" / "details.parquet")[columns],
    )


def test_vllm_environment_variables_are_checked_and_given_to_the_engines() -> None:
    """parallelism.engine_env: vLLM's own variables only (checked against the installed
    vLLM's list when there is one), for every engine of the job; a CPU engine gets no
    chunked prefill unless asked (vLLM's CPU generators cannot rewind after one)."""
    from evallaunch.engines.args import engine_env_names
    from evallaunch.engines.settings import engine_settings
    from evallaunch.job.checks import validate_job

    base = ["backend.model_type=vllm", "paths.data_dir=x"]  # vLLM's names: read once, cached
    cfg = compose_spec([*base, "+parallelism.engine_env.VLLM_BATCH_INVARIANT=true"])
    validate_job(cfg)
    settings = engine_settings(cfg, "cpu", "float32", None)
    assert settings.engine_env == {"VLLM_BATCH_INVARIANT": "1"}
    assert settings.engine_args == {"enable_chunked_prefill": False}
    assert "--no-enable-chunked-prefill" in settings.vllm_flags()
    asked = compose_spec([*base, "+parallelism.engine_args.enable_chunked_prefill=true"])
    assert engine_settings(asked, "cpu", "float32", None).engine_args == {
        "enable_chunked_prefill": True
    }
    assert engine_settings(asked, "cuda", "bfloat16", None).engine_args == {
        "enable_chunked_prefill": True
    }
    typo = compose_spec([*base, "+parallelism.engine_env.VLLM_BATCH_INVARIAN=1"])
    if engine_env_names(typo.paths.cache_dir) is not None:  # vLLM installed: its own list decides
        with pytest.raises(EvallaunchError, match="closest: VLLM_BATCH_INVARIANT"):
            validate_job(typo)
    foreign = compose_spec([*base, "+parallelism.engine_env.HF_TOKEN=x"])
    with pytest.raises(EvallaunchError, match="engine_env.HF_TOKEN is not an environment"):
        validate_job(foreign)
