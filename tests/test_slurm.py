"""Sweeps as Slurm job arrays on the real single-node Slurm of `make slurm-up`.

The cluster has 2 CPUs and 2 fake GPUs (gres): GPU requests schedule, models run on CPU.
Without a running cluster these tests skip: `make test` starts one first when it runs as root
with apt-get (scripts/slurm/up-for-tests.sh); `make slurm-up` starts it by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from evallaunch.job.ledger import SampleLedger
from evallaunch.job.results import validate_results
from evallaunch.launching.sweep_record import IN_FLIGHT, append_jobs
from tests.helpers import REPO

pytestmark = pytest.mark.slow

SMOKE = ["benchmark.limit=1", "benchmark.n=1", "generation.max_new_tokens=12"]


@pytest.fixture(scope="module")
def slurm() -> None:
    if shutil.which("sbatch") is None:
        pytest.skip("Slurm is not installed (`make test` as root with apt-get, or `make slurm-up`)")
    status = subprocess.run(
        ["bash", str(REPO / "scripts" / "slurm" / "status.sh")], capture_output=True, check=False
    )
    if status.returncode != 0:
        pytest.skip("the local Slurm is not running (`make test` as root, or `make slurm-up`)")


def sweep(tmp_path: Path, shared: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`evallaunch-evaluate --multirun cluster=slurm ARGS` in tmp_path."""
    command = [
        sys.executable,
        "-m",
        "evallaunch.evaluate",
        "--multirun",
        "cluster=slurm",
        f"paths.output_root={tmp_path / 'outputs'}",
        f"paths.data_dir={shared}",
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900
    )


