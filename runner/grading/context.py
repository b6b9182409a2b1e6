"""The clinical-NLP machinery every text grader shares: medspaCy on a blank spaCy pipeline (nothing
to download). Sentences and lines are split, the services of vocab/dispositions.yaml are found as
targets, and ConText rules from the same file mark what negates, rejects, conditions, times or
merely mentions something, each within its sentence and clause.

`parse(text)` runs the pipeline once per text (cached); `modifiers(doc, start, end)` says which
modifier categories govern any character span of it, so phrase criteria (rubrics, facts, safety
rules) and the disposition grader read negation and clauses the same way."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from pathlib import Path

import yaml

from runner.errors import MedrunError

VOCABULARY = Path(__file__).resolve().parent / "vocab" / "dispositions.yaml"
ABBREVIATIONS = {"dr.", "mr.", "mrs.", "ms.", "st.", "e.g.", "i.e.", "etc.", "approx.", "vs.", "no.", "prof."}
# Between a service and a condition after it: a new clause means the condition belongs to that clause,
# not to the service. A coordinator right before the condition ("..., and if he stops breathing"),
# "and"/"but"/"then" before another imperative ("go to A&E now, and call 999 if it gets worse"), or
# a comma and "or" before one ("take her to the ED now, or call 911 if she is hard to wake"). Without
# them, "go to the ER or call 911 if ..." puts both alternatives under the one condition.
_IMPERATIVE = (r"(?:call|go|get|ring|dial|phone|take|head|seek|contact|book|see|come|text|make|bring|drive|start|give|"
               r"keep|stay|tell|use|lie|sit)")
NEW_CLAUSE = re.compile(rf"(?:\b(?:and|or|but|then|also|so)|[;:\u2014\u2013]|\s-)\W*$|\b(?:and|but|then)\s+(?:\w+\s+)?"
                        rf"{_IMPERATIVE}\b|,\s*or\s+(?:\w+\s+)?{_IMPERATIVE}\b|,\s*or\s+[^,]{{1,30}}$", re.IGNORECASE)
# A fronted condition whose consequent comes first, then the advice in sequence: "If you're alone, unlock
# the door, then call 112 now" (the condition governs unlocking, not calling).
_STEP = (r"(?:unlock|open|put|sit|lie|stay|get|take|give|stop|make|find|grab|ask|have|keep|move|turn|use|check|"
         r"write|note|go|leave|tell|pack|bring|wake)")
SEQUENCE = re.compile(rf",\s*(?:please\s+|first\s+|just\s+)?{_STEP}\b.*\bthen\b", re.IGNORECASE)
NEGATING = frozenset({"NEGATED", "REJECTED"})


def fold_quotes(text: str) -> str:
    """Curly apostrophes as straight ones (same length, so offsets still hold)."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


@lru_cache(maxsize=1)
def vocabulary() -> dict:
    return yaml.safe_load(VOCABULARY.read_text(encoding="utf-8"))


def _within_clause_after(target, modifier, between) -> bool:
    """A condition after the advice governs it ("call 999 if he faints"; "get help at A&E, or from an
    optician that day, if you notice flashes"), unless it opens a new clause of its own ("call 999 now,
    and if he stops breathing start CPR")."""
    if modifier.start < target.start:
        return not SEQUENCE.search(between.text)
    return not NEW_CLAUSE.search(between.text)


def _reach(rule: dict):
    """The on_modifies check of a rule: at most `max_words` tokens between modifier and target (inside
    the sentence, which is every scope's bound), and for conditions the clause test above."""
    limit, clause = rule.get("max_words"), rule.get("backward_within_clause")
    if limit is None and not clause:
        return None

    def reaches(target, modifier, _) -> bool:
        # the words strictly between them (medspaCy's own span runs to the modifier's end when it follows)
        doc = target.doc
        between = doc[target.end:modifier.start] if modifier.start >= target.end else doc[modifier.end:target.start]
        return ((limit is None or len(between) <= limit)
                and (not clause or _within_clause_after(target, modifier, between)))
    return reaches


@lru_cache(maxsize=1)
def nlp():
    try:
        import medspacy
    except ImportError as e:
        raise MedrunError(f"the disposition grader needs medspaCy ({e}). Install it as scripts/setup.sh does: "
                          'pip install --no-deps "medspacy==1.3.1" "PyRuSH==1.0.13"') from None
    from medspacy.context import ConTextRule
    from medspacy.target_matcher import TargetRule
    from spacy.language import Language

    @Language.component("medrun_line_breaks")
    def line_breaks(doc):
        """A new line (a bullet, a numbered step) starts a sentence, and so does a capital after a word
        the tokenizer kept its full stop on ("... A&E. Give ...")."""
        for token in doc[1:]:
            before = doc[token.i - 1]
            if ("\n" in before.text or "\n" in before.whitespace_
                    or (len(before.text) > 2 and before.text.endswith(".") and before.text.lower() not in ABBREVIATIONS
                        and token.is_title)):
                token.is_sent_start = True
        return doc

    vocab = vocabulary()
    # spaCy's rule-based sentencizer rather than medspaCy's PyRuSH: PyRuSH keeps "No need for A&E. Give
    # fluids." as one sentence, so a negation would reach into the next one.
    pipeline = medspacy.load(medspacy_enable=["medspacy_target_matcher"])
    pipeline.add_pipe("sentencizer", first=True)
    pipeline.add_pipe("medrun_line_breaks", after="sentencizer")
    pipeline.get_pipe("medspacy_target_matcher").add([
        TargetRule(name, name.upper(), pattern=p) for name, s in vocab["services"].items() for p in s["patterns"]])
    context = pipeline.add_pipe("medspacy_context", config={"rules": None, "span_attrs": None})
    rules = []
    for category, m in vocab["modifiers"].items():
        for p in m["patterns"]:
            rules.append(ConTextRule(
                p, category, pattern=p, direction=m["direction"],
                terminated_by=set(m.get("terminated_by", [])) if m["direction"] != "PSEUDO" else None,
                allowed_types={"NOTHING"} if m.get("quiet") else None,  # a boundary only: modifies nothing
                on_modifies=_reach(m)))
    context.add(rules)
    return pipeline


@lru_cache(maxsize=8192)
def parse(text: str):
    """The parsed reply: sentences, service targets (doc.ents) with their modifiers, every modifier's scope."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[W036\]")  # medspaCy's phrase matcher: all rules are regexes
        return nlp()(fold_quotes(text))


def governing(doc, start: int, end: int) -> list:
    """The ConText modifiers that govern the characters start..end of a parsed text."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None:
        return []
    return [m for m in doc._.context_graph.modifiers if m.modifies(span)]


def modifiers(doc, start: int, end: int) -> set[str]:
    """Categories of the modifiers that govern the characters start..end of a parsed text."""
    return {m.category for m in governing(doc, start, end)}


def negated(doc, start: int, end: int, inside: tuple[int, int] | None = None) -> bool:
    """Whether a negation or rejection governs start..end; one whose own words lie inside `inside`
    (a phrase that carries its negation, "ICD is not indicated") does not count."""
    for m in governing(doc, start, end):
        if m.category in NEGATING:
            words = doc[m.modifier_span[0]:m.modifier_span[1]]
            if not (inside and inside[0] <= words.start_char and words.end_char <= inside[1]):
                return True
    return False
