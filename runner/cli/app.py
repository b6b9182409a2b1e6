"""The Typer application and its command groups; commands register themselves in their modules."""

from __future__ import annotations

import typer

app = typer.Typer(help="Offline evaluation of medical LLMs on clinical scenarios.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
models_app = typer.Typer(help="Model cards: list, show, verify weights.", no_args_is_help=True)
scenarios_app = typer.Typer(help="Scenario files: list, show, validate.", no_args_is_help=True)
review_app = typer.Typer(help="Blinded clinician review: export a sample, import ratings.", no_args_is_help=True)
graders_app = typer.Typer(help="Graders measured on labelled replies before they are trusted.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(scenarios_app, name="scenarios")
app.add_typer(review_app, name="review")
app.add_typer(graders_app, name="graders")
