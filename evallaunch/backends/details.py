"""The details rows every path writes (details.parquet): one sample and its verdict,
whoever generated and graded it (`GradedSample`), and one row shape (`detail_rows`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evallaunch.backends.base import Completion


@dataclass(frozen=True)
class GradedSample:
    """One sample and its verdict, whoever generated and graded it: evallaunch's benchmarks
    (its scorer) or a harness task (the harness's per-sample metrics).

    Attributes:
        completion: The sample (its prompt, text, finish reason and token count).
        gold: The reference answer, or a code task's tests.
        correct: The verdict; None where the harness's metrics give none (not 0 or 1).
        extracted: The answer taken from the completion (a harness's filtered response).
        scorer_error: The traceback where evallaunch's scorer failed on it.
        task: The harness task it belongs to (None: an evallaunch benchmark's sample).
        filter: The harness's filter whose answer `extracted` is.
        metrics: The harness's per-sample metrics.
    """

    completion: Completion
    gold: str
    correct: bool | None
    extracted: str | None
    scorer_error: str | None = None
    task: str | None = None
    filter: str | None = None
    metrics: Mapping[str, float] | None = None


def detail_rows(samples: Iterable[GradedSample]) -> list[dict[str, Any]]:
    """The details rows of graded samples, one per sample, the same keys for every source:
    DETAIL_COLUMNS, `scorer_error`, and a harness task's `task`, `filter` and `metrics`
    (JSON; None for evallaunch's benchmarks). `truncated`: cut off at max_new_tokens."""
    rows = []
    for sample in samples:
        item = sample.completion
        metrics = (
            None if sample.metrics is None else json.dumps(dict(sample.metrics), sort_keys=True)
        )
        rows.append(
            {
                "problem_id": item.problem_id,
                "sample_index": item.sample_index,
                "prompt": item.prompt,
                "completion": item.completion,
                "extracted_answer": sample.extracted,
                "gold": sample.gold,
                "correct": sample.correct,
                "finish_reason": item.finish_reason,
                "truncated": item.cut_off,
                "num_tokens": item.num_tokens,
                "scorer_error": sample.scorer_error is not None,
                "task": sample.task,
                "filter": sample.filter,
                "metrics": metrics,
            }
        )
    return rows
