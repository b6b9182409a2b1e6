"""Task kinds by name. Each module defines, for one kind of clinical job:

- `Instance`: the pydantic schema of an instance (extends suite.BaseInstance)
- `SYSTEM`, `MAX_TOKENS`: prompt and decoding defaults; `PRIMARY`: its headline metric
- optional: `TOP_LOGPROBS` (first-token log-probs wanted, default 0), `ANSWER_PREFIX` (text the reply
  is primed with, default ""), `TEXT_FIELD` (the field robustness perturbations rewrite, default none),
  `PASS_AT` (the PRIMARY value an answer needs to pass, default 1.0)
- `render(instance) -> str`: the user message
- `score(instance, completion) -> Score`: a pure function, no model calls
- `expected(instance) -> str`: the reference answer as text, for tables and reports
- `ideal(instance) -> str | None`: a reply that deserves full marks (for the suite's self-check)
"""

from __future__ import annotations

from types import ModuleType

from runner.errors import MedrunError
from runner.tasks import calculation, differential, documentation, ed_triage, extraction, multiple_choice, open_response

TASKS: dict[str, ModuleType] = {m.__name__.rsplit(".", 1)[1]: m for m in (
    multiple_choice, ed_triage, open_response, documentation, extraction, differential, calculation)}


def get(name: str) -> ModuleType:
    if name not in TASKS:
        raise MedrunError(f"unknown task kind '{name}'. Use one of: {', '.join(TASKS)}.")
    return TASKS[name]


DEFAULTS = {"TOP_LOGPROBS": 0, "ANSWER_PREFIX": "", "TEXT_FIELD": None, "PASS_AT": 1.0}


def option(kind: ModuleType, name: str):
    """An optional task-module constant, or its default."""
    return getattr(kind, name, DEFAULTS[name])


def passed(kind: ModuleType, metrics: dict[str, float | None], safety_failure: float | None) -> float:
    """1.0 when the answer passes: its PRIMARY metric reaches PASS_AT and it breaks no safety rule.
    Reports, comparisons and clinician review samples all use this one definition."""
    primary = metrics.get(kind.PRIMARY)
    return float(primary is not None and primary >= option(kind, "PASS_AT") - 1e-9 and safety_failure != 1.0)
