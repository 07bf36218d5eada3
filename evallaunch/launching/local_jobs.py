"""Jobs run on this machine, without Slurm: their state, progress and log, read from their
directories (status.json and progress.json, as the job writes them), and stopping one."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.job.record import recorded_state
from evallaunch.job.results import RESULTS_FILE, STATUS_FILE
from evallaunch.job.sampling import PROGRESS_FILE, describe_progress, read_progress
from evallaunch.launching.sweep_record import state_counts

LOG_FILE = "evaluate.log"


def local_job_dirs(root: Path) -> list[Path]:
    """The job directories under `root` (those holding a status.json; earlier runs kept in
    history/ are not jobs)."""
    if (root / STATUS_FILE).is_file():
        return [root]
    found = {
        p.parent for p in root.rglob(STATUS_FILE) if "history" not in p.parts[len(root.parts) :]
    }
    if not found:
        raise EvallaunchError(
            f"no job under {root}: neither a sweep record (a sweep submitted to Slurm) nor "
            f"a {STATUS_FILE} (a job run here)",
            hint="give a job's directory or a directory above it, e.g. outputs/<experiment>",
        )
    return sorted(found)


def local_rows(root: Path) -> list[dict[str, Any]]:
    """One row per job under `root`: its state, progress, pid and log."""
    rows = []
    for directory in local_job_dirs(root):
        try:
            status = json.loads((directory / STATUS_FILE).read_text())
        except (OSError, ValueError):
            status = {"status": "unreadable"}
        state = recorded_state(status)
        if state == "running":
            progress = describe_progress(read_progress(directory / PROGRESS_FILE))
        elif state == "completed" and (directory / RESULTS_FILE).is_file():
            progress = "results.json"
        else:
            progress = str(status.get("error") or "-")[:60]
        log = directory / LOG_FILE
        rows.append(
            {
                "label": str(directory.relative_to(root)) if directory != root else directory.name,
                "state": state,
                "progress": progress,
                "pid": status.get("pid") if state == "running" else None,
                "host": status.get("host"),
                "log": str(log) if log.is_file() else "-",
            }
        )
    return rows


def format_local(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of local jobs with a count per state."""
    width = max([len(row["label"]) for row in rows] + [3])
    lines = [f"{'job':<{width}}  {'state':<11} {'progress':<48} log"]
    for row in rows:
        lines.append(
            f"{row['label']:<{width}}  {row['state']:<11} {row['progress']:<48} {row['log']}"
        )
    lines.append(state_counts(rows))
    return "\n".join(lines)


def cancel_local(root: Path) -> list[str]:
    """SIGTERM every job under `root` that runs on this host (each stops cleanly: status
    interrupted, its recorded samples kept); return their labels."""
    stopped = []
    for row in local_rows(root):
        if row["pid"] is None:
            continue
        if row["host"] != socket.gethostname():
            raise EvallaunchError(
                f"{row['label']} runs on {row['host']}, not here: stop it there",
                hint=f"ssh {row['host']} kill -TERM {row['pid']}",
            )
        try:
            os.kill(int(row["pid"]), signal.SIGTERM)
        except ProcessLookupError:
            continue  # it ended meanwhile
        stopped.append(f"{row['label']} (pid {row['pid']})")
    return stopped
