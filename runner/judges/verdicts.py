"""A judge's answer read strictly: one JSON object, validated by the schema of its question's kind,
whose quote is found in the reply. Anything else is an error that names what is wrong, so that the
judge can be asked again (a bounded number of times) and the verdict counted as unparsed after that.
Pure functions, linear in the answer's length."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError

from runner.judges.prompts import LABELS

MAX_STARTS = 4  # "{" positions tried as the start of the object: bounded work on an answer full of braces


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quote: StrictStr
    reason: StrictStr | None = None  # a judge may explain itself; it is kept, never used


class CriterionAnswer(_Answer):
    met: StrictBool  # "yes" or 1 is not an answer to a yes/no schema


class DispositionAnswer(_Answer):
    disposition: Literal[tuple(LABELS)]  # type: ignore[valid-type]
    safety_net: StrictBool


class StatementAnswer(_Answer):
    label: Literal["supported", "stale", "invented"]


SCHEMAS: dict[str, type[_Answer]] = {"criterion": CriterionAnswer, "disposition": DispositionAnswer,
                                     "statement": StatementAnswer}
NEGATIVE = {"not_met", "none"}  # verdicts that may rest on no words of the reply (an empty quote)


@dataclass(frozen=True)
class Reading:
    value: str | None          # met / not_met, a disposition label or none, supported / stale / invented
    quote: str = ""
    safety_net: bool | None = None
    error: str | None = None   # why the answer cannot be used (then value is None)


def _object(text: str) -> dict | str:
    """The first JSON object in the text (code fences and chatter around it ignored), or an error."""
    decoder = json.JSONDecoder()
    start, tried = text.find("{"), 0
    while start != -1 and tried < MAX_STARTS:
        try:
            found, _ = decoder.raw_decode(text, start)
            if isinstance(found, dict):
                return found
        except json.JSONDecodeError:
            pass
        start, tried = text.find("{", start + 1), tried + 1
    return "no JSON object found" if tried == 0 else "the JSON is not valid (check quotes, commas and braces)"


_SPACE = re.compile(r"\s+")
_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "*": None, "_": None, "`": None})


def normal(text: str) -> str:
    """For quote matching: case, curly quotes, dashes, markdown emphasis and runs of spaces folded."""
    return _SPACE.sub(" ", text.translate(_FOLD).casefold()).strip()


def quoted(quote: str, reply: str) -> bool:
    """The quote occurs in the reply. An ellipsis may join pieces that each occur, in order; surrounding
    quotation marks and end punctuation are ignored."""
    pieces = [normal(p).strip(" \"'.,;:!?") for p in re.split(r"\.\.\.|\u2026", quote)]
    pieces = [p for p in pieces if p]
    at, haystack = 0, normal(reply)
    for piece in pieces:
        at = haystack.find(piece, at)
        if at == -1:
            return False
        at += len(piece)
    return bool(pieces)


def read(kind: str, answer: str, reply: str) -> Reading:
    """A judge's answer (its primed opening brace included) to a question of `kind` about `reply`."""
    found = _object(answer)
    if isinstance(found, str):
        return Reading(None, error=found)
    try:
        parsed = SCHEMAS[kind].model_validate(found)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "the object"
        return Reading(None, error=f"field {field}: {err['msg']}")
    if isinstance(parsed, CriterionAnswer):
        value, net = ("met" if parsed.met else "not_met"), None
    elif isinstance(parsed, DispositionAnswer):
        value, net = parsed.disposition, parsed.safety_net
    else:
        value, net = parsed.label, None
    if not parsed.quote.strip():
        if value in NEGATIVE:
            return Reading(value, "", net)
        return Reading(None, error="the quote is empty; quote the words of the reply the verdict rests on")
    if not quoted(parsed.quote, reply):
        return Reading(None, error="the quote is not in the reply; copy the reply's words exactly")
    return Reading(value, parsed.quote, net)
