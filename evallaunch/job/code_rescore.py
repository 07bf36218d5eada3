"""`evallaunch score TASK COMPLETIONS --allow-code-execution` for the harnesses' code tasks
(lm-eval's humaneval, humaneval_instruct, mbpp, mbpp_instruct): completions from any tool,
keyed by the dataset's task ids (`HumanEval/0`, MBPP's `11`), scored as the task scores them.

Each completion becomes the program the task's filter builds (humaneval: the prompt, then the
completion; the instruct variants cut it at their code fence) and runs with the task's tests
(its `doc_to_target`) in evallaunch's sandbox, as lm-eval's `code_eval` runs it
(evallaunch.scoring.code_eval); pass@k is `code_eval`'s. The problems and tests are read from
the mirror (`evallaunch prepare --task TASK`), offline.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evallaunch.backends.base import Completion
from evallaunch.backends.details import GradedSample, detail_rows
from evallaunch.benchmarks.mirror import sha256_of
from evallaunch.errors import EvallaunchError
from evallaunch.harness.dataset_mirror import dataset_dir, mirrored_files, prepare_command
from evallaunch.harness.results import metric_record
from evallaunch.job.rescore import file_run_record
from evallaunch.job.results import (
    DETAILS_FILE,
    JobResults,
    write_details,
    write_results,
)
from evallaunch.runtime.files import utc_now

CONSENT_FLAG = "--allow-code-execution"
KS = (1, 10, 100)  # code_eval's default k; those every problem has samples for are reported


def _fence_cut(text: str) -> str:
    """humaneval_instruct's `build_predictions_instruct`: the completion up to its fence."""
    return text if text.find("```") == -1 else text[: text.find("```")]


def _code_block(text: str) -> str:
    """mbpp_instruct's `extract_code_blocks` (its prompt ends with an opening fence)."""
    pattern = r"```(?:\w+)?\n?(.*?)\n?```"
    matches = re.findall(pattern, "```" + text, re.DOTALL)
    if not matches:
        matches = re.findall(pattern, re.sub(r"```python", "```", text), re.DOTALL)
    return matches[0] if matches else ""


def _humaneval_tests(row: dict[str, Any]) -> str:
    return f"{row['test']}\ncheck({row['entry_point']})"


def _mbpp_tests(row: dict[str, Any]) -> str:
    return "\n".join(row["test_list"][:3])


@dataclass(frozen=True)
class CodeTask:
    """An lm-eval code task as `evallaunch score` reads it: its Hub dataset (config, split),
    the program its filter builds from a row and a completion, its tests, the filter's name
    and the name lm-eval gives its pass@1."""

    dataset: str
    config: str | None
    program: Callable[[dict[str, Any], str], str]
    tests: Callable[[dict[str, Any]], str]
    filter: str
    pass_at_1: str
    split: str = "test"


HUMANEVAL, MBPP = "openai/openai_humaneval", "google-research-datasets/mbpp"
CODE_TASKS = {
    "humaneval": CodeTask(
        HUMANEVAL, None, lambda row, text: row["prompt"] + text, _humaneval_tests,
        "create_test", "pass@1",
    ),
    "humaneval_instruct": CodeTask(
        HUMANEVAL, None, lambda row, text: row["prompt"] + _fence_cut(text), _humaneval_tests,
        "create_test", "pass@1",
    ),
    "mbpp": CodeTask(MBPP, "full", lambda row, text: text, _mbpp_tests, "none", "pass_at_1"),
    "mbpp_instruct": CodeTask(
        MBPP, "full", lambda row, text: _code_block(text), _mbpp_tests, "extract_code", "pass_at_1"
    ),
}  # fmt: skip


def require_consent(task: str, allowed: bool) -> None:
    """Refuse to run a code task's completions without `CONSENT_FLAG`."""
    if task in CODE_TASKS and not allowed:
        raise EvallaunchError(
            f"evallaunch score {task} is refused: it scores the completions by running them "
            f"as programs, which needs {CONSENT_FLAG}",
            hint=f"add {CONSENT_FLAG} to run them in evallaunch's sandbox (no network, a "
            "private temporary file system, CPU, memory and process limits)",
        )


def load_task_rows(task: str, data_dir: str | Path) -> tuple[dict[str, dict[str, Any]], Path]:
    """{task id: row} of the task's evaluated split in the mirror, and its file."""
    spec = CODE_TASKS[task]
    files = mirrored_files(data_dir, spec.dataset, spec.config)
    if files is None or spec.split not in files:
        raise EvallaunchError(
            f"evallaunch score {task}: its dataset {spec.dataset} is not in the mirror "
            f"({dataset_dir(data_dir, spec.dataset, spec.config)})",
            hint=prepare_command(task, spec.dataset, spec.config) + "; or give --data-dir",
        )
    file = Path(files[spec.split])
    lines = file.read_text(encoding="utf-8").splitlines()
    return {str(row["task_id"]): row for row in map(json.loads, filter(str.strip, lines))}, file


