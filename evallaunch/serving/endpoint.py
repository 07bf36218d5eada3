"""A server someone else runs (`model.endpoint`): an OpenAI-compatible URL the job sends
its requests to instead of starting servers.

The job's load balancer (evallaunch.serving.balancer) stands in front of it, as in front of
the job's own servers: the harnesses talk to 127.0.0.1 without a key, and the balancer adds
the key (read from the environment variable `model.endpoint.api_key_env`, never written),
bounds the requests in flight, retries 429, 5xx and connection errors with backoff, and
counts tokens. What the server says it serves (`/models`, vLLM's `/version`) is recorded
with the job's results.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from evallaunch.config.evaluated import EndpointConfig
from evallaunch.config.schema import EvaluateConfig
from evallaunch.errors import EvallaunchError

if TYPE_CHECKING:
    from evallaunch.backends.base import GenerationRequest
    from evallaunch.serving.balancer import LoadBalancer

log = logging.getLogger(__name__)

#: How the n samples of a problem are asked for: n requests, the i-th seeded seed + i
#: (servers such as `transformers serve` ignore the `n` field).
SAMPLES_AS = "seeded requests"
PROBE_TIMEOUT_S = 10.0


def endpoint_of(cfg: EvaluateConfig) -> EndpointConfig | None:
    """`model.endpoint` when it names a URL, else None (the job starts its own servers)."""
    endpoint = cfg.model.endpoint
    return endpoint if endpoint.url else None


def check_endpoint(cfg: EvaluateConfig) -> None:
    """Refuse an endpoint the job cannot use, before anything starts."""
    endpoint = endpoint_of(cfg)
    if endpoint is None:
        return
    url = str(endpoint.url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EvallaunchError(
            f"model.endpoint.url={url!r} is invalid: expected an http(s) URL of an "
            "OpenAI-compatible API, up to its version",
            hint="e.g. model.endpoint.url=http://host:8000/v1",
        )
    model_type = cfg.backend.model_type
    if model_type != "server":
        raise EvallaunchError(
            f"model.endpoint.url needs a backend that sends requests to servers, and "
            f"backend={cfg.backend.name} has model_type={model_type}",
            hint="use backend=lmeval_server or backend=lighteval_server",
        )
    for key, value, least in (
        ("max_in_flight", endpoint.max_in_flight, 1),
        ("max_retries", endpoint.max_retries, 0),
        ("retry_backoff_s", endpoint.retry_backoff_s, 0),
        ("max_backoff_s", endpoint.max_backoff_s, 0),
    ):
        if value < least:
            raise EvallaunchError(
                f"model.endpoint.{key}={value} is invalid: expected a value >= {least}"
            )
    api_key(endpoint)


def api_key(endpoint: EndpointConfig) -> str | None:
    """The key in the environment variable `api_key_env` names (None when it names none)."""
    name = endpoint.api_key_env
    if not name:
        return None
    value = os.environ.get(str(name), "")
    if not value:
        raise EvallaunchError(
            f"model.endpoint.api_key_env={name} names an environment variable that is not set here",
            hint=f"export {name}=<your key> before the command (Slurm jobs inherit it)",
        )
    return value


def request_headers(endpoint: EndpointConfig) -> dict[str, str]:
    """Headers the balancer adds to every request it forwards to the endpoint."""
    key = api_key(endpoint)
    return {"Authorization": f"Bearer {key}"} if key else {}


def served_model(cfg: EvaluateConfig, model_path: str) -> str:
    """The `model` field of the requests: model.endpoint.served_model, else the model's
    path as resolved (a Hub id stays one)."""
    endpoint = endpoint_of(cfg)
    named = endpoint.served_model if endpoint is not None else None
    return str(named or model_path)


def reported_model(url: str, model: str, headers: dict[str, str]) -> dict[str, Any]:
    """What the endpoint says it serves under `model` (its `/models` entry, vLLM's
    `/version`); {} for what it does not say."""
    base = url.rstrip("/")
    found: dict[str, Any] = {}
    listing = _get_json(base + "/models", headers)
    for entry in (listing or {}).get("data") or []:
        if isinstance(entry, dict) and entry.get("id") == model:
            keys = ("id", "owned_by", "created", "root", "max_model_len")
            found.update({k: entry[k] for k in keys if entry.get(k) is not None})
    if listing is not None and not found:
        log.warning("The endpoint does not list model %r under %s/models", model, base)
    root = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
    version = _get_json(root + "/version", headers)
    if isinstance(version, dict) and version.get("version"):
        found["server_version"] = str(version["version"])
    return found


def _get_json(url: str, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http(s) checked)
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as answer:  # noqa: S310
            return json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as err:
        log.debug("GET %s: %s", url, err)
        return None


@contextmanager
def endpoint_balancer(
    cfg: Any, request: GenerationRequest, log_dir: Path
) -> Iterator[tuple[GenerationRequest, LoadBalancer, dict[str, Any]]]:
    """The job's balancer in front of `model.endpoint`: yields (`request` with `base_url`
    and `served_model` set, the balancer, the endpoint's record for results.json, which
    gets the request counts and tokens as the block ends)."""
    from evallaunch.serving.balancer import LoadBalancer
    from evallaunch.serving.servers import free_port

    endpoint = endpoint_of(cfg)
    assert endpoint is not None
    url, headers = str(endpoint.url).rstrip("/"), request_headers(endpoint)
    model = served_model(cfg, request.model_path)
    record: dict[str, Any] = {
        "url": url,
        "served_model": model,
        "reported": reported_model(url, model, headers),
        "samples_as": SAMPLES_AS,
    }
    balancer = LoadBalancer(
        [url],
        port=free_port(int(cfg.backend.server.base_port) - 1, taken=[]),
        max_retries=int(endpoint.max_retries),
        capacity=int(endpoint.max_in_flight),
        headers=headers,
        strip_prefix="/v1",
        backoff_s=float(endpoint.retry_backoff_s),
        max_backoff_s=float(endpoint.max_backoff_s),
    )
    log.info("Endpoint %s (model %s): %s", url, model, record["reported"] or "no model facts")
    with balancer:
        try:
            served = replace(request, base_url=f"{balancer.url}/v1", served_model=model)
            yield served, balancer, record
        except Exception as err:
            if balancer.failed:
                raise EvallaunchError(
                    f"{balancer.failed} request(s) to {url} failed after "
                    f"{endpoint.max_retries} retries ({err}); the units answered in full "
                    "are kept",
                    hint="run the same command again: it asks only for the samples missing",
                ) from err
            raise
        finally:
            stats = balancer.stats()
            record.update(
                requests=len(balancer.requests),
                failed=stats["failed"],
                retries=stats["retries"],
                usage=stats["usage"],
            )
            balancer.write_records(log_dir)
