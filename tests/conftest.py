"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CORPORA = Path(
    os.environ.get(
        "NEWSDESK_CORPORA", Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
    )
)


@pytest.fixture
def corpora() -> Path:
    """The shared corpora folder (../shared/corpora or $NEWSDESK_CORPORA); skip when absent."""
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA} (set NEWSDESK_CORPORA)")
    return CORPORA
