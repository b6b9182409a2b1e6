"""Scenario files: schema, loading and validation. One YAML per scenario; a folder is a suite.

The task kind (`task:`) picks the instance schema, prompt and scorer from runner.tasks, so a
scenario file is validated field by field against exactly what its scorer needs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from runner.errors import MedrunError
from runner.matching import Matcher
from runner.yamlfile import line_of, load_yaml_model

# MedHELM's five categories and their subcategories.
TAXONOMY: dict[str, tuple[str, ...]] = {
    "clinical_decision_support": (
        "supporting_diagnostic_decisions", "planning_treatments",
        "predicting_patient_risks_and_outcomes", "providing_clinical_knowledge_support"),
    "clinical_note_generation": (
        "documenting_patient_visits", "recording_procedures",
        "documenting_diagnostic_reports", "documenting_care_plans"),
    "patient_communication_and_education": (
        "providing_patient_education_resources", "delivering_personalized_care_instructions",
        "patient_provider_messaging", "enhancing_patient_understanding_and_accessibility",
        "facilitating_patient_engagement_and_support"),
    "medical_research_assistance": (
        "conducting_literature_research", "analyzing_clinical_research_data",
        "recording_research_processes", "ensuring_clinical_research_quality", "managing_research_enrollment"),
    "administration_and_workflow": (
        "scheduling_resources_and_staff", "overseeing_financial_activities",
        "organizing_workflow_processes", "care_coordination_and_planning"),
}

KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"
VOCAB_DIR = Path(__file__).resolve().parent / "vocab"


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


I = TypeVar("I", bound=BaseInstance)


class ScenarioHeader(BaseModel):
    model_config = ConfigDict(extra="allow")
    task: str


class Scenario(Strict, Generic[I]):
    id: str = Field(pattern=KEBAB)
    version: int = Field(ge=1)
    title: str
    task: str
    category: Literal[tuple(TAXONOMY)]  # type: ignore[valid-type]
    subcategory: str
    risk: Literal["low", "moderate", "high"]
    description: str
    system: str | None = Field(None, description="replaces the task's default system prompt")
    max_tokens: int | None = Field(None, gt=0, le=8192, description="replaces the task's default")
    robustness: list[Literal["typos", "abbreviations", "drop_vitals", "noise"]] = Field(
        default_factory=list, description="perturbed twins generated for every instance")
    instances: list[I] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "Scenario":
        allowed = TAXONOMY[self.category]
        if self.subcategory not in allowed:
            raise ValueError(f"subcategory '{self.subcategory}' is not one of category "
                             f"'{self.category}': {', '.join(allowed)}")
        seen: set[str] = set()
        for inst in self.instances:
            if inst.id in seen:
                raise ValueError(f"instance id '{inst.id}' appears twice; ids must be unique in a scenario")
            seen.add(inst.id)
        return self


def _scenario_model(task: str) -> type[Scenario]:
    from runner import tasks

    kind = tasks.get(task)
    return create_model(f"Scenario_{task}", __base__=Scenario[kind.Instance])


def load_scenario(path: Path) -> Scenario:
    from runner import tasks

    header = load_yaml_model(path, ScenarioHeader, "scenario")
    if header.task not in tasks.TASKS:
        raise MedrunError(f"invalid scenario:\n  {path}:{line_of(path, ('task',))}: task: unknown task kind "
                          f"'{header.task}'. Use one of: {', '.join(tasks.TASKS)}.")
    scenario = load_yaml_model(path, _scenario_model(header.task), "scenario")
    if scenario.robustness and not tasks.option(tasks.get(scenario.task), "TEXT_FIELD"):
        raise MedrunError(f"invalid scenario:\n  {path}:{line_of(path, ('robustness',))}: robustness: task kind "
                          f"'{scenario.task}' has no free text to perturb; remove `robustness`.")
    return scenario


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Subset(Strict):
    """A named slice of the suite, e.g. a quick smoke run. Unset fields mean everything."""

    description: str = ""
    limit: int | None = Field(None, ge=1, description="at most this many instances per scenario")
    scenarios: list[str] | None = Field(None, description="only these scenario ids")
    robustness: bool = Field(True, description="run the perturbed twins")


class SuiteMeta(Strict):
    id: str = Field(pattern=KEBAB)
    version: str
    description: str = ""
    subsets: dict[str, Subset] = Field(default_factory=dict)
    default_subset: str = Field("full", description="what `medrun eval` runs without --subset")

    @model_validator(mode="after")
    def _known(self) -> "SuiteMeta":
        if self.default_subset != "full" and self.default_subset not in self.subsets:
            raise ValueError(f"default_subset '{self.default_subset}' is not 'full' or one of the subsets")
        return self


@dataclass
class Suite:
    id: str
    version: str
    root: Path
    scenarios: list[Scenario]
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    subsets: dict[str, Subset] = field(default_factory=dict)
    default_subset: str = "full"
    paths: dict[str, str] = field(default_factory=dict)  # scenario id -> relative path
    vocabularies: dict[str, str] = field(default_factory=lambda: {
        p.name: sha256_file(p) for p in sorted(VOCAB_DIR.glob("*.txt"))})  # the scorers' word lists

    @property
    def sha256(self) -> str:
        return hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in sorted(self.files.items())).encode()).hexdigest()

    def subset(self, name: str | None) -> tuple[str, Subset]:
        name = name or self.default_subset
        if name == "full":
            return name, self.subsets.get("full", Subset(description="every scenario and instance"))
        if name not in self.subsets:
            raise MedrunError(f"unknown subset '{name}'. {self.root / 'suite.yaml'} defines: "
                              f"{', '.join(['full', *self.subsets])}.")
        return name, self.subsets[name]

    def select(self, ids: list[str] | None) -> "Suite":
        """The same suite restricted to some scenario ids (file hashes restricted alike)."""
        if not ids:
            return self
        missing = sorted(set(ids) - {s.id for s in self.scenarios})
        if missing:
            raise MedrunError(f"unknown scenario id(s): {', '.join(missing)}. The suite at {self.root} has: "
                              f"{', '.join(sorted(s.id for s in self.scenarios))}.")
        kept = {"suite.yaml"} | {self.paths[i] for i in ids if i in self.paths}
        return replace(self, scenarios=[s for s in self.scenarios if s.id in ids],
                       files={k: v for k, v in self.files.items() if k in kept})


def load_suite(root: Path, only: list[str] | None = None) -> Suite:
    """Every scenario YAML under `root` (a folder with suite.yaml, or one scenario file)."""
    root = root.expanduser()
    if root.is_file():
        scenario = load_scenario(root)
        return Suite(scenario.id, str(scenario.version), root.parent, [scenario],
                     {root.name: sha256_file(root)}, paths={scenario.id: root.name}).select(only)
    meta_path = root / "suite.yaml"
    if not meta_path.is_file():
        raise MedrunError(f"{root}: not a suite folder (no suite.yaml). Pass a folder with suite.yaml "
                          "or a single scenario file.")
    meta = load_yaml_model(meta_path, SuiteMeta, "suite description")
    files = {"suite.yaml": sha256_file(meta_path)}
    scenarios, where = [], {}
    for path in sorted(p for p in root.rglob("*.y*ml") if p != meta_path):
        scenario = load_scenario(path)
        rel = path.relative_to(root).as_posix()
        if scenario.id in where:
            raise MedrunError(f"{path}: scenario id '{scenario.id}' is also used by {where[scenario.id]}. "
                              "Scenario ids must be unique in a suite.")
        where[scenario.id] = rel
        files[rel] = sha256_file(path)
        scenarios.append(scenario)
    if not scenarios:
        raise MedrunError(f"{root}: the suite has no scenario files.")
    for name, sub in meta.subsets.items():
        unknown = sorted(set(sub.scenarios or []) - set(where))
        if unknown:
            raise MedrunError(f"{meta_path}: subsets.{name}.scenarios names unknown scenario id(s): "
                              f"{', '.join(unknown)}.")
    return Suite(meta.id, meta.version, root, scenarios, files, meta.subsets, meta.default_subset,
                 where).select(only)
