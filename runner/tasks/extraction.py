"""Structured extraction to JSON: the reply must hold one JSON object; each expected field is compared
after normalisation (strings case- and space-insensitive with accepted alternatives, numbers within a
tolerance, lists as sets). Field-level precision, recall and F1 over non-null values."""

from __future__ import annotations

import json
import re
from typing import Any, Union

from pydantic import Field

from runner.engines.base import Completion
from runner.grading.matching import normalize
from runner.tasks.base import Metric, Score, TaskKind
from runner.tasks.schema import BaseInstance, Strict

Value = Union[bool, int, float, str, list[str], None]


class FieldSpec(Strict):
    name: str
    value: Value = Field(description="expected value; null when the text does not give it")
    accept: list[str] = Field(default_factory=list, description="other acceptable strings (single values)")
    synonyms: dict[str, list[str]] = Field(default_factory=dict,
                                           description="list fields: expected item -> other acceptable names")
    tolerance: float = Field(0.0, ge=0, description="absolute tolerance for numbers")


class Instance(BaseInstance):
    text: str = Field(min_length=20)
    instructions: str
    fields: list[FieldSpec] = Field(min_length=1)
    harm_if_wrong: int = Field(1, ge=0, le=4, description="severity when any field is wrong")


def render(inst: Instance) -> str:
    keys = ", ".join(f'"{f.name}"' for f in inst.fields)
    return (f"{inst.text.strip()}\n\n{inst.instructions.strip()}\nReply with one JSON object with exactly "
            f"these keys: {keys}. Use null where the text does not say.")


def expected(inst: Instance) -> str:
    return json.dumps({f.name: f.value for f in inst.fields})


def ideal(inst: Instance) -> str | None:
    return json.dumps({f.name: f.value for f in inst.fields})


def parse_json(text: str) -> dict | None:
    """The first JSON object in the reply, with or without a ``` fence."""
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, flags=re.DOTALL)
    candidates = [fenced.group(1)] if fenced else []
    start = text.find("{")
    while start != -1:
        depth = 0
        for i, ch in enumerate(text[start:], start):
            depth += ch == "{"
            depth -= ch == "}"
            if depth == 0:
                candidates.append(text[start:i + 1])
                break
        start = text.find("{", start + 1) if not candidates else -1
    for c in candidates:
        try:
            value = json.loads(c)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _norm(v: Any) -> Any:
    if isinstance(v, str):
        return re.sub(r"\s+", " ", normalize(v).strip()).rstrip(".")
    return v


NULLS = {"", "null", "none", "nil", "n/a", "na", "unknown", "not known", "not stated", "not documented",
         "not mentioned", "not given", "not specified", "not recorded", "none known", "no known allergies", "nkda"}


def _is_null(v: Any) -> bool:
    if isinstance(v, list):
        return all(_is_null(x) for x in v)
    return v is None or (isinstance(v, str) and _norm(v) in NULLS)


def field_counts(spec: FieldSpec, got: Any) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) for one field; list items count singly."""
    want = spec.value
    if isinstance(want, list):
        canonical = {_norm(alt): _norm(item) for item, alts in spec.synonyms.items() for alt in alts}
        want_set = {_norm(x) for x in want}
        got_list = [] if _is_null(got) else (got if isinstance(got, list) else [got])
        got_set = {canonical.get(_norm(str(x)), _norm(str(x))) for x in got_list if not _is_null(x)}
        tp = len(want_set & got_set)
        return tp, len(got_set - want_set), len(want_set - got_set)
    if _is_null(want):
        return (0, 0, 0) if _is_null(got) else (0, 1, 0)
    if _is_null(got):
        return 0, 0, 1
    if isinstance(want, bool) or isinstance(got, bool):
        right = str(want).lower() == str(got).lower()
    elif isinstance(want, (int, float)):
        try:
            right = abs(float(got) - want) <= spec.tolerance + 1e-9
        except (TypeError, ValueError):
            right = False
    else:
        right = _norm(str(got)) in {_norm(want), *(_norm(a) for a in spec.accept)}
    return (1, 0, 0) if right else (0, 1, 1)


def score(inst: Instance, completion: Completion) -> Score:
    data = parse_json(completion.text)
    if data is None:
        metrics = {"json_valid": 0.0, "precision": None, "recall": 0.0, "f1": 0.0, "exact": 0.0}
        return Score(metrics, None, inst.harm_if_wrong, ["invalid_json"])
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    counts = [field_counts(f, lowered.get(f.name.lower())) for f in inst.fields]
    tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    exact = float(fp == 0 and fn == 0)
    wrong = [f.name for f, c in zip(inst.fields, counts) if c[1] or c[2]]
    return Score({"json_valid": 1.0, "precision": precision, "recall": recall, "f1": f1, "exact": exact},
                 json.dumps(data, sort_keys=True)[:500], 0 if exact else inst.harm_if_wrong,
                 [f"wrong field: {w}" for w in wrong])


KIND = TaskKind(
    name="extraction", instance=Instance, render=render, score=score, expected=expected, ideal=ideal,
    system="You extract structured data from clinical text. Reply with one JSON object and nothing else.",
    max_tokens=192, primary="f1", pass_at=0.8,
    metrics={
        "json_valid": Metric("higher", ideal=1.0, description="the reply holds one JSON object"),
        "precision": Metric("higher", description="field precision over non-null values"),
        "recall": Metric("higher", description="field recall over non-null values"),
        "f1": Metric("higher", ideal=1.0, description="field F1"),
        "exact": Metric("higher", ideal=1.0, description="every field right"),
    })
