"""The job's spec: built once from the composed config, frozen, and the same to every
record a job keeps: its config fingerprint and its saved config are what the composed
config gave (results on disk are matched by them)."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from evallaunch.config.compose import compose_config
from evallaunch.config.frozen import plain
from evallaunch.config.spec import job_spec
from evallaunch.job.fingerprint import PARALLELISM_ARGS, config_fingerprint, fingerprint
from tests.helpers import compose_spec, config_options, option_overrides

OPTIONS = config_options()

#: Settings a config file does not set, to fingerprint the free-form parts too.
EXTRAS = [
    "++parallelism.engine_args.kv_cache_dtype=fp8",
    "++parallelism.engine_env.VLLM_BATCH_INVARIANT=true",
    "++backend.model_args.max_batch_size=4",
    "++backend.model_args.attn_implementation=sdpa",
    "++benchmark.where.level=5",
]


def _container_fingerprint(cfg: DictConfig, data_sha256: str) -> str:
    """config_fingerprint as it was computed from the composed DictConfig, before the spec."""

    def part(node: Any) -> Any:
        return OmegaConf.to_container(node, resolve=True)

    backend = part(cfg.backend)
    model_args = {k: v for k, v in backend["model_args"].items() if k not in PARALLELISM_ARGS}
    sampling = {
        k: v for k, v in part(cfg.sampling).items() if k not in ("resume", "units_in_flight")
    }
    model = {k: v for k, v in part(cfg.model).items() if k != "name"}
    endpoint = model.pop("endpoint", None) or {}
    if endpoint.get("url"):
        model["endpoint"] = {k: endpoint.get(k) for k in ("url", "served_model")}
    engines = {
        key: value
        for key in ("engine_args", "engine_env")
        if (value := part(cfg.parallelism).get(key))
    }
    return fingerprint(
        {
            **engines,
            "model": model,
            "benchmark": {
                k: v for k, v in part(cfg.benchmark).items() if k != "allow_code_execution"
            },
            "generation": part(cfg.generation),
            "backend": {"name": backend["name"], "model_type": backend["model_type"]},
            "model_args": model_args,
            "sampling": sampling,
            "data_sha256": data_sha256,
        }
    )


@pytest.mark.parametrize("extras", [[], EXTRAS], ids=["as-is", "free-form-set"])
@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}/{o}" for g, o in OPTIONS])
def test_every_config_file_keeps_its_fingerprint_and_saved_config(
    group: str, option: str, extras: list[str]
) -> None:
    composed = compose_config([*option_overrides(group, option), *extras], return_hydra_config=True)
    spec = job_spec(composed)
    cfg = OmegaConf.masked_copy(composed, [str(key) for key in composed if key != "hydra"])
    assert config_fingerprint(spec, "d" * 64) == _container_fingerprint(cfg, "d" * 64)
    # The saved config.yaml: the same keys, in the same order, with the same values.
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert OmegaConf.to_yaml(plain(spec)) == OmegaConf.to_yaml(resolved)


def test_the_spec_is_frozen_all_the_way_down() -> None:
    spec = compose_spec(["suite=r1_and_gsm8k", "+backend.model_args.attn_implementation=sdpa"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.experiment_name = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.generation.seed = 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model.endpoint.url = "http://h/v1"  # a section inside a section
    assert spec.suite is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.suite.members[0].task = "gsm8k"  # a section inside a list
    with pytest.raises(TypeError):
        spec.backend.model_args["attn_implementation"] = "eager"
    with pytest.raises(TypeError):
        spec.benchmark.where.update(level=5)
    with pytest.raises(TypeError):
        spec.parallelism.engine_args.setdefault("kv_cache_dtype", "fp8")
    with pytest.raises(TypeError):
        spec.benchmark.metrics.append("maj@n")


def test_a_modified_copy_leaves_the_spec_as_it_was() -> None:
    spec = compose_spec()
    seeded = dataclasses.replace(spec, generation=dataclasses.replace(spec.generation, seed=7))
    assert (seeded.generation.seed, spec.generation.seed) == (7, 1234)


def test_the_spec_is_resolved_and_survives_pickling() -> None:
    spec = compose_spec(["model.name_or_path=/ckpts/run7/checkpoint-500"])
    assert (spec.model.name, spec.model.version, spec.model.step) == (
        "ckpts--run7",
        "checkpoint-500",
        500,
    )
    assert "${" not in spec.paths.data_dir
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.model.name = "other"


def test_hydra_s_own_node_is_not_part_of_the_spec() -> None:
    spec = job_spec(compose_config(return_hydra_config=True))
    assert "hydra" not in plain(spec)
