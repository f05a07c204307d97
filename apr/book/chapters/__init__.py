"""The chapters' analyses: one module per chapter, each with one function that takes the book's parameters and
returns a :class:`Chapter` (its tables, its figures and the values its prose quotes). A chapter's notebook keeps its
parameters cell, that call, the display and the prose; everything it computes is here, where unit tests reach it."""

from .chapter import Chapter

__all__ = ["Chapter"]
