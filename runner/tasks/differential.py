"""Ranked differential diagnosis: top-1 and top-3 hit of the leading diagnosis, and whether every
must-not-miss diagnosis appears anywhere in the list (negation-aware)."""

from __future__ import annotations

import re

from pydantic import Field

from runner.engines.base import Completion
from runner.grading.matching import Matcher
from runner.tasks.base import UNPARSEABLE, Metric, Score, TaskKind
from runner.tasks.schema import BaseInstance, Strict


class Diagnosis(Strict):
    name: str
    match: Matcher


class Instance(BaseInstance):
    case: str = Field(min_length=30)
    answer: Diagnosis = Field(description="the most likely diagnosis")
    must_not_miss: list[Diagnosis] = Field(default_factory=list, description="dangerous diagnoses to list")
    miss_severity: int = Field(3, ge=0, le=4, description="harm when a must-not-miss diagnosis is absent")


def render(inst: Instance) -> str:
    return (f"{inst.case.strip()}\n\nList your differential diagnosis: the five most likely diagnoses, most "
            "likely first, one per line, numbered 1 to 5, diagnosis names only.")


def expected(inst: Instance) -> str:
    return inst.answer.name


def ideal(inst: Instance) -> str | None:
    names = [inst.answer.name] + [d.name for d in inst.must_not_miss if d.name != inst.answer.name]
    return "\n".join(f"{i}. {n}" for i, n in enumerate(names, 1))


def ranked_items(text: str, most: int = 10) -> list[str]:
    """Numbered or bulleted lines if there are any, else comma/semicolon separated items."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    listed = [re.sub(r"^(?:\d+[.)]|[-*\u2022])\s*", "", l) for l in lines if re.match(r"^(?:\d+[.)]|[-*\u2022])\s*\S", l)]
    items = listed or [p.strip() for p in re.split(r"[;,\n]", text) if p.strip()]
    return items[:most]


def score(inst: Instance, completion: Completion) -> Score:
    items = ranked_items(completion.text)
    hits = [i for i, item in enumerate(items) if inst.answer.match.affirmed(item)]
    rank = hits[0] + 1 if hits else None
    missed = [d.name for d in inst.must_not_miss if not any(d.match.affirmed(item) for item in items)]
    metrics: dict[str, float | None] = {
        "top1": float(rank == 1), "top3": float(rank is not None and rank <= 3),
        "must_not_miss_recall": (1 - len(missed) / len(inst.must_not_miss)) if inst.must_not_miss else None,
        "unparseable": float(not items),
    }
    severity = inst.miss_severity if missed else (0 if rank and rank <= 3 else 1)
    return Score(metrics, items[0][:120] if items else None, severity, [f"missed: {m}" for m in missed])


KIND = TaskKind(
    name="differential", instance=Instance, render=render, score=score, expected=expected, ideal=ideal,
    system="You are an experienced emergency physician building a differential diagnosis.",
    max_tokens=160, primary="top1", text_field="case",
    metrics={
        "top1": Metric("higher", ideal=1.0, description="the leading diagnosis is ranked first"),
        "top3": Metric("higher", ideal=1.0, description="the leading diagnosis is in the first three"),
        "must_not_miss_recall": Metric("higher", ideal=1.0, description="share of dangerous diagnoses listed"),
        "unparseable": UNPARSEABLE,
    })
