"""Model cards: list, show, verify."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from runner.cli.app import models_app
from runner.cli.options import out


@models_app.command("list")
def models_list() -> None:
    """Every card in the model card folder."""
    from runner.models.cards import card_files, load_card

    table = Table("id", "name", "source", "license")
    for path in card_files():
        card = load_card(path)
        table.add_row(card.id, card.name, card.source.kind, card.license)
    out.print(table)


@models_app.command("show")
def models_show(model: Annotated[str, typer.Argument(help="Card id or path.")]) -> None:
    """A card's fields."""
    import yaml

    from runner.models.cards import find_card

    card = find_card(model)
    out.print(f"# {card.card_path}")
    out.print(yaml.safe_dump(card.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@models_app.command("verify")
def models_verify(model: Annotated[str, typer.Argument(help="Card id or path.")]) -> None:
    """Resolve the weights (converting a GGUF once), rehash every file, print the sha256 fingerprint."""
    from runner.models.cards import find_card
    from runner.models.weights import resolve

    weights = resolve(find_card(model), verify=True)
    if weights.source_file:
        out.print(f"source   {weights.source_file}\nsha256   {weights.source_sha256}")
    out.print(f"folder   {weights.folder}")
    for name, digest in weights.files.items():
        out.print(f"  {digest}  {name}")
    out.print(f"fingerprint {weights.fingerprint}")
