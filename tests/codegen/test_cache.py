"""The render cache: repeated renders skip Jinja and black, and a stale render is never served.

Every test points XDG_CACHE_HOME at its own temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest

from helpers import ROOT
from snippetgen import load_catalog
from snippetgen.codegen import cache, cache_folder, templating, toml_cache
from snippetgen.codegen.rendering import RenderRequest, render
from snippetgen.errors import RecipeBug


@pytest.fixture(autouse=True)
def renders_dir(tmp_path, monkeypatch) -> Path:
    """This test's own cache: $XDG_CACHE_HOME/snippetgen/renders under tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SNIPPETGEN_NO_CACHE", raising=False)
    return tmp_path / "xdg" / "snippetgen" / "renders"


@pytest.fixture(autouse=True)
def recipes_root(tmp_path, monkeypatch) -> Path:
    """Frozen copies of the built-in recipes these tests render, first on SNIPPETGEN_PATH.

    Other work may edit the built-in templates while the suite runs; comparing two renders
    of a folder that changed in between would (rightly) give different code.
    """
    root = tmp_path / "recipes"
    for name in ("train", "mixup", "reproducible"):
        shutil.copytree(ROOT / "templates" / name, root / name)
    monkeypatch.setenv("SNIPPETGEN_PATH", str(root))
    return root


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.py")) if folder.is_dir() else []


@pytest.fixture()
def user_recipe(recipes_root):
    """A snippet recipe in the SNIPPETGEN_PATH folder, to be edited by the test."""
    folder = recipes_root / "greet"
    folder.mkdir()
    (folder / "recipe.toml").write_text(
        textwrap.dedent("""\
        name = "greet"
        kind = "snippet"
        title = "Greet"
        summary = "Prints a greeting."

        [[params]]
        name = "times"
        type = "int"
        default = 1
        min = 1
        max = 10
        help = "how often"
    """)
    )
    (folder / "snippet.py.j2").write_text('for _ in range({{ p.times }}):\n    print("hello")\n')
    return folder


def test_repeated_render_is_served_from_the_cache(renders_dir, monkeypatch):
    first = render(RenderRequest("mixup", {"alpha": 0.3}))
    assert len(entries(renders_dir)) == 1
    monkeypatch.setattr(templating, "render_source", None)  # any real render would crash
    from snippetgen.codegen import codecheck

    monkeypatch.setattr(codecheck, "verify", None)
    assert render(RenderRequest("mixup", {"alpha": 0.3})) == first
    assert len(entries(renders_dir)) == 1


def test_parameters_features_and_command_are_part_of_the_key(renders_dir):
    a = render(RenderRequest("mixup", {"alpha": 0.3}))
    b = render(RenderRequest("mixup", {"alpha": 0.4}))
    c = render(RenderRequest("train", {"alpha": 0.3}, with_=["mixup"]))
    d = render(RenderRequest("train"))
    assert len({a, b, c, d}) == 4 and len(entries(renders_dir)) == 4
    assert "default=0.4" in b and "default=0.3" in a and "mix_batch" not in d
    e = render(RenderRequest("train", with_=["reproducible", "mixup"]))
    f = render(RenderRequest("train", with_=["mixup", "reproducible"]))
    assert e.splitlines()[0].endswith("--with reproducible --with mixup")
    assert f.splitlines()[0].endswith("--with mixup --with reproducible")
    assert e.splitlines()[1:] == f.splitlines()[1:]


def test_editing_a_template_is_never_served_stale(user_recipe, renders_dir):
    catalog = load_catalog()
    before = render(RenderRequest("greet"), catalog)
    (user_recipe / "snippet.py.j2").write_text(
        'for _ in range({{ p.times }}):\n    print("bonjour")\n'
    )
    after = render(RenderRequest("greet"), load_catalog())
    assert "hello" in before and "bonjour" in after and "hello" not in after
    assert len(entries(renders_dir)) == 2


def test_editing_recipe_metadata_or_adding_a_file_changes_the_key(user_recipe, renders_dir):
    render(RenderRequest("greet"), load_catalog())
    meta = user_recipe / "recipe.toml"
    meta.write_text(meta.read_text().replace("default = 1", "default = 3"))
    assert "range(3)" in render(RenderRequest("greet"), load_catalog())
    (user_recipe / "NOTES.md").write_text("any file of the folder counts\n")
    render(RenderRequest("greet"), load_catalog())
    assert len(entries(renders_dir)) == 3


