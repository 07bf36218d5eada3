"""A harness-task job on lighteval: its own task configs (prompts, few-shot examples,
metrics) run by its pipeline on the job's model, each dataset read from the mirror; the
results and per-sample details in evallaunch's schema (evallaunch.harness.lighteval.results)."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from evallaunch.backends.base import GenerationRequest
from evallaunch.backends.details import detail_rows
from evallaunch.config.schema import EvaluateConfig
from evallaunch.harness.generation import gen_parameters, harness_gen_kwargs
from evallaunch.harness.job_harness import job_task
from evallaunch.harness.lighteval.results import lighteval_samples, task_metrics, task_of
from evallaunch.harness.lighteval.tasks import task_configs
from evallaunch.harness.results import HarnessRun, token_counter


def run_lighteval(
    cfg: EvaluateConfig, backend: Any, request: GenerationRequest, inputs: Any
) -> HarnessRun:
    """Run `benchmark.task` with lighteval's pipeline on the job's model."""
    import datasets
    from lighteval.logging.evaluation_tracker import EvaluationTracker
    from lighteval.pipeline import ParallelismManager, PipelineParameters
    from transformers.trainer_utils import set_seed

    from evallaunch.compat.lighteval import offline_pipeline_class, sandboxed_codegen_checks
    from evallaunch.scoring.code_eval import run_checker

    bench = cfg.benchmark
    generation = gen_parameters(harness_gen_kwargs(cfg, "lighteval"))
    set_seed(int(generation.get("seed", request.seed)))
    task_name = job_task(cfg)
    configs = task_configs(inputs.index, task_name)
    if "max_new_tokens" in generation:
        # lighteval's transformers model takes its length from the task's generation_size.
        size = generation["max_new_tokens"]
        configs = [dataclasses.replace(c, generation_size=size) for c in configs]
    request = dataclasses.replace(
        request, temperature=generation["temperature"], top_p=generation["top_p"]
    )
    model = backend.job_model(request)
    for key, value in generation.items():
        setattr(model.config.generation_parameters, key, value)

    def mirrored(task: Any) -> Any:
        files = inputs.files.get((task.dataset_path, task.dataset_config_name))
        return datasets.load_dataset("json", data_files=files) if files else None

    pipeline = offline_pipeline_class()(
        task_configs=configs,
        num_fewshot=bench.num_fewshot or 0,
        load_dataset=mirrored,
        pipeline_parameters=PipelineParameters(
            launcher_type=ParallelismManager.NONE,
            max_samples=bench.limit,
            remove_reasoning_tags=bool(bench.strip_think),
        ),
        evaluation_tracker=EvaluationTracker(
            output_dir=str(request.work_dir / "backend"), save_details=True
        ),
        model=model,
    )
    with (
        sandboxed_codegen_checks(run_checker) if inputs.index.code_tasks(task_name) else _nothing()
    ):
        pipeline.evaluate()
    pipeline.save_and_push_results()
    details = {task_of(key): rows for key, rows in pipeline.get_details().items()}
    tokens = token_counter(backend, request)
    model_max = generation.get("max_new_tokens")
    rows = detail_rows(lighteval_samples(details, model.prompt_manager, tokens, model_max))
    metrics = task_metrics(pipeline.get_results()["results"], details, task_name)
    shots = bench.num_fewshot or 0
    tasks = {
        task: {
            "version": next((c.version for c in configs if c.name == task), None),
            "num_fewshot": shots,
            "subtasks": inputs.index.tasks_of(task)
            if task == task_name != configs[0].name
            else None,
            "metrics": values,
        }
        for task, values in metrics.items()
    }
    return HarnessRun(metrics, tasks, rows, backend.engine_starts)


def _nothing() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()
