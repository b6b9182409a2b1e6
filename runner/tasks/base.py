"""What every scorer returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Score:
    """Per-instance result. `metrics` values are in [0, 1] (or None where not applicable, e.g.
    critical under-triage for an ESI 4 case); `severity` 0-4 is the harm of the answer given
    (0 when correct); `parsed` is the extracted answer, None when unparseable."""

    metrics: dict[str, float | None]
    parsed: str | None
    severity: int
    flags: list[str] = field(default_factory=list)
