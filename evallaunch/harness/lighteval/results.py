"""lighteval's results of a harness task in evallaunch's results schema: each metric with its
stderr as lighteval reports it, a superset's average under the superset's name, and one
graded sample per task and document from its details."""

from __future__ import annotations

import json
import re
from typing import Any

from evallaunch.backends.details import GradedSample
from evallaunch.harness.results import harness_completion, harness_sample, metric_record, number

# lighteval's results and details name a task "<name>|<few-shot>" (or ":" for "|"), a
# superset's average "<superset>:_average|<few-shot>".
TASK_KEY = re.compile(r"^(?P<name>.+?)(?::_average)?[|:](?P<shots>\d+)$")


def task_of(key: str) -> str:
    """The task (or superset) a key of lighteval's results or details names."""
    match = TASK_KEY.match(key)
    return match["name"] if match else key


def task_metrics(
    results: dict[str, Any], details: dict[str, list[Any]], task: str
) -> dict[str, dict[str, dict[str, Any]]]:
    """{task or superset: {metric: metric}} from lighteval's results, in evallaunch's form;
    the job's task is a superset's average when it names one."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    sizes = {name: len(rows) for name, rows in details.items()}
    for key, values in results.items():
        if key == "all":
            continue
        name = task_of(key)
        n = sizes.get(name) or sum(sizes.values())
        out[name] = {
            metric: metric_record(metric, value, values.get(f"{metric}_stderr"), n)
            for metric, value in values.items()
            if not metric.endswith("_stderr") and number(value) is not None
        }
    return out


def lighteval_samples(
    details: dict[str, list[Any]], prompt_manager: Any, tokens: Any, model_max: int | None
) -> list[GradedSample]:
    """One graded sample per task and document from lighteval's details: the prompt the
    model saw, the response (or the choices' log-probabilities), the gold answer and each
    per-sample metric. A response is cut off when its tokens (`tokens`, the model's
    tokenizer) reached the generation size lighteval gave it (the document's, else the
    model's max_new_tokens `model_max`)."""
    out = []
    for task, task_details in details.items():
        for detail in task_details:
            doc, response = detail.doc, detail.model_response
            gold = doc.gold_index if isinstance(doc.gold_index, list) else [doc.gold_index]
            generated = bool(response.text)
            completion = harness_completion(
                str(doc.id),
                prompt_manager.prepare_prompt(doc),
                response.text[0] if generated else json.dumps(response.logprobs),
                tokens if generated else None,
                getattr(doc, "generation_size", None) or model_max,
            )
            out.append(
                harness_sample(
                    completion,
                    task=task,
                    filter_name="none",
                    extracted=(response.text_post_processed or [""])[0],
                    gold=" | ".join(doc.choices[i] for i in gold),
                    values=dict(detail.metric or {}),
                )
            )
    return out
