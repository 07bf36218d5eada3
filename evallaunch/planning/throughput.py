"""Time of a job's generation on its replicas: the throughput of continuous batching (vLLM),
each replica's steps and start costed by `evallaunch.planning.replica_cost`.

The completion lengths are lognormal (LENGTH_SIGMA) around the benchmark's mean; each
replica runs as many sequences as its slots and KV cache hold at the time-weighted mean
context (`estimate_job`). A replica's slots (`engine_slots`) and the job's units
(`auto_problems_per_unit`) are sized to keep the engines full.

replica_cost's MEMORY_EFFICIENCY and EAGER_LAYER_S were set on one reading of one public
point: with them, lighteval's own schedule (DP=8, eager, 128 slots, open-r1's settings) of
DeepSeek-R1-Distill-Qwen-7B on AIME 2024 (30 x 64 completions, mean 11,000 tokens) takes
about 15 minutes on one 8 x H100 node before TIME_SCALE (CALIBRATION; `tests/test_throughput.py`
checks it within 25%). Against every published timing found (bench/gpu/calibration.py:
that figure read three ways, and evalchemy's OpenThinker-7B runs on 1 and 8 H100s) the
model is faster than measured: a job's estimated time (`JobEstimate.total_s`) is the
model's time x TIME_SCALE, the factor that centres those residuals (geometric mean 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evallaunch.planning.replica_cost import ReplicaModel

DEFAULT_PROMPT_TOKENS = 300
LENGTH_SIGMA = 0.6  # spread (log-space) of completion lengths, for the time-weighted context
DEFAULT_MEAN_FRACTION = 0.35  # expected completion / max_new_tokens when no mean is known
REFERENCE_MAX_NEW_TOKENS = 32768  # benchmark.mean_new_tokens is measured at this cap
TAIL_LENGTH_FACTOR = 3.0  # the longest samples, as a multiple of the mean (at most the cap)
TAIL_SHARE = 0.75  # ... of which this share runs after the bulk, nearly alone
# The engine's slots (max_num_seqs): SLOT_MARGIN x the sequences its KV cache holds at the
# mean context, so that the cache rarely fills up (vLLM then preempts and recomputes a
# sequence) even where a model writes longer than the benchmark's mean_new_tokens;
# bench/gpu/schedule.py weighs GPU-hours against preemptions. Within MIN/MAX_ENGINE_SLOTS.
SLOT_MARGIN = 0.8
MIN_ENGINE_SLOTS = 16
MAX_ENGINE_SLOTS = 1024
# auto units hold UNIT_FILL x (replicas x max_num_seqs) sequences; with units_to_fill's units
# in flight (evallaunch.engines.settings.BACKLOG) the engines stay full while one drains. The
# smallest value that keeps every simulated job within 0.95 of the ideal
# (bench/gpu/schedule.py): smaller units lose less work to a preemption.
UNIT_FILL = 4.0
# Wall time = the model's time x TIME_SCALE: the geometric mean of published / simulated over
# the six points of bench/gpu/calibration.py (python bench/gpu/schedule.py prints the fit,
# x2.19, and each point's residual before and after). One factor on the whole time: ratios
# of times and GPU-hours between layouts and schedules are unchanged, and the planner's
# choice of layout too. The points still spread by ~1.6x (1 sd) around it: lighteval's one
# figure read as MATH-500 n=4 or as AIME 2024 n=64 differs by 3.5x (bench/README.md).
TIME_SCALE = 2.2
# lighteval's maintainers: ~2k completions of a 7B R1-Distill in ~15 min, one 8-GPU node;
# the step constants (MEMORY_EFFICIENCY, EAGER_LAYER_S) reproduce it, read as below, before
# TIME_SCALE.
CALIBRATION = {
    "model": "DeepSeek-R1-Distill-Qwen-7B",
    "benchmark": "aime24 (30 problems x 64 samples)",
    "setup": "lighteval vLLM, DP=8 on 8 x H100-80GB, eager, max_num_seqs=128",
    "reported_min": 15.0,
}


def auto_problems_per_unit(
    replicas: int, max_num_seqs: int, samples_per_unit: int, num_problems: int
) -> int:
    """Problems per unit for `sampling.problems_per_unit=auto`: enough for UNIT_FILL x the
    engines' slots (replicas x max_num_seqs sequences), at least 1, at most all problems."""
    slots = max(replicas, 1) * max(max_num_seqs, 1)
    wanted = math.ceil(UNIT_FILL * slots / max(samples_per_unit, 1))
    return max(1, min(wanted, max(num_problems, 1)))


