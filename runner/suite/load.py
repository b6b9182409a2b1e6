"""Loading a suite: every scenario file under a folder, validated, hashed, selectable by subset."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from runner import tasks
from runner.errors import MedrunError
from runner.hashing import digest_of, sha256_file
from runner.suite.schema import Scenario, ScenarioHeader, Subset, SuiteMeta, scenario_model
from runner.yamlfile import line_of, load_yaml_model

CHECK_SET = "grader_checks"  # the suite's labelled replies for measuring graders: not scenarios


def load_scenario(path: Path) -> Scenario:
    header = load_yaml_model(path, ScenarioHeader, "scenario")
    if header.task not in tasks.TASKS:
        raise MedrunError(f"invalid scenario:\n  {path}:{line_of(path, ('task',))}: task: unknown task kind "
                          f"'{header.task}'. Use one of: {', '.join(tasks.TASKS)}.")
    scenario = load_yaml_model(path, scenario_model(header.task), "scenario")
    if scenario.robustness and not tasks.get(scenario.task).text_field:
        raise MedrunError(f"invalid scenario:\n  {path}:{line_of(path, ('robustness',))}: robustness: task kind "
                          f"'{scenario.task}' has no free text to perturb; remove `robustness`.")
    if scenario.mc_scoring and tasks.get(scenario.task).choices is None:
        raise MedrunError(f"invalid scenario:\n  {path}:{line_of(path, ('mc_scoring',))}: mc_scoring: task kind "
                          f"'{scenario.task}' generates its answers; mc_scoring is for multiple-choice scenarios. "
                          "Remove `mc_scoring`.")
    return scenario


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

    @property
    def sha256(self) -> str:
        return digest_of(self.files)

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
    for path in sorted(p for p in root.rglob("*.y*ml") if p != meta_path and CHECK_SET not in p.relative_to(root).parts):
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
