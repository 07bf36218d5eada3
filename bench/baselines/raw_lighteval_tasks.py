"""lighteval custom-task module for the raw baseline (bench/baselines/raw_lighteval.py):
MATH-500 from a local JSON-lines file, with evallaunch's prompt template, scored by
lighteval's own math pass@1. Written against lighteval's documented custom-task API (a TASKS_TABLE).

Configured by environment variables (set by bench/baselines/overhead.py):
  RAW_MATH500_DIR       directory holding test.jsonl (MATH-500 rows: problem, answer, ...)
  RAW_MATH500_TEMPLATE  prompt template with a literal "{problem}"
  RAW_MATH500_TOKENS    max new tokens
"""

from __future__ import annotations

import os

from lighteval.metrics.metrics import Metrics
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

TEMPLATE = os.environ.get("RAW_MATH500_TEMPLATE", "{problem}")


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    return Doc(
        task_name=task_name,
        query=TEMPLATE.replace("{problem}", line["problem"]),
        choices=[line["answer"]],
        gold_index=0,
    )


raw_math500 = LightevalTaskConfig(
    name="raw_math500",
    prompt_function=prompt_fn,
    hf_repo=os.environ.get("RAW_MATH500_DIR", "."),
    hf_subset="default",
    hf_avail_splits=["test"],
    evaluation_splits=["test"],
    metrics=[Metrics.pass_at_k_math(sample_params={"k": 1, "n": 1})],
    generation_size=int(os.environ.get("RAW_MATH500_TOKENS", "32")),
    stop_sequence=[],
)

TASKS_TABLE = [raw_math500]
