"""Harness tasks that run the model's programs (lm-eval's humaneval and mbpp, lighteval's
LiveCodeBench): the consent they need (`benchmark.allow_code_execution=true`) and the sandbox
their programs run in, checked before the model loads."""

from __future__ import annotations

import logging
from typing import Any

from evallaunch.config.schema import EvaluateConfig
from evallaunch.errors import EvallaunchError
from evallaunch.harness.job_harness import job_task
from evallaunch.harness.task_index import TaskIndex

log = logging.getLogger(__name__)

SWITCH = "benchmark.allow_code_execution"


# lighteval's task module whose checks run in the sandbox
# (evallaunch.compat.lighteval.sandboxed_codegen_checks): LiveCodeBench's.
LIGHTEVAL_SANDBOXED_MODULE = "lighteval.tasks.tasks.lcb.main"


def sandboxed_tasks(index: TaskIndex, tasks: list[str]) -> list[str]:
    """Those of `tasks` whose programs run in evallaunch's sandbox: lm-eval's tasks that
    check them with `code_eval` (evallaunch.compat.lm_eval.sandboxed_code_eval), and
    lighteval's LiveCodeBench tasks."""
    if index.harness == "lighteval":
        return [t for t in tasks if index.entries[t].get("module") == LIGHTEVAL_SANDBOXED_MODULE]
    return [
        task
        for task in tasks
        if any(
            '"code_eval"' in path.read_text(errors="replace")
            for path in index.definition_files(task)
            if path.suffix == ".py"
        )
    ]


def require_consent(cfg: EvaluateConfig, index: TaskIndex) -> list[str]:
    """The tasks of the job that run the model's programs (checked when a sweep is submitted
    and when the job starts).

    Raises:
        EvallaunchError: If there are some and `SWITCH` is not true, or some would run them
            outside evallaunch's sandbox and EVALLAUNCH_ALLOW_UNSANDBOXED=1 is not set.
    """
    from evallaunch.scoring.code_eval import ALLOW_UNSANDBOXED_ENV, unsandboxed_allowed

    task = job_task(cfg)
    tasks = index.code_tasks(task)
    if tasks and not cfg.benchmark.allow_code_execution:
        raise EvallaunchError(
            f"benchmark.task={task} is refused: it scores the model by running the programs "
            f"the model writes (tasks: {', '.join(tasks)}), which needs {SWITCH}=true",
            hint=f"add {SWITCH}=true to run them in evallaunch's sandbox (no network, a "
            "private temporary file system, CPU, memory and process limits)",
        )
    outside = [t for t in tasks if t not in sandboxed_tasks(index, tasks)]
    if outside and not unsandboxed_allowed():
        raise EvallaunchError(
            f"benchmark.task={task} is refused: {index.harness} runs the programs of "
            f"{', '.join(outside)} its own way, outside evallaunch's sandbox",
            hint=f"the sandboxed code tasks: lm-eval's humaneval* and mbpp*, lighteval's "
            f"lcb:codegeneration*; set "
            f"{ALLOW_UNSANDBOXED_ENV}=1 to run these unsandboxed, at your own risk",
        )
    return tasks


def code_execution(cfg: EvaluateConfig, index: TaskIndex) -> dict[str, Any] | None:
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
    sandboxed = sandboxed_tasks(index, tasks)
    unsandboxed = f"none ({ALLOW_UNSANDBOXED_ENV}=1)"
    if sandboxed and not sandbox_available():
        if not unsandboxed_allowed():
            raise no_sandbox_error(f"run the programs of {', '.join(sandboxed)}")
        sandboxed = []
    record = {task: "namespaces" if task in sandboxed else unsandboxed for task in tasks}
    if unsandboxed in record.values():
        log.warning("The model's programs run WITHOUT a sandbox: %s", record)
    return {"allowed": True, "tasks": tasks, "sandbox": record}
