"""Which harness runs a job's task (lm-eval or lighteval, by the job's backend), and the
index of that harness's tasks, the user's own included."""

from __future__ import annotations

from evallaunch.config.schema import EvaluateConfig
from evallaunch.errors import EvallaunchError
from evallaunch.harness.lmeval.tasks import task_index
from evallaunch.harness.task_index import TaskIndex, missing_task

HARNESS_OF_BACKEND = {"LmevalBackend": "lm-eval", "LightevalBackend": "lighteval"}


def harness_of(cfg: EvaluateConfig) -> str:
    """ "lm-eval" or "lighteval": the harness whose task definitions the job's backend runs."""
    backend = str(cfg.backend._target_).rsplit(".", 1)[-1]
    if backend not in HARNESS_OF_BACKEND:
        raise EvallaunchError(
            f"backend={cfg.backend.name} is invalid for benchmark=harness: harness tasks run on "
            "lm-eval's or lighteval's task definitions",
            hint="use backend=lmeval, lmeval_server, lighteval or lighteval_server",
        )
    return HARNESS_OF_BACKEND[backend]


def job_task(cfg: EvaluateConfig) -> str:
    """benchmark.task: the harness task, group or tag a benchmark=harness job runs."""
    if not cfg.benchmark.task:
        raise missing_task(harness_of(cfg))
    return cfg.benchmark.task


def index_of(harness: str, cache_dir: str, own: str | None = None) -> TaskIndex:
    """The tasks of `harness` and the user's own (lm-eval: a directory of task YAMLs;
    lighteval: a custom-tasks .py file)."""
    if harness == "lighteval":
        from evallaunch.harness.lighteval.tasks import lighteval_task_index

        return lighteval_task_index(cache_dir, own)
    return task_index(cache_dir, own)


def job_task_index(cfg: EvaluateConfig) -> TaskIndex:
    """The index the job's task comes from; a task only the other harness defines fails
    naming the backend that runs it."""
    bench = cfg.benchmark
    harness = harness_of(cfg)
    wrong, right = ("custom_tasks", "include_path")
    if harness == "lighteval":
        wrong, right = right, wrong
    if getattr(bench, wrong):
        raise EvallaunchError(
            f"benchmark.{wrong}={getattr(bench, wrong)} is invalid with "
            f"backend={cfg.backend.name}: "
            f"{harness}'s own tasks come from benchmark.{right}",
            hint="benchmark.include_path: a directory of lm-eval task YAMLs; "
            "benchmark.custom_tasks: a lighteval custom-tasks .py file",
        )
    index = index_of(harness, cfg.paths.cache_dir, getattr(bench, right))
    try:
        index.check(bench.task)
    except EvallaunchError:
        other = index_of("lighteval" if harness == "lm-eval" else "lm-eval", cfg.paths.cache_dir)
        if bench.task and bench.task in other.entries:
            raise EvallaunchError(
                f"benchmark.task={bench.task} is invalid with backend={cfg.backend.name}: it is "
                f"{other.harness}'s, and {harness} has no task, group or tag of that name",
                hint=f"use backend={other.backend} (or {other.backend}_server)",
            ) from None
        raise
    return index
