"""Channels 8 to 10: SIGKILL and SIGINT during training, concurrent runs into one folder,
and Ctrl-C during the CLI."""

from __future__ import annotations

import shutil
import signal
import threading
from typing import Any

from probing.common import ACCEPTED, LONGER, REFUSED, Run, Tally, Verdict, crash, short, worst
from probing.context import Probe
from probing.files import checkpoint_problem, run_matches, snapshot

# --- 8. SIGKILL / SIGINT during training -------------------------------------------------------------


def sigint_problem(run: Run, late: str = "") -> Verdict | None:
    """What is wrong with how a run ended after SIGINT (None: exit 130, saying "interrupted"):
    it died of the signal (`late` says why that may be), or exited otherwise, or said nothing."""
    if run.rc == -signal.SIGINT:
        return Verdict("other", f"died of SIGINT without 'interrupted'{late}")
    if run.rc != 130:
        return Verdict("other", f"exit {run.rc} after SIGINT: {run.first_line}")
    if "interrupted" not in run.errtext:
        return Verdict("other", f"exit 130 without 'interrupted' ({len(run.lines)} stderr lines)")
    return None


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
            late = ""
            if run.rc == -signal.SIGINT and run_matches(run_dir, ref) is None:
                late = " (after finishing the whole run)"
            verdicts.append(sigint_problem(run, late))
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
            problem = sigint_problem(run)
            if problem is not None:
                verdicts.append(problem)
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
