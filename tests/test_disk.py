"""A full disk and a read-only database: one clear line, exit code 4, nothing corrupted.

These mount a small tmpfs / a read-only bind mount, which needs root (CI and the dev
machines run as root); elsewhere they skip and say why.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsdesk.cli import cli

from .sitekit import paragraphs


def _mount(args: list[str]) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here ({result.stderr.strip() or 'not root'})")


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "full"
    mnt.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)])
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


@pytest.fixture
def read_only_dir(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root for a read-only bind mount")
    src, dst = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    dst.mkdir()
    yield src, dst
    subprocess.run(["umount", str(dst)], check=False)


def _rows(n: int) -> str:
    return "".join(json.dumps({"url": f"https://x.example/{i}-{uuid.uuid4().hex}",
                               "title": f"Story {i}", "text": " ".join(paragraphs(f"d{i}", 12)),
                               "source": "X"}) + "\n" for i in range(n))


def test_disk_full_is_one_line_exit_4_and_db_stays_consistent(small_disk, tmp_path):
    db = small_disk / "news.db"
    src = tmp_path / "rows.jsonl"
    src.write_text(_rows(400))  # far more than 1 MB of text with its FTS index
    result = CliRunner().invoke(cli, ["import", str(src), "--db", str(db)])
    assert result.exit_code == 4, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "disk full" in lines[0] and str(db) in lines[0]
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    assert conn.execute("SELECT COUNT(*) FROM articles_fts").fetchone()[0] == n
    conn.close()


def test_read_only_database_is_one_line_exit_4(read_only_dir, tmp_path):
    src_dir, ro = read_only_dir
    rows = tmp_path / "rows.jsonl"
    rows.write_text(_rows(2))
    assert CliRunner().invoke(cli, ["import", str(rows), "--db", str(src_dir / "n.db")]
                              ).exit_code == 0
    _mount(["--bind", str(src_dir), str(ro)])
    _mount(["-o", "remount,bind,ro", str(ro)])
    result = CliRunner().invoke(cli, ["import", str(rows), "--db", str(Path(ro) / "n.db")])
    assert result.exit_code == 4, result.output
    assert "read-only" in result.output or "readonly" in result.output
    assert len(result.output.strip().splitlines()) == 1
