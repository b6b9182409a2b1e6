"""Deterministic, negation-aware phrase matching for rubrics, safety rules and documentation facts.

A phrase counts only where it is affirmed: "don't wait, call 911 now" affirms "call 911" and negates
"wait"; "you don't need to call 911" negates "call 911". A negation cue reaches forward over at most
NEGATION_WINDOW words inside its clause; clauses end at . ; : ! ? new lines, dashes, commas and
"but"/"however"/"otherwise" and "and" before an imperative ("... and call 911"). "Don't
hesitate to call" is not a negation. `urged` also sets aside conditional safety nets ("call 911 if
it gets worse", "go to A&E immediately if...").
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

NEGATION_WINDOW = 10
CUES = re.compile(
    r"\b(?:no|not|never|none|nor|without|avoid|avoiding|don't|do not|doesn't|does not|didn't|did not|won't|"
    r"will not|wouldn't|would not|shouldn't|should not|needn't|cannot|can't|isn't|is not|aren't|are not|"
    r"unnecessary|rather than|instead of|no need to|there's no need)\b")
PSEUDO = re.compile(
    r"\b(?:\w+n't|not|never) hesitate\b|\bnot only\b|\bno matter\b|\b(?:cannot|can't|could not|not) be "
    r"(?:ruled out|excluded)\b|\b(?:cannot|can't|could not|must not|do not|don't) (?:exclude|rule out|miss)\b|"
    r"\bnot sure\b|\bno doubt\b|\bif not\b")
CLAUSE_BREAK = re.compile(r"[.;:!?\n\u2014\u2013,()]|\s-\s|\bbut\b|\bhowever\b|\botherwise\b|"
                          r"\band (?=(?:call|dial|phone|ring|go|get|seek|head|take)\b)")
# "call 911 if it gets worse" is a safety net, not advice to go now; "now" and "even if" make it urgent
CONDITION = re.compile(r"(?<!even )(?<!see )(?<!check )(?<!ask )(?<!know )(?<!whether )\bif\b"
                       r"(?! (?:you )?(?:haven't|have not|not|can(?!'t)|possible)\b)|\bshould (?:he|she|you|they|it|this|symptoms|the)\b|\bin case\b|"
                       r"\bwhenever\b|\bunless\b|\bwatch for\b|\blook out for\b")
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("n\u2019t", "n't")
    return re.sub(r"[ \t]+", " ", text)


@lru_cache(maxsize=4096)
def phrase_regex(phrase: str) -> re.Pattern:
    words = [re.escape(w) for w in normalize(phrase).split()]
    return re.compile(r"(?<![\w])" + r"\s+".join(words) + r"(?![\w])")


def _negated(text: str, start: int) -> bool:
    """Whether a negation cue governs the match starting at `start` (same clause, few words back)."""
    before = text[:start]
    cut = max((m.end() for m in CLAUSE_BREAK.finditer(text) if m.end() <= start), default=0)
    clause = PSEUDO.sub(" ", before[cut:])
    words = clause.split()[-NEGATION_WINDOW:]
    return bool(CUES.search(" ".join(words)))


def occurrences(text: str, regex: re.Pattern) -> list[tuple[re.Match, bool]]:
    """(match, negated) of every match of `regex` in normalized `text`."""
    norm = normalize(text)
    return [(m, _negated(norm, m.start())) for m in regex.finditer(norm)]


def _conditional(sentence: str, match: re.Match) -> bool:
    """A safety net rather than advice for now: a condition in the match's own clause ("call 911 if
    it gets worse"), or a sentence that opens with one ("If he faints, call 911") up to a semicolon."""
    breaks = list(CLAUSE_BREAK.finditer(sentence))
    left = max((b.end() for b in breaks if b.end() <= match.start()), default=0)
    right = min((b.start() for b in breaks if b.start() >= match.end()), default=len(sentence))
    if CONDITION.search(sentence[left:right]):
        return True
    before = [b for b in breaks if b.end() <= left]  # the clause just before: "meanwhile, if X, call 999"
    previous = sentence[(before[-2].end() if len(before) > 1 else 0):left]
    if CONDITION.match(previous.lstrip(" *-\u2022\"'")):
        return True
    return bool(CONDITION.match(sentence.lstrip(" *-\u2022\"'"))) and ";" not in sentence[:match.start()]


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

    def affirmed(self, text: str) -> bool:
        """True where some phrase or pattern occurs without a negation governing it."""
        return any(not neg for rx in self.regexes() for _, neg in occurrences(text, rx))

    def urged(self, text: str) -> bool:
        """Affirmed in a sentence that sets no condition: "call 911 now" is urged, while "call 911 now if
        he gets worse" and "if the pain is severe, go to the ER" are safety nets ("even if" and "if you
        haven't already" are not conditions)."""
        for sentence in SENTENCE.split(normalize(text)):
            for rx in self.regexes():
                if any(not neg and not _conditional(sentence, m) for m, neg in occurrences(sentence, rx)):
                    return True
        return False

