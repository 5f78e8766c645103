"""Write the demonstration submissions (and their README) into `inputs/`.

    python scripts/make_sample_inputs.py [--out inputs] [--seed 20260201]

The workbooks are demonstration data (see `pipeline/samples.py` for how they are made and which
imperfections they carry on purpose); a coordinator replaces them with the real submissions.
The same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from pipeline.reference import load_reference  # noqa: E402
from pipeline.samples import DEFAULT_YEARS, DEMO_SEED, generate_sample_inputs, readme_text  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the demonstration submission workbooks.")
    parser.add_argument("--out", type=Path, default=Path("inputs"), help="folder to write into (default: inputs)")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help=f"random seed (default: {DEMO_SEED})")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    out_dir: Path = args.out
    paths = generate_sample_inputs(out_dir, load_reference(), years=DEFAULT_YEARS, seed=args.seed)
    readme = out_dir / "README.md"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(readme_text(DEFAULT_YEARS, args.seed))
    os.chmod(tmp, 0o644)
    os.replace(tmp, readme)
    for path in paths:
        print(path)
    print(readme)
    size = sum(p.stat().st_size for p in paths)
    print(
        f"{len(paths)} demonstration workbooks ({size / 1024:.0f} KiB) written to {out_dir} "
        f"in {time.perf_counter() - started:.1f} s (seed {args.seed})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
