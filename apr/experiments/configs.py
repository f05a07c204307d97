"""The configurations the book trains, chapter by chapter, from one :class:`BookParameters`.

Chapters ask this module which models they need, so a chapter run on its own and the whole book (which trains
everything in one pool first, :func:`book_configs`) use the same configurations, and the store trains each once.

The *main* models (IDE, ARN, APR and its ablated variants) use the scale's preset and are trained with several
training seeds each (:meth:`BookParameters.runs_for`). The *sweeps* train APR once per point. λ is swept as the
paper did (§5.1): on a validation split carved from the training identities (``VALIDATION_IDS``), one run per λ
plus ``ablation_runs`` runs at the paper's λ = 0.9 and at λ = 1, whose seed-by-seed difference lends its spread to
the other points (:mod:`apr.evaluation.stats`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..config import APRConfig, in_reading
from ..data.attributes import DUKE_SCHEMA, MARKET_SCHEMA, SCHEMAS, AttributeSchema
from ..data.datasets import stands_for
from .parameters import BookParameters

MAIN_VARIANTS = ("ide", "arn", "apr", "apr_no_arm", "apr_no_attr_loss")
# The variants that read Eq. 6's attribute term: trained in the build's other reading too (errata, item 15).
READING_VARIANTS = ("apr", "apr_no_arm")
VARIANT_NAMES = {"ide": "IDE (Baseline 1)", "arn": "ARN (Baseline 2)", "apr": "APR", "apr_no_arm": "APR (w/o ARM)",
                 "apr_no_attr_loss": "APR (w/o attri)"}

# Fig. 7's λ values: both ends, the middle, and the region the paper found best.
SWEEP_LAMBDAS = (0.0, 0.5, 0.7, 0.8, 0.9, 1.0)
REFERENCE_LAMBDA = 0.9        # the paper's λ: the test-split models use it, and the sweep's reference
# The λ values trained with every seed: the reference, and λ = 1 (identities only; the paper's curve falls
# there), whose seed-by-seed difference to the reference lends its spread to the once-trained points.
SEEDED_LAMBDAS = (REFERENCE_LAMBDA, 1.0)
# Training identities held out for the λ sweep: the paper's 100 of 751, scaled to the training split
# (quick: 60 of the synthetic set's 450; smoke: 4 of 24).
VALIDATION_IDS: dict[str, int] = {"smoke": 4, "quick": 60, "paper": 100}

# Fig. 8 (§5.3.4): the largest gallery as a multiple of the test gallery, per scale. The paper's
# Market-1501+500k points are the 19,732-image gallery plus 0, 100k, 200k and 500k distractors (x1 to x26.3);
# the paper scale on the real Market-1501 uses exactly those (PAPER_DISTRACTORS).
GALLERY_MULTIPLE: dict[str, float] = {"smoke": 2.0, "quick": 2.0, "paper": 26.34}
GALLERY_POINTS = 4
PAPER_DISTRACTORS = (0, 100_000, 200_000, 500_000)


def distractor_counts(parameters: BookParameters, gallery_size: int, points: int = GALLERY_POINTS) -> list[int]:
    """Distractors to add at each point of Fig. 8: 0 first, then evenly spaced on a log axis up to a gallery of
    ``gallery_multiple`` (default: ``GALLERY_MULTIPLE[scale]``) times ``gallery_size``. The real Market-1501 at the
    paper scale gets the paper's own points unless ``gallery_multiple`` is given."""
    multiple = parameters.gallery_multiple
    if parameters.dataset == "market1501" and parameters.scale == "paper" and multiple is None:
        return list(PAPER_DISTRACTORS)
    multiple = GALLERY_MULTIPLE[parameters.scale] if multiple is None else float(multiple)
    if not multiple > 1 or points < 2:
        raise ValueError(f"gallery_multiple={multiple}, points={points}: expected a multiple above 1 and 2 or more "
                         "points")
    sizes = np.geomspace(gallery_size, gallery_size * multiple, points)
    return [0] + [int(round(s)) - gallery_size for s in sizes[1:]]


# Fig. 6: what "leaving one attribute out" removes (colours and bags count as one each).
# Keys follow apr.book.paper.FIG6_* so measured and reported bars line up.
REMOVALS: dict[str, dict[str, tuple[str, ...]]] = {
    "market1501": {
        "male/female": ("gender",), "age": ("age",), "sleeve length": ("up",), "lower-body length": ("down",),
        "pants/dress": ("clothes",), "hair length": ("hair",), "bag (all types)": ("backpack", "handbag", "bag"),
        "hat": ("hat",), "upper-body colour": MARKET_SCHEMA.group("C.up").members,
        "lower-body colour": MARKET_SCHEMA.group("C.low").members,
    },
    "dukemtmc": {
        "male/female": ("gender",), "coat": ("top",), "bag (all types)": ("backpack", "handbag", "bag"),
        "hat": ("hat",), "boots": ("boots",), "colour of shoes": ("shoes",),
        "upper-body colour": DUKE_SCHEMA.group("C.up").members, "lower-body colour": DUKE_SCHEMA.group("C.low").members,
    },
}


def schema_of(dataset: str) -> AttributeSchema | None:
    """The attribute schema a dataset's models use (the synthetic set is in Market's)."""
    return SCHEMAS.get(stands_for(dataset))


