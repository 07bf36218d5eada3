"""From a sweep's jobs to job arrays: dedup, grouping by shape, batching, reports."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus

from evallaunch.compat.hydra import job_return
from evallaunch.compat.submitit import render_sbatch, sbatch_renderer  # noqa: F401  (dry run)
from evallaunch.launching.specs import JobSpec, is_finished

Shape = tuple[tuple[str, Any], ...]
Arrays = dict[Shape, list[list[JobSpec]]]


def check_distinct_dirs(specs: list[JobSpec]) -> None:
    """Two jobs of one sweep must not write into the same directory."""
    seen: dict[Path, JobSpec] = {}
    for spec in specs:
        if spec.job_dir in seen:
            from evallaunch.errors import EvallaunchError

            first = seen[spec.job_dir]
            raise EvallaunchError(
                f"jobs #{first.index} ({' '.join(first.overrides)}) and #{spec.index} "
                f"({' '.join(spec.overrides)}) would both write to {spec.job_dir}",
                hint="the output path is <experiment>/<model>/<revision>/<benchmark>/<backend>: "
                "sweep experiment_name too (e.g. experiment_name=a,b) or split the sweep",
            )
        seen[spec.job_dir] = spec


def split_finished(
    specs: list[JobSpec], sweep_dir: Path, force: bool
) -> tuple[list[JobSpec], list[tuple[JobSpec, str]]]:
    """Jobs to submit, and (job, reason) for those skipped: finished or still queued."""
    from evallaunch.launching.sweep_record import (
        IN_FLIGHT,
        job_state,
        latest_jobs,
        load_record,
        record_path,
        slurm_states,
    )

    in_flight: set[str] = set()
    if not force and record_path(sweep_dir).is_file():
        previous = latest_jobs(load_record(sweep_dir))
        states = slurm_states([job.get("slurm_job_id") or "" for job in previous])
        in_flight = {job["job_dir"] for job in previous if job_state(job, states) in IN_FLIGHT}
    todo, skipped = [], []
    for spec in specs:
        if not force and is_finished(spec.job_dir, spec.fingerprint):
            skipped.append((spec, f"finished (fingerprint {spec.fingerprint})"))
        elif str(spec.job_dir) in in_flight:
            skipped.append((spec, "already queued or running"))
        else:
            todo.append(spec)
    return todo, skipped


def group(
    specs: list[JobSpec], benchmarks_per_job: Any, limit_min: float | None = None
) -> tuple[Arrays, list[str]]:
    """Batches of benchmarks of the same model, backend and GPUs in one job (one allocation,
    time limits added up, at most `limit_min` with auto; evallaunch.planning.batching); then
    one array per resource shape. Also the reasons for the batches, to print."""
    from evallaunch.planning.batching import AUTO, Member, batches

    members = [spec.member or Member(spec.batch_key, spec.label, "") for spec in specs]
    chosen = batches(members, benchmarks_per_job, limit_min)
    arrays: Arrays = defaultdict(list)
    for choice in chosen:
        batch = [specs[i] for i in choice.members]
        resources = dict(batch[0].resources)
        if "timeout_min" in resources:
            total = sum(int(s.resources["timeout_min"]) for s in batch)
            capped = benchmarks_per_job == AUTO and limit_min is not None and len(batch) > 1
            resources["timeout_min"] = min(total, int(limit_min or total)) if capped else total
        arrays[tuple(sorted(resources.items()))].append(batch)
    return dict(arrays), [choice.reason for choice in chosen if choice.reason]


def format_table(specs: list[JobSpec], skipped: list[tuple[JobSpec, str]], arrays: Arrays) -> str:
    """The job table printed at submit (and by a dry run)."""
    where: dict[int, str] = {}
    for number, batches in enumerate(arrays.values()):
        for task, batch in enumerate(batches):
            for spec in batch:
                where[spec.index] = f"array {number} task {task}"
    reasons = {spec.index: reason for spec, reason in skipped}
    lines = [f"{'#':>3}  {'job':<46} {'gpus':>4} {'nodes':>5} {'time':>6}  submit"]
    for spec in specs:
        res = spec.resources
        lines.append(
            f"{spec.index:>3}  {spec.label:<46} {res.get('gpus_per_node') or 0:>4} "
            f"{res.get('nodes', 1):>5} {res.get('timeout_min', '-'):>6}  "
            f"{where.get(spec.index) or 'skip: ' + reasons.get(spec.index, '')}"
        )
    shapes = ", ".join(
        f"array {n}: {len(b)} task(s) x {dict(s)}" for n, (s, b) in enumerate(arrays.items())
    )
    lines.append(f"{len(specs)} job(s), {len(skipped)} skipped; {shapes or 'nothing to submit'}")
    return "\n".join(lines)


def record_entries(
    specs: list[JobSpec], skipped: list[tuple[JobSpec, str]], submitted: dict[int, Any]
) -> list[dict[str, Any]]:
    """Entries of the sweep record, one per job."""
    from evallaunch.runtime.secrets import config_secrets, env_secrets, redact_text

    reasons = {spec.index: reason for spec, reason in skipped}
    entries = []
    for spec in specs:
        secrets = env_secrets() | config_secrets(spec.overrides)
        entry: dict[str, Any] = {
            "index": spec.index,
            "label": spec.label,
            "overrides": [redact_text(o, secrets) for o in spec.overrides],
            "job_dir": str(spec.job_dir),
            "fingerprint": spec.fingerprint,
            "resources": spec.resources,
        }
        if spec.index in submitted:
            job, _ = submitted[spec.index]
            entry.update(state="submitted", slurm_job_id=job.job_id, log=str(job.paths.stdout))
        else:
            entry.update(state="skipped", reason=reasons.get(spec.index, ""))
        entries.append(entry)
    return entries


def collect_returns(
    specs: list[JobSpec], skipped: list[tuple[JobSpec, str]], submitted: dict[int, Any]
) -> list[JobReturn]:
    """Wait for every submitted job; one JobReturn per spec, in sweep order."""
    returns = []
    for spec in specs:
        if spec.index not in submitted:
            returns.append(job_return(JobStatus.COMPLETED))
            continue
        job, position = submitted[spec.index]
        try:
            returns.append(job.results()[0][position])
        except Exception as err:  # the whole Slurm job failed (killed, node failure, ...)
            returns.append(job_return(JobStatus.FAILED, err))
    return returns
