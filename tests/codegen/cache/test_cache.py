"""The render cache: repeated renders skip Jinja and black, and a stale render is never served.

Every test points XDG_CACHE_HOME at its own temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from helpers import cache_entries
from processes import run_cli
from snippetgen import load_catalog
from snippetgen.codegen import cache, cache_folder, templating
from snippetgen.codegen.rendering import RenderRequest, render
from snippetgen.errors import RecipeBug


def test_repeated_render_is_served_from_the_cache(renders_dir, monkeypatch):
    first = render(RenderRequest("mixup", {"alpha": 0.3}))
    assert len(cache_entries(renders_dir)) == 1
    monkeypatch.setattr(templating, "render_source", None)  # any real render would crash
    from snippetgen.codegen import codecheck

    monkeypatch.setattr(codecheck, "verify", None)
    assert render(RenderRequest("mixup", {"alpha": 0.3})) == first
    assert len(cache_entries(renders_dir)) == 1


def test_parameters_features_and_command_are_part_of_the_key(renders_dir):
    a = render(RenderRequest("mixup", {"alpha": 0.3}))
    b = render(RenderRequest("mixup", {"alpha": 0.4}))
    c = render(RenderRequest("train", {"alpha": 0.3}, with_=["mixup"]))
    d = render(RenderRequest("train"))
    assert len({a, b, c, d}) == 4 and len(cache_entries(renders_dir)) == 4
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
    assert len(cache_entries(renders_dir)) == 2


def test_editing_recipe_metadata_or_adding_a_file_changes_the_key(user_recipe, renders_dir):
    render(RenderRequest("greet"), load_catalog())
    meta = user_recipe / "recipe.toml"
    meta.write_text(meta.read_text().replace("default = 1", "default = 3"))
    assert "range(3)" in render(RenderRequest("greet"), load_catalog())
    (user_recipe / "NOTES.md").write_text("any file of the folder counts\n")
    render(RenderRequest("greet"), load_catalog())
    assert len(cache_entries(renders_dir)) == 3


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
    (entry,) = cache_entries(renders_dir)
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
    assert [p.name for p in renders_dir.iterdir()] == [cache_entries(renders_dir)[0].name]

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
    assert len(cache_entries(renders_dir)) == 1
    assert cache.clear() == 1 and cache_entries(renders_dir) == []


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
    assert cache_entries(renders_dir) == []


def test_failed_renders_are_not_cached(user_recipe, renders_dir):
    (user_recipe / "snippet.py.j2").write_text("import os\n")
    with pytest.raises(RecipeBug):
        render(RenderRequest("greet"), load_catalog())
    assert cache_entries(renders_dir) == []


def test_prune_keeps_the_most_recently_used(renders_dir):
    renders_dir.mkdir(parents=True)
    recent = time.time() - 3600
    for i in range(12):
        path = renders_dir / f"{i:064x}.py"
        path.write_text("x\n")
        os.utime(path, (recent + i, recent + i))
    assert cache.prune(renders_dir, limit=8) == 6  # down to 3/4 of the limit
    assert [p.stem[-1] for p in cache_entries(renders_dir)] == list("6789ab")


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


# --- attacks on the real cache folder, through the real CLI -----------------------------------


def test_an_entry_copied_under_another_key_is_never_served(renders_dir):
    """A render's entry renamed to another key's name (a swapped entry, checksum intact)."""
    alpha3 = run_cli("render", "mixup", "--alpha", "0.3")
    (entry_3,) = cache_entries(renders_dir)
    alpha5 = run_cli("render", "mixup", "--alpha", "0.5")
    (entry_5,) = [e for e in cache_entries(renders_dir) if e != entry_3]
    assert alpha3.stdout != alpha5.stdout
    shutil.copyfile(entry_3, entry_5)  # --alpha 0.5 now finds the 0.3 render under its key
    assert cache.load(entry_5.stem) is None and not entry_5.exists()  # a miss, and dropped
    shutil.copyfile(entry_3, entry_5)
    again = run_cli("render", "mixup", "--alpha", "0.5")
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
    good = run_cli("render", "mixup").stdout
    (entry,) = cache_entries(renders_dir)
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
    proc = run_cli("render", "mixup", timeout=60)
    assert proc.returncode == 0 and proc.stdout == good
    if damage == "folder":
        assert entry.is_dir()  # left alone: the render is simply not cached
    else:  # replaced by the fresh render's entry (the symlink itself, not what it points to)
        assert not entry.is_symlink() and entry.read_bytes() == valid
    if damage == "symlink":
        assert "evil" in elsewhere.read_text()
