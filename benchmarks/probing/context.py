"""The probe's context: options, seeded randomness, counts, temporary folders and memoised
reference renders and runs."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from probing.common import CLI, PY, SIZES, Run, Runner, Tally, Verdict, short

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
