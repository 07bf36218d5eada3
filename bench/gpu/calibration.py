"""The time model against published timings (helper of bench/gpu/schedule.py): each point's
workload and engines as published, simulated (sim) and estimated (the planner's
formula, evallaunch.planning.throughput.estimate_job), with its residual.

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
        p["sim_residual"] = p["sim_min"] / p["published_min"]
        p["model_residual"] = p["model_min"] / p["published_min"] if p["model_min"] else None
    return points


def print_points(points: list[dict]) -> dict:
    """The points' table, citations and the time scale a refit would need (not applied:
    the constants are evallaunch.planning.throughput's)."""
    print(
        "\nCalibration against published timings (residual: simulated or modeled / published;"
        " 1.00 is exact; the model is the planner's formula):"
    )
    print(
        "- workloads: lighteval: R1-Distill-Qwen-7B, open-r1's settings, as in the schedules; "
        "evalchemy: OpenThinker-7B (Qwen2.5-7B shape: R1-Distill-Qwen-7B's config) with "
        "R1-Distill-Qwen-7B's lengths per task (AMC23: MATH-500's x 1.7, assumed; LiveCodeBench "
        "release_v2: 511 problems), temperature 0.7, n_repeat and max_new_tokens 32768 from "
        f"{EVALCHEMY_TASKS_URL}; Capella H100 {CAPELLA_GB:g} GB, vLLM defaults "
        f"(max_num_seqs {EVALCHEMY_SLOTS}, CUDA graphs), utilization 0.9"
    )
    rows = [
        [
            p["point"],
            p["published"],
            f"{p['sim_min']:.1f}",
            f"{p['sim_residual']:.2f}",
            f"{p['model_min']:.1f}" if p["model_min"] else "-",
            f"{p['model_residual']:.2f}" if p["model_residual"] else "-",
        ]
        for p in points
    ]
    head = ["point", "published", "simulated min", "sim/pub", "model min", "model/pub"]
    print(common.table(head, rows))
    for url in dict.fromkeys(p["url"] for p in points):
        print(f"- source: {url}")
    logs = [math.log(p["sim_residual"]) for p in points]
    scale = math.exp(-float(np.mean(logs)))
    spread = float(np.std(logs))
    print(
        f"a common time scale of x{scale:.2f} on the simulation would zero the mean log "
        f"residual; the points would still spread by a factor of {math.exp(spread):.2f} (1 "
        "sd): not applied, the constants live in evallaunch/planning/throughput.py"
    )
    return {"scale": scale, "spread": math.exp(spread)}
