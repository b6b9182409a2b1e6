"""Scenario and suite files: their schema. One YAML per scenario; a folder with suite.yaml is a suite.

The task kind (`task:`) picks the instance schema from the task registry, so a scenario file is
validated field by field against exactly what its scorer needs."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from runner import tasks
from runner.tasks.schema import KEBAB, BaseInstance, Strict

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
    mc_scoring: Literal["generate", "logprob"] | None = Field(
        None, description="multiple choice: generate a reply and read its letter (default), or score each option "
                          "letter's log-probability in one forward pass (--mc-scoring overrides)")
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



def scenario_model(task: str) -> type[Scenario]:
    """The scenario schema whose instances are the task kind's instance schema."""
    return create_model(f"Scenario_{task}", __base__=Scenario[tasks.get(task).instance])


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
