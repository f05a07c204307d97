"""A Sphinx extension of this book: no "Fig. N" of the book's own before a caption.

Every caption names the paper's figure it rebuilds ("The paper's Fig. 7, rebuilt here"); Sphinx's numbering across
the book would put "Fig. 13" in front of it. jupyter-book turns ``numfig`` on whatever ``_config.yml`` says, so it is
turned off here, after the configuration is read.
"""

from __future__ import annotations


def _no_figure_numbers(app, config) -> None:
    config.numfig = False


def setup(app):
    app.connect("config-inited", _no_figure_numbers, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
