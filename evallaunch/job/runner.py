"""Run one evaluation job: load data and model, draw and grade the samples, write the results."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evallaunch import __version__
from evallaunch.backends.base import Backend, BackendOutput, GenerationRequest
from evallaunch.backends.details import detail_rows
from evallaunch.benchmarks.mirror import load_problems
from evallaunch.benchmarks.problem import Problem
from evallaunch.config.frozen import plain
from evallaunch.config.schema import EvaluateConfig
from evallaunch.config.suites import suite_record
from evallaunch.engines.settings import resolve_units_in_flight
from evallaunch.errors import EvallaunchError
from evallaunch.job.checks import validate_job
from evallaunch.job.fingerprint import config_fingerprint
from evallaunch.job.generation_setup import model_record, prepare_generation, save_config
from evallaunch.job.grading import SampleGrader, graded_samples
from evallaunch.job.ledger import LEDGER_DIR, SampleLedger
from evallaunch.job.record import read_results
from evallaunch.job.results import (
    DETAILS_FILE,
    RESULTS_FILE,
    STATUS_FILE,
    JobResults,
    package_versions,
    write_outcome,
)
from evallaunch.job.sampling import PROGRESS_FILE, SamplingReport, draw_samples
from evallaunch.job.summary import run_plan_lines
from evallaunch.planning.local_gpus import estimated_hours
from evallaunch.runtime.files import apply_umask, utc_now, write_json
from evallaunch.runtime.offline import go_offline
from evallaunch.runtime.secrets import (
    config_secrets,
    env_secrets,
    install_log_filter,
    scrub_files,
)
from evallaunch.serving.job_servers import inference_servers
from evallaunch.serving.ray_cluster import announced_clusters

log = logging.getLogger(__name__)


def run_job(cfg: EvaluateConfig, job_dir: Path) -> dict[str, Any]:
    """Evaluate one model on one benchmark with one backend; return the results dict.

    Writes `status.json` first (running), then the resolved config, the details and, last
    and atomically, `results.json`; on any failure `status.json` says failed and no results.json
    is written.
    """
    validate_job(cfg)
    apply_umask(cfg.paths.umask)  # a Slurm job's files too
    secrets = job_secrets(cfg)
    install_log_filter(secrets)
    scrub_files(job_dir / ".hydra", secrets)  # Hydra's own record of the config
    go_offline(cfg.offline)
    archive_previous(job_dir)
    started, clock = utc_now(), time.monotonic()
    status = {
        "status": "running",
        "started_at": started,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        # Set by Slurm when a job was requeued (time-out or preemption).
        "requeues": int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0),
    }
    write_json(job_dir / STATUS_FILE, status)
    try:
        results = _evaluate(cfg, job_dir, started, clock)
    except BaseException as err:
        # Killed by a signal (preemption, time limit, Ctrl-C): not a failure of the job.
        state = "interrupted" if isinstance(err, (SystemExit, KeyboardInterrupt)) else "failed"
        try:
            write_json(job_dir / STATUS_FILE, {**status, "status": state, "error": str(err)})
        except OSError:  # e.g. the disk is full: the original error is what matters
            log.error("could not record the job's status in %s", job_dir)
        raise
    finally:
        scrub_files(job_dir, secrets)
    write_json(job_dir / STATUS_FILE, {**status, "status": "completed", "finished_at": utc_now()})
    return results


def job_secrets(cfg: EvaluateConfig) -> set[str]:
    """Secret values this job must never write: from the environment, the config and the
    endpoint's API key."""
    from evallaunch.serving.endpoint import api_key, endpoint_of

    endpoint = endpoint_of(cfg)
    key = api_key(endpoint) if endpoint is not None else None
    found = env_secrets() | config_secrets(plain(cfg))
    return found | ({key} if key else set())


def archive_previous(job_dir: Path) -> Path | None:
    """Move an earlier run's files into `history/<finished_at>/` so a rerun never loses them."""
    previous = job_dir / RESULTS_FILE
    if not previous.is_file():
        return None
    try:
        stamp = str(read_results(job_dir).get("finished_at", ""))
    except EvallaunchError:
        stamp = ""
    archive = job_dir / "history" / (stamp.replace(":", "-") or f"unknown-{time.time_ns()}")
    archive.mkdir(parents=True, exist_ok=True)
    for name in (RESULTS_FILE, DETAILS_FILE, PROGRESS_FILE, "config.yaml", "backend", LEDGER_DIR):
        if (job_dir / name).exists():
            os.replace(job_dir / name, archive / name)
    log.info("Moved the previous results of this job to %s", archive)
    return archive


