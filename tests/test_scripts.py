"""Every script in scripts/ runs at its smallest size, so a refactor cannot break one unseen.

Python scripts take `--smoke`; shell scripts are what CI itself runs (.ci/run -> scripts/test.sh ->
scripts/setup.sh), so they are checked for being wired in rather than run again from inside pytest."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import REPO

SCRIPTS = sorted((REPO / "scripts").glob("*.py"))
NEEDS = {"bench_vllm.py": "vllm"}  # scripts that need an optional engine, tested where it is installed


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_runs_at_its_smallest_size(script, medrun_home):
    need = NEEDS.get(script.name)
    if need and importlib.util.find_spec(need) is None:
        pytest.skip(f"{need} is not installed here (scripts/test.sh runs this in .venv-vllm)")
    done = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True, timeout=900,
                          cwd=REPO, env={**os.environ, "VLLM_LOGGING_LEVEL": "ERROR"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ratio" in done.stdout, done.stdout[-2000:]


def test_shell_scripts_are_what_ci_runs():
    ci = (REPO / ".ci" / "run").read_text()
    test_sh = (REPO / "scripts" / "test.sh").read_text()
    assert "scripts/test.sh" in ci and "scripts/setup.sh" in test_sh
    assert {p.name for p in (REPO / "scripts").glob("*.sh")} == {"setup.sh", "test.sh"}
    # the scripts that need vLLM run where it is installed
    vllm_line = next(line for line in test_sh.splitlines() if line.startswith("VLLM_LOGGING_LEVEL"))
    assert "tests/test_scripts.py" in vllm_line
