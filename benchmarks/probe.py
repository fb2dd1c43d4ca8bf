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
import ast
import contextlib
import itertools
import json
import os
import pickle
import random
import re
import resource
import shutil
import signal
import stat
import string
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import traceback
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PY = sys.executable
CLI = [PY, "-m", "snippetgen"]
TRACEBACK = "Traceback (most recent call last)"
OK_CODES = {0, 1, 2, 3, 130}
MEMORY_LIMIT = 4 << 30  # address space of every child: a runaway allocation fails, not the machine

# outcome names, in the order the first one that applies wins
SEVERITY = ("hang", "traceback", "lost", "unsafe", "other", "refused", "accepted")
FAILURES = ("traceback", "hang", "unsafe", "lost", "other")
COLUMNS = [
    ("inputs tried", "tried"),
    ("refused cleanly", "refused"),
    ("tracebacks", "traceback"),
    ("hangs", "hang"),
    ("unsafe outputs", "unsafe"),
    ("data lost", "lost"),
    ("other failures", "other"),
]

SIZES: dict[str, dict[str, int]] = {
    # junk values per parameter; names per family; cases per family; trials
    "quick": {
        "junk_per_param": 1,
        "new_names": 14,
        "answers": 16,
        "user_recipes": 30,
        "cache": 17,
        "flips": 3,
        "truncations": 1,
        "crafted": 4,
        "pretrained": 3,
        "sigkill": 2,
        "sigint": 2,
        "concurrent": 1,
        "ctrl_c": 3,
        "data_random": 3,
    },
    "full": {
        "junk_per_param": 8,
        "new_names": 1000,
        "answers": 1000,
        "user_recipes": 1000,
        "cache": 1000,
        "flips": 40,
        "truncations": 8,
        "crafted": 1000,
        "pretrained": 1000,
        "sigkill": 15,
        "sigint": 15,
        "concurrent": 6,
        "ctrl_c": 12,
        "data_random": 100,
    },
}

TINY = [
    "--train-size",
    "64",
    "--val-size",
    "32",
    "--batch-size",
    "16",
    "--image-size",
    "8",
    "--device",
    "cpu",
    "--num-workers",
    "0",
    "--seed",
    "0",
]
LONGER = [
    "--train-size",
    "384",
    "--val-size",
    "64",
    "--batch-size",
    "16",
    "--image-size",
    "8",
    "--device",
    "cpu",
    "--num-workers",
    "0",
    "--seed",
    "0",
    "--epochs",
    "4",
]


# --- outcomes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    outcome: str
    why: str = ""


ACCEPTED = Verdict("accepted")
REFUSED = Verdict("refused")


def worst(*verdicts: Verdict | None) -> Verdict:
    found = [v for v in verdicts if v is not None]
    return min(found, key=lambda v: SEVERITY.index(v.outcome)) if found else ACCEPTED


def short(text: Any, limit: int = 110) -> str:
    shown = ascii(text) if not isinstance(text, str) else ascii(text)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


@dataclass
class Tally:
    channel: str
    verbose: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITY, 0))
    examples: list[str] = field(default_factory=list)
    probe_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, label: str, verdict: Verdict) -> None:
        self.counts[verdict.outcome] += 1
        if self.verbose:
            print(
                f"  {self.channel}: {short(label, 60)} -> {verdict.outcome} {verdict.why}",
                file=sys.stderr,
            )
        if verdict.outcome in FAILURES:
            self.examples.append(f"[{verdict.outcome}] {short(label, 70)}: {verdict.why}")

    @property
    def tried(self) -> int:
        return sum(self.counts.values())

    def row(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "tried": self.tried,
            **self.counts,
            "seconds": round(self.seconds, 1),
            "examples": self.examples,
            "probe_errors": self.probe_errors,
        }


# --- running things -----------------------------------------------------------------------------


@dataclass
class Run:
    argv: list[str]
    rc: int | None
    out: bytes
    err: bytes
    timed_out: bool
    wall: float
    sent: int | None = None
    line_at: float | None = None  # seconds from start to the first stdout match of `wait_for`

    @property
    def errtext(self) -> str:
        return self.err.decode("utf-8", "replace")

    @property
    def lines(self) -> list[str]:
        return [line for line in self.errtext.splitlines() if line.strip()]

    @property
    def first_line(self) -> str:
        """The message: the first stderr line, or a traceback's last line and innermost frame."""
        lines = self.lines
        if TRACEBACK not in self.errtext:
            return short(lines[0] if lines else "", 120)
        frames = [m.groups() for m in re.finditer(r'File "([^"]+)", line (\d+)', self.errtext)]
        where = f" (at {Path(frames[-1][0]).name}:{frames[-1][1]})" if frames else ""
        return short(lines[-1], 110 - len(where)) + where


_LIVE: set[int] = set()
_LIVE_LOCK = threading.Lock()


def _exited(pid: int, timeout: float) -> bool:
    """Whether the child exited within `timeout` (left unreaped: its group id stays ours)."""
    deadline = time.monotonic() + max(timeout, 0)
    while True:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None and info.si_pid == pid:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def kill_leftovers() -> None:
    with _LIVE_LOCK:
        for pid in list(_LIVE):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


