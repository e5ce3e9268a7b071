"""Run every benchmark of this folder, one subprocess each: `python -m bench [NAME ...]`.

NAME selects modules by suffix (`python -m bench graders sandbox`); no NAME runs all `bench_*.py`.
Each module prints its own table and one JSON line; a failing module is reported and the rest still run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    chosen = [n for n in names if not argv or n.removeprefix("bench_") in argv or n in argv]
    failed = []
    for name in chosen:
        print(f"== {name}", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
