"""Writing into a run folder: its name, and files written so that a killed process never leaves half
of one (every file is written to a temporary name and renamed)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_dir(out: Path, model_id: str, suite_id: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = out / re.sub(r"[^A-Za-z0-9._-]+", "_", f"{stamp}-{model_id}-{suite_id}")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """`write` fills a temporary file next to `path` (same suffix: some writers go by it), then it is
    renamed over `path`, so a killed process never leaves a half-written file."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    write(tmp)
    tmp.replace(path)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_table(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))

