"""What a chapter function returns: the chapter's tables, figures and quoted values, by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Chapter:
    """A chapter's computed content. ``tables``: what its table cells show (already formatted for display);
    ``figures``: the saved figures as IPython images (what its figure cells show), or the note shown instead when
    the build has no such figure; ``quotes``: the values its prose quotes, by glue name."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    quotes: dict[str, Any] = field(default_factory=dict)

    def glue(self) -> None:
        """Hand every quoted value to MyST-NB (``{glue:text}`name``` in the chapter's prose)."""
        from myst_nb import glue

        for name, value in self.quotes.items():
            glue(name, value, display=False)
