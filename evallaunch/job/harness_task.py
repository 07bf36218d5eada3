"""One harness-task job: lm-eval or lighteval runs its own task (or group) on the job's
model, reading only the mirror; evallaunch writes the results in its own schema."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evallaunch.config.schema import EvaluateConfig
from evallaunch.config.suites import suite_record
from evallaunch.harness.code_tasks import code_execution, require_consent
from evallaunch.harness.dataset_mirror import data_hash, require_mirrored
from evallaunch.harness.generation import harness_gen_kwargs
from evallaunch.harness.job_harness import harness_of, job_task, job_task_index
from evallaunch.harness.lmeval.evaluation import run_lm_eval
from evallaunch.harness.task_index import TaskIndex
from evallaunch.job.fingerprint import config_fingerprint, fingerprint
from evallaunch.job.generation_setup import model_record, prepare_generation, save_config
from evallaunch.job.results import (
    DETAILS_FILE,
    JobResults,
    package_versions,
    write_details,
    write_results,
)
from evallaunch.runtime.files import utc_now

log = logging.getLogger(__name__)

DETAIL_EXTRAS = ("task", "filter", "metrics")


@dataclass(frozen=True)
class HarnessInputs:
    """What a harness job reads, and what identifies it: the task index, the mirrored files
    of its datasets with their sha256, the hash of the task's definition and the config
    fingerprint they make with the job's settings."""

    index: TaskIndex
    files: dict[tuple[str, str | None], dict[str, str]]
    data_sha256: dict[str, str]
    definition_sha256: str
    config_fingerprint: str


def harness_inputs(cfg: EvaluateConfig) -> HarnessInputs:
    """The inputs of the job `cfg` (a task whose data is not mirrored fails here); the
    fingerprint covers the data and the definition, so a task changed upstream is not
    skipped as done. A task that runs the model's programs fails here without consent."""
    task = job_task(cfg)
    index = job_task_index(cfg)
    require_consent(cfg, index)
    files = require_mirrored(cfg.paths.data_dir, task, index.hub_datasets(task))
    data, definition = data_hash(files), index.definition_hash(task)
    identity = fingerprint({"data": data, "definition": definition})
    return HarnessInputs(index, files, data, definition, config_fingerprint(cfg, identity))


def evaluate_harness_task(
    cfg: EvaluateConfig, job_dir: Path, started: str, clock: float
) -> dict[str, Any]:
    """Run `benchmark.task` with its harness on the job's model; write details.parquet and
    results.json (last); return the results."""
    from evallaunch.serving.job_servers import inference_servers
    from evallaunch.serving.ray_cluster import announced_clusters

    bench, task = cfg.benchmark, job_task(cfg)
    harness = harness_of(cfg)
    gen_kwargs = harness_gen_kwargs(cfg, harness)  # bad settings fail before the model loads
    inputs = harness_inputs(cfg)
    code = code_execution(cfg, inputs.index)  # the sandbox, before the model loads
    backend, request = prepare_generation(cfg, job_dir, [])
    backend.prepare(request)
    log.info("Harness task %s: %s", task, ", ".join(inputs.index.tasks_of(task)))
    with inference_servers(cfg, request, 1) as (request, serving):
        if harness == "lighteval":
            from evallaunch.harness.lighteval.evaluation import run_lighteval

            run = run_lighteval(cfg, backend, request, inputs)
        else:
            run = run_lm_eval(cfg, backend, request, inputs)
    save_config(cfg, job_dir)
    job = JobResults(
        experiment=cfg.experiment_name,
        model=model_record(cfg, request),
        benchmark={
            "name": bench.name,
            "task": task,
            "harness": harness,
            "include_path": bench.include_path,
            "custom_tasks": bench.custom_tasks,
            "data_sha256": inputs.data_sha256,
            "definition_sha256": inputs.definition_sha256,
            "limit": bench.limit,
            "scorer": "harness",
            "chat_template": bool(cfg.model.chat_template),
            "strip_think": bool(bench.strip_think),
            "code_execution": code,
        },
        backend={"name": backend.name, "model_type": backend.model_type},
        engine={
            **request.engine.to_dict(),
            "servers": serving.started,
            "servers_reused": serving.reused,
            **announced_clusters(),
        },
        engine_starts=serving.started + run.engine_starts,
        endpoint=serving.endpoint,
        backend_metrics={},
        num_problems=max((m["n"] for m in run.metrics.get(task, {}).values()), default=0),
        num_samples=1,
        sampling=None,
        tasks=run.tasks,
        suite=suite_record(cfg),
        generation={"gen_kwargs": gen_kwargs},  # as the harness got them
        seed=cfg.generation.seed,
        packages=package_versions(backend.packages),
        config_fingerprint=inputs.config_fingerprint,
        started_at=started,
        finished_at=utc_now(),
        duration_s=round(time.monotonic() - clock, 3),
        metrics=run.metrics.get(task, {}),
        num_truncated=sum(bool(row["truncated"]) for row in run.rows),
    )
    write_details(job_dir / DETAILS_FILE, run.rows, DETAIL_EXTRAS)
    return write_results(job_dir, job)
