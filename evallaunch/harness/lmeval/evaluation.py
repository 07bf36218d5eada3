"""A harness-task job on lm-eval: its own task (or group) run by `simple_evaluate` on the
job's model, each dataset read from the mirror; lm-eval's raw results and samples kept, and
read into evallaunch's schema (evallaunch.harness.lmeval.results)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evallaunch.backends.details import detail_rows
from evallaunch.config.schema import EvaluateConfig
from evallaunch.harness.generation import harness_gen_kwargs
from evallaunch.harness.job_harness import job_task
from evallaunch.harness.lmeval.results import lm_eval_samples, task_metrics
from evallaunch.harness.results import HarnessRun, token_counter
from evallaunch.scoring.math_answers import strip_think


def run_lm_eval(cfg: EvaluateConfig, backend: Any, request: Any, inputs: Any) -> HarnessRun:
    """Run `benchmark.task` with lm-eval's `simple_evaluate` on the job's model (`inputs`:
    the job's task index and mirrored files); keep its raw outputs."""
    results = _simple_evaluate(cfg, backend, backend.lm(request), inputs)
    samples = results.pop("samples", {})
    _keep_raw(request.work_dir, results, samples)
    metrics = task_metrics(results)
    tasks = _tasks_section(results, metrics)
    graded = lm_eval_samples(samples, token_counter(backend, request), request.max_new_tokens)
    return HarnessRun(metrics, tasks, detail_rows(graded), backend.engine_starts)


def _simple_evaluate(cfg: EvaluateConfig, backend: Any, lm: Any, inputs: Any) -> dict[str, Any]:
    """lm-eval's `simple_evaluate` of the job's task, its datasets read from the mirror."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    from evallaunch.compat.lm_eval import (
        quiet_git_probe,
        redirected_task_datasets,
        sandboxed_code_eval,
    )
    from evallaunch.scoring.code_eval import SandboxedCodeEval

    quiet_git_probe()
    bench, seed, task = cfg.benchmark, cfg.generation.seed, job_task(cfg)
    if bench.strip_think:
        lm.generate_until = _stripping(lm.generate_until)
    dirs = inputs.index.yaml_dirs(task)
    mirrored = redirected_task_datasets(lambda path, name: inputs.files.get((path, name)))
    with mirrored, sandboxed_code_eval(SandboxedCodeEval):
        return dict(
            lm_eval.simple_evaluate(
                model=lm,
                tasks=[task],
                task_manager=TaskManager(include_defaults=False, include_path=dirs),
                num_fewshot=bench.num_fewshot,
                limit=bench.limit,
                gen_kwargs=harness_gen_kwargs(cfg, "lm-eval"),
                batch_size=backend.batch_size,
                log_samples=True,
                apply_chat_template=cfg.model.chat_template,
                system_instruction=cfg.model.system_prompt,
                random_seed=seed,
                numpy_random_seed=seed,
                torch_random_seed=seed,
                fewshot_random_seed=seed,
                confirm_run_unsafe_code=bool(bench.allow_code_execution),  # in the sandbox
            )
        )


def _tasks_section(
    results: dict[str, Any], metrics: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    """results.json's `tasks`: each task and group with its version, few-shot count,
    members and metrics, as lm-eval reported them."""
    return {
        task: {
            "version": results.get("versions", {}).get(task),
            "num_fewshot": results.get("n-shot", {}).get(task),
            "subtasks": results.get("group_subtasks", {}).get(task),
            "metrics": task_metrics_of,
        }
        for task, task_metrics_of in metrics.items()
    }


def _keep_raw(job_dir: Path, results: dict[str, Any], samples: dict[str, Any]) -> None:
    """lm-eval's own results and per-sample log, as it reported them."""
    raw = job_dir / "backend"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "results.json").write_text(json.dumps(results, indent=2, default=str))
    with (raw / "samples.jsonl").open("w") as handle:
        for task, task_samples in samples.items():
            for sample in task_samples:
                handle.write(json.dumps({"task": task, **sample}, default=str) + "\n")


def _stripping(generate: Callable[..., list[str]]) -> Callable[..., list[str]]:
    def generate_until(*args: Any, **kwargs: Any) -> list[str]:
        return [strip_think(text) for text in generate(*args, **kwargs)]

    return generate_until
