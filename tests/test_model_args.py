"""backend.model_args checked against the harness's model before any job runs
(evallaunch.backends.model_args, evallaunch.compat.signatures): read from the harnesses'
source, no model module imported."""

from __future__ import annotations

from typing import Any

import pytest
from omegaconf import OmegaConf

from evallaunch.backends.model_args import check_model_args
from evallaunch.compat import signatures
from evallaunch.errors import EvallaunchError

TARGETS = {
    "lm_eval": "evallaunch.backends.lmeval_backend.LmevalBackend",
    "lighteval": "evallaunch.backends.lighteval_backend.LightevalBackend",
}


def backend(package: str, model_type: str, **model_args: Any) -> Any:
    return OmegaConf.create(
        {"_target_": TARGETS[package], "model_type": model_type, "model_args": model_args}
    )


def test_every_harness_model_is_found_in_the_installed_versions() -> None:
    for package, model_type in signatures.MODEL_CLASSES:
        assert signatures.model_keywords(package, model_type) is not None, (package, model_type)
    hf = signatures.model_keywords("lm_eval", "transformers")
    assert hf is not None and {"max_length", "parallelize", "peft"} <= hf.names and hf.takes_any
    config = signatures.model_keywords("lighteval", "transformers")
    assert config is not None and {"max_length", "model_loading_kwargs"} <= config.names
    assert not config.takes_any  # pydantic, extra="forbid"


def test_a_key_the_model_does_not_take_names_the_closest() -> None:
    with pytest.raises(EvallaunchError, match=r"max_lenght=64 is invalid.*did you mean max_length"):
        check_model_args(backend("lm_eval", "transformers", max_lenght=64))
    with pytest.raises(EvallaunchError, match="did you mean max_gen_toks"):
        check_model_args(backend("lm_eval", "vllm", max_gen_tok=64))
    with pytest.raises(EvallaunchError, match="lighteval's transformers model takes no nonsense"):
        check_model_args(backend("lighteval", "transformers", nonsense=1))
    with pytest.raises(EvallaunchError, match="did you mean concurrent_requests"):
        check_model_args(backend("lighteval", "server", concurrent_request=4))
    # what the models take, and what lm-eval's hf hands on to from_pretrained, pass
    check_model_args(backend("lm_eval", "transformers", parallelize=True, low_cpu_mem_usage=1))
    check_model_args(backend("lm_eval", "server", num_concurrent=4, timeout=60))
    check_model_args(backend("lighteval", "vllm", gpu_memory_utilization=0.5))
    check_model_args(backend("lighteval", "server", served_model="m", request_timeout_s=5))
