"""Every config file composes, and bad input fails at compose time with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

import evallaunch
from evallaunch.config.compose import CONFIG_DIR, CONFIG_GROUPS, compose_config, group_options
from evallaunch.config.schema import missing_keys, unknown_keys
from evallaunch.config.spec import job_spec
from evallaunch.errors import EvallaunchError
from tests.helpers import config_options, option_overrides

OPTIONS = config_options()


def test_every_group_has_options() -> None:
    for group in CONFIG_GROUPS:
        assert group_options(group), f"conf/{group}/ has no options"


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}/{o}" for g, o in OPTIONS])
def test_every_config_file_composes(group: str, option: str) -> None:
    cfg = compose_config(option_overrides(group, option), return_hydra_config=True)
    assert cfg.hydra.runtime.choices[group] == option
    job_dir = Path(cfg.hydra.run.dir)  # the output layout resolves for every option
    assert job_dir.parts[-5:] == (
        cfg.experiment_name,
        cfg.model.name,
        cfg.model.version,
        cfg.benchmark.name,
        cfg.backend.name,
    )
    job = OmegaConf.masked_copy(cfg, [str(key) for key in cfg if key != "hydra"])
    assert isinstance(OmegaConf.to_container(job, resolve=True), dict)
    assert not missing_keys(job), f"{group}={option} leaves required values unset"


def test_default_config_is_the_embedded_model_on_math_500() -> None:
    cfg = compose_config()
    assert cfg.model.name_or_path == "embedded:smollm2-135m-instruct"
    assert cfg.model.name == "smollm2-135m-instruct"
    assert cfg.benchmark.name == "math_500"
    assert cfg.backend.name == "lighteval"
    # The DeepSeek-R1 recipe is the default generation setting.
    assert (cfg.generation.temperature, cfg.generation.top_p) == (0.6, 0.95)
    assert cfg.generation.max_new_tokens == 32768


def test_model_name_follows_any_hub_id_or_path() -> None:
    assert compose_config(["model.name_or_path=org/My-Model"]).model.name == "org--My-Model"
    local = compose_config(["model.name_or_path=/ckpts/run7/checkpoint-500"])
    # The checkpoints of a run share its name; the checkpoint is the version level.
    assert (local.model.name, local.model.version) == ("ckpts--run7", "checkpoint-500")
    assert local.model.step == 500
    hub = compose_config(["model.name_or_path=org/run", "model.revision=checkpoint-100"])
    assert (hub.model.name, hub.model.version, hub.model.step) == (
        "org--run",
        "checkpoint-100",
        100,
    )


def test_open_r1_models_are_listed() -> None:
    models = [m for m in group_options("model") if m not in ("custom", "endpoint")]
    ids = {compose_config([f"model={m}"]).model.name_or_path for m in models}
    for size in ("Qwen-1.5B", "Qwen-7B", "Qwen-14B", "Qwen-32B", "Llama-8B", "Llama-70B"):
        assert f"deepseek-ai/DeepSeek-R1-Distill-{size}" in ids


def test_experiment_overrides_groups() -> None:
    cfg = compose_config(["experiment=quickstart"])
    assert cfg.experiment_name == "quickstart"
    assert cfg.benchmark.limit == 5
    assert cfg.generation.max_new_tokens <= 512


def test_unknown_group_option_lists_the_choices() -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_config(["model=gpt-17"])
    message = str(info.value)
    assert "model/gpt-17" in message
    assert "smollm2_135m" in message


def test_unknown_key_is_rejected_by_the_schema() -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_config(["benchmark.limt=3"])
    message = str(info.value.__cause__)
    assert "Key 'limt' not in 'BenchmarkConfig'" in message
    assert "Did you mean: 'limit'" in message


def test_keys_added_with_plus_are_checked_against_the_schema() -> None:
    """Hydra's `+` adds a key even to a structured config: evallaunch's preflight finds each
    one under a schema section, nested sections and suite members included, while the
    free-form mappings (backend.model_args, benchmark.where) take any key."""
    cfg = compose_config(
        [
            "+generation.max_new_token=64",
            "+backend.server.comand=x",
            "+benchmark.dataset.extra=1",
            "+backend.model_args.attn_implementation=sdpa",
            "+benchmark.where.level=5",
            "suite=r1_and_gsm8k",
            "+suite.members.0.overides=[x]",
        ]
    )
    found = {key: known for key, known in unknown_keys(cfg)}
    assert sorted(found) == [
        "backend.server.comand",
        "benchmark.dataset.extra",
        "generation.max_new_token",
        "suite.members.0.overides",
    ]
    assert "generation.max_new_tokens" in found["generation.max_new_token"]
    assert unknown_keys(compose_config(["+backend.model_args.x=1"])) == []
    with pytest.raises(EvallaunchError, match="did you mean suite.members.0.overrides"):
        job_spec(cfg)


def test_wrong_type_is_rejected_by_the_schema() -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_config(["benchmark.n=many"])
    assert isinstance(info.value.__cause__, ValidationError)
    assert "benchmark.n" in str(info.value.__cause__)


def test_the_configs_ship_in_the_package_and_conf_links_to_them() -> None:
    assert Path(evallaunch.__file__).resolve().parent / "conf" == CONFIG_DIR
    assert (Path(__file__).resolve().parents[1] / "conf").resolve() == CONFIG_DIR


def test_a_team_s_config_directory_overlays_the_package_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EVALLAUNCH_CONFIG_DIR holds the team's own options of any group; they compose like
    the package's, and one of the same name takes their place."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "our_model.yaml").write_text(
        "defaults:\n  - smollm2_135m\n  - _self_\nname: ours\ndtype: float32\n"
    )
    (tmp_path / "parallelism").mkdir()
    (tmp_path / "parallelism" / "single.yaml").write_text("gpu_memory_utilization: 0.5\n")
    monkeypatch.setenv("EVALLAUNCH_CONFIG_DIR", str(tmp_path))
    cfg = compose_config(["model=our_model"])
    assert (cfg.model.name, cfg.model.dtype) == ("ours", "float32")
    assert cfg.model.name_or_path == "embedded:smollm2-135m-instruct"
    assert cfg.parallelism.gpu_memory_utilization == 0.5
    assert "our_model" in group_options("model") and "smollm2_135m" in group_options("model")


def test_max_new_tokens_is_only_ever_lowered_to_fit_the_longest_prompt() -> None:
    from evallaunch.config.preflight import effective_max_new_tokens
    from evallaunch.errors import EvallaunchError

    assert effective_max_new_tokens(24, 2048, longest_prompt=150) == 24  # fits: as asked
    assert effective_max_new_tokens(32768, None, longest_prompt=150) == 32768  # no context
    assert effective_max_new_tokens(32768, 32768, longest_prompt=150) == 32618
    assert effective_max_new_tokens(2000, 2048, longest_prompt=100) == 1948
    # A harness task's prompts are its own: room is kept for them, at most half the context.
    assert effective_max_new_tokens(32768, 8192, longest_prompt=None) == 6144
    assert effective_max_new_tokens(32768, 2048, longest_prompt=None) == 1024
    assert effective_max_new_tokens(512, 8192, longest_prompt=None) == 512
    with pytest.raises(EvallaunchError, match="model.max_model_length=100 is invalid"):
        effective_max_new_tokens(16, 100, longest_prompt=100)
