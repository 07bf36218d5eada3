"""The engine levers' assumptions of bench/gpu/levers.py measured on one GPU with torch
(no vLLM on the image): a step of bench/gpu/check.py, or alone:

    python3 bench/gpu/check_levers.py [--cpu-smoke] [--out DIR]

  bandwidth   a read of a large bf16 tensor: achieved HBM GB/s against the datasheet x
              throughput.MEMORY_EFFICIENCY (the decode step's memory term)
  fp8 KV      decode attention (one query per sequence) over a cache stored in bf16, stored
              in fp8 e4m3 and dequantized before attention (what vLLM's docs call unfused: no
              latency gain), and a bare read of the fp8 cache (what a fused kernel needs)
  verify      speculative decoding's verify step: a Qwen2.5-7B-shaped decoder (random
              weights, LAYERS layers) run on k + 1 tokens per sequence over a cache of
              CONTEXT tokens, against one token, at several batch sizes; the simulation
              assumes compute x (k + 1) and the weight and KV reads once
  prefix      prefill of n copies of a prompt against one copy (what prefix caching saves)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

FULL = {"read_gb": 4.0, "batches": (1, 32, 128), "context": 4096, "layers": 4, "ks": (1, 2, 4)}
SMOKE = {"read_gb": 0.05, "batches": (1, 4), "context": 64, "layers": 1, "ks": (1, 2)}
PROMPT, SAMPLES = 140, 64  # an AIME prompt and open-r1's n


def _timed(fn: Any, device: str, repeat: int = 5) -> float:
    """Median seconds of fn() after one warm-up."""
    import torch

    fn()
    times = []
    for _ in range(repeat):
        if device == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


def bandwidth(size: dict, device: str) -> dict[str, Any]:
    import torch

    from evallaunch.planning import replica_cost as rc

    x = torch.ones(int(size["read_gb"] * 1e9 / 2), dtype=torch.bfloat16, device=device)
    seconds = _timed(lambda: x.sum(dtype=torch.float32), device)
    measured = x.numel() * 2 / seconds / 1e9
    spec = rc.GPU_SPECS["H100-80GB"].hbm_gbps
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    for key, gpu in rc.GPU_SPECS.items():
        if key.split("-")[0] in name.upper():
            spec = gpu.hbm_gbps
    return {
        "read_gb_per_s": round(measured, 1),
        "assumed_gb_per_s": round(spec * rc.MEMORY_EFFICIENCY, 1),
        "measured_over_assumed": round(measured / (spec * rc.MEMORY_EFFICIENCY), 3),
    }


def fp8_attention(size: dict, device: str) -> dict[str, Any]:
    """Per decode step, 28 KV heads' worth (Qwen2.5-7B: 28 heads, 4 KV heads, dim 128)."""
    import torch
    import torch.nn.functional as F

    rows = []
    for batch in size["batches"]:
        shape = (batch, 4, size["context"], 128)
        k = torch.randn(shape, dtype=torch.bfloat16, device=device)
        v = torch.randn(shape, dtype=torch.bfloat16, device=device)
        q = torch.randn((batch, 28, 1, 128), dtype=torch.bfloat16, device=device)
        k8, v8 = k.to(torch.float8_e4m3fn), v.to(torch.float8_e4m3fn)

        def bf16(q: Any = q, k: Any = k, v: Any = v) -> Any:
            return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)

        def unfused(q: Any = q, k8: Any = k8, v8: Any = v8) -> Any:
            kb, vb = k8.to(torch.bfloat16), v8.to(torch.bfloat16)
            return F.scaled_dot_product_attention(q, kb, vb, enable_gqa=True)

        def read8(k8: Any = k8, v8: Any = v8) -> Any:
            total = k8.view(torch.uint8).sum(dtype=torch.int32)
            return total + v8.view(torch.uint8).sum(dtype=torch.int32)

        base = _timed(bf16, device)
        rows.append(
            {
                "batch": batch,
                "bf16_ms": round(base * 1e3, 3),
                "fp8_unfused_over_bf16": round(_timed(unfused, device) / base, 3),
                "fp8_read_over_bf16": round(_timed(read8, device) / base, 3),
            }
        )
    return {"context": size["context"], "runs": rows}


