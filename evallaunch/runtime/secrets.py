"""Keep secrets (HF_TOKEN, WANDB_API_KEY, any *token* / *key* value) out of every file a
run writes: dumped configs, logs, sbatch scripts, results and uploads."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REDACTED = "***"
# A name is secret when one of its words is token, key, secret, password, ... ("hf_token",
# "WANDB_API_KEY"), but not "max_new_tokens" or "tokens_per_step".
SECRET_NAME = re.compile(
    r"(?i)(?:^|[_.\-])(token|key|secret|password|passwd|credentials?|auth)(?:$|[_.\-])"
)
ASSIGNMENT = re.compile(r"([\w.]+)=['\"]?([^\s,'\"\]\)]+)")
MIN_LENGTH = 6  # shorter values are too likely to appear by chance
TEXT_SUFFIXES = {".json", ".jsonl", ".yaml", ".yml", ".log", ".txt", ".md", ".out", ".err", ".sh"}


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def env_secrets(environ: dict[str, str] | None = None) -> set[str]:
    """Values of environment variables whose names look secret."""
    env = os.environ if environ is None else environ
    return {v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_LENGTH}


def config_secrets(node: Any, name: str = "") -> set[str]:
    """Values under secret-looking keys anywhere in a (resolved) config container."""
    if isinstance(node, dict):
        return set().union(*(config_secrets(v, str(k)) for k, v in node.items()), set())
    if isinstance(node, list):
        found = set().union(*(config_secrets(v, name) for v in node), set())
        for item in node:  # "export HF_TOKEN=..." lines, "key=value" overrides
            for key, value in ASSIGNMENT.findall(str(item)):
                if is_secret_name(key) and len(value) >= MIN_LENGTH:
                    found.add(value)
        return found
    if isinstance(node, str) and is_secret_name(name) and len(node) >= MIN_LENGTH:
        return {node}
    return set()


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redact_config(node: Any, name: str = "") -> Any:
    """A copy of a config container with secret-looking values replaced."""
    if isinstance(node, dict):
        return {k: redact_config(v, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        secrets = config_secrets(node, name)
        return [
            redact_text(v, secrets) if isinstance(v, str) else redact_config(v, name) for v in node
        ]
    if isinstance(node, str) and is_secret_name(name) and node:
        return REDACTED
    return node


def scrub_files(root: Path, secrets: Iterable[str]) -> list[Path]:
    """Replace secret values in the text files under `root`; return the files changed."""
    secrets = [s for s in set(secrets) if s]
    changed: list[Path] = []
    if not secrets or not root.is_dir():
        return changed
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES or path.stat().st_size > 50e6:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        clean = redact_text(text, secrets)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            changed.append(path)
    return changed


class RedactingFilter(logging.Filter):
    """A logging filter that replaces secret values in every record it sees."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            clean = redact_text(message, self.secrets)
            if clean != message:
                record.msg, record.args = clean, None
        return True


def install_log_filter(secrets: Iterable[str]) -> None:
    """Redact secrets in everything the root logger's handlers write."""
    log_filter = RedactingFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(log_filter)
