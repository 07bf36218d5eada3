"""Throughput model: step times, job estimates, the calibration point, auto unit sizes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from evallaunch.planning import Hardware, PlanRequest, load_model_facts, plan
from evallaunch.planning import replica_cost as rc
from evallaunch.planning import throughput as tp

CONFIGS = Path(__file__).parent / "data" / "model_configs"
H100 = Hardware(gpu_type="H100-80GB", gpu_memory_gb=80, gpus_per_node=8)


def replica(name: str = "DeepSeek-R1-Distill-Qwen-7B", gpus: int = 1, graphs: bool = True):
    facts = load_model_facts(CONFIGS / name)
    return rc.replica_model(facts, rc.gpu_spec("H100-80GB"), gpus, cuda_graphs=graphs)


def test_gpu_table_lookup_and_overrides() -> None:
    assert rc.gpu_spec("NVIDIA H100 80GB HBM3") == rc.GpuSpec("NVIDIA H100 80GB HBM3", 3350, 989)
    assert rc.gpu_spec("a100-sxm4-80gb").hbm_gbps == 2039
    assert rc.gpu_spec("H200").hbm_gbps == 4800
    assert rc.gpu_spec("fake-80GB").bf16_tflops == 989  # unknown: H100's figures
    assert rc.gpu_spec("H100", hbm_gbps=2000).hbm_gbps == 2000


def test_step_time_grows_with_batch_and_kv_cache() -> None:
    model = replica()
    steps = [model.decode_step_s(b, b * 4000) for b in (1, 8, 64, 256)]
    assert steps == sorted(steps) and steps[0] < steps[-1]
    assert model.decode_step_s(32, 1e5) < model.decode_step_s(32, 1e6)
    # ... but tokens per second grow with the batch (the weights are read once a step).
    rates = [b / model.decode_step_s(b, b * 4000) for b in (1, 8, 64, 256)]
    assert rates == sorted(rates)
    # Memory-bound at batch 1: at least the weights over the bandwidth.
    floor = model.weight_bytes / (3350e9 * rc.MEMORY_EFFICIENCY)
    assert model.decode_step_s(1, 100) > floor


def test_eager_mode_costs_most_where_steps_are_short() -> None:
    for name, gpus in (("DeepSeek-R1-Distill-Qwen-1.5B", 1), ("DeepSeek-R1-Distill-Llama-70B", 8)):
        graphs, eager = replica(name, gpus, True), replica(name, gpus, False)
        small = eager.decode_step_s(1, 1000) / graphs.decode_step_s(1, 1000)
        large = eager.decode_step_s(128, 1e6) / graphs.decode_step_s(128, 1e6)
        assert small > 1.2 and small >= large >= 1.0
    assert replica(graphs=True).start_s() > replica(graphs=False).start_s()  # capture time
    assert replica().start_s(ray=True) == replica().start_s() + rc.RAY_START_S


def test_job_estimate_is_monotonic() -> None:
    model = replica()

    def minutes(**kw: float) -> float:
        args = {"replicas": 8, "slots": 64, "kv_capacity_tokens": 9e5, "requests": 1920}
        args.update(kw)
        return tp.estimate_job(
            model,
            int(args["replicas"]),
            int(args["slots"]),
            args["kv_capacity_tokens"],
            int(args["requests"]),
            args.get("mean", 10000.0),
            32768,
        ).total_s

    assert minutes(replicas=4) > minutes() > minutes(replicas=16)
    assert minutes(requests=3840) > minutes()
    assert minutes(mean=20000.0) > minutes() > minutes(mean=5000.0)
    assert minutes(slots=16) > minutes() >= minutes(slots=256)  # then the KV cache binds
    assert minutes(kv_capacity_tokens=2e5) > minutes()


def test_calibration_point() -> None:
    """lighteval's own run (tp.CALIBRATION): DP=8, eager, 128 slots, open-r1's memory
    setting, 30 AIME problems x 64 samples (the busiest replica holds 4 problems) of a mean
    11,000 tokens (conf/benchmark/aime24.yaml): the model's time (before TIME_SCALE, which
    bench/gpu/calibration.py fits to every published point) within 25% of the reported 15
    minutes."""
    facts = load_model_facts(CONFIGS / "DeepSeek-R1-Distill-Qwen-7B")
    request = PlanRequest(
        "bfloat16",
        32768,
        1920,
        30,
        64,
        32768,
        tensor_parallel_size=1,
        data_parallel_size=8,
        gpu_memory_utilization=0.8,
    )
    layout = plan(facts, H100, request)
    model = replica(graphs=False)
    capacity = layout.kv_cache_gb_per_gpu * 1e9 / model.kv_bytes_per_token
    estimate = tp.estimate_job(
        model, 8, 128, capacity, 1920, 11000, 32768, ray=True, busiest_replica_requests=4 * 64
    )
    reported = tp.CALIBRATION["reported_min"]
    assert estimate.model_s / 60 == pytest.approx(reported, rel=0.25)
    assert estimate.total_s == pytest.approx(tp.TIME_SCALE * estimate.model_s)
    assert estimate.batch < 128  # the KV cache, not the slots, binds


@pytest.mark.parametrize(
    ("replicas", "slots", "per_unit", "problems"),
    [(8, 64, 16, 500), (1, 1, 16, 500), (8, 512, 1, 30), (2, 37, 4, 1), (4, 28, 64, 198)],
)
def test_auto_problems_per_unit_bounds(
    replicas: int, slots: int, per_unit: int, problems: int
) -> None:
    got = tp.auto_problems_per_unit(replicas, slots, per_unit, problems)
    assert 1 <= got <= problems
    want = math.ceil(tp.UNIT_FILL * replicas * slots / per_unit)
    assert got == max(1, min(want, problems))
    # More slots never shrink a unit; more samples per problem never grow it.
    assert tp.auto_problems_per_unit(replicas, 2 * slots, per_unit, problems) >= got
    assert tp.auto_problems_per_unit(replicas, slots, 2 * per_unit, problems) <= got


def test_expected_completion_length() -> None:
    assert tp.expected_new_tokens(None, 32768) == tp.DEFAULT_MEAN_FRACTION * 32768
    assert tp.expected_new_tokens(11000, 32768) == 11000
    cut = tp.expected_new_tokens(11000, 4096)
    assert 0.5 * 4096 < cut < 4096  # most samples hit a 4k cap
    assert tp.expected_new_tokens(11000, 8192) > cut
    assert tp.kv_slots(1e6, 4000) > tp.kv_slots(1e6, 12000) >= 1


def test_engine_slots_use_the_cache_at_the_mean_context() -> None:
    held = tp.kv_slots(2e6, 4000)
    assert tp.engine_slots(2e6, 4000) == int(tp.SLOT_MARGIN * held) < held
    assert tp.engine_slots(1e9, 100) == tp.MAX_ENGINE_SLOTS
    # A small cache: the floor, or what it holds when that is less.
    assert tp.engine_slots(1.4e5, 11000) == tp.MIN_ENGINE_SLOTS < tp.kv_slots(1.4e5, 11000)
    assert tp.engine_slots(8e4, 11000) == tp.kv_slots(8e4, 11000) < tp.MIN_ENGINE_SLOTS


def test_all_reduces_cost_more_with_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    one, four = replica(gpus=1), replica(gpus=4)
    before = [m.decode_step_s(b, 1e5) for m in (one, four) for b in (8, 512)]
    monkeypatch.setattr(rc, "ALLREDUCE_GBPS", 1e9)  # all-reduces that move data for free
    after = [m.decode_step_s(b, 1e5) for m in (one, four) for b in (8, 512)]
    assert before[:2] == after[:2]  # one GPU: no all-reduce
    assert before[3] - after[3] > before[2] - after[2] > 0  # 4 GPUs: more with the batch


def test_plan_estimate_follows_the_expected_length() -> None:
    facts = load_model_facts(CONFIGS / "DeepSeek-R1-Distill-Qwen-7B")

    def hours(mean: int | None, cap: int = 32768) -> float:
        request = PlanRequest("bfloat16", 32768, 1920, 30, 64, cap, mean_new_tokens=mean)
        return plan(facts, H100, request).estimated_hours

    assert hours(4000) < hours(11000) < hours(20000)
    assert hours(None) == hours(round(tp.DEFAULT_MEAN_FRACTION * 32768))
    assert hours(11000, cap=4096) < hours(11000)
    # A 7B AIME 2024 job (30 x 64 samples) on one 8 x H100 node is well under an hour.
    assert hours(11000) < 0.75
