"""The engine levers in the suite's GPU-hours (helper of bench/gpu/schedule.py): fp8 KV cache,
prefix caching, speculative decoding (n-gram) and one job per model sharing its engines,
each alone on top of evallaunch's schedule as built, then combined.

How each is modeled (the event simulation of sim.py, evallaunch's schedule of policies.py):
- fp8 KV: the plan with kv_cache_dtype=fp8 (the planner counts 1 byte per element: twice the
  KV tokens, slots replanned from them); a decode step still reads the cache at bf16 cost
  (vLLM's docs: no latency gain, dequantization not fused), or, the `fused` row, at half
  (FlashAttention 3 computes attention in fp8).
- prefix caching: every sample of a problem but the first reuses its prompt's KV blocks: no
  prefill, and only the prompt's last partial block (prompt mod 16 tokens) of its own.
- speculative decoding: each step verifies k drafted tokens per sequence, each accepted with
  probability a (independently), so a step yields tau = (1 - a^(k+1)) / (1 - a) tokens;
  simulated in units of tau tokens (lengths, prompts and KV capacity / tau, KV bytes per unit
  x tau), the step's compute (GEMMs, attention) x (k + 1), the memory term (weights, KV read
  once) unchanged, and the n-gram lookup on the host per sequence; k of KS, the fewest
  GPU-hours on the suite.
- shared engines: suite.one_job (launch.benchmarks_per_job: one Slurm job runs a
  model's benchmarks one after another on the servers the first one starts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bench import common
from bench.gpu import policies as pol
from bench.gpu import suite
from bench.gpu.jobs import Pair, client, forced, setup
from bench.gpu.sim import Request
from evallaunch.planning import replica_cost as rc

GB = 1e9
BLOCK = 16  # vLLM's KV block size (tokens): prefix caching shares whole blocks
KS = (1, 2, 4)  # drafted tokens per step tried (num_speculative_tokens): the fewest GPU-hours
ACCEPT = (0.17, 0.6)  # per drafted token, low and high: 1.2 and 2.3 tokens per step at k=4
NGRAM_HOST_S = 5e-6  # host time per sequence per step of the n-gram lookup (assumed)
SOURCES = (
    "fp8 KV, speed: vLLM docs, Quantized KV Cache "
    "(https://docs.vllm.ai/en/v0.11.2/features/quantization/quantized_kvcache/): "
    "'approximately double the amount of space for KV cache' and 'currently no latency "
    "improvements as the implementation does not yet include fused dequantization and "
    "attention'; latest docs: with FlashAttention 3, attention runs in fp8 "
    "(https://docs.vllm.ai/en/latest/features/quantization/quantized_kvcache/)",
    "fp8 KV, accuracy: Liu et al. 2025, 'Quantization Hurts Reasoning?' "
    "(https://arxiv.org/abs/2504.04823, COLM 2025): on R1-Distill-Qwen/Llama 1.5B-70B over "
    "AIME, MATH-500, GPQA and LiveCodeBench, 'lossless quantization can be achieved with "
    "W8A8' (their W8A8KV8 configurations, 8-bit KV cache included: "
    "https://github.com/ruikangliu/Quantized-Reasoning-Models); their KV8 is int8 with "
    "calibrated scales, not vLLM's fp8 e4m3 with per-tensor scales (1.0 unless calibrated): "
    "no published figure for that on reasoning traces was found",
    "speculative decoding, distribution: vLLM docs, 'Lossless guarantees of Speculative "
    "Decoding' (https://docs.vllm.ai/en/v0.17.0/features/speculative_decoding/): lossless "
    "up to hardware numerics, rejection sampler validated against the target distribution",
    "speculative decoding, tokens per step: no published acceptance figure was found for "
    "vLLM's n-gram proposer on R1-Distill traces at temperature 0.6; a = 0.17-0.6 gives the "
    "issue's 1.2-2.3 tokens per step at k=4; STAND (Song et al., "
    "https://arxiv.org/abs/2506.04708), a stochastic n-gram drafter on the samples of a "
    "problem, reports 60-65% lower latency in batch "
    "decoding on AIME-2024, GPQA-Diamond and LiveCodeBench (x2.5-2.9, not vLLM's n-gram)",
    "prefix caching: exact (the same KV blocks); on by default in vLLM's V1 engine, so "
    "open-r1 on vLLM >= 0.8 may already have it: the row is an upper bound of its gain",
)


@dataclass(frozen=True)
class Levers:
    fp8: bool = False
    fused: bool = False  # fp8 attention reads the cache at 1 byte per element
    prefix: bool = False
    accept: float = 0.0  # acceptance per drafted token (speculative decoding when > 0)
    k: int = 4  # drafted tokens per step

    @property
    def tau(self) -> float:
        """Tokens per step."""
        return sum(self.accept**i for i in range(self.k + 1)) if self.accept else 1.0


@dataclass(frozen=True)
class SpecModel(rc.ReplicaModel):
    """A replica whose unit of length is `tau` tokens: each step verifies k + 1 tokens per
    sequence and keeps `tau` of them."""

    tau: float = 1.0
    k: int = 4
    base: rc.ReplicaModel | None = None

    def step_lines(self, batch: int) -> tuple[float, tuple[tuple[float, float], ...]]:
        assert self.base is not None
        fixed, (memory, compute, launch) = self.base.step_lines(batch)
        comm = memory[0] - self.base.weight_bytes / self._bandwidth()
        width = self.k + 1
        gemm = (compute[0] - comm) * width + comm
        return fixed + NGRAM_HOST_S * batch, (
            (memory[0], memory[1] * self.tau),
            (gemm, compute[1] * self.tau * width),
            launch,
        )

    def _bandwidth(self) -> float:
        return self.gpus * self.gpu.hbm_gbps * GB * rc.MEMORY_EFFICIENCY

    def prefill_s(self, tokens: float) -> float:
        assert self.base is not None
        return self.base.prefill_s(tokens * self.tau)


def engines(pair: Pair, levers: Levers, plan: object | None = None) -> pol.Setup:
    """The plan's engines (or `plan`'s) with the levers' memory and step costs."""
    layout = plan or (forced(pair, kv_cache_dtype="fp8") if levers.fp8 else pair.plan)
    s = setup(pair, layout, None, True, False)  # type: ignore[arg-type]
    model, capacity = s.model, s.capacity
    if levers.fp8:
        capacity *= 2  # 1 byte per element
        if levers.fused:
            model = replace(model, kv_bytes_per_token=model.kv_bytes_per_token / 2)
    if levers.tau > 1:
        model = SpecModel(**model.__dict__, tau=levers.tau, k=levers.k, base=model)
        capacity /= levers.tau
    return pol.Setup(model, s.replicas, s.slots, capacity, s.ray)