class Runner:
    def __init__(self, scratch: Path, env: dict[str, str], scale: float) -> None:
        self.scratch = scratch
        self.env = env
        self.cli_timeout = 20 * scale
        self.train_timeout = 90 * scale
        self._count = itertools.count()

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        send: int | None = None,
        delay: float = 0.0,
        wait_for: bytes | None = None,
    ) -> Run:
        """Run `argv` in its own process group with stdout/stderr in files; optionally send
        `send` to the group `delay` seconds after the start (or after `wait_for` first
        appears on stdout). Whatever happens, the whole group is killed before returning."""
        n = next(self._count)
        out_path, err_path = self.scratch / f"{n}.out", self.scratch / f"{n}.err"
        timeout = self.cli_timeout if timeout is None else timeout
        start = time.monotonic()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env or self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        with _LIVE_LOCK:
            _LIVE.add(proc.pid)
        sent = None
        line_at = None
        timed_out = False
        try:
            with contextlib.suppress(OSError):
                resource.prlimit(proc.pid, resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
            done = False
            if wait_for is not None:
                while not done and time.monotonic() - start < timeout:
                    if wait_for in out_path.read_bytes():
                        line_at = time.monotonic() - start
                        break
                    done = _exited(proc.pid, 0.02)
            if send is not None and not done:
                done = _exited(proc.pid, delay)
                if not done:
                    with contextlib.suppress(OSError):
                        os.killpg(proc.pid, send)
                    sent = send
            remaining = timeout - (time.monotonic() - start)
            timed_out = not _exited(proc.pid, remaining)
        finally:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group: children that outlived it
            proc.wait()
            with _LIVE_LOCK:
                _LIVE.discard(proc.pid)
        run = Run(
            list(argv),
            None if timed_out else proc.returncode,
            out_path.read_bytes(),
            err_path.read_bytes(),
            timed_out,
            time.monotonic() - start,
            sent,
            line_at,
        )
        out_path.unlink()
        err_path.unlink()
        return run


def crash(run: Run) -> Verdict | None:
    """Hang or traceback, by the definitions above; None when neither."""
    if run.timed_out:
        return Verdict("hang", f"no exit after {run.wall:.0f} s")
    if TRACEBACK in run.errtext:
        return Verdict("traceback", run.first_line)
    assert run.rc is not None
    if run.rc < 0 and -run.rc != run.sent:
        return Verdict("traceback", f"killed by signal {-run.rc}")
    if run.rc >= 0 and run.rc not in OK_CODES:
        return Verdict("traceback", f"exit {run.rc}: {run.first_line}")
    return None


def refusal(run: Run) -> Verdict | None:
    """The verdict of a failing call (None when it succeeded: the caller judges that)."""
    found = crash(run)
    if found is not None:
        return found
    if run.rc == 0:
        return None
    lines = run.lines
    if run.rc == 2 and len(lines) == 1 and not run.out.strip():
        return REFUSED
    if run.out.strip() and run.rc != 130:
        return Verdict("unsafe", f"exit {run.rc} but {len(run.out)} bytes on stdout")
    return Verdict("other", f"exit {run.rc} with {len(lines)} stderr lines: {run.first_line}")


# --- file snapshots, ASTs -------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below `folder` (not following links): type, size and contents, or link target
    (times are left out: rewriting a file with the same bytes loses nothing)."""
    out: dict[str, tuple[Any, ...]] = {}
    if not folder.exists():
        return out
    for path in sorted(folder.rglob("*")):
        if path.name == ".lock":  # the run lock: each run rewrites it with its pid
            continue
        st = path.lstat()
        rel = str(path.relative_to(folder))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", str(path.readlink()))
        elif stat.S_ISREG(st.st_mode):
            out[rel] = ("file", st.st_size, path.read_bytes() if st.st_size < 1 << 24 else b"")
        else:
            out[rel] = (stat.S_IFMT(st.st_mode), st.st_mode)
    return out


def appended(old: tuple[Any, ...], new: tuple[Any, ...] | None) -> bool:
    """Whether a snapshot entry only grew (a file whose old bytes are a prefix of its new)."""
    return (
        new is not None
        and old[0] == new[0] == "file"
        and isinstance(new[2], bytes)
        and new[2].startswith(old[2])
    )


def diff(
    before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]
) -> tuple[list[str], list[str]]:
    """(entries changed or removed, entries added)."""
    changed = [k for k in before if after.get(k) != before[k]]
    added = [k for k in after if k not in before]
    return changed, added


class _Blank(ast.NodeTransformer):
    def __init__(self, everything: bool, package: str | None) -> None:
        self.everything = everything
        self.package = package

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str) or (self.everything and node.value is not None):
            return ast.Constant(type(node.value).__name__)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        if self.package and node.module and node.module.split(".")[0] == self.package:
            node.module = "PKG" + node.module[len(self.package) :]
        return node


def structure(
    code: str | bytes, *, everything: bool = False, package: str | None = None
) -> str | None:
    """The AST with string constants (or every constant) blanked; None if it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    return ast.dump(_Blank(everything, package).visit(tree))


def str_constants(code: str | bytes) -> set[str]:
    return {
        n.value
        for n in ast.walk(ast.parse(code))
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def markers(root: Path) -> list[Path]:
    return [p for p in root.rglob("PWNED*")]


def payload(tag: str) -> str:
    """Python that creates the marker file PWNED-<tag> in the working folder if it ever runs;
    without quotes or spaces, so that no quoting on the way can defuse it."""
    code = ",".join(str(b) for b in f"PWNED-{tag}".encode())
    return f"open(bytes(({code})).decode(),chr(119))"


# --- the probe context --------------------------------------------------------------------------


class Probe:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.sizes = SIZES["quick" if args.quick else "full"]
        scratch = root / "io"
        scratch.mkdir()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SNIPPETGEN_") and k not in ("NO_COLOR", "FORCE_COLOR")
        }
        env.update(
            XDG_CACHE_HOME=str(root / "xdg"),
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONHASHSEED="0",
            COLUMNS="100",
        )
        self.env = env
        self.runner = Runner(scratch, env, args.timeout_scale)
        self._memo: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._memo_lock = threading.Lock()
        self._dirs = itertools.count()

    # helpers
    def rng(self, channel: str) -> random.Random:
        return random.Random(f"{self.args.seed}:{channel}")

    def fresh(self, name: str) -> Path:
        path = self.root / "cases" / f"{next(self._dirs)}-{name}"
        path.mkdir(parents=True)
        return path

    def env_with(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}

    def cli(self, args: Sequence[str], cwd: Path | None = None, **kw: Any) -> Run:
        return self.runner.run([*CLI, *args], cwd=cwd or self.root, **kw)

    def script(self, script: Path, args: Sequence[str], cwd: Path, **kw: Any) -> Run:
        kw.setdefault("timeout", self.runner.train_timeout)
        return self.runner.run([PY, str(script), *args], cwd=cwd, **kw)

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """Compute a shared reference once (thread-safe, per key)."""
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._memo_lock:
                if key in self._memo:
                    return self._memo[key]
            value = make()
            with self._memo_lock:
                self._memo[key] = value
            return value

    def select(self, cases: list[Any], count: int | None = None) -> list[Any]:
        """The first `count` cases (then --cases and --limit); each case is (label, ...)."""
        chosen = cases[:count] if count is not None else list(cases)
        if self.args.cases:
            chosen = [c for c in chosen if any(s in c[0] for s in self.args.cases)]
        if self.args.limit:
            chosen = chosen[: self.args.limit]
        return chosen

    def map(
        self,
        tally: Tally,
        fn: Callable[..., Verdict],
        cases: list[Any],
        workers: int | None = None,
        add: bool = True,
    ) -> dict[str, Verdict]:
        """Run fn(*case) for every case, at most --workers at a time; add the verdicts to
        `tally` (unless add=False) and return them by label."""
        results: dict[str, Verdict] = {}

        def one(case: Any) -> tuple[str, Verdict | None, str | None]:
            try:
                return case[0], fn(*case), None
            except Exception:  # a bug of the probe itself: reported apart, never as the project's
                return case[0], None, traceback.format_exc(limit=4)

        with ThreadPoolExecutor(max_workers=workers or self.args.workers) as pool:
            for label, verdict, error in pool.map(one, cases):
                if verdict is not None:
                    results[label] = verdict
                    if add:
                        tally.add(label, verdict)
                else:
                    tally.probe_errors.append(f"{short(label, 60)}: {error}")
                    print(f"  {tally.channel}: {short(label, 60)} -> PROBE ERROR", file=sys.stderr)
        return results

    # shared references
    def catalog(self) -> list[dict[str, Any]]:
        def make() -> list[dict[str, Any]]:
            run = self.cli(["list", "--json"])
            if run.rc != 0:
                raise SystemExit(f"snippetgen list --json failed: {run.errtext[-400:]}")
            return json.loads(run.out)

        return self.memo("catalog", make)

    def render_ref(self, recipe: str, params: tuple[str, ...] = (), cache: bool = True) -> Run:
        """A reference render (cache-free when cache=False)."""
        env = None if cache else self.env_with(SNIPPETGEN_NO_CACHE="1")
        return self.memo(
            ("render", recipe, params, cache),
            lambda: self.cli(["render", recipe, *params], env=env),
        )

    def ckpt_script(self) -> Path:
        def make() -> Path:
            folder = self.root / "ckpt-script"
            folder.mkdir()
            path = folder / "train_ckpt.py"
            run = self.cli(["render", "train", "--with", "checkpoint", "-o", str(path)])
            if run.rc != 0:
                raise SystemExit(f"cannot render train --with checkpoint: {run.errtext[-400:]}")
            return path

        return self.memo("ckpt-script", make)

    def reference_run(
        self, name: str, args: Sequence[str], base: str | None = None, wait_for: bytes | None = None
    ) -> tuple[Path, Run]:
        """A completed run in its own folder (optionally continuing a copy of another)."""

        def make() -> tuple[Path, Run]:
            folder = self.root / "refs" / name
            folder.parent.mkdir(exist_ok=True)
            if base is not None:
                shutil.copytree(self.reference_run(base, ())[0], folder)
            run = self.script(
                self.ckpt_script(),
                [*args, "--output-dir", str(folder)],
                folder.parent,
                wait_for=wait_for,
            )
            if run.rc != 0:
                raise SystemExit(f"reference training run {name} failed: {run.errtext[-600:]}")
            return folder, run

        return self.memo(("ref-run", name), make)


# --- checks of run folders ------------------------------------------------------------------------


def _torch() -> Any:
    import torch

    torch.set_num_threads(1)
    return torch


def load_pt(path: Path) -> Any:
    return _torch().load(path, map_location="cpu", weights_only=True)


def same_state(a: Path, b: Path) -> bool:
    torch = _torch()
    try:
        x, y = load_pt(a), load_pt(b)
    except Exception:
        return False
    return (
        isinstance(x, dict)
        and isinstance(y, dict)
        and x.keys() == y.keys()
        and all(torch.is_tensor(x[k]) and torch.equal(x[k], y[k]) for k in x)
    )


def metrics(folder: Path) -> list[dict[str, Any]] | None:
    """The records of metrics.jsonl; None when a line does not parse."""
    try:
        lines = (folder / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint file present after an interruption does not load as one, or None."""
    try:
        ck = load_pt(path)
    except Exception as exc:
        return f"{path.name} does not load ({type(exc).__name__}: {short(str(exc), 60)})"
    if not isinstance(ck, dict) or not {"model", "optimizer", "epoch"} <= ck.keys():
        return f"{path.name} lacks model/optimizer/epoch"
    return None


def run_matches(folder: Path, reference: Path, what: str = "the uninterrupted run") -> str | None:
    """Why a finished run folder differs from the reference run, or None."""
    got, want = metrics(folder), metrics(reference) or []
    if got is None:
        return "metrics.jsonl has a line that is not JSON"
    if [r.get("epoch") for r in got] != [r["epoch"] for r in want]:
        return f"metrics epochs {[r.get('epoch') for r in got]} instead of {[r['epoch'] for r in want]}"
    if got != want:
        return f"metrics differ from {what}'s"
    if not (folder / "model.pt").exists():
        return "no model.pt"
    if not same_state(folder / "model.pt", reference / "model.pt"):
        return f"model.pt differs from {what}'s"
    return None


# --- 1. junk parameter values ------------------------------------------------------------------

JUNK = [
    "",
    " ",
    "\t",
    "   \n ",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "1e308",
    "1e-400",
    "9" * 30,
    "-" + "9" * 25,
    "9" * 400,
    "1" * 5000,
    "x" * 5000,
    "١٢",
    "٣.٥",
    "１２",
    "1\u200b",
    "\u202e1",
    "'",
    '"',
    "'''",
    '"""',
    "'; import os; '",
    '"); __import__("os").system("id"); ("',
    "\\",
    "\\n",
    "a\nb",
    "\n",
    "\r\n",
    "1\r",
    "\x01",
    "\x1b[31m",
    "\u2028",
    "\u2029",
    "\x85",
    "\udcff\udcfe",
    "{{ 7*7 }}",
    "{% raw %}",
    "{#",
    "{{ ''.__class__.__mro__ }}",
    "__import__('os')",
    "eval('1')",
    "lambda: 0",
    "[1, 2]",
    "(1)",
    "1 + 1",
    "1/2",
    "$(rm -rf /)",
    "`id`",
    "; rm -rf ~",
    "| cat /etc/passwd",
    "../../etc/passwd",
    "0x10",
    "0b11",
    "1_000",
    "1e",
    ".",
    "+",
    "1,",
    ",1",
    "1,,2",
    "🙂",
    "true false",
    "None",
    "null",
    "[]",
    "{}",
    "--help",
    "-o",
    "--force",
    "=",
    "-1",
    "+1",
    " 1 ",
    "01",
    "1.0",
    "0.5e1",
    "-0",
    "all\n",
    "a.b-c",
    "x#y",
    "\\N{BULLET}",
    "%(prog)s",
    "%s",
]
_POOLS = [
    string.ascii_letters,
    string.digits,
    string.punctuation,
    " \t",
    "".join(map(chr, range(1, 32))) + "\x7f",
    "éß中文ÿ",
    "\u2028\u2029\u200b\u202e\ufeff\x85",
    "🙂",
    "١٢３",
    "\udcff\udc80",
]
_TOKENS = [
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "'''",
    '"""',
    "\\",
    "\n",
    "\r\n",
    "__import__('os')",
    "$(id)",
    "`id`",
    "; rm -rf ~",
    "#",
    "\\N{BULLET}",
    "1e",
    "nan",
    "inf",
    "9" * 25,
    "-",
    "0x",
    "_",
    ",",
    ".",
    "=",
    "--",
    "0",
    "1",
    "all",
]


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.35:
            parts.append(rng.choice(_TOKENS))
        else:
            pool = rng.choice(_POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
    return "".join(parts)


def value_args(name: str, value: str) -> list[str]:
    return [f"--{name}={value}"] if value.startswith("-") else [f"--{name}", value]


def canonical(param: dict[str, Any], text: str) -> str | None:
    """The plain spelling of an accepted non-str value (" 7" -> "7"), or None if none is."""
    kind = param["type"]
    t = text.strip()
    try:
        if kind == "int" and re.fullmatch(r"[+-]?[0-9]+", t):
            return str(int(t))
        if kind == "float" and re.fullmatch(
            r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", t
        ):
            return repr(float(t))
        if kind == "bool" and t.lower() in {"true", "yes", "on", "1", "false", "no", "off", "0"}:
            return "true" if t.lower() in {"true", "yes", "on", "1"} else "false"
        if kind == "choice" and text in param.get("choices", []):
            return text
        if kind in ("int_list", "float_list"):
            parts = [canonical({"type": kind[:-5]}, p) for p in text.split(",")]
            return None if None in parts else ",".join(p for p in parts if p is not None)
    except (ValueError, OverflowError):
        return None
    return None


def channel_junk(p: Probe, tally: Tally) -> None:
    rng = p.rng("junk")
    pool = list(JUNK)
    rng.shuffle(pool)
    listed = itertools.cycle(pool)
    per = p.sizes["junk_per_param"]
    cases: list[tuple[str, str, dict[str, Any], str]] = []
    for recipe in p.catalog():
        for param in recipe["params"]:
            for i in range(per):
                value = next(listed) if (len(cases) + i) % 2 == 0 else random_text(rng)
                cases.append(
                    (f"{recipe['name']} --{param['name']} {value!r}", recipe["name"], param, value)
                )

    def tame(recipe: str, param: dict[str, Any]) -> set[str | None]:
        def make() -> set[str | None]:
            shapes = {structure(p.render_ref(recipe).out)}
            for candidate in ("x", "0", "a1", "abc", "model_x"):
                if candidate == param["default"]:
                    continue
                run = p.render_ref(recipe, (f"--{param['name']}", candidate))
                if run.rc == 0:
                    shapes.add(structure(run.out))
                    break
            return shapes

        return p.memo(("tame", recipe, param["name"]), make)

    def case(label: str, recipe: str, param: dict[str, Any], value: str) -> Verdict:
        run = p.cli(["render", recipe, *value_args(param["name"], value)])
        found = refusal(run)
        if found is not None:
            return found
        shape = structure(run.out)
        if shape is None:
            return Verdict("unsafe", "accepted, and the output is not valid Python")
        if param["type"] == "str":
            if shape not in tame(recipe, param):
                return Verdict("unsafe", "accepted, and the program changed beyond string literals")
            if value not in str_constants(run.out):
                return Verdict(
                    "other", "accepted, but the value is not in the code as a string literal"
                )
            return ACCEPTED
        plain = canonical(param, value)
        if plain is None:
            return Verdict("other", f"accepted {value!r}, which is no plain {param['type']}")
        ref = p.render_ref(recipe, (f"--{param['name']}={plain}",))
        if ref.rc != 0 or structure(ref.out) != shape:
            return Verdict(
                "unsafe", f"accepted, and the program differs from the one for {plain!r}"
            )
        return ACCEPTED

    p.map(tally, case, p.select(cases))


# --- 2. hostile folder names for `new` and 3. answers files ------------------------------------


IMPORT_CHECK = r"""
import importlib.util, json, sys
for folder, package in json.loads(sys.argv[1]):
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location("probe_test_project", folder + "/tests/test_project.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(json.dumps([folder, "ok"]), flush=True)
    except BaseException as exc:
        print(json.dumps([folder, f"{type(exc).__name__}: {exc}"[:200]]), flush=True)
    finally:
        sys.path.remove(folder)
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
"""


def project_shapes(folder: Path, package: str, everything: bool = False) -> dict[str, str | None]:
    shapes = {}
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder).as_posix()
        for prefix in ("", ".snippetgen/pristine/"):  # the package, and `update`'s copy of it
            if rel.startswith(prefix + package + "/"):
                rel = prefix + "PKG" + rel[len(prefix + package) :]
        shapes[rel] = structure(path.read_bytes(), everything=everything, package=package)
    return shapes


def reference_project(
    p: Probe, with_: tuple[str, ...]
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The .py structures of `new proj [--with ...]`: (strings blanked, every constant blanked)."""

    def make() -> tuple[dict[str, str | None], dict[str, str | None]]:
        cwd = p.fresh("ref-project")
        run = p.cli(
            ["new", "proj", *[w for r in with_ for w in ("--with", r)]],
            cwd=cwd,
            timeout=p.runner.cli_timeout * 2,
        )
        if run.rc != 0:
            raise SystemExit(f"snippetgen new proj failed: {run.errtext[-400:]}")
        return project_shapes(cwd / "proj", "proj"), project_shapes(cwd / "proj", "proj", True)

    return p.memo(("ref-project", with_), make)


def check_project(p: Probe, folder: Path, everything: bool) -> tuple[Verdict | None, str | None]:
    """Parse every .toml, compare every .py with the reference project; (verdict, package)."""
    try:
        answers = tomllib.loads((folder / ".snippetgen.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Verdict(
            "unsafe", f"its .snippetgen.toml does not parse ({short(str(exc), 60)})"
        ), None
    for toml_file in folder.rglob("*.toml"):
        try:
            tomllib.loads(toml_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return Verdict(
                "unsafe", f"{toml_file.name} does not parse ({short(str(exc), 60)})"
            ), None
    package = answers.get("package")
    recipes = answers.get("recipes", [])
    if not isinstance(package, str) or not package.isidentifier():
        return Verdict("unsafe", f"package {package!r} in .snippetgen.toml"), None
    ref = reference_project(p, tuple(recipes))[1 if everything else 0]
    got = project_shapes(folder, package, everything)
    if got.keys() != ref.keys():
        extra = sorted(set(got) ^ set(ref))
        return Verdict(
            "unsafe", f"project files differ from the reference: {short(extra, 80)}"
        ), package
    for rel, shape in got.items():
        if shape is None:
            return Verdict("unsafe", f"{rel} does not parse"), package
        if shape != ref[rel]:
            return Verdict(
                "unsafe", f"{rel} differs in structure from the reference project"
            ), package
    return None, package


def import_projects(
    p: Probe, projects: dict[str, tuple[Path, str]], tally_cwd: Path
) -> dict[str, str]:
    """Import tests/test_project.py of every project in one interpreter; label -> problem."""
    if not projects:
        return {}
    items = [[str(folder), package] for folder, package in projects.values()]
    run = p.runner.run(
        [PY, "-c", IMPORT_CHECK, json.dumps(items)],
        cwd=tally_cwd,
        timeout=p.runner.train_timeout + 5 * len(items),
    )
    by_folder = {str(folder): label for label, (folder, _) in projects.items()}
    problems = {}
    seen = set()
    for line in run.out.decode(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            folder, status = json.loads(line)
            seen.add(folder)
            if status != "ok":
                problems[by_folder[folder]] = (
                    f"its test module does not import ({short(status, 80)})"
                )
    for folder, label in by_folder.items():
        if folder not in seen:
            problems[label] = "hang" if run.timed_out else "the import check died before it"
    return problems


def marker_verdicts(root: Path, tags: dict[str, str]) -> dict[str, Verdict]:
    """Label -> verdict for every marker file below `root` (tags: marker tag -> case label)."""
    found = {}
    for marker in markers(root):
        label = tags.get(marker.name.removeprefix("PWNED-"), marker.name)
        found[label] = Verdict("unsafe", f"payload ran: {marker.name} appeared")
    return found


NEW_NAMES = [  # the first ones are what --quick runs
    ("newline-payload", "x\n{P}\n#"),
    ("cr-payload", "x\r{P}\r#"),
    ("u2028-payload", "x\u2028{P}\u2028#"),
    ("formfeed-payload", "x\x0c{P}\x0c#"),
    ("nel-payload", "x\x85{P}\x85#"),
    ("triple-dquote-payload", 'x"""\n{P}\n"""'),
    ("shell", "x$(touch PWNED-{T})"),
    ("backtick", "x`touch PWNED-{T}`"),
    ("non-utf8", "p\udcff\udcfe"),
    ("long-300", "a" * 300),
    ("dot", "."),
    ("dash-option", "-rf"),
    ("package-payload", "--package\0x\n{P}"),
    ("quote", "x'y"),
    ("newline", "a\nb"),
    ("triple-squote-payload", "x'''\n{P}\n'''"),
    ("dquote", 'x"y'),
    ("hash", "x#y"),
    ("backslash", "x\\y"),
    ("long-200", "a" * 200),
    ("non-ascii", "é项目"),
    ("jinja", "x{{ 7*7 }}{% raw %}"),
    ("stdlib", "os"),
    ("digits", "123"),
    ("dash-after-sep", "--/-rf"),
    ("space", " lead and trail "),
    ("tab", "a\tb"),
    ("ansi", "x\x1b[2Jy"),
    ("package-payload-semicolon", "--package\0x;{P}"),
    ("package-keyword", "--package\0class"),
    ("package-dunder", "--package\0__init__"),
]


def channel_new_names(p: Probe, tally: Tally) -> None:
    tags = {f"n{i}": label for i, (label, _) in enumerate(NEW_NAMES)}
    cases = p.select(
        [(label, tag, name) for tag, (label, name) in zip(tags, NEW_NAMES, strict=True)],
        p.sizes["new_names"],
    )
    projects: dict[str, tuple[Path, str]] = {}
    lock = threading.Lock()

    def case(label: str, tag: str, name: str) -> Verdict:
        cwd = p.fresh("new")
        name = name.replace("{P}", payload(tag)).replace("{T}", tag)
        if name.startswith("--package\0"):
            argv, target = ["new", "proj", "--package", name.split("\0", 1)[1]], "proj"
        elif name.startswith("--/"):
            argv, target = ["new", "--", name[3:]], name[3:]
        else:
            argv, target = ["new", name], name
        run = p.cli(argv, cwd=cwd, timeout=p.runner.cli_timeout * 2)
        found = refusal(run)
        if found is not None:
            left = [e.name for e in cwd.iterdir()]
            if found.outcome == "refused" and left:
                return Verdict("unsafe", f"refused but left {short(left, 60)}")
            return found
        folder = (cwd / target).resolve()
        if not folder.is_dir():
            return Verdict("other", f"exit 0 but no folder {target!r}")
        extra = [e.name for e in cwd.iterdir() if e.resolve() != folder and folder != cwd.resolve()]
        if extra:
            return Verdict("unsafe", f"left beside the project: {short(extra, 60)}")
        verdict, package = check_project(p, folder, everything=False)
        if package is not None:
            with lock:
                projects[label] = (folder, package)
        return verdict or ACCEPTED

    verdicts = p.map(tally, case, cases, add=False)
    problems = import_projects(p, projects, p.fresh("import-cwd"))
    marks = marker_verdicts(p.root, tags)
    for label, *_ in cases:
        if label not in verdicts:
            continue
        late = Verdict("other", problems[label]) if label in problems else None
        if late is not None and late.why == "hang":
            late = Verdict("hang", "importing its test module did not finish")
        tally.add(label, worst(marks.get(label), verdicts[label], late))


def _answers(text: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "answers.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return make


def _answers_bytes(data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "answers.toml"
        path.write_bytes(data)
        return path

    return make


def _fifo(folder: Path) -> Path:
    path = folder / "answers.toml"
    os.mkfifo(path)
    return path


def _folder(folder: Path) -> Path:
    path = folder / "answers.toml"
    path.mkdir()
    return path


def _loop(folder: Path) -> Path:
    path = folder / "answers.toml"
    path.symlink_to("answers.toml")
    return path


def _huge(folder: Path) -> Path:
    path = folder / "answers.toml"
    with path.open("w") as handle:
        handle.write("recipes = []\n# " + "x" * (48 << 20) + "\n")
    return path


ANSWERS: list[tuple[str, Callable[[Path], Path]]] = [
    ("bad-toml-open", _answers("recipes = [\n")),
    ("bad-toml-eq", _answers("= 1\n")),
    ("bad-toml-dupkey", _answers("[params]\nepochs = 5\nepochs = 6\n")),
    ("not-utf8", _answers_bytes(b'package = "\xff\xfe"\n')),
    ("nul-byte", _answers_bytes(b'package = "a\x00b"\n')),
    ("bom", _answers_bytes(b"\xef\xbb\xbfrecipes = []\n")),
    ("recipes-str", _answers('recipes = "mixup"\n')),
    ("recipes-ints", _answers("recipes = [1, 2]\n")),
    ("params-int", _answers("params = 5\n")),
    ("package-int", _answers("package = 7\n")),
    ("version-float", _answers("snippetgen_version = 1.0\n")),
    ("unknown-key", _answers("evil = 1\n")),
    ("epochs-bool", _answers("[params]\nepochs = true\n")),
    ("epochs-float", _answers("[params]\nepochs = 5.5\n")),
    ("epochs-i64", _answers("[params]\nepochs = 9223372036854775807\n")),
    ("epochs-str-payload", _answers(f'[params]\nepochs = "5\\n{payload("epochs-str-payload")}"\n')),
    ("lr-nan", _answers("[params]\nlr = nan\n")),
    ("lr-inf", _answers("[params]\nlr = -inf\n")),
    ("lr-datetime", _answers("[params]\nlr = 1979-05-27T07:32:00Z\n")),
    ("lr-time", _answers("[params]\nlr = 07:32:00\n")),
    ("epochs-list", _answers("[params]\nepochs = [1, 2]\n")),
    ("epochs-table", _answers("[params]\nepochs = { a = 1 }\n")),
    ("param-unknown", _answers("[params]\nnope = 1\n")),
    ("param-payload-name", _answers(f'[params]\n"x\\n{payload("param-payload-name")}" = 1\n')),
    (
        "optimizer-payload",
        _answers(f'[params]\noptimizer = "sgd\\n{payload("optimizer-payload")}"\n'),
    ),
    ("milestones-junk", _answers('recipes = ["lr-schedule"]\n[params]\nmilestones = [0, -1]\n')),
    ("package-payload", _answers(f'package = "x\\n{payload("package-payload")}"\n')),
    ("package-os", _answers('package = "os"\n')),
    ("package-dotted", _answers('package = "a.b"\n')),
    ("package-unicode", _answers('package = "é"\n')),
    ("package-empty", _answers('package = ""\n')),
    ("recipes-path", _answers('recipes = ["../../etc/passwd"]\n')),
    ("recipes-newline", _answers('recipes = ["mixup\\n"]\n')),
    ("recipes-snippet", _answers('recipes = ["one-hot"]\n')),
    ("recipes-dup", _answers('recipes = ["mixup", "mixup"]\n')),
    ("version-payload", _answers(f'snippetgen_version = "0\\n{payload("version-payload")}"\n')),
    ("deep-arrays", _answers("recipes = " + "[" * 3000 + "]" * 3000 + "\n")),
    ("deep-tables", _answers("[params]\nepochs = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n")),
    ("fifo", _fifo),
    ("folder", _folder),
    ("symlink-loop", _loop),
    ("dev-null", lambda folder: Path("/dev/null")),
    ("missing", lambda folder: folder / "nope.toml"),
    ("huge-48MB", _huge),
]


def channel_answers(p: Probe, tally: Tally) -> None:
    # the first cases of the list are spread over the families for --quick
    order = ANSWERS[::3] + ANSWERS[1::3] + ANSWERS[2::3]
    cases = p.select(order, p.sizes["answers"])
    projects: dict[str, tuple[Path, str]] = {}
    lock = threading.Lock()

    def case(label: str, make: Callable[[Path], Path]) -> Verdict:
        cwd = p.fresh("answers")
        source = make(cwd)
        before = snapshot(cwd)
        run = p.cli(
            ["new", "--from", str(source), "proj"], cwd=cwd, timeout=p.runner.cli_timeout * 2
        )
        found = refusal(run)
        if found is not None:
            changed, added = diff(before, snapshot(cwd))
            if found.outcome == "refused" and (changed or added):
                return Verdict("unsafe", f"refused but changed {short(changed + added, 60)}")
            return found
        verdict, package = check_project(p, cwd / "proj", everything=True)
        if package is not None:
            with lock:
                projects[label] = (cwd / "proj", package)
        return verdict or ACCEPTED

    verdicts = p.map(tally, case, cases, add=False)
    problems = import_projects(p, projects, p.fresh("import-cwd"))
    marks = marker_verdicts(p.root, {label: label for label, _ in cases})
    for label, _ in cases:
        if label in verdicts:
            late = Verdict("other", problems[label]) if label in problems else None
            tally.add(label, worst(marks.get(label), verdicts[label], late))


# --- 4. hostile user recipes ---------------------------------------------------------------------

MACRO = "{% macro loss() %}\nloss = loss * 1.0\n{% endmacro %}\n"
SNIPPET_BODY = (
    '"""A probe snippet."""\n\n\ndef main():\n    print({EXPR})\n\n\n'
    'if __name__ == "__main__":\n    main()\n'
)


def meta(name: str, kind: str = "feature", /, blocks: str = "", **raw: str | None) -> str:
    """recipe.toml text; `raw` values are TOML source that replace a key's (None drops it);
    `blocks` ([[params]] tables) go at the end."""
    fields: dict[str, str | None] = {
        "name": f'"{name}"',
        "kind": f'"{kind}"',
        "title": '"Evil"',
        "summary": '"A hostile recipe."',
        "tags": '["probe"]',
    }
    if kind == "feature":
        fields["essential"] = '["loss"]'
    fields.update(raw)
    lines = [f"{key} = {value}" for key, value in fields.items() if value is not None]
    return "\n".join(lines) + "\n" + blocks


def param(**raw: str) -> str:
    base = {"name": '"x"', "type": '"int"', "default": "1", "help": '"a probe parameter"'}
    base.update(raw)
    return "\n[[params]]\n" + "\n".join(f"{k} = {v}" for k, v in base.items()) + "\n"


@dataclass
class Hostile:
    label: str
    files: dict[str, str | bytes | Callable[[Path], object]]  # relative path -> contents or maker
    render: list[str] | None  # the `render NAME ...` words, or None
    expect: str = "refuse"  # refuse | either
    path_value: Callable[[Path], str] | None = None  # SNIPPETGEN_PATH from the folder
    secret: bool = False  # the render must not contain the outside file's contents


def _snip(
    name: str, expr: str, blocks: str = ""
) -> dict[str, str | bytes | Callable[[Path], object]]:
    return {
        f"{name}/recipe.toml": meta(name, "snippet", blocks=blocks),
        f"{name}/snippet.py.j2": SNIPPET_BODY.replace("{EXPR}", expr),
    }


def _feat(
    name: str, toml: str | bytes, template: str | bytes = MACRO
) -> dict[str, str | bytes | Callable[[Path], object]]:
    return {f"{name}/recipe.toml": toml, f"{name}/feature.py.j2": template}


def _mkfifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink(target: str) -> Callable[[Path], object]:
    return lambda path: path.symlink_to(target)


def _sparse(size: int) -> Callable[[Path], object]:
    def make(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(size)

    return make


def hostile_recipes() -> list[Hostile]:
    h: list[Hostile] = []
    # broken metadata, one field at a time
    broken_meta = {
        "toml-syntax": "name = \n",
        "name-int": meta("m", name="5"),
        "name-case": meta("m", name='"Bad_Name"'),
        "name-newline": meta("m", name='"m\\nx"'),
        "kind": meta("m", kind='"weird"'),
        "title-missing": meta("m", title=None),
        "summary-list": meta("m", summary='["x"]'),
        "tags-str": meta("m", tags='"x"'),
        "aliases-int": meta("m", aliases="[1]"),
        "unknown-key": meta("m", evil="1"),
        "params-int": meta("m", params="5"),
        "param-type": meta("m", blocks=param(type='"evil"')),
        "param-unknown-key": meta("m", blocks=param(evil="1")),
        "param-reserved": meta("m", blocks=param(name='"with"')),
        "param-script-flag": meta("m", blocks=param(name='"output-dir"')),
        "param-duplicate": meta("m", blocks=param() + param()),
        "param-choices-empty": meta(
            "m", blocks=param(type='"choice"', default='"a"', choices="[]")
        ),
        "param-min-str": meta("m", blocks=param(min='"a"')),
        "param-min-nan": meta("m", blocks=param(min="nan")),
        "param-default-range": meta("m", blocks=param(min="5")),
        "param-default-type": meta("m", blocks=param(default='"x"')),
        "param-max-length-str": meta(
            "m", blocks=param(type='"str"', default='"a"', max_length='"x"')
        ),
        "param-max-length-neg": meta(
            "m", blocks=param(type='"str"', default='"a"', max_length="-1")
        ),
        "param-exclusive-str": meta("m", blocks=param(min="0", min_exclusive='"false"')),
        "param-pattern-invalid": meta(
            "m", blocks=param(type='"str"', default='"a"', pattern='"("')
        ),
        "param-pattern-type": meta("m", blocks=param(type='"str"', default='"a"', pattern="5")),
        "requires-int": meta("m", requires="[1]"),
        "conflicts-str": meta("m", conflicts='"x"'),
        "conflicts-int": meta("m", conflicts="[{recipe = 1}]"),
        "related-int": meta("m", related="5"),
        "docs-int": meta("m", docs="1"),
        "docs-when-int": meta("m", docs="{when = 5}"),
        "order-str": meta("m", order='"x"'),
        "order-float": meta("m", order="inf"),
        "defaults-int": meta("m", defaults="1"),
        "essential-unknown": meta("m", essential='["nope"]'),
        "macro-not-slot": meta("m"),
    }
    for i, (label, toml) in enumerate(broken_meta.items()):
        name = f"evil-meta-{i}"
        template = (
            "{% macro evil() %}\nx = 1\n{% endmacro %}\n" if label == "macro-not-slot" else MACRO
        )
        h.append(
            Hostile(
                f"meta:{label}",
                _feat(name, toml.replace('"m"', f'"{name}"', 1), template),
                ["render", name],
            )
        )
    h += [
        Hostile(
            "file:catastrophic-default",
            _feat(
                "evil-redos",
                meta(
                    "evil-redos",
                    blocks=param(type='"str"', pattern='"(a+)+$"', default='"' + "a" * 40 + '!"'),
                ),
            ),
            ["render", "evil-redos"],
        ),
        Hostile(
            "file:catastrophic-value",
            _snip(
                "evil-redos-v",
                "{{ p.x }}",
                blocks=param(type='"str"', pattern='"(a+)+$"', default='"a"'),
            ),
            ["render", "evil-redos-v", "--x", "a" * 40 + "!"],
        ),
        Hostile(
            "file:recipe.toml-is-folder",
            {"evil-dir/recipe.toml/x": "", "evil-dir/feature.py.j2": MACRO},
            ["render", "evil-dir"],
        ),
        Hostile(
            "file:recipe.toml-fifo",
            {"evil-fifo/recipe.toml": _mkfifo, "evil-fifo/feature.py.j2": MACRO},
            ["render", "evil-fifo"],
        ),
        Hostile(
            "file:template-fifo",
            {"evil-tfifo/recipe.toml": meta("evil-tfifo"), "evil-tfifo/feature.py.j2": _mkfifo},
            ["render", "evil-tfifo"],
        ),
        Hostile(
            "file:toml-symlink-loop",
            {"evil-loop/recipe.toml": _symlink("recipe.toml"), "evil-loop/feature.py.j2": MACRO},
            ["render", "evil-loop"],
        ),
        Hostile(
            "file:toml-symlink-out",
            {"evil-out/recipe.toml": _symlink("/etc/hostname"), "evil-out/feature.py.j2": MACRO},
            ["render", "evil-out"],
        ),
        Hostile(
            "file:toml-not-utf8",
            _feat("evil-enc", b'name = "evil-enc\xff"\n'),
            ["render", "evil-enc"],
        ),
        Hostile(
            "file:template-not-utf8",
            _feat("evil-tenc", meta("evil-tenc"), b"\xff\xfe{% macro loss() %}"),
            ["render", "evil-tenc"],
        ),
        Hostile(
            "file:huge-toml",
            _feat("evil-big", meta("evil-big", summary='"' + "x" * (8 << 20) + '"')),
            ["render", "evil-big"],
            expect="either",
        ),
        Hostile(
            "file:huge-extra-file",
            {**_feat("evil-bigx", meta("evil-bigx")), "evil-bigx/data.bin": _sparse(256 << 20)},
            ["render", "evil-bigx"],
            expect="either",
        ),
        Hostile(
            "file:template-symlink-out",
            {
                "evil-tout/recipe.toml": meta("evil-tout"),
                "evil-tout/feature.py.j2": _symlink("../../outside.j2"),
            },
            ["render", "evil-tout"],
            expect="either",
        ),
        Hostile(
            "file:include-symlink-out",
            {
                "evil-inc/recipe.toml": meta("evil-inc", "snippet"),
                "evil-inc/snippet.py.j2": "{% include 'evil-inc/secret.j2' %}\n",
                "evil-inc/secret.j2": _symlink("../../outside-secret.txt"),
            },
            ["render", "evil-inc"],
            secret=True,
        ),
        Hostile(
            "jinja:syntax",
            _feat("evil-syn", meta("evil-syn"), "{% macro loss() %}{% if %}{% endmacro %}\n"),
            ["render", "evil-syn"],
        ),
        Hostile(
            "jinja:unbalanced",
            _feat("evil-unb", meta("evil-unb"), "{% macro loss() %}\n{% if x %}\n"),
            ["render", "evil-unb"],
        ),
        Hostile(
            "jinja:deep-if",
            {
                "evil-deep/recipe.toml": meta("evil-deep", "snippet"),
                "evil-deep/snippet.py.j2": "{% if true %}" * 1000
                + "x = 1\n"
                + "{% endif %}" * 1000,
            },
            ["render", "evil-deep"],
        ),
        Hostile(
            "jinja:deep-parens",
            _snip("evil-paren", "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"),
            ["render", "evil-paren"],
        ),
        Hostile(
            "jinja:deep-macro-recursion",
            {
                "evil-rec/recipe.toml": meta("evil-rec", "snippet"),
                "evil-rec/snippet.py.j2": "{% macro f() %}{{ f() }}{% endmacro %}x = {{ f() }}\n",
            },
            ["render", "evil-rec"],
        ),
        Hostile(
            "sandbox:mro",
            _snip("evil-mro", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
            ["render", "evil-mro"],
        ),
        Hostile(
            "sandbox:cycler-globals",
            _snip(
                "evil-cyc",
                "{{ cycler.__init__.__globals__.os.popen('touch PWNED-sandbox:cycler-globals') }}",
            ),
            ["render", "evil-cyc"],
        ),
        Hostile(
            "sandbox:lipsum-globals",
            _snip(
                "evil-lip",
                "{{ lipsum.__globals__['os'].popen('touch PWNED-sandbox:lipsum-globals').read() }}",
            ),
            ["render", "evil-lip"],
        ),
        Hostile(
            "sandbox:self-context",
            _snip("evil-self", "{{ self._TemplateReference__context }}"),
            ["render", "evil-self"],
        ),
        Hostile(
            "sandbox:format-string",
            _snip("evil-fmt", "{{ '{0.__class__.__mro__}'.format('') }}"),
            ["render", "evil-fmt"],
        ),
        Hostile(
            "sandbox:include-abs",
            _snip("evil-abs", "{% include '/etc/passwd' %}"),
            ["render", "evil-abs"],
        ),
        Hostile(
            "sandbox:include-dotdot",
            _snip("evil-dd", "{% include '../../../../../etc/passwd' %}"),
            ["render", "evil-dd"],
        ),
        Hostile(
            "sandbox:include-builtin",
            _snip("evil-cross", "{% include 'mixup/feature.py.j2' %}"),
            ["render", "evil-cross"],
        ),
        Hostile("sandbox:mutate", _snip("evil-mut", "{{ [].append(1) }}"), ["render", "evil-mut"]),
        Hostile("sandbox:pow", _snip("evil-pow", "{{ 9 ** (9 ** 9) }}"), ["render", "evil-pow"]),
        Hostile("sandbox:repeat", _snip("evil-rep", "{{ 'a' * 10 ** 9 }}"), ["render", "evil-rep"]),
        Hostile(
            "sandbox:range",
            _snip("evil-rng", "{% for i in range(10 ** 9) %}{% endfor %}1"),
            ["render", "evil-rng"],
        ),
        Hostile("sandbox:invalid-python", _snip("evil-py", "1)"), ["render", "evil-py"]),
        Hostile(
            "trusted:generates-os-system",
            _snip(
                "evil-sys", "__import__('os').system('touch PWNED-trusted-at-render-time') and 0"
            ),
            ["render", "evil-sys"],
            expect="either",
        ),
        Hostile(
            "sandbox:nested-loops",
            _snip(
                "evil-loops",
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}1",
            ),
            ["render", "evil-loops"],
        ),
    ]
    for label, value in [
        ("file", lambda r: str(r / "afile")),
        ("fifo", lambda r: str(r / "afifo")),
        ("missing", lambda r: str(r / "missing")),
        ("empty-entries", lambda r: "::::"),
        ("relative", lambda r: "."),
        ("non-utf8", lambda r: str(r / "\udcff")),
        ("very-long", lambda r: "/" + "x" * 5000),
        ("newline", lambda r: str(r / "a\nb")),
        ("slash", lambda r: "/"),
        ("dev-null", lambda r: "/dev/null"),
    ]:
        h.append(
            Hostile(
                f"path:{label}",
                {"afile": "x", "afifo": _mkfifo, "a\nb/evil-nl/recipe.toml": "="},
                None,
                expect="either",
                path_value=value,
            )
        )
    return h


def channel_user_recipes(p: Probe, tally: Tally) -> None:
    everything = hostile_recipes()
    rng = p.rng("user-recipes")
    if p.args.quick:  # every file, Jinja and sandbox case; a seeded sample of the others
        meta_cases = [h for h in everything if h.label.startswith("meta:")]
        path_cases = [h for h in everything if h.label.startswith("path:")]
        keep = set(map(id, rng.sample(meta_cases, 6) + rng.sample(path_cases, 3)))
        everything = [
            h
            for h in everything
            if id(h) in keep
            or (
                h.label.split(":")[0] in ("file", "jinja", "sandbox", "trusted")
                and h.label not in ("sandbox:nested-loops", "file:huge-extra-file")
            )
        ]
    cases = p.select([(h.label, h) for h in everything])
    secret = "probe_secret_" + "".join(rng.choice(string.ascii_lowercase) for _ in range(12))

    def case(label: str, hostile: Hostile) -> Verdict:
        top = p.fresh("user")
        (top / "outside.j2").write_text(MACRO)
        (top / "outside-secret.txt").write_text(f"{secret} = 1\n")
        folder = top / "recipes"
        folder.mkdir()
        for rel, content in hostile.files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if callable(content):
                content(path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        path_value = hostile.path_value(folder) if hostile.path_value else str(folder)
        env = p.env_with(SNIPPETGEN_PATH=path_value)
        cwd = p.fresh("user-cwd")
        # (a) a built-in render must be unaffected (and may warn about the broken recipe)
        builtin = p.cli(["render", "mixup"], cwd=cwd, env=env)
        verdicts: list[Verdict | None] = [crash(builtin)]
        if builtin.timed_out:
            return worst(*verdicts)
        reported = any("warning" in line for line in builtin.lines)
        if builtin.rc != 0 and verdicts[0] is None:
            verdicts.append(
                Verdict("other", f"render mixup broken: exit {builtin.rc}: {builtin.first_line}")
            )
        elif builtin.rc == 0 and builtin.out != p.render_ref("mixup").out:
            verdicts.append(
                Verdict("unsafe", "render mixup printed something else than the built-in")
            )
        # (b) rendering the hostile recipe itself: refused with one sentence (exit 2, or 3 for
        # a template that fails), or, for a recipe that is valid, valid code
        if hostile.render is not None:
            run = p.cli(hostile.render, cwd=cwd, env=env)
            found = refusal(run)
            # the sentence, after any "warning: skipped: <that recipe>" lines (its report);
            # exit 3: a template that fails, reported as a bug in that recipe
            said = [line for line in run.lines if not line.startswith("warning: skipped: ")]
            if run.rc in (2, 3) and crash(run) is None and len(said) == 1 and not run.out.strip():
                found = REFUSED
            elif found is None:  # exit 0
                if structure(run.out) is None:
                    found = Verdict("unsafe", "rendered code that does not parse")
                elif hostile.secret and secret.encode() in run.out:
                    found = Verdict(
                        "unsafe", "a template included a file from outside the recipe folders"
                    )
                elif hostile.expect == "refuse" and label.startswith("sandbox:"):
                    tail = run.out.decode(errors="replace").strip().splitlines()[-5:]
                    found = Verdict("unsafe", f"rendered (exit 0): {short(' '.join(tail), 80)}")
                elif hostile.expect == "refuse":
                    found = Verdict(
                        "other", "broken recipe rendered" + ("" if reported else " without a word")
                    )
                else:
                    found = ACCEPTED
            verdicts.append(found)
        else:
            verdicts.append(REFUSED if reported else ACCEPTED)
        marks = list(top.rglob("PWNED*")) + list(cwd.rglob("PWNED*"))
        if marks:
            verdicts.append(Verdict("unsafe", f"payload ran at render time: {marks[0].name}"))
        return worst(*verdicts)

    p.map(tally, case, cases)


# --- 5. -o targets -------------------------------------------------------------------------------


def channel_output_targets(p: Probe, tally: Tally) -> None:
    def setup_fifo(d: Path) -> Path:
        os.mkfifo(d / "t.py")
        return d / "t.py"

    def setup_dangling(d: Path) -> Path:
        (d / "t.py").symlink_to(d / "nowhere.py")
        return d / "t.py"

    def setup_link_file(d: Path) -> Path:
        (d / "real.py").write_text("keep me\n")
        (d / "t.py").symlink_to("real.py")
        return d / "t.py"

    def setup_link_folder(d: Path) -> Path:
        (d / "sub").mkdir()
        (d / "t.py").symlink_to("sub")
        return d / "t.py"

    def setup_link_devnull(d: Path) -> Path:
        (d / "t.py").symlink_to("/dev/null")
        return d / "t.py"

    def setup_device(d: Path) -> Path:
        # a private null device: a probe run as root never aims a write at the real /dev/null
        os.mknod(d / "t.py", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        return d / "t.py"

    def setup_folder(d: Path) -> Path:
        (d / "t.py").mkdir()
        (d / "t.py" / "inside").write_text("keep\n")
        return d / "t.py"

    def setup_parent_file(d: Path) -> Path:
        (d / "afile").write_text("keep\n")
        return d / "afile" / "t.py"

    def setup_existing(d: Path) -> Path:
        (d / "t.py").write_text("keep me\n")
        return d / "t.py"

    cases: list[tuple[str, Callable[[Path], Path], bool, str]] = [
        # label, setup, --force, expect: refuse | either
        ("fifo", setup_fifo, False, "refuse"),
        ("fifo --force", setup_fifo, True, "refuse"),
        ("dangling-symlink", setup_dangling, False, "refuse"),
        ("dangling-symlink --force", setup_dangling, True, "refuse"),
        ("symlink-to-file", setup_link_file, False, "refuse"),
        ("symlink-to-file --force", setup_link_file, True, "refuse"),
        ("symlink-to-folder --force", setup_link_folder, True, "refuse"),
        ("symlink-to-dev-null --force", setup_link_devnull, True, "refuse"),
        *(
            [
                ("device-node", setup_device, False, "refuse"),
                ("device-node --force", setup_device, True, "refuse"),
            ]
            if os.geteuid() == 0
            else [("dev-null", lambda d: Path("/dev/null"), False, "refuse")]
        ),
        ("folder", setup_folder, False, "refuse"),
        ("folder --force", setup_folder, True, "refuse"),
        ("name-300-chars", lambda d: d / ("a" * 300), False, "refuse"),
        ("name-250-chars", lambda d: d / ("a" * 247 + ".py"), False, "either"),
        ("parent-file", setup_parent_file, False, "refuse"),
        ("parent-missing", lambda d: d / "missing" / "t.py", False, "refuse"),
        ("existing-file", setup_existing, False, "refuse"),
        ("trailing-slash", lambda d: Path(str(d / "t.py") + "/"), False, "either"),
        ("newline-name", lambda d: d / "a\nb.py", False, "either"),
    ]
    null_before = Path("/dev/null").stat()

    def case(label: str, setup: Callable[[Path], Path], force: bool, expect: str) -> Verdict:
        folder = p.fresh("out")
        target = setup(folder)
        before = snapshot(folder)
        run = p.cli(
            ["render", "mixup", "-o", str(target), *(["--force"] if force else [])], cwd=folder
        )
        changed, added = diff(before, snapshot(folder))
        null_now = Path("/dev/null").stat()
        if not stat.S_ISCHR(null_now.st_mode) or null_now.st_rdev != null_before.st_rdev:
            return Verdict("lost", "/dev/null is no longer the null device")
        found = refusal(run)
        if found is not None and found.outcome in ("hang", "traceback"):
            return found
        if changed:
            return Verdict("lost", f"exit {run.rc}; changed or removed {short(changed, 60)}")
        legit = [
            a
            for a in added
            if run.rc == 0 and expect == "either" and (folder / a) == Path(os.path.normpath(target))
        ]
        litter = [a for a in added if a not in legit]
        if litter:
            return Verdict("unsafe", f"exit {run.rc}; left {short(litter, 60)}")
        if found is not None:
            return found
        if expect == "refuse":
            return Verdict("other", "exit 0 where a refusal was due")
        if legit and (folder / legit[0]).read_bytes() != p.render_ref("mixup").out:
            return Verdict("unsafe", "the written file is not the render")
        return ACCEPTED

    p.map(tally, case, p.select(cases))


# --- 6. render cache damage ------------------------------------------------------------------------


def channel_cache(p: Probe, tally: Tally) -> None:
    def pristine() -> tuple[Path, Path, Path]:
        home = p.root / "cache-pristine"
        renders = home / "snippetgen" / "renders"
        env = p.env_with(XDG_CACHE_HOME=str(home))
        entries = []
        for recipe in ("mixup", "one-hot"):
            before = set(renders.glob("*.py")) if renders.exists() else set()
            run = p.cli(["render", recipe], env=env)
            if run.rc != 0:
                raise SystemExit(f"render {recipe} failed: {run.errtext[-300:]}")
            new = set(renders.glob("*.py")) - before
            if len(new) != 1:
                raise SystemExit(f"expected one new cache entry for {recipe}, found {len(new)}")
            entries.append(new.pop().relative_to(home))
        return home, entries[0], entries[1]

    home, entry_a, entry_b = p.memo("cache-pristine", pristine)
    from snippetgen.codegen.toml_cache import _TOML_INDEX

    index = Path("snippetgen") / _TOML_INDEX

    def flip(offset: Callable[[int], int]) -> Callable[[Path], object]:
        def damage(path: Path) -> None:
            data = bytearray(path.read_bytes())
            data[offset(len(data))] ^= 0x20
            path.write_bytes(bytes(data))

        return damage

    def truncate(fraction: float) -> Callable[[Path], object]:
        return lambda path: path.write_bytes(
            path.read_bytes()[: int(len(path.read_bytes()) * fraction)]
        )

    def replace_with(kind: str) -> Callable[[Path], object]:
        def damage(path: Path) -> None:
            path.unlink()
            if kind == "fifo":
                os.mkfifo(path)
            elif kind == "folder":
                path.mkdir()
            elif kind == "huge":
                _sparse(512 << 20)(path)
            elif kind == "garbage":
                path.write_bytes(bytes(range(256)) * 10)

        return damage

    def checksum_ok_not_utf8(path: Path) -> None:
        import hashlib

        body = b"\xff\xfe not utf-8 \x80"
        path.write_bytes(
            f"# snippetgen render cache v1 sha256={hashlib.sha256(body).hexdigest()}\n".encode()
            + body
        )

    def swap(path_a: Path, path_b: Path) -> None:
        a, b = path_a.read_bytes(), path_b.read_bytes()
        path_a.write_bytes(b)
        path_b.write_bytes(a)

    def swap_index(path: Path) -> None:
        data = json.loads(path.read_text())
        keys = [k for k in data if 'name = "mixup"' in k or 'name = "train"' in k]
        if len(keys) == 2:
            data[keys[0]], data[keys[1]] = data[keys[1]], data[keys[0]]
        path.write_text(json.dumps(data))

    def link_to_other(path: Path) -> None:
        path.unlink()
        path.symlink_to(entry_b.name)

    def folder_to_file(path: Path) -> None:
        shutil.rmtree(path)
        path.write_text("x")

    def index_value(value: Any) -> Callable[[Path], object]:
        return lambda path: path.write_text(json.dumps(value))

    damages: list[tuple[str, Path, Callable[..., object], bool]] = [
        # label, file, damage, two files (swap)
        ("entry: flip a body byte", entry_a, flip(lambda n: n - 100), False),
        ("entry: flip a checksum byte", entry_a, flip(lambda n: 40), False),
        ("entry: truncated to half", entry_a, truncate(0.5), False),
        ("entry: truncated to 0", entry_a, truncate(0.0), False),
        ("entry: garbage", entry_a, replace_with("garbage"), False),
        ("entry: valid checksum, not UTF-8", entry_a, checksum_ok_not_utf8, False),
        ("entry: two entries swapped", entry_a, swap, True),
        ("entry: symlink to the other entry", entry_a, link_to_other, False),
        ("entry: FIFO", entry_a, replace_with("fifo"), False),
        ("entry: folder", entry_a, replace_with("folder"), False),
        ("entry: huge sparse file", entry_a, replace_with("huge"), False),
        ("renders folder is a file", entry_a.parent, folder_to_file, False),
        ("toml index: garbage", index, replace_with("garbage"), False),
        ("toml index: truncated", index, truncate(0.5), False),
        ("toml index: mixup and train swapped", index, swap_index, False),
        ("toml index: wrong types", index, index_value({"x": 5, "y": [1]}), False),
        ("toml index: a list", index, index_value([1, 2]), False),
        ("toml index: FIFO", index, replace_with("fifo"), False),
        ("toml index: folder", index, replace_with("folder"), False),
    ]
    rng = p.rng("cache")
    count = p.sizes["cache"]
    if count < len(damages):
        keep = set(rng.sample(range(len(damages)), count))
        damages = [d for i, d in enumerate(damages) if i in keep]

    def case(label: str, target: Path, damage: Callable[..., object], two: bool) -> Verdict:
        copy = p.fresh("cache") / "xdg"
        shutil.copytree(home, copy, symlinks=True)
        if two:
            damage(copy / entry_a, copy / entry_b)
        else:
            damage(copy / target)
        env = p.env_with(XDG_CACHE_HOME=str(copy))
        verdicts: list[Verdict | None] = []
        for recipe in ("mixup", "one-hot") if two else ("mixup",):
            run = p.cli(["render", recipe], env=env)
            found = crash(run)
            if found is None and run.rc != 0:
                found = Verdict("other", f"render {recipe} failed: exit {run.rc}: {run.first_line}")
            elif found is None and run.out != p.render_ref(recipe, cache=False).out:
                found = Verdict("unsafe", f"render {recipe} differs from a cache-free render")
            verdicts.append(found)
            if found is not None and found.outcome == "hang":
                break
        litter = [x.name for x in copy.rglob("*.part")] + [x.name for x in copy.rglob(".tmp-*")]
        if litter:
            verdicts.append(Verdict("other", f"cache litter {short(litter, 50)}"))
        final = worst(*verdicts)
        return REFUSED if final.outcome == "accepted" else final

    p.map(tally, case, p.select(damages))


# --- 7. checkpoints --------------------------------------------------------------------------------


class _Payload:
    """Pickles as a call that would create a marker file (never called by the probe)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch PWNED-{self.tag}",))


def crafted_checkpoints(base: Path) -> list[tuple[str, Callable[[Path], object]]]:
    torch = _torch()
    good = load_pt(base / "last.pt")

    def save(obj_fn: Callable[[dict[str, Any]], Any]) -> Callable[[Path], object]:
        def make(path: Path) -> None:
            torch.save(obj_fn(dict(good)), path)

        return make

    def raw_pickle(tag: str) -> Callable[[Path], object]:
        return lambda path: path.write_bytes(pickle.dumps({"model": _Payload(tag)}))

    def changed(**kw: Any) -> Callable[[dict[str, Any]], Any]:
        def fn(ck: dict[str, Any]) -> dict[str, Any]:
            ck.update(kw)
            return ck

        return fn

    def without(key: str) -> Callable[[dict[str, Any]], Any]:
        return lambda ck: {k: v for k, v in ck.items() if k != key}

    def fifo(path: Path) -> None:
        path.unlink(missing_ok=True)
        os.mkfifo(path)

    def folder(path: Path) -> None:
        path.unlink(missing_ok=True)
        path.mkdir()

    def wrong_shapes(ck: dict[str, Any]) -> dict[str, Any]:
        ck["model"] = {k: torch.zeros(3) for k in ck["model"]}
        return ck

    return [
        ("pickle payload (legacy format)", raw_pickle("ckpt-legacy")),
        ("pickle payload inside a torch file", save(changed(model=_Payload("ckpt-zip")))),
        ("epoch = -5", save(changed(epoch=-5))),
        ("epoch = 10**18", save(changed(epoch=10**18))),
        ("epoch = 'x'", save(changed(epoch="x"))),
        ("best_acc = 'x'", save(changed(best_acc="x"))),
        ("rng = []", save(changed(rng=[]))),
        ("rng = [{}]", save(changed(rng=[{}]))),
        (
            "rng: bad torch state",
            save(
                changed(
                    rng=[{"torch": torch.zeros(3, dtype=torch.uint8), "python": (3, (1,), None)}]
                )
            ),
        ),
        ("model = {}", save(changed(model={}))),
        ("model: wrong shapes", save(wrong_shapes)),
        ("optimizer = {}", save(changed(optimizer={}))),
        ("no rng key", save(without("rng"))),
        ("a list, not a dict", save(lambda ck: [1, 2, 3])),
        ("a bare tensor", save(lambda ck: torch.zeros(2))),
        (
            "nan weights",
            save(
                lambda ck: {
                    **ck,
                    "model": {
                        k: v * float("nan") if v.is_floating_point() else v
                        for k, v in ck["model"].items()
                    },
                }
            ),
        ),
        ("last.pt is a FIFO", fifo),
        ("last.pt is a folder", folder),
        ("empty file", lambda path: path.write_bytes(b"")),
    ]


def crafted_weights() -> list[tuple[str, Callable[[Path], object]]]:
    torch = _torch()
    return [
        (
            "pretrained: pickle payload (legacy)",
            lambda path: path.write_bytes(pickle.dumps({"fc.weight": _Payload("pre-legacy")})),
        ),
        (
            "pretrained: pickle payload in a torch file",
            lambda path: torch.save({"fc.weight": _Payload("pre-zip")}, path),
        ),
        ("pretrained: a bare tensor", lambda path: torch.save(torch.zeros(3), path)),
        (
            "pretrained: non-str keys",
            lambda path: torch.save({1: torch.zeros(3), 2: torch.zeros(1)}, path),
        ),
        ("pretrained: str values", lambda path: torch.save({"fc.weight": "x"}, path)),
        (
            "pretrained: wrong shapes",
            lambda path: torch.save({"fc.weight": torch.zeros(1, 1)}, path),
        ),
        (
            "pretrained: nested model of junk",
            lambda path: torch.save({"model": {"fc.weight": 5}}, path),
        ),
        ("pretrained: text file", lambda path: path.write_text("not weights\n")),
        ("pretrained: empty file", lambda path: path.write_bytes(b"")),
        ("pretrained: folder", lambda path: path.mkdir()),
        ("pretrained: FIFO", lambda path: os.mkfifo(path)),
    ]


def channel_checkpoints(p: Probe, tally: Tally) -> None:
    script = p.ckpt_script()
    base, _ = p.reference_run("ckpt-2-epochs", [*TINY, "--epochs", "2"])
    ref, _ = p.reference_run(
        "ckpt-resumed-3", [*TINY, "--epochs", "3", "--resume"], base="ckpt-2-epochs"
    )
    rng = p.rng("checkpoints")
    size = (base / "last.pt").stat().st_size
    cases: list[tuple[str, Callable[[Path], object], str]] = []
    for _ in range(p.sizes["flips"]):
        pos, mask = rng.randrange(size), rng.randrange(1, 256)

        def flip(path: Path, pos: int = pos, mask: int = mask) -> None:
            data = bytearray(path.read_bytes())
            data[pos] ^= mask
            path.write_bytes(bytes(data))

        cases.append((f"last.pt byte {pos} ^= {mask:#04x}", flip, "resume"))
    for i in range(p.sizes["truncations"]):
        length = 0 if i == 0 else rng.randrange(1, size)

        def cut(path: Path, length: int = length) -> None:
            path.write_bytes(path.read_bytes()[:length])

        cases.append((f"last.pt truncated to {length} bytes", cut, "resume"))
    crafted = crafted_checkpoints(base)
    weights = crafted_weights()
    pick = rng.sample(range(len(crafted)), min(len(crafted), p.sizes["crafted"]))
    cases += [(crafted[i][0], crafted[i][1], "resume") for i in sorted(pick)]
    pick = rng.sample(range(len(weights)), min(len(weights), p.sizes["pretrained"]))
    cases += [(weights[i][0], weights[i][1], "pretrained") for i in sorted(pick)]

    def case(label: str, damage: Callable[[Path], object], mode: str) -> Verdict:
        top = p.fresh("ckpt")
        if mode == "resume":
            run_dir = top / "run"
            shutil.copytree(base, run_dir)
            damage(run_dir / "last.pt")
            before = snapshot(run_dir)
            run = p.script(
                script, [*TINY, "--epochs", "3", "--resume", "--output-dir", str(run_dir)], top
            )
        else:
            weights_path = top / "weights.pt"
            damage(weights_path)
            run_dir = top / "run"
            before = {}
            run = p.script(
                script,
                [
                    *TINY,
                    "--epochs",
                    "1",
                    "--pretrained",
                    str(weights_path),
                    "--output-dir",
                    str(run_dir),
                ],
                top,
            )
        verdicts: list[Verdict | None] = []
        marks = list(top.rglob("PWNED*"))
        if marks:
            verdicts.append(Verdict("unsafe", f"code from the file ran: {marks[0].name}"))
        found = crash(run)
        if found is None and run.rc != 0:
            if mode == "resume":
                now = snapshot(run_dir)
                changed, added = diff(before, now)
                lost = [k for k in changed if not appended(before[k], now.get(k))]
                if lost:
                    found = Verdict(
                        "lost", f"refused (exit {run.rc}) but changed {short(lost, 50)}"
                    )
                elif changed or added:
                    found = Verdict(
                        "other",
                        f"refused (exit {run.rc}) after writing to {short(changed + added, 50)}",
                    )
            if found is None:
                found = (
                    REFUSED
                    if run.rc == 2 and len(run.lines) == 1
                    else Verdict(
                        "other",
                        f"exit {run.rc} with {len(run.lines)} stderr lines: {run.first_line}",
                    )
                )
        elif found is None and mode == "resume":
            why = run_matches(run_dir, ref, "a resume from the intact file")
            found = Verdict("unsafe", f"resumed from the damaged file: {why}") if why else ACCEPTED
        verdicts.append(found or ACCEPTED)
        return worst(*verdicts)

    p.map(tally, case, p.select(cases))


# --- 8. SIGKILL / SIGINT during training -------------------------------------------------------------


def channel_train_signals(p: Probe, tally: Tally) -> None:
    script = p.ckpt_script()
    ref, ref_run = p.reference_run("uninterrupted-4", LONGER, wait_for=b"epoch 1 ")
    first = ref_run.line_at or 1.0
    training = max(ref_run.wall - first, 0.5)
    rng = p.rng("train-signals")
    cases = []
    for sig, count in ((signal.SIGKILL, p.sizes["sigkill"]), (signal.SIGINT, p.sizes["sigint"])):
        for i in range(count):
            if i % 2 == 0:
                delay, after = rng.uniform(0.3, ref_run.wall), False
            else:
                delay, after = rng.uniform(0.0, training), True
            when = f"{delay:.2f} s after {'the first epoch line' if after else 'the start'}"
            cases.append((f"{sig.name} {when}", sig, delay, after))

    def case(label: str, sig: signal.Signals, delay: float, after: bool) -> Verdict:
        top = p.fresh("signal")
        run_dir = top / "run"
        args = [*LONGER, "--output-dir", str(run_dir)]
        run = p.script(
            script, args, top, send=sig, delay=delay, wait_for=b"epoch 1 " if after else None
        )
        verdicts: list[Verdict | None] = [crash(run)]
        if run.timed_out:
            return verdicts[0] or Verdict("hang")
        interrupted = run.sent is not None and run.rc != 0
        if interrupted and sig == signal.SIGINT and verdicts[0] is None:
            if run.rc == -signal.SIGINT:
                late = (
                    " (after finishing the whole run)" if run_matches(run_dir, ref) is None else ""
                )
                verdicts.append(Verdict("other", f"died of SIGINT without 'interrupted'{late}"))
            elif run.rc != 130:
                verdicts.append(Verdict("other", f"exit {run.rc} after SIGINT: {run.first_line}"))
            elif "interrupted" not in run.errtext:
                verdicts.append(
                    Verdict(
                        "other", f"exit 130 without 'interrupted' ({len(run.lines)} stderr lines)"
                    )
                )
        for name in ("last.pt", "best.pt"):
            if (run_dir / name).exists():
                problem = checkpoint_problem(run_dir / name)
                if problem:
                    verdicts.append(Verdict("lost", problem))
        # recover as a user would, then compare with the uninterrupted run
        if not interrupted and run.rc == 0:
            why = run_matches(run_dir, ref)
            return worst(*verdicts, Verdict("other", f"finished, but {why}") if why else ACCEPTED)
        if (run_dir / "last.pt").exists():
            again = [*args, "--resume"]
        elif run_dir.exists() and any(run_dir.iterdir()):
            again = [*args, "--overwrite"]
        else:
            again = args
        recovery = p.script(script, again, top)
        found = crash(recovery)
        if found is not None:
            verdicts.append(found)
        elif recovery.rc != 0:
            verdicts.append(
                Verdict("lost", f"cannot continue the run ({again[-1]}): {recovery.first_line}")
            )
        else:
            why = run_matches(run_dir, ref)
            if why:
                verdicts.append(Verdict("unsafe", f"after recovery: {why}"))
        final = worst(*verdicts)
        if final.outcome == "accepted" and interrupted:
            return REFUSED  # interrupted cleanly, nothing lost
        return final

    p.map(tally, case, p.select(cases))


# --- 9. concurrent runs into one --output-dir ----------------------------------------------------------


def channel_concurrent(p: Probe, tally: Tally) -> None:
    script = p.ckpt_script()
    fresh_ref, _ = p.reference_run("uninterrupted-4", LONGER, wait_for=b"epoch 1 ")
    variants = ["fresh", "resume", "overwrite"]
    cases = [
        (f"4 runs at once, {variants[i % 3]} #{i // 3 + 1}", variants[i % 3])
        for i in range(p.sizes["concurrent"])
    ]

    def case(label: str, variant: str) -> Verdict:
        top = p.fresh("concurrent")
        run_dir = top / "run"
        args = [*LONGER, "--output-dir", str(run_dir)]
        ref = fresh_ref
        if variant == "resume":
            base, _ = p.reference_run("longer-2-epochs", [*LONGER[:-1], "2"])
            ref, _ = p.reference_run(
                "longer-resumed-4", [*LONGER, "--resume"], base="longer-2-epochs"
            )
            shutil.copytree(base, run_dir)
            args.append("--resume")
        elif variant == "overwrite":
            shutil.copytree(fresh_ref, run_dir)
            (run_dir / "model.pt").unlink()
            (run_dir / "metrics.jsonl").write_text('{"epoch": 1, "stale": true}\n')
            args.append("--overwrite")
        results: list[Run] = []
        lock = threading.Lock()

        def one() -> None:
            run = p.script(script, args, top)
            with lock:
                results.append(run)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        verdicts: list[Verdict | None] = [crash(r) for r in results]
        winners = [r for r in results if r.rc == 0]
        losers = [r for r in results if r.rc != 0 and crash(r) is None]
        why = run_matches(run_dir, ref)
        if why:
            verdicts.append(Verdict("lost", f"{len(winners)} of 4 ran: {why}"))
        for name in ("last.pt", "best.pt"):
            problem = checkpoint_problem(run_dir / name) if (run_dir / name).exists() else None
            if problem:
                verdicts.append(Verdict("lost", problem))
        if len(winners) != 1:
            verdicts.append(Verdict("other", f"{len(winners)} of 4 concurrent runs went ahead"))
        for r in losers:
            if not (r.rc == 2 and len(r.lines) == 1):
                verdicts.append(
                    Verdict("other", f"a second run: exit {r.rc} with {len(r.lines)} stderr lines")
                )
        final = worst(*verdicts)
        return REFUSED if final.outcome == "accepted" else final

    p.map(tally, case, p.select(cases), workers=1)


# --- 10. Ctrl-C during the CLI ----------------------------------------------------------------------


def channel_cli_ctrl_c(p: Probe, tally: Tally) -> None:
    commands = {
        "render": ["render", "train", "--with", "checkpoint", "--with", "mixup"],
        "render -o": ["render", "train", "--with", "checkpoint", "-o", "out.py"],
        "new": ["new", "proj", "--with", "checkpoint"],
        "list": ["list"],
    }

    def baseline(name: str) -> tuple[Run, dict[str, tuple[Any, ...]]]:
        def make() -> tuple[Run, dict[str, tuple[Any, ...]]]:
            cwd = p.fresh("ctrl-c-base")
            env = p.env_with(XDG_CACHE_HOME=str(cwd / ".xdg"))
            run = p.cli(commands[name], cwd=cwd, env=env, timeout=p.runner.cli_timeout * 2)
            if run.rc != 0:
                raise SystemExit(
                    f"snippetgen {' '.join(commands[name])} failed: {run.errtext[-300:]}"
                )
            shutil.rmtree(cwd / ".xdg")
            return run, snapshot(cwd)

        return p.memo(("ctrl-c", name), make)

    rng = p.rng("cli-ctrl-c")
    cases = []
    for name in commands:
        for _ in range(p.sizes["ctrl_c"]):
            cases.append((f"SIGINT during {name} at {rng.uniform(0.05, 1.0):.2f} of its run", name))

    def case(label: str, name: str) -> Verdict:
        ref, files = baseline(name)
        fraction = float(label.split(" at ")[1].split()[0])
        cwd = p.fresh("ctrl-c")
        env = p.env_with(XDG_CACHE_HOME=str(cwd / ".xdg"))
        run = p.cli(
            commands[name],
            cwd=cwd,
            env=env,
            send=signal.SIGINT,
            delay=fraction * ref.wall,
            timeout=p.runner.cli_timeout * 2,
        )
        found = crash(run)
        verdicts: list[Verdict | None] = [found]
        if found is None and run.rc != 0:
            if run.rc == -signal.SIGINT:
                verdicts.append(Verdict("other", "died of SIGINT without 'interrupted'"))
            elif run.rc != 130:
                verdicts.append(Verdict("other", f"exit {run.rc} after SIGINT: {run.first_line}"))
            elif "interrupted" not in run.errtext:
                verdicts.append(
                    Verdict(
                        "other", f"exit 130 without 'interrupted' ({len(run.lines)} stderr lines)"
                    )
                )
            elif len(run.lines) > 1:
                verdicts.append(Verdict("other", f"{len(run.lines)} stderr lines after SIGINT"))
            elif run.out.strip():
                verdicts.append(
                    Verdict("unsafe", f"interrupted, with {len(run.out)} bytes on stdout")
                )
        now = snapshot(cwd)
        litter = [k for k in now if k.startswith(".xdg") and (k.endswith(".part") or "/.tmp-" in k)]
        if litter:
            verdicts.append(Verdict("other", f"cache litter {short(litter, 50)}"))
        now = {k: v for k, v in now.items() if not k.startswith(".xdg")}
        want = {k: v for k, v in files.items() if not k.startswith(".xdg")}
        # the files of an interrupted command: none, or all of them, complete
        if now and now != want:
            done = "finished" if run.rc == 0 else "interrupted"
            odd = sorted(set(now) ^ set(want)) or [k for k in now if now[k] != want.get(k)]
            verdicts.append(
                Verdict(
                    "unsafe",
                    f"{done}, and the files differ from an uninterrupted "
                    f"run's: {short(odd[:3], 60)}",
                )
            )
        elif run.rc == 0 and now != want:
            verdicts.append(Verdict("other", "finished without writing its files"))
        final = worst(*verdicts)
        return REFUSED if final.outcome == "accepted" and run.rc != 0 else final

    p.map(tally, case, p.select(cases))


# --- 11. hostile data files read by generated scripts ---------------------------------------------

DATA_SOURCES = {  # --data source: (model flags, run flags besides the shared ones)
    "csv": (["--model", "mlp"], []),
    "tensors": (["--model", "mlp"], []),
    "image-folder": ([], ["--image-size", "8"]),
}
DATA_ARGS = ["--epochs", "1", "--max-batches", "2", "--batch-size", "4", "--device", "cpu"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def tiny_png(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes that declares width x height RGB pixels (a decompression bomb
    when they are many: its pixel data is a few zero rows, so decoding it fails or is all zeros)."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _image(path: Path, mode: str = "RGB", seed: int = 0, fmt: str | None = None, **kw: Any) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    image = Image.fromarray((rng.random((12, 10, 3)) * 255).astype("uint8"))
    if mode == "I;16":
        image = Image.fromarray((rng.random((12, 10)) * 65535).astype("uint16"))
    elif mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **kw)


def image_tree(root: Path, classes: Sequence[str] = ("cat", "dog"), per_class: int = 6) -> None:
    for c, name in enumerate(classes):
        for i in range(per_class):
            _image(root / name / f"{i}.png", seed=10 * c + i)


def good_csv(rows: int = 24) -> str:
    rng = random.Random(1)
    lines = ["height,weight,kind"]
    for i in range(rows):
        lines.append(f"{rng.gauss(10 * (i % 3), 1):.3f},{rng.gauss(50, 5):.3f},{'abc'[i % 3]}")
    return "\n".join(lines) + "\n"


def data_cases(
    rng: random.Random, randoms: int
) -> list[tuple[str, str, Callable[[Path], Path], list[str]]]:
    """(label, source, make(folder) -> the --data-path, extra flags) for every hostile input."""
    torch = _torch()

    def csv_text(text: str | bytes) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            path = folder / "data.csv"
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
            return path

        return make

    def images(build: Callable[[Path], object], base: bool = True) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            root = folder / "images"
            if base:
                image_tree(root)
            build(root)
            return root

        return make

    def put(rel: str, data: bytes) -> Callable[[Path], object]:
        def make(root: Path) -> None:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)

        return make

    def saved(rel: str, mode: str, fmt: str | None = None, **kw: Any) -> Callable[[Path], object]:
        return lambda root: _image(root / rel, mode, fmt=fmt, **kw)

    def truncated(rel: str, fmt: str, keep: float) -> Callable[[Path], object]:
        def make(root: Path) -> None:
            _image(root / rel, fmt=fmt)
            data = (root / rel).read_bytes()
            (root / rel).write_bytes(data[: int(len(data) * keep)])

        return make

    def animated(root: Path) -> None:
        from PIL import Image

        frames = [Image.new("P", (10, 12), color=i) for i in range(3)]
        frames[0].save(root / "cat" / "anim.gif", save_all=True, append_images=frames[1:])

    def fifo(rel: str) -> Callable[[Path], object]:
        return lambda root: os.mkfifo(root / rel)

    def link(rel: str, target: str) -> Callable[[Path], object]:
        return lambda root: (root / rel).symlink_to(target)

    def layout(train: Sequence[str], val: Sequence[str]) -> Callable[[Path], object]:
        def make(root: Path) -> None:
            image_tree(root / "train", train)
            image_tree(root / "val", val, per_class=2)

        return make

    def tensors(content: Callable[[], Any], name: str = "data.pt") -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            path = folder / name
            torch.save(content(), path)
            return path

        return make

    def npz(**arrays: Any) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            import numpy as np

            path = folder / "data.npz"
            np.savez(path, **{k: v() if callable(v) else v for k, v in arrays.items()})
            return path

        return make

    def raw(name: str, data: bytes) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            (folder / name).write_bytes(data)
            return folder / name

        return make

    def xy(n: int = 24, d: int = 5, **over: Any) -> Callable[[], dict[str, Any]]:
        def make() -> dict[str, Any]:
            g = torch.Generator().manual_seed(0)
            content = {"x": torch.randn(n, d, generator=g), "y": torch.arange(n) % 2}
            content.update({k: v() if callable(v) else v for k, v in over.items()})
            return content

        return make

    def checkpoint() -> dict[str, Any]:
        model = torch.nn.Linear(5, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 1}

    good = good_csv()
    wide = ",".join(f"c{i}" for i in range(100_000)) + ",label\n"
    wide += "".join(",".join(["1"] * 100_000) + f",{i % 2}\n" for i in range(6))
    cases: list[tuple[str, str, Callable[[Path], Path], list[str]]] = [
        ("csv: a well-formed file", "csv", csv_text(good), []),
        ("csv: empty file", "csv", csv_text(""), []),
        ("csv: header only", "csv", csv_text("a,b,label\n"), []),
        ("csv: UTF-8 BOM", "csv", csv_text(b"\xef\xbb\xbf" + good.encode()), []),
        (
            "csv: quoted labels with commas and newlines",
            "csv",
            csv_text(good.replace(",a\n", ',"a, \nb"\n')),
            [],
        ),
        ("csv: a quoted feature with a comma", "csv", csv_text(good + '"1,5",2,a\n'), []),
        ("csv: NaN value", "csv", csv_text(good + "nan,1,a\n"), []),
        (
            "csv: inf value",
            "csv",
            csv_text(good.replace("height,weight,kind\n", "height,weight,kind\ninf,1,a\n")),
            [],
        ),
        ("csv: 1e400 value", "csv", csv_text(good + "1e400,1,b\n"), []),
        ("csv: a missing value", "csv", csv_text(good + ",1,b\n"), []),
        ("csv: a ragged row", "csv", csv_text(good + "1,2,3,a\n"), []),
        ("csv: a short row", "csv", csv_text(good + "1,a\n"), []),
        ("csv: non-UTF-8 bytes", "csv", csv_text(good.encode() + b"1,\xff\xfe,a\n"), []),
        ("csv: a NUL byte", "csv", csv_text(good + "1,2\x00,a\n"), []),
        (
            "csv: a field over the csv module's limit",
            "csv",
            csv_text(good + "1," + "9" * 200_000 + ",a\n"),
            [],
        ),
        ("csv: 10^5 columns", "csv", csv_text(wide), []),
        ("csv: a single class", "csv", csv_text("a,b,label\n1,2,x\n3,4,x\n5,6,x\n"), []),
        (
            "csv: numeric labels with gaps",
            "csv",
            csv_text(
                "a,b,label\n" + "".join(f"{i},{i * 2},{(0, 5, 17)[i % 3]}\n" for i in range(24))
            ),
            [],
        ),
        ("csv: --target names no column", "csv", csv_text(good), ["--target", "nope"]),
        ("csv: --target given as a number", "csv", csv_text(good), ["--target", "1"]),
        ("csv: --target names a feature column", "csv", csv_text(good), ["--target", "height"]),
        ("csv: an empty header name", "csv", csv_text(good.replace("height", "", 1)), []),
        ("csv: CR-only line ends", "csv", csv_text(good.replace("\n", "\r")), []),
        (
            "csv: the data path is a FIFO",
            "csv",
            lambda folder: (os.mkfifo(folder / "data.csv"), folder / "data.csv")[1],
            [],
        ),
        ("csv: the data path is a folder", "csv", lambda folder: folder, []),
        ("images: a well-formed folder", "image-folder", images(lambda root: None), []),
        ("images: a zero-byte file", "image-folder", images(put("cat/zero.png", b"")), []),
        ("images: truncated PNG", "image-folder", images(truncated("cat/cut.png", "PNG", 0.5)), []),
        (
            "images: truncated JPEG",
            "image-folder",
            images(truncated("dog/cut.jpg", "JPEG", 0.5)),
            [],
        ),
        (
            "images: a text file named .png",
            "image-folder",
            images(put("cat/text.png", b"not an image\n")),
            [],
        ),
        (
            "images: decompression bomb 30000x30000 PNG",
            "image-folder",
            images(put("cat/bomb.png", tiny_png(30000, 30000))),
            [],
        ),
        (
            "images: decompression bomb 10000x10000 PNG (warning size)",
            "image-folder",
            images(put("cat/bomb.png", tiny_png(10000, 10000))),
            [],
        ),
        ("images: 16-bit PNG (I;16)", "image-folder", images(saved("cat/deep.png", "I;16")), []),
        ("images: CMYK JPEG", "image-folder", images(saved("cat/cmyk.jpg", "CMYK")), []),
        ("images: LA PNG", "image-folder", images(saved("dog/la.png", "LA")), []),
        ("images: 1-bit BMP", "image-folder", images(saved("dog/bits.bmp", "1")), []),
        (
            "images: float TIFF named .png",
            "image-folder",
            images(saved("dog/float.png", "F", fmt="TIFF")),
            [],
        ),
        ("images: an animated GIF", "image-folder", images(animated), []),
        (
            "images: a symlink loop named .png",
            "image-folder",
            images(link("cat/loop.png", "loop.png")),
            [],
        ),
        (
            "images: a dangling symlink named .png",
            "image-folder",
            images(link("cat/gone.png", "missing.png")),
            [],
        ),
        ("images: a folder symlink loop", "image-folder", images(link("cat/sub", "..")), []),
        ("images: a FIFO named x.png", "image-folder", images(fifo("cat/x.png")), []),
        (
            "images: a folder named x.png",
            "image-folder",
            images(lambda root: (root / "cat" / "x.png").mkdir()),
            [],
        ),
        (
            "images: class names with a newline and unicode",
            "image-folder",
            images(lambda root: image_tree(root, ("a\nb", "名前 ü", "c\rd")), base=False),
            [],
        ),
        (
            "images: an empty class folder",
            "image-folder",
            images(lambda root: (root / "empty").mkdir()),
            [],
        ),
        (
            "images: train and val with different classes",
            "image-folder",
            images(layout(("cat", "dog"), ("cat", "owl")), base=False),
            [],
        ),
        (
            "images: a single class",
            "image-folder",
            images(lambda root: image_tree(root, ("cat",)), base=False),
            [],
        ),
        ("tensors: a well-formed .pt", "tensors", tensors(xy()), []),
        (
            "tensors: a pickled object (legacy pickle)",
            "tensors",
            raw("data.pt", pickle.dumps({"x": _Payload("data-legacy")})),
            [],
        ),
        (
            "tensors: a pickled object in a torch file",
            "tensors",
            tensors(lambda: {"x": _Payload("data-zip"), "y": 1}),
            [],
        ),
        (
            "tensors: a pickled object in an .npz",
            "tensors",
            npz(x=lambda: __import__("numpy").array([_Payload("data-npz")], dtype=object), y=[0]),
            [],
        ),
        ("tensors: x with 0 rows", "tensors", tensors(xy(n=0)), []),
        ("tensors: y 2-D", "tensors", tensors(xy(y=lambda: torch.zeros(24, 2))), []),
        ("tensors: x 1-D", "tensors", tensors(xy(x=lambda: torch.zeros(24))), []),
        ("tensors: float labels", "tensors", tensors(xy(y=lambda: torch.rand(24))), []),
        (
            "tensors: whole float labels",
            "tensors",
            tensors(xy(y=lambda: (torch.arange(24) % 2).float())),
            [],
        ),
        (
            "tensors: float labels of 1e30",
            "tensors",
            tensors(xy(y=lambda: torch.full((24,), 1e30))),
            [],
        ),
        (
            "tensors: NaN labels",
            "tensors",
            tensors(xy(y=lambda: torch.full((24,), float("nan")))),
            [],
        ),
        (
            "tensors: negative labels",
            "tensors",
            tensors(xy(y=lambda: torch.arange(24) % 2 - 1)),
            [],
        ),
        (
            "tensors: a label of 10**12",
            "tensors",
            tensors(xy(y=lambda: torch.tensor([0, 10**12] * 12))),
            [],
        ),
        (
            "tensors: boolean labels",
            "tensors",
            tensors(xy(y=lambda: torch.arange(24) % 2 == 0)),
            [],
        ),
        ("tensors: mismatched lengths", "tensors", tensors(xy(y=lambda: torch.arange(23) % 2)), []),
        (
            "tensors: NaN features",
            "tensors",
            tensors(xy(x=lambda: torch.full((24, 5), float("nan")))),
            [],
        ),
        (
            "tensors: complex features",
            "tensors",
            tensors(xy(x=lambda: torch.zeros(24, 5, dtype=torch.complex64))),
            [],
        ),
        (
            "tensors: float16 features",
            "tensors",
            tensors(xy(x=lambda: torch.randn(24, 5).half())),
            [],
        ),
        ("tensors: a 0-d x", "tensors", tensors(xy(x=lambda: torch.tensor(1.0))), []),
        (
            "tensors: x with a zero-size dimension",
            "tensors",
            tensors(xy(x=lambda: torch.zeros(24, 0))),
            [],
        ),
        (
            "tensors: a sparse x",
            "tensors",
            tensors(xy(x=lambda: torch.zeros(24, 5).to_sparse())),
            [],
        ),
        ("tensors: classes of the wrong type", "tensors", tensors(xy(classes=lambda: [1, 2])), []),
        (
            "tensors: fewer classes than labels",
            "tensors",
            tensors(xy(classes=lambda: ["only"])),
            [],
        ),
        (
            "tensors: a train/val split whose val lacks a class",
            "tensors",
            tensors(
                lambda: {
                    "x_train": torch.randn(8, 3),
                    "y_train": torch.arange(8) % 2,
                    "x_val": torch.randn(4, 3),
                    "y_val": torch.zeros(4, dtype=torch.long),
                }
            ),
            [],
        ),
        (
            "tensors: a train/val split with empty val",
            "tensors",
            tensors(
                lambda: {
                    "x_train": torch.randn(8, 3),
                    "y_train": torch.arange(8) % 2,
                    "x_val": torch.zeros(0, 3),
                    "y_val": torch.zeros(0, dtype=torch.long),
                }
            ),
            [],
        ),
        (
            "tensors: .npz with extra keys",
            "tensors",
            npz(
                x=lambda: __import__("numpy").random.default_rng(0).random((24, 4)),
                y=[i % 2 for i in range(24)],
                extra=[1, 2],
            ),
            [],
        ),
        (
            "tensors: .npz with missing keys",
            "tensors",
            npz(x=lambda: __import__("numpy").zeros((24, 4))),
            [],
        ),
        (
            "tensors: .npz of strings for x",
            "tensors",
            npz(x=lambda: __import__("numpy").array(["a"] * 24), y=[i % 2 for i in range(24)]),
            [],
        ),
        ("tensors: a non-zip .npz", "tensors", raw("data.npz", b"not a zip archive\n" * 10), []),
        (
            "tensors: a truncated .npz",
            "tensors",
            lambda folder: raw(
                "data.npz",
                (
                    npz(x=lambda: __import__("numpy").zeros((24, 4)), y=[0, 1] * 12)(folder)
                ).read_bytes()[:300],
            )(folder),
            [],
        ),
        (
            "tensors: a .npy named .npz",
            "tensors",
            lambda folder: (
                __import__("numpy").save(folder / "a.npy", __import__("numpy").zeros(3)),
                raw("data.npz", (folder / "a.npy").read_bytes())(folder),
            )[1],
            [],
        ),
        ("tensors: a .pt that is a checkpoint dict", "tensors", tensors(checkpoint), []),
        ("tensors: a .pt holding a list", "tensors", tensors(lambda: [torch.zeros(2)]), []),
        (
            "tensors: a .pt with non-str keys",
            "tensors",
            tensors(lambda: {1: torch.zeros(24, 5), 2: torch.zeros(24)}),
            [],
        ),
        ("tensors: an empty file", "tensors", raw("data.pt", b""), []),
        ("tensors: a text file", "tensors", raw("data.pt", b"x,y\n1,2\n"), []),
    ]
    # seeded extras: damaged copies of the well-formed files
    for _ in range(randoms):
        keep = rng.uniform(0.05, 0.95)
        kind = rng.choice(["png", "csv", "pt"])
        if kind == "png":
            cases.append(
                (
                    f"images: PNG cut at {keep:.2f}",
                    "image-folder",
                    images(truncated("dog/r.png", "PNG", keep)),
                    [],
                )
            )
        elif kind == "csv":
            cut = good[: int(len(good) * keep)]
            cases.append((f"csv: file cut at {keep:.2f}", "csv", csv_text(cut), []))
        else:

            def cut_pt(folder: Path, keep: float = keep) -> Path:
                path = tensors(xy())(folder)
                data = path.read_bytes()
                path.write_bytes(data[: int(len(data) * keep)])
                return path

            cases.append((f"tensors: .pt cut at {keep:.2f}", "tensors", cut_pt, []))
    # a few image cases again, read by DataLoader worker processes
    parallel = (
        "zero-byte",
        "truncated PNG",
        "text file named",
        "30000x30000",
        "FIFO named",
        "well-formed folder",
        "newline and unicode",
    )
    cases += [
        (f"{label} [--num-workers 2]", source, make, [*extra, "--num-workers", "2"])
        for label, source, make, extra in list(cases)
        if source == "image-folder" and any(s in label for s in parallel)
    ]
    return cases


def channel_data_files(p: Probe, tally: Tally) -> None:
    def script(source: str) -> Path:
        def make() -> Path:
            folder = p.root / f"data-script-{source}"
            folder.mkdir()
            path = folder / "train.py"
            model, _ = DATA_SOURCES[source]
            run = p.cli(["render", "train", "--data", source, *model, "-o", str(path)])
            if run.rc != 0:
                raise SystemExit(f"cannot render train --data {source}: {run.errtext[-400:]}")
            return path

        return p.memo(("data-script", source), make)

    cases = data_cases(p.rng("data-files"), p.sizes["data_random"])

    def case(label: str, source: str, make: Callable[[Path], Path], extra: list[str]) -> Verdict:
        top = p.fresh("data")
        (top / "in").mkdir()
        data = make(top / "in")
        out = top / "run"
        before = snapshot(top / "in")
        args = [*DATA_ARGS, *DATA_SOURCES[source][1], "--data-path", str(data)]
        if "--num-workers" not in extra:
            args += ["--num-workers", "0"]
        run = p.script(script(source), [*args, *extra, "--output-dir", str(out)], top)
        verdicts: list[Verdict | None] = [crash(run)]
        marks = list(top.rglob("PWNED*"))
        if marks:
            verdicts.append(Verdict("unsafe", f"code from the data ran: {marks[0].name}"))
        changed, added = diff(before, snapshot(top / "in"))
        if changed or added:
            verdicts.append(Verdict("lost", f"the data changed: {short(changed + added, 50)}"))
        files = snapshot(out)
        litter = [
            k
            for k in files
            if Path(k).name.startswith(".tmp") or ".tmp" in k or k.endswith(".part")
        ]
        if litter:
            verdicts.append(Verdict("unsafe", f"half-written file left: {short(litter, 50)}"))
        records = metrics(out) if (out / "metrics.jsonl").exists() else []
        if records is None:
            verdicts.append(Verdict("unsafe", "metrics.jsonl has a line that is not JSON"))
        if verdicts[0] is None and run.rc == 0:
            if not records or records[-1].get("epoch") != 1:
                verdicts.append(Verdict("other", "exit 0 but metrics.jsonl lacks the epoch"))
            elif not (out / "model.pt").is_file():
                verdicts.append(Verdict("other", "exit 0 but no model.pt"))
        elif verdicts[0] is None:
            lines = run.lines
            if run.rc != 2:
                verdicts.append(Verdict("other", f"exit {run.rc}: {run.first_line}"))
            elif len(lines) != 1 or not lines[0].startswith("error: "):
                verdicts.append(
                    Verdict("other", f"exit 2 with {len(lines)} stderr lines: {run.first_line}")
                )
            else:
                verdicts.append(REFUSED)
        return worst(*verdicts)

    p.map(tally, case, p.select(cases))


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


def main(argv: list[str] | None = None) -> int:
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

    root = Path(tempfile.mkdtemp(prefix="snippetgen-probe-"))
    probe = Probe(args, root)
    tallies = []
    started = time.monotonic()
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
        return 130
    finally:
        kill_leftovers()
        if args.keep:
            print(f"probe: kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    failures = sum(t.counts[k] for t in tallies for k in FAILURES)
    errors = [e for t in tallies for e in t.probe_errors]
    if args.json:
        rows = [t.row() for t in tallies]
        totals = {key: sum(r[key] for r in rows) for key in ("tried", *SEVERITY)}
        print(
            json.dumps(
                {
                    "mode": "quick" if args.quick else "full",
                    "seed": args.seed,
                    "seconds": round(time.monotonic() - started, 1),
                    "channels": rows,
                    "totals": totals,
                    "ok": failures == 0 and not errors,
                },
                indent=2,
            )
        )
    else:
        print(table(tallies))
        for t in tallies:
            if t.examples:
                print(f"\n{t.channel} ({len(t.examples)} failing):", file=sys.stderr)
                for example in t.examples[: args.examples]:
                    print(f"  {example}", file=sys.stderr)
        print(
            f"\nprobe: {time.monotonic() - started:.0f} s, seed {args.seed}, "
            f"{'quick' if args.quick else 'full'} mode",
            file=sys.stderr,
        )
    for error in errors:
        print(f"probe error (a bug of the probe, not counted): {error}", file=sys.stderr)
    return 0 if failures == 0 and not errors else 1


def importlib_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("snippetgen") is None


if __name__ == "__main__":
    sys.exit(main())
