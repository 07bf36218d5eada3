"""Sample-level resume: a run killed with SIGKILL at a random point, then rerun, generates
only the samples its ledger lacks and ends with exactly the results of an uninterrupted run.

Every test draws 2 problems x 2 samples in 4 units of one sample each (so a kill can land
between units or inside one) with a short token budget.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.collect.results_table import Skipped, load_job
from evallaunch.job.ledger import SampleLedger
from evallaunch.job.record import recorded_state
from tests.helpers import Evaluate, compose_spec, job_dir, make_request

pytestmark = pytest.mark.slow

UNITS = [
    "benchmark.limit=2",
    "benchmark.n=2",
    "generation.max_new_tokens=24",
    "sampling.problems_per_unit=1",
    "sampling.samples_per_unit=1",
]
TOTAL = 4  # samples = units


def outcome(directory: Path) -> tuple[dict, dict[tuple[str, int], str]]:
    """The metrics and every (problem, sample index) -> completion of a finished job."""
    results = json.loads((directory / "results.json").read_text())
    details = pd.read_parquet(directory / "details.parquet")
    completions = {
        (row.problem_id, int(row.sample_index)): row.completion for row in details.itertuples()
    }
    return results, completions


def recorded(directory: Path) -> int:
    """Samples of complete units in the job's ledger."""
    ledgers = list((directory / "ledger").glob("*.jsonl"))
    if not ledgers:
        return 0
    (path,) = ledgers
    ledger = SampleLedger(directory, path.stem).load()
    return len(ledger.samples)


