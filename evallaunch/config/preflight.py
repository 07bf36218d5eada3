"""Checks of a config's values that run before any job starts (`evallaunch.job.checks`,
run by the Hydra callback `evallaunch.launching.callbacks.Preflight` and the launchers):
bad values fail with one clear message while the config is composed, not minutes later
inside a backend."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evallaunch.config.schema import EvaluateConfig
from evallaunch.errors import EvallaunchError


def _check_range(key: str, value: Any, ok: bool, expected: str) -> None:
    if not ok:
        raise EvallaunchError(f"{key}={value!r} is invalid: expected {expected}")


def check_values(cfg: EvaluateConfig) -> None:
    """Value checks the schema's types cannot express, of the config alone (the checks
    against the installed libraries are `evallaunch.job.checks.validate_job`'s; unknown keys
    and unset required values fail earlier, in `evallaunch.config.spec.job_spec`)."""
    from evallaunch.benchmarks.mirror import check_limit

    bench, gen = cfg.benchmark, cfg.generation
    _check_range("benchmark.n", bench.n, bench.n >= 1, "a number of samples >= 1")
    check_limit(bench.limit)
    _check_range("generation.temperature", gen.temperature, gen.temperature >= 0, "a value >= 0")
    _check_range("generation.top_p", gen.top_p, 0 < gen.top_p <= 1, "a value in (0, 1]")
    _check_range(
        "generation.max_new_tokens", gen.max_new_tokens, gen.max_new_tokens >= 1, "a value >= 1"
    )
    if bench.n > 1 and gen.temperature == 0:
        raise EvallaunchError(
            f"benchmark.n={bench.n} with generation.temperature=0 would draw {bench.n} "
            "identical greedy samples",
            hint="set generation.temperature>0 (e.g. 0.6) or benchmark.n=1",
        )
    _check_sampling(cfg)


def _check_sampling(cfg: EvaluateConfig) -> None:
    sampling, n = cfg.sampling, cfg.benchmark.n
    value = sampling.samples_per_unit
    _check_range("sampling.samples_per_unit", value, value >= 0, "a number >= 0 (0: all at once)")
    rule, rules = sampling.adaptive_rule, ("interval", "neyman")
    _check_range("sampling.adaptive_rule", rule, rule in rules, f"one of {', '.join(rules)}")
    if not sampling.adaptive:
        return
    if rule == "interval":
        _check_range(
            "sampling.ci_width", sampling.ci_width, 0 < sampling.ci_width <= 1, "a value in (0, 1]"
        )
    elif sampling.match_n is None:
        raise EvallaunchError(
            "sampling.adaptive_rule=neyman needs sampling.match_n: the samples per problem of "
            "the fixed run whose precision to match",
            hint=f"e.g. sampling.match_n={max(n // 2, 1)} with benchmark.n={n} as the budget",
        )
    else:
        _check_range(
            "sampling.match_n",
            sampling.match_n,
            1 <= sampling.match_n <= n,
            f"a value in [1, benchmark.n={n}] (benchmark.n is the budget)",
        )
    _check_range(
        "sampling.min_samples",
        sampling.min_samples,
        1 <= sampling.min_samples <= n,
        f"a value in [1, benchmark.n={n}]",
    )
    if sampling.samples_per_unit == 0 or sampling.samples_per_unit >= n:
        raise EvallaunchError(
            f"sampling.adaptive=true needs rounds smaller than the budget, but "
            f"sampling.samples_per_unit={sampling.samples_per_unit} with benchmark.n={n} "
            "draws every sample in one round",
            hint="set sampling.samples_per_unit to the samples per round, e.g. 4",
        )


def check_writable(directory: str, key: str = "paths.output_root") -> None:
    """Create the directory `key` names if needed and make sure files can be written into it."""
    path = Path(directory).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".evallaunch-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise EvallaunchError(
            f"{key}={directory} is not writable ({err.strerror or err})",
            hint=f"point {key} at a writable directory"
            + (" (or set EVALLAUNCH_OUTPUTS)" if key == "paths.output_root" else ""),
        ) from None


# Tokens kept for prompts evallaunch does not know (a harness task's own) when
# max_new_tokens is lowered to fit the context: at most half of it.
PROMPT_RESERVE = 2048


def effective_max_new_tokens(
    max_new_tokens: int, max_model_length: int | None, longest_prompt: int | None
) -> int:
    """max_new_tokens, lowered (never raised) so that the longest prompt (its tokens as the
    model sees them; None: prompts not known here, PROMPT_RESERVE is kept) and its
    generation fit the model's context."""
    if not max_model_length:
        return max_new_tokens
    if longest_prompt is None:
        longest_prompt = min(PROMPT_RESERVE, max_model_length // 2)
    room = max_model_length - longest_prompt
    if room < 1:
        raise EvallaunchError(
            f"model.max_model_length={max_model_length} is invalid: the longest prompt takes "
            f"{longest_prompt} tokens, which leaves none to generate",
            hint="raise model.max_model_length, or leave it unset to use the model's own",
        )
    return min(max_new_tokens, room)
