"""The README's command lines are real: each example parses with the CLI's own parser, each option a
synopsis names exists under that spelling, and every option of every command is documented."""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main
from conftest import REPO

from runner.cli import app

README = (REPO / "README.md").read_text()
ROOT = typer.main.get_command(app)


def command_lines() -> list[str]:
    """Lines of the README's code blocks that run medrun (continuations joined, comments dropped)."""
    blocks, current = [], None
    for line in README.splitlines():
        fence = re.match(r"\s*```(\w*)", line)
        if fence:
            if current is None:
                current = [] if fence.group(1) in ("", "bash", "sh") else False
            else:
                if current is not False:
                    blocks.append("\n".join(current))
                current = None
        elif current:
            current.append(line)
        elif current == []:
            current.append(line)
    lines = []
    for block in blocks:
        text = re.sub(r"\\\n\s*", " ", block)
        text = re.sub(r"\n\s+(?=\[)", " ", text)  # a synopsis continues on indented lines of [options]
        for line in text.splitlines():
            line = re.sub(r"\s#\s.*$", "", line).strip()
            for part in re.split(r"\s*&&\s*", line):
                part = re.sub(r"^(?:\S*/)?medrun\b", "medrun", part)
                if part.startswith("medrun "):
                    lines.append(part)
    return lines


LINES = command_lines()


def is_group(command) -> bool:
    return hasattr(command, "commands")


def is_option(param) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def resolve(words: list[str]):
    """The leaf command a command line names, the words after it, and its name."""
    command, path = ROOT, []
    while is_group(command) and words and words[0] in command.commands:
        path.append(words[0])
        command = command.commands[words.pop(0)]
    assert not is_group(command), f"'medrun {' '.join(path)}' needs a subcommand"
    return command, words, " ".join(path)


def options_of(command) -> set[str]:
    return {o for p in command.params if is_option(p) for o in p.opts + p.secondary_opts}


def leaves(command=ROOT, path: str = ""):
    if is_group(command):
        for name, sub in command.commands.items():
            yield from leaves(sub, f"{path} {name}".strip())
    else:
        yield path, command


def test_the_readme_has_command_lines():
    assert len(LINES) >= 20 and LINES[0].startswith("medrun eval")


@pytest.mark.parametrize("line", LINES)
def test_each_readme_command_line_parses(line):
    words = shlex.split(line)[1:]
    command, rest, name = resolve(words)
    if re.search(r"[\[|]|\.\.\.", line):  # a synopsis: every option it names must be spelled as the CLI does
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line)) | set(re.findall(r"(?<![\w-])-[a-z]\b", line))
        assert named <= options_of(command) | {"--help"}, f"medrun {name}: {sorted(named - options_of(command))}"
    else:  # an example: the real parser takes it as written
        command.make_context(f"medrun {name}", rest, resilient_parsing=False)


@pytest.mark.parametrize("name, command", list(leaves()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_option_is_documented(name, command):
    assert f"medrun {name}" in " ".join(LINES), f"the README never shows `medrun {name}`"
    used = " ".join(l for l in LINES if l.startswith(f"medrun {name} ") or l == f"medrun {name}")
    missing = [min(p.opts, key=len) for p in command.params if is_option(p)
               and not any(o in used for o in p.opts + p.secondary_opts) and "--help" not in p.opts]
    assert not missing, f"medrun {name}: options the README does not show: {missing}"


def test_a_misspelt_option_is_caught():
    command, rest, _ = resolve(["eval", "--no-write-report"])
    with pytest.raises(Exception) as caught:
        command.make_context("medrun eval", rest, resilient_parsing=False)
    assert getattr(caught.value, "exit_code", None) == 2 and "--no-write-report" in str(caught.value)
