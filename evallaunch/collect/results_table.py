"""Scan job directories into one long results table; merge and deduplicate tables.

One row per KEY. Merging keeps, per key, the row with the latest ``eval_date``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evallaunch.errors import EvallaunchError
from evallaunch.job.record import read_job
from evallaunch.job.results import (
    RESULTS_FILE,
    STATUS_FILE,
)
from evallaunch.runtime.files import atomic_open

KEY = ["model", "revision", "step", "benchmark", "metric", "variant", "backend"]
# Column:dtype of the table, in order (the parquet file keeps the dtypes).
_SPEC = """model:str revision:str step:Int64 benchmark:str metric:str variant:str backend:str
value:float64 stderr:float64 ci_low:float64 ci_high:float64 num_problems:Int64
num_samples:Int64 seed:Int64 eval_date:datetime64[us,_UTC] config_fingerprint:str
tokens_trained:Int64 packages:str experiment:str name_or_path:str job_dir:str"""
COLUMNS: dict[str, str] = dict(i.replace("_UTC", " UTC").split(":") for i in _SPEC.split())
UNIT = ["model", "revision", "step", "backend"]  # one evaluated checkpoint on one harness
GROUP_PREFIX = "group:"
# The table's file in a Hub dataset (collect publishes it, sweeps read it to skip jobs).
HUB_TABLE = "table.parquet"
_PRUNE = {"history", "wandb", "__pycache__"}


@dataclass(frozen=True)
class Skipped:
    """A job directory left out of the table, with the file at fault and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def find_job_dirs(roots: Sequence[Path]) -> Iterator[Path]:
    """Yield every directory holding a results.json or status.json, in sorted order.

    Hidden directories, ``history/`` (older runs) and a job's own subfolders are not entered.
    """
    for root in roots:
        if not root.is_dir():
            raise EvallaunchError(f"output root not found: {root}", hint="give evaluate's outputs")
        stack = [root]
        while stack:
            entries = sorted(os.scandir(current := stack.pop()), key=lambda e: e.name)
            if any(e.name in (RESULTS_FILE, STATUS_FILE) and e.is_file() for e in entries):
                yield current
                continue
            stack += [Path(e.path) for e in reversed(entries) if e.is_dir() and _walk(e.name)]


def _walk(name: str) -> bool:
    return not name.startswith(".") and name not in _PRUNE


def load_job(job_dir: Path) -> dict[str, Any] | Skipped:
    """The results of a finished job directory, or why it cannot be used."""
    status_path, results_path = job_dir / STATUS_FILE, job_dir / RESULTS_FILE
    record = read_job(job_dir)
    if status_path.is_file():
        state, status = record.state, record.status
        if state is None:
            return Skipped(status_path, "invalid JSON")
        if state == "running" and not results_path.is_file():
            return Skipped(status_path, "job still running (no results.json yet)")
        if state == "died":
            return Skipped(
                status_path,
                "job died while running (its process is gone); rerun it to resume from its "
                "sample ledger",
            )
        if state == "failed":
            error = str(status.get("error") or "").strip().splitlines() or ["no error recorded"]
            return Skipped(status_path, f"job failed: {error[0][:160]}")
        if state != "completed":
            return Skipped(status_path, f"status is {state!r}, not 'completed'")
    if not results_path.is_file():
        return Skipped(results_path, "missing although status.json says completed")
    if record.results is None:
        return Skipped(results_path, str(record.problem))
    return record.results


def scan(roots: Sequence[Path]) -> tuple[list[tuple[Path, dict[str, Any]]], list[Skipped]]:
    """Load every usable job under `roots`; the others come back as `Skipped`."""
    loaded = [(job_dir, load_job(job_dir)) for job_dir in find_job_dirs(roots)]
    jobs = [(job_dir, data) for job_dir, data in loaded if isinstance(data, dict)]
    return jobs, [data for _, data in loaded if isinstance(data, Skipped)]


