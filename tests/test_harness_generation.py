"""How generation.* reaches a harness task (evallaunch.harness.generation): in the harness's
own words beside benchmark.gen_kwargs, refused where the two disagree. Config composition
only; the jobs that check what the engines received are in test_harness_tasks.py and
test_lighteval_tasks.py."""

from __future__ import annotations

import pytest

from evallaunch.errors import EvallaunchError
from evallaunch.harness.generation import harness_gen_kwargs
from tests.helpers import compose_spec

GSM8K = ["benchmark=harness", "benchmark.task=gsm8k"]


def test_defaults_leave_the_task_s_own_settings() -> None:
    assert harness_gen_kwargs(compose_spec([*GSM8K, "backend=lmeval"]), "lm-eval") is None
    given = compose_spec([*GSM8K, "benchmark.gen_kwargs='max_gen_toks=8'"])
    assert harness_gen_kwargs(given, "lm-eval") == "max_gen_toks=8"


def test_changed_settings_reach_each_harness_under_its_own_names() -> None:
    changed = ["generation.max_new_tokens=24", "generation.temperature=0.7", "generation.seed=7"]
    cfg = compose_spec([*GSM8K, *changed])
    # lm-eval: do_sample follows the temperature (gsm8k's own do_sample=false would win);
    # the seed reaches it as simple_evaluate's random seeds, in every job
    assert harness_gen_kwargs(cfg, "lm-eval") == "max_gen_toks=24,temperature=0.7,do_sample=True"
    assert harness_gen_kwargs(cfg, "lighteval") == "max_new_tokens=24,temperature=0.7,seed=7"
    same = compose_spec(
        [*GSM8K, "generation.max_new_tokens=24", "benchmark.gen_kwargs='max_gen_toks=24'"]
    )
    assert harness_gen_kwargs(same, "lm-eval") == "max_gen_toks=24"


def test_disagreeing_settings_and_several_samples_are_refused() -> None:
    both = compose_spec(
        [*GSM8K, "generation.max_new_tokens=64", "benchmark.gen_kwargs='max_new_tokens=32'"]
    )
    with pytest.raises(EvallaunchError, match="generation.max_new_tokens=64 and benchmark"):
        harness_gen_kwargs(both, "lighteval")
    with pytest.raises(EvallaunchError, match="benchmark.n=4 is invalid with benchmark=harness"):
        harness_gen_kwargs(compose_spec([*GSM8K, "benchmark.n=4"]), "lm-eval")
    misspelt = compose_spec([*GSM8K, "benchmark.gen_kwargs='max_new_token=32'"])
    with pytest.raises(EvallaunchError, match="did you mean max_new_tokens"):
        harness_gen_kwargs(misspelt, "lighteval")
