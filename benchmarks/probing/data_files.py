"""Channel 11: hostile data files read by generated scripts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from probing.common import REFUSED, Tally, Verdict, crash, short, worst
from probing.context import Probe
from probing.data_cases import data_cases
from probing.data_makers import DATA_ARGS, DATA_SOURCES
from probing.files import diff, metrics, snapshot


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
