"""Where the shared test corpora live: $NEWSDESK_CORPORA, else <repo>/../shared/corpora."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def corpora_dir(override: str | os.PathLike | None = None) -> Path:
    """The corpora folder (which may not exist: callers check and skip visibly)."""
    if override:
        return Path(override)
    env = os.environ.get("NEWSDESK_CORPORA")
    return Path(env) if env else REPO.parent / "shared" / "corpora"
