"""Suites (conf/suite/): the jobs a suite's sweep runs, and the group `collect` makes of it."""

from __future__ import annotations

from typing import Any

from evallaunch.config.running import SuiteConfig, SuiteMember
from evallaunch.config.schema import EvaluateConfig
from evallaunch.errors import EvallaunchError

AGGREGATES = ("macro", "weighted")
# Overrides a suite sets for each member: the command line must leave them to it.
MEMBER_KEYS = ("benchmark", "benchmark.task")


def member_name(member: SuiteMember) -> str:
    """The benchmark name a member's results carry: its task, or its benchmark."""
    return str(member.task or member.benchmark)


def suite_record(cfg: EvaluateConfig) -> dict[str, Any] | None:
    """results.json's `suite`: the name, member names and aggregates of the job's suite."""
    suite = cfg.suite
    if suite is None:
        return None
    return {
        "name": str(suite.name),
        "members": [member_name(m) for m in suite.members],
        "aggregate": [str(a) for a in suite.aggregate],
    }


def check_suite(suite: SuiteConfig) -> None:
    """A suite names members and aggregates evallaunch knows."""
    if not suite.members:
        raise EvallaunchError(f"suite={suite.name} is invalid: it has no members")
    bad = [a for a in suite.aggregate if a not in AGGREGATES]
    if bad or not suite.aggregate:
        raise EvallaunchError(
            f"suite.aggregate={list(suite.aggregate)} is invalid",
            hint=f"a list of {' and '.join(AGGREGATES)}",
        )
    for member in suite.members:
        if member.benchmark == "harness" and not member.task:
            raise EvallaunchError(
                f"suite={suite.name} is invalid: a member with benchmark: harness has no task"
            )


def suite_argument_sets(suite: SuiteConfig, arguments: list[str]) -> list[list[str]]:
    """The sweep arguments of each member: the command line's, plus the member's benchmark,
    task and overrides (the command line may not set the benchmark itself)."""
    check_suite(suite)
    given = [a for a in arguments if a.split("=", 1)[0].lstrip("+~") in MEMBER_KEYS]
    if given:
        raise EvallaunchError(
            f"suite={suite.name} sets each job's benchmark: {' '.join(given)} is invalid with it",
            hint="drop the benchmark overrides, or sweep benchmark=... without a suite",
        )
    sets = []
    for member in suite.members:
        own = [f"benchmark={member.benchmark}"]
        if member.task:
            own.append(f"benchmark.task={member.task}")
        sets.append([*arguments, *own, *member.overrides])
    return sets


def suite_groups(results: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """{suite name: {"members": [...], "aggregate": [...]}} from jobs' results.json (the
    newest record of a suite wins)."""
    found: dict[str, tuple[str, dict[str, list[str]]]] = {}
    for res in results:
        suite = res.get("suite")
        if not isinstance(suite, dict) or not suite.get("name"):
            continue
        stamp = str(res.get("finished_at", ""))
        if suite["name"] not in found or stamp >= found[suite["name"]][0]:
            record = {"members": list(suite["members"]), "aggregate": list(suite["aggregate"])}
            found[suite["name"]] = (stamp, record)
    return {name: record for name, (_, record) in found.items()}
