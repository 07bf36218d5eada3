"""The nodes of a Ray cluster, as a multi-node job's tasks see them
(evallaunch.serving.ray_cluster): Ray present in the serving environment, a host's address,
the alive nodes of a cluster, waiting until every node of a replica has joined with its
GPUs, and stopping a node's processes."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
from typing import Any

from evallaunch.errors import EvallaunchError

log = logging.getLogger(__name__)

POLL_S = 0.5
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
NODES_SCRIPT = (
    "import json, sys, ray\n"
    "ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False)\n"
    "print(json.dumps([{'name': n.get('NodeName') or n['NodeManagerAddress'],"
    " 'gpus': n['Resources'].get('GPU', 0)} for n in ray.nodes() if n['Alive']]))\n"
)


def node_ip(host: str) -> str:
    """The address of `host` the other nodes reach it at."""
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


def require_ray(python: str) -> None:
    """Ray is importable by the serving environment's `python`."""
    found = subprocess.run(
        [python, "-c", "import ray"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        raise EvallaunchError(
            f"Ray is not installed in the serving environment ({python}): a replica over "
            "several nodes runs vLLM on a Ray cluster",
            hint="`make setup-vllm` installs it into .venv-vllm, or `pip install ray` there",
        )


def alive_nodes(python: str, address: str) -> list[dict[str, Any]]:
    """The alive nodes of the Ray cluster at `address` (name, GPUs)."""
    out = subprocess.run(
        [python, "-c", NODES_SCRIPT, address],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **RAY_ENV},
        timeout=120,
    )
    if out.returncode != 0:
        return []
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def wait_for_nodes(
    python: str, address: str, members: list[str], gpus: int, timeout_s: float
) -> list[dict[str, Any]]:
    """Wait until the cluster at `address` has a node for each of `members` (name prefixes)
    and `gpus` GPUs in all; a node that never joins fails naming it."""
    deadline = time.monotonic() + timeout_s
    nodes: list[dict[str, Any]] = []
    while True:
        nodes = alive_nodes(python, address)
        names = [str(n["name"]) for n in nodes]
        missing = [m for m in members if not any(n.startswith(m) for n in names)]
        have_gpus = sum(float(n["gpus"]) for n in nodes)
        if not missing and have_gpus >= gpus:
            return nodes
        if time.monotonic() > deadline:
            what = (
                f"node(s) {', '.join(m.rstrip('@') for m in missing)} never joined"
                if missing
                else f"{have_gpus:g} of {gpus} GPUs registered"
            )
            raise EvallaunchError(
                f"the Ray cluster at {address}: {what} within {timeout_s:g} s "
                f"(joined: {', '.join(names) or 'none'})",
                hint="see that task's log in the sweep's .submitit folder; raise "
                "parallelism.ray_join_timeout_s if its nodes start slowly",
            )
        time.sleep(POLL_S)


def stop_process_group(process: subprocess.Popen[bytes] | None, grace_s: float = 30) -> None:
    """Stop a Ray node started by `RayCluster`: SIGTERM to its process group (`ray start
    --block` stops the processes it started), then SIGKILL to what is left."""
    if process is None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    deadline = time.monotonic() + 10.0
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything its children left in the group
        while time.monotonic() < deadline:  # until the kernel has taken them all
            os.killpg(process.pid, 0)
            time.sleep(0.05)
        log.warning("Ray node processes of group %d are still there after SIGKILL", process.pid)
