"""Reading a job directory: its status.json and results.json, and the one rule for a
finished job, which every reader uses (skipping finished work, status, collect, compare,
resume).

A job is finished when its status.json says it completed and its results.json is valid (its
schema version this evallaunch's or older, status completed) and, where a fingerprint is
asked for, carries that config fingerprint. A results.json written by a newer evallaunch is
refused with an error saying so, never read as if it were ours.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.job.results import RESULTS_FILE, SCHEMA_VERSION, STATUS_FILE, validate_results


@dataclass(frozen=True)
class JobRecord:
    """What a job directory says of its job.

    Attributes:
        state: status.json's state (`died` for a running job whose process is gone, None
            without a readable status.json).
        status: status.json's content ({} without one).
        results: results.json's content when it is valid, else None.
        problem: Why results.json is not usable (None when it is, or when there is none).
    """

    job_dir: Path
    state: str | None
    status: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] | None = None
    problem: str | None = None

    @property
    def finished(self) -> bool:
        """The job ended, completed, and left valid results."""
        return self.state == "completed" and self.results is not None

    def finished_with(self, fingerprint: str | None) -> dict[str, Any] | None:
        """The results of a finished job with this config fingerprint (any, when None)."""
        if not self.finished or self.results is None:
            return None
        if fingerprint is not None and self.results.get("config_fingerprint") != fingerprint:
            return None
        return self.results


def read_results(job_dir: Path) -> dict[str, Any]:
    """results.json of `job_dir`, refused with a clear error when it is missing, not JSON,
    or written by a newer evallaunch (its schema_version above this one's)."""
    path = job_dir / RESULTS_FILE
    data, problem = _load(path)
    if data is None:
        raise EvallaunchError(
            f"{path}: {problem}",
            hint="upgrade evallaunch (pip install -U evallaunch) to read it"
            if "newer" in str(problem)
            else None,
        )
    return data


def _load(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as err:
        return None, f"invalid JSON ({err})"
    if not isinstance(data, dict):
        return None, "invalid JSON (not an object)"
    version = data.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return None, (
            f"schema_version {version}, newer than this evallaunch reads ({SCHEMA_VERSION})"
        )
    return data, None


def read_job(job_dir: Path) -> JobRecord:
    """The job's record: status.json's state and, when valid, results.json."""
    status: dict[str, Any] = {}
    state = None
    try:
        loaded = json.loads((job_dir / STATUS_FILE).read_text())
        if isinstance(loaded, dict):
            status, state = loaded, recorded_state(loaded)
    except (OSError, ValueError):
        pass
    if not (job_dir / RESULTS_FILE).is_file():
        return JobRecord(job_dir, state, status)
    data, problem = _load(job_dir / RESULTS_FILE)
    if data is None:
        return JobRecord(job_dir, state, status, problem=problem)
    problems = validate_results(data) or [
        f"missing {part}.name"
        for part in ("model", "benchmark", "backend")
        if not data[part].get("name")
    ]
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        problem = "schema: " + "; ".join(problems[:3]) + more
        return JobRecord(job_dir, state, status, problem=problem)
    if data["status"] != "completed":
        problem = f"status is {data['status']!r}, not 'completed'"
        return JobRecord(job_dir, state, status, problem=problem)
    return JobRecord(job_dir, state, status, results=data)


def finished_results(job_dir: Path, fingerprint: str | None = None) -> dict[str, Any] | None:
    """The results of the finished job in `job_dir` (with `fingerprint`, when given)."""
    return read_job(job_dir).finished_with(fingerprint)


def recorded_state(status: dict[str, Any]) -> str:
    """The state status.json records, with `running` turned into `died` when the job's
    process is gone from this host (killed with SIGKILL, or the machine lost power)."""
    state = str(status.get("status"))
    pid = status.get("pid")
    if state != "running" or not isinstance(pid, int) or status.get("host") != socket.gethostname():
        return state
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "died"
    except PermissionError:  # alive, under another user
        return state
    return state
