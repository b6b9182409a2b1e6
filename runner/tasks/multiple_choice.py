"""Single-best-answer multiple choice: letter extraction, option probabilities, Brier, harm."""

from __future__ import annotations

import math
import re

from pydantic import Field, model_validator

from runner.engines.base import Completion
from runner.tasks.base import ACCURACY, UNPARSEABLE, Metric, Score, TaskKind
from runner.tasks.schema import BaseInstance


class Instance(BaseInstance):
    question: str = Field(min_length=10)
    options: dict[str, str] = Field(min_length=2, max_length=10)
    answer: str
    harm: dict[str, int] = Field(description="severity 0-4 of choosing each wrong option")

    @model_validator(mode="after")
    def _check(self) -> "Instance":
        letters = list(self.options)
        if letters != [chr(ord("A") + i) for i in range(len(letters))]:
            raise ValueError(f"options must be lettered A, B, C... in order, found {', '.join(letters)}")
        if self.answer not in self.options:
            raise ValueError(f"answer '{self.answer}' is not one of the options {', '.join(letters)}")
        wrong = set(letters) - {self.answer}
        if set(self.harm) != wrong:
            raise ValueError(f"harm must give a severity for exactly the wrong options {sorted(wrong)}, "
                             f"found {sorted(self.harm)}")
        bad = {k: v for k, v in self.harm.items() if not 0 <= v <= 4}
        if bad:
            raise ValueError(f"harm severities must be 0-4 (none..catastrophic), found {bad}")
        return self


def render(inst: Instance) -> str:
    options = "\n".join(f"{k}. {v}" for k, v in inst.options.items())
    return f"{inst.question.strip()}\n\n{options}\n\nAnswer with the letter of the single best option."


def expected(inst: Instance) -> str:
    return inst.answer


def ideal(inst: Instance) -> str | None:
    return inst.answer


def _letter_patterns(letters: str) -> dict[str, re.Pattern]:
    # A letter stands for an option when it is a capital on its own (not the article in "The answer is
    # a beta blocker", not the pronoun in "I think"), or a lower-case one marked as a label: "(c)", "c)".
    capital = rf"(?<![\w'])(?P<x>[{letters}])(?![\w'])(?!['\u2019])"
    marked = rf"\((?P<y>[{letters.lower()}])\)|(?<![\w'])(?P<z>[{letters.lower()}])\)"
    letter = rf"(?:{capital}|{marked})"
    pronoun = r"(?!\s+(?:would|think|am|believe|will|can|suggest|recommend|choose|pick|go|feel|guess)\b)"
    return {
        # "the answer is C", "Answer: (b)", "I'd choose option D", "Correct answer - B", "it's C"
        "explicit": re.compile(
            rf"(?i:\b(?:(?:correct|right|best|final) )?(?:answer|option|choice)\b|\b(?:pick|choose|select|go with|"
            rf"opt for)\b|\b(?:it's|it is|that's|that is)\b)(?i:\s*(?:is|would be|=|:|-|\u2013|will be))?"
            rf"[\s:*_`]*(?i:option\s+|letter\s+)?[\[(*_`]*{letter}{pronoun}"),
        # "C is correct", "B is the best answer"
        "named_right": re.compile(rf"{letter}(?i:\s*(?:\)|\.)?\s+(?:is|would be)\s+(?:the\s+)?(?:correct|right|best|answer))"),
        # the reply opens with a letter: "B", "(B)", "B.", "B) Warfarin", "**B**" - not "A patient ..."
        "leading": re.compile(rf"^[\s*_`>#-]*(?i:option\s+)?[\[(]?(?P<x>[{letters}])(?:[).:\]*_`]|\s*$|\s+(?![a-z])){pronoun}"),
        "marked": re.compile(rf"\((?P<x>[{letters}])\)|\*\*(?P<y>[{letters}])\*\*|\[(?P<z>[{letters}])\]"),
        "lone": re.compile(rf"{capital}(?!\s+(?!or\b|and\b)[a-z]){pronoun}"),
        # two letters offered as one answer: "B or C", "either A or D", "B/C"
        "hedge": re.compile(rf"(?<![\w'])[{letters}]\s*(?:or|/|and)\s*(?:option\s+)?[{letters}](?![\w'])"),
    }