def capped_mean(mean: float, cap: float, sigma: float = LENGTH_SIGMA) -> float:
    """E[min(L, cap)] for a lognormal length L of the given mean and log-space spread."""
    if mean <= 0 or cap <= 0:
        return 0.0
    mu = math.log(mean) - sigma * sigma / 2
    z = (math.log(cap) - mu) / sigma
    below = mean * _phi(z - sigma)
    return below + cap * (1 - _phi(z))


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def expected_new_tokens(mean_new_tokens: int | None, max_new_tokens: int) -> float:
    """Expected completion length: the benchmark's `mean_new_tokens` (measured at
    REFERENCE_MAX_NEW_TOKENS) cut at a smaller max_new_tokens; without it,
    DEFAULT_MEAN_FRACTION x max_new_tokens."""
    if not mean_new_tokens:
        return DEFAULT_MEAN_FRACTION * max_new_tokens
    if max_new_tokens >= REFERENCE_MAX_NEW_TOKENS:
        return float(mean_new_tokens)
    return capped_mean(float(mean_new_tokens), float(max_new_tokens))


@dataclass(frozen=True)
class JobEstimate:
    """Time of a job's generation on its replicas (seconds): the model's parts, and their
    calibrated sum `total_s`."""

    start_s: float
    decode_s: float
    tail_s: float
    batch: float  # sequences each replica runs in the steady state

    @property
    def model_s(self) -> float:
        """The throughput model's time, before TIME_SCALE."""
        return self.start_s + self.decode_s + self.tail_s

    @property
    def total_s(self) -> float:
        """The expected wall time: the model's x TIME_SCALE (calibrated)."""
        return TIME_SCALE * self.model_s


def estimate_job(
    model: ReplicaModel,
    replicas: int,
    slots: int,
    kv_capacity_tokens: float,
    requests: int,
    mean_new_tokens: float,
    max_new_tokens: int,
    prompt_tokens: float = DEFAULT_PROMPT_TOKENS,
    ray: bool = False,
    busiest_replica_requests: int | None = None,
) -> JobEstimate:
    """Wall time of `requests` completions on `replicas` replicas started once (in parallel).

    Steady state: each replica runs as many sequences as its slots and KV cache hold at the
    time-weighted mean context (prompt + mean x (1 + CV^2) / 2 for lognormal lengths of
    spread LENGTH_SIGMA); the busiest replica's share of tokens (an even share, unless given)
    at that rate, plus its prefills; then a tail while the longest samples finish.
    """
    share = busiest_replica_requests or math.ceil(requests / max(replicas, 1))
    context = mean_context(mean_new_tokens, prompt_tokens)
    batch = max(min(float(slots), kv_capacity_tokens / context, float(share)), 1.0)
    step = model.decode_step_s(round(batch), batch * context)
    decode = share * mean_new_tokens * step / batch + share * model.prefill_s(prompt_tokens)
    longest = min(float(max_new_tokens), mean_new_tokens * TAIL_LENGTH_FACTOR)
    tail = TAIL_SHARE * longest * model.decode_step_s(1, prompt_tokens + longest / 2)
    return JobEstimate(model.start_s(ray), decode, tail, batch)


def mean_context(mean_new_tokens: float, prompt_tokens: float = DEFAULT_PROMPT_TOKENS) -> float:
    """Time-weighted mean context of a running sequence: prompt + E[L^2] / (2 E[L]) =
    prompt + mean x (1 + CV^2) / 2 for lognormal lengths of spread LENGTH_SIGMA."""
    cv2 = math.exp(LENGTH_SIGMA**2) - 1
    return prompt_tokens + mean_new_tokens * (1 + cv2) / 2


def kv_slots(
    kv_capacity_tokens: float, mean_new_tokens: float, prompt_tokens: float = DEFAULT_PROMPT_TOKENS
) -> int:
    """Sequences a replica's KV cache holds at the mean context (`mean_context`): slots that
    use the whole cache, where a full-length fit leaves most of it empty (vLLM preempts a
    sequence if the cache fills up)."""
    return max(1, int(kv_capacity_tokens / mean_context(mean_new_tokens, prompt_tokens)))


def engine_slots(
    kv_capacity_tokens: float, mean_new_tokens: float, prompt_tokens: float = DEFAULT_PROMPT_TOKENS
) -> int:
    """max_num_seqs of a replica: SLOT_MARGIN x `kv_slots` (vLLM allocates KV blocks as
    sequences grow, so full-length sequences are the wrong unit), within MIN_ENGINE_SLOTS
    (unless the cache holds fewer at the mean context) and MAX_ENGINE_SLOTS."""
    held = kv_slots(kv_capacity_tokens, mean_new_tokens, prompt_tokens)
    return max(min(MIN_ENGINE_SLOTS, held), min(int(SLOT_MARGIN * held), MAX_ENGINE_SLOTS))
