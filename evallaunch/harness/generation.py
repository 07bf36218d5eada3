"""How a job's generation settings reach a harness task (benchmark=harness).

A harness task generates with its own settings, as the harness's CLI runs it (lm-eval: the
task's generation_kwargs; lighteval: its generation_size, greedy). `benchmark.gen_kwargs`
overrides them in the harness's own words (lm-eval's `--gen_kwargs`; lighteval's model
generation parameters). A `generation.*` setting changed from evallaunch's default reaches
the harness the same way, under the harness's name for it (`GENERATION_NAMES`): as with
lighteval's model-level `max_new_tokens` or lm-eval's `--gen_kwargs`, it overrides the
task's. Given in both places with different values, the job refuses to start; so does
`benchmark.n` other than 1 (the task's definition says how many samples it draws).
"""

from __future__ import annotations

import difflib
from typing import Any

from evallaunch.config.evaluated import GenerationConfig
from evallaunch.config.schema import EvaluateConfig
from evallaunch.errors import EvallaunchError

# The generation settings benchmark.gen_kwargs may set for lighteval (its GenerationParameters).
LIGHTEVAL_GEN_KWARGS = ("temperature", "top_p", "top_k", "min_p", "max_new_tokens", "seed")
# generation.<setting> -> its name in each harness's gen_kwargs. generation.seed reaches
# lm-eval as simple_evaluate's random seeds (every job), not as a generation argument.
GENERATION_NAMES = {
    "lm-eval": {"max_new_tokens": "max_gen_toks", "temperature": "temperature", "top_p": "top_p"},
    "lighteval": {
        "max_new_tokens": "max_new_tokens",
        "temperature": "temperature",
        "top_p": "top_p",
        "seed": "seed",
    },
}


def _pairs(gen_kwargs: str | None) -> dict[str, str]:
    """'a=1,b=2' as {"a": "1", "b": "2"} (lm-eval's --gen_kwargs form)."""
    out: dict[str, str] = {}
    for item in filter(None, (gen_kwargs or "").split(",")):
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def _same(text: str, value: Any) -> bool:
    try:
        return float(text) == float(value)
    except ValueError:
        return text == str(value)


def harness_gen_kwargs(cfg: EvaluateConfig, harness: str) -> str | None:
    """benchmark.gen_kwargs with every generation.* setting changed from its default added
    under `harness`'s name for it (lm-eval: with do_sample to match the temperature).

    Raises:
        EvallaunchError: a setting given in both with different values, or benchmark.n > 1.
    """
    bench, defaults = cfg.benchmark, GenerationConfig()
    if bench.n != 1:
        raise EvallaunchError(
            f"benchmark.n={bench.n} is invalid with benchmark=harness: a harness task draws "
            "the samples its own definition says (lm-eval: the task's repeats; lighteval: "
            "its metric's n)",
            hint="leave benchmark.n=1; for more samples per document run a task of your own "
            "that defines them (benchmark.include_path / benchmark.custom_tasks)",
        )
    if harness == "lighteval":
        gen_parameters(bench.gen_kwargs)  # the user's own, as given
    given = _pairs(bench.gen_kwargs)
    out = dict(given)
    for setting, key in GENERATION_NAMES[harness].items():
        value = getattr(cfg.generation, setting)
        if value == getattr(defaults, setting):
            continue
        if key in given and not _same(given[key], value):
            raise EvallaunchError(
                f"generation.{setting}={value} and benchmark.gen_kwargs={bench.gen_kwargs} "
                f"disagree: a harness task takes generation.{setting} as {harness}'s {key}, "
                f"which benchmark.gen_kwargs sets to {given[key]}",
                hint=f"set generation.{setting} or benchmark.gen_kwargs' {key}, not both",
            )
        out[key] = str(value)
        if harness == "lm-eval" and setting == "temperature" and "do_sample" not in given:
            out["do_sample"] = str(value > 0)  # the task's do_sample would keep it greedy
    return ",".join(f"{key}={value}" for key, value in out.items()) or None


def gen_parameters(gen_kwargs: str | None) -> dict[str, Any]:
    """gen_kwargs ('temperature=0.6,top_p=0.95') as lighteval's generation parameters;
    greedy unless it says otherwise, like lighteval's CLI. A key lighteval does not have
    fails with the closest one it has."""
    out: dict[str, Any] = {"temperature": 0.0, "top_p": 1.0}
    for key, value in _pairs(gen_kwargs).items():
        if key not in LIGHTEVAL_GEN_KWARGS or not value:
            close = difflib.get_close_matches(key, LIGHTEVAL_GEN_KWARGS, n=1, cutoff=0.5)
            raise EvallaunchError(
                f"benchmark.gen_kwargs={gen_kwargs} is invalid for lighteval: {key}={value}"
                + (f" (did you mean {close[0]}?)" if close and value else ""),
                hint=f"give KEY=VALUE pairs with KEY one of {', '.join(LIGHTEVAL_GEN_KWARGS)}",
            )
        try:
            out[key] = float(value) if "." in value else int(value)
        except ValueError:
            raise EvallaunchError(
                f"benchmark.gen_kwargs={gen_kwargs} is invalid for lighteval: {key}={value} "
                "is not a number"
            ) from None
    return out