def test_editing_the_base_skeleton_is_never_served_stale(recipes_root, renders_dir):
    before = render(RenderRequest("mixup"), load_catalog())
    skeleton = recipes_root / "train" / "feature.py.j2"
    skeleton.write_text(
        skeleton.read_text().replace(
            '"""Seed every random number generator the script uses."""',
            '"""Seed every generator (edited)."""',
        )
    )
    after = render(RenderRequest("mixup"), load_catalog())
    assert "(edited)" in after and "(edited)" not in before


def test_key_covers_snippetgen_itself_and_the_formatter_versions(recipes_root, monkeypatch):
    folders = [recipes_root / "mixup"]
    key = cache.render_key("# header\n", folders, {"alpha": 0.2})
    assert key == cache.render_key("# header\n", folders, {"alpha": 0.2})
    assert key != cache.render_key("# other\n", folders, {"alpha": 0.2})
    assert key != cache.render_key("# header\n", folders, {"alpha": 0.25})
    monkeypatch.setattr(cache, "_tool_digest", lambda: "another snippetgen or black")
    assert key != cache.render_key("# header\n", folders, {"alpha": 0.2})


@pytest.mark.parametrize(
    "damage",
    ["truncate", "garbage", "edited-body", "binary", "empty", "wrong-magic"],
)
def test_corrupt_entries_are_ignored_and_replaced(renders_dir, damage):
    good = render(RenderRequest("mixup"))
    (entry,) = entries(renders_dir)
    data = entry.read_bytes()
    damaged = {
        "truncate": data[: len(data) // 2],
        "garbage": b"this is not a cache entry",
        "edited-body": data.replace(b"mix_batch", b"os.system", 1),
        "binary": b"\xff\xfe\x00" * 100,
        "empty": b"",
        "wrong-magic": data.replace(b"# snippetgen render cache", b"# something else", 1),
    }[damage]
    entry.write_bytes(damaged)
    assert cache.load(entry.stem) is None
    assert render(RenderRequest("mixup")) == good
    assert entry.read_bytes() == data  # rewritten by the fresh render


def test_writes_are_atomic_and_leave_no_temporary_files(renders_dir, monkeypatch):
    render(RenderRequest("mixup"))
    assert [p.name for p in renders_dir.iterdir()] == [entries(renders_dir)[0].name]

    def interrupted_replace(src, dst):
        raise KeyboardInterrupt

    real_replace = os.replace
    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        cache.store("0" * 64, "x = 1\n")
    monkeypatch.setattr(os, "replace", real_replace)
    assert not (renders_dir / f"{'0' * 64}.py").exists()
    assert len(list(renders_dir.iterdir())) == 1  # no .part file left behind


def test_an_unwritable_cache_only_means_no_caching(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    code = render(RenderRequest("mixup"))
    assert render(RenderRequest("mixup")) == code
    assert blocker.read_text().startswith("a file")


def test_safe_to_delete_at_any_time(renders_dir):
    first = render(RenderRequest("mixup"))
    shutil.rmtree(renders_dir.parent)
    assert render(RenderRequest("mixup")) == first
    assert len(entries(renders_dir)) == 1
    assert cache.clear() == 1 and entries(renders_dir) == []


def test_location_follows_xdg_and_defaults_to_home_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_folder.cache_dir() == tmp_path / "x" / "snippetgen" / "renders"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder.cache_dir() == tmp_path / "home" / ".cache" / "snippetgen" / "renders"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec says: ignore it
    assert cache_folder.cache_dir() == tmp_path / "home" / ".cache" / "snippetgen" / "renders"


def test_no_cache_switch(renders_dir, monkeypatch):
    monkeypatch.setenv("SNIPPETGEN_NO_CACHE", "1")
    render(RenderRequest("mixup"))
    assert entries(renders_dir) == []


def test_failed_renders_are_not_cached(user_recipe, renders_dir):
    (user_recipe / "snippet.py.j2").write_text("import os\n")
    with pytest.raises(RecipeBug):
        render(RenderRequest("greet"), load_catalog())
    assert entries(renders_dir) == []


def test_prune_keeps_the_most_recently_used(renders_dir):
    renders_dir.mkdir(parents=True)
    recent = time.time() - 3600
    for i in range(12):
        path = renders_dir / f"{i:064x}.py"
        path.write_text("x\n")
        os.utime(path, (recent + i, recent + i))
    assert cache.prune(renders_dir, limit=8) == 6  # down to 3/4 of the limit
    assert [p.stem[-1] for p in entries(renders_dir)] == list("6789ab")


def test_prune_removes_stale_entries_and_leftover_temporaries_only(renders_dir):
    renders_dir.mkdir(parents=True)
    month_ago = time.time() - (cache_folder.STALE_DAYS + 1) * 86400
    stale, fresh = renders_dir / f"{1:064x}.py", renders_dir / f"{2:064x}.py"
    old_part, new_part = renders_dir / ".tmp-old.part", renders_dir / ".tmp-new.part"
    for path in (stale, fresh, old_part, new_part):
        path.write_text("x\n")
    for path in (stale, old_part):
        os.utime(path, (month_ago, month_ago))
    outside = renders_dir.parent / "outside.py"
    outside.write_text("not the cache's\n")
    os.utime(outside, (month_ago, month_ago))
    (renders_dir / f"{3:064x}.py").symlink_to(outside)  # never followed, never removed
    assert cache.prune(renders_dir) == 2
    assert sorted(p.name for p in renders_dir.iterdir()) == sorted(
        [fresh.name, new_part.name, f"{3:064x}.py"]
    )
    assert outside.read_text() == "not the cache's\n"


def test_warm_cli_render_imports_neither_jinja_nor_black(tmp_path):
    # built-in recipes only: with user recipes on the path, `render` also parses their
    # templates with Jinja (snippetgen.recipes.userrecipes.check_templates) before rendering
    env = {k: v for k, v in os.environ.items() if k != "SNIPPETGEN_PATH"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    probe = (
        "import sys\nfrom snippetgen.cli import main\nsys.argv = ['snippetgen', *sys.argv[1:]]\n"
        "try:\n    main()\nfinally:\n    import json\n"
        "    print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'jinja2', 'black', 'torch'})), file=sys.stderr)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe, "render", "mixup", "--alpha", "0.3"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0]
    assert runs[0].stdout == runs[1].stdout
    assert json.loads(runs[0].stderr.splitlines()[-1]) == ["black", "jinja2"]  # cold
    assert json.loads(runs[1].stderr.splitlines()[-1]) == []  # warm: straight from the cache


# --- parsed recipe.toml files ----------------------------------------------------------------


@pytest.fixture()
def fresh_toml_memo(monkeypatch):
    """As if in a new process: nothing parsed yet, nothing to save."""
    monkeypatch.setattr(toml_cache, "_toml_memo", None)
    monkeypatch.setattr(toml_cache, "_toml_used", set())
    monkeypatch.setattr(toml_cache, "_toml_dirty", False)


def test_parsed_toml_is_reused_across_runs_and_never_stale(fresh_toml_memo, monkeypatch):
    import tomllib

    text = 'name = "x"\nnumbers = [1, 2.5]\n[docs]\nwhen = "always"\n'
    assert toml_cache.load_toml(text) == tomllib.loads(text)
    toml_cache.flush()  # what the CLI does on exit
    index = cache_folder.cache_dir().parent / toml_cache._TOML_INDEX
    assert index.is_file()
    monkeypatch.setattr(toml_cache, "_toml_memo", None)  # a new process

    def no_parsing(_text):
        raise AssertionError("parsed again")

    monkeypatch.setattr(tomllib, "loads", no_parsing)
    first = toml_cache.load_toml(text)
    assert first == {"name": "x", "numbers": [1, 2.5], "docs": {"when": "always"}}
    first["name"] = "changed by the caller"
    assert toml_cache.load_toml(text)["name"] == "x"  # callers get their own copy
    with pytest.raises(AssertionError, match="parsed again"):
        toml_cache.load_toml(text.replace('"x"', '"y"'))  # edited text: a new key, parsed afresh


def test_a_damaged_toml_index_is_ignored(fresh_toml_memo):
    index = cache_folder.cache_dir().parent / toml_cache._TOML_INDEX
    index.parent.mkdir(parents=True)
    index.write_text('{"not": "a table", "truncated": {')
    assert toml_cache.load_toml("a = 1\n") == {"a": 1}
    toml_cache.flush()
    assert json.loads(index.read_text())  # rewritten whole
    assert cache.clear() == 0 and not index.exists()


def test_toml_errors_still_raise_and_are_not_kept(fresh_toml_memo):
    import tomllib

    with pytest.raises(tomllib.TOMLDecodeError):
        toml_cache.load_toml("name = \n")
    toml_cache.flush()
    assert not (cache_folder.cache_dir().parent / toml_cache._TOML_INDEX).exists()


def test_library_use_writes_no_toml_index(fresh_toml_memo):
    load_catalog()
    assert not (cache_folder.cache_dir().parent / toml_cache._TOML_INDEX).exists()


# --- attacks on the real cache folder, through the real CLI -----------------------------------


def cli_run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m snippetgen ARGS` with this test's cache (XDG_CACHE_HOME is set)."""
    return subprocess.run(
        [sys.executable, "-m", "snippetgen", *args], capture_output=True, text=True, timeout=timeout
    )


def test_an_entry_copied_under_another_key_is_never_served(renders_dir):
    """A render's entry renamed to another key's name (a swapped entry, checksum intact)."""
    alpha3 = cli_run("render", "mixup", "--alpha", "0.3")
    (entry_3,) = entries(renders_dir)
    alpha5 = cli_run("render", "mixup", "--alpha", "0.5")
    (entry_5,) = [e for e in entries(renders_dir) if e != entry_3]
    assert alpha3.stdout != alpha5.stdout
    shutil.copyfile(entry_3, entry_5)  # --alpha 0.5 now finds the 0.3 render under its key
    assert cache.load(entry_5.stem) is None and not entry_5.exists()  # a miss, and dropped
    shutil.copyfile(entry_3, entry_5)
    again = cli_run("render", "mixup", "--alpha", "0.5")
    assert again.returncode == 0 and again.stdout == alpha5.stdout
    assert cache.load(entry_5.stem) == alpha5.stdout  # rewritten as its own


def _valid_entry(key: str, text: str) -> bytes:
    body = text.encode()
    return f"{cache._MAGIC}{key}{cache._SUM}{cache._checksum(key, body)}\n".encode() + body


@pytest.mark.parametrize("damage", ["fifo", "symlink", "folder", "oversized"])
def test_entries_that_are_not_small_regular_files_are_ignored(renders_dir, tmp_path, damage):
    """A FIFO in place of an entry must not block the render (a real process, with a
    timeout); a symlink, even to a valid entry, is not followed; a folder is skipped; a
    valid entry over MAX_ENTRY_BYTES is not read."""
    good = cli_run("render", "mixup").stdout
    (entry,) = entries(renders_dir)
    valid = entry.read_bytes()
    entry.unlink()
    if damage == "fifo":
        os.mkfifo(entry)
    elif damage == "symlink":
        elsewhere = tmp_path / "elsewhere.py"
        elsewhere.write_bytes(_valid_entry(entry.stem, "import os\nos.system('evil')\n"))
        entry.symlink_to(elsewhere)
    elif damage == "folder":
        entry.mkdir()
    else:
        padded = good + "#" * cache.MAX_ENTRY_BYTES + "\n"
        entry.write_bytes(_valid_entry(entry.stem, padded))
    proc = cli_run("render", "mixup", timeout=60)
    assert proc.returncode == 0 and proc.stdout == good
    if damage == "folder":
        assert entry.is_dir()  # left alone: the render is simply not cached
    else:  # replaced by the fresh render's entry (the symlink itself, not what it points to)
        assert not entry.is_symlink() and entry.read_bytes() == valid
    if damage == "symlink":
        assert "evil" in elsewhere.read_text()


# --- the parsed recipe.toml index under attack -------------------------------------------------


def _index() -> Path:
    return cache_folder.cache_dir().parent / toml_cache._TOML_INDEX


def _tables() -> dict:
    return json.loads(_index().read_text())["tables"]


def test_an_edited_or_swapped_parsed_table_is_a_miss(fresh_toml_memo, recipes_root):
    listed = cli_run("list", "--json")
    assert listed.returncode == 0
    tables = _tables()
    mixup_text = (recipes_root / "mixup" / "recipe.toml").read_text()
    train_text = (recipes_root / "train" / "recipe.toml").read_text()
    mixup, train = toml_cache._toml_key(mixup_text), toml_cache._toml_key(train_text)
    assert {mixup, train} <= set(tables)
    # swap: train's table (and its check) under mixup's key; edit: change train's summary
    tables[mixup] = dict(tables[train])
    edited = json.loads(tables[train]["table"])
    edited["summary"] = "edited in the cache"
    tables[train]["table"] = json.dumps(edited)
    _index().write_text(json.dumps({"tables": tables}))
    again = cli_run("list", "--json")
    assert again.returncode == 0 and again.stdout == listed.stdout
    assert "edited in the cache" not in again.stdout
    assert toml_cache.load_toml(mixup_text) == tomllib.loads(mixup_text)  # in-process, too
    repaired = _tables()  # the next run's save: both parsed again and stored as their own
    assert json.loads(repaired[mixup]["table"])["name"] == "mixup"
    assert json.loads(repaired[train]["table"])["summary"] != "edited in the cache"


@pytest.mark.parametrize("damage", ["fifo", "symlink", "folder", "oversized"])
def test_an_index_that_is_not_a_small_regular_file_is_ignored(tmp_path, damage):
    listed = cli_run("list")
    index = _index()
    saved = index.read_text()
    index.unlink()
    if damage == "fifo":
        os.mkfifo(index)
    elif damage == "symlink":
        (tmp_path / "elsewhere.json").write_text(saved)
        index.symlink_to(tmp_path / "elsewhere.json")
    elif damage == "folder":
        index.mkdir()
    else:
        index.write_text(saved[:-1] + " " * toml_cache._TOML_BUDGET + "}")
    proc = cli_run("list", timeout=60)
    assert proc.returncode == 0 and proc.stdout == listed.stdout and proc.stderr == ""
    if damage != "folder":
        assert not index.is_symlink() and json.loads(index.read_text())["tables"]
        assert index.stat().st_size < len(saved) * 2


def test_the_index_forgets_huge_edited_deleted_and_unused_recipes(
    fresh_toml_memo, recipes_root, user_recipe
):
    meta = user_recipe / "recipe.toml"
    plain = meta.read_text()
    huge = plain + "".join(f"# padding line {i}\n" for i in range(6000))
    assert len(huge) > toml_cache._TOML_MAX_TEXT
    meta.write_text(huge)
    assert cli_run("list").returncode == 0
    assert toml_cache._toml_key(huge) not in _tables()  # parsed every time, never kept
    assert _index().stat().st_size < 200_000

    meta.write_text(plain.replace("Prints a greeting.", "Version one."))
    assert cli_run("list").returncode == 0
    one = toml_cache._toml_key(meta.read_text())
    assert one in _tables() and _tables()[one]["paths"] == [str(meta)]
    meta.write_text(plain.replace("Prints a greeting.", "Version two."))
    assert "Version two." in cli_run("list").stdout
    two = toml_cache._toml_key(meta.read_text())
    assert two in _tables() and one not in _tables()  # the older version of the same file

    tables = _tables()
    for text, age in (("old = 1\n", cache_folder.STALE_DAYS + 1), ("recent = 1\n", 1)):
        key = toml_cache._toml_key(text)  # read by some other run (another SNIPPETGEN_PATH)
        table = json.dumps(tomllib.loads(text))
        tables[key] = {
            "table": table,
            "check": toml_cache._toml_check(key, table),
            "used": toml_cache._today() - age,
            "paths": [],
        }
    # last saved yesterday: the first run of a day saves, and so prunes, the index
    _index().write_text(json.dumps({"pruned": toml_cache._today() - 1, "tables": tables}))
    shutil.rmtree(user_recipe)
    assert cli_run("list").returncode == 0
    assert two not in _tables()  # its file is gone
    assert toml_cache._toml_key("old = 1\n") not in _tables()  # not used for a month
    assert toml_cache._toml_key("recent = 1\n") in _tables()
    assert toml_cache._toml_key((recipes_root / "train" / "recipe.toml").read_text()) in _tables()
