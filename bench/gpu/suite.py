"""The open-r1 suite (5 benchmarks x 6 R1-Distill models) in GPU-hours, open-r1's schedule
turned into evallaunch's one ingredient at a time (helper of bench/gpu/schedule.py), and the
adaptive settings per benchmark."""

from __future__ import annotations

import numpy as np

from bench import common
from bench.gpu import adaptive as ga
from bench.gpu import policies as pol
from bench.gpu import workload as wl
from bench.gpu.jobs import (
    LIGHTEVAL_SLOTS,
    SAMPLES_PER_UNIT,
    Pair,
    client,
    evallaunch_run,
    forced,
    open_r1_layout,
    setup,
)
from evallaunch.engines import settings as eng

STEPS = (
    "open-r1 (lighteval: eager, 128 slots, static split, Ray, fixed n)",
    "+ CUDA graphs",
    "+ slots from the KV cache at the mean length (open-r1's GPUs)",
    "+ evallaunch's schedule (one queue, units in flight)",
    "+ the plan's GPU layout (fastest modeled TP x DP)",
    "+ engine starts (one per replica, no Ray)",
    "+ adaptive sampling (neyman rule, settings per benchmark)",
)
SHARED_ENGINES = (
    "launch.benchmarks_per_job=5: + one job per model, its 5 benchmarks' requests in one queue"
)


def adaptive_counts(pair: Pair, choice: ga.Choice) -> np.ndarray | None:
    """Samples per problem under the benchmark's adopted settings (None: fixed n)."""
    settings = choice.adopted or choice.rule
    if settings.off:
        return None
    return ga.counts_for(settings, pair.correct, pair.length)


def adopted(choice: ga.Choice) -> wl.Adaptive:
    return choice.adopted or choice.rule


OPTIONS = 6  # adaptive settings (fewest tokens first) simulated for their GPU-hours


def pick(pairs: list[Pair], options: list[wl.Adaptive], rows: list[dict], seeds: int) -> ga.Choice:
    """The setting drawing the fewest tokens (checked on `seeds` fresh seeds), with the
    GPU-hours of its jobs (the benchmark's pairs, the plan's engines, evallaunch's schedule);
    `adopted`: of the first OPTIONS settings, the one of the fewest GPU-hours if under GAIN
    x fixed n's, else fixed n."""
    fixed = sum(r["evallaunch_hours"] for _, r in _rows_of(pairs, rows))
    models = [p.model for p in pairs]
    adopted, adopted_hours, first_hours = wl.fixed(pairs[0].n), ga.GAIN * fixed, fixed
    for number, settings in enumerate(options[:OPTIONS]):
        hours = 0.0
        for pair in pairs:
            counts = ga.counts_for(settings, pair.correct, pair.length)
            s = setup(pair, pair.plan, None, True, False)
            hours += evallaunch_run(pair, s, counts, settings.samples_per_unit).gpu_hours
        first_hours = hours if number == 0 else first_hours
        if hours < adopted_hours:
            adopted, adopted_hours = settings, hours
    cheapest = options[0] if options else wl.fixed(pairs[0].n)
    choice = ga.check(pairs[0].benchmark, models, cheapest, seeds)
    choice.hours_ratio, choice.adopted = first_hours / fixed, adopted
    return choice


def _rows_of(pairs: list[Pair], rows: list[dict]) -> list[tuple[Pair, dict]]:
    keyed = {(r["model"], r["benchmark"]): r for r in rows}
    return [(p, keyed[(p.model, p.benchmark)]) for p in pairs]


def suite(pairs: list[Pair], rules: dict[str, ga.Choice], rows: list[dict]) -> dict[str, float]:
    """GPU-hours of each step (each keeps the previous ones); `rows` (schedule's
    `schedules`) hold the first step."""
    hours = dict.fromkeys((*STEPS, SHARED_ENGINES), 0.0)
    for pair, row in zip(pairs, rows, strict=True):
        lay = open_r1_layout(pair)
        ray = lay.dp > 1
        counts = adaptive_counts(pair, rules[pair.benchmark])
        spu = adopted(rules[pair.benchmark]).samples_per_unit
        ours = setup(pair, pair.plan, None, True, False)
        runs = [
            row["open_r1_hours"],
            pol.static(
                setup(pair, lay, LIGHTEVAL_SLOTS, True, ray), pair.requests(), pair.problems.prompt
            ).gpu_hours,
            pol.static(
                setup(pair, lay, None, True, ray), pair.requests(), pair.problems.prompt
            ).gpu_hours,
            evallaunch_run(pair, setup(pair, lay, None, True, ray)).gpu_hours,
            evallaunch_run(pair, setup(pair, pair.plan, None, True, ray)).gpu_hours,
            row["evallaunch_hours"],
            evallaunch_run(pair, ours, counts, spu).gpu_hours,
        ]
        for name, value in zip(STEPS, runs, strict=True):
            hours[name] += value
    for model in dict.fromkeys(p.model for p in pairs):
        mine = [p for p in pairs if p.model == model]
        hours[SHARED_ENGINES] += one_job(mine, rules)
    return hours


