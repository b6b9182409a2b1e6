"""Read a YAML file into a pydantic model; errors name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pydantic
import yaml

from runner.errors import MedrunError

M = TypeVar("M", bound=pydantic.BaseModel)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: about 10x faster on the suite's files


def _line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the deepest node on `loc` that exists in the YAML tree."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if getattr(k, "value", None) == str(part)]
            if not match:
                continue  # e.g. a union tag pydantic adds to the location
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue
        line = node.start_mark.line + 1
    return line


def line_of(path: Path, loc: tuple) -> int | None:
    """1-based line of a field in a YAML file, e.g. line_of(p, ("instances", 3, "answer"))."""
    return _line_of(yaml.compose(path.read_text(encoding="utf-8"), Loader=LOADER), loc)


def _field(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_yaml_model(path: Path, model: type[M], what: str) -> M:
    """Parse `path` as `model`. `what` ("model card", "scenario") goes into error messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise MedrunError(f"{path}: cannot read this {what}: {e.strerror}.") from None
    try:
        data = yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise MedrunError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)}). Fix the syntax.") from None
    if not isinstance(data, dict):
        raise MedrunError(f"{path}: a {what} must be a YAML mapping of fields, found {type(data).__name__}.")
    try:
        return model.model_validate(data, context={"path": path})
    except pydantic.ValidationError as e:
        tree = yaml.compose(text, Loader=LOADER)  # node positions, only needed to point at the bad field
        lines = []
        for err in e.errors():
            line = _line_of(tree, err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{path}:{line}: {_field(err['loc'])}: {msg}")
        more = f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""
        raise MedrunError(f"invalid {what}{more}:\n  " + "\n  ".join(lines)) from None
