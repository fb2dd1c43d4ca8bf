"""Channel 7: damaged and crafted checkpoints and weight files."""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from probing.common import ACCEPTED, REFUSED, TINY, Tally, Verdict, crash, short, worst
from probing.context import Probe
from probing.files import _torch, appended, diff, load_pt, run_matches, snapshot

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
