"""A job's schedule on GPU nodes, simulated from first principles: evallaunch vs the ideal,
open-r1 (lighteval) and evallaunch's old unit schedule; then the open-r1 suite in GPU-hours.

Plans come from `evallaunch plan`'s code (SweepComposer + plan_request + plan) on
cluster=slurm_h100_example with parallelism=auto and the server backend (vLLM replicas),
model facts from tests/data/model_configs. Replica step times, prefill and engine starts
come from evallaunch.planning.replica_cost; the engines from sim.py (continuous batching,
KV-cache admission and preemption), the request routing from policies.py (evallaunch's
real schedule: one queue in front of every replica, each taking up to its max_num_seqs;
units in flight from evallaunch.engines.settings.units_to_fill), the workload (difficulty, lengths,
adaptive sampling) from workload.py and adaptive.py, the suite from suite.py, the engine
levers (fp8 KV cache, prefix caching, speculative decoding, shared engines) from levers.py,
the time model against published timings from calibration.py (all in bench/gpu/).
Everything printed is a model: the assumptions and sources are printed. Runs in minutes, no GPU.

Targets: evallaunch >= 0.95 x the ideal's throughput for every benchmark x model pair;
the suite in a third of open-r1's GPU-hours.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common
from bench.gpu import adaptive as ga
from bench.gpu import calibration as calib
from bench.gpu import levers, suite
from bench.gpu import policies as pol
from bench.gpu import workload as wl
from bench.gpu.jobs import (
    LIGHTEVAL_SLOTS,
    OPEN_R1_UTILIZATION,
    SAMPLES_PER_UNIT,
    SCORE_S,
    SETUP_S,
    Pair,
    client,
    evallaunch_run,
    forced,
    load_pairs,
    open_r1_layout,
    setup,
)
from evallaunch.engines import settings as eng
from evallaunch.job.units import MIN_AUTO_PROBLEMS
from evallaunch.planning import replica_cost as rc
from evallaunch.planning import throughput as tp
from evallaunch.planning.inputs import Hardware
from evallaunch.planning.planner import SAFETY_FACTOR

OLD_UNIT = (32, 16)  # evallaunch's old default units: problems x samples
TARGET = 0.95
FILLS = (1.0, 2.0, 4.0, 8.0)  # throughput.UNIT_FILL candidates
BACKLOGS = (2, 4, 8)  # engine.BACKLOG candidates
MARGINS = (0.7, 0.8, 0.9, 1.0, 1.2)  # throughput.SLOT_MARGIN candidates


def print_assumptions(hw: Hardware) -> None:
    gpu = rc.gpu_spec(hw.gpu_type, hw.hbm_gbps, hw.bf16_tflops)
    print(
        "Assumptions (evallaunch/planning/replica_cost.py, throughput.py, bench/gpu/workload.py):"
    )
    print(
        f"- GPU {gpu.name}: HBM {gpu.hbm_gbps:.0f} GB/s x {rc.MEMORY_EFFICIENCY} achieved, "
        f"{gpu.bf16_tflops:.0f} TFLOP/s bf16 dense x MFU {rc.DECODE_MFU} (decode), "
        f"{rc.PREFILL_MFU} (prefill)"
    )
    print(
        f"- step overhead: {rc.STEP_BASE_S * 1e3:.1f} ms + {rc.STEP_PER_SEQUENCE_S * 1e6:.0f} "
        f"us/sequence + per layer {rc.GRAPH_LAYER_S * 1e6:.0f} us (CUDA graphs, up to "
        f"{rc.GRAPH_MAX_BATCH} sequences) or {rc.EAGER_LAYER_S * 1e6:.0f} us (eager, "
        f"calibrated); TP > 1: per layer {rc.TP_LAYER_S * 1e6:.0f} us + 2 all-reduces of "
        f"batch x hidden x 2 B at {rc.ALLREDUCE_GBPS:.0f} GB/s"
    )
    print(
        f"- engine start: {rc.ENGINE_INIT_S:.0f} s + weights/GPU at {rc.LOAD_GBPS:g} GB/s + "
        f"compile & graphs {rc.COMPILE_BASE_S:.0f} s + {rc.COMPILE_PER_LAYER_S} s/layer "
        f"(not in eager mode) + Ray {rc.RAY_START_S:.0f} s (harness DP path)"
    )
    print(
        f"- open-r1: lighteval vLLM, eager, max_num_seqs {LIGHTEVAL_SLOTS}, "
        f"gpu_memory_utilization {OPEN_R1_UTILIZATION}, GPUs from open_r1_rule, prompts "
        "dealt round-robin over DP replicas (n samples of a prompt together), Ray for DP > 1"
    )
    print(
        f"- evallaunch: the plan's TP x DP and max_num_seqs ({tp.SLOT_MARGIN} x the "
        "sequences the KV cache holds at the mean context), CUDA graphs; one queue in front "
        "of the replicas, each running up to max_num_seqs; auto units of >= "
        f"{MIN_AUTO_PROBLEMS} problems x {SAMPLES_PER_UNIT} samples (UNIT_FILL "
        f"{tp.UNIT_FILL}), units_to_fill in flight (BACKLOG {eng.BACKLOG}, at most "
        f"{eng.MAX_UNITS_IN_FLIGHT}), {SETUP_S:g} s of client setup before a unit's requests "
        f"and {SCORE_S:g} s of scoring after; old: units of 32 x 16 one after another, eager, "
        "engines reloaded per unit (+ Ray) when DP > 1"
    )
    print(
        f"- difficulty: Beta(kappa={wl.KAPPA}) around open-r1's published pass@1 "
        f"(evallaunch/collect/data/reference/open_r1.yaml; aime25 = aime24 x {wl.AIME25_VS_AIME24})"
    )
    print(
        f"- lengths: lognormal, sample spread {wl.SAMPLE_SIGMA}, problem spread "
        f"{wl.PROBLEM_SIGMA}, cap {wl.MAX_NEW_TOKENS}; " + wl.LENGTH_SOURCES
    )
    print(
        "- right-answer median per benchmark (7B; x model factor "
        + ", ".join(f"{m.split('_', 2)[-1]} {f}" for m, (_, f) in wl.MODELS.items())
        + "): "
        + ", ".join(
            f"{b} {wl.right_median(b):.0f} (mean {wl.mean_new_tokens(b)})" for b in wl.BENCHMARKS
        )
    )


def schedules(pairs: list[Pair]) -> list[dict]:
    """Per pair: the ideal, evallaunch, open-r1 and the old units (fixed n)."""
    rows = []
    for pair in pairs:
        ev = setup(pair, pair.plan, None, graphs=True, ray=False)
        ideal = pol.ideal(ev, pair.requests())
        ours = evallaunch_run(pair, ev)
        lay = open_r1_layout(pair)
        theirs = pol.static(
            setup(pair, lay, LIGHTEVAL_SLOTS, False, lay.dp > 1),
            pair.requests(),
            pair.problems.prompt,
        )
        old = pol.barriers(
            setup(pair, pair.plan, None, False, pair.plan.dp > 1),
            pair.requests(),
            pair.problems.prompt,
            *OLD_UNIT,
        )
        c = client(pair, ev, min(SAMPLES_PER_UNIT, pair.n), False)
        rows.append(
            {
                "model": pair.model,
                "benchmark": pair.benchmark,
                "plan": f"TP{pair.plan.tp}xDP{pair.plan.dp} x{pair.plan.max_num_seqs}",
                "units": f"{c.per_unit}x{c.samples_per_unit} x{c.in_flight}",
                "estimate_min": pair.plan.estimated_hours * 60 / SAFETY_FACTOR,
                "ideal_min": ideal.wall_s / 60,
                "evallaunch_min": ours.wall_s / 60,
                "ratio": ideal.wall_s / ours.wall_s,
                "preempted": ours.preempted,
                "open_r1_min": theirs.wall_s / 60,
                "open_r1_gpus": lay.total_gpus,
                "old_min": old.wall_s / 60,
                "gpus": pair.plan.total_gpus,
                "open_r1_hours": theirs.gpu_hours,
                "evallaunch_hours": ours.gpu_hours,
                "old_hours": old.gpu_hours,
                "tokens": float(pair.length[:, : pair.n].mean()),
                "truncated": float((pair.length[:, : pair.n] >= wl.MAX_NEW_TOKENS).mean()),
            }
        )
    return rows


def print_schedules(rows: list[dict]) -> None:
    print(
        "\nSchedules (minutes of wall time, engine starts included; units: problems x "
        "samples x units in flight; preempted: preemptions per request; plan est.: the "
        f"planner's estimate without its {SAFETY_FACTOR}x margin):"
    )
    head = [
        "model",
        "benchmark",
        "plan",
        "units",
        "mean tok",
        "trunc",
        "ideal",
        "evallaunch",
        "/ideal",
        "target",
        "preempted",
        "open-r1 (GPUs)",
        "old units",
        "plan est.",
    ]
    table = [
        [
            r["model"].removeprefix("r1_distill_"),
            r["benchmark"],
            r["plan"],
            r["units"],
            f"{r['tokens']:.0f}",
            f"{r['truncated']:.1%}",
            f"{r['ideal_min']:.1f}",
            f"{r['evallaunch_min']:.1f}",
            f"{r['ratio']:.3f}",
            "ok" if r["ratio"] >= TARGET else "MISSED",
            f"{r['preempted']:.3f}",
            f"{r['open_r1_min']:.1f} ({r['open_r1_gpus']})",
            f"{r['old_min']:.1f}",
            f"{r['estimate_min']:.1f}",
        ]
        for r in rows
    ]
    print(common.table(head, table))


def unit_search(pairs: list[Pair], rows: list[dict]) -> list[dict]:
    """Worst evallaunch/ideal ratio per (UNIT_FILL, BACKLOG), fixed n and the plan's
    engines (the ideal does not depend on them)."""
    ideal = {id(p): row["ideal_min"] * 60 for p, row in zip(pairs, rows, strict=True)}
    saved = tp.UNIT_FILL, eng.BACKLOG
    out = []
    try:
        for fill in FILLS:
            for backlog in BACKLOGS:
                tp.UNIT_FILL, eng.BACKLOG = fill, backlog
                ratios = [
                    ideal[id(p)] / evallaunch_run(p, setup(p, p.plan, None, True, False)).wall_s
                    for p in pairs
                ]
                out.append(
                    {
                        "fill": fill,
                        "backlog": backlog,
                        "worst": min(ratios),
                        "ok": sum(r >= TARGET for r in ratios),
                    }
                )
    finally:
        tp.UNIT_FILL, eng.BACKLOG = saved
    print(
        f"\nUnit sizes (auto units hold UNIT_FILL x replicas x max_num_seqs sequences, at "
        f"least {MIN_AUTO_PROBLEMS} problems; units_to_fill keeps BACKLOG x the slots of "
        "requests in flight, at least 2 units):"
    )
    print(
        common.table(
            ["UNIT_FILL", "BACKLOG", f"pairs >= {TARGET}", "worst /ideal"],
            [
                [f"{r['fill']:g}", r["backlog"], f"{r['ok']}/{len(pairs)}", f"{r['worst']:.3f}"]
                for r in out
            ],
        )
    )
    print(f"in use: UNIT_FILL {tp.UNIT_FILL:g}, BACKLOG {eng.BACKLOG}")
    return out


def layout_check(pairs: list[Pair]) -> list[dict]:
    """The planner's layout against every other single-node layout, simulated (the ideal
    schedule): the planner's time over the fastest simulated layout's."""
    out: list[dict[str, Any]] = []
    for pair in pairs:
        times = {}
        for tpsize in (1, 2, 4, 8):
            try:
                lay = forced(pair, tensor_parallel_size=tpsize, pipeline_parallel_size=1)
            except Exception:  # an invalid TP for the heads, or no room for one sequence
                continue
            s = setup(pair, lay, None, True, False)
            times[f"TP{tpsize}x{lay.dp}"] = pol.ideal(s, pair.requests()).wall_s
        chosen = f"TP{pair.plan.tp}x{pair.plan.dp}"
        best = min(times, key=lambda k: times[k])
        out.append(
            {
                "model": pair.model,
                "benchmark": pair.benchmark,
                "chosen": chosen,
                "best": best,
                "ratio": times[chosen] / times[best],
                "times": {k: v / 60 for k, v in times.items()},
            }
        )
    print("\nLayouts: each single-node TP x DP simulated with the ideal schedule (minutes):")
    print(
        common.table(
            ["model", "benchmark", "planned", "fastest simulated", "planned / fastest", "all"],
            [
                [
                    r["model"].removeprefix("r1_distill_"),
                    r["benchmark"],
                    r["chosen"],
                    r["best"],
                    f"{r['ratio']:.3f}",
                    " ".join(f"{k} {v:.1f}" for k, v in r["times"].items()),
                ]
                for r in out
            ],
        )
    )
    return out


def margin_check(pairs: list[Pair]) -> list[dict]:
    """Ideal throughput and preemptions per request per SLOT_MARGIN (the plan's slots)."""
    saved, out = tp.SLOT_MARGIN, []
    try:
        for margin in MARGINS:
            tp.SLOT_MARGIN = margin
            hours = pre = requests = worst = 0.0
            for pair in pairs:
                layout = pair.replan()
                result = pol.ideal(setup(pair, layout, None, True, False), pair.requests())
                hours += result.gpu_hours
                pre += result.preemptions
                requests += result.requests
                worst = max(worst, result.preempted)
            out.append(
                {"margin": margin, "hours": hours, "preempted": pre / requests, "worst": worst}
            )
    finally:
        tp.SLOT_MARGIN = saved
    base = next(r["hours"] for r in out if r["margin"] == saved)
    print(
        "\nSlots: max_num_seqs = SLOT_MARGIN x the sequences the KV cache holds at the mean "
        "context; the suite's ideal GPU-hours and vLLM preemptions (recomputed sequences):"
    )
    print(
        common.table(
            [
                "SLOT_MARGIN",
                "GPU-hours (ideal)",
                f"/ at {saved:g}",
                "preemptions per request",
                "worst pair",
            ],
            [
                [
                    f"{r['margin']:g}",
                    f"{r['hours']:.1f}",
                    f"{r['hours'] / base:.3f}",
                    f"{r['preempted']:.3f}",
                    f"{r['worst']:.2f}",
                ]
                for r in out
            ],
        )
    )
    return out


def main() -> None:
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=400, help="Monte Carlo seeds of the search")
    args = p.parse_args()
    clock = time.perf_counter()
    models = list(wl.MODELS)
    benchmarks = list(wl.BENCHMARKS)
    if args.quick:
        models, benchmarks = ["r1_distill_qwen_7b", "r1_distill_llama_70b"], ["aime24", "math_500"]
        args.seeds = min(args.seeds, 150)
    pairs = load_pairs(models, benchmarks)
    print_assumptions(pairs[0].hardware)
    points = calib.calibrate(pairs, 3 if args.quick else 8)
    fit = calib.print_points(points)
    rows = schedules(pairs)
    print_schedules(rows)
    units = unit_search(pairs, rows)
    layouts = layout_check(pairs)
    margins = margin_check(pairs)
    rules = adaptive_rules(pairs, models, benchmarks, args.seeds, rows)
    suite.print_adaptive(rules)
    hours = suite.suite(pairs, rules["neyman"], rows)
    suite.print_suite(hours)
    old = sum(r["old_hours"] for r in rows)
    ours = hours[suite.STEPS[-2]]
    print(
        f"\nevallaunch's old schedule (units of {OLD_UNIT[0]} x {OLD_UNIT[1]} one after "
        f"another, eager, engines reloaded per unit on the Ray path): {old:.1f} GPU-hours, "
        f"{old / ours:.1f}x the new schedule's {ours:.1f} (fixed n)"
    )
    lever_rows = levers.suite_rows(
        pairs, rules["neyman"], hours[suite.STEPS[-1]], hours[suite.SHARED_ENGINES]
    )
    levers.print_rows(lever_rows, hours[suite.STEPS[0]])
    print(f"simulated in {time.perf_counter() - clock:.0f} s")
    print_ratios(rows, hours, layouts, old / ours)
    print_lever_ratios(lever_rows, hours[suite.STEPS[0]], points)
    common.emit(
        "gpu_schedule",
        {
            "calibration": {"points": points, "fit": fit},
            "levers": lever_rows,
            "pairs": rows,
            "units": units,
            "layouts": layouts,
            "margins": margins,
            "suite_gpu_hours": hours,
            "old_gpu_hours": old,
            "adaptive": {
                rule: {b: c.rule.label() for b, c in chosen.items()}
                for rule, chosen in rules.items()
            },
        },
        args.json,
    )