def variant_of(num_samples: Any, limit: Any, adaptive: dict[str, Any] | None = None) -> str:
    """``n=64``, ``n=1,limit=5`` for a run on the first problems only, ``n<=64,ci=0.1`` for
    adaptive sampling with that budget and interval width, ``n<=64,match_n=16`` with the
    neyman rule, ``n<=64`` for unequal counts scored from a completions file."""
    text = f"n={num_samples}"
    if adaptive:
        if adaptive.get("match_n") is not None:
            text = f"n<={num_samples},match_n={adaptive['match_n']}"
        elif adaptive.get("ci_width") is not None:
            text = f"n<={num_samples},ci={adaptive['ci_width']}"
        else:
            text = f"n<={num_samples}"
    return text + (f",limit={limit}" if limit not in (None, "") else "")


def long_table(jobs: Sequence[tuple[Path, dict[str, Any]]]) -> pd.DataFrame:
    """One row per job and metric, in the table's columns and dtypes."""
    records = []
    for job_dir, res in jobs:
        model, bench = res["model"], res["benchmark"]
        base = {
            "model": model["name"],
            "revision": str(model.get("revision") or "main"),
            "step": model.get("step"),
            "benchmark": bench["name"],
            "variant": variant_of(
                res["num_samples"],
                bench.get("limit"),
                (res.get("sampling") or {}).get("adaptive"),
            ),
            "backend": res["backend"]["name"],
            "num_samples": res["num_samples"],
            "seed": res.get("seed"),
            "eval_date": res["finished_at"],
            "config_fingerprint": res["config_fingerprint"],
            "tokens_trained": model.get("tokens_trained"),
            "packages": ";".join(f"{k}={v}" for k, v in sorted(res["packages"].items())),
            "experiment": res["experiment"],
            "name_or_path": str(model.get("name_or_path") or ""),
            "job_dir": str(job_dir),
        }
        # A harness job: each of its tasks (a group's members too), as the harness reports it.
        by_task = {t: info["metrics"] for t, info in (res.get("tasks") or {}).items()}
        for benchmark, metrics in (by_task or {bench["name"]: res["metrics"]}).items():
            for name, m in metrics.items():
                stats = {part: m.get(part) for part in ("value", "stderr", "ci_low", "ci_high")}
                n = m.get("n", res["num_problems"])
                records.append(
                    {**base, **stats, "benchmark": benchmark, "metric": name, "num_problems": n}
                )
    return normalize(pd.DataFrame.from_records(records, columns=list(COLUMNS)))


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with exactly the table's columns, in order, with the table's dtypes."""
    out = {}
    for column, dtype in COLUMNS.items():
        values = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index)
        if str(values.dtype) == dtype:
            out[column] = values.fillna("") if dtype == "str" else values
            continue
        if dtype == "str":
            values = values.astype(object).where(values.notna(), "").astype("str")
        elif dtype.startswith("datetime"):
            values = pd.to_datetime(values, utc=True, format="ISO8601").astype(dtype)
        else:
            values = pd.to_numeric(values.astype(object), errors="coerce").astype(dtype)
        out[column] = values
    return pd.DataFrame(out).reset_index(drop=True)


def merge_tables(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate tables; per key keep the row with the latest eval_date; drop group rows.

    Ties (the same run collected twice) keep the later frame's row. Sorted by the key.
    """
    frames = [normalize(f) for f in frames if len(f)]
    if not frames:
        return normalize(pd.DataFrame(columns=list(COLUMNS)))
    merged = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    merged = merged[~merged["benchmark"].str.startswith(GROUP_PREFIX)]
    merged = merged.sort_values("eval_date", kind="stable", na_position="first")
    merged = merged.drop_duplicates(KEY, keep="last")
    return merged.sort_values(KEY, kind="stable", ignore_index=True)


def read_table(path: Path) -> pd.DataFrame:
    """Read a table written by `write_table` (parquet or CSV)."""
    try:
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise EvallaunchError(f"cannot read the results table {path}: {err}") from None
    missing = sorted(set(KEY) - set(frame.columns))
    if missing:
        raise EvallaunchError(f"{path} is not an evallaunch results table (missing {missing})")
    return normalize(frame)


def write_table(frame: pd.DataFrame, path: Path, csv: bool = False) -> list[Path]:
    """Write the table as parquet (and CSV beside it), atomically; return the files."""
    with atomic_open(path, "wb") as handle:
        frame.to_parquet(handle, index=False)
    if csv:
        with atomic_open(path.with_suffix(".csv")) as handle:
            frame.to_csv(handle, index=False)
    return [path, path.with_suffix(".csv")] if csv else [path]
