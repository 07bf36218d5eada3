"""Inference-server mode (`backend.model_type=server`).

The job starts `backend.server.num_servers` OpenAI-compatible servers from the
`backend.server.command` template, waits for their health route, puts a least-connections
load balancer in front of them and hands the backend its URL (`GenerationRequest.base_url`,
ending in `/v1`). Servers and balancer end with the `with` block, whatever ends it.

    with inference_servers(cfg, request) as request:
        output = backend.generate(request)

With any other model_type the block runs with the request unchanged and starts nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evallaunch.errors import EvallaunchError
from evallaunch.serving.servers import HOST, Server, ServerPool, find_executable, free_port

if TYPE_CHECKING:
    from evallaunch.backends.base import GenerationRequest

__all__ = ["HOST", "Server", "ServerPool", "build_servers", "inference_servers"]

log = logging.getLogger(__name__)

#: Fields a `backend.server.command` template may use.
COMMAND_FIELDS = (
    "port",
    "model_path",
    "tensor_parallel_size",
    "data_parallel_size",
    "max_model_length",
    "host",
    "dtype",
    "seed",
    "index",
    "revision",
)


@contextmanager
def inference_servers(cfg: Any, request: GenerationRequest) -> Iterator[GenerationRequest]:
    """Start the job's servers and balancer when `cfg.backend.model_type` is "server" and
    yield `request` with `base_url` set; otherwise yield `request` as it is."""
    if cfg.backend.get("model_type") != "server":
        yield request
        return
    from evallaunch.serving.balancer import LoadBalancer

    settings = cfg.backend.server
    log_dir = Path(request.work_dir) / "backend" / "servers"
    servers = build_servers(settings, request, cfg.get("parallelism"), log_dir)
    pool = ServerPool(servers, settings.health_path, float(settings.startup_timeout_s))
    balancer = LoadBalancer(
        [server.url for server in servers],
        port=free_port(int(settings.base_port) - 1, taken=[s.port for s in servers]),
        max_retries=int(settings.max_retries),
        alive=[server.alive for server in servers],
    )
    with pool, balancer:
        try:
            yield dataclasses.replace(request, base_url=f"{balancer.url}/v1")
        finally:
            _record(log_dir / "balancer.json", servers, balancer.stats())


def build_servers(
    settings: Any, request: GenerationRequest, parallelism: Any, log_dir: Path
) -> list[Server]:
    """One `Server` per `settings.num_servers`, its command filled in from the template."""
    count = int(settings.num_servers)
    if count < 1:
        raise EvallaunchError(f"backend.server.num_servers={count}: must be at least 1")
    template = str(settings.command)
    used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if unknown := sorted(used - set(COMMAND_FIELDS)):
        raise EvallaunchError(
            f"backend.server.command uses unknown field(s) {', '.join(unknown)}",
            hint=f"known fields: {', '.join('{' + f + '}' for f in COMMAND_FIELDS)}",
        )
    tp = int(_get(parallelism, "tensor_parallel_size") or 1)
    dp = int(_get(parallelism, "data_parallel_size") or 1)
    fields: dict[str, Any] = {
        "model_path": request.model_path,
        "tensor_parallel_size": tp,
        "data_parallel_size": dp,
        "host": HOST,
        "dtype": request.dtype,
        "seed": request.seed,
        "revision": request.revision or "main",
    }
    if "max_model_length" in used:
        fields["max_model_length"] = request.max_model_length or _context_length(request)
    gpus = _gpu_slices(count, tp * dp)
    servers: list[Server] = []
    for index in range(count):
        port = free_port(int(settings.base_port) + index, taken=[s.port for s in servers])
        argv = shlex.split(template.format(port=port, index=index, **fields))
        if not argv:
            raise EvallaunchError("backend.server.command is empty")
        argv[0] = find_executable(argv[0])
        env = {"CUDA_VISIBLE_DEVICES": gpus[index]} if gpus else {}
        servers.append(Server(index, argv, port, log_dir / f"server-{index}.log", env))
    return servers


def _get(node: Any, key: str) -> Any:
    return None if node is None else node.get(key)


def _context_length(request: GenerationRequest) -> int:
    """The model's own context length (config.json), for {max_model_length}."""
    config_file = Path(request.model_path) / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        config = {}
    for node in (config, config.get("text_config") or {}):
        for key in ("max_position_embeddings", "max_sequence_length", "seq_length"):
            if isinstance(node.get(key), int):
                return int(node[key])
    raise EvallaunchError(
        f"cannot tell the context length of {request.model_path} for backend.server.command",
        hint="set model.max_model_length",
    )


def _gpu_slices(count: int, per_server: int) -> list[str]:
    """CUDA_VISIBLE_DEVICES for each server when several share the node's GPUs, else []."""
    if count < 2:
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        devices = [d for d in visible.split(",") if d.strip()]
    else:
        try:
            import torch

            devices = [str(i) for i in range(torch.cuda.device_count())]
        except ImportError:
            devices = []
    if not devices:
        return []
    if len(devices) < count * per_server:
        log.warning(
            "%d servers x %d GPU(s) each > %d visible GPU(s): servers share GPUs",
            count,
            per_server,
            len(devices),
        )
        return []
    return [",".join(devices[i * per_server : (i + 1) * per_server]) for i in range(count)]


def _record(path: Path, servers: list[Server], stats: dict[str, Any]) -> None:
    for server, entry in zip(servers, stats["servers"], strict=True):
        entry.update(command=shlex.join(server.argv), ready_after_s=server.ready_after_s)
        log.info(
            "Server %d: %d request(s), %d failed, ready after %ss",
            server.index,
            entry["requests"],
            entry["failures"],
            server.ready_after_s,
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stats, indent=2) + "\n")
    except OSError as err:
        log.warning("Could not write %s: %s", path, err)
