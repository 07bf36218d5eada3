"""The record of a submitted sweep (`<sweep dir>/.evallaunch/sweep.json`) and what reads it:
`evallaunch status`, `cancel` and `resubmit`."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.job.record import read_job
from evallaunch.job.results import (
    STATUS_FILE,
)
from evallaunch.runtime.files import write_json

RECORD = Path(".evallaunch") / "sweep.json"
IN_FLIGHT = {"pending", "running", "requeued", "configuring", "completing", "suspended"}
# status.json states a job leaves when it stops early (it is not finished).
STOPPED = {"failed", "interrupted", "died"}


def record_path(sweep_dir: Path) -> Path:
    return sweep_dir / RECORD


def load_record(sweep_dir: Path) -> dict[str, Any]:
    """The sweep's record, or an error saying there is none."""
    path = record_path(sweep_dir)
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise EvallaunchError(
            f"no sweep record at {path}",
            hint="give the sweep directory (hydra.sweep.dir) of a sweep submitted with "
            "cluster=slurm, e.g. outputs/<experiment>",
        ) from None
    except ValueError as err:
        raise EvallaunchError(f"{path} is corrupt ({err})") from None


def append_jobs(sweep_dir: Path, argv: list[str], cwd: str, jobs: list[dict[str, Any]]) -> None:
    """Add one submission's jobs to the record (later entries win per job dir)."""
    path = record_path(sweep_dir)
    record = load_record(sweep_dir) if path.is_file() else {"jobs": []}
    record.update(argv=argv, cwd=cwd, updated_at=datetime.now(timezone.utc).isoformat())
    record["jobs"].extend(jobs)
    write_json(path, record)


def latest_jobs(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The most recent entry of every job directory, in first-submitted order."""
    latest: dict[str, dict[str, Any]] = {}
    for job in record.get("jobs", []):
        latest[job["job_dir"]] = job
    return list(latest.values())


def slurm_states(job_ids: list[str]) -> dict[str, str]:
    """State of each Slurm job id (e.g. '12_3') from sacct, lower-cased."""
    ids = sorted({job_id.split("_")[0] for job_id in job_ids if job_id})
    if not ids or shutil.which("sacct") is None:
        return {}
    proc = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(ids)],
        capture_output=True,
        text=True,
        check=False,
    )
    states = {}
    for line in proc.stdout.splitlines():
        job_id, _, state = line.partition("|")
        for one_id in expand_array_ids(job_id.strip()):
            states[one_id] = state.split()[0].lower() if state else "unknown"
    # An array cancelled before any task started is one line under the bare array id.
    for job_id in job_ids:
        array_id = job_id.split("_")[0]
        if job_id and job_id not in states and array_id in states:
            states[job_id] = states[array_id]
    return states


def expand_array_ids(job_id: str) -> list[str]:
    """sacct folds array tasks that never started into one line: '12_[1-3,5%2]'
    stands for 12_1, 12_2, 12_3 and 12_5."""
    base, sep, tasks = job_id.partition("_[")
    if not sep:
        return [job_id]
    ids = []
    for part in tasks.rstrip("]").split("%")[0].split(","):
        first, _, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            ids += [f"{base}_{i}" for i in range(int(first), int(last or first) + 1)]
    return ids


def job_state(job: dict[str, Any], states: dict[str, str]) -> str:
    """completed / failed from the job's own files first, else the scheduler's state."""
    record = read_job(Path(job["job_dir"]))
    status = record.state
    if status == "completed":
        return "completed" if record.finished else "failed"
    scheduler = states.get(job.get("slurm_job_id") or "", "")
    if scheduler.startswith("cancelled"):
        return "cancelled"
    if scheduler in ("timeout", "preempted", "node_fail", "out_of_memory", "failed"):
        return scheduler.replace("_", "-")
    if scheduler in IN_FLIGHT:
        return scheduler
    if status in STOPPED:
        return str(status)
    if job.get("state") == "skipped":
        return "completed"
    return status or scheduler or "unknown"


def requeues(job: dict[str, Any]) -> int:
    try:
        status = json.loads((Path(job["job_dir"]) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return 0
    return int(status.get("requeues", 0))


def status_rows(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per job: label, Slurm id, state, requeues, job dir and log path."""
    jobs = latest_jobs(load_record(sweep_dir))
    states = slurm_states([job.get("slurm_job_id") or "" for job in jobs])
    return [
        {
            "label": job["label"],
            "slurm_job_id": job.get("slurm_job_id") or "-",
            "state": job_state(job, states),
            "requeues": requeues(job),
            "job_dir": job["job_dir"],
            "log": job.get("log") or "-",
        }
        for job in jobs
    ]


def format_status(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of status rows with a count per state."""
    lines = [f"{'job':<48} {'slurm id':<10} {'state':<11} {'requeues':>8}  log"]
    for row in rows:
        lines.append(
            f"{row['label']:<48} {row['slurm_job_id']:<10} {row['state']:<11} "
            f"{row['requeues']:>8}  {row['log']}"
        )
    lines.append(state_counts(rows))
    return "\n".join(lines)


def state_counts(rows: list[dict[str, Any]]) -> str:
    """`2 completed, 1 running`: how many jobs are in each state."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))


def cancel(sweep_dir: Path) -> list[str]:
    """scancel the unfinished Slurm jobs of this sweep only; return the ids cancelled.

    Jobs sacct does not know yet (it lags submission by a moment) count as unfinished."""
    rows = status_rows(sweep_dir)
    finished = {"completed", "failed", "cancelled", "timeout", "interrupted", "died"}
    ids = sorted(
        {
            row["slurm_job_id"]
            for row in rows
            if row["state"] not in finished and row["slurm_job_id"] != "-"
        }
    )
    if ids:
        subprocess.run(["scancel", *ids], check=False)
    return ids


def resubmit_command(sweep_dir: Path) -> tuple[list[str], str]:
    """The sweep's original command: rerunning it submits only the unfinished jobs
    (finished ones are skipped by fingerprint, in-flight ones by the record)."""
    record = load_record(sweep_dir)
    return list(record["argv"]), str(record["cwd"])