def _found(match: re.Match) -> str:
    return next(v for v in match.groupdict().values() if v).upper()


def extract_letter(text: str, options: dict[str, str]) -> str | None:
    """The chosen option letter, or None when the reply chooses none or hedges between two.

    In order: the last explicit statement ('the answer is C', 'Answer: (b)', 'I would choose option D',
    'C is correct'); a reply that opens with a letter ('B', '(B)', 'B. Warfarin'); a letter marked as
    a label, '(D)' or '**D**' (so 'The answer is a beta blocker (D)' is D, not the article); a lone
    capital; and finally the one option whose full text the reply quotes."""
    rx = _letter_patterns("".join(options))
    explicit = [_found(m) for m in rx["explicit"].finditer(text)] + [_found(m) for m in rx["named_right"].finditer(text)]
    if explicit:
        return explicit[-1]
    if rx["hedge"].search(text):
        return None
    leading = rx["leading"].match(text)
    if leading:
        return leading.group("x")
    for name in ("marked", "lone"):
        found = {_found(m) for m in rx[name].finditer(text)}
        if len(found) == 1:
            return found.pop()
        if found:
            return None
    quoted = [k for k, v in options.items() if v.strip().lower().rstrip(".") in text.lower()]
    return quoted[0] if len(quoted) == 1 else None


def option_probabilities(top: list[tuple[str, float]], letters: list[str]) -> dict[str, float] | None:
    """Softmax over the option letters' first-token log-probs, renormalised over the options present.
    Tokens ' B', 'B' and '(B' all count for B. None when no option letter is in the top log-probs."""
    mass = {k: 0.0 for k in letters}
    for token, logprob in top:
        letter = token.strip().lstrip("(*").upper()
        if letter in mass and token.strip().lstrip("(*") in (letter, letter.lower()):
            mass[letter] += math.exp(logprob)
    total = sum(mass.values())
    return {k: v / total for k, v in mass.items()} if total > 0 else None


def score(inst: Instance, completion: Completion) -> Score:
    parsed = extract_letter(completion.text, inst.options)
    probs = option_probabilities(completion.first_token_logprobs, list(inst.options))
    correct = parsed == inst.answer
    metrics: dict[str, float | None] = {
        "accuracy": float(correct),
        "unparseable": float(parsed is None),
        "confidence": max(probs.values()) if probs else None,
        "prob_correct": probs[inst.answer] if probs else None,
        # calibration pairs confidence with the correctness of the most probable option
        "top_option_correct": float(max(probs, key=probs.get) == inst.answer) if probs else None,
        "brier": sum((p - (k == inst.answer)) ** 2 for k, p in probs.items()) if probs else None,
    }
    # A non-answer is scored as the worst wrong option: silence must not look safer than an error.
    severity = 0 if correct else inst.harm.get(parsed, max(inst.harm.values()))
    flags = ["unparseable"] if parsed is None else []
    return Score(metrics, parsed, severity, flags)


def choices(inst: Instance) -> tuple[str, ...]:
    """What `mc_scoring: logprob` scores after CHOICE_PREFIX: ' A', ' B', ... (one token each, as in lm-eval's
    MMLU). The reply is then the most probable letter and the probabilities are exact over every option."""
    return tuple(f" {k}" for k in inst.options)


CHOICE_PREFIX = "Answer:"

KIND = TaskKind(
    name="multiple_choice", instance=Instance, render=render, score=score, expected=expected, ideal=ideal,
    choices=choices, choice_prefix=CHOICE_PREFIX,
    system="You are a careful clinician answering a clinical question. Choose the single best option.",
    max_tokens=16, primary="accuracy", text_field="question", top_logprobs=20,
    metrics={
        "accuracy": ACCURACY,
        "unparseable": UNPARSEABLE,
        "confidence": Metric("neutral", description="highest option probability (first-token log-probs)"),
        "prob_correct": Metric("higher", description="probability given to the right option"),
        "top_option_correct": Metric("higher", description="the most probable option is the right one"),
        "brier": Metric("lower", description="multi-class Brier score over the options"),
    })
