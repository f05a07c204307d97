"""How the book words and draws each verdict (:class:`apr.evaluation.stats.Verdict` is the vocabulary itself):
one home for what each verdict means on the page and for its marker in the forest plot."""

from __future__ import annotations

import numpy as np

from ..evaluation.stats import Interval, Verdict, interval_verdict_agreement, query_term, verdict_agreement

# A verdict is a finding only when a rebuild would likely repeat it: below this estimated share of rebuilds giving
# it again, the scorecard says "this build cannot tell" and names the verdict the build leans to.
AGREEMENT_FLOOR = 0.8
DECISIVE = (Verdict.AS_CLAIMED, Verdict.SMALLER, Verdict.NOT_SEEN, Verdict.OPPOSITE)

# What a verdict on a trained-model claim says about its 95% interval, as the book explains it.
MEANINGS: dict[Verdict, str] = {
    Verdict.AS_CLAIMED: "the interval excludes 0 and reaches the paper's effect",
    Verdict.SMALLER: "it excludes 0 and the paper's effect, on the paper's side",
    Verdict.NOT_SEEN: "it falls short of the paper's effect and does not reach beyond half of it the other way (it "
                      "includes 0, or excludes it by less)",
    Verdict.OPPOSITE: "it lies on the other side of 0, beyond half the paper's effect",
    Verdict.CANNOT_TELL: "it includes both 0 and the paper's effect; or the verdict it leans to (the note names it) "
                         "is no finding: a rebuild would repeat it less than "
                         f"{100 * AGREEMENT_FLOOR:.0f}% of the time, or it sees no effect while the smallest it "
                         "could detect is larger than the paper's",
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



def agreement_of(interval: Interval, paper_effect: float, per_run: np.ndarray | None = None) -> float | None:
    """The estimated share of rebuilds with as many seeds that give this interval's verdict on ``paper_effect``
    again: from the per-run (per-seed) differences behind ``interval`` where known
    (:func:`apr.evaluation.stats.verdict_agreement`), else from the interval alone
    (:func:`apr.evaluation.stats.interval_verdict_agreement`, for a once-trained point that borrowed its spread);
    None when the interval carries no training variance."""
    if not interval.carries_training_variance:
        return None
    if per_run is None or len(per_run) < 2:
        return interval_verdict_agreement(interval, paper_effect)
    per_run = np.asarray(per_run, dtype=np.float64)
    return verdict_agreement(per_run, len(per_run), paper_effect, query_variance=query_term(interval, per_run))[0]


def with_doubt(verdict: Verdict, paper_effect: float, detectable: float | None,
               agreement: float | None) -> tuple[Verdict, str]:
    """``verdict``, or *this build cannot tell* with the leaning in words when it is no finding: a rebuild would
    repeat it less often than :data:`AGREEMENT_FLOOR`, or it is *not seen here* while the smallest effect the build
    can detect (``detectable``, its interval's half-width) exceeds the paper's. An interval that excludes 0 (*as
    large as claimed*, *smaller than claimed*, *opposite*) is a finding whatever the paper's effect."""
    if verdict not in DECISIVE:
        return verdict, ""
    reasons = []
    if agreement is not None and agreement < AGREEMENT_FLOOR:
        reasons.append(f"a rebuild would repeat that about {100 * agreement:.0f}% of the time, under the "
                       f"{100 * AGREEMENT_FLOOR:.0f}% a finding needs")
    if verdict == Verdict.NOT_SEEN and detectable is not None and detectable > abs(paper_effect):
        reasons.append(f"the smallest effect this build can detect ({detectable:.2f}) is larger than the paper's "
                       f"({abs(paper_effect):.2f})")
    if not reasons:
        return verdict, ""
    return Verdict.CANNOT_TELL, f"leans *{verdict}*, but " + " and ".join(reasons)
