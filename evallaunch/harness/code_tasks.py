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


def code_execution(cfg: DictConfig, index: TaskIndex) -> dict[str, Any] | None:
    """What results.json records of the job's code execution (None: its tasks run no code).

    Raises:
        EvallaunchError: If a task runs code without the consent of `SWITCH`, or no sandbox
            works here and EVALLAUNCH_ALLOW_UNSANDBOXED=1 is not set.
    """
    from evallaunch.scoring.code_eval import ALLOW_UNSANDBOXED_ENV, no_sandbox_error
    from evallaunch.scoring.code_eval import unsandboxed_allowed
    from evallaunch.scoring.sandbox import sandbox_available

    task = cfg.benchmark.task
    tasks = index.code_tasks(task)
    if not tasks:
        return None
    listed = ", ".join(tasks)
    if not cfg.benchmark.get("allow_code_execution"):
        raise EvallaunchError(
            f"benchmark.task={task} is refused: it scores the model by running the programs "
            f"the model writes (tasks: {listed}), which needs {SWITCH}=true",
            hint=f"add {SWITCH}=true to run them in evallaunch's sandbox (no network, a "
            "private temporary file system, CPU, memory and process limits)",
        )
    if sandbox_available():
        sandbox = "namespaces"
    elif unsandboxed_allowed():
        sandbox = f"none ({ALLOW_UNSANDBOXED_ENV}=1: resource limits only)"
        log.warning("The model's programs run WITHOUT a sandbox here: %s", sandbox)
    else:
        raise no_sandbox_error(f"run the programs of {listed}")
    return {"allowed": True, "tasks": tasks, "sandbox": sandbox}
