"""Judges at work: each judge card loaded through the same engines as the model under test, asked
greedily, every prompt and answer kept in the same completion cache, each unusable answer asked
again at most `tries - 1` times and then counted as unparsed."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Sequence

from runner.completions.cache import Cache, request_key
from runner.completions.generate import generate_missing
from runner.engines import Engine, EngineOptions, choose_engine, make_engine
from runner.engines.base import Decoding, Request
from runner.errors import MedrunError
from runner.hashing import sha256_file
from runner.judges import prompts
from runner.judges.verdicts import Reading, read
from runner.models.cards import ModelCard, find_card
from runner.models.weights import Weights
from runner.models.weights import resolve as resolve_weights
from runner.tasks.base import JudgeQuestion

MAX_TOKENS = 160   # a verdict, a quote and a short reason
DEFAULT_TRIES = 2  # the first ask and one retry that names what was wrong


@dataclass(frozen=True)
class Ask:
    """One question about one reply: `row` is (scenario_id, instance_id, seed) or a check item's id."""

    row: tuple
    question: JudgeQuestion
    asked: str   # the message the reply answers
    reply: str


@dataclass(frozen=True)
class Judgment:
    row: tuple
    kind: str
    item: str
    judge: str
    value: str | None        # None: unparsed after every try
    safety_net: bool | None
    quote: str
    error: str | None        # why the last answer could not be used
    tries: int
    answer: str              # the judge's last answer, as it gave it
    rule: str                # the rule grader's verdict on the same question
    points: int = 0          # a criterion's rubric points
    subject: str = ""        # the criterion or statement asked about


@dataclass
class Judge:
    card: ModelCard
    weights: Weights
    engine: Engine

    @property
    def id(self) -> str:
        return self.card.id

    def describe(self) -> dict:
        return {"card": self.card.id, "card_file": str(self.card.card_path), "card_sha256": sha256_file(self.card.card_path),
                "fingerprint": self.weights.fingerprint, "engine": self.engine.identity(),
                "prompt_version": prompts.PROMPT_VERSION, "max_tokens": MAX_TOKENS}


def resolve(cards: Sequence[str], engine: str, model_fingerprint: str | None, allow_self_judge: bool
            ) -> tuple[str, list[tuple[ModelCard, Weights]]]:
    """The judge cards checked before any work is done: each found, its weights resolved, the engine
    available, and the model under test not among them unless allowed. Returns (engine, [(card, weights)])."""
    if len(set(cards)) != len(cards):
        raise MedrunError(f"--judge: a card is given twice ({', '.join(cards)}); a jury needs distinct judges.")
    name, _ = choose_engine(engine)
    found = []
    for ref in cards:
        card = find_card(ref)
        weights = resolve_weights(card)
        if weights.fingerprint == model_fingerprint and not allow_self_judge:
            raise MedrunError(f"--judge {ref}: this is the model under test (same weights, {weights.fingerprint[:12]}), "
                              "and a model grading itself is biased. Pass another judge card, or --allow-self-judge "
                              "to do it anyway (the report will say so).")
        found.append((card, weights))
    return name, found


def load(cards: Sequence[str], engine: str, options: EngineOptions, model_fingerprint: str | None,
         allow_self_judge: bool) -> list[Judge]:
    """The judge cards resolved (see `resolve`) with their engines; each model loads on first use."""
    name, found = resolve(cards, engine, model_fingerprint, allow_self_judge)
    return [Judge(card, weights, make_engine(name, card, weights, options)) for card, weights in found]


def _request(judge: Judge, conversation: list[dict[str, str]], kind: str) -> Request:
    prompt = judge.engine.render(conversation) + prompts.ANSWER_PREFIX[kind]
    decoding = Decoding(max_tokens=MAX_TOKENS, stop=prompts.STOP)
    return Request(request_key(judge.weights.fingerprint, judge.engine.identity(), prompt, decoding), prompt, decoding)


def ask(judge: Judge, asks: Sequence[Ask], cache: Cache, tries: int = DEFAULT_TRIES, quiet: bool = False
        ) -> tuple[list[Judgment], dict]:
    """Every question put to one judge, answers from the cache where it has them. Returns the judgments
    and counts (prompts, from cache, generated, tokens, unparsed)."""
    if tries < 1:
        raise MedrunError("--judge-tries must be at least 1.")
    conversations = [prompts.messages(a.question, a.asked, a.reply, judge.card.system_prompt) for a in asks]
    readings: list[Reading | None] = [None] * len(asks)
    answers, used = [""] * len(asks), [0] * len(asks)
    counts = {"questions": len(asks), "prompts": 0, "from_cache": 0, "generated": 0, "generated_tokens": 0}
    pending = list(range(len(asks)))
    for attempt in range(1, tries + 1):
        if not pending:
            break
        requests = {i: _request(judge, conversations[i], asks[i].question.kind) for i in pending}
        unique = {r.key: r for r in requests.values()}
        have = cache.get_many(unique)
        missing = [r for k, r in unique.items() if k not in have]
        counts["prompts"] += len(unique)
        counts["from_cache"] += len(have)
        counts["generated"] += len(missing)
        if missing:
            counts["generated_tokens"] += generate_missing(judge.engine, cache, judge.weights.fingerprint, missing,
                                                           quiet, label=f"judge {judge.id}, try {attempt}/{tries}")
            have = cache.get_many(unique)
        retry = []
        for i in pending:
            answers[i] = prompts.ANSWER_PREFIX[asks[i].question.kind] + have[requests[i].key].text
            used[i] = attempt
            readings[i] = read(asks[i].question.kind, answers[i], asks[i].reply)
            if readings[i].value is None:
                conversations[i] = prompts.retry(conversations[i], answers[i], readings[i].error)
                retry.append(i)
        pending = retry
    out = [Judgment(a.row, a.question.kind, a.question.item, judge.id, r.value, r.safety_net, r.quote, r.error, n,
                    answer, a.question.rule, a.question.points, a.question.subject)
           for a, r, n, answer in zip(asks, readings, used, answers)]
    counts["unparsed"] = sum(j.value is None for j in out)
    return out, counts


def judge_all(judges: Sequence[Judge], asks: Sequence[Ask], cache: Cache, tries: int = DEFAULT_TRIES,
              quiet: bool = False) -> tuple[list[Judgment], list[dict]]:
    """Each judge in turn (one model in memory at a time): all judgments, and per judge what it is and
    what it did."""
    found, described = [], []
    for judge in judges:
        judgments, counts = ask(judge, asks, cache, tries, quiet)
        found += judgments
        described.append({**judge.describe(), "tries": tries, "counts": counts})
        judge.engine = None  # type: ignore[assignment]  # the weights go before the next judge loads
        gc.collect()
    return found, described
