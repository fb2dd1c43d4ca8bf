"""Channels 5 and 6: `-o` targets, and damage to the render cache."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from probing.common import ACCEPTED, REFUSED, Tally, Verdict, crash, refusal, short, worst
from probing.context import Probe
from probing.files import diff, snapshot
from probing.recipe_cases import _sparse

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
