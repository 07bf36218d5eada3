"""Run one evaluation job: load data and model, call the backend, score, write the results."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from evallaunch import __version__
from evallaunch.backends.base import GenerationRequest, build_backend
from evallaunch.benchmarks.mirror import load_problems, write_problems
from evallaunch.job.engines import engine_settings, resolve_units_in_flight
from evallaunch.job.grading import score_completions, write_outcome
from evallaunch.job.ledger import LEDGER_DIR, SampleLedger
from evallaunch.job.results import (
    DETAILS_FILE,
    RESULTS_FILE,
    STATUS_FILE,
    fingerprint,
    package_versions,
    write_json,
)
from evallaunch.job.sampling import draw_samples
from evallaunch.models.resolve import pick_device, pick_dtype, resolve_model
from evallaunch.offline import go_offline
from evallaunch.preflight import effective_max_new_tokens, validate_job
from evallaunch.scoring.registry import get_scorer
from evallaunch.secrets import (
    config_secrets,
    env_secrets,
    install_log_filter,
    redact_config,
    scrub_files,
)
from evallaunch.serving.job_servers import inference_servers

log = logging.getLogger(__name__)

# Backend model_args that only spread the work over devices (the samples do not change).
PARALLELISM_ARGS = frozenset(
    {
        "tensor_parallel_size",
        "data_parallel_size",
        "pipeline_parallel_size",
        "gpu_memory_utilization",
        "max_num_seqs",
        "batch_size",
        "max_batch_size",
        "num_concurrent",
        "concurrent_requests",
        "parallelize",
        "device_map",
    }
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def config_fingerprint(cfg: DictConfig, data_sha256: str) -> str:
    """Hash of every setting that can change the numbers (not paths, not verbosity)."""

    def part(node: Any) -> Any:
        return OmegaConf.to_container(node, resolve=True)

    backend = part(cfg.backend)
    # How the work is spread over GPUs does not change which samples are drawn.
    model_args = {k: v for k, v in backend["model_args"].items() if k not in PARALLELISM_ARGS}
    # Neither resuming nor overlapping units changes which samples are drawn.
    sampling = {
        k: v for k, v in part(cfg.sampling).items() if k not in ("resume", "units_in_flight")
    }
    return fingerprint(
        {
            "model": {k: v for k, v in part(cfg.model).items() if k != "name"},
            "benchmark": part(cfg.benchmark),
            "generation": part(cfg.generation),
            "backend": {"name": backend["name"], "model_type": backend["model_type"]},
            "model_args": model_args,
            "sampling": sampling,
            "data_sha256": data_sha256,
        }
    )


def run_job(cfg: DictConfig, job_dir: Path) -> dict[str, Any]:
    """Evaluate one model on one benchmark with one backend; return the results dict.

    Writes `status.json` first (running), then details, the resolved config and, last and
    atomically, `results.json`; on any failure `status.json` says failed and no results.json
    is written.
    """
    validate_job(cfg)
    secrets = job_secrets(cfg)
    install_log_filter(secrets)
    scrub_files(job_dir / ".hydra", secrets)  # Hydra's own record of the config
    go_offline(cfg.get("offline", True))
    archive_previous(job_dir)
    started, clock = _now(), time.monotonic()
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
    write_json(job_dir / STATUS_FILE, {**status, "status": "completed", "finished_at": _now()})
    return results


def job_secrets(cfg: DictConfig) -> set[str]:
    """Secret values this job must never write: from the environment and the config."""
    return env_secrets() | config_secrets(OmegaConf.to_container(cfg, resolve=True))


def archive_previous(job_dir: Path) -> Path | None:
    """Move an earlier run's files into `history/<finished_at>/` so a rerun never loses them."""
    previous = job_dir / RESULTS_FILE
    if not previous.is_file():
        return None
    try:
        stamp = str(json.loads(previous.read_text()).get("finished_at", ""))
    except (OSError, ValueError):
        stamp = ""
    archive = job_dir / "history" / (stamp.replace(":", "-") or f"unknown-{time.time_ns()}")
    archive.mkdir(parents=True, exist_ok=True)
    for name in (RESULTS_FILE, DETAILS_FILE, "config.yaml", "backend", LEDGER_DIR):
        if (job_dir / name).exists():
            os.replace(job_dir / name, archive / name)
    log.info("Moved the previous results of this job to %s", archive)
    return archive


