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
            stderr = values.get(f"{metric}_stderr,{filter_name}")
            metrics[key] = metric_record(key, value, stderr, n)
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
            rows.append(
                detail_row(
                    task=task,
                    problem_id=str(sample["doc_id"]),
                    filter_name=sample.get("filter", "none"),
                    prompt=_text(arguments[0][0]) if arguments else "",
                    completion=_response(responses),
                    extracted=_text(sample.get("filtered_resps")),
                    gold=_text(sample.get("target")),
                    values={name: sample.get(name) for name in sample.get("metrics", [])},
                )
            )
    return rows


def detail_row(
    *,
    task: str,
    problem_id: str,
    filter_name: str,
    prompt: str,
    completion: str,
    extracted: str,
    gold: str,
    values: dict[str, Any],
) -> dict[str, Any]:
    """One details row of a harness task's document: its per-sample metrics (the numeric
    `values`) as JSON, `correct` from the first where it is 0 or 1."""
    numbers = {name: number(value) for name, value in values.items()}
    metrics = {name: value for name, value in numbers.items() if value is not None}
    first = next(iter(metrics.values()), None)
    return {
        "task": task,
        "problem_id": problem_id,
        "sample_index": 0,
        "filter": filter_name,
        "prompt": prompt,
        "completion": completion,
        "extracted_answer": extracted,
        "gold": gold,
        "correct": bool(first == 1.0) if first in (0.0, 1.0) else None,
        "finish_reason": "stop",
        "truncated": False,
        "num_tokens": None,
        "metrics": json.dumps(metrics, sort_keys=True),
    }


def metric_record(name: str, value: Any, stderr: Any, n: int) -> dict[str, Any]:
    """One harness metric in evallaunch's form."""
    return {
        "name": name,
        "value": number(value),
        "stderr": number(stderr),
        "ci_low": None,
        "ci_high": None,
        "k": None,
        "n": int(n or 0),
    }


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
