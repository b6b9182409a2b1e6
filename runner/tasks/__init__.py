"""Task kinds by name. Each module defines, for one kind of clinical job:

- `Instance`: the pydantic schema of an instance (extends suite.BaseInstance)
- `SYSTEM`, `MAX_TOKENS`, `TOP_LOGPROBS`: prompt and decoding defaults
- `render(instance) -> str`: the user message
- `score(instance, completion) -> Score`: a pure function, no model calls
- `expected(instance) -> str`: the reference answer as text, for tables and reports
"""

from __future__ import annotations

from types import ModuleType

from runner.errors import MedrunError
from runner.tasks import ed_triage, multiple_choice

TASKS: dict[str, ModuleType] = {"multiple_choice": multiple_choice, "ed_triage": ed_triage}


def get(name: str) -> ModuleType:
    if name not in TASKS:
        raise MedrunError(f"unknown task kind '{name}'. Use one of: {', '.join(TASKS)}.")
    return TASKS[name]
