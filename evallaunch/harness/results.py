"""A harness's results in evallaunch's results schema, the parts both harnesses share: what
a run reports (`HarnessRun`), a metric record, and a response as a completion and a graded
sample (evallaunch.backends.details.detail_rows makes the rows); each harness reads its own
output into them (evallaunch.harness.lmeval.results, evallaunch.harness.lighteval.results)."""

from __future__ import annotations

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


def token_counter(backend: Any, request: Any) -> TokenCounter | None:
    """The job's model's tokenizer as a `TokenCounter`; None (no response is marked cut off)
    where it cannot be loaded."""
    try:
        tokenizer = backend.tokenizer(request)
    except Exception as err:  # a remote model without a local tokenizer, or its many errors
        log.warning("the model's tokenizer did not load (%s): no response is marked cut off", err)
        return None
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


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
