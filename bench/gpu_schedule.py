"""A job's schedule on GPU nodes, simulated from first principles: evallaunch vs the ideal,
open-r1 (lighteval) and evallaunch's old unit schedule; then the open-r1 suite in GPU-hours.

Plans come from `evallaunch plan`'s code (SweepComposer + plan_request + plan) on
cluster=slurm_h100_example with parallelism=auto and the server backend (vLLM replicas),
model facts from tests/data/model_configs. Replica step times, prefill and engine starts
come from evallaunch.planning.throughput; the engines from gpu_sim (continuous batching,
KV-cache admission and preemption), the request routing from gpu_policies, the workload
(difficulty, lengths, adaptive sampling) from gpu_workload. Everything printed is a model:
the assumptions are printed first. Runs in seconds, no GPU, no model.

Targets: evallaunch >= 0.95 x the ideal's throughput for every benchmark x model pair;
the suite in a third of open-r1's GPU-hours.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import common
import gpu_adaptive as ga
import gpu_policies as pol
import gpu_workload as wl
import numpy as np

from evallaunch.engine import MIN_AUTO_PROBLEMS, EngineSettings, resolve_problems_per_unit
from evallaunch.planning import throughput as tp
from evallaunch.planning.jobs import hardware_from, plan_request
from evallaunch.planning.model_facts import ModelFacts, load_model_facts
from evallaunch.planning.planner import (
    SAFETY_FACTOR,
    Hardware,
    Plan,
    PlanRequest,
    open_r1_rule,
    plan,
)
from evallaunch.planning.sweep_plan import SweepComposer

CONFIGS = common.REPO / "tests" / "data" / "model_configs"
CLUSTER = ["cluster=slurm_h100_example", "parallelism=auto", "backend=lighteval_server"]
OPEN_R1_UTILIZATION = 0.8  # open-r1's Makefile / README model args
LIGHTEVAL_SLOTS = 128  # lighteval's VLLMModelConfig.max_num_seqs default
OLD_UNIT = (32, 16)  # evallaunch's old default units: problems x samples
SAMPLES_PER_UNIT = 16
UNITS_IN_FLIGHT = 2
TARGET = 0.95
CALIBRATION_PAIR = ("r1_distill_qwen_7b", "aime24")
FILLS = (1.0, 2.0, 4.0, 8.0)
WINDOW = 4.0  # the proposed schedule: units in flight holding WINDOW x the slots


@dataclass
class Pair:
    """One benchmark x model: its facts, plans and drawn samples."""

    model: str
    benchmark: str
    facts: ModelFacts
    hardware: Hardware
    plan: Plan
    request: PlanRequest
    problems: wl.Problems
    correct: np.ndarray
    length: np.ndarray

    @property
    def n(self) -> int:
        return wl.BENCHMARKS[self.benchmark][0]

    def requests(self, counts: np.ndarray | None = None) -> list:
        """Fresh requests: the first n samples of each problem, or `counts[j]` of problem j
        (samples are drawn up to twice n, the largest adaptive budget)."""
        if counts is None:
            counts = np.full(self.length.shape[0], self.n)
        length = self.length.copy()
        length[np.arange(length.shape[1])[None, :] >= counts[:, None]] = 0
        return pol.requests_of(self.problems.prompt, length, self.correct)


def load_pairs(models: list[str], benchmarks: list[str]) -> list[Pair]:
    """Plans through `evallaunch plan`'s code; a benchmark's jobs differ only in the
    model's name_or_path (the R1-Distill conf/model files agree on every other key)."""
    composer = SweepComposer()
    pairs = []
    for bench in benchmarks:
        for model in models:
            hub = f"model.name_or_path=deepseek-ai/{wl.MODELS[model][0]}"
            cfg, hw = composer.compose([*CLUSTER, f"model={models[0]}", hub, f"benchmark={bench}"])
            facts = load_model_facts(CONFIGS / wl.MODELS[model][0])
            hardware = hardware_from(hw)
            request = plan_request(cfg, facts)  # type: ignore[arg-type]
            probs = wl.problems(model, bench)
            correct, length = wl.draw(probs, 2 * wl.BENCHMARKS[bench][0], seed=7)
            layout = plan(facts, hardware, request)
            pairs.append(
                Pair(model, bench, facts, hardware, layout, request, probs, correct, length)
            )
    return pairs