def _evaluate(cfg: DictConfig, job_dir: Path, started: str, clock: float) -> dict[str, Any]:
    bench, gen = cfg.benchmark, cfg.generation
    log.info("evallaunch %s running from %s", __version__, Path(__file__).resolve().parent)
    problems, data_sha256 = load_problems(bench, cfg.paths.data_dir)
    get_scorer(bench.scorer)  # fail on a bad scorer name before loading the model
    log.info("Benchmark %s: %d problems x %d samples", bench.name, len(problems), bench.n)
    model_path = resolve_model(cfg.model, cfg.paths.cache_dir)
    device = pick_device(cfg.backend.device)
    dtype = pick_dtype(cfg.model.dtype, device)
    log.info(
        "Instantiating backend <%s> for %s (%s, %s)",
        cfg.backend._target_,
        model_path,
        device,
        dtype,
    )
    backend = build_backend(cfg.backend)
    max_new_tokens = effective_max_new_tokens(gen.max_new_tokens, cfg.model.max_model_length)
    if max_new_tokens != gen.max_new_tokens:
        log.warning(
            "generation.max_new_tokens=%d does not fit model.max_model_length=%d with the "
            "prompt: using %d",
            gen.max_new_tokens,
            cfg.model.max_model_length,
            max_new_tokens,
        )
    engine = engine_settings(cfg, device, dtype, cfg.model.max_model_length)
    in_flight = resolve_units_in_flight(
        cfg.sampling.units_in_flight, cfg.backend.model_type, device, engine
    )
    request = GenerationRequest(
        benchmark=bench.name,
        problems=problems,
        problems_file=write_problems(problems, job_dir / "data" / "test.jsonl"),
        model_path=model_path,
        revision=None if Path(model_path).is_dir() else cfg.model.revision,
        dtype=dtype,
        device=device,
        chat_template=cfg.model.chat_template,
        system_prompt=cfg.model.system_prompt,
        max_model_length=cfg.model.max_model_length,
        trust_remote_code=cfg.model.trust_remote_code,
        n=bench.n,
        temperature=gen.temperature,
        top_p=gen.top_p,
        max_new_tokens=max_new_tokens,
        seed=gen.seed,
        work_dir=job_dir,
        scorer=bench.scorer,
        engine=engine,
    )
    config_hash = config_fingerprint(cfg, data_sha256)
    ledger = SampleLedger(job_dir, config_hash)
    if cfg.sampling.resume:
        ledger.load()
        if ledger.samples:
            log.info("Resuming: %d samples recorded in %s", len(ledger.samples), ledger.path)
    # Servers (model_type=server, or vLLM replicas) live for the whole job.
    with inference_servers(cfg, request, in_flight) as (request, serving):
        output, sampling = draw_samples(
            backend, request, ledger, cfg.sampling, in_flight, serving.answered
        )
    engine_starts = serving.started + backend.engine_starts
    log.info(
        "Samples: %d generated, %d reused from the ledger",
        sampling.samples_generated,
        sampling.samples_reused,
    )
    rows = score_completions(output.completions, problems, bench.scorer)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    OmegaConf.save(OmegaConf.create(redact_config(resolved)), job_dir / "config.yaml")
    fields = {
        "experiment": cfg.experiment_name,
        "model": {
            "name": cfg.model.name,
            "name_or_path": cfg.model.name_or_path,
            "revision": cfg.model.revision,
            "version": cfg.model.version,
            "step": cfg.model.step,
            "tokens_trained": cfg.model.tokens_trained,
            "resolved_path": model_path,
            "dtype": dtype,
            "device": device,
        },
        "benchmark": {
            "name": bench.name,
            "data_file": bench.dataset.file,
            "data_sha256": data_sha256,
            "limit": bench.limit,
            "scorer": bench.scorer,
            # LiveCodeBench from the offline mirror: only the statement's sample tests.
            "tests": "public-only" if bench.format == "code" else None,
        },
        "backend": {"name": backend.name, "model_type": backend.model_type},
        "engine": {
            **engine.to_dict(),
            "servers": serving.started,
            "units_in_flight": sampling.units_in_flight,
        },
        # Models loaded for the whole job: one per replica, whatever the number of units.
        "engine_starts": engine_starts,
        "backend_metrics": output.metrics,
        "num_problems": len(problems),
        "num_samples": bench.n,
        "sampling": asdict(sampling),
        "generation": {
            **OmegaConf.to_container(gen, resolve=True),  # type: ignore[dict-item]
            "max_new_tokens": max_new_tokens,
        },
        "seed": gen.seed,
        "packages": package_versions(backend.packages),
        "config_fingerprint": config_hash,
        "started_at": started,
        "finished_at": _now(),
        "duration_s": round(time.monotonic() - clock, 3),
    }
    return write_outcome(job_dir, rows, bench.n, gen.seed, fields)
