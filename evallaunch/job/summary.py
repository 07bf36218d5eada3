"""Human-readable summaries of results printed at the end of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def format_metric(metric: dict[str, Any]) -> str:
    """`41.2 ± 3.1 [35.0, 47.5]` in percent."""
    text = f"{100 * metric['value']:.1f}"
    if metric.get("stderr") is not None:
        text += f" ± {100 * metric['stderr']:.1f}"
    if metric.get("ci_low") is not None and metric.get("ci_high") is not None:
        text += f" [{100 * metric['ci_low']:.1f}, {100 * metric['ci_high']:.1f}]"
    return text


def results_table(results: dict[str, Any]) -> str:
    """A small fixed-width table of one job's metrics."""
    header = (
        f"{results['model']['name']} @ {results['model']['revision']} | "
        f"{results['benchmark']['name']} | {results['backend']['name']} | "
        f"{results['num_problems']} problems x {samples_text(results)}"
    )
    if results.get("tasks"):
        return "\n".join([header, *harness_lines(results["tasks"])])
    lines = [header, f"{'metric':<10} {'value (%) ± stderr [95% CI]':<36} backend's own"]
    for name, metric in results["metrics"].items():
        own = results["backend_metrics"].get(name)
        own_text = f"{100 * own:.1f}" if own is not None else "-"
        lines.append(f"{name:<10} {format_metric(metric):<36} {own_text}")
    adaptive = (results.get("sampling") or {}).get("adaptive")
    if adaptive and (adaptive.get("ci_width") or adaptive.get("match_n")):
        spread = results["sampling"]["samples_per_problem"]
        rule = (
            f"the precision of {adaptive['match_n']} samples per problem at fewer tokens"
            if adaptive.get("match_n")
            else f"each problem stopped once its 95% interval was narrower than "
            f"{adaptive['ci_width']}"
        )
        lines.append(
            f"adaptive sampling: {rule}; samples per problem {spread['min']}-{spread['max']} "
            f"(mean {spread['mean']:.1f}) of a budget of {results['num_samples']}"
        )
    if "num_no_answer" in results:
        total = num_completions(results)
        lines.append(
            f"answers found in {total - results['num_no_answer']} of {total} completion(s), "
            "each scored against the gold answer"
        )
    if results["num_truncated"]:
        harness = results["benchmark"].get("scorer") == "harness"
        how = "scored by the harness as they are" if harness else "scored wrong"
        lines.append(f"{results['num_truncated']} completion(s) hit max_new_tokens ({how})")
    return "\n".join(lines)


def num_completions(results: dict[str, Any]) -> int:
    """The completions behind a job's metrics (fewer than problems x n when the counts per
    problem differ: adaptive sampling, or a completions file with unequal counts)."""
    spread = (results.get("sampling") or {}).get("samples_per_problem")
    if spread:
        return round(spread["mean"] * results["num_problems"])
    return int(results["num_problems"] * results["num_samples"])


def samples_text(results: dict[str, Any]) -> str:
    """`4 samples`, or `1-4 samples (660 completions)` when the counts per problem differ."""
    spread = (results.get("sampling") or {}).get("samples_per_problem")
    if spread and spread["min"] != spread["max"]:
        return f"{spread['min']}-{spread['max']} samples ({num_completions(results)} completions)"
    return f"{results['num_samples']} samples"


def harness_lines(tasks: dict[str, Any]) -> list[str]:
    """One line per task and metric of a harness job, as the harness names them."""
    width = max(len(f"{task} {name}") for task, t in tasks.items() for name in t["metrics"])
    lines = [f"{'task metric,filter':<{width}}  value (%) ± stderr   n-shot  version"]
    for task, info in tasks.items():
        for name, metric in info["metrics"].items():
            label = f"{task} {name}"
            lines.append(
                f"{label:<{width}}  {format_metric(metric):<18}   {info['num_fewshot']!s:<6}  "
                f"{info['version']}"
            )
    return lines


# Problems shown with their extracted answer next to the gold one.
SHOWN_PROBLEMS = 5


def print_results(results: dict[str, Any], job_dir: Path) -> None:
    """Print the results table, the first problems' answers against the gold ones, and where
    the files are."""
    print()
    print(results_table(results))
    if not results.get("tasks") and (job_dir / "details.parquet").is_file():
        print()
        print(answers_table(job_dir / "details.parquet"))
    if str(results["model"].get("name_or_path", "")).startswith("embedded:"):
        print(
            "\nThe embedded 135M model is a plumbing check (it solves few of these problems);"
            " a real one: evallaunch-evaluate model=r1_distill_qwen_1_5b backend.model_type=vllm"
        )
    print(f"results: {job_dir / 'results.json'}")


def answers_table(details: Path, shown: int = SHOWN_PROBLEMS) -> str:
    """The first problems' first samples: the answer extracted from the completion beside
    the gold answer, and the grade."""
    import pandas as pd

    rows = pd.read_parquet(
        details, columns=["problem_id", "sample_index", "extracted_answer", "gold", "correct"]
    )
    first = rows[rows["sample_index"] == 0].head(shown)
    lines = [f"{'problem':<30} {'gold':<16} {'answer (sample 0)':<20} correct"]
    for row in first.itertuples():
        answer = answer_text(row.extracted_answer)
        lines.append(
            f"{_cut(str(row.problem_id), 30):<30} {_cut(str(row.gold), 16):<16} "
            f"{_cut(answer, 20):<20} {'yes' if row.correct else 'no'}"
        )
    problems = rows["problem_id"].nunique()
    if problems > len(first):
        lines.append(f"... {problems - len(first)} more problem(s) in {details}")
    return "\n".join(lines)


def answer_text(found: Any) -> str:
    """An extracted answer as the reports show it: `(none found)` for a missing one."""
    import pandas as pd

    return "(none found)" if found is None or pd.isna(found) else str(found)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# A limited run (a smoke test) that still draws this many samples per problem is warned of.
SMOKE_SAMPLES = 32


def run_plan_lines(
    cfg: Any, request: Any, estimated_hours: float | None = None
) -> list[tuple[str, str]]:
    """What a job is about to generate, printed before the model loads, as (level, line):
    problems x samples, the token budget, the engine, the plan's time estimate (on GPUs);
    and a warning when a limited run (a smoke test) still draws many samples per problem."""
    bench, engine = cfg.benchmark, request.engine
    completions = len(request.problems) * request.n
    budget = "up to " if cfg.sampling.adaptive else ""
    engines = f", {engine.replicas} engine(s)" if request.engine.replicas > 1 else ""
    lines = [
        (
            "info",
            f"About to generate {budget}{len(request.problems)} problems x {request.n} samples "
            f"= {completions} completions of at most {request.max_new_tokens} tokens, with "
            f"{cfg.backend.name} ({cfg.backend.model_type} on {request.device}, "
            f"{request.dtype}{engines}); "
            + (
                f"the plan estimates about {estimated_hours:.2g} h"
                if estimated_hours
                else "no estimate before the first samples"
            )
            + ", then the time left is logged as samples finish",
        )
    ]
    if bench.limit is not None and request.n >= SMOKE_SAMPLES:
        lines.append(
            (
                "warning",
                f"benchmark.limit={bench.limit} still draws benchmark.n={request.n} samples per "
                f"problem ({completions} completions): for a quick check add benchmark.n=1",
            )
        )
    return lines
