"""`evallaunch score BENCHMARK COMPLETIONS`: grade saved completions without running a model.

COMPLETIONS is an evallaunch details.parquet, or JSON lines `{"id": ..., "completion": ...}`
from any tool (several lines per id for n samples, in sample order; an optional
`finish_reason` of "length" marks a cut-off completion). The output directory gets the
same results.json and details.parquet as `evallaunch-evaluate` writes.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evallaunch.backends.base import Completion
from evallaunch.data import load_problems, sha256_of
from evallaunch.errors import EvallaunchError
from evallaunch.grading import score_completions, write_outcome
from evallaunch.results import package_versions


def read_completions(path: Path) -> list[Completion]:
    """Completions from a details parquet or a JSONL file of {"id", "completion"}."""
    if not path.is_file():
        raise EvallaunchError(f"completions file not found: {path}")
    if path.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        missing = {"problem_id", "sample_index", "completion"} - set(frame.columns)
        if missing:
            raise EvallaunchError(
                f"{path}: not an evallaunch details file (missing {sorted(missing)})"
            )
        return [
            Completion(
                problem_id=str(row.problem_id),
                sample_index=int(row.sample_index),
                prompt=str(getattr(row, "prompt", "")),
                completion=str(row.completion),
                finish_reason=str(getattr(row, "finish_reason", "stop")),
                num_tokens=None,
            )
            for row in frame.itertuples()
        ]
    counts: dict[str, int] = defaultdict(int)
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            problem_id, text = str(item["id"]), str(item["completion"])
        except (ValueError, KeyError, TypeError) as err:
            raise EvallaunchError(
                f"{path}:{number}: expected a JSON object with 'id' and 'completion' ({err})"
            ) from None
        out.append(
            Completion(
                problem_id=problem_id,
                sample_index=counts[problem_id],
                prompt="",
                completion=text,
                finish_reason=str(item.get("finish_reason", "stop")),
            )
        )
        counts[problem_id] += 1
    return out


def rescore(benchmark: Any, data_dir: str, completions_path: Path, out_dir: Path) -> dict[str, Any]:
    """Grade `completions_path` against `benchmark` and write results into `out_dir`."""
    clock, started = time.monotonic(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    completions = read_completions(completions_path)
    problems, data_sha256 = load_problems(benchmark, data_dir)
    known = {problem.id for problem in problems}
    unknown = sorted({c.problem_id for c in completions} - known)
    if unknown:
        raise EvallaunchError(
            f"{completions_path}: {len(unknown)} id(s) are not problems of '{benchmark.name}', "
            f"e.g. {unknown[:3]}"
        )
    per_problem: dict[str, int] = defaultdict(int)
    for completion in completions:
        per_problem[completion.problem_id] += 1
    if len(set(per_problem.values())) != 1:
        raise EvallaunchError(
            f"{completions_path}: every problem needs the same number of samples; "
            f"found {sorted(set(per_problem.values()))}"
        )
    n = next(iter(per_problem.values()))
    scored = [problem for problem in problems if problem.id in per_problem]
    rows = score_completions(completions, scored, benchmark.scorer)
    fields = {
        "experiment": "score",
        "model": {
            "name": completions_path.stem,
            "name_or_path": str(completions_path),
            "revision": "-",
        },
        "benchmark": {
            "name": benchmark.name,
            "data_file": benchmark.dataset.file,
            "data_sha256": data_sha256,
            "limit": None,
            "scorer": benchmark.scorer,
        },
        "backend": {"name": "score", "model_type": "completions-file"},
        "backend_metrics": {},
        "num_problems": len(scored),
        "num_samples": n,
        "generation": {},
        "seed": 0,
        "packages": package_versions(()),
        "config_fingerprint": sha256_of(completions_path)[:16],
        "started_at": started,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 3),
    }
    return write_outcome(out_dir, rows, n, 0, fields)