def variant_configs(base: APRConfig, variants: tuple[str, ...] = MAIN_VARIANTS) -> dict[str, APRConfig]:
    """``base`` as each of the paper's variants, in ``base``'s reading of Eq. 6 where the variant has one."""
    return {v: in_reading(replace(base, variant=v), base.attribute_loss_reduction) for v in variants}


def validation_config(parameters: BookParameters) -> APRConfig:
    """APR trained without ``VALIDATION_IDS[scale]`` training identities and evaluated on them (Fig. 7)."""
    return parameters.main_config(validation_ids=VALIDATION_IDS[parameters.scale])


def lambda_configs(parameters: BookParameters, lambdas: tuple[float, ...] = SWEEP_LAMBDAS) -> dict[float, APRConfig]:
    """Fig. 7: APR at each λ, on the validation split."""
    base = validation_config(parameters)
    return {lam: replace(base, lambda_id=float(lam)) for lam in lambdas}


def leave_one_out_configs(parameters: BookParameters) -> dict[str, APRConfig]:
    """Fig. 6: APR with all attributes (key ``"none"``) and without each removable one; none when the build does
    not train them (:attr:`BookParameters.trains_leave_one_out`)."""
    if not parameters.trains_leave_one_out:
        return {}
    base = parameters.main_config()
    schema = schema_of(base.dataset)
    key = stands_for(base.dataset)
    if schema is None or key not in REMOVALS:
        return {}
    out = {"none": replace(base, attributes=None)}
    for name, removed in REMOVALS[key].items():
        out[name] = replace(base, attributes=tuple(n for n in schema.names if n not in removed))
    return out


def removed_groups(parameters: BookParameters) -> dict[str, tuple[str, ...]]:
    """Fig. 6: the evaluation groups (Table 4/5 columns) each removal of :func:`leave_one_out_configs` takes away."""
    schema = schema_of(parameters.dataset)
    removals = REMOVALS.get(stands_for(parameters.dataset), {})
    if schema is None:
        return {}
    return {name: tuple(g.name for g in schema.groups if set(g.members) & set(removed))
            for name, removed in removals.items()}


def seeded_configs(config: APRConfig, seeds: int) -> list[APRConfig]:
    """``config`` with training seeds 0 .. seeds - 1: the same data and starting point, other training randomness."""
    if seeds < 1:
        raise ValueError(f"seeds={seeds}: expected at least 1 training seed")
    return [replace(config, train_seed=k) for k in range(seeds)]


def seeded_variant_configs(parameters: BookParameters, variants: tuple[str, ...] = MAIN_VARIANTS
                           ) -> dict[str, list[APRConfig]]:
    """Each of ``variants`` of the main configuration with the training seeds the book gives it, seed 0 first."""
    return {v: seeded_configs(c, parameters.runs_for(v))
            for v, c in variant_configs(parameters.main_config(), variants).items()}


# The convergence check (apr.book.convergence): IDE and APR on the validation split, trained for a third, two thirds
# and all of the schedule, each schedule with its own learning-rate step at its last third, with this many seeds.
CONVERGENCE_VARIANTS = ("ide", "apr")
CONVERGENCE_SEEDS = 2


def convergence_epochs(epochs: int) -> tuple[int, ...]:
    """The schedules the convergence check trains: a third, two thirds and all of ``epochs`` (at least 1 each)."""
    return tuple(sorted({max(1, round(epochs / 3)), max(1, round(2 * epochs / 3)), epochs}))


def convergence_configs(parameters: BookParameters) -> dict[tuple[str, int], list[APRConfig]]:
    """IDE and APR (the build's reading) on the validation split for each schedule of :func:`convergence_epochs`,
    with ``CONVERGENCE_SEEDS`` training seeds (at most ``seeds``). APR's full schedule is the λ sweep's reference."""
    base = validation_config(parameters)
    seeds = min(CONVERGENCE_SEEDS, parameters.seeds)
    return {(v, e): seeded_configs(replace(c, epochs=e), seeds)
            for v, c in variant_configs(base, CONVERGENCE_VARIANTS).items() for e in convergence_epochs(base.epochs)}


def other_reading_configs(parameters: BookParameters) -> dict[str, list[APRConfig]]:
    """APR and APR w/o ARM in the reading of Eq. 6 the build does not default to, with the training seeds the
    build gives each in its own reading: the headline rows are shown for both."""
    base = parameters.main_config(attribute_loss_reduction=parameters.other_reading)
    return {v: seeded_configs(c, parameters.runs_for(v)) for v, c in variant_configs(base, READING_VARIANTS).items()}


def book_configs(parameters: BookParameters) -> list[APRConfig]:
    """Every model the book trains for these parameters, main models first."""
    lambdas = lambda_configs(parameters)
    removals = leave_one_out_configs(parameters)
    few = parameters.ablation_runs
    configs = [c for runs in seeded_variant_configs(parameters).values() for c in runs]
    configs += [c for runs in other_reading_configs(parameters).values() for c in runs]
    configs += [c for runs in convergence_configs(parameters).values() for c in runs]
    configs += [c for lam in SEEDED_LAMBDAS for c in seeded_configs(lambdas[lam], few)] + list(lambdas.values())
    if removals:
        configs += seeded_configs(removals["none"], few) + list(removals.values())
    return list(dict.fromkeys(configs))   # Fig. 6's reference is the main APR
