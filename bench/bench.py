"""Benchmark: the run on the sample, `validate` of one workbook, and ingest + validate at scale beside
reading the same files with pandas' openpyxl engine.

    python bench/bench.py [--repeat R] [--scale 100,300,1000] [--quick] [--keep DIR]
    make bench

Everything is measured in a fresh process, in a temporary folder (nothing is written into the project):

1. `crimetrends run --year 2025 --no-pdf` on the shipped sample inputs (`inputs/`) into empty
   outputs, interpreter start included. Target: <= 10 s.
2. `crimetrends validate GEO_2025.xlsx`: a focal point's check of one workbook (no inputs folder
   beside it), interpreter start included. Target: <= 1.5 s.
3. Ingest + validate (`cli.read_and_check`: every file read and validated, then the checks across
   files) of 100, 300 and 1,000 workbooks, with the peak memory of the process; and, on the same
   files, `pandas.read_excel(path, sheet_name=None, engine="openpyxl")` for each workbook, what one
   would write without this project. Targets for 1,000 workbooks: <= 30 s, <= 500 MB, >= 3x faster
   than openpyxl; the time per workbook stays flat as the count grows.

The workbooks are the generated set (13 states x 10 years, 2016-2025: 126 workbooks, made with the
project's own template code, `pipeline.samples.generate_sample_inputs`), copied into as many folders
as a count needs: each copy is a file of its own, which resubmission resolution then rejects or
supersedes, at the same cost to read and validate.

Prints a table, then one line `BENCH_JSON {...}` with every figure (seconds, MB). Not a test: the
figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

SAMPLE_INPUTS = PROJECT_ROOT / "inputs"
YEAR = 2025
SCALE = (100, 300, 1000)


# -- the workbooks -----------------------------------------------------------------------------------
def generate(folder: Path) -> list[Path]:
    """The generated set: 13 states x 10 years."""
    from pipeline.reference import load_reference
    from pipeline.samples import generate_sample_inputs

    return generate_sample_inputs(folder, load_reference(), years=range(2016, YEAR + 1))


def subset(source: Path, n: int, folder: Path) -> Path:
    """`folder` holding `n` workbooks copied from `source` (more copies when it has fewer)."""
    files = sorted(p for p in source.rglob("*.xlsx") if p.is_file())
    for i in range(n):
        path = files[i % len(files)]
        target = folder / f"copy{i // len(files):02d}" / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return folder


# -- measured in a fresh process (`--_ingest`, `--_openpyxl`) ------------------------------------------
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def ingest_validate(inputs: Path) -> dict[str, float]:
    """Ingest and validate every workbook under `inputs` as `run` does (`cli.read_and_check`)."""
    from pipeline import cli, ingest
    from pipeline.reference import load_reference

    ref = load_reference()
    files = ingest.discover_files(inputs)
    started, cpu = time.perf_counter(), time.process_time()
    cli.read_and_check([(path, inputs) for path in files], ref, strict=False)
    return {"files": len(files), "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "peak_rss_mb": _peak_rss_mb()}


def openpyxl_read(inputs: Path) -> dict[str, float]:
    """Every workbook under `inputs` through pandas' openpyxl engine, every sheet."""
    import warnings

    import pandas as pd

    files = sorted(p for p in inputs.rglob("*.xlsx") if p.is_file())
    started, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about the data validations it does not read
        for path in files:
            pd.read_excel(path, sheet_name=None, engine="openpyxl")
    return {"files": len(files), "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "peak_rss_mb": _peak_rss_mb()}


def _children_cpu_seconds() -> float:
    """CPU time (user + system) of the processes this one has waited for, and of theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child(mode: str, inputs: Path) -> dict:
    """`mode` of this script in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), f"--_{mode}", str(inputs)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def command_seconds(args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall time, CPU time) of `python -m pipeline ARGS` as a separate process, interpreter start
    included; the CPU time counts the processes it started too (the chart workers)."""
    cpu = _children_cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: submissions with errors (the sample inputs have some on purpose)
        raise SystemExit(f"bench: crimetrends {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, _children_cpu_seconds() - cpu


# -- summaries -------------------------------------------------------------------------------------------
def summary(measured: list[tuple[float, float]]) -> dict[str, float]:
    """Min and median of the wall times; the CPU time of the fastest."""
    walls = [wall for wall, _ in measured]
    return {"min": round(min(walls), 3), "median": round(statistics.median(walls), 3), "cpu": round(min(measured)[1], 3), "n": len(walls)}


def machine() -> dict[str, object]:
    from importlib import metadata

    from pipeline import __version__

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "") \
        if Path("/proc/cpuinfo").is_file() else ""
    versions = {name: metadata.version(name) for name in ("pandas", "openpyxl", "python-calamine")}
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "crimetrends": __version__, **versions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the sample run, validate of one workbook, and ingest + validate against pandas' openpyxl engine.")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measure (min and median are reported; default 3)")
    parser.add_argument("--scale", default=",".join(map(str, SCALE)), help="workbook counts for ingest + validate (default 100,300,1000)")
    parser.add_argument("--quick", action="store_true", help="one repetition, 100 and 300 workbooks: a check that it works")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (default: a temporary folder, removed)")
    parser.add_argument("--_ingest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_openpyxl", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._ingest:
        print(json.dumps(ingest_validate(args._ingest)))
        return 0
    if args._openpyxl:
        print(json.dumps(openpyxl_read(args._openpyxl)))
        return 0

    repeat = 1 if args.quick else max(1, args.repeat)
    scale = [100, 300] if args.quick else [int(n) for n in args.scale.split(",") if n.strip()]
    work = args.keep or Path(tempfile.mkdtemp(prefix="crimetrends-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        figures = bench(work, repeat, scale)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print_table(figures)
    print("BENCH_JSON " + json.dumps(figures, sort_keys=True))
    return 0


def bench(work: Path, repeat: int, scale: list[int]) -> dict[str, object]:
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    figures: dict[str, object] = {"machine": machine(), "repeat": repeat}

    say("the sample's first run (no PDF)")
    runs = []
    for i in range(repeat):
        out = work / f"run{i}"
        runs.append(command_seconds(["run", "--year", str(YEAR), "--inputs", str(SAMPLE_INPUTS), "--outputs", str(out), "--no-pdf", "-q"], PROJECT_ROOT))
        shutil.rmtree(out, ignore_errors=True)
    figures["sample_first_run"] = summary(runs)

    generated = work / "generated"
    files = generate(generated)
    say(f"validate of one workbook; {len(files)} workbooks generated")
    one = next(p for p in files if p.name == f"GEO_{YEAR}.xlsx")
    alone = work / "focal-point"
    alone.mkdir()
    figures["validate_one_workbook"] = summary([command_seconds(["validate", str(one), "--outputs", str(alone / "out"), "-q"], alone) for _ in range(repeat)])

    rows = []
    for n in scale:
        say(f"ingest + validate of {n} workbooks, and openpyxl on the same files")
        folder = subset(generated, n, work / f"scale{n}")
        ours = [_child("ingest", folder) for _ in range(repeat)]
        theirs = [_child("openpyxl", folder) for _ in range(repeat)]
        seconds, baseline = min(m["seconds"] for m in ours), min(m["seconds"] for m in theirs)
        rows.append({"workbooks": n, "seconds": round(seconds, 3), "ms_per_workbook": round(seconds / n * 1000, 2),
                     "cpu_seconds": round(min(m["cpu_seconds"] for m in ours), 3), "openpyxl_cpu_seconds": round(min(m["cpu_seconds"] for m in theirs), 3),
                     "peak_rss_mb": round(max(m["peak_rss_mb"] for m in ours), 1), "openpyxl_seconds": round(baseline, 3),
                     "openpyxl_peak_rss_mb": round(max(m["peak_rss_mb"] for m in theirs), 1), "ratio": round(baseline / seconds, 1)})
        shutil.rmtree(folder, ignore_errors=True)
    figures["ingest_validate"] = rows
    return figures


def print_table(f: dict) -> None:
    m = f["machine"]
    print(f"crimetrends {m['crimetrends']} on {m['cpus']} CPU(s) {m['cpu']}, Python {m['python']}; {f['repeat']} repetition(s), seconds\n")
    print(f"{'':44} {'min':>8} {'median':>8} {'CPU s':>8}  target")
    for label, key, target in (("run --no-pdf, sample inputs, first run", "sample_first_run", "<= 10 s"),
                               ("validate of one workbook (fresh process)", "validate_one_workbook", "<= 1.5 s")):
        print(f"{label:44} {f[key]['min']:8.3f} {f[key]['median']:8.3f} {f[key]['cpu']:8.3f}  {target}")
    print(f"\n{'workbooks':>9} {'ingest+validate s':>18} {'CPU s':>7} {'ms/workbook':>12} {'peak MB':>8} {'openpyxl s':>11} {'CPU s':>7} {'MB':>6} {'ratio':>6}")
    for row in f["ingest_validate"]:
        print(f"{row['workbooks']:>9} {row['seconds']:>18.3f} {row['cpu_seconds']:>7.3f} {row['ms_per_workbook']:>12.2f} {row['peak_rss_mb']:>8.1f} "
              f"{row['openpyxl_seconds']:>11.3f} {row['openpyxl_cpu_seconds']:>7.3f} {row['openpyxl_peak_rss_mb']:>6.1f} {row['ratio']:>5.1f}x")
    print("targets for 1,000 workbooks: <= 30 s, <= 500 MB, >= 3x faster than openpyxl\n")


if __name__ == "__main__":
    raise SystemExit(main())