def adaptive_rules(
    pairs: list[Pair], models: list[str], benchmarks: list[str], seeds: int, rows: list[dict]
) -> dict[str, dict[str, ga.Choice]]:
    """Per stopping rule, each benchmark's adaptive settings picked by the Monte Carlo
    search over its pairs."""
    return {
        rule: {
            b: suite.pick(
                [p for p in pairs if p.benchmark == b],
                ga.options(b, models, seeds, rule),
                rows,
                4 * seeds,
            )
            for b in benchmarks
        }
        for rule in ga.RULES
    }


def print_ratios(
    rows: list[dict],
    hours: dict[str, float],
    layouts: list[dict],
    old_over_new: float,
) -> None:
    """The worst pair against the ideal schedule, the suite against open-r1's, the planned
    layouts against the fastest simulated, the old units and the calibration."""
    worst = min(rows, key=lambda r: r["ratio"])
    verdict = "ok" if worst["ratio"] >= TARGET else "MISSED"
    print(
        f"RATIO evallaunch/ideal throughput, worst pair: {worst['ratio']:.3f} "
        f"({worst['model']} {worst['benchmark']}; target {TARGET}: {verdict}; "
        f"{sum(r['ratio'] >= TARGET for r in rows)}/{len(rows)} pairs ok)"
    )
    theirs, built = hours[suite.STEPS[0]], hours[suite.STEPS[-1]]
    shared = hours[suite.SHARED_ENGINES]
    print(
        f"RATIO suite GPU-hours evallaunch/open-r1: {built / theirs:.3f} (target 0.333: "
        f"{'ok' if built / theirs <= 1 / 3 else 'MISSED'}); with one job per model sharing "
        f"its engines (launch.benchmarks_per_job=5): {shared / theirs:.3f}"
    )
    print(
        "RATIO planned layout / fastest simulated, worst pair: "
        f"{max(r['ratio'] for r in layouts):.3f}"
    )
    print(f"RATIO old units/new schedule GPU-hours: {old_over_new:.1f}")


def print_lever_ratios(rows: list[dict], open_r1: float, points: list[dict]) -> None:
    """Each lever's and combination's suite GPU-hours against open-r1's; each calibration
    point's residual."""
    for r in rows[1:]:
        verdict = "ok" if r["hours"] / open_r1 <= 1 / 3 else "MISSED"
        tag = f" (target 0.333: {verdict})" if r.get("combined") else ""
        print(f"RATIO suite GPU-hours/open-r1, {r['name']}: {r['hours'] / open_r1:.3f}{tag}")
    for p in points:
        model = ""
        if p["model_residual"]:
            model = f", model {p['model_residual_before']:.2f} -> {p['model_residual']:.2f}"
        print(
            f"RATIO calibration simulated/published (before -> after x{tp.TIME_SCALE:g}), "
            f"{p['point']}: {p['sim_residual_before']:.2f} -> {p['sim_residual']:.2f}{model}"
        )


if __name__ == "__main__":
    main()
