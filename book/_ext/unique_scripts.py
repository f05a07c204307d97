"""A Sphinx extension of this book: each page loads each script once.

sphinx-thebe adds its configuration script every time the environment reads documents, and jupyter-book's
build reads them twice, so every page declared ``const THEBE_JS_URL`` twice (a console error in every browser).
"""

from __future__ import annotations


def _unique(app, pagename, templatename, context, doctree) -> None:
    seen: set[tuple] = set()
    kept = []
    for script in context.get("script_files", []):
        # An inline script is added once with filename None and once with "" (sphinx-thebe, then its re-read).
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    # Early: Sphinx stops calling html-page-context handlers at the first one that returns a template name.
    app.connect("html-page-context", _unique, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
