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


NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?"


def extract_number(text: str) -> float | None:
    """The number after the last 'Answer:' (or '='), else the last number in the reply."""
    approx = r"(?:approximately|approx\.?|about|around|roughly|~|\u2248)?"
    for pattern in (rf"answer\s*(?:is|:|=)?\s*{approx}\s*\**\s*({NUMBER})", rf"=\s*{approx}\s*\**\s*({NUMBER})"):
        found = re.findall(pattern, text, flags=re.IGNORECASE)
        if found:
            return float(found[-1].replace(",", ""))
    numbers = re.findall(NUMBER, text)
    return float(numbers[-1].replace(",", "")) if numbers else None


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
