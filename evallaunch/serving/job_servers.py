"""Inference-server mode (`backend.model_type=server`).

The job starts `backend.server.num_servers` OpenAI-compatible servers from the
`backend.server.command` template, waits for their health route, puts a least-connections
load balancer in front of them and hands the backend its URL (`GenerationRequest.base_url`,
ending in `/v1`). Servers and balancer end with the `with` block, whatever ends it.

    with inference_servers(cfg, request) as (request, serving):
        output = backend.generate(request)

With model_type=vllm and several replicas (or units in flight) the servers are
evallaunch's `vllm serve` replicas, one per engine replica (VLLM_SERVE_COMMAND). Otherwise
the block runs with the request unchanged and starts nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shlex
import socket
import string
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evallaunch.config.frozen import plain
from evallaunch.config.running import ServerConfig
from evallaunch.config.schema import EvaluateConfig
from evallaunch.engines.settings import vllm_cpu_environment
from evallaunch.engines.vllm_python import vllm_python
from evallaunch.errors import EvallaunchError
from evallaunch.models.resolve import context_length
from evallaunch.serving.batch_servers import (
    SharedServers,
    announced_servers,
    keep,
    kept_servers,
    remote_answered,
)
from evallaunch.serving.ray_cluster import on_ray_cluster, ray_heads
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
    "vllm_engine_args",
    "python",
)
#: The server of one engine replica with model_type=vllm ({python}: a Python with vLLM).
VLLM_SERVE_COMMAND = (
    "{python} -m vllm.entrypoints.openai.api_server --model {model_path} --host {host}"
    " --port {port} --seed {seed} --revision {revision} {vllm_engine_args}"
)


@dataclasses.dataclass(frozen=True)
class Serving:
    """The servers of a running job: how many started, each unit's answered requests, and
    the endpoint's record when the job uses a server it did not start."""

    started: int = 0
    answered: Callable[[str], int] | None = None
    #: model.endpoint's record for results.json (evallaunch.serving.endpoint), filled in
    #: with the counts as the job's block ends.
    endpoint: dict[str, Any] | None = None
    #: Servers an earlier job of the same batch started and left up (`shared_servers`).
    reused: int = 0


