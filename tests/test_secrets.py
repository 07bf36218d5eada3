"""Secrets never reach a file a run writes: configs, logs, sbatch scripts, results, reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evallaunch.runtime.secrets import config_secrets, is_secret_name, redact_config, redact_text
from tests.helpers import path_without_slurm

SECRETS = {
    "HF_TOKEN": "hf_TESTSECRET_a1b2c3d4",
    "WANDB_API_KEY": "wandb_TESTSECRET_e5f6",
    "MY_PROVIDER_API_KEY": "sk_TESTSECRET_0099",
}


def test_secret_names() -> None:
    for name in ("HF_TOKEN", "hf_token", "WANDB_API_KEY", "api_key", "db.password", "secret"):
        assert is_secret_name(name), name
    for name in ("max_new_tokens", "tokens_per_step", "num_tokens", "keyword", "monkey"):
        assert not is_secret_name(name), name


def test_configs_and_setup_lines_are_redacted() -> None:
    config = {
        "backend": {"model_args": {"hf_token": "abcdefgh", "batch": 2}},
        "setup": ["module load cuda", "export HF_TOKEN=hf_zzzzzzzz"],
        "generation": {"max_new_tokens": 32768},
    }
    assert config_secrets(config) == {"abcdefgh", "hf_zzzzzzzz"}
    clean = redact_config(config)
    assert clean["backend"]["model_args"] == {"hf_token": "***", "batch": 2}
    assert clean["setup"] == ["module load cuda", "export HF_TOKEN=***"]
    assert clean["generation"] == {"max_new_tokens": 32768}
    assert redact_text("token hf_zzzzzzzz here", {"hf_zzzzzzzz"}) == "token *** here"


def files_containing(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path}: {n}" for n in needles if n.encode() in data]
    return hits


@pytest.mark.slow
def test_no_secret_in_any_file_a_run_writes(tmp_path: Path, shared_datasets: Path) -> None:
    env = {**os.environ, **SECRETS, "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
    outputs = tmp_path / "outputs"
    base = [f"paths.output_root={outputs}", f"paths.data_dir={shared_datasets}"]

    def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, *args],
            cwd=tmp_path,
            env={**env, "PATH": path} if path else env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return proc

    evaluate = [*base, "benchmark.limit=1", "benchmark.n=1", "generation.max_new_tokens=8"]
    printed = run("-m", "evallaunch.evaluate", "backend=lighteval", *evaluate).stdout
    printed += run("-m", "evallaunch.evaluate", "backend=lmeval", *evaluate).stdout
    # The sbatch script of a dry run, rendered as on a machine without Slurm.
    script = run(
        "-m",
        "evallaunch.evaluate",
        "--multirun",
        "cluster=slurm",
        *base,
        "launch.dry_run=true",
        f"hydra.launcher.setup=['export HF_TOKEN={SECRETS['HF_TOKEN']}']",
        path=path_without_slurm(tmp_path),
    ).stdout
    assert "#SBATCH" in script and "export HF_HUB_OFFLINE=1" in script
    printed += script
    printed += run(
        "-m", "evallaunch.cli", "collect", str(outputs), "--output", str(tmp_path / "collect")
    ).stdout
    assert list(outputs.rglob("results.json")), "the runs wrote results"
    assert list((tmp_path / "collect").rglob("*.wandb")), "collect wrote an offline W&B run"
    assert files_containing(tmp_path, list(SECRETS.values())) == []
    assert not any(secret in printed for secret in SECRETS.values())
