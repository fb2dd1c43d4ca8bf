"""Hostile-input probe of snippetgen: python benchmarks/probe.py [--quick] [--json] [--seed N].

Not part of the test suite. It throws junk at the real command line (`python -m snippetgen`
from this interpreter's environment) and at real generated training scripts, each in its own
subprocess and process group, with a timeout on every call, and prints one row per channel:

    channel | inputs tried | refused cleanly | tracebacks | hangs | unsafe outputs | data lost | other failures

The exit code is 0 only when the five failure columns (tracebacks to other failures) are all
zero. Inputs are seeded (--seed, default 0) and so are the signal delays; what a delay hits
still depends on the machine's speed, so the signal channels may vary between runs.
`--quick` runs a small sample of every channel (a few minutes on two cores); the default
runs larger counts. `--channels A,B` picks channels, `--cases SUBSTR,...` and `--limit N`
narrow them (used by tests/test_probe_smoke.py). At most two cases run at a time
(`--workers 1|2`); each call gets the timeout of its kind (CLI 20 s, training 90 s; scale
them with --timeout-scale on a slow machine). Temporary folders are removed at the end
(`--keep` keeps them); children that outlive a call are killed by process group.

Every input gets exactly one outcome, the first that applies:

- hang: a call of that input did not finish within its timeout (then its process group is
  killed).
- traceback: "Traceback (most recent call last)" on stderr, an exit code other than
  0, 1, 2, 3 or 130, or death by a signal other than the one the probe sent.
- data lost: something that existed before the call was damaged or removed where it must
  not be: an -o target other than a regular file replaced, a file of a run folder rewritten
  or removed by a refused resume, a complete last.pt that no longer loads after a kill, a
  run that cannot be resumed or restarted afterwards, metrics lines duplicated or
  interleaved, weights of concurrent runs that are not those of a single run.
- unsafe output: something came out that must not: a render accepted a value and its
  program differs beyond string literals (ASTs compared with string constants blanked), a
  payload ran (a marker file appeared), a generated .py/.toml file that does not parse or
  differs in structure from a benign reference, a temporary or half-written file left behind,
  text on stdout from a failing command, a damaged cache entry served (a render that differs
  from a cache-free one), a damaged checkpoint accepted and the resumed model or metrics
  changed, a recovered run that ends different from an uninterrupted one.
- other failure: the channel's contract broken in a way none of the above covers: a
  refusal with other than exactly one line on stderr, a refusal after appending to a file
  of the run, exit 1 or 3 where 2 was due, a built-in render broken by a user recipe, a
  refusal due but the input accepted silently, exit 130 without "interrupted", death by
  the SIGINT it should have handled, litter in the cache.
- refused cleanly: exit 2 with exactly one non-empty line on stderr, nothing on stdout and
  nothing written (for the cache channel: the damage was ignored and the render equals a
  cache-free render; for the signal channels: exit 130 with "interrupted" and no traceback
  after SIGINT, or death after SIGKILL, with every file intact and the run recoverable).
- accepted safely (in --json only): the input was accepted and passed the channel's checks
  (a tame value, a harmless file, a command that finished before the signal).

Channels (quick / full counts per case family are in SIZES):

1. junk-params: every parameter of every recipe gets junk values (a fixed list plus seeded
   random text with control characters, quotes, Jinja, Python, shell, huge numbers and
   non-UTF-8 bytes): refusal expected, or an accepted value whose render has the AST of a
   reference render (str parameters: the default or a tame value, string constants blanked;
   other types: the value written plainly, e.g. " 7" against "7").
2. new-names: hostile folder names (and --package) for `new`: newline, CR, U+2028, quotes,
   triple quotes, '#', non-ASCII, non-UTF-8, very long, payloads that would create a marker
   file. Refused cleanly with nothing left behind, or a project whose .py files have the
   structure of a benign reference project and whose .toml files parse; then the test module
   of every created project is imported (one subprocess) and no marker may appear.
3. answers: hostile answers files for `new --from`: bad TOML, wrong types, NaN, dates,
   injected strings, unknown keys and parameters, a FIFO, a folder, a huge file, a loop.
4. user-recipes: hostile recipes on SNIPPETGEN_PATH (every metadata field broken, a folder
   named recipe.toml, FIFO files, symlinks out of the folder, bad and catastrophic regex
   patterns, deep nesting, sandbox escapes, odd path entries). `render mixup` must still
   succeed with the built-in output, and the hostile recipe must be reported (a warning from
   that render, or `render NAME` refused with one sentence: exit 2, or 3 for a template that
   fails, after any "warning: skipped:" lines); a sandbox escape that renders, a template
   that reads a file outside the recipe folders, or a marker file is an unsafe output.
5. output-targets: `render mixup -o TARGET [--force]` onto a FIFO, dangling and live
   symlinks, a null device (a private device node when run as root, so that no bug can aim
   a write at the real /dev/null; else /dev/null without --force), a folder, a too-long
   name, a parent that is a file: refused cleanly, no temporary file left, the target and
   its folder untouched (a few legal names are only checked for a correct file).
6. render-cache: a populated render cache is damaged (bytes flipped, truncated, two entries
   swapped, replaced by a FIFO, a folder or a huge file; the same for the parsed recipe.toml
   index): the next render must equal a cache-free render.
7. checkpoints: `render train --with checkpoint`, train 2 epochs, flip single bytes of
   last.pt at seeded positions, truncate it, craft checkpoints (pickled code, wrong types,
   bad RNG state) and --pretrained files; `--resume --epochs 3` must refuse with one line and
   leave the run folder untouched, or end exactly as a resume from the intact file.
8. train-signals: SIGKILL and SIGINT at seeded moments of a 4-epoch run with checkpoints
   (from the start, or after the first epoch line): SIGINT must give exit 130 and
   "interrupted"; last.pt and best.pt, where present, must load; resuming (or restarting
   with --overwrite when there is no checkpoint) must end bit-identical to an uninterrupted run.
9. concurrent-runs: 4 runs at once into one --output-dir (fresh, --resume, --overwrite);
   one trial = 4 runs, counted once: exactly one may run, the others must be refused with
   one line, and the folder must hold one run's metrics and weights.
10. cli-ctrl-c: SIGINT to the process group of `render`, `render -o`, `new` and `list` at
   seeded moments: exit 130 and "interrupted" with no traceback (or a finished command), and
   no half-written file or staging folder left behind.
11. data-files: `render train --data image-folder` (small CNN), `--data csv --model mlp` and
   `--data tensors --model mlp`, each run once per hostile data file (`--epochs 1
   --max-batches 2 --batch-size 4`, `--num-workers 0`, a few image cases also 2): CSV files
   (empty, header only, BOM, quoted commas and newlines, NaN/inf/1e400, missing values,
   ragged rows, non-UTF-8, 10^5 columns, one class, bad --target), image folders (zero-byte,
   truncated and fake images, decompression bombs, 16-bit/CMYK/LA/1-bit modes, animated GIF,
   symlink loops, a FIFO named x.png, odd class names, empty or mismatched classes) and
   tensor files (pickled objects, wrong shapes and dtypes, bad labels, odd .npz and .pt
   files), plus seeded cut copies of good files (SIZES "data_random"). Refused cleanly: exit
   2 with one stderr line starting "error: "; accepted safely: exit 0 with a complete
   metrics.jsonl and model.pt. A marker file is an unsafe output, so is a temporary or
   unparseable file in the run folder; a changed data folder is data lost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from probing.checkpoints import channel_checkpoints
from probing.common import COLUMNS, FAILURES, PY, SEVERITY, Tally, kill_leftovers
from probing.context import Probe
from probing.data_files import channel_data_files
from probing.params import channel_junk
from probing.projects import channel_answers, channel_new_names
from probing.signals import channel_cli_ctrl_c, channel_concurrent, channel_train_signals
from probing.targets import channel_cache, channel_output_targets
from probing.user_recipes import channel_user_recipes

CHANNELS: dict[str, Callable[[Probe, Tally], None]] = {
    "junk-params": channel_junk,
    "new-names": channel_new_names,
    "answers": channel_answers,
    "user-recipes": channel_user_recipes,
    "output-targets": channel_output_targets,
    "render-cache": channel_cache,
    "checkpoints": channel_checkpoints,
    "train-signals": channel_train_signals,
    "concurrent-runs": channel_concurrent,
    "cli-ctrl-c": channel_cli_ctrl_c,
    "data-files": channel_data_files,
}


# --- report ------------------------------------------------------------------------------------------


def table(tallies: list[Tally]) -> str:
    lines = [
        "| channel | " + " | ".join(title for title, _ in COLUMNS) + " |",
        "| --- |" + " ---: |" * len(COLUMNS),
    ]
    totals = dict.fromkeys([key for _, key in COLUMNS], 0)
    for t in tallies:
        row = {"tried": t.tried, **t.counts}
        for key in totals:
            totals[key] += row[key]
        lines.append(f"| {t.channel} | " + " | ".join(str(row[key]) for _, key in COLUMNS) + " |")
    lines.append("| **total** | " + " | ".join(f"**{totals[key]}**" for _, key in COLUMNS) + " |")
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts (a few minutes)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--channels",
        type=lambda s: s.split(","),
        default=list(CHANNELS),
        help=f"comma-separated, from: {', '.join(CHANNELS)}",
    )
    parser.add_argument(
        "--cases",
        type=lambda s: s.split(","),
        default=None,
        help="only cases whose label contains one of these (comma-separated)",
    )
    parser.add_argument("--limit", type=int, default=0, help="at most N cases per channel")
    parser.add_argument("--workers", type=int, choices=(1, 2), default=2)
    parser.add_argument(
        "--timeout-scale",
        type=float,
        default=1.0,
        help="multiply every timeout (CLI 20 s, training 90 s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--examples", type=int, default=15, help="failing examples shown per channel"
    )
    parser.add_argument("--verbose", action="store_true", help="one line per case on stderr")
    args = parser.parse_args(argv)
    unknown = [c for c in args.channels if c not in CHANNELS]
    if unknown:
        parser.error(f"unknown channel(s) {', '.join(unknown)}; choose from {', '.join(CHANNELS)}")
    if importlib_missing():
        parser.error(f"snippetgen is not importable by {PY}; run from the project's environment")

    return args


def run_channels(args: argparse.Namespace, root: Path) -> list[Tally] | None:
    """Every chosen channel's tally, in order; None when interrupted (Ctrl-C)."""
    probe = Probe(args, root)
    tallies = []
    try:
        for name in args.channels:
            tally = Tally(name, verbose=args.verbose)
            t0 = time.monotonic()
            CHANNELS[name](probe, tally)
            tally.seconds = time.monotonic() - t0
            tallies.append(tally)
            print(f"probe: {name}: {tally.tried} inputs in {tally.seconds:.0f} s", file=sys.stderr)
    except KeyboardInterrupt:
        print("probe: interrupted", file=sys.stderr)
        return None
    finally:
        kill_leftovers()
        if args.keep:
            print(f"probe: kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return tallies


def print_json(args: argparse.Namespace, tallies: list[Tally], seconds: float, ok: bool) -> None:
    rows = [t.row() for t in tallies]
    totals = {key: sum(r[key] for r in rows) for key in ("tried", *SEVERITY)}
    report = {
        "mode": "quick" if args.quick else "full",
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "channels": rows,
        "totals": totals,
        "ok": ok,
    }
    print(json.dumps(report, indent=2))


def print_table(args: argparse.Namespace, tallies: list[Tally], seconds: float) -> None:
    print(table(tallies))
    for t in tallies:
        if t.examples:
            print(f"\n{t.channel} ({len(t.examples)} failing):", file=sys.stderr)
            for example in t.examples[: args.examples]:
                print(f"  {example}", file=sys.stderr)
    print(
        f"\nprobe: {seconds:.0f} s, seed {args.seed}, {'quick' if args.quick else 'full'} mode",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    started = time.monotonic()
    tallies = run_channels(args, Path(tempfile.mkdtemp(prefix="snippetgen-probe-")))
    if tallies is None:
        return 130
    failures = sum(t.counts[k] for t in tallies for k in FAILURES)
    errors = [e for t in tallies for e in t.probe_errors]
    ok = failures == 0 and not errors
    if args.json:
        print_json(args, tallies, time.monotonic() - started, ok)
    else:
        print_table(args, tallies, time.monotonic() - started)
    for error in errors:
        print(f"probe error (a bug of the probe, not counted): {error}", file=sys.stderr)
    return 0 if ok else 1


def importlib_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("snippetgen") is None


if __name__ == "__main__":
    sys.exit(main())
