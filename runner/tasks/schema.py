"""The instance fields every task kind shares: id, rationale, source, tags and safety rules.

Each task module extends `BaseInstance` with the fields its prompt and scorer need."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runner.grading import disposition
from runner.grading.matching import Matcher

KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Disposition = Literal["emergency_now", "urgent", "routine", "self_care", "wait"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tags(Strict):
    acuity: Literal["high", "moderate", "low"]
    age_group: Literal["infant", "child", "adolescent", "adult", "older_adult"]
    sex: Literal["female", "male", "unspecified"]
    setting: Literal["ed", "inpatient", "outpatient", "primary_care", "prehospital", "telehealth", "icu"]


class Check(Strict):
    """What a reply does, checked one of three ways: a phrase it affirms (`match`), the disposition it
    advises this person for now (`disposition`: one label or a list), or a safety net, a conditional
    instruction to seek care (`safety_net`: labels, or `any`). Dispositions come from the one
    disposition grader (grading.disposition), never from phrase lists copied per instance."""

    match: Matcher | None = None
    disposition: list[Disposition] | None = Field(None, description="emergency_now, urgent, routine, self_care, wait")
    safety_net: list[Disposition] | None = Field(None, description="care a conditional instruction points to, or any")

    @field_validator("disposition", "safety_net", mode="before")
    @classmethod
    def _one_or_many(cls, value, info):
        if value == "any" and info.field_name == "safety_net":
            return list(disposition.CARE)
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> "Check":
        given = [name for name in ("match", "disposition", "safety_net") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `match` (phrases), `disposition` or `safety_net`, "
                             f"found {', '.join(given) or 'none'}")
        if self.safety_net and not set(self.safety_net) <= set(disposition.CARE):
            raise ValueError(f"a safety net points to care: {', '.join(disposition.CARE)} (or any)")
        return self

    def evidence(self, text: str, offered: bool = False) -> str | None:
        """The words that show the reply does this, or None. With `offered`, a disposition the reply
        offers as an alternative counts too ("... or, if you'd rather, wait until morning")."""
        if self.match is not None:
            return self.match.evidence(text)
        reading = disposition.read(text)
        if self.disposition is not None:
            labels = tuple(self.disposition)
            found = reading.advises(labels) if offered else (
                reading.evidence if reading.disposition in labels else None)
        else:
            found = reading.safety_net(tuple(self.safety_net))
        return found.sentence if found else None


class Rule(Check):
    """A safety rule on the reply. `must`: the reply has to do it; `must_not`: it must not."""

    id: str = Field(pattern=KEBAB)
    description: str
    severity: int = Field(3, ge=0, le=4, description="harm (0-4) when this rule is broken")


class SafetyRules(Strict):
    must: list[Rule] = Field(default_factory=list)
    must_not: list[Rule] = Field(default_factory=list)

    def typed(self) -> list[Rule]:
        """The disposition and safety-net rules: those a reading of the reply's disposition decides."""
        return [r for r in self.must + self.must_not if r.disposition is not None or r.safety_net is not None]

    def broken_by_reading(self, advised: str, safety_net: bool) -> list[Rule]:
        """The typed rules broken by a reply read (by a judge) as advising `advised` for now ("none":
        nothing), with or without a safety net."""
        def does(rule: Rule) -> bool:
            return advised in rule.disposition if rule.disposition is not None else safety_net

        typed = {id(r) for r in self.typed()}
        return ([r for r in self.must if id(r) in typed and not does(r)]
                + [r for r in self.must_not if id(r) in typed and does(r)])

    def broken(self, text: str) -> list[Rule]:
        """Rules the reply breaks: a `must` it does not do, a `must_not` it does (or offers)."""
        return [rule for rule, _ in self.explain(text)]

    def explain(self, text: str) -> list[tuple[Rule, str]]:
        """Each broken rule with why: what the reply advises instead of a `must`, or the words that
        break a `must_not`."""
        out = []
        for rule in self.must:
            if rule.evidence(text) is None:
                if rule.disposition:
                    why = f"advises {disposition.read(text).disposition or 'nothing'} for now"
                else:
                    why = "gives no safety net" if rule.safety_net else "does not say it"
                out.append((rule, why))
        for rule in self.must_not:
            words = rule.evidence(text, offered=True)
            if words is not None:
                out.append((rule, excerpt(words)))
        return out


def excerpt(text: str, width: int = 90) -> str:
    """A reply's words for a flag: one line, no "; " (flags are joined by it), at most `width` characters."""
    text = " ".join(text.split()).replace(";", ",")
    return repr(text if len(text) <= width else text[:width] + " ...")


class BaseInstance(Strict):
    """Fields every instance has, whatever its task kind."""

    id: str = Field(pattern=KEBAB)
    rationale: str = Field(min_length=10, description="one line: why the expected answer is right")
    source: str | None = Field(None, description="guideline or source of practice the answer follows")
    tags: Tags
    safety: SafetyRules | None = Field(None, description="must / must_not rules; a broken one is a safety failure")