def start(root: Path, shared: Path, backend: str, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "evallaunch.evaluate",
        f"backend={backend}",
        f"paths.output_root={root}",
        f"paths.data_dir={shared}",
        *UNITS,
        *extra,
    ]
    return subprocess.Popen(
        command,
        cwd=root.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_at_random_point(
    root: Path, shared: Path, backend: str, seed: int, signum: int = signal.SIGKILL
) -> int:
    """Start a run and kill it (SIGKILL, or SIGTERM: a clean stop) after a random number of
    units plus a random delay; return how many samples its ledger kept."""
    rng = random.Random(seed)
    units_first, delay = rng.randint(1, TOTAL - 1), rng.uniform(0.0, 1.5)
    directory = job_dir(root, backend=backend)
    proc = start(root, shared, backend)
    try:
        deadline = time.monotonic() + 600
        while recorded(directory) < units_first:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no unit was recorded in time"
            time.sleep(0.2)
        time.sleep(delay)
        assert proc.poll() is None, "the run finished before the kill"
    finally:
        os.killpg(proc.pid, signum)
        proc.wait()
    status = json.loads((directory / "status.json").read_text())
    assert not (directory / "results.json").exists()
    skipped = load_job(directory)
    assert isinstance(skipped, Skipped)
    if signum == signal.SIGTERM:  # stopped cleanly, as Ctrl-C stops it
        assert proc.returncode == 143 and status["status"] == "interrupted"
        return recorded(directory)
    assert status["status"] == "running"  # SIGKILL leaves no chance to write more
    assert recorded_state(status) == "died"  # ... but its process is gone
    assert "died while running" in skipped.reason
    return recorded(directory)


@pytest.mark.parametrize(
    ("backend", "seeds"), [("lmeval", [0, 1]), ("lighteval", [3])], ids=["lmeval", "lighteval"]
)
def test_rerun_after_sigkill_equals_an_uninterrupted_run(
    backend: str, seeds: list[int], evaluate: Evaluate, tmp_path: Path, shared_datasets: Path
) -> None:
    """An uninterrupted run, then for each seed a run killed at that seed's random point
    and its rerun. (About a minute for lm-eval: five runs, each of its own process; SIGKILL
    lands at a random point, between units or inside one, SIGTERM once, and the rerun after
    the SIGKILL changes the batch size.)"""
    evaluate(f"backend={backend}", *UNITS)
    reference, reference_completions = outcome(job_dir(tmp_path / "outputs", backend=backend))
    assert reference["sampling"]["samples_generated"] == TOTAL
    assert len(set(reference_completions.values())) > 1  # the units draw different samples

    for seed in seeds:
        root = tmp_path / f"killed-{seed}"
        signum = signal.SIGTERM if seed == 1 else signal.SIGKILL
        kept = kill_at_random_point(root, shared_datasets, backend, seed, signum)
        assert 1 <= kept < TOTAL

        # How the work is batched is no part of a sample's key: one rerun changes it.
        rerun = start(root, shared_datasets, backend, *(["backend.batch_size=2"] * (seed == 0)))
        assert rerun.wait(timeout=600) == 0
        results, completions = outcome(job_dir(root, backend=backend))
        assert results["sampling"]["samples_reused"] == kept
        assert results["sampling"]["samples_generated"] == TOTAL - kept
        assert completions == reference_completions
        assert results["metrics"] == reference["metrics"]
        assert results["backend_metrics"] == reference["backend_metrics"]
        assert results["config_fingerprint"] == reference["config_fingerprint"]


def test_a_finished_job_is_reused_and_launch_force_draws_afresh(
    evaluate: Evaluate, tmp_path: Path
) -> None:
    """Rerunning a finished job with the same config (fingerprint) reuses its results, as a
    sweep skips it: nothing is generated, nothing moves. With launch.force=true the ledger
    of the completed run moves to history/ with its results, and the job generates again
    instead of replaying the old samples."""
    args = ["backend=lmeval", "benchmark.limit=1", "benchmark.n=1", "generation.max_new_tokens=8"]
    evaluate(*args)
    directory = job_dir(tmp_path / "outputs", backend="lmeval")
    first = (directory / "results.json").read_text()
    again = evaluate(*args, forked=True)
    assert "already holds this job's results" in again.stdout
    assert "launch.force=true runs it again" in again.stdout
    assert (directory / "results.json").read_text() == first and not (
        directory / "history"
    ).exists()
    evaluate(*args, "launch.force=true")
    results = json.loads((directory / "results.json").read_text())
    assert results["sampling"]["samples_generated"] == 1
    assert results["finished_at"] != json.loads(first)["finished_at"]
    assert list((directory / "history").glob("*/ledger/*.jsonl"))


def unit_request(tmp_path: Path, shared: Path, overrides: list[str]):
    """The request of a 2-problem, 2-sample lm-eval job (as the runner builds it)."""
    from evallaunch.benchmarks.mirror import load_problems, write_problems
    from evallaunch.models.resolve import resolve_model

    cfg = compose_spec(["backend=lmeval", f"paths.data_dir={shared}", *UNITS, *overrides])
    problems, _ = load_problems(cfg.benchmark, cfg.paths.data_dir)
    request = make_request(
        tmp_path,
        problems=problems,
        problems_file=write_problems(problems, tmp_path / "test.jsonl"),
        model_path=resolve_model(cfg.model, cfg.paths.cache_dir),
        n=2,
    )
    return cfg, request


def test_out_of_memory_retries_the_unit_with_half_the_batch(
    tmp_path: Path, shared_datasets: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """CUDA runs out of memory once (injected into lm-eval's model on this CPU machine): the
    unit is retried with half the batch, and the job finishes with every sample."""
    import torch
    from lm_eval.models.huggingface import HFLM

    from evallaunch.backends.base import build_backend
    from evallaunch.job.sampling import draw_samples

    cfg, request = unit_request(tmp_path, shared_datasets, ["backend.batch_size=4"])
    generate, calls = HFLM._model_generate, []

    def out_of_memory_once(self, *args, **kwargs):
        calls.append(self.batch_size)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(HFLM, "_model_generate", out_of_memory_once)
    backend = build_backend(cfg.backend)
    ledger = SampleLedger(tmp_path, "oom")
    output, report = draw_samples(backend, request, ledger, cfg.sampling)
    assert calls[0] == 4 and set(calls[1:]) == {2}
    assert backend.batch_size == 2
    assert report.samples_generated == TOTAL and len(output.completions) == TOTAL
    assert "retrying it with backend.batch_size=2" in caplog.text


def test_out_of_memory_at_batch_size_one_says_what_to_change(
    tmp_path: Path, shared_datasets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from lm_eval.models.huggingface import HFLM

    from evallaunch.backends.base import build_backend
    from evallaunch.errors import EvallaunchError
    from evallaunch.job.sampling import draw_samples

    cfg, request = unit_request(tmp_path, shared_datasets, ["backend.batch_size=1"])

    def out_of_memory(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(HFLM, "_model_generate", out_of_memory)
    with pytest.raises(EvallaunchError, match="out of accelerator memory") as err:
        draw_samples(
            build_backend(cfg.backend), request, SampleLedger(tmp_path, "oom"), cfg.sampling
        )
    assert "tensor_parallel_size" in str(err.value.hint)