def setup(pair: Pair, layout: Plan, slots: int | None, graphs: bool, ray: bool) -> pol.Setup:
    """Engines of `layout` (a Plan) with the given slots (None: the plan's) and mode."""
    gpu = tp.gpu_spec(pair.hardware.gpu_type, pair.hardware.hbm_gbps, pair.hardware.bf16_tflops)
    model = tp.replica_model(pair.facts, gpu, layout.gpus_per_replica, cuda_graphs=graphs)
    capacity = layout.kv_cache_gb_per_gpu * tp.GB * layout.gpus_per_replica
    capacity /= model.kv_bytes_per_token
    return pol.Setup(model, layout.dp, slots or layout.max_num_seqs, capacity, ray)


def open_r1_layout(pair: Pair) -> Plan:
    """open-r1's GPUs (planner.open_r1_rule) with its memory setting, planned for the KV."""
    rule = open_r1_rule(pair.facts)
    hw = Hardware(**{**pair.hardware.__dict__, "gpus_per_node": rule["gpus"]})
    req = PlanRequest(
        **{
            **pair.request.__dict__,
            "strategy": "auto",
            "tensor_parallel_size": rule["tp"],
            "data_parallel_size": rule["dp"],
            "gpu_memory_utilization": OPEN_R1_UTILIZATION,
        }
    )
    return plan(pair.facts, hw, req)


def per_unit(pair: Pair, s: pol.Setup, samples_per_unit: int) -> int:
    """Problems per unit of sampling.problems_per_unit=auto (evallaunch.engine's resolver,
    with throughput.UNIT_FILL as it stands)."""
    engine = EngineSettings(replicas=s.replicas, max_num_seqs=s.slots)
    problems = wl.BENCHMARKS[pair.benchmark][1]
    return resolve_problems_per_unit("auto", engine, samples_per_unit, problems)


def evallaunch_run(
    pair: Pair,
    s: pol.Setup,
    window: float | None = None,
    counts: np.ndarray | None = None,
    samples_per_unit: int = SAMPLES_PER_UNIT,
) -> pol.Outcome:
    """evallaunch's schedule; `window`: units in flight sized to hold window x slots
    requests, at most the slots' worth outstanding (instead of UNITS_IN_FLIGHT units)."""
    spu = min(samples_per_unit, pair.n)
    ppu = per_unit(pair, s, spu)
    adaptive = counts is not None
    if window is None:
        return pol.units(s, pair.requests(counts), ppu, spu, UNITS_IN_FLIGHT, adaptive)
    slots = s.replicas * s.slots
    in_flight = max(UNITS_IN_FLIGHT, math.ceil(window * slots / (ppu * spu)) + 1)
    return pol.units(s, pair.requests(counts), ppu, spu, in_flight, adaptive, slots)