def evallaunch(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "evallaunch.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def record(tmp_path: Path) -> list[dict]:
    path = tmp_path / "outputs" / "default" / ".evallaunch" / "sweep.json"
    return list(json.loads(path.read_text())["jobs"])


def results_of(job_dir: str) -> dict:
    return dict(json.loads((Path(job_dir) / "results.json").read_text()))


def test_two_by_two_sweep_runs_as_one_array(
    slurm: None, tmp_path: Path, shared_datasets: Path
) -> None:
    proc = sweep(
        tmp_path, shared_datasets, "benchmark=math_500,aime24", "backend=lighteval,lmeval", *SMOKE
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = record(tmp_path)
    assert len(jobs) == 4
    arrays = {job["slurm_job_id"].split("_")[0] for job in jobs}
    assert len(arrays) == 1, f"expected one job array, got {arrays}"
    assert sorted(job["slurm_job_id"].split("_")[1] for job in jobs) == ["0", "1", "2", "3"]
    for job in jobs:
        results = results_of(job["job_dir"])
        assert validate_results(results) == []
        assert Path(job["log"]).is_file()
    status = evallaunch("status", str(tmp_path / "outputs" / "default"))
    assert status.returncode == 0 and "4 completed" in status.stdout


def test_failed_job_is_reported_and_resubmitted_alone(
    slurm: None, tmp_path: Path, shared_datasets: Path
) -> None:
    late = tmp_path / "late-model"  # does not exist yet: its job fails
    models = f"model.name_or_path=embedded:smollm2-135m-instruct,{late}"
    proc = sweep(tmp_path, shared_datasets, models, *SMOKE)
    assert proc.returncode != 0
    sweep_dir = tmp_path / "outputs" / "default"
    status = evallaunch("status", str(sweep_dir))
    assert status.returncode == 1
    assert "1 completed, 1 failed" in status.stdout

    good = next(job for job in record(tmp_path) if "late-model" not in job["job_dir"])
    stamp = (Path(good["job_dir"]) / "results.json").stat().st_mtime
    embedded = Path(results_of(good["job_dir"])["model"]["resolved_path"])
    shutil.copytree(embedded, late)  # the checkpoint appears; resubmit only the failed job
    resubmit = evallaunch("resubmit", str(sweep_dir))
    assert resubmit.returncode == 0, resubmit.stdout[-3000:] + resubmit.stderr[-3000:]
    entries = record(tmp_path)  # the finished job is not even sent to the launcher again
    assert len(entries) == 3
    assert entries[2]["state"] == "submitted" and "late-model" in entries[2]["job_dir"]
    assert "skip (already finished)" in resubmit.stdout
    assert (Path(good["job_dir"]) / "results.json").stat().st_mtime == stamp
    assert "2 completed" in evallaunch("status", str(sweep_dir)).stdout


def test_time_limit_signal_requeues_and_the_job_finishes(
    slurm: None, tmp_path: Path, shared_datasets: Path
) -> None:
    args = [
        "benchmark.limit=2",
        "benchmark.n=1",
        "generation.max_new_tokens=96",
        "launch.wait=false",
    ]
    proc = sweep(tmp_path, shared_datasets, "benchmark=math_500", *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (job,) = record(tmp_path)
    status_file = Path(job["job_dir"]) / "status.json"
    wait_for(lambda: status_file.is_file(), "the job to start")
    # The signal Slurm sends before the time limit (submitit's --signal=USR2@...).
    subprocess.run(["scancel", "--signal=USR2", job["slurm_job_id"]], check=True)
    wait_for(
        lambda: (Path(job["job_dir"]) / "results.json").is_file(), "the requeued job to finish"
    )
    status = json.loads(status_file.read_text())
    assert status["status"] == "completed"
    assert status["requeues"] == 1


def record_tasks(sweep_dir: Path, tasks: list[str]) -> None:
    """A sweep record whose jobs are array tasks submitted with sbatch directly."""
    jobs = [
        {"label": f"task-{task}", "job_dir": str(sweep_dir / task), "slurm_job_id": task}
        for task in tasks
    ]
    append_jobs(sweep_dir, ["sbatch"], str(sweep_dir), jobs)


def status_table(sweep_dir: Path) -> tuple[int, dict[str, str], str]:
    """`evallaunch status`: its exit code, the state of each Slurm id in its table, and the
    table's last line (the count per state)."""
    proc = evallaunch("status", str(sweep_dir))
    lines = proc.stdout.strip().splitlines()
    assert len(lines) >= 2, proc.stdout + proc.stderr
    rows = [line.split() for line in lines[1:-1]]
    return proc.returncode, {row[1]: row[2] for row in rows}, lines[-1]


def wait_until_settled(sweep_dir: Path, tasks: list[str]) -> tuple[int, dict[str, str], str]:
    """The status table once sacct knows every task and none is in flight (sacct lags the
    controller a little)."""
    table: list[tuple[int, dict[str, str], str]] = []

    def settled() -> bool:
        table[:] = [status_table(sweep_dir)]
        states = table[0][1]
        return all(states.get(t, "unknown") not in IN_FLIGHT | {"unknown"} for t in tasks)

    try:
        wait_for(settled, "status to report a final state for every task", timeout=120)
    except AssertionError:
        raise AssertionError(f"status said: {table[0] if table else None}") from None
    return table[0]


def wait_for(condition, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_resource_shapes_become_two_arrays(
    slurm: None, tmp_path: Path, shared_datasets: Path
) -> None:
    # Two user experiments (from --config-dir): one GPU, and the node filled with replicas.
    experiments = tmp_path / "user_conf" / "experiment"
    experiments.mkdir(parents=True)
    for name, parallelism in (("one_gpu", "single"), ("full_node", "dp")):
        (experiments / f"{name}.yaml").write_text(
            "# @package _global_\n"
            f"defaults:\n  - override /parallelism: {parallelism}\n"
            f"experiment_name: {name}\n"
        )
    proc = sweep(
        tmp_path,
        shared_datasets,
        "--config-dir",
        str(tmp_path / "user_conf"),
        "experiment=one_gpu,full_node",
        *SMOKE,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    jobs = record(tmp_path)
    assert len(jobs) == 2
    assert {job["resources"]["gpus_per_node"] for job in jobs} == {1, 2}
    arrays = {job["slurm_job_id"].split("_")[0] for job in jobs}
    assert len(arrays) == 2
    for job in jobs:
        tres = subprocess.run(
            ["sacct", "-n", "-P", "-X", "-o", "AllocTRES", "-j", job["slurm_job_id"]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"gres/gpu={job['resources']['gpus_per_node']}" in tres
        assert validate_results(results_of(job["job_dir"])) == []


def test_cancel_stops_only_this_sweeps_jobs(
    slurm: None, tmp_path: Path, shared_datasets: Path
) -> None:
    args = ["benchmark.limit=5", "generation.max_new_tokens=512", "launch.wait=false"]
    proc = sweep(tmp_path, shared_datasets, "benchmark=math_500,aime24", *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sweep_dir = tmp_path / "outputs" / "default"
    cancelled = evallaunch("cancel", str(sweep_dir))
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    ids = {job["slurm_job_id"] for job in record(tmp_path)}

    def none_queued() -> bool:
        queued = subprocess.run(
            ["squeue", "-h", "-o", "%i", "-j", ",".join(ids)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return not queued.strip()

    wait_for(none_queued, "squeue to drop the cancelled jobs", timeout=120)
    # sacct lags the controller a little, and folds never-started tasks ('12_[0-1]').
    last: list[str] = []

    def both_cancelled() -> bool:
        last[:] = [evallaunch("status", str(sweep_dir)).stdout]
        return "2 cancelled" in last[0]

    try:
        wait_for(both_cancelled, "status to report both jobs cancelled", timeout=120)
    except AssertionError:
        raise AssertionError(f"status said:\n{last[0]}") from None
    status = evallaunch("status", str(sweep_dir))
    assert status.returncode == 1 and "2 cancelled" in status.stdout


def test_status_reads_array_tasks_cancelled_before_they_started(
    slurm: None, tmp_path: Path
) -> None:
    """sacct prints tasks cancelled while pending as one folded line, e.g. '12_[1-3]'."""
    script = tmp_path / "sleep.sh"
    script.write_text("#!/bin/bash\nsleep 120\n")
    array_id = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--array=0-3",
            "--cpus-per-task=2",
            f"--chdir={tmp_path}",
            "--output=/dev/null",
            str(script),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    wait_for(
        lambda: (
            subprocess.run(
                ["squeue", "-h", "-t", "R", "-j", array_id], capture_output=True, text=True
            ).stdout.strip()
            != ""
        ),
        "the first task to start",
        timeout=60,
    )
    tasks = [f"{array_id}_{i}" for i in range(4)]
    sweep_dir = tmp_path / "sweep"
    record_tasks(sweep_dir, tasks)
    subprocess.run(["scancel", array_id], check=True)
    code, states, counts = wait_until_settled(sweep_dir, tasks)
    assert states == dict.fromkeys(tasks, "cancelled")
    assert counts == "4 cancelled"
    assert code == 1


def test_a_job_requeued_mid_run_resumes_from_its_ledger(
    slurm: None, tmp_path: Path, shared_datasets: Path
) -> None:
    """`scontrol requeue` kills a running job and starts it again: the second start reuses
    the units the first recorded, and the samples equal those of an uninterrupted run.
    (About a minute: the job starts twice under Slurm, beside an uninterrupted run.)"""
    units = [
        "backend=lmeval",
        "benchmark.limit=2",
        "benchmark.n=2",
        "generation.max_new_tokens=24",
        "sampling.problems_per_unit=1",
        "sampling.samples_per_unit=1",
    ]
    proc = sweep(tmp_path, shared_datasets, *units, "launch.wait=false")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (job,) = record(tmp_path)
    job_dir = Path(job["job_dir"])

    def recorded() -> int:
        return sum(
            len(SampleLedger(job_dir, path.stem).load().samples)
            for path in (job_dir / "ledger").glob("*.jsonl")
        )

    wait_for(lambda: recorded() >= 1, "the first unit to be recorded")
    subprocess.run(["scontrol", "requeue", job["slurm_job_id"]], check=True)
    kept = recorded()
    wait_for(lambda: (job_dir / "results.json").is_file(), "the requeued job to finish")
    status = json.loads((job_dir / "status.json").read_text())
    assert status["status"] == "completed" and status["requeues"] == 1
    results = json.loads((job_dir / "results.json").read_text())
    assert results["sampling"]["samples_reused"] >= kept >= 1
    assert results["sampling"]["samples_reused"] + results["sampling"]["samples_generated"] == 4

    local_root = tmp_path / "uninterrupted"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "evallaunch.evaluate",
            f"paths.output_root={local_root}",
            f"paths.data_dir={shared_datasets}",
            *units,
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=900,
    )
    local_dir = local_root / "default" / job_dir.relative_to(tmp_path / "outputs" / "default")

    def completions(directory: Path) -> dict[tuple[str, int], str]:
        details = pd.read_parquet(directory / "details.parquet")
        return {(r.problem_id, int(r.sample_index)): r.completion for r in details.itertuples()}

    assert completions(job_dir) == completions(local_dir)
    assert results["metrics"] == json.loads((local_dir / "results.json").read_text())["metrics"]


def test_status_reads_an_array_cancelled_before_any_task_started(
    slurm: None, tmp_path: Path
) -> None:
    """sacct then lists the array under its bare id ('12'), never per task."""
    array_id = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--hold",
            "--array=0-2",
            f"--chdir={tmp_path}",
            "--output=/dev/null",
            "--wrap=sleep 1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tasks = [f"{array_id}_{i}" for i in range(3)]
    sweep_dir = tmp_path / "sweep"
    record_tasks(sweep_dir, tasks)
    subprocess.run(["scancel", array_id], check=True)
    code, states, counts = wait_until_settled(sweep_dir, tasks)
    assert states == dict.fromkeys(tasks, "cancelled")
    assert counts == "3 cancelled"
    assert code == 1


def test_trainer_callback_submits_to_slurm(
    slurm: None, tmp_path: Path, shared_datasets: Path
) -> None:
    """On a cluster the callback only submits (training never waits for the evaluations)."""
    from evallaunch.integrations import EvalOnSaveCallback
    from tests.trainer import eval_overrides, tiny_trainer

    outputs = tmp_path / "outputs"
    common = ["cluster=slurm", *eval_overrides(outputs, shared_datasets)]
    callback = EvalOnSaveCallback(overrides=common, tokens_per_step=32)
    tiny_trainer(tmp_path / "run", max_steps=3, callbacks=[callback])
    assert callback.wait(timeout=300) == [0, 0, 0]  # submitted, not run
    pattern = "train/*/checkpoint-*/math_500/lighteval/results.json"
    wait_for(lambda: len(list(outputs.glob(pattern))) == 3, "the three evaluations")
    results = list(outputs.glob(pattern))
    steps = sorted(json.loads(p.read_text())["model"]["step"] for p in results)
    assert steps == [1, 2, 3]


def test_harness_tasks_of_one_model_share_one_allocation_and_rerun_as_done(
    slurm: None, tmp_path: Path, mirror: Path
) -> None:
    """launch.benchmarks_per_job=2 puts lighteval's gsm8k and a task of the user's own into
    one Slurm job, run one after the other on one model; the same sweep again submits
    nothing, both skipped as finished."""
    tasks = [
        "benchmark=harness",
        "benchmark.task=gsm8k,el_light:qa",
        f"benchmark.custom_tasks={REPO / 'tests' / 'data' / 'lighteval_tasks' / 'el_light.py'}",
        "benchmark.gen_kwargs='max_new_tokens=12'",
        "launch.benchmarks_per_job=2",
        "benchmark.limit=2",
    ]
    proc = sweep(tmp_path, mirror, *tasks)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = record(tmp_path)
    assert len(jobs) == 2
    assert len({job["slurm_job_id"] for job in jobs}) == 1, jobs  # one allocation
    names = sorted(results_of(job["job_dir"])["benchmark"]["task"] for job in jobs)
    assert names == ["el_light:qa", "gsm8k"]
    again = sweep(tmp_path, mirror, *tasks)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.count("skip (already finished)") == 2
    assert len(record(tmp_path)) == 2  # nothing submitted


def ray_processes() -> list[str]:
    """Ray's own processes on this machine (its raylet, GCS server, workers)."""
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    names = ("raylet", "gcs_server", "ray::", "ray.scripts.scripts start")
    return [line for line in ps.stdout.splitlines() if any(n in line for n in names)]


@pytest.mark.ports
def test_a_job_of_two_tasks_runs_on_a_ray_cluster_of_both_and_leaves_nothing(
    slurm: None, tmp_path: Path, shared_datasets: Path
) -> None:
    """A replica over 2 nodes, here 2 Slurm tasks on the one node: task 0 starts the Ray
    head, task 1 joins it, the job runs once both are in the cluster (results.json lists
    them), and no Ray process is left when the job is done."""
    if not (REPO / ".venv-vllm" / "bin" / "python").is_file():
        pytest.skip("Ray lives in .venv-vllm (make setup-vllm)")
    assert ray_processes() == [], "Ray runs already on this machine"
    proc = sweep(
        tmp_path,
        shared_datasets,
        "hydra.launcher.tasks_per_node=2",
        "parallelism.nodes_per_replica=2",
        *SMOKE,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (job,) = record(tmp_path)
    (cluster,) = results_of(job["job_dir"])["engine"]["ray_clusters"]
    assert [name.split("@")[0] for name in cluster["nodes"]] == ["rank-0", "rank-1"]
    deadline = time.monotonic() + 60  # the job ends when its second task has stopped too
    while ray_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray_processes() == []
