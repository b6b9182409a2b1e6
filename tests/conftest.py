"""Shared fixtures. Every test runs against the real embedded model and real files; MEDRUN_HOME is a
per-session folder so the GGUF is converted once per test session and no user cache is touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MEDRUN = shutil.which("medrun", path=str(Path(sys.executable).parent)) or "medrun"


@pytest.fixture(scope="session", autouse=True)
def medrun_home(tmp_path_factory) -> Path:
    home = Path(os.environ.get("MEDRUN_TEST_HOME") or tmp_path_factory.mktemp("medrun_home"))
    os.environ["MEDRUN_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def card():
    from runner.models.cards import find_card

    return find_card("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def weights(card, medrun_home):
    from runner.models.weights import resolve

    return resolve(card)


@pytest.fixture(scope="session")
def engine(card, weights):
    from runner.engines import EngineOptions, make_engine

    return make_engine("hf", card, weights, EngineOptions(batch_tokens=8192, max_batch_size=16))


def run_medrun(*args: str, cwd: Path | None = None, prefix: tuple[str, ...] = (), timeout: int = 600,
               ) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, MEDRUN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())