def score_code_task(
    task: str, data_dir: str | Path, completions: list[Completion], path: Path, out_dir: Path
) -> dict[str, Any]:
    """Run each completion of `completions` (read from `path`) with its problem's tests in
    the sandbox; write details.parquet and results.json into `out_dir`; return the results.

    Raises:
        EvallaunchError: If no completion's id is a problem of the task, or no sandbox works
            here (and EVALLAUNCH_ALLOW_UNSANDBOXED is unset).
    """
    from evallaunch.scoring.code_eval import SandboxedCodeEval

    clock, started = time.monotonic(), utc_now()
    spec = CODE_TASKS[task]
    rows, file = load_task_rows(task, data_dir)
    kept = [c for c in completions if c.problem_id in rows]
    if not kept:
        ids = sorted({c.problem_id for c in completions})
        raise EvallaunchError(
            f"{path}: none of its {len(ids)} id(s) is a problem of '{task}' (e.g. {ids[:3]}; "
            f"the task's ids look like {list(rows)[:3]})"
        )
    by_problem: dict[str, list[Completion]] = {}
    for completion in kept:
        by_problem.setdefault(completion.problem_id, []).append(completion)
    ids = [pid for pid in rows if pid in by_problem]  # the dataset's order
    programs = [[spec.program(rows[pid], c.completion) for c in by_problem[pid]] for pid in ids]
    tests = [spec.tests(rows[pid]) for pid in ids]
    pass_at, checks = SandboxedCodeEval().compute(
        predictions=programs, references=tests, k=list(KS)
    )
    samples = []
    for index, pid in enumerate(ids):
        for completion, (_, check) in zip(by_problem[pid], sorted(checks[index]), strict=True):
            passed = bool(check["passed"])
            samples.append(
                GradedSample(
                    completion,
                    tests[index],
                    passed,
                    programs[index][check["completion_id"]],
                    task=task,
                    filter=spec.filter,
                    metrics={spec.pass_at_1: float(passed)},
                )
            )
    details = detail_rows(samples)
    metrics = _metrics(spec, pass_at, checks, len(ids))
    per_problem = Counter(c.problem_id for c in kept)
    unknown = Counter(c.problem_id for c in completions if c.problem_id not in rows)
    results = JobResults(
        experiment="score",
        model={"name": path.stem, "name_or_path": str(path), "revision": "-"},
        benchmark={
            "name": "harness",
            "task": task,
            "harness": "lm-eval",
            "data_sha256": {f"{spec.dataset}:{spec.config or 'default'}:test": sha256_of(file)},
            "limit": None,
            "scorer": "harness",
            "code_execution": {"allowed": True, "tasks": [task], "sandbox": "namespaces"},
        },
        backend={"name": "score", "model_type": "completions-file"},
        backend_metrics={},
        num_problems=len(ids),
        num_samples=max(per_problem.values()),
        sampling=None,
        completions_file={
            "path": str(path),
            "num_completions": len(completions),
            "unknown_ids": sorted(unknown),
            "num_unknown_completions": sum(unknown.values()),
            "missing_problems": [pid for pid in rows if pid not in per_problem],
            "num_no_answer": sum(not row["extracted_answer"].strip() for row in details),
        },
        tasks={task: {"version": None, "num_fewshot": None, "subtasks": None, "metrics": metrics}},
        **file_run_record(path, started, clock),
        metrics=metrics,
        num_truncated=sum(bool(row["truncated"]) for row in details),
    )
    write_details(out_dir / DETAILS_FILE, details, ("task", "filter", "metrics"))
    return write_results(out_dir, results)


def _metrics(
    spec: CodeTask, pass_at: dict[str, Any], checks: dict[int, list[Any]], n: int
) -> dict[str, dict[str, Any]]:
    """pass@k as lm-eval names it (`pass@1,create_test`, `pass_at_1,none`), pass@1 with
    lm-eval's stderr of a mean over documents."""
    per_problem = [np.mean([r["passed"] for _, r in checks[i]]) for i in range(n)]
    stderr = float(np.std(per_problem, ddof=1) / np.sqrt(n)) if n > 1 else None
    out = {}
    for name, value in pass_at.items():
        metric = spec.pass_at_1 if name == "pass@1" else name
        key = f"{metric},{spec.filter}"
        out[key] = metric_record(key, float(value), stderr if name == "pass@1" else None, n)
    return out