def one_job(pairs: list[Pair], rules: dict[str, ga.Choice]) -> float:
    """GPU-hours of one job running all of a model's benchmarks through one set of engines
    (planned for all their requests at their mean length), longest completions first, each
    benchmark's units as evallaunch sizes them: one engine start and one tail, not five."""
    requests: list[tuple[Pair, list]] = []
    for pair in sorted(pairs, key=lambda p: -float(p.length[:, : p.n].mean())):
        drawn = pair.requests(adaptive_counts(pair, rules[pair.benchmark]))
        requests.append((pair, drawn))
    everything = [r for _, drawn in requests for r in drawn]
    for rid, request in enumerate(everything):
        request.rid = rid
    biggest = max(pairs, key=lambda p: len(p.problems.rate) * p.n)
    mean = float(np.mean([r.length for r in everything]))
    layout = forced(
        biggest,
        num_prompts=len(everything),
        samples_per_prompt=1,
        concurrent_sequences=len(everything),
        mean_new_tokens=round(mean),
    )
    s = setup(biggest, layout, None, True, False)
    plans, largest = [], 0
    for pair, drawn in requests:
        settings = adopted(rules[pair.benchmark])
        spu = min(settings.samples_per_unit, pair.n) if settings.off else settings.samples_per_unit
        c = client(pair, s, spu, not settings.off)
        plans.append(pol.units_of(drawn, c))
        largest = max(largest, c.per_unit * c.samples_per_unit)
    engine = eng.EngineSettings(replicas=s.replicas, max_num_seqs=s.slots)
    c = client(biggest, s, SAMPLES_PER_UNIT, True)
    c.in_flight = eng.units_to_fill(engine, largest)
    return pol.run_units(s, pol.merged(plans), c, len(everything)).gpu_hours


def print_suite(hours: dict[str, float]) -> None:
    base = hours[STEPS[0]]
    print(
        "\nThe suite (5 benchmarks x 6 models) in GPU-hours, open-r1's schedule turned into "
        "evallaunch's one ingredient at a time:"
    )
    rows, previous = [], base
    for name, value in hours.items():
        rows.append([name, f"{value:.1f}", f"x{previous / value:.2f}", f"{value / base:.3f}"])
        previous = value
    print(common.table(["schedule", "GPU-hours", "factor", "/ open-r1"], rows))


def print_adaptive(rules: dict[str, dict[str, ga.Choice]]) -> None:
    print(
        "\nAdaptive settings per benchmark and rule: the fewest tokens with every model's "
        "seed-to-seed sd of pass@1 (problems fixed) at most open-r1's fixed-n sd, checked on "
        "fresh seeds, and the GPU-hours of its jobs (evallaunch's schedule: a chunk's rounds "
        f"wait for each other); adopted: of the {OPTIONS} settings drawing the fewest tokens, "
        f"the one of the fewest GPU-hours if under {ga.GAIN} x fixed n's. bias: mean pass@1 "
        "minus the fixed-n run's, in points (and in units "
        "of the fixed-n sd, the worst model); rmse: root mean square error / fixed-n sd, "
        "bias included; match_n = n: the neyman rule asked for exactly open-r1's precision:"
    )
    rows = []
    for rule, chosen in rules.items():
        for c in chosen.values():
            sds = list(c.sd_ratio.values())
            worst = max(c.bias, key=lambda m: abs(c.bias[m]) / c.sd_fixed[m])
            rows.append(
                [
                    c.benchmark,
                    rule,
                    c.rule.label(),
                    f"{c.tokens_ratio:.3f}",
                    f"{c.hours_ratio:.3f}",
                    f"{min(sds):.2f}-{max(sds):.2f}",
                    " ".join(f"{v:+.2f}" for v in c.bias.values())
                    + f" ({c.bias[worst] / c.sd_fixed[worst]:+.2f} sd)",
                    f"{max(c.rmse_ratio.values()):.2f}",
                    " ".join(f"{v:.1f}" for v in c.samples.values()),
                    " ".join(f"{v:.2f}" for v in c.honest.values()) or "-",
                    adopted(c).label(),
                ]
            )
    print(
        common.table(
            [
                "benchmark",
                "rule",
                "fewest tokens (sampling.adaptive=true)",
                "tokens / fixed n",
                "GPU-hours / fixed n",
                "sd / fixed sd",
                "bias, points (per model)",
                "worst rmse",
                "samples per problem",
                "sd at match_n = n",
                "adopted",
            ],
            rows,
        )
    )
