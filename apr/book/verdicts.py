"""How the book words and draws each verdict (:class:`apr.evaluation.stats.Verdict` is the vocabulary itself):
one home for what each verdict means on the page and for its marker in the forest plot."""

from __future__ import annotations

from ..evaluation.stats import Verdict

# What a verdict on a trained-model claim says about its 95% interval, as the book explains it.
MEANINGS: dict[Verdict, str] = {
    Verdict.AS_CLAIMED: "the interval excludes 0 and reaches the paper's effect",
    Verdict.SMALLER: "it excludes 0 and the paper's effect, on the paper's side",
    Verdict.NOT_SEEN: "it falls short of the paper's effect and does not reach beyond half of it the other way (it "
                      "includes 0, or excludes it by less)",
    Verdict.OPPOSITE: "it lies on the other side of 0, beyond half the paper's effect",
    Verdict.CANNOT_TELL: "it includes both 0 and the paper's effect",
    Verdict.UNTESTABLE: "a precondition failed (the note says which)",
}

# The forest plot's marker for each verdict on a trained-model claim (matplotlib marker codes).
MARKERS: dict[Verdict, str] = {Verdict.AS_CLAIMED: "o", Verdict.SMALLER: "o", Verdict.NOT_SEEN: "s",
                               Verdict.OPPOSITE: "v", Verdict.CANNOT_TELL: "D", Verdict.UNTESTABLE: "x"}


def glossary() -> str:
    """Every trained-model verdict with its meaning, as one Markdown sentence ("*as large as claimed*, the interval
    excludes 0 ...; ...")."""
    return "; ".join(f"*{verdict}*, {meaning}" for verdict, meaning in MEANINGS.items())


def marker(verdict: str | Verdict) -> str:
    """The forest plot's marker for ``verdict``; a word that is no trained-model verdict is an error, not a circle."""
    try:
        return MARKERS[Verdict(str(verdict))]
    except (KeyError, ValueError):
        raise ValueError(f"no forest-plot marker for the verdict {str(verdict)!r}: expected one of "
                         f"{', '.join(map(str, MARKERS))}") from None