def fmt_min(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def print_assumptions(hw: Hardware) -> None:
    gpu = tp.gpu_spec(hw.gpu_type, hw.hbm_gbps, hw.bf16_tflops)
    print("Assumptions (evallaunch/planning/throughput.py, bench/gpu_workload.py):")
    print(
        f"- GPU {gpu.name}: HBM {gpu.hbm_gbps:.0f} GB/s x {tp.MEMORY_EFFICIENCY} achieved, "
        f"{gpu.bf16_tflops:.0f} TFLOP/s bf16 dense x MFU {tp.DECODE_MFU} (decode), "
        f"{tp.PREFILL_MFU} (prefill); table: "
        + ", ".join(
            f"{k} {v.hbm_gbps:.0f} GB/s {v.bf16_tflops:.0f} TFLOP/s"
            for k, v in tp.GPU_SPECS.items()
        )
    )
    print(
        f"- step overhead: {tp.STEP_BASE_S * 1e3:.1f} ms + {tp.STEP_PER_SEQUENCE_S * 1e6:.0f} "
        f"us/sequence + per layer {tp.GRAPH_LAYER_S * 1e6:.0f} us (CUDA graphs) or "
        f"{tp.EAGER_LAYER_S * 1e6:.0f} us (eager, calibrated) + {tp.TP_LAYER_S * 1e6:.0f} "
        "us (all-reduces, TP > 1)"
    )
    print(
        f"- engine start: {tp.ENGINE_INIT_S:.0f} s + weights/GPU at {tp.LOAD_GBPS:g} GB/s + "
        f"compile & graphs {tp.COMPILE_BASE_S:.0f} s + {tp.COMPILE_PER_LAYER_S} s/layer "
        f"(not in eager mode) + Ray {tp.RAY_START_S:.0f} s (harness DP path)"
    )
    print(
        f"- open-r1: lighteval vLLM, eager, max_num_seqs {LIGHTEVAL_SLOTS}, "
        f"gpu_memory_utilization {OPEN_R1_UTILIZATION}, GPUs from open_r1_rule, prompts "
        "dealt round-robin over DP replicas (n samples of a prompt together), Ray for DP > 1"
    )
    print(
        f"- evallaunch: plan's TP x DP and max_num_seqs, CUDA graphs, {UNITS_IN_FLIGHT} units "
        f"in flight of auto problems x {SAMPLES_PER_UNIT} samples (UNIT_FILL {tp.UNIT_FILL}), "
        "least-connections balancer; old: units of 32 x 16 one after another, eager, "
        "engines reloaded per unit (+ Ray) when DP > 1"
    )
    print(
        f"- difficulty: Beta(kappa={wl.KAPPA}) around open-r1's published pass@1 "
        f"(conf/reference/open_r1.yaml; aime25 = aime24 x {wl.AIME25_VS_AIME24})"
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


def calibration(pair: Pair, draws: int = 8) -> dict:
    """lighteval's own DP=8 run of the 7B model on AIME 2024 (tp.CALIBRATION), simulated on
    `draws` sets of problems (30 problems split over 8 replicas: the busiest one decides)."""
    req = PlanRequest(
        **{
            **pair.request.__dict__,
            "strategy": "auto",
            "tensor_parallel_size": 1,
            "data_parallel_size": 8,
            "gpu_memory_utilization": OPEN_R1_UTILIZATION,
        }
    )
    layout = plan(pair.facts, pair.hardware, req)
    s = setup(pair, layout, LIGHTEVAL_SLOTS, graphs=False, ray=True)
    sims = []
    for seed in range(draws):
        probs = wl.problems(pair.model, pair.benchmark, seed=seed)
        correct, length = wl.draw(probs, 64, seed=100 + seed)
        reqs = pol.requests_of(probs.prompt, length, correct)
        sims.append(pol.static(s, reqs, probs.prompt).wall_s / 60)
    busiest = math.ceil(30 / 8) * 64
    est = tp.estimate_job(
        s.model,
        8,
        LIGHTEVAL_SLOTS,
        s.capacity,
        1920,
        float(wl.mean_new_tokens("aime24")),
        wl.MAX_NEW_TOKENS,
        ray=True,
        busiest_replica_requests=busiest,
    )
    reported = float(tp.CALIBRATION["reported_min"])
    print(
        f"\nCalibration: {tp.CALIBRATION['model']} {tp.CALIBRATION['benchmark']}, "
        f"{tp.CALIBRATION['setup']}: reported ~{reported:g} min; throughput model (the "
        f"planner's formula) {est.total_s / 60:.1f} min; simulated "
        f"{np.mean(sims):.1f} min (range {min(sims):.1f}-{max(sims):.1f} over {draws} draws "
        f"of the problems); MEMORY_EFFICIENCY {tp.MEMORY_EFFICIENCY}"
    )
    return {
        "reported_min": reported,
        "model_min": est.total_s / 60,
        "sim_min": float(np.mean(sims)),
        "sim_range": [min(sims), max(sims)],
    }


def schedules(pairs: list[Pair]) -> list[dict]:
    """Per pair: the ideal, evallaunch (as designed and with a window), open-r1, old."""
    rows = []
    for pair in pairs:
        ev = setup(pair, pair.plan, None, graphs=True, ray=False)
        ideal = pol.ideal(ev, pair.requests())
        ours = evallaunch_run(pair, ev)
        window = evallaunch_run(pair, ev, window=WINDOW)
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
        rows.append(
            {
                "model": pair.model,
                "benchmark": pair.benchmark,
                "plan": f"TP{pair.plan.tp}xDP{pair.plan.dp} x{pair.plan.max_num_seqs}",
                "estimate_min": pair.plan.estimated_hours * 60 / SAFETY_FACTOR,
                "ideal_min": ideal.wall_s / 60,
                "evallaunch_min": ours.wall_s / 60,
                "ratio": ideal.wall_s / ours.wall_s,
                "window_ratio": ideal.wall_s / window.wall_s,
                "open_r1_min": theirs.wall_s / 60,
                "open_r1_gpus": lay.total_gpus,
                "old_min": old.wall_s / 60,
                "gpus": pair.plan.total_gpus,
                "open_r1_hours": theirs.gpu_hours,
                "evallaunch_hours": ours.gpu_hours,
                "old_hours": old.gpu_hours,
                "tokens": float(pair.length[:, : pair.n].mean()),
                "truncated": float((pair.length[:, : pair.n] >= wl.MAX_NEW_TOKENS).mean()),
                "pass": float(pair.correct[:, : pair.n].mean()),
            }
        )
    return rows


def print_schedules(rows: list[dict]) -> None:
    print(
        f"\nSchedules (minutes of wall time, engine starts included; evallaunch: "
        f"{UNITS_IN_FLIGHT} units in flight; window: units holding {WINDOW:g} x the slots, "
        "the slots' worth outstanding; plan est.: the planner's estimate without its "
        f"{SAFETY_FACTOR}x margin):"
    )
    head = [
        "model",
        "benchmark",
        "plan",
        "mean tok",
        "trunc",
        "ideal",
        "evallaunch",
        "/ideal",
        "target",
        "window /ideal",
        "open-r1 (GPUs)",
        "old units",
        "plan est.",
    ]
    table = [
        [
            r["model"].removeprefix("r1_distill_"),
            r["benchmark"],
            r["plan"],
            f"{r['tokens']:.0f}",
            f"{r['truncated']:.1%}",
            fmt(r["ideal_min"]),
            fmt(r["evallaunch_min"]),
            f"{r['ratio']:.3f}",
            "ok" if r["ratio"] >= TARGET else "MISSED",
            f"{r['window_ratio']:.3f}",
            f"{fmt(r['open_r1_min'])} ({r['open_r1_gpus']})",
            fmt(r["old_min"]),
            fmt(r["estimate_min"]),
        ]
        for r in rows
    ]
    print(common.table(head, table))


def fmt(minutes: float) -> str:
    return f"{minutes:.1f}"


def fill_search(pairs: list[Pair], rows: list[dict]) -> tuple[float, list[dict]]:
    """Worst evallaunch/ideal ratio per UNIT_FILL, with UNITS_IN_FLIGHT units and with the
    window; the smallest fill reaching TARGET on every pair whose unit is not capped at all
    its problems (a larger fill cannot help those), else the fill doing best."""
    ideal = {id(p): row["ideal_min"] * 60 for p, row in zip(pairs, rows, strict=True)}
    saved, out = tp.UNIT_FILL, []
    try:
        for fill in FILLS:
            tp.UNIT_FILL = fill
            result = {"fill": fill, "worst": 1e9, "worst_capped": 1e9, "ok": 0, "window": 1e9}
            for p in pairs:
                s = setup(p, p.plan, None, True, False)
                ratio = ideal[id(p)] / evallaunch_run(p, s).wall_s
                window = ideal[id(p)] / evallaunch_run(p, s, WINDOW).wall_s
                spu = min(SAMPLES_PER_UNIT, p.n)
                capped = fill * s.replicas * s.slots > wl.BENCHMARKS[p.benchmark][1] * spu
                key = "worst_capped" if capped else "worst"
                result[key] = min(result[key], ratio)
                result["ok"] += ratio >= TARGET
                result["window"] = min(result["window"], window)
            out.append(result)
    finally:
        tp.UNIT_FILL = saved
    fits = [r["fill"] for r in out if r["worst"] >= TARGET]
    chosen = min(fits) if fits else max(out, key=lambda r: r["worst"])["fill"]
    windowed = min([r["fill"] for r in out if r["window"] >= TARGET] or [math.nan])
    print(
        f"\nUNIT_FILL (auto units hold fill x replicas x max_num_seqs sequences, at least "
        f"{MIN_AUTO_PROBLEMS} problems):"
    )
    print(
        common.table(
            [
                "UNIT_FILL",
                f"pairs >= {TARGET} ({UNITS_IN_FLIGHT} in flight)",
                "worst /ideal",
                "worst /ideal, unit = all problems",
                f"worst /ideal, window {WINDOW:g}",
            ],
            [
                [
                    f"{r['fill']:g}",
                    f"{r['ok']}/{len(pairs)}",
                    f"{r['worst']:.3f}",
                    f"{r['worst_capped']:.3f}" if r["worst_capped"] < 1e9 else "-",
                    f"{r['window']:.3f}",
                ]
                for r in out
            ],
        )
    )
    print(
        f"chosen with {UNITS_IN_FLIGHT} units in flight: {chosen:g} (the smallest fill with "
        f"every uncapped pair >= {TARGET}, else the best); with the window: {windowed:g}; "
        f"throughput.UNIT_FILL = {tp.UNIT_FILL:g}"
    )
    return chosen, out


def proposed_slots(pair: Pair, layout: Plan) -> int:
    """Slots that use the whole KV cache at the benchmark's mean completion
    (throughput.kv_slots), never fewer than the plan's full-length fit."""
    s = setup(pair, layout, None, True, False)
    mean = tp.expected_new_tokens(wl.mean_new_tokens(pair.benchmark), wl.MAX_NEW_TOKENS)
    return max(layout.max_num_seqs, tp.kv_slots(s.capacity, mean))


STEPS = (
    "open-r1 (lighteval: eager, 128 slots, static split, Ray, fixed n)",
    "+ CUDA graphs",
    "+ slots from the plan",
    "+ dynamic balancing (units, least-connections)",
    "+ GPU layout of the plan",
    "+ engine starts (one per replica, no Ray)",
    "+ adaptive sampling",
)
PROPOSED = (
    "proposed: units in flight holding WINDOW x the slots",
    "proposed: + slots from the KV cache at the mean length",
    "proposed: + one job per model, its benchmarks sharing the engines (fixed n)",
)


def suite(pairs: list[Pair], rules: dict[str, ga.Choice], rows: list[dict]) -> dict[str, float]:
    """GPU-hours of the whole suite, open-r1's schedule turned into evallaunch's one
    ingredient at a time (each step keeps the previous ones); `rows` (from `schedules`)
    hold the first and the sixth step."""
    hours = dict.fromkeys(STEPS + PROPOSED, 0.0)
    for pair, row in zip(pairs, rows, strict=True):
        lay = open_r1_layout(pair)
        ray = lay.dp > 1
        rule = rules[pair.benchmark].rule
        counts = wl.drawn_counts(np.cumsum(pair.correct, axis=-1), rule)
        spu = rule.samples_per_unit
        ours = setup(pair, pair.plan, None, True, False)
        kv = setup(pair, pair.plan, proposed_slots(pair, pair.plan), True, False)
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
            evallaunch_run(pair, ours, counts=counts, samples_per_unit=spu).gpu_hours,
            evallaunch_run(pair, ours, WINDOW, counts, spu).gpu_hours,
            evallaunch_run(pair, kv, WINDOW, counts, spu).gpu_hours,
        ]
        for name, value in zip(STEPS + PROPOSED[:-1], runs, strict=True):
            hours[name] += value
    for model in dict.fromkeys(p.model for p in pairs):
        hours[PROPOSED[-1]] += one_job(model, [p for p in pairs if p.model == model])
    return hours


def one_job(model: str, pairs: list[Pair]) -> float:
    """GPU-hours of one job running all of a model's benchmarks through the same engines
    (the layout of its largest job, KV-sized slots, units in flight holding WINDOW x the
    slots): one engine start and one tail instead of one per benchmark."""
    big = max(pairs, key=lambda p: len(p.problems.rate) * p.n)
    requests, offset = [], 0
    for pair in pairs:
        for request in pair.requests():
            request.problem += offset
            request.rid = len(requests)
            requests.append(request)
        offset += len(pair.problems.rate)
    mean = float(np.mean([r.length for r in requests]))
    s = setup(big, big.plan, None, True, False)
    s = pol.Setup(
        s.model, s.replicas, max(big.plan.max_num_seqs, tp.kv_slots(s.capacity, mean)), s.capacity
    )
    engine = EngineSettings(replicas=s.replicas, max_num_seqs=s.slots)
    ppu = resolve_problems_per_unit("auto", engine, SAMPLES_PER_UNIT, offset)
    units = math.ceil(WINDOW * s.replicas * s.slots / (ppu * SAMPLES_PER_UNIT)) + 1
    slots = s.replicas * s.slots
    return pol.units(s, requests, ppu, SAMPLES_PER_UNIT, units, False, slots).gpu_hours


def print_suite(hours: dict[str, float], rules: dict[str, ga.Choice]) -> None:
    base = next(iter(hours.values()))
    print(
        "\nThe suite (5 benchmarks x 6 models) in GPU-hours, open-r1's schedule turned into "
        "evallaunch's one ingredient at a time:"
    )
    rows, previous = [], base
    for name, value in hours.items():
        if name == PROPOSED[0]:
            previous = hours[STEPS[-1]]
        rows.append([name, f"{value:.1f}", f"x{previous / value:.2f}", f"{value / base:.3f}"])
        previous = value
    print(common.table(["schedule", "GPU-hours", "factor", "/ open-r1"], rows))
    print(
        "\nAdaptive settings per benchmark (fewest tokens with every model's seed-to-seed sd "
        "of pass@1 at most open-r1's fixed-n sd; checked on fresh seeds):"
    )
    print(
        common.table(
            [
                "benchmark",
                "settings (sampling.adaptive=true)",
                "tokens / fixed n",
                "sd / fixed-n sd (per model)",
                "samples per problem",
            ],
            [
                [
                    c.benchmark,
                    c.rule.label(),
                    f"{c.tokens_ratio:.3f}",
                    " ".join(f"{v:.2f}" for v in c.sd_ratio.values()),
                    " ".join(f"{v:.1f}" for v in c.samples.values()),
                ]
                for c in rules.values()
            ],
        )
    )


def main() -> None:
    p = common.parser(__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=150, help="Monte Carlo seeds of the search")
    args = p.parse_args()
    clock = time.perf_counter()
    models = list(wl.MODELS)
    benchmarks = list(wl.BENCHMARKS)
    if args.quick:
        models, benchmarks = ["r1_distill_qwen_7b", "r1_distill_llama_70b"], ["aime24", "math_500"]
    pairs = load_pairs(models, benchmarks)
    print_assumptions(pairs[0].hardware)
    cal = calibration(next(x for x in pairs if (x.model, x.benchmark) == CALIBRATION_PAIR))
    rows = schedules(pairs)
    print_schedules(rows)
    fill, fills = fill_search(pairs, rows)
    rules = {b: ga.choose(b, models, args.seeds, 4 * args.seeds) for b in benchmarks}
    hours = suite(pairs, rules, rows)
    print_suite(hours, rules)
    old = sum(r["old_hours"] for r in rows)
    ours, theirs = hours[STEPS[-2]], hours[STEPS[0]]
    best = hours[PROPOSED[-1]]
    worst = min(rows, key=lambda r: r["ratio"])
    window = min(r["window_ratio"] for r in rows)
    print(
        f"\nevallaunch's old schedule (units of {OLD_UNIT[0]} x {OLD_UNIT[1]} one after "
        f"another, eager, engines reloaded per unit on the Ray path): {old:.1f} GPU-hours, "
        f"{old / ours:.1f}x the new schedule's {ours:.1f} (fixed n)"
    )
    print(f"simulated in {time.perf_counter() - clock:.0f} s")
    verdict = "ok" if worst["ratio"] >= TARGET else "MISSED"
    print(
        f"RATIO evallaunch/ideal throughput, worst pair: {worst['ratio']:.3f} "
        f"({worst['model']} {worst['benchmark']}; target {TARGET}: {verdict}; "
        f"{sum(r['ratio'] >= TARGET for r in rows)}/{len(rows)} pairs ok)"
    )
    print(
        f"RATIO evallaunch with units in flight holding {WINDOW:g}x the slots / ideal, worst "
        f"pair: {window:.3f} ({'ok' if window >= TARGET else 'MISSED'})"
    )
    final = hours[STEPS[-1]]
    print(
        f"RATIO suite GPU-hours evallaunch/open-r1: {final / theirs:.3f} (target 0.333: "
        f"{'ok' if final / theirs <= 1 / 3 else 'MISSED'}); proposed schedule: "
        f"{best / theirs:.3f}"
    )
    print(f"RATIO old units/new schedule GPU-hours: {old / ours:.1f}")
    print(
        f"RATIO calibration model/reported: {cal['model_min'] / cal['reported_min']:.2f} "
        f"(simulated {cal['sim_min'] / cal['reported_min']:.2f})"
    )
    common.emit(
        "gpu_schedule",
        {
            "calibration": cal,
            "pairs": rows,
            "unit_fill": fill,
            "fills": fills,
            "suite_gpu_hours": hours,
            "old_gpu_hours": old,
            "adaptive": {b: c.rule.label() for b, c in rules.items()},
        },
        args.json,
    )


if __name__ == "__main__":
    main()
