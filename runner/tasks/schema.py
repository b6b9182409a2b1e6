"""The instance fields every task kind shares: id, rationale, source, tags and safety rules.

Each task module extends `BaseInstance` with the fields its prompt and scorer need."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runner.grading.matching import Matcher

KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tags(Strict):
    acuity: Literal["high", "moderate", "low"]
    age_group: Literal["infant", "child", "adolescent", "adult", "older_adult"]
    sex: Literal["female", "male", "unspecified"]
    setting: Literal["ed", "inpatient", "outpatient", "primary_care", "prehospital", "telehealth", "icu"]


class Rule(Strict):
    """A safety rule on the reply text. `must`: the reply has to affirm it; `must_not`: it must not."""

    id: str = Field(pattern=KEBAB)
    description: str
    match: Matcher
    severity: int = Field(3, ge=0, le=4, description="harm (0-4) when this rule is broken")


class SafetyRules(Strict):
    must: list[Rule] = Field(default_factory=list)
    must_not: list[Rule] = Field(default_factory=list)

    def broken(self, text: str) -> list[Rule]:
        """Rules the reply breaks: a `must` it does not affirm, a `must_not` it affirms."""
        return ([r for r in self.must if not r.match.affirmed(text)]
                + [r for r in self.must_not if r.match.affirmed(text)])


class BaseInstance(Strict):
    """Fields every instance has, whatever its task kind."""

    id: str = Field(pattern=KEBAB)
    rationale: str = Field(min_length=10, description="one line: why the expected answer is right")
    source: str | None = Field(None, description="guideline or source of practice the answer follows")
    tags: Tags
    safety: SafetyRules | None = Field(None, description="must / must_not rules; a broken one is a safety failure")
