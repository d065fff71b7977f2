"""`make bench`: run every benchmark in bench/ one after another and print their figures.

Each benchmark is a script `bench/<name>.py` that measures its subject beside a baseline in the
same run and prints the ratio. `--quick` passes `--quick` on (smaller data, for a smoke run).
The latest full figures are written down by hand in bench/README.md with machine and date.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SKIP = {"run_all.py"}
# Run in their quick form even by `make bench`: the full client fleet (10,000 sockets, two
# servers per N) takes a quarter of an hour; run `bench/fleet.py` by hand for its full table.
ALWAYS_QUICK = {"fleet"}


def benchmarks() -> list[Path]:
    return sorted(path for path in BENCH_DIR.glob("*.py")
                  if path.name not in SKIP and not path.name.startswith("_"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data sets, for a smoke run")
    parser.add_argument("names", nargs="*", help="only these benchmarks (file names without .py)")
    args = parser.parse_args()
    selected = [path for path in benchmarks() if not args.names or path.stem in args.names]
    env = {**os.environ, "PYTHONPATH": str(BENCH_DIR.parent)}
    failed = []
    for path in selected:
        print(f"\n=== {path.stem} ===", flush=True)
        started = time.perf_counter()
        quick = args.quick or path.stem in ALWAYS_QUICK
        command = [sys.executable, str(path)] + (["--quick"] if quick else [])
        if subprocess.run(command, cwd=BENCH_DIR.parent, env=env).returncode != 0:
            failed.append(path.stem)
        print(f"--- {path.stem}: {time.perf_counter() - started:.1f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