def _evaluate(cfg: EvaluateConfig, job_dir: Path, started: str, clock: float) -> dict[str, Any]:
    log.info("evallaunch %s running from %s", __version__, Path(__file__).resolve().parent)
    if cfg.benchmark.format == "harness":
        from evallaunch.job.harness_task import evaluate_harness_task

        return evaluate_harness_task(cfg, job_dir, started, clock)
    problems, data_sha256 = _load_benchmark(cfg)
    grader = SampleGrader(cfg.benchmark.scorer, problems)  # a bad scorer fails before the model
    backend, request = prepare_generation(cfg, job_dir, problems)
    for level, line in run_plan_lines(cfg, request, estimated_hours(cfg, request.device)):
        getattr(log, level)(line)
    config_hash = config_fingerprint(cfg, data_sha256)
    ledger = _open_ledger(cfg, job_dir, config_hash, grader)
    drawn = _draw_samples(cfg, backend, request, ledger, job_dir)
    # Every sample was graded once, when its unit was recorded in the ledger.
    rows = detail_rows(graded_samples(drawn.output.completions, problems, ledger.grades))
    save_config(cfg, job_dir)
    results = _job_results(cfg, request, drawn, data_sha256, config_hash, started, clock)
    return write_outcome(job_dir, results, rows)


@dataclass
class DrawnSamples:
    """What drawing a job's samples gave: the samples with the backend's metrics, how they
    were drawn, the backend, and the servers the job started."""

    output: BackendOutput
    report: SamplingReport
    backend: Backend
    servers: int
    endpoint: dict[str, Any] | None = None
    servers_reused: int = 0


def _load_benchmark(cfg: EvaluateConfig) -> tuple[list[Problem], str]:
    """The benchmark's problems (checked against the mirror's sha256) and the data hash."""
    bench = cfg.benchmark
    problems, data_sha256 = load_problems(bench, cfg.paths.data_dir)
    log.info("Benchmark %s: %d problems x %d samples", bench.name, len(problems), bench.n)
    return problems, data_sha256


def _open_ledger(
    cfg: EvaluateConfig, job_dir: Path, config_hash: str, grader: SampleGrader
) -> SampleLedger:
    """The job's sample ledger, with the samples an interrupted run of this config recorded
    (sampling.resume)."""
    ledger = SampleLedger(job_dir, config_hash, grader)
    if cfg.sampling.resume:
        ledger.load()
        if ledger.samples:
            log.info("Resuming: %d samples recorded in %s", len(ledger.samples), ledger.path)
    return ledger


def _draw_samples(
    cfg: EvaluateConfig,
    backend: Backend,
    request: GenerationRequest,
    ledger: SampleLedger,
    job_dir: Path,
) -> DrawnSamples:
    """Draw the samples the ledger lacks, unit by unit; servers (model_type=server, or vLLM
    replicas) live for the whole job."""
    in_flight = resolve_units_in_flight(
        cfg.sampling.units_in_flight, cfg.backend.model_type, request.device, request.engine
    )
    with inference_servers(cfg, request, in_flight) as (request, serving):
        if serving.endpoint is not None:
            ledger.check_source(serving.endpoint["reported"])
        output, report = draw_samples(
            backend,
            request,
            ledger,
            cfg.sampling,
            in_flight,
            serving.answered,
            progress_file=job_dir / PROGRESS_FILE,
        )
    log.info(
        "Samples: %d generated, %d reused from the ledger",
        report.samples_generated,
        report.samples_reused,
    )
    return DrawnSamples(output, report, backend, serving.started, serving.endpoint, serving.reused)


def _job_results(
    cfg: EvaluateConfig,
    request: GenerationRequest,
    drawn: DrawnSamples,
    data_sha256: str,
    config_hash: str,
    started: str,
    clock: float,
) -> JobResults:
    """results.json's fields of an evaluation (the metrics come from the graded samples)."""
    bench, gen, backend = cfg.benchmark, cfg.generation, drawn.backend
    return JobResults(
        experiment=cfg.experiment_name,
        model=model_record(cfg, request),
        benchmark={
            "name": bench.name,
            "data_file": bench.dataset.file,
            "data_sha256": data_sha256,
            "limit": bench.limit,
            "scorer": bench.scorer,
            # LiveCodeBench from the offline mirror: only the statement's sample tests.
            "tests": "public-only" if bench.format == "code" else None,
        },
        backend={"name": backend.name, "model_type": backend.model_type},
        engine={
            **request.engine.to_dict(),
            "servers": drawn.servers,
            # Started by an earlier job of this batch (launch.benchmarks_per_job): no load.
            "servers_reused": drawn.servers_reused,
            "units_in_flight": drawn.report.units_in_flight,
            **announced_clusters(),
        },
        # Models loaded for the whole job: one per replica, whatever the number of units.
        engine_starts=drawn.servers + backend.engine_starts,
        endpoint=drawn.endpoint,
        backend_metrics=drawn.output.metrics,
        num_problems=len(request.problems),
        num_samples=bench.n,
        sampling=asdict(drawn.report),
        suite=suite_record(cfg),
        generation={
            **plain(gen),
            "max_new_tokens": request.max_new_tokens,
        },
        seed=gen.seed,
        packages=package_versions(backend.packages),
        config_fingerprint=config_hash,
        started_at=started,
        finished_at=utc_now(),
        duration_s=round(time.monotonic() - clock, 3),
    )
