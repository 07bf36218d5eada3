"""lm-eval's results of a harness task in evallaunch's results schema: each metric with its
filter and stderr as the harness reports them, and one graded sample per document and
filter from its per-sample log (evallaunch.job.grading.detail_rows makes the rows)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evallaunch.backends.base import Completion, finish_reason_of
from evallaunch.backends.details import GradedSample

#: The model's tokenizer as a count: the tokens of a text (no special tokens).
TokenCounter = Callable[[str], int]

log = logging.getLogger(__name__)

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


def token_counter(backend: Any, request: Any) -> TokenCounter | None:
    """The job's model's tokenizer as a `TokenCounter`; None (no response is marked cut off)
    where it cannot be loaded."""
    try:
        tokenizer = backend.tokenizer(request)
    except Exception as err:  # a remote model without a local tokenizer, or its many errors
        log.warning("the model's tokenizer did not load (%s): no response is marked cut off", err)
        return None
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


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


def harness_completion(
    problem_id: str, prompt: str, text: str, tokens: TokenCounter | None, cap: int | None
) -> Completion:
    """A harness's response as a completion: its token count (`tokens`: None where it is
    not generated text, or the model's tokenizer is unknown) and "length" when that reached
    the harness's max new tokens `cap`."""
    num_tokens = tokens(text) if tokens is not None else None
    reason = "stop"
    if num_tokens is not None and cap:
        reason = finish_reason_of(num_tokens, cap)
    return Completion(problem_id, 0, prompt, text, reason, num_tokens)


def harness_sample(
    completion: Completion,
    *,
    task: str,
    filter_name: str,
    extracted: str,
    gold: str,
    values: dict[str, Any],
) -> GradedSample:
    """A harness task's graded sample: its per-sample metrics (the numeric `values`),
    `correct` from the first where it is 0 or 1 (the harness's verdict, as its metrics
    counted it)."""
    numbers = {name: number(value) for name, value in values.items()}
    metrics = {name: value for name, value in numbers.items() if value is not None}
    first = next(iter(metrics.values()), None)
    correct = bool(first == 1.0) if first in (0.0, 1.0) else None
    return GradedSample(completion, gold, correct, extracted, None, task, filter_name, metrics)


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
