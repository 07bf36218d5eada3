"""A lighteval custom-tasks module of the user's own: two multiple-choice (log-likelihood)
tasks on local JSON lines, `el_light:qa` and `el_light:bare`, which lighteval's superset
`el_light` averages."""

from pathlib import Path

from lighteval.metrics.metrics import Metrics
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

DATA = str(Path(__file__).resolve().parent / "mc")


def qa_prompt(line, task_name=None):
    return Doc(
        task_name=task_name,
        query=f"Question: {line['question']}\nAnswer:",
        choices=[f" {choice}" for choice in line["choices"]],
        gold_index=line["label"],
    )


def bare_prompt(line, task_name=None):
    return Doc(
        task_name=task_name,
        query=line["question"],
        choices=[f" {choice}" for choice in line["choices"]],
        gold_index=line["label"],
    )


def task(name, prompt):
    return LightevalTaskConfig(
        name=name,
        prompt_function=prompt,
        hf_repo=DATA,
        hf_subset="default",
        hf_avail_splits=["test"],
        evaluation_splits=["test"],
        few_shots_split=None,
        few_shots_select=None,
        generation_size=-1,
        metrics=[Metrics.loglikelihood_acc],
        stop_sequence=None,
        version=1,
    )


TASKS_TABLE = [task("el_light:qa", qa_prompt), task("el_light:bare", bare_prompt)]
