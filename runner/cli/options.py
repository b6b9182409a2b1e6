"""Options defined once, reused by every command that takes them, and the consoles commands print to."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from runner.errors import MedrunError

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)  # logs get whole table rows
err = Console(stderr=True, soft_wrap=True)

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model card id, or path to a card YAML.")]
SuiteOpt = Annotated[Path, typer.Option("--suite", help="Suite folder (with suite.yaml) or one scenario file.")]
ScenarioOpt = Annotated[Optional[list[str]], typer.Option("--scenario", "-s", help="Only these scenario ids (repeatable).")]
SubsetOpt = Annotated[Optional[str], typer.Option(help="Named subset from suite.yaml (full = everything); "
                                                       "default: the suite's default_subset.")]
LimitOpt = Annotated[Optional[int], typer.Option(help="At most this many instances per scenario.")]
EngineOpt = Annotated[str, typer.Option(help="auto (vLLM if installed and a GPU is present, else transformers), vllm or hf.")]
DeviceOpt = Annotated[str, typer.Option(help="hf: auto, cpu, cuda or cuda:N.")]
GpuMemoryOpt = Annotated[Optional[float], typer.Option(help="vllm: memory share to take (default: the card's, else 0.9 GPU / 0.3 CPU).")]
EnforceEagerOpt = Annotated[bool, typer.Option(help="vllm: no CUDA graphs or compilation (faster start).")]
BatchInvariantOpt = Annotated[bool, typer.Option(help="Same result at any batch size: vllm batch-invariant kernels "
                                                 "(VLLM_BATCH_INVARIANT=1); hf each request decoded alone (slow).")]
BatchingOpt = Annotated[str, typer.Option(help="hf: continuous (a finished request's slot is refilled at once) or static "
                                          "(each batch runs to its longest answer).")]
McScoringOpt = Annotated[Optional[str], typer.Option(help="Multiple choice: generate (read the letter from a reply) or "
                                                     "logprob (each option letter's probability, one forward pass); "
                                                     "default: each scenario's mc_scoring, else generate.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder that receives the run folder.")]
HarmWeightsOpt = Annotated[str, typer.Option(help="Weights of severities 0-4 for harm-weighted error.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
ReportOpt = Annotated[bool, typer.Option("--report/--no-report", help="Write report.html and report.md into the run folder at the end.")]
JudgeOpt = Annotated[Optional[list[str]], typer.Option("--judge", help="Judge model card (repeatable: several make a "
                                                                    "jury) grading criteria, dispositions, statements.")]
JudgeTriesOpt = Annotated[int, typer.Option(help="Asks per question before a judge's verdict counts as unparsed.")]
SelfJudgeOpt = Annotated[bool, typer.Option("--allow-self-judge", help="Let the model under test judge its own "
                                                                        "replies (the report says so).")]
RunArg = Annotated[Path, typer.Argument(help="Run folder written by medrun eval, score or rescore.")]
SharedOpt = Annotated[bool, typer.Option("--shared", help="Compare the scenarios whose files are identical in every "
                                                          "run, and note (not refuse) different scorer versions.")]


def floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise MedrunError(f"expected comma-separated numbers, got '{text}'.") from None


def ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise MedrunError(f"expected comma-separated integers, got '{text}'.") from None


def ci(m: dict) -> str:
    from runner.reports.document import interval

    return interval(m["ci_low"], m["ci_high"])
