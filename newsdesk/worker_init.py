"""Preloaded by the extraction processes' fork server (see `pipeline._pool`).

Importing it loads the extraction stack and runs one small built-in page through it, which
fills the caches the extractor builds on its first page (jusText's stoplists, the list of
top-level domains; ~0.2 s of CPU). Every process forked from the server inherits them, so
none pays for them again.
"""

from __future__ import annotations

import datasketch  # noqa: F401  (the copy signatures' MinHash; imports scipy)

from .worker import warm

warm()
