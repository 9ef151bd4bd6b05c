"""The README's command reference is generated from --help by cog; fail when it drifts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_command_reference_is_current():
    result = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "README.md"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, (
        "README.md is out of date with `--help`: run `make cog` and commit the result\n"
        + result.stdout + result.stderr
    )
