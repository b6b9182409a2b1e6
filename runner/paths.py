"""Where medrun keeps things: MEDRUN_HOME for caches, the repo's folders for cards and scenarios."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """MEDRUN_HOME (default ~/.cache/medrun): converted weights, hash cache, completion cache."""
    path = Path(os.environ.get("MEDRUN_HOME") or Path.home() / ".cache" / "medrun").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cards_dir() -> Path:
    return Path(os.environ.get("MEDRUN_CARDS") or REPO_ROOT / "model_cards").expanduser()


def suite_dir() -> Path:
    return Path(os.environ.get("MEDRUN_SCENARIOS") or REPO_ROOT / "scenarios").expanduser()
