"""Experiments: what the book's chapters train (from one :class:`BookParameters`), the job pool that trains them,
the cached runs, the Fig. 8 distractors and the attribute tables. Imports only data, method, evaluation, engine."""

from .parameters import BookParameters

__all__ = ["BookParameters"]
