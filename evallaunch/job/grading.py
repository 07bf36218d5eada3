"""From completions to graded details rows, metrics and the results files of a job."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from evallaunch.backends.base import Completion
from evallaunch.benchmarks.problem import Problem
from evallaunch.job.results import (
    DETAILS_FILE,
    RESULTS_FILE,
    SCHEMA_VERSION,
    write_details,
    write_json,
)
from evallaunch.scoring.metrics import summarize
from evallaunch.scoring.registry import score_batch

log = logging.getLogger(__name__)


def score_completions(
    completions: list[Completion], problems: list[Problem], scorer: str
) -> list[dict[str, Any]]:
    """One details row per completion, scored by evallaunch's scorer (`scorer_error`: the
    scorer itself failed on it, logged once with the first traceback)."""
    gold = {problem.id: problem.answer for problem in problems}
    order = {problem.id: index for index, problem in enumerate(problems)}
    items = sorted(completions, key=lambda c: (order[c.problem_id], c.sample_index))
    scores = score_batch(scorer, [c.completion for c in items], [gold[c.problem_id] for c in items])
    errors = [score.error for score in scores if score.error]
    if errors:
        log.warning(
            "the %s scorer failed on %d of %d completion(s), scored as wrong; the first "
            "failure:\n%s",
            scorer,
            len(errors),
            len(scores),
            errors[0].rstrip(),
        )
    rows = []
    for item, score in zip(items, scores, strict=True):
        truncated = item.finish_reason == "length"
        rows.append(
            {
                "problem_id": item.problem_id,
                "sample_index": item.sample_index,
                "prompt": item.prompt,
                "completion": item.completion,
                "extracted_answer": score.extracted,
                "gold": gold[item.problem_id],
                # A completion cut off at max_new_tokens never counts as correct.
                "correct": bool(score.correct and not truncated),
                "finish_reason": item.finish_reason,
                "truncated": truncated,
                "num_tokens": item.num_tokens,
                "scorer_error": score.error is not None,
            }
        )
    return rows


def metrics_from_details(
    rows: list[dict[str, Any]], n: int, seed: int, adaptive: bool = False
) -> dict[str, Any]:
    """pass@k / maj@k with stderr and bootstrap CI, computed from the details rows.

    Every problem has n samples, or, with adaptive sampling, between 1 and n."""
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_problem.setdefault(row["problem_id"], []).append(row)
    incomplete = {
        pid: len(samples)
        for pid, samples in by_problem.items()
        if len(samples) != n and not (adaptive and 1 <= len(samples) <= n)
    }
    if not by_problem or incomplete:
        raise RuntimeError(f"backend returned the wrong number of samples: {incomplete or 'none'}")
    correct = [[bool(r["correct"]) for r in samples] for samples in by_problem.values()]
    answers = [[r["extracted_answer"] for r in samples] for samples in by_problem.values()]
    summary = summarize(correct, answers, seed=seed, ragged=adaptive)
    return {name: value.to_dict() for name, value in summary.items()}


def write_outcome(
    job_dir: Path, rows: list[dict[str, Any]], n: int, seed: int, fields: dict[str, Any]
) -> dict[str, Any]:
    """Write details.parquet, then results.json (last, atomically); return the results."""
    write_details(job_dir / DETAILS_FILE, rows)
    results = {
        "schema_version": SCHEMA_VERSION,
        "status": "completed",
        **fields,
        "metrics": metrics_from_details(
            rows, n, seed, adaptive=bool((fields.get("sampling") or {}).get("adaptive"))
        ),
        "num_truncated": sum(bool(row["truncated"]) for row in rows),
        "num_no_answer": sum(row["extracted_answer"] is None for row in rows),
        # Completions the scorer failed on (scored as wrong): a scorer bug, not the model's.
        "scorer_errors": sum(bool(row.get("scorer_error")) for row in rows),
    }
    write_json(job_dir / RESULTS_FILE, results)
    return results
