"""Evaluate every training checkpoint: the Trainer callback and checkpoint sweeps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.checkpoints.discovery import Checkpoint, human_tokens, select, step_of
from evallaunch.errors import EvallaunchError
from tests.trainer import eval_overrides, tiny_trainer


def test_step_is_read_from_checkpoint_names() -> None:
    assert step_of("/runs/a/checkpoint-500") == 500
    assert step_of("checkpoint-500/") == 500
    assert step_of("global_step1200") == 1200
    assert step_of("/runs/a/final") is None


@pytest.mark.parametrize(
    "model",
    [
        ["model.name_or_path=/runs/r7/checkpoint-500", "model.tokens_per_step=32"],
        ["model.name_or_path=org/base", "model.revision=step-100"],
        ["model.name_or_path=org/base"],
        ["model.name_or_path=/runs/r7/checkpoint-500", "model.name=mine", "model.step=7"],
    ],
)
def test_a_planned_sweep_derives_the_model_keys_as_a_composed_job(model: list[str]) -> None:
    """`evallaunch plan` copies one composed config per job and derives name, version, step
    and tokens trained itself: the same values Hydra's resolvers give the job."""
    from omegaconf import OmegaConf

    from evallaunch.config.compose import compose_config
    from evallaunch.config.frozen import plain
    from evallaunch.planning.sweep_configs import SweepComposer

    overrides = ["cluster=slurm_h100_example", *model]
    planned, _ = SweepComposer().compose(overrides)
    composed = OmegaConf.to_container(compose_config(overrides).model, resolve=True)
    assert plain(planned.model) == composed


def test_selectors() -> None:
    found = [Checkpoint(f"/r/checkpoint-{s}", "main", s, None) for s in (300, 100, 200, 400)]
    steps = lambda chosen: [c.step for c in chosen]  # noqa: E731
    assert steps(select(found, "all")) == [100, 200, 300, 400]
    assert steps(select(found, "latest")) == [400]
    assert steps(select(found, "last:2")) == [300, 400]
    assert steps(select(found, "every:200")) == [200, 400]
    assert steps(select(found, "steps:100,300")) == [100, 300]
    with pytest.raises(EvallaunchError, match="model.checkpoint_select='every:x'"):
        select(found, "every:x")


def test_tokens_are_shown_with_units() -> None:
    counts = (None, 999, 1500, 2_000_000, 3_500_000_000, 1_200_000_000_000)
    assert [human_tokens(n) for n in counts] == [
        "-",
        "999",
        "1.5K",
        "2.0M",
        "3.5B",
        "1.2T",
    ]


@pytest.mark.slow
def test_trainer_callback_then_checkpoint_sweep(tmp_path: Path, shared_datasets: Path) -> None:
    from evallaunch.integrations import LAUNCH_LOG, EvalOnSaveCallback

    outputs = tmp_path / "outputs"
    common = eval_overrides(outputs, shared_datasets)
    callback = EvalOnSaveCallback(overrides=common, tokens_per_step=2 * 16)
    run = tmp_path / "run"
    tiny_trainer(run, max_steps=3, callbacks=[callback])
    assert callback.wait(timeout=600) == [0, 0, 0]
    launches = [json.loads(line) for line in (run / LAUNCH_LOG).read_text().splitlines()]
    assert [launch["step"] for launch in launches] == [1, 2, 3]
    results = sorted(outputs.glob("train/*/checkpoint-*/math_500/lighteval/results.json"))
    assert len(results) == 3
    points = sorted(
        (
            json.loads(p.read_text())["model"]["step"],
            json.loads(p.read_text())["model"]["tokens_trained"],
        )
        for p in results
    )
    assert points == [(1, 32), (2, 64), (3, 96)]

    # The collector sees one model (the run) with three steps, and draws its learning curve.
    collected = tmp_path / "collect"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evallaunch.cli",
            "collect",
            str(outputs),
            "--output",
            str(collected),
            "--no-wandb",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_parquet(collected / "table.parquet")
    curve = table[(table["benchmark"] == "math_500") & (table["metric"] == "pass@1")]
    assert sorted(curve["step"]) == [1, 2, 3] and curve["model"].nunique() == 1
    (png,) = collected.glob("plots/curve_*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000

    # One more checkpoint; the sweep skips the three finished ones and runs the new one.
    tiny_trainer(run, max_steps=4, callbacks=[], resume=True)
    sweep = subprocess.run(
        [
            sys.executable,
            "-m",
            "evallaunch.evaluate",
            "--multirun",
            *common,
            f"model.checkpoints={run}/checkpoint-*",
            "model.tokens_per_step=32",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert sweep.returncode == 0, sweep.stdout[-3000:] + sweep.stderr[-3000:]
    assert sweep.stdout.count("skip (already finished)") == 3
    manifest = json.loads((outputs / "train" / "checkpoints.json").read_text())
    assert [c["step"] for c in manifest["checkpoints"]] == [1, 2, 3, 4]
    assert [c["tokens"] for c in manifest["checkpoints"]] == ["32", "64", "96", "128"]
    assert len(list(outputs.glob("train/*/checkpoint-*/math_500/lighteval/results.json"))) == 4
