"""What a chapter function returns: the chapter's tables, figures and quoted values, by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Chapter:
    """A chapter's computed content. ``tables``: what its table cells show (formatted for display; or one table per
    annotation file, by name); ``figures``: the saved figures as IPython images (or a list, one per file);
    ``notes``: a line shown before a table, or instead of a figure the build has not got; ``quotes``: the values
    its prose quotes, by glue name; ``blocks``: Markdown its prose includes whole (``{glue:md}``), by glue name."""

    tables: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    quotes: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, str] = field(default_factory=dict)

    def glue(self) -> None:
        """Hand every quoted value and block to MyST-NB (``{glue:text}`name``` and ``{glue:md}`` in the prose)."""
        from IPython.display import Markdown
        from myst_nb import glue

        for name, value in self.quotes.items():
            glue(name, value, display=False)
        for name, text in self.blocks.items():
            glue(name, Markdown(text), display=False)

    def table(self, name: str) -> pd.DataFrame:
        """Table ``name``, its note (if any) displayed first, as Markdown."""
        if name in self.notes:
            from IPython.display import Markdown, display

            display(Markdown(self.notes[name]))
        return self.tables[name]

    def figure(self, name: str) -> Any:
        """Figure ``name``, or its note as Markdown when the build has no such figure."""
        from IPython.display import Markdown

        return self.figures[name] if name in self.figures else Markdown(self.notes[name])
