"""backend.model_type=vllm: both harnesses' in-process vLLM models are one replica with the
job's engine settings (evallaunch runs more replicas as `vllm serve` servers; the harnesses'
own data-parallel paths rebuild their engines on every call). Here the model arguments are
checked against each harness's own definition of them, and a job without vLLM installed
fails naming the extra to install; tests/test_vllm.py runs them with vLLM's CPU build."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from evallaunch.backends.base import GenerationRequest
from evallaunch.backends.lighteval_models import vllm_model_config
from evallaunch.backends.lmeval_backend import vllm_model_args
from evallaunch.engines.settings import EngineSettings
from tests.helpers import TINY, Evaluate, make_request


def request(tmp_path: Path) -> GenerationRequest:
    return make_request(
        tmp_path,
        benchmark="aime24",
        problems=[],
        model_path="deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
        revision="main",
        dtype="bfloat16",
        device="cuda",
        max_model_length=32768,
        n=64,
        max_new_tokens=32768,
        seed=77,
        engine=EngineSettings(
            replicas=2,
            tensor_parallel_size=4,
            max_num_seqs=192,
            gpu_memory_utilization=0.9,
            max_model_len=32768,
            dtype="bfloat16",
        ),
    )


def lm_eval_vllm_source() -> str:
    spec = importlib.util.find_spec("lm_eval.models.vllm_causallms")
    assert spec and spec.origin
    return Path(spec.origin).read_text()


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
    assert args["tensor_parallel_size"] == 4 and args["data_parallel_size"] == 1
    assert args["max_num_seqs"] == 192 and args["enforce_eager"] is False
    assert args["max_model_len"] == 32768 and args["max_gen_toks"] == 32768
    assert args["gpu_memory_utilization"] == 0.85  # backend.model_args win
    # lm-eval passes what it does not name on to vllm.LLM (`self.model_args.update(kwargs)`).
    to_llm = {"gpu_memory_utilization", "max_num_seqs", "enforce_eager", "pipeline_parallel_size"}
    assert set(args) - to_llm <= lm_eval_vllm_parameters()
    assert "self.model_args.update(kwargs)" in lm_eval_vllm_source()


def test_lighteval_vllm_config_follows_the_plan(tmp_path: Path) -> None:
    config = vllm_model_config(request(tmp_path), {"gpu_memory_utilization": 0.85})
    assert (config.tensor_parallel_size, config.data_parallel_size) == (4, 1)
    assert config.max_num_seqs == 192
    assert config.max_model_length == 32768
    assert config.generation_parameters.seed == 77
    assert config.generation_parameters.max_new_tokens is None  # would cut the prompt
    assert config.gpu_memory_utilization == 0.85


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
@pytest.mark.parametrize("backend", ["lighteval", "lmeval"])
def test_without_vllm_the_error_names_the_extra(backend: str, evaluate: Evaluate) -> None:
    proc = evaluate(
        f"backend={backend}", "backend.model_type=vllm", *TINY, check=False, forked=True
    )
    assert proc.returncode == 2
    assert "'vllm' is not installed" in proc.stderr
    assert f"evallaunch[vllm-{backend}]" in proc.stderr
    assert "Traceback" not in proc.stderr