def _decoder(size: dict, device: str) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=size["layers"],
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        max_position_embeddings=32768,
    )
    if device == "cpu":
        config.hidden_size, config.intermediate_size, config.num_attention_heads = 256, 512, 4
        config.num_key_value_heads, config.vocab_size = 2, 1000
    model: Any = Qwen2ForCausalLM(config)
    return model.to(device=device, dtype=torch.bfloat16).eval(), config


def verify(size: dict, device: str) -> dict[str, Any]:
    import torch

    model, config = _decoder(size, device)
    rows = []
    with torch.no_grad():
        for batch in size["batches"]:
            ids = torch.randint(0, config.vocab_size, (batch, size["context"]), device=device)
            cache = model(ids, use_cache=True).past_key_values

            def step(q: int, cache: Any = cache, batch: int = batch, model: Any = model) -> None:
                new = torch.randint(0, config.vocab_size, (batch, q), device=device)
                model(new, past_key_values=cache, use_cache=True)
                cache.crop(-q)  # back to the prefilled context

            one = _timed(lambda: step(1), device)
            row: dict[str, Any] = {"batch": batch, "one_token_ms": round(one * 1e3, 2)}
            for k in size["ks"]:
                row[f"k={k}"] = round(_timed(lambda k=k: step(k + 1), device) / one, 3)
            rows.append(row)
    return {"layers": size["layers"], "context": size["context"], "runs": rows}


def prefix(size: dict, device: str) -> dict[str, Any]:
    import torch

    model, config = _decoder(size, device)
    with torch.no_grad():
        one = torch.randint(0, config.vocab_size, (1, PROMPT), device=device)
        many = one.repeat(SAMPLES, 1)
        single = _timed(lambda: model(one), device)
        copies = _timed(lambda: model(many), device)
    return {"prompt": PROMPT, "samples": SAMPLES, "copies_over_one": round(copies / single, 2)}


def run(cpu_smoke: bool, device: str) -> dict[str, Any]:
    """Every measurement; a failure is recorded and the next runs."""
    size = SMOKE if cpu_smoke else FULL
    out: dict[str, Any] = {"errors": []}
    for name, fn in (("bandwidth", bandwidth), ("fp8", fp8_attention), ("verify", verify)):
        try:
            out[name] = fn(size, device)
        except Exception as err:  # recorded; the check goes on
            out["errors"].append(f"{name}: {type(err).__name__}: {err}"[:500])
    try:
        out["prefix"] = prefix(size, device)
    except Exception as err:
        out["errors"].append(f"prefix: {type(err).__name__}: {err}"[:500])
    return out


def summary(result: dict[str, Any]) -> list[str]:
    """Lines for gpu_check.md: the figures, then RATIO lines."""
    lines = ["Engine levers (bench/gpu/check_levers.py):", ""]
    for key in ("bandwidth", "fp8", "verify", "prefix"):
        if key in result:
            lines.append(f"- {key}: " + json.dumps(result[key]))
    bw = result.get("bandwidth")
    if bw:
        lines.append(f"RATIO HBM read / assumed (MEMORY_EFFICIENCY): {bw['measured_over_assumed']}")
    for run_ in (result.get("fp8") or {}).get("runs", []):
        lines.append(
            f"RATIO fp8 KV attention unfused / bf16, batch {run_['batch']}: "
            f"{run_['fp8_unfused_over_bf16']} (fp8 read alone: {run_['fp8_read_over_bf16']})"
        )
    for run_ in (result.get("verify") or {}).get("runs", []):
        ks = ", ".join(f"{k} {v}" for k, v in run_.items() if k.startswith("k="))
        lines.append(f"RATIO verify step / one-token step, batch {run_['batch']}: {ks}")
    return [*lines, *[f"ERROR {e}" for e in result.get("errors", [])]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny shapes on CPU")
    p.add_argument("--out", default=None, help="folder for gpu_check_levers.json")
    args = p.parse_args()
    import torch

    device = "cpu" if args.cpu_smoke or not torch.cuda.is_available() else "cuda"
    if device == "cpu" and not args.cpu_smoke:
        sys.exit("gpu_check_levers: no CUDA device (use --cpu-smoke)")
    result = run(args.cpu_smoke, device)
    print("\n".join(summary(result)))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check_levers.json").write_text(json.dumps(result, indent=2))
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
