"""The `medrun` command: parses options and calls the library. No logic lives here; each command
group is one module (evaluate, models, scenarios, runs, review, graders)."""

from __future__ import annotations

import sys

from rich.text import Text

from runner.cli import evaluate, graders, models, review, runs, scenarios  # noqa: F401  (they register their commands)
from runner.cli.app import app
from runner.cli.options import err
from runner.errors import MedrunError


def main() -> None:
    try:
        app()
    except MedrunError as e:
        err.print(Text("error: ", style="bold red") + Text(str(e)))
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted: completions generated so far are in the cache; rerun the same command to resume.")
        sys.exit(130)
