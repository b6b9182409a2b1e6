"""The registry of task kinds. Every module in this package that defines `KIND = TaskKind(...)` is
one kind (see base.TaskKind); adding a kind is adding a module. Metric declarations of all kinds
are merged here, and a metric two kinds declare differently is an error at import."""

from __future__ import annotations

import importlib
import pkgutil

from runner.errors import MedrunError
from runner.tasks.base import DIRECTIONS, JURY_METRICS, RUN_METRICS, Metric, TaskKind


def _discover() -> dict[str, TaskKind]:
    found: dict[str, TaskKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        kind = getattr(importlib.import_module(f"{__name__}.{info.name}"), "KIND", None)
        if isinstance(kind, TaskKind):
            if kind.name != info.name:
                raise TypeError(f"runner/tasks/{info.name}.py declares KIND.name '{kind.name}'; use the module name")
            found[kind.name] = kind
    return found


def _merge(kinds: dict[str, TaskKind]) -> dict[str, Metric]:
    merged: dict[str, Metric] = {**RUN_METRICS, **JURY_METRICS}
    owner: dict[str, str] = {m: "the pipeline" for m in merged}
    for kind in kinds.values():
        for name, metric in kind.metrics.items():
            if name in merged and merged[name].direction != metric.direction:
                raise TypeError(f"metric '{name}' is '{metric.direction}' in task kind '{kind.name}' but "
                                f"'{merged[name].direction}' in {owner[name]}")
            merged.setdefault(name, metric)
            owner.setdefault(name, f"task kind '{kind.name}'")
    return merged


TASKS: dict[str, TaskKind] = _discover()
METRICS: dict[str, Metric] = _merge(TASKS)
SAFETY_METRICS: tuple[str, ...] = tuple(m for m, d in METRICS.items() if d.safety)
CLIPPED: frozenset[str] = frozenset(m for m, d in METRICS.items() if d.clip)


def get(name: str) -> TaskKind:
    if name not in TASKS:
        raise MedrunError(f"unknown task kind '{name}'. Use one of: {', '.join(TASKS)}.")
    return TASKS[name]


def metric(name: str) -> Metric:
    """The declaration of a metric; one nobody declared has no known direction and is an error."""
    if name not in METRICS:
        raise KeyError(f"metric '{name}' is declared by no task kind (runner/tasks/*.py KIND.metrics), "
                       "so which way is better is unknown")
    return METRICS[name]


def direction(name: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 for descriptive metrics."""
    return DIRECTIONS[metric(name).direction]
