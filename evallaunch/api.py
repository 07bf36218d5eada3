"""evallaunch as a library: what the commands do, for a notebook or a training script.

    from evallaunch import api

    results = api.evaluate(["benchmark=math_500", "benchmark.limit=5"])
    jobs = api.plan(["model=r1_distill_qwen_7b", "cluster=slurm_h100_example"])
    table = api.collect(["outputs"]).table
    api.diff("outputs/default/a/main/math_500/lmeval", "outputs/default/b/main/math_500/lmeval")

The commands (`evallaunch-evaluate`, `evallaunch plan|status|collect|compare|diff`) print
what these return. Errors are `evallaunch.errors.EvallaunchError`, naming the setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from evallaunch.collect.collection import Collection
    from evallaunch.collect.compare import Comparison
    from evallaunch.planning.sweep_configs import PlannedJob


def evaluate(overrides: Sequence[str] = (), job_dir: str | Path | None = None) -> dict[str, Any]:
    """Run one evaluation job in this process and return its results.json content; the job
    directory (by default the one `evallaunch-evaluate` would use) keeps every file. A job
    that already finished with this very config returns its results (launch.force=true
    runs it again)."""
    from evallaunch.config.compose import compose_config
    from evallaunch.config.spec import job_spec
    from evallaunch.job.runner import run_job
    from evallaunch.launching.specs import reusable_results

    composed = compose_config(list(overrides), return_hydra_config=True)
    directory = Path(job_dir or str(composed.hydra.run.dir))
    spec = job_spec(composed)  # without Hydra's own `hydra` node
    directory.mkdir(parents=True, exist_ok=True)
    return reusable_results(spec, directory) or run_job(spec, directory)


def plan(overrides: Sequence[str] = (), multirun: bool = False) -> list[PlannedJob]:
    """The plan of every job the overrides describe (a sweep with `multirun`): resources,
    engine and settings, as `evallaunch plan` prints them."""
    from evallaunch.planning.sweep_configs import describe_sweep

    return describe_sweep(list(overrides), multirun)


def status(directory: str | Path) -> list[dict[str, Any]]:
    """One row per job of a sweep directory (Slurm's record) or of an output root (jobs
    run here): its state, progress and log."""
    from evallaunch.launching.local_jobs import local_rows
    from evallaunch.launching.sweep_record import record_path, status_rows

    folder = Path(directory)
    return status_rows(folder) if record_path(folder).is_file() else local_rows(folder)


def collect(
    roots: Sequence[str | Path] = ("outputs",), previous: Sequence[pd.DataFrame] = ()
) -> Collection:
    """Every finished job under `roots` in one table (merged with `previous` tables, the
    latest evaluation of a job winning), and the directories it skipped, with why."""
    from evallaunch.collect.collection import collect as collect_jobs
    from evallaunch.collect.suite_groups import load_groups

    return collect_jobs([Path(root) for root in roots], list(previous), load_groups())


def compare(
    a: str, b: str, roots: Sequence[str | Path] = ("outputs",), seed: int = 0
) -> list[Comparison]:
    """B minus A on each benchmark both evaluated, over the problems both graded (paired
    bootstrap intervals); A and B name models, checkpoints or job directories."""
    from evallaunch.collect.compare import compare as compare_runs

    return compare_runs(a, b, [Path(root) for root in roots], seed=seed)


def diff(run1: str | Path, run2: str | Path) -> list[tuple[str, Any, Any]]:
    """(setting, value in run1, value in run2) for every setting that differs between two
    finished job directories and can move the numbers."""
    from evallaunch.collect.compare import diff_runs
    from evallaunch.job.record import read_results

    runs = [Path(run1), Path(run2)]
    for run in runs:
        read_results(run)  # a clear error for a directory without finished results
    return diff_runs(*runs)
