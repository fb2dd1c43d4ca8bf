"""Stress the teardown of a generated script under torchrun while other processes load the CPUs.

    python benchmarks/stress_torchrun.py [--runs N] [--load K] [--with RECIPE ...] [--script FILE]

Not part of the test suite (a hundred runs take minutes). It renders `snippetgen render train`
(plus any --with recipes), or takes an already rendered --script, starts K busy-loop processes
(`python -c 'while True: pass'`) and runs, N times in a row,

    python -m torch.distributed.run --standalone --nproc_per_node 2 SCRIPT \
        --epochs 1 --train-size 64 --val-size 32 --output-dir RUN

in a fresh folder each time. A run counts as an abort when it dies of a signal (SIGABRT shows
as "Signal 6" in torchrun's report) or prints "terminate called"; as a failure when it exits
non-zero otherwise or leaves no metrics.jsonl/model.pt. The busy loops are killed at the end.
It prints the tally and exits 1 if any run aborted or failed, 0 otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_ARGS = ["--epochs", "1", "--train-size", "64", "--val-size", "32"]
ABORT_MARKS = ("terminate called", "Signal 6", "SIGABRT", "exitcode  : -6", "Aborted")

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def render_script(recipes: list[str], path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from snippetgen import RenderRequest, render

    path.write_text(render(RenderRequest("train", {}, tuple(recipes))))


def one_run(script: Path, folder: Path, timeout: float) -> tuple[str, str]:
    """('ok' | 'abort' | 'failure', the end of the output when not ok)."""
    folder.mkdir()
    try:
        proc = subprocess.run(
            [*TORCHRUN, str(script), *RUN_ARGS, "--output-dir", "run"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "failure", f"timed out after {timeout:.0f} s"
    output = proc.stdout + proc.stderr
    if any(mark in output for mark in ABORT_MARKS) or proc.returncode < 0:
        return "abort", output[-3000:]
    if proc.returncode != 0:
        return "failure", output[-3000:]
    missing = [
        name for name in ("metrics.jsonl", "model.pt") if not (folder / "run" / name).is_file()
    ]
    if missing:
        return "failure", f"exit 0 but no {', '.join(missing)}"
    return "ok", ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="torchrun runs (default 100)")
    parser.add_argument(
        "--load",
        type=int,
        default=2,
        help="busy-loop processes loading the CPUs meanwhile (default 2)",
    )
    parser.add_argument(
        "--with",
        dest="recipes",
        action="append",
        default=[],
        metavar="RECIPE",
        help="render `train --with RECIPE` (repeatable)",
    )
    parser.add_argument(
        "--script",
        type=Path,
        default=None,
        help="run this rendered script instead of rendering one",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run (default 300)")
    parser.add_argument(
        "--show",
        type=int,
        default=2,
        help="print the output of the first SHOW bad runs (default 2)",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.load < 0:
        parser.error("--runs must be >= 1 and --load >= 0")

    with tempfile.TemporaryDirectory(prefix="stress-torchrun-") as tmp:
        workdir = Path(tmp)
        if args.script is not None:
            script = args.script.resolve()
        else:
            script = workdir / "train.py"
            render_script(args.recipes, script)
        busy = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)
        ]
        tally = {"ok": 0, "abort": 0, "failure": 0}
        shown = 0
        start = time.monotonic()
        try:
            for n in range(1, args.runs + 1):
                outcome, detail = one_run(script, workdir / f"run{n}", args.timeout)
                tally[outcome] += 1
                if outcome != "ok" and shown < args.show:
                    shown += 1
                    print(f"--- run {n}: {outcome} ---\n{detail}\n---", flush=True)
                print(f"run {n}/{args.runs}: {outcome}", flush=True)
        finally:
            for proc in busy:
                proc.kill()
            for proc in busy:
                proc.wait()
    elapsed = time.monotonic() - start
    print(
        f"{args.runs} runs under --load {args.load} in {elapsed:.0f} s: "
        f"{tally['ok']} ok, {tally['abort']} aborted, {tally['failure']} failed"
    )
    return 0 if tally["ok"] == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
