"""lm-eval's results of a harness task in evallaunch's results schema: each metric with its
filter and stderr as the harness reports them, and one graded sample per document and
filter from its per-sample log (evallaunch.backends.details.detail_rows makes the rows)."""

from __future__ import annotations

import json
from typing import Any

from evallaunch.backends.details import GradedSample
from evallaunch.harness.results import (
    TokenCounter,
    harness_completion,
    harness_sample,
    metric_record,
    number,
)

# Keys of an lm-eval task's results that are not metrics.
NOT_METRICS = frozenset({"alias", "name", "sample_len", "sample_count", " "})


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


def lm_eval_samples(
    samples: dict[str, list[dict[str, Any]]], tokens: TokenCounter | None, default_max: int
) -> list[GradedSample]:
    """lm-eval's `log_samples`, one graded sample per task, document and filter: the
    prompt, the response (or the choices' log-likelihoods), the filtered answer, the target
    and the per-sample metrics. A response is cut off when its tokens (`tokens`, the
    model's tokenizer) reached the max_gen_toks lm-eval gave it (the sample's own
    generation kwargs, else the model's `default_max`)."""
    out = []
    for task, task_samples in samples.items():
        for sample in task_samples:
            arguments = sample.get("arguments") or []
            first: Any = arguments[0] if arguments else ()
            gen_kwargs = first[1] if len(first) > 1 and isinstance(first[1], dict) else None
            responses = sample.get("resps") or []
            text = _response(responses)
            generated = gen_kwargs is not None and len(responses) == 1
            cap = int((gen_kwargs or {}).get("max_gen_toks") or default_max)
            completion = harness_completion(
                str(sample["doc_id"]),
                _text(first[0]) if first else "",
                text,
                tokens if generated else None,
                cap,
            )
            out.append(
                harness_sample(
                    completion,
                    task=task,
                    filter_name=sample.get("filter", "none"),
                    extracted=_text(sample.get("filtered_resps")),
                    gold=_text(sample.get("target")),
                    values={name: sample.get(name) for name in sample.get("metrics", [])},
                )
            )
    return out


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