def transform(requests: list[Request], levers: Levers) -> list[Request]:
    """The requests as the levers' engines see them (shared prompts, units of tau)."""
    out, seen = [], set()
    for r in requests:
        prompt = r.prompt
        if levers.prefix and r.problem in seen:
            prompt = max(prompt % BLOCK, 1)
        seen.add(r.problem)
        if levers.tau > 1:
            prompt = math.ceil(prompt / levers.tau)
            length = math.ceil(r.length / levers.tau)
        else:
            length = r.length
        out.append(Request(r.rid, r.problem, prompt, length, r.correct))
    return out


def run(pair: Pair, choice: object, levers: Levers) -> float:
    """GPU-hours of one job: evallaunch's schedule, the plan, the levers."""
    counts = suite.adaptive_counts(pair, choice)  # type: ignore[arg-type]
    spu = suite.adopted(choice).samples_per_unit  # type: ignore[arg-type]
    s = engines(pair, levers)
    spu = min(spu, pair.n if counts is None else int(counts.max()))
    reqs = transform(pair.requests(counts), levers)
    return pol.evallaunch(s, reqs, client(pair, s, spu, counts is not None)).gpu_hours


ROWS = {
    "fp8 KV cache (twice the KV tokens; reads at bf16 cost)": Levers(fp8=True),
    "fp8 KV cache, fused fp8 attention (reads halved)": Levers(fp8=True, fused=True),
    "prefix caching (a problem's samples share its prompt)": Levers(prefix=True),
}
SHARED = "one job per model, its 5 benchmarks sharing one set of engines (benchmarks_per_job=5)"


def best_k(pairs: list[Pair], rules: dict, base: Levers) -> tuple[Levers, float]:
    """The k of KS with the fewest suite GPU-hours, with them."""
    tried = [replace(base, k=k) for k in KS]
    hours = [_total(pairs, rules, levers) for levers in tried]
    best = min(range(len(KS)), key=lambda i: hours[i])
    return tried[best], hours[best]


def suite_rows(pairs: list[Pair], rules: dict, built: float, shared: float) -> list[dict]:
    """GPU-hours per lever and combination, the base being evallaunch as built."""
    rows = [{"name": "evallaunch as built (the suite's last built step)", "hours": built}]
    for name, levers in ROWS.items():
        rows.append({"name": "+ " + name, "hours": _total(pairs, rules, levers)})
    spec = []
    for accept in ACCEPT:
        levers, hours = best_k(pairs, rules, Levers(accept=accept))
        spec.append(levers)
        label = f"a={accept}: best k={levers.k}, {levers.tau:.2f} tokens/step"
        rows.append({"name": f"+ speculative decoding, n-gram ({label})", "hours": hours})
    rows.append({"name": "+ " + SHARED, "hours": shared})
    exact, exact_hours = best_k(pairs, rules, replace(spec[0], prefix=True))
    rows.append(
        {
            "name": f"combined, exact only: prefix caching + n-gram (a={exact.accept}, "
            f"k={exact.k})",
            "hours": exact_hours,
            "combined": True,
        }
    )
    fp8, fp8_hours = best_k(pairs, rules, replace(exact, fp8=True))
    rows.append(
        {"name": f"combined + fp8 KV cache (k={fp8.k})", "hours": fp8_hours, "combined": True}
    )
    rows.append(
        {
            "name": "combined + fp8 KV + shared engines (their factor applied)",
            "hours": fp8_hours * shared / built,
            "combined": True,
        }
    )
    high, high_hours = best_k(pairs, rules, replace(fp8, accept=ACCEPT[1], fused=True))
    rows.append(
        {
            "name": f"upper end: fused fp8 KV + prefix + n-gram (a={high.accept}, k={high.k})"
            " + shared engines",
            "hours": high_hours * shared / built,
            "combined": True,
        }
    )
    return rows


def _total(pairs: list[Pair], rules: dict, levers: Levers) -> float:
    return sum(run(p, rules[p.benchmark], levers) for p in pairs)


def print_rows(rows: list[dict], open_r1: float) -> None:
    print(
        "\nEngine levers, each alone on top of evallaunch as built, then combined "
        "(GPU-hours of the suite; / open-r1: against open-r1's simulated GPU-hours):"
    )
    for line in SOURCES:
        print("- source: " + line)
    base = rows[0]["hours"]
    table = [
        [
            r["name"],
            f"{r['hours']:.1f}",
            f"x{base / r['hours']:.2f}",
            f"{r['hours'] / open_r1:.3f}",
            "no" if r.get("built") is False else "yes",
        ]
        for r in rows
    ]
    head = ["lever", "GPU-hours", "vs built", "/ open-r1", "built"]
    print(common.table(head, table))
