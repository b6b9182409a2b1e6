"""Phrase criteria: rubric items, safety rules written as phrases, documentation facts, diagnoses.

A phrase counts only where it is affirmed. Negation, rejection and clause boundaries come from the
same medspaCy ConText rules as the disposition grader (grading.context): "don't wait, call 911 now"
affirms "call 911" and negates "wait"; "you don't need to call 911" negates "call 911"; "don't
hesitate to call" and "cannot rule out SAH" are not negations; "waiting until tomorrow is not safe"
rejects "waiting until tomorrow"."""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runner.grading import context


def normalize(text: str) -> str:
    """Lower case, straight apostrophes, single spaces: for comparing short strings."""
    text = context.fold_quotes(text.lower())
    return re.sub(r"[ \t]+", " ", text)


@lru_cache(maxsize=4096)
def phrase_regex(phrase: str) -> re.Pattern:
    """Whole words, any case, any spacing between them."""
    words = [re.escape(w) for w in normalize(phrase).split()]
    return re.compile(r"(?<![\w])" + r"\s+".join(words) + r"(?![\w])", re.IGNORECASE)


def occurrences(text: str, regex: re.Pattern) -> list[tuple[re.Match, bool]]:
    """(match, negated) of every match of `regex` in `text`, negation as ConText reads it."""
    folded = context.fold_quotes(text)
    matches = list(regex.finditer(folded))
    if not matches:
        return []
    doc = context.parse(text)
    return [(m, context.negated(doc, *_head(folded, m), inside=m.span())) for m in matches]


def _head(text: str, m: re.Match) -> tuple[int, int]:
    """The first word of a match: negation governs a phrase from where it starts ("don't call 911";
    "referral is not required" rejects "referral", unless the phrase itself says "not required")."""
    start = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
    word = re.match(r"\S+", text[start:m.end()])
    return start, start + (len(word.group(0)) if word else 1)


class Matcher(BaseModel):
    """Phrases (case-insensitive, whole words, any spacing) and/or regular expressions.
    In YAML a bare list of strings is shorthand for `any:`."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)  # phrases like 999 or 180
    any: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        return {"any": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _check(self) -> "Matcher":
        if not self.any and not self.patterns:
            raise ValueError("give at least one phrase in `any` or one regular expression in `patterns`")
        for p in self.patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"pattern {p!r} is not a valid regular expression: {e}") from None
        return self

    def regexes(self) -> list[re.Pattern]:
        return [phrase_regex(p) for p in self.any] + [re.compile(p, re.IGNORECASE) for p in self.patterns]

    def evidence(self, text: str) -> str | None:
        """The first phrase or pattern match no negation governs, or None."""
        return next((m.group(0) for rx in self.regexes() for m, neg in occurrences(text, rx) if not neg), None)

    def affirmed(self, text: str) -> bool:
        """True where some phrase or pattern occurs without a negation governing it."""
        return self.evidence(text) is not None
