"""evallaunch's results files: the versioned results.json and per-sample details."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from evallaunch.runtime.files import atomic_open, write_json

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


@dataclass
class JobResults:
    """The content of one job's results.json (schema_version 1), filled by `evallaunch-evaluate`
    (evallaunch.job.runner) and by `evallaunch score` (evallaunch.job.rescore); `grade` adds
    what the graded samples give, `to_dict` writes it."""

    experiment: str
    model: dict[str, Any]
    benchmark: dict[str, Any]
    backend: dict[str, Any]
    # The harness's own metrics (graded by evallaunch's scorer inside the harness).
    backend_metrics: dict[str, float]
    num_problems: int
    # Samples per problem (with adaptive sampling: the budget).
    num_samples: int
    sampling: dict[str, Any] | None
    generation: dict[str, Any]
    seed: int
    packages: dict[str, str]
    config_fingerprint: str
    started_at: str
    finished_at: str
    duration_s: float
    # evaluate only: the engines, and the models loaded for the whole job (one per replica).
    engine: dict[str, Any] | None = None
    engine_starts: int | None = None
    # A server the job did not start (model.endpoint): its URL, the served model and what
    # the server reports of it, how samples were asked for, requests, failures and tokens.
    endpoint: dict[str, Any] | None = None
    # score only: what the completions file held (unknown ids, missing problems).
    completions_file: dict[str, Any] | None = None
    # harness tasks only: each task (or group) the job ran, with its version, few-shot
    # count, definition hash and metrics as the harness reports them.
    tasks: dict[str, Any] | None = None
    # A job of a suite's sweep: the suite's name, members and aggregates (for `collect`).
    suite: dict[str, Any] | None = None
    # From the graded samples (`grade`).
    metrics: dict[str, Any] = field(default_factory=dict)
    num_truncated: int = 0
    num_no_answer: int = 0
    # Completions the scorer failed on (scored as wrong): a scorer bug, not the model's.
    scorer_errors: int = 0
    status: str = "completed"

    def grade(self, rows: list[dict[str, Any]]) -> None:
        """Set the metrics and counts from the details rows of the graded samples."""
        from evallaunch.job.grading import metrics_from_details

        adaptive = bool((self.sampling or {}).get("adaptive"))
        self.metrics = metrics_from_details(rows, self.num_samples, self.seed, adaptive)
        self.num_truncated = sum(bool(row["truncated"]) for row in rows)
        self.num_no_answer = sum(row["extracted_answer"] is None for row in rows)
        self.scorer_errors = sum(bool(row.get("scorer_error")) for row in rows)

    def to_dict(self) -> dict[str, Any]:
        """results.json: its keys in the schema's order; the sections a run does not have
        (engine for `score`, completions_file for `evaluate`) are left out."""
        values = {"schema_version": SCHEMA_VERSION, **self.__dict__}
        return {
            key: values[key]
            for key in RESULTS_ORDER
            if values[key] is not None or key not in OPTIONAL_KEYS
        }


# results.json's keys in the order they are written; OPTIONAL_KEYS only where a run has them.
RESULTS_ORDER = (
    "schema_version",
    "status",
    "experiment",
    "model",
    "benchmark",
    "backend",
    "engine",
    "engine_starts",
    "endpoint",
    "backend_metrics",
    "num_problems",
    "num_samples",
    "sampling",
    "completions_file",
    "tasks",
    "suite",
    "generation",
    "seed",
    "packages",
    "config_fingerprint",
    "started_at",
    "finished_at",
    "duration_s",
    "metrics",
    "num_truncated",
    "num_no_answer",
    "scorer_errors",
)
OPTIONAL_KEYS = frozenset(
    {"engine", "engine_starts", "endpoint", "completions_file", "tasks", "suite"}
)


def write_outcome(job_dir: Path, results: JobResults, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Write details.parquet, then results.json (last, atomically); return results.json's
    content."""
    write_details(job_dir / DETAILS_FILE, rows)
    results.grade(rows)
    return write_results(job_dir, results)


def write_results(job_dir: Path, results: JobResults) -> dict[str, Any]:
    """Write results.json (atomically: the one writer of it); return its content. Readers
    go through evallaunch.job.record."""
    data = results.to_dict()
    write_json(job_dir / RESULTS_FILE, data)
    return data


def write_details(
    path: Path, rows: list[dict[str, Any]], extra_columns: tuple[str, ...] = ()
) -> None:
    """Write per-sample details as parquet, atomically."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=[*DETAIL_COLUMNS, *extra_columns])
    with atomic_open(path, "wb") as handle:
        frame.to_parquet(handle, index=False)


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
