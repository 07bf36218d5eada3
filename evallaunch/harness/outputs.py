"""lm-eval's results of a harness task in evallaunch's results schema: each metric with its
filter and stderr as the harness reports them, and one details row per document and filter
from its per-sample log."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# Keys of an lm-eval task's results that are not metrics.
NOT_METRICS = frozenset({"alias", "name", "sample_len", "sample_count", " "})


@dataclass(frozen=True)
class HarnessRun:
    """What a harness reported for a job: {task: {metric: metric}} for each task and group,
    results.json's `tasks` section, the details rows, and the models it loaded."""

    metrics: dict[str, dict[str, dict[str, Any]]]
    tasks: dict[str, Any]
    rows: list[dict[str, Any]]
    engine_starts: int


def number(value: Any) -> float | None:
    """`value` as a finite float, else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def task_metrics(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """{task or group: {"metric,filter": metric}} from `simple_evaluate`'s results; each
    metric in evallaunch's form (value, stderr, n), named as lm-eval names it."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    sizes = results.get("n-samples", {})
    for task, values in {**results.get("results", {}), **results.get("groups", {})}.items():
        metrics: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            if key in NOT_METRICS or "_stderr," in key or number(value) is None:
                continue
            metric, _, filter_name = key.partition(",")
            n = values.get("sample_len") or sizes.get(task, {}).get("effective")
            metrics[key] = {
                "name": key,
                "value": number(value),
                "stderr": number(values.get(f"{metric}_stderr,{filter_name}")),
                "ci_low": None,
                "ci_high": None,
                "k": None,
                "n": int(n or 0),
            }
        out[task] = metrics
    return out


def detail_rows(samples: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per task, document and filter from lm-eval's `log_samples`: the prompt, the
    response (or the choices' log-likelihoods), the filtered answer, the target, and each
    per-sample metric; `correct` is the task's first metric where it is 0 or 1."""
    rows = []
    for task, task_samples in samples.items():
        for sample in task_samples:
            arguments = sample.get("arguments") or []
            responses = sample.get("resps") or []
            values = {name: number(sample.get(name)) for name in sample.get("metrics", [])}
            metrics = {name: value for name, value in values.items() if value is not None}
            first = next(iter(metrics.values()), None)
            rows.append(
                {
                    "task": task,
                    "problem_id": str(sample["doc_id"]),
                    "sample_index": 0,
                    "filter": sample.get("filter", "none"),
                    "prompt": _text(arguments[0][0]) if arguments else "",
                    "completion": _response(responses),
                    "extracted_answer": _text(sample.get("filtered_resps")),
                    "gold": _text(sample.get("target")),
                    "correct": bool(first == 1.0) if first in (0.0, 1.0) else None,
                    "finish_reason": "stop",
                    "truncated": False,
                    "num_tokens": None,
                    "metrics": json.dumps(metrics, sort_keys=True),
                }
            )
    return rows


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return json.dumps(value, default=str)


def _response(responses: list[Any]) -> str:
    """A generation's text, or a multiple-choice task's log-likelihood per choice."""
    flat = [r[0] if isinstance(r, list) and len(r) == 1 else r for r in responses]
    if len(flat) == 1 and isinstance(flat[0], str):
        return flat[0]
    return json.dumps(flat, default=str)
