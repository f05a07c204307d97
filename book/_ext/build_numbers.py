"""A Sphinx extension of this book: the numbers its hand-written pages quote about the build (default training
seeds, models per build, validation identities) come from the ``apr`` package, as MyST substitutions
(``{{ default_seeds }}`` in a page), so a changed default cannot leave a stale number in the prose."""

from __future__ import annotations


def book_numbers() -> dict[str, str]:
    """Every substitution by name, computed from the package's defaults (no model is trained or read)."""
    from apr.config import PRESETS
    from apr.data.synthetic import SYNTH_PRESETS
    from apr.engine.pretrain import PRETRAIN_EPOCHS
    from apr.experiments import BookParameters
    from apr.experiments.configs import VALIDATION_IDS, book_configs
    from apr.experiments.parameters import DEFAULT_ABLATION_SEEDS

    def models(**parameters) -> str:
        return str(len(book_configs(BookParameters(**parameters))))

    return {"default_seeds": str(BookParameters().seeds), "default_ablation_seeds": str(DEFAULT_ABLATION_SEEDS),
            "default_models": models(), "paper_models": models(scale="paper"),
            "paper_models_8_seeds": models(scale="paper", seeds=8),
            "paper_models_2_seeds": models(scale="paper", seeds=2, ablation_seeds=2),
            "quick_validation_ids": str(VALIDATION_IDS["quick"]),
            "paper_validation_ids": str(VALIDATION_IDS["paper"]),
            "quick_training_ids": str(SYNTH_PRESETS["quick"].num_train_ids),
            "quick_epochs": str(PRESETS["quick"].epochs), "quick_pretrain_epochs": str(PRETRAIN_EPOCHS["quick"])}


def _substitute(app, config) -> None:
    config.myst_substitutions = {**book_numbers(), **(config.myst_substitutions or {})}


def setup(app):
    app.connect("config-inited", _substitute)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
