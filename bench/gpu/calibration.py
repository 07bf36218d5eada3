"""The time model against published timings (helper of bench/gpu/schedule.py): each point's
workload and engines as published, simulated (sim.py) and estimated (the planner's
formula, evallaunch.planning.throughput.estimate_job), compared with the published time:
its residual (simulated / published) before and after throughput.TIME_SCALE, the fitted
scale, and how far the points disagree with each other.

Points:
- lighteval PR 698: "~2k total completions [...] For a 7B model this takes about 15' on
  1 node with DP=8" (said of GPQA Diamond n=8 and MATH-500 n=4; the planner's
  throughput.CALIBRATION reads it as AIME 2024 n=64, printed as a third reading).
- evalchemy's Capella benchmark: OpenThinker-7B on LiveCodeBench, AIME24, AIME25, AMC23,
  GPQADiamond and MATH500 with vLLM, one engine per shard: 1 shard 5:18:37 (5.3 GPU-hours),
  8 shards 5.9 GPU-hours (slowest shard 1:03:20).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from bench import common
from bench.gpu import policies as pol
from bench.gpu import workload as wl
from bench.gpu.jobs import LIGHTEVAL_SLOTS, OPEN_R1_UTILIZATION, Pair, forced, load_pairs, setup
from evallaunch.planning import throughput as tp
from evallaunch.planning.inputs import PlanRequest
from evallaunch.planning.planner import plan

MODEL = "r1_distill_qwen_7b"
LIGHTEVAL_URL = "https://github.com/huggingface/lighteval/pull/698"
EVALCHEMY_URL = (
    "https://github.com/mlfoundations/evalchemy/blob/main/eval/distributed/SETUP_CAPELLA.md"
)
EVALCHEMY_TASKS_URL = "https://github.com/mlfoundations/evalchemy/tree/a0dbbcb/eval/chat_benchmarks"
# evalchemy at a0dbbcb (2025-03-12, the benchmark's day): task, our profile, problems,
# samples (n_repeat), length factor vs the profile; in the launch command's order.
EVALCHEMY = (
    ("LiveCodeBench release_v2", "lcb_codegen", 511, 3, 1.0),
    ("AIME24", "aime24", 30, 5, 1.0),
    ("AIME25", "aime25", 30, 5, 1.0),
    ("AMC23", "math_500", 40, 5, 1.7),
    ("GPQADiamond", "gpqa_diamond", 198, 3, 1.0),
    ("MATH500", "math_500", 500, 1, 1.0),
)
EVALCHEMY_SLOTS = 256  # vLLM's default max_num_seqs; evalchemy sets only utilization 0.9
CAPELLA_GB = 94.0  # Capella's H100 (94 GB HBM); peak figures of the H100 table otherwise


def lighteval_point(pair: Pair, n: int, draws: int) -> dict:
    """lighteval's DP=8 run (eager, 128 slots, utilization 0.8, Ray, static split)."""
    layout = forced(
        pair,
        strategy="auto",
        tensor_parallel_size=1,
        data_parallel_size=8,
        gpu_memory_utilization=OPEN_R1_UTILIZATION,
    )
    s = setup(pair, layout, LIGHTEVAL_SLOTS, graphs=False, ray=True)
    sims = []
    for seed in range(draws):
        probs = wl.problems(pair.model, pair.benchmark, seed=seed)
        correct, length = wl.draw(probs, n, seed=100 + seed)
        sims.append(pol.static(s, pol.requests_of(probs.prompt, length, correct), probs.prompt))
    count = len(pair.problems.rate)
    est = tp.estimate_job(
        s.model,
        8,
        LIGHTEVAL_SLOTS,
        s.capacity,
        count * n,
        float(wl.mean_new_tokens(pair.benchmark)),
        wl.MAX_NEW_TOKENS,
        ray=True,
        busiest_replica_requests=math.ceil(count / 8) * n,
    )
    return {
        "point": f"lighteval PR 698, 7B {pair.benchmark} n={n} ({count * n} completions), DP=8",
        "url": LIGHTEVAL_URL,
        "published": "about 15 min on 1 node with DP=8",
        "published_min": 15.0,
        "sim_min": float(np.mean([o.wall_s for o in sims])) / 60,
        "model_min": est.total_s / 60,
        "reading": pair.benchmark,
    }