@contextmanager
def inference_servers(
    cfg: EvaluateConfig, request: GenerationRequest, units_in_flight: int | None = 1
) -> Iterator[tuple[GenerationRequest, Serving]]:
    """Start the job's servers and balancer when it talks to servers (model_type=server,
    or vLLM replicas: `evallaunch.engines.settings.uses_servers`) and yield (`request` with
    `base_url` set, the servers); otherwise yield (`request`, Serving())."""
    from evallaunch.engines.settings import uses_servers
    from evallaunch.serving.endpoint import endpoint_balancer, endpoint_of

    log_dir = Path(request.work_dir) / "backend" / "servers"
    if endpoint_of(cfg) is not None:
        with endpoint_balancer(cfg, request, log_dir) as (request, balancer, record):
            yield request, Serving(0, balancer.answered, record)
        return
    if not uses_servers(cfg.backend.model_type, request.engine, units_in_flight):
        yield request, Serving()
        return
    from evallaunch.serving.balancer import LoadBalancer

    settings = server_settings(cfg)
    key = _servers_key(settings, request)
    # The jobs of a batch share one balancer: each names its units' requests in its own scope.
    scope = hashlib.sha256(str(request.work_dir).encode()).hexdigest()[:8] + "/"
    request = dataclasses.replace(request, unit=scope)
    announced = announced_servers(key)
    if announced is not None:  # a job its batch runs in another process, on its servers
        url, reused = announced["url"], int(announced["servers"])
        log.info("Using the %d server(s) of this job's batch at %s", reused, url)
        serving = Serving(0, remote_answered(url, scope), reused=reused)
        yield dataclasses.replace(request, base_url=f"{url}/v1"), serving
        return
    kept = kept_servers(key)
    if kept is not None:
        servers, balancer = kept.servers, kept.balancer
        log.info("Using the %d server(s) an earlier job of this batch started", len(servers))
        try:
            serving = Serving(0, _scoped(balancer.answered, scope), reused=len(servers))
            yield dataclasses.replace(request, base_url=f"{balancer.url}/v1"), serving
        finally:
            _record(log_dir, servers, balancer)
        return
    servers = build_servers(settings, request, log_dir)
    pool = ServerPool(servers, settings.health_path, float(settings.startup_timeout_s))
    engine = request.engine
    balancer = LoadBalancer(
        [server.url for server in servers],
        port=free_port(int(settings.base_port) - 1, taken=[s.port for s in servers]),
        max_retries=int(settings.max_retries),
        alive=[server.alive for server in servers],
        # Each engine runs max_num_seqs sequences; the rest wait at the balancer (one queue
        # for every replica), so a slot that frees anywhere takes the oldest request.
        capacity=engine.max_num_seqs * max(1, engine.replicas // len(servers))
        if engine.max_num_seqs
        else None,
    )
    stack = ExitStack()  # the servers and balancer, closed with the job or the batch
    try:
        stack.enter_context(pool)
        stack.enter_context(balancer)
    except BaseException:
        stack.close()
        raise
    stack.callback(_record, log_dir, servers, balancer)  # the whole batch's, when shared
    for_batch = keep(SharedServers(key, stack, servers, balancer))
    try:
        serving = Serving(len(servers), _scoped(balancer.answered, scope))
        yield dataclasses.replace(request, base_url=f"{balancer.url}/v1"), serving
    finally:
        if for_batch:
            _record(log_dir, servers, balancer)
        else:
            stack.close()


def _scoped(answered: Callable[[str], int], scope: str) -> Callable[[str], int]:
    return lambda unit: answered(scope + unit)


def _servers_key(settings: Any, request: GenerationRequest) -> str:
    """What a job's servers run: the command and everything filled into it."""
    fields = {
        "settings": plain(settings),
        "model": [request.model_path, request.revision, request.dtype, request.device],
        "context": request.max_model_length,
        "seed": request.seed,
        "engine": request.engine.to_dict(),
    }
    return json.dumps(fields, sort_keys=True, default=str)


def server_settings(cfg: EvaluateConfig) -> ServerConfig:
    """`backend.server`; for model_type=vllm, one `vllm serve` per engine replica with the
    job's engine settings (VLLM_SERVE_COMMAND)."""
    settings = cfg.backend.server
    if cfg.backend.model_type != "vllm":
        return settings
    return dataclasses.replace(settings, num_servers="auto", command=VLLM_SERVE_COMMAND)


def build_servers(settings: Any, request: GenerationRequest, log_dir: Path) -> list[Server]:
    """One `Server` per `settings.num_servers` (auto: per engine replica), its command
    filled in from the template."""
    engine = request.engine
    count = engine.replicas if settings.num_servers == "auto" else settings.num_servers
    if not isinstance(count, int) or count < 1:
        raise EvallaunchError(
            f"backend.server.num_servers={settings.num_servers!r} is invalid: expected auto "
            "(one per engine replica) or a value >= 1"
        )
    template = str(settings.command)
    used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if unknown := sorted(used - set(COMMAND_FIELDS)):
        raise EvallaunchError(
            f"backend.server.command uses unknown field(s) {', '.join(unknown)}",
            hint=f"known fields: {', '.join('{' + f + '}' for f in COMMAND_FIELDS)}",
        )
    tp = engine.tensor_parallel_size * engine.pipeline_parallel_size
    dp = max(1, engine.replicas // count)  # replicas per server when servers are fewer
    fields: dict[str, Any] = {
        "model_path": request.model_path,
        "tensor_parallel_size": engine.tensor_parallel_size,
        "data_parallel_size": dp,
        "host": HOST,
        "dtype": request.dtype,
        "seed": request.seed,
        "revision": request.revision or "main",
        "vllm_engine_args": engine.vllm_flags(),
    }
    if "python" in used:
        fields["python"] = vllm_python()
    if "max_model_length" in used:
        fields["max_model_length"] = request.max_model_length or context_length(request.model_path)
    heads = ray_heads(engine.nodes_per_replica, count)
    gpus = [] if heads else _gpu_slices(count, tp * dp)
    servers: list[Server] = []
    for index in range(count):
        port = free_port(int(settings.base_port) + index, taken=[s.port for s in servers])
        remote = bool(heads) and heads[index]["host"] != socket.gethostname()
        host = {"host": "0.0.0.0"} if remote else {}  # noqa: S104 (the balancer's node calls)
        argv = shlex.split(template.format(port=port, index=index, **{**fields, **host}))
        if not argv:
            raise EvallaunchError("backend.server.command is empty")
        argv[0] = find_executable(argv[0])
        env = {"CUDA_VISIBLE_DEVICES": gpus[index]} if gpus else {}
        if request.device == "cpu":
            env.update(vllm_cpu_environment(index))
        env["VLLM_CONFIGURE_LOGGING"] = "1"  # the server's own log file gets vLLM's records
        server = Server(index, argv, port, log_dir / f"server-{index}.log", env)
        if heads:
            on_ray_cluster(server, heads[index], remote)
        servers.append(server)
    return servers


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


def _record(log_dir: Path, servers: list[Server], balancer: Any) -> None:
    stats = balancer.stats()
    for server, entry in zip(servers, stats["servers"], strict=True):
        log.info(
            "Server %d: %d request(s), %d failed, ready after %ss",
            server.index,
            entry["requests"],
            entry["failures"],
            server.ready_after_s,
        )
    facts = [{"command": shlex.join(s.argv), "ready_after_s": s.ready_after_s} for s in servers]
    balancer.write_records(log_dir, facts)
