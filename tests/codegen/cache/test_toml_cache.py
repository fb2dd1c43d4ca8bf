"""The parsed recipe.toml files kept beside the render cache (snippetgen.codegen.toml_cache):
reused across runs and never stale, and refused, not used, when their index is damaged."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import pytest

from processes import run_cli
from snippetgen import load_catalog
from snippetgen.codegen import cache, cache_folder, toml_cache

# --- parsed recipe.toml files ----------------------------------------------------------------


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


# --- the parsed recipe.toml index under attack -------------------------------------------------


def _index() -> Path:
    return cache_folder.cache_dir().parent / toml_cache._TOML_INDEX


def _tables() -> dict:
    return json.loads(_index().read_text())["tables"]


def test_an_edited_or_swapped_parsed_table_is_a_miss(fresh_toml_memo, recipes_root):
    listed = run_cli("list", "--json")
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
    again = run_cli("list", "--json")
    assert again.returncode == 0 and again.stdout == listed.stdout
    assert "edited in the cache" not in again.stdout
    assert toml_cache.load_toml(mixup_text) == tomllib.loads(mixup_text)  # in-process, too
    repaired = _tables()  # the next run's save: both parsed again and stored as their own
    assert json.loads(repaired[mixup]["table"])["name"] == "mixup"
    assert json.loads(repaired[train]["table"])["summary"] != "edited in the cache"


@pytest.mark.parametrize("damage", ["fifo", "symlink", "folder", "oversized"])
def test_an_index_that_is_not_a_small_regular_file_is_ignored(tmp_path, damage):
    listed = run_cli("list")
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
    proc = run_cli("list", timeout=60)
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
    assert run_cli("list").returncode == 0
    assert toml_cache._toml_key(huge) not in _tables()  # parsed every time, never kept
    assert _index().stat().st_size < 200_000

    meta.write_text(plain.replace("Prints a greeting.", "Version one."))
    assert run_cli("list").returncode == 0
    one = toml_cache._toml_key(meta.read_text())
    assert one in _tables() and _tables()[one]["paths"] == [str(meta)]
    meta.write_text(plain.replace("Prints a greeting.", "Version two."))
    assert "Version two." in run_cli("list").stdout
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
    assert run_cli("list").returncode == 0
    assert two not in _tables()  # its file is gone
    assert toml_cache._toml_key("old = 1\n") not in _tables()  # not used for a month
    assert toml_cache._toml_key("recent = 1\n") in _tables()
    assert toml_cache._toml_key((recipes_root / "train" / "recipe.toml").read_text()) in _tables()