def _evalchemy_requests(seed: int = 0) -> list:
    """The six tasks' requests, problem ids made unique, in the launch order."""
    out: list = []
    offset = 0
    for _, profile, count, n, factor in EVALCHEMY:
        parts = [wl.problems(MODEL, profile, seed=k) for k in range(math.ceil(count / 200) + 1)]
        rate = np.concatenate([p.rate for p in parts])[:count]
        prompt = np.concatenate([p.prompt for p in parts])[:count]
        median = np.concatenate([p.median for p in parts])[:count] * factor
        probs = wl.Problems(rate, prompt, median)
        correct, length = wl.draw(probs, n, seed=200 + seed)
        for r in pol.requests_of(probs.prompt, length, correct):
            out.append(replace(r, rid=len(out), problem=r.problem + offset))
        offset += count
    return out


def evalchemy_points(pair: Pair) -> list[dict]:
    """One H100 per shard, vLLM defaults (CUDA graphs, 256 slots, utilization 0.9); the
    dataset cut in contiguous shards (datasets' Dataset.shard)."""
    hw = replace(pair.hardware, gpu_memory_gb=CAPELLA_GB, gpus_per_node=1)
    req = PlanRequest(
        **{
            **pair.request.__dict__,
            "tensor_parallel_size": 1,
            "data_parallel_size": 1,
            "gpu_memory_utilization": 0.9,
            "max_num_seqs": EVALCHEMY_SLOTS,
        }
    )
    layout = plan(pair.facts, hw, req)
    s = setup(pair, layout, EVALCHEMY_SLOTS, graphs=True, ray=False)
    requests = _evalchemy_requests()
    one = pol.ideal(s, [replace(r) for r in requests])
    mean = float(np.mean([r.length for r in requests]))
    est = tp.estimate_job(s.model, 1, s.slots, s.capacity, len(requests), mean, wl.MAX_NEW_TOKENS)
    shards = [
        pol.ideal(s, [replace(r) for r in part]) for part in np.array_split(np.array(requests), 8)
    ]
    base = {"url": EVALCHEMY_URL}
    return [
        {
            **base,
            "point": f"evalchemy, OpenThinker-7B, 6 tasks ({len(requests)} completions), 1 shard",
            "published": "5:18:37 on 1 H100 (5.3 GPU-hours)",
            "published_min": 5 * 60 + 18 + 37 / 60,
            "sim_min": one.wall_s / 60,
            "model_min": est.total_s / 60,
            "mean_tokens": mean,
        },
        {
            **base,
            "point": "evalchemy, the same, 8 shards: GPU-hours (sum over shards)",
            "published": "5.9 GPU-hours",
            "published_min": 5.9 * 60,
            "sim_min": sum(o.wall_s for o in shards) / 60,
            "model_min": None,
        },
        {
            **base,
            "point": "evalchemy, the same, 8 shards: slowest shard",
            "published": "1:03:20",
            "published_min": 63 + 20 / 60,
            "sim_min": max(o.wall_s for o in shards) / 60,
            "model_min": None,
        },
    ]


def calibrate(pairs: list[Pair], draws: int) -> list[dict]:
    """Every point with its residuals (simulated / published, model / published)."""
    have = {(p.model, p.benchmark): p for p in pairs}
    for bench in ("math_500", "gpqa_diamond", "aime24"):
        if (MODEL, bench) not in have:
            have[(MODEL, bench)] = load_pairs([MODEL], [bench])[0]
    points = [
        lighteval_point(have[(MODEL, "math_500")], 4, draws),
        lighteval_point(have[(MODEL, "gpqa_diamond")], 8, draws),
        lighteval_point(have[(MODEL, "aime24")], 64, draws),
        *evalchemy_points(have[(MODEL, "aime24")]),
    ]
    for p in points:
        # The simulation's and the planner's minutes include TIME_SCALE (policies.Outcome,
        # JobEstimate.total_s); divided by it, the model's own time before the fit.
        p["sim_residual"] = p["sim_min"] / p["published_min"]
        p["sim_residual_before"] = p["sim_residual"] / tp.TIME_SCALE
        p["model_residual"] = p["model_min"] / p["published_min"] if p["model_min"] else None
        p["model_residual_before"] = (
            p["model_residual"] / tp.TIME_SCALE if p["model_residual"] else None
        )
    return points


def _geomean(values: list[float]) -> float:
    return math.exp(float(np.mean([math.log(v) for v in values])))


