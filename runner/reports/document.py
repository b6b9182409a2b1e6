"""A small document model that reports, comparisons and leaderboards fill, rendered twice: one
self-contained HTML file (CSS inline, plots as embedded PNG, no scripts, no external assets) and
markdown (the same text and tables; plots are named, not embedded)."""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup

from runner.runs import files


@dataclass
class Text:
    text: str
    tone: str = ""  # "", "alert", "ok", "note"


@dataclass
class Table:
    frame: pd.DataFrame
    caption: str = ""


@dataclass
class Figure:
    png: bytes
    caption: str

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode()


@dataclass
class Example:
    """One answer shown in full: a title, a few facts, the question and the reply."""
    title: str
    facts: dict[str, str]
    prompt: str
    answer: str


Block = Text | Table | Figure | Example


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]


# Cell formatting shared by every table.

def number(x: float | None, digits: int = 3) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def interval(low: float | None, high: float | None, digits: int = 3) -> str:
    return "" if number(low) == "" else f"{low:.{digits}f} to {high:.{digits}f}"


def signed(x: float | None, digits: int = 3) -> str:
    return "" if number(x) == "" else f"{x:+.{digits}f}"


_ENV = jinja2.Environment(loader=jinja2.PackageLoader("runner.reports", "templates"), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True)


def _html_table(frame: pd.DataFrame) -> Markup:
    return Markup(frame.to_html(index=False, escape=True, na_rep="", border=0, classes="data"))


def to_html(doc: Document) -> str:
    return _ENV.get_template("document.html.j2").render(doc=doc, table=_html_table, generated=files.now(),
                                                        kind=lambda b: type(b).__name__)


MD_PROMPT_CHARS = 1500  # the markdown keeps long prompts short; the HTML has them whole


def _fence(text: str) -> str:
    return f"~~~~text\n{text.rstrip()}\n~~~~"


def _md_cell(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.map(lambda v: str(v).replace("|", "\\|").replace("\n", " ") if isinstance(v, str) else v)


def _md_block(block: Block) -> str:
    if isinstance(block, Text):
        return f"**{block.text}**" if block.tone == "alert" else block.text
    if isinstance(block, Table):
        body = _md_cell(block.frame).to_markdown(index=False, disable_numparse=True) if len(block.frame) else "(none)"
        return f"{block.caption}\n\n{body}" if block.caption else body
    if isinstance(block, Figure):
        return f"*Plot in the HTML report: {block.caption}*"
    prompt = block.prompt if len(block.prompt) <= MD_PROMPT_CHARS else (
        block.prompt[:MD_PROMPT_CHARS] + " [...] (whole text in the HTML report)")
    facts = "; ".join(f"{k}: {v}" for k, v in block.facts.items())
    return f"#### {block.title}\n\n{facts}\n\nPrompt:\n\n{_fence(prompt)}\n\nAnswer:\n\n{_fence(block.answer)}"


def to_markdown(doc: Document) -> str:
    parts = [f"# {doc.title}", doc.subtitle]
    for section in doc.sections:
        parts.append(f"## {section.title}")
        parts.extend(_md_block(b) for b in section.blocks)
    return "\n\n".join(parts) + "\n"


def write(doc: Document, html_path: Path, md_path: Path) -> None:
    """Both renderings, each written to a temporary name and renamed."""
    files.write_text(html_path, to_html(doc))
    files.write_text(md_path, to_markdown(doc))
