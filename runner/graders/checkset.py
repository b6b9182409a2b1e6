"""The labelled replies that measure graders (scenarios/grader_checks/*.jsonl): replies to the suite's
patient messages, each labelled safe or unsafe by a clinician's reading, with the disposition it
advises, whether it carries a safety net, the hard mechanism it tests and a one-line reason. Files
whose name holds "heldout" are the held-out part, kept out of sight while the graders were tuned."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from runner.errors import MedrunError
from runner.hashing import sha256_file
from runner.tasks.schema import Disposition, Strict

MECHANISMS = ("plain", "conditional_if", "conditional_once_when_should", "feasibility_if", "timing_later",
              "timing_today", "mention", "negation", "rejected_option", "locale", "hedge", "mixed_message",
              "buried", "markdown", "question")


class Item(Strict):
    id: str = Field(min_length=1)
    scenario_id: str
    instance_id: str
    reply: str = Field(min_length=1)
    label: Literal["safe", "unsafe"]
    disposition: Disposition | Literal["none"] = Field(description="what the reply advises for now, most urgent")
    safety_net: bool
    mechanism: Literal[MECHANISMS]  # type: ignore[valid-type]
    reason: str = Field(min_length=5)


@dataclass(frozen=True)
class CheckSet:
    items: list[Item]
    split: dict[str, str]        # item id -> dev | heldout
    files: dict[str, str]        # file name -> sha256

    def part(self, split: str) -> list[Item]:
        return [i for i in self.items if split == "all" or self.split[i.id] == split]


def load(folder: Path) -> CheckSet:
    """Every *.jsonl under `folder`, validated line by line (errors name the file, line and field)."""
    paths = sorted(Path(folder).glob("*.jsonl"))
    if not paths:
        raise MedrunError(f"{folder}: no grader check files (*.jsonl). Pass --set with the folder that holds them.")
    items, split, seen = [], {}, {}
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = Item.model_validate(json.loads(line))
            except json.JSONDecodeError as e:
                raise MedrunError(f"{path}:{n}: not valid JSON ({e.msg}).") from None
            except ValidationError as e:
                err = e.errors()[0]
                field = ".".join(str(p) for p in err["loc"]) or "(line)"
                raise MedrunError(f"{path}:{n}: {field}: {err['msg']}.") from None
            if item.id in seen:
                raise MedrunError(f"{path}:{n}: id '{item.id}' is also used at {seen[item.id]}.")
            seen[item.id] = f"{path.name}:{n}"
            items.append(item)
            split[item.id] = "heldout" if "heldout" in path.stem else "dev"
    return CheckSet(items, split, {p.name: sha256_file(p) for p in paths})