def fit(points: list[dict]) -> dict:
    """The time scale that centres the simulated residuals (published / simulated, geometric
    mean over the points), the one applied (TIME_SCALE), the residuals' geometric mean and
    spread (1 sd, as a factor) after it, and how far the points disagree with each other."""
    before = [p["sim_residual_before"] for p in points]
    after = [p["sim_residual"] for p in points]
    lighteval = {p["reading"]: p["sim_residual"] for p in points if p.get("reading")}
    evalchemy = [p["sim_residual"] for p in points if not p.get("reading")]
    model_after = [p["model_residual"] for p in points if p["model_residual"]]
    return {
        "fitted_scale": 1 / _geomean(before),
        "applied_scale": tp.TIME_SCALE,
        "geomean_before": _geomean(before),
        "geomean_after": _geomean(after),
        "model_geomean_after": _geomean(model_after),
        "spread": math.exp(float(np.std([math.log(v) for v in after]))),
        "lighteval_readings": lighteval,
        "lighteval_disagreement": max(lighteval.values()) / min(lighteval.values()),
        "evalchemy_disagreement": max(evalchemy) / min(evalchemy),
        "aime24_vs_evalchemy": lighteval.get("aime24", 1.0) / _geomean(evalchemy),
        "math_500_vs_evalchemy": lighteval.get("math_500", 1.0) / _geomean(evalchemy),
        "scale_without_aime24": 1
        / _geomean([p["sim_residual_before"] for p in points if p.get("reading") != "aime24"]),
    }


def print_points(points: list[dict]) -> dict:
    """The points' table (residuals before and after TIME_SCALE), citations, the fit and
    the points' disagreements; returns `fit`."""
    print(
        "\nCalibration against published timings (residual: simulated or modeled / published;"
        " 1.00 is exact; the model is the planner's formula; 'before': the throughput model's"
        f" own time, 'after': x throughput.TIME_SCALE = {tp.TIME_SCALE:g}):"
    )
    print(
        "- workloads: lighteval: R1-Distill-Qwen-7B, open-r1's settings, as in the schedules; "
        "evalchemy: OpenThinker-7B (Qwen2.5-7B shape: R1-Distill-Qwen-7B's config) with "
        "R1-Distill-Qwen-7B's lengths per task (AMC23: MATH-500's x 1.7, assumed; LiveCodeBench "
        "release_v2: 511 problems), temperature 0.7, n_repeat and max_new_tokens 32768 from "
        f"{EVALCHEMY_TASKS_URL}; Capella H100 {CAPELLA_GB:g} GB, vLLM defaults "
        f"(max_num_seqs {EVALCHEMY_SLOTS}, CUDA graphs), utilization 0.9"
    )

    def residual(value: float | None) -> str:
        return f"{value:.2f}" if value else "-"

    rows = [
        [
            p["point"],
            p["published"],
            f"{p['sim_min']:.1f}",
            residual(p["sim_residual_before"]),
            residual(p["sim_residual"]),
            f"{p['model_min']:.1f}" if p["model_min"] else "-",
            residual(p["model_residual_before"]),
            residual(p["model_residual"]),
        ]
        for p in points
    ]
    head = [
        "point",
        "published",
        "simulated min (after)",
        "sim/pub before",
        "sim/pub after",
        "model min (after)",
        "model/pub before",
        "model/pub after",
    ]
    print(common.table(head, rows))
    for p in points:
        print(f'- {p["point"]}: {p["url"]}, published "{p["published"]}"')
    f = fit(points)
    readings = ", ".join(f"{k} {v:.2f}" for k, v in f["lighteval_readings"].items())
    print(
        f"fit: published / simulated, geometric mean over the {len(points)} points: "
        f"x{f['fitted_scale']:.2f}; applied: throughput.TIME_SCALE = {f['applied_scale']:g} "
        "(to the simulated minutes here and in every table of this script, and to the "
        "planner's estimate, JobEstimate.total_s). Residuals' geometric mean: "
        f"{f['geomean_before']:.2f} before, {f['geomean_after']:.2f} after (the planner's "
        f"formula: {f['model_geomean_after']:.2f} after); spread left: a factor of "
        f"{f['spread']:.2f} (1 sd of the log residuals)."
    )
    print(
        "- one common factor on time: ratios of times and GPU-hours between schedules, "
        "layouts and levers (every other RATIO line) are the same with or without it."
    )
    print(
        f"- the points disagree: lighteval's one figure (~15 min) read three ways gives "
        f"{readings} after the fit, a factor of {f['lighteval_disagreement']:.1f} apart: it "
        "cannot be both the MATH-500 n=4 and the AIME 2024 n=64 run, at most one reading is "
        f"right. evalchemy's three points agree within x{f['evalchemy_disagreement']:.2f} "
        "(the 1-shard run; the 8-shard run as GPU-hours and as its slowest shard). "
        "lighteval's AIME reading is "
        f"x{f['aime24_vs_evalchemy']:.1f} evalchemy's residual, its MATH-500 reading "
        f"x{f['math_500_vs_evalchemy']:.1f}: the fit sits between them, evalchemy's points "
        "(exact clock times) still below 1, the AIME reading well above; without the AIME "
        f"reading the fit would be x{f['scale_without_aime24']:.2f}."
    )
    return f
