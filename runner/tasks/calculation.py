"""Clinical calculation: the reference value is computed in code (runner.calculators) from the
instance's inputs, and the file's stated answer must agree with it; a reply is correct when its
final number is within the tolerance."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from runner.engines.base import Completion
from runner.grading import calculators
from runner.tasks.base import ACCURACY, UNPARSEABLE, Score, TaskKind
from runner.tasks.schema import BaseInstance


class Instance(BaseInstance):
    question: str = Field(min_length=20)
    calculator: str
    inputs: dict[str, bool | int | float | str]
    answer: float = Field(description="the result, as the author worked it; checked against the code")
    unit: str = ""
    tolerance: float = Field(ge=0, description="absolute tolerance for a correct reply")
    harm_if_wrong: int = Field(2, ge=0, le=4)

    @model_validator(mode="after")
    def _agrees(self) -> "Instance":
        value = calculators.compute(self.calculator, self.inputs)
        if abs(value - self.answer) > max(0.05, self.tolerance / 4):
            raise ValueError(f"answer {self.answer} disagrees with {self.calculator}({self.inputs}) = {value:.3f}")
        return self

    @property
    def reference(self) -> float:
        return calculators.compute(self.calculator, self.inputs)


def render(inst: Instance) -> str:
    unit = f" {inst.unit}" if inst.unit else ""
    return f"{inst.question.strip()}\n\nEnd with a last line of the form 'Answer: <number>{unit}'."


def expected(inst: Instance) -> str:
    return f"{inst.reference:.2f} {inst.unit}".strip()


def ideal(inst: Instance) -> str | None:
    return f"Answer: {inst.answer} {inst.unit}".strip()


# 1,234.5 (thousands), 4,5 (a decimal comma, as much of Europe writes it), -3, −3.2
NUMBER = r"(?:(?<![\w.])[-\u2212])?(?<![\d.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)"
_APPROX = r"(?:approximately|approx\.?|about|around|roughly|circa|ca\.|~|\u2248|=)?"
# "Answer: 45", "the answer is: 45", "result = 4.2", "CrCl ≈ 28", "**Score: 3**"
STATED = re.compile(rf"(?:\b(?:final answer|answer|result|total|score|value|estimate|it comes to|works out (?:at|to)|"
                    rf"gives|is)\b|[=\u2248])(?:\s*(?:is|was|would be|will be|of|comes to|works out (?:at|to)))?"
                    rf"\s*[:=]?\s*\**\s*{_APPROX}\s*\**\s*(?P<n>{NUMBER})(?P<range>\s*(?:-|\u2013|to)\s*{NUMBER})?",
                    re.IGNORECASE)
# a number that is a reference range or threshold, not a result: "(normal > 90)", "< 30", "range 60-100"
REFERENCE = re.compile(r"(?:[<>\u2264\u2265]=?|\b(?:normal|reference|range|ref|above|below|over|under|"
                       r"greater than|less than|at least|up to|threshold|target|cut-?off)\b)[^\d\n]{0,12}$", re.IGNORECASE)


def _number(text: str) -> float:
    text = text.replace("\u2212", "-")
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        return float(text.replace(",", ""))
    return float(text.replace(",", "."))


def extract_number(text: str) -> float | None:
    """The reply's result: the number its last statement of a result gives ('Answer: 45 mL/min', 'the
    answer is: 45 ... (normal > 90)', 'CrCl = 28'), else its last number that is not a reference range
    or threshold. A range given as the result ('about 40-50') is no single answer: None."""
    stated = list(STATED.finditer(text))
    if stated:
        last = stated[-1]
        return None if last.group("range") else _number(last.group("n"))
    numbers = [m for m in re.finditer(NUMBER, text) if not REFERENCE.search(text[max(0, m.start() - 25):m.start()])
               and not _in_brackets(text, m.start())]
    if not numbers:
        return None
    last = numbers[-1]
    if RANGE_BEFORE.search(text[:last.start()]):
        return None
    return _number(last.group(0))


RANGE_BEFORE = re.compile(r"\d\s*(?:-|\u2013|to)\s*$")


def _in_brackets(text: str, at: int) -> bool:
    return text.count("(", 0, at) > text.count(")", 0, at)


def score(inst: Instance, completion: Completion) -> Score:
    got = extract_number(completion.text)
    correct = got is not None and abs(got - inst.reference) <= inst.tolerance + 1e-9
    metrics = {"accuracy": float(correct), "unparseable": float(got is None)}
    return Score(metrics, None if got is None else f"{got:g}", 0 if correct else inst.harm_if_wrong,
                 [] if got is not None else ["unparseable"])


KIND = TaskKind(
    name="calculation", instance=Instance, render=render, score=score, expected=expected, ideal=ideal,
    system="You are a careful clinician doing bedside calculations. Show brief working.",
    max_tokens=200, primary="accuracy",
    metrics={"accuracy": ACCURACY, "unparseable": UNPARSEABLE})
