"""evallaunch's results files: the versioned results.json, per-sample details, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
STATUS_FILE = "status.json"
DETAILS_FILE = "details.parquet"
STATUSES = ("running", "completed", "failed", "interrupted")

DETAIL_COLUMNS = (
    "problem_id",
    "sample_index",
    "prompt",
    "completion",
    "extracted_answer",
    "gold",
    "correct",
    "finish_reason",
    "truncated",
    "num_tokens",
)

# Top-level keys of results.json and their types; `validate_results` checks them.
RESULTS_KEYS: dict[str, type | tuple[type, ...]] = {
    "schema_version": int,
    "status": str,
    "experiment": str,
    "model": dict,
    "benchmark": dict,
    "backend": dict,
    "metrics": dict,
    "backend_metrics": dict,
    "num_problems": int,
    "num_samples": int,
    "num_truncated": int,
    "generation": dict,
    "seed": int,
    "packages": dict,
    "config_fingerprint": str,
    "started_at": str,
    "finished_at": str,
    "duration_s": (int, float),
}


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path`; on success fsync it and rename it over `path`.

    A crash or exception leaves `path` untouched (old content or absent), never half-written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    with atomic_open(path) as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")


def write_details(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write per-sample details as parquet, atomically."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(DETAIL_COLUMNS))
    with atomic_open(path, "wb") as handle:
        frame.to_parquet(handle, index=False)


def fingerprint(parts: dict[str, Any]) -> str:
    """A stable hash of everything that changes the numbers (canonical JSON, sha256)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones are skipped)."""
    aliases = {"lm_eval": "lm-eval"}
    out = {}
    for name in ("evallaunch", *names):
        try:
            out[name] = version(aliases.get(name, name))
        except PackageNotFoundError:
            continue
    return out


def validate_results(data: Any) -> list[str]:
    """Return the problems that make `data` an invalid results.json (empty when valid)."""
    if not isinstance(data, dict):
        return ["not a JSON object"]
    problems = [
        f"missing key '{key}'" if key not in data else f"'{key}' is not {_names(kind)}"
        for key, kind in RESULTS_KEYS.items()
        if key not in data or not isinstance(data[key], kind)
    ]
    if problems:
        return problems
    if data["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version {data['schema_version']} (expected {SCHEMA_VERSION})")
    if data["status"] not in STATUSES:
        problems.append(f"status {data['status']!r} (expected one of {STATUSES})")
    for name, metric in data["metrics"].items():
        value = metric.get("value") if isinstance(metric, dict) else None
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            problems.append(f"metric '{name}' has no value in [0, 1]")
    return problems


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def recorded_state(status: dict[str, Any]) -> str:
    """The state status.json records, with `running` turned into `died` when the job's
    process is gone from this host (killed with SIGKILL, or the machine lost power)."""
    import socket

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
