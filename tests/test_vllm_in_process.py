"""backend.model_type=vllm: both harnesses' in-process vLLM models get the plan's tensor and
data parallel sizes. vLLM needs a GPU and lives in an environment of its own, so here the
model arguments are checked against each harness's own definition of them, and a job
without vLLM installed fails naming the extra to install."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from evallaunch.backends.base import GenerationRequest
from evallaunch.backends.lighteval_models import vllm_model_config
from evallaunch.backends.lmeval_backend import vllm_model_args
from tests.conftest import TINY, Evaluate


def request(tmp_path: Path) -> GenerationRequest:
    return GenerationRequest(
        benchmark="aime24",
        problems=[],
        problems_file=tmp_path / "test.jsonl",
        model_path="deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
        revision="main",
        dtype="bfloat16",
        device="cuda",
        chat_template=True,
        system_prompt=None,
        max_model_length=32768,
        trust_remote_code=False,
        n=64,
        temperature=0.6,
        top_p=0.95,
        max_new_tokens=32768,
        seed=77,
        work_dir=tmp_path,
        tensor_parallel_size=4,
        data_parallel_size=2,
    )


def lm_eval_vllm_parameters() -> set[str]:
    """The named parameters of lm-eval's `VLLM.__init__`, read from its source (importing
    the module needs vLLM)."""
    spec = importlib.util.find_spec("lm_eval.models.vllm_causallms")
    assert spec and spec.origin
    tree = ast.parse(Path(spec.origin).read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "VLLM"]
    (init,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    return {a.arg for a in init.args.args + init.args.kwonlyargs}


def test_lm_eval_vllm_arguments_follow_the_plan(tmp_path: Path) -> None:
    args = vllm_model_args(request(tmp_path), {"gpu_memory_utilization": 0.85})
    assert args["tensor_parallel_size"] == 4 and args["data_parallel_size"] == 2
    assert args["max_model_len"] == 32768 and args["max_gen_toks"] == 32768
    assert args["gpu_memory_utilization"] == 0.85  # backend.model_args win
    named = set(args) - {"gpu_memory_utilization"}  # passed on to vllm.LLM by **kwargs
    assert named <= lm_eval_vllm_parameters()


def test_lighteval_vllm_config_follows_the_plan(tmp_path: Path) -> None:
    config = vllm_model_config(request(tmp_path), {"gpu_memory_utilization": 0.85})
    assert (config.tensor_parallel_size, config.data_parallel_size) == (4, 2)
    assert config.max_model_length == 32768
    assert config.generation_parameters.seed == 77
    assert config.generation_parameters.max_new_tokens is None  # would cut the prompt
    assert config.gpu_memory_utilization == 0.85


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
@pytest.mark.parametrize("backend", ["lighteval", "lmeval"])
def test_without_vllm_the_error_names_the_extra(backend: str, evaluate: Evaluate) -> None:
    proc = evaluate(f"backend={backend}", "backend.model_type=vllm", *TINY, check=False)
    assert proc.returncode == 2
    assert "'vllm' is not installed" in proc.stderr
    assert f"evallaunch[vllm-{backend}]" in proc.stderr
    assert "Traceback" not in proc.stderr
