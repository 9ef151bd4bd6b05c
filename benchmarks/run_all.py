"""`make bench`: every performance benchmark with its modest defaults, one after the other.

Each benchmark runs in its own process (so one's memory never inflates another's figures)
and prints its own figures with ratios to a baseline measured in the same run. Extra
arguments after `--only NAME` go to that benchmark, e.g.

    python benchmarks/run_all.py
    python benchmarks/run_all.py --only archive_scale --sizes 10000,100000,1000000
"""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("ingest_bench", "archive_scale", "run_memory")


def main(argv: list[str]) -> int:
    names, extra = list(BENCHMARKS), []
    if argv[:1] == ["--only"] and len(argv) > 1:
        names, extra = [argv[1]], argv[2:]
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, python "
          f"{platform.python_version()}, sqlite {sqlite3.sqlite_version}", flush=True)
    failed = 0
    for name in names:
        t0 = time.perf_counter()
        print(f"\n=== {name}", flush=True)
        rc = subprocess.call([sys.executable, "-W", "ignore", str(HERE / f"{name}.py"), *extra],
                             cwd=HERE.parent)
        print(f"=== {name}: exit {rc}, {time.perf_counter() - t0:.0f}s", flush=True)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
