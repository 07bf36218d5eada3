"""Resource planner: model facts from config.json, hand-worked plans, and parity with open-r1.

Arithmetic in the comments (GB = 1e9 bytes): usable per GPU = gpu_memory_gb x 0.9 - (2 GB + 2%
of gpu_memory_gb): 68.4 GB on an 80 GB GPU, 12.08 GB on a 16 GB one, 5.04 GB on an 8 GB one.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from evallaunch.errors import EvallaunchError
from evallaunch.planning import (
    Hardware,
    ModelFacts,
    PlanRequest,
    format_plan_table,
    kv_cache_bytes_per_token,
    load_model_facts,
    open_r1_rule,
    parse_size_from_name,
    plan,
)
from evallaunch.planning.model_facts import known_architecture

CONFIGS = Path(__file__).parent / "data" / "model_configs"
H100 = Hardware(gpu_type="H100", gpu_memory_gb=80, gpus_per_node=8)
# Public parameter counts (model cards / Hub): total, active.
PUBLIC_SIZES = {
    "DeepSeek-R1-Distill-Qwen-1.5B": (1.78e9, None),  # incl. untied embeddings
    "DeepSeek-R1-Distill-Qwen-7B": (7.62e9, None),
    "DeepSeek-R1-Distill-Qwen-14B": (14.8e9, None),
    "DeepSeek-R1-Distill-Qwen-32B": (32.8e9, None),
    "DeepSeek-R1-Distill-Llama-8B": (8.03e9, None),
    "DeepSeek-R1-Distill-Llama-70B": (70.6e9, None),
    "Qwen2.5-72B-Instruct": (72.7e9, None),
    "Qwen3-30B-A3B": (30.5e9, 3.3e9),
    "SmolLM2-135M-Instruct": (135e6, None),
}


def facts(name: str) -> ModelFacts:
    return load_model_facts(CONFIGS / name)


def request(length: int = 32768, concurrent: int = 64, dtype: str = "bfloat16", **kw: Any):
    """500 prompts x 1 sample x up to 32k new tokens."""
    return PlanRequest(dtype, length, concurrent, 500, 1, 32768, **kw)


@pytest.mark.parametrize("name", PUBLIC_SIZES)
def test_architecture_count_matches_public_size(name: str, tmp_path: Path) -> None:
    shutil.copy(CONFIGS / name / "config.json", tmp_path / "config.json")  # no index: count
    got = load_model_facts(tmp_path, name=name)
    total, active = PUBLIC_SIZES[name]
    assert got.param_source == "architecture"
    assert got.num_params == pytest.approx(total, rel=0.03)
    assert got.num_active_params == pytest.approx(active or total, rel=0.03)
    assert got.is_moe == (active is not None)


def test_exact_counts(tmp_path: Path) -> None:
    # The index's metadata.total_size / 2 bytes (bf16) is the exact count, and Llama's
    # architecture formula (config.json alone) reproduces it to the parameter.
    for name, total_size in [
        ("DeepSeek-R1-Distill-Llama-8B", 16_060_522_496),
        ("DeepSeek-R1-Distill-Llama-70B", 141_107_412_992),
    ]:
        got = facts(name)
        assert (got.param_source, got.num_params) == ("safetensors-index", total_size // 2)
        shutil.copy(CONFIGS / name / "config.json", tmp_path / "config.json")
        assert load_model_facts(tmp_path).num_params == total_size // 2


def test_single_safetensors_header_is_counted(tmp_path: Path) -> None:
    shutil.copy(CONFIGS / "SmolLM2-135M-Instruct" / "config.json", tmp_path / "config.json")
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "BF16", "shape": [3, 4], "data_offsets": [0, 24]},
        "b": {"dtype": "F32", "shape": [5], "data_offsets": [24, 44]},
    }
    raw = json.dumps(header).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(44))
    got = load_model_facts(tmp_path)
    assert (got.num_params, got.param_source) == (17, "safetensors-index")
    # A git-lfs pointer instead of weights: fall back to the architecture, with a note.
    (tmp_path / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\n")
    got = load_model_facts(tmp_path)
    assert got.param_source == "architecture" and "unreadable" in got.notes[0]


@pytest.mark.parametrize(
    "name, total, active",
    [
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", 1.5e9, 1.5e9),
        ("meta-llama/Llama-3.3-70B-Instruct", 70e9, 70e9),
        ("deepseek-r1-distill-llama-70b", 70e9, 70e9),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", 135e6, 135e6),
        ("Qwen/Qwen3-30B-A3B", 30e9, 3e9),
        ("mistralai/Mixtral-8x7B-v0.1", 56e9, 56e9),
    ],
)
def test_size_from_name(name: str, total: float, active: float) -> None:
    assert parse_size_from_name(name) == (int(total), int(active))


def test_name_fallback_when_config_unavailable() -> None:
    got = load_model_facts("nobody-cached/Imaginary-Reasoner-7B", offline=True)
    assert (got.param_source, got.num_params, got.num_attention_heads) == ("name", 7e9, None)
    assert "config.json unavailable" in got.notes[0]
    # Unknown heads and layers: powers-of-two TP and a deliberately large KV estimate
    # (1e-5 x 7e9 x 2 bytes = 140 kB per token, 2.4x the real Qwen-7B's 57 kB).
    assert kv_cache_bytes_per_token(got, 2) == 140_000
    result = plan(got, H100, request())
    assert result.tp in (1, 2, 4, 8) and result.notes[: len(got.notes)] == got.notes
    with pytest.raises(EvallaunchError, match="no size like"):
        load_model_facts("nobody-cached/mystery-model", offline=True)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{not json", "not valid JSON"),
        ('{"hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10}', "'num_attention_heads'"),
        ('{"hidden_size": "wide", "num_hidden_layers": 2}', "'hidden_size' must be a positive"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(EvallaunchError, match=expected) as err:
        load_model_facts(tmp_path)
    assert str(tmp_path / "config.json") in str(err.value)
    (tmp_path / "config.json").unlink()
    with pytest.raises(EvallaunchError, match="config.json is missing"):
        load_model_facts(tmp_path)
    assert load_model_facts(tmp_path / "ckpt-8B").num_params == 8e9  # not written yet: name
    with pytest.raises(EvallaunchError, match="no such checkpoint directory and its name"):
        load_model_facts(tmp_path / "nope")


def test_small_model_is_data_parallel() -> None:
    # 1.5B: weights 1,777,088,000 x 2 B = 3.55 GB; KV = 2 x 28 layers x 2 KV heads x 128 x 2 B
    # = 28,672 B/token = 0.94 GB per 32k sequence; (68.4 - 3.55) / 0.94 = 69 sequences on one
    # GPU, so TP 1 and the node is filled with 8 replicas (8 x 69 >= 64).
    result = plan(facts("DeepSeek-R1-Distill-Qwen-1.5B"), H100, request())
    assert (result.tp, result.dp, result.pp, result.total_gpus) == (1, 8, 1, 8)
    assert result.kv_bytes_per_token == 28_672
    assert result.weights_gb_per_gpu == pytest.approx(3.55, abs=0.01)
    assert (result.sequences_that_fit, result.max_num_seqs) == (69, 64)
    # Time (evallaunch.planning.throughput): no mean length is given, so 0.35 x 32,768 =
    # 11,469 tokens per sample; 63 samples per replica, all in its 64 slots: 102 s of decode,
    # + 58 s to start the engine (load, CUDA graphs) + 82 s while the longest samples finish
    # = 4.0 min, x 2.2 (throughput.TIME_SCALE, the published timings' fit) = 8.8 min,
    # x 1.5 margin = 0.22 h -> a 30-minute limit.
    assert (result.estimated_hours, result.time_limit_min) == (0.22, 30)
    assert result.vllm_args() == {
        "tensor_parallel_size": 1,
        "data_parallel_size": 8,
        "pipeline_parallel_size": 1,
        "gpu_memory_utilization": 0.9,
        "max_num_seqs": 64,
        "max_model_len": 32768,
        "dtype": "bfloat16",
    }
    assert result.slurm_resources() == {
        "nodes": 1,
        "gpus_per_node": 8,
        "tasks_per_node": 1,
        "cpus_per_task": 64,
        "mem_gb": 512,
        "timeout_min": 30,
    }
    assert result.transformers_args() == {"dtype": "bfloat16"}
    assert json.loads(json.dumps(result.to_dict()))["tp"] == 1


def test_70b_needs_tensor_parallel_4() -> None:
    # 70,553,706,496 x 2 B = 141.1 GB of weights: TP 2 puts 70.6 GB on a GPU (> 68.4). TP 4:
    # 35.3 GB, KV 2 x 80 x (8 / 4) x 128 x 2 = 81,920 B/token = 2.68 GB per 32k sequence,
    # (68.4 - 35.3) / 2.68 = 12 per replica; 2 replicas hold 24 >= 8.
    llama70 = facts("DeepSeek-R1-Distill-Llama-70B")
    result = plan(llama70, H100, request(concurrent=8))
    assert (result.tp, result.dp, result.sequences_that_fit) == (4, 2, 12)
    assert result.weights_gb_per_gpu == pytest.approx(35.28, abs=0.01)
    # 64 sequences of 11,469 expected tokens (0.35 x 32k; 8,432 tokens of mean context): TP 8
    # (17.6 GB weights, 40,960 B/token per GPU) holds 37 full-length sequences but 145 at the
    # mean context, so its one replica takes all 64 (the cap); TP 4's replicas 37 each (0.8 x
    # 47): the model gives TP 8 35 min, TP 4 42 min.
    result = plan(llama70, H100, request(concurrent=64))
    assert (result.tp, result.dp, result.max_num_seqs, result.sequences_that_fit) == (8, 1, 64, 37)
    assert "holds 37 full-length sequences, 145 at the expected context" in result.notes[0]
    assert result.transformers_args() == {"dtype": "bfloat16", "device_map": "auto"}


def test_tensor_parallel_never_splits_heads() -> None:
    # Qwen-7B has 28 heads and 4 KV heads: TP 8 is never valid.
    qwen7 = facts("DeepSeek-R1-Distill-Qwen-7B")
    for gpu_gb in (8, 16, 24, 40, 80):
        for concurrent in (1, 64, 1024):
            got = plan(qwen7, Hardware("gpu", gpu_gb, 8), request(concurrent=concurrent))
            assert got.tp in (1, 2, 4)
    # float32 on 8 GB GPUs (5.04 GB usable): 30.5 GB of weights need 7.6 GB per GPU at TP 4;
    # TP 8 would fit but is invalid, so pipeline parallel: TP 4 x PP 2 = 3.8 GB per GPU, KV
    # 2 x 14 layers x 1 KV head x 128 x 4 B = 14,336 B/token = 0.47 GB per sequence -> 2.
    fp32 = request(concurrent=1, dtype="float32")
    result = plan(qwen7, Hardware("gpu", 8, 8), fp32)
    sizes = (result.tp, result.pp, result.dp, result.nodes, result.sequences_that_fit)
    assert sizes == (4, 2, 1, 1, 2)
    # With 4 GPUs per node the two stages need two nodes...
    result = plan(qwen7, Hardware("gpu", 8, 4, max_nodes=2), fp32)
    assert (result.tp, result.pp, result.nodes, result.gpus_per_node) == (4, 2, 2, 4)
    assert result.slurm_resources()["nodes"] == 2 and "Ray" in result.notes[-1]
    # ... and with one node allowed it cannot fit at all.
    with pytest.raises(EvallaunchError, match="does not fit"):
        plan(qwen7, Hardware("gpu", 8, 4, max_nodes=1), fp32)


def test_moe_plan() -> None:
    # Every expert is resident: 30,532,122,624 x 2 B = 61.1 GB. TP 1 leaves 7.3 GB of KV cache
    # (98,304 B/token = 3.2 GB per sequence: 2 per replica, 8 at the mean context); TP 2: 30.5
    # GB of weights, 49,152 B/token: 23 full-length sequences; TP 4: 15.3 GB, 24,576 B/token,
    # (68.4 - 15.3) / 0.81 = 65. Each replica gets the 64 sequences asked for at TP >= 2; the
    # model then favours the layout reading the fewest weights per token: TP 1's 8 sequences
    # take 48 min, TP 2 x DP 4 16 min, TP 4 x DP 2 15 min, TP 8 20 min (all-reduces).
    moe = facts("Qwen3-30B-A3B")
    assert moe.num_active_params == pytest.approx(3.35e9, rel=0.01)
    result = plan(moe, H100, request())
    assert (result.tp, result.dp, result.sequences_that_fit, result.max_num_seqs) == (4, 2, 65, 64)
    assert result.weights_gb_per_gpu == pytest.approx(15.27, abs=0.01)


def test_slots_follow_the_kv_cache_at_the_expected_context() -> None:
    # Qwen-7B on AIME 2024 (30 x 64 samples, 11,000 tokens on average): TP 2 puts 7.62 GB of
    # weights on a GPU and leaves 60.8 GB of KV cache at 2 x 28 x 2 x 128 x 2 = 28,672 B per
    # token per GPU: 2.12M tokens per replica, 64 full-length sequences, 259 at the mean
    # context (300 + 11,000 x (1 + CV^2) / 2 = 8,183 tokens); the engine gets 0.8 x 259.
    qwen7 = facts("DeepSeek-R1-Distill-Qwen-7B")
    aime = PlanRequest("bfloat16", 32768, 1920, 30, 64, 32768, mean_new_tokens=11000)
    result = plan(qwen7, H100, aime)
    assert (result.tp, result.dp, result.sequences_that_fit, result.max_num_seqs) == (2, 4, 64, 207)
    assert result.vllm_args()["max_num_seqs"] == 207
    # Shorter completions: more sequences in the same cache.
    math500 = PlanRequest("bfloat16", 32768, 2000, 500, 4, 32768, mean_new_tokens=3800)
    assert plan(qwen7, H100, math500).max_num_seqs > 2 * result.max_num_seqs
    # Never more than the job's requests, never more than MAX_ENGINE_SLOTS.
    few = PlanRequest("bfloat16", 32768, 30, 30, 1, 32768, mean_new_tokens=11000)
    assert plan(qwen7, H100, few).max_num_seqs == 30
    short = PlanRequest("bfloat16", 8192, 10**5, 10**5, 1, 8192, mean_new_tokens=500)
    tiny = plan(facts("SmolLM2-135M-Instruct"), H100, short)
    assert tiny.max_num_seqs == 1024


def test_layout_is_the_fastest_modeled_job() -> None:
    # Every TP the model allows, forced, takes at least as long by the planner's own estimate
    # as the layout it picks (a smaller TP is preferred within 2%); forced sizes are kept.
    aime = PlanRequest("bfloat16", 32768, 1920, 30, 64, 32768, mean_new_tokens=11000)
    for name in ("DeepSeek-R1-Distill-Qwen-7B", "DeepSeek-R1-Distill-Llama-8B"):
        chosen = plan(facts(name), H100, aime)
        for tp in (1, 2, 4, 8):
            if tp == 8 and "Qwen" in name:
                continue  # 28 heads
            forced = plan(facts(name), H100, dataclasses.replace(aime, tensor_parallel_size=tp))
            assert (forced.tp, forced.dp) == (tp, 8 // tp)
            assert forced.estimated_hours >= chosen.estimated_hours * 0.98 - 0.01
    # DP 8 x TP 1 is the slowest for the 8B: 38 sequences per replica against 192 at TP 4.
    llama = facts("DeepSeek-R1-Distill-Llama-8B")
    dp8 = plan(llama, H100, dataclasses.replace(aime, strategy="dp"))
    assert (dp8.tp, dp8.dp, dp8.max_num_seqs) == (1, 8, 38)
    assert plan(llama, H100, aime).estimated_hours < dp8.estimated_hours


def test_model_that_cannot_fit() -> None:
    # 70.6B x 4 B = 282.2 GB of float32 weights over 8 x 16 GB GPUs (12.08 GB usable each).
    hw = Hardware("V100", 16, 8, max_nodes=1)
    with pytest.raises(EvallaunchError) as err:
        plan(facts("DeepSeek-R1-Distill-Llama-70B"), hw, request(dtype="float32"))
    assert "282.2 GB of weights" in str(err.value) and "16 GB V100" in str(err.value)
    assert "12.1 GB usable" in str(err.value)


def test_strategies_and_overrides() -> None:
    qwen7 = facts("DeepSeek-R1-Distill-Qwen-7B")
    assert plan(qwen7, H100, request(strategy="tp")).tp == 4  # largest divisor of 28 heads
    single = plan(qwen7, H100, request(strategy="single"))
    assert (single.tp, single.dp, single.pp, single.total_gpus) == (1, 1, 1, 1)
    with pytest.raises(EvallaunchError, match="does not fit"):
        plan(facts("DeepSeek-R1-Distill-Llama-70B"), H100, request(strategy="single"))
    fixed = plan(qwen7, H100, request(tensor_parallel_size=2, data_parallel_size=2))
    assert (fixed.tp, fixed.dp, fixed.total_gpus) == (2, 2, 4)
    assert plan(qwen7, H100, request(total_gpus=4)).total_gpus == 4
    bad: list[tuple[dict[str, Any], str]] = [
        ({"tensor_parallel_size": 8}, r"parallelism.tensor_parallel_size=8 .*\[1, 2, 4\]"),
        ({"tensor_parallel_size": 4, "pipeline_parallel_size": 3}, "pipeline_parallel_size=3"),
        ({"tensor_parallel_size": 2, "data_parallel_size": 8}, "data_parallel_size=8"),
        ({"strategy": "fastest"}, "parallelism.name='fastest'"),
        ({"dtype": "int4"}, "model.dtype='int4'"),
    ]
    for overrides, message in bad:
        with pytest.raises(EvallaunchError, match=message):
            plan(qwen7, H100, request(**overrides))


# open-r1's choice (GPUs from the head count, TP at >= 30B params, else DP) beside ours on
# one node of 8 x 80 GB H100s, bf16, for AIME 2024 as open-r1 runs it: 30 problems x 64
# samples of up to 32k tokens, 11,000 on average (conf/benchmark/aime24.yaml). Ours fills the
# node with the replicas of the fastest modeled job, each running as many sequences as its
# KV cache holds at the mean context: a larger TP holds more of them per GPU (less of each
# GPU goes to weights), against its all-reduces.
PARITY = """\
model                          open-r1            ours                      max seqs
DeepSeek-R1-Distill-Llama-70B  8 GPUs: TP8 x DP1  8 GPUs: TP8 x DP1 x PP1   120
DeepSeek-R1-Distill-Llama-8B   8 GPUs: TP1 x DP8  8 GPUs: TP4 x DP2 x PP1   192
DeepSeek-R1-Distill-Qwen-1.5B  4 GPUs: TP1 x DP4  8 GPUs: TP1 x DP8 x PP1   220
DeepSeek-R1-Distill-Qwen-14B   8 GPUs: TP1 x DP8  8 GPUs: TP4 x DP2 x PP1   120
DeepSeek-R1-Distill-Qwen-32B   8 GPUs: TP8 x DP1  8 GPUs: TP8 x DP1 x PP1   179
DeepSeek-R1-Distill-Qwen-7B    4 GPUs: TP1 x DP4  8 GPUs: TP2 x DP4 x PP1   207
Qwen2.5-72B-Instruct           8 GPUs: TP8 x DP1  8 GPUs: TP8 x DP1 x PP1   119
Qwen3-30B-A3B                  8 GPUs: TP8 x DP1  8 GPUs: TP4 x DP2 x PP1   211
SmolLM2-135M-Instruct          1 GPUs: TP1 x DP1  8 GPUs: TP1 x DP8 x PP1   440"""


def test_parity_with_open_r1() -> None:
    lines = [f"{'model':<30} {'open-r1':<18} {'ours':<25} max seqs"]
    rows = []
    for name in sorted(PUBLIC_SIZES):
        model = facts(name)
        theirs = open_r1_rule(model)
        length = min(32768, model.max_position_embeddings or 32768)  # SmolLM2: 8192
        aime = PlanRequest("bfloat16", length, 1920, 30, 64, length, mean_new_tokens=11000)
        ours = plan(model, H100, aime)
        rows.append((name, ours))
        left = f"{theirs['gpus']} GPUs: TP{theirs['tp']} x DP{theirs['dp']}"
        right = f"{ours.total_gpus} GPUs: TP{ours.tp} x DP{ours.dp} x PP{ours.pp}"
        lines.append(f"{name:<30} {left:<18} {right:<25} {ours.max_num_seqs}")
    table = "\n".join(lines)
    print(table, format_plan_table(rows), sep="\n\n")
    assert table == PARITY


def test_plan_table_format() -> None:
    rows = [(name, plan(facts(name), H100, request())) for name in ("Qwen3-30B-A3B",)]
    text = format_plan_table(rows * 2)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["job", "GPUs", "nodes", "TP"]
    assert len({len(line) for line in lines[:-1]}) == 1  # fixed width
    # TP 4 x DP 2 with 64 slots per replica: 250 samples of 11,469 tokens per replica take
    # 10.3 min of decode + 1.2 min to start + 3.6 min of tail = 15.0 min, x 2.2
    # (throughput.TIME_SCALE) = 33 min, x 1.5 = 0.83 h -> 60 minutes. 2 jobs x 8 GPUs x 0.83 h
    # = 13.3 GPU-hours; their 60-minute limits reserve 16.
    assert lines[-1] == "total GPU-hours: 13.3 (estimated; the time limits reserve 16.0)"


PRESETS = sorted((Path(__file__).parents[1] / "evallaunch" / "conf" / "model").glob("r1_*.yaml"))


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_presets_plan_offline_from_their_config_json(preset: Path) -> None:
    """Each preset's Hub model, with no config.json in the cache, gets the facts of its
    public config.json (tests/data/model_configs), carried with the source named."""
    import yaml

    repo = yaml.safe_load(preset.read_text())["name_or_path"]
    carried = load_model_facts(repo, offline=True)
    public = facts(repo.split("/")[1])
    fields = ("num_layers", "num_attention_heads", "num_kv_heads", "head_dim", "vocab_size")
    assert [getattr(carried, f) for f in fields] == [getattr(public, f) for f in fields]
    assert carried.max_position_embeddings == public.max_position_embeddings
    assert carried.num_params == pytest.approx(public.num_params, rel=1e-3)
    assert carried.param_source != "name"
    source = known_architecture(repo)
    assert source is not None
    assert source["source"] == f"https://huggingface.co/{repo}/blob/main/config.json"


def test_fp8_kv_cache_holds_twice_the_sequences() -> None:
    # Qwen-7B on one H100: KV = 2 x 28 layers x 4 KV heads x 128 = 28,672 elements a token,
    # 57,344 B in bf16 and 28,672 B in fp8; weights 7,615,616,512 x 2 B = 15.23 GB leave
    # 68.4 - 15.23 = 53.17 GB: 53.17e9 / (57,344 x 32,768) = 28.3 -> 28 full-length
    # sequences in bf16, 56.6 -> 56 in fp8.
    qwen7 = facts("DeepSeek-R1-Distill-Qwen-7B")
    bf16 = plan(qwen7, H100, request(strategy="single"))
    fp8 = plan(qwen7, H100, request(strategy="single", kv_cache_dtype="fp8"))
    assert (bf16.kv_bytes_per_token, fp8.kv_bytes_per_token) == (57_344, 28_672)
    assert (bf16.sequences_that_fit, fp8.sequences_that_fit) == (28, 56)
    assert fp8.weights_gb_per_gpu == bf16.weights_gb_per_gpu
    with pytest.raises(EvallaunchError, match="kv_cache_dtype=int4 is invalid; valid choices"):
        plan(qwen7, H100, request(kv_cache_dtype="int4"))


def test_a_draft_model_and_max_num_seqs_as_given() -> None:
    # A draft model's weights split over the TP ranks: 1,777,088,000 x 2 B / 2 = 1.78 GB more
    # per GPU at TP 2; parallelism.max_num_seqs is the engines' slots, whatever fits.
    qwen7, small = facts("DeepSeek-R1-Distill-Qwen-7B"), facts("DeepSeek-R1-Distill-Qwen-1.5B")
    base = plan(qwen7, H100, request(tensor_parallel_size=2))
    drafted = plan(qwen7, H100, request(tensor_parallel_size=2, draft_params=small.num_params))
    assert drafted.weights_gb_per_gpu - base.weights_gb_per_gpu == pytest.approx(1.78, abs=0.01)
    many = plan(qwen7, H100, request(tensor_parallel_size=2, max_num_seqs=999))
    assert many.max_num_seqs == 999
    assert "parallelism.max_num_seqs=999" in many.notes[-1]
