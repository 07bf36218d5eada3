"""Harness tasks that run the model's programs (lm-eval's humaneval and mbpp, lighteval's
LiveCodeBench): the consent they need (`benchmark.allow_code_execution=true`) and the sandbox
their programs run in, checked before the model loads."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig

from evallaunch.errors import EvallaunchError
from evallaunch.harness.tasks import TaskIndex

log = logging.getLogger(__name__)

SWITCH = "benchmark.allow_code_execution"


def require_consent(cfg: DictConfig, index: TaskIndex) -> list[str]:
    """The tasks of the job that run the model's programs (checked when a sweep is submitted
    and when the job starts).

    Raises:
        EvallaunchError: If there are some and `SWITCH` is not true.
    """
    task = cfg.benchmark.task
    tasks = index.code_tasks(task)
    listed = ", ".join(tasks)
    if tasks and not cfg.benchmark.get("allow_code_execution"):
        raise EvallaunchError(
            f"benchmark.task={task} is refused: it scores the model by running the programs "
            f"the model writes (tasks: {listed}), which needs {SWITCH}=true",
            hint=f"add {SWITCH}=true to run them in evallaunch's sandbox (no network, a "
            "private temporary file system, CPU, memory and process limits)",
        )
    return tasks


def code_execution(cfg: DictConfig, index: TaskIndex) -> dict[str, Any] | None:
    """What results.json records of the job's code execution (None: its tasks run no code);
    checked on the machine that runs the programs.

    Raises:
        EvallaunchError: As `require_consent`, or if no sandbox works here and
            EVALLAUNCH_ALLOW_UNSANDBOXED=1 is not set.
    """
    from evallaunch.scoring.code_eval import (
        ALLOW_UNSANDBOXED_ENV,
        no_sandbox_error,
        unsandboxed_allowed,
    )
    from evallaunch.scoring.sandbox import sandbox_available

    tasks = require_consent(cfg, index)
    if not tasks:
        return None
    listed = ", ".join(tasks)
    if sandbox_available():
        sandbox = "namespaces"
    elif unsandboxed_allowed():
        sandbox = f"none ({ALLOW_UNSANDBOXED_ENV}=1: resource limits only)"
        log.warning("The model's programs run WITHOUT a sandbox here: %s", sandbox)
    else:
        raise no_sandbox_error(f"run the programs of {listed}")
    return {"allowed": True, "tasks": tasks, "sandbox": sandbox}
