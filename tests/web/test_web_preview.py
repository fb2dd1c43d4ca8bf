"""The composer's live preview is sent as the lines that changed since the preview the page
shows: the edits always rebuild the new preview exactly, a page that names a preview the server
does not hold gets the whole, and the preview a page ends up showing is the CLI's render."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from html import unescape
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from helpers import ROOT
from snippetgen.codegen import digests
from snippetgen.recipes.catalog import load_catalog
from snippetgen.web import preview
from snippetgen.web.app import SHOWN_HEADER, create_app
from snippetgen.web.preview import Previews, apply, patch

CATALOG = load_catalog()
HOUR_AGO = time.time() - 3600
MIXUP = [("recipe", "mixup"), ("with", "warmup")]

# Lines drawn from a small alphabet, so that the two sides share many of them.
line_lists = st.lists(st.sampled_from(["a", "b", "c", "d", "", "<span>x</span>"]), max_size=40)


@settings(max_examples=400, deadline=None)
@given(old=line_lists, new=line_lists)
def test_edits_rebuild_the_new_lines_exactly(old: list[str], new: list[str]) -> None:
    edits = patch(old, new)
    assert apply(old, edits) == new
    stops = [-1]
    for start, stop, _ in edits:  # in order and apart: the page applies them last first
        assert stops[-1] <= start <= stop <= len(old)
        stops.append(stop)
    if old == new:
        assert edits == []


@settings(max_examples=200, deadline=None)
@given(old=line_lists, where=st.data())
def test_a_changed_line_is_sent_alone(old: list[str], where: st.DataObject) -> None:
    if not old:
        return
    i = where.draw(st.integers(0, len(old) - 1))
    new = [*old[:i], old[i] + " changed", *old[i + 1 :]]
    assert patch(old, new) == [(i, i + 1, [new[i]])]


def test_previews_keep_the_latest() -> None:
    kept = Previews(size=2)
    kept.put("a", ("1",))
    kept.put("b", ("2",))
    assert kept.get("a") == ("1",)  # used: now the latest
    kept.put("c", ("3",))
    assert kept.get("b") is None
    assert kept.get("a") == ("1",) and kept.get("c") == ("3",)


@pytest.fixture()
def client() -> TestClient:
    return TestClient(create_app(CATALOG), base_url="http://127.0.0.1")


def text(html: str) -> str:
    """The code highlighted HTML shows."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def ask(client: TestClient, alpha: str, shown: str | None = None) -> dict:
    headers = {SHOWN_HEADER: shown} if shown is not None else {}
    got = client.get("/api/preview", params=[*MIXUP, ("alpha", alpha)], headers=headers)
    assert got.status_code == 200, got.text
    return got.json()


def test_a_page_is_sent_only_what_changed(client: TestClient) -> None:
    first = ask(client, "0.4")
    assert re.fullmatch(r"[0-9a-f]{64}", first["key"]) and "edits" not in first
    second = ask(client, "0.2", shown=first["key"])
    assert "html" not in second and second["base"] == first["key"]
    # the header's command and the option's default: two lines out of a thousand
    assert [stop - start for start, stop, _ in second["edits"]] == [1, 1]
    whole = ask(client, "0.2")["html"]
    assert apply(first["html"].split("\n"), second["edits"]) == whole.split("\n")
    assert second["command"] == "snippetgen render mixup --with warmup --alpha 0.2"
    # the same preview again: nothing to send
    assert ask(client, "0.2", shown=second["key"])["edits"] == []


@pytest.mark.parametrize(
    "shown",
    ["0" * 64, "not a key", "", "../" * 30, "A" * 64, "<script>", "f" * 65],
)
def test_a_preview_the_server_does_not_hold_is_sent_whole(client: TestClient, shown: str) -> None:
    got = ask(client, "0.3", shown=shown)
    assert "edits" not in got and "base" not in got
    assert "default=0.3" in text(got["html"])


def test_a_forgotten_preview_is_sent_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preview, "KEPT", 2)
    client = TestClient(create_app(CATALOG), base_url="http://127.0.0.1")
    first = ask(client, "0.4")
    ask(client, "0.3")
    ask(client, "0.2")  # the server keeps two previews: 0.4 is gone
    got = ask(client, "0.1", shown=first["key"])
    assert "edits" not in got and "default=0.1" in text(got["html"])


def test_what_the_page_rebuilds_is_the_cli_render(client: TestClient) -> None:
    """A page that follows a user's changes edit by edit shows the CLI's script."""
    got = ask(client, "0.4")
    lines, key = got["html"].split("\n"), got["key"]
    for alpha in ["0.45", "0.5", "12", "0.4", "0.2"]:
        got = ask(client, alpha, shown=key)
        lines = apply(lines, got["edits"]) if "edits" in got else got["html"].split("\n")
        key = got["key"]
    shown = text("\n".join(lines))
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "snippetgen",
            "render",
            "mixup",
            "--with",
            "warmup",
            "--alpha",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert shown.strip() == cli.stdout.strip()


def test_an_edited_template_is_seen_by_the_next_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server remembers folder digests, yet an edit that keeps a template's size and
    modification time still gives a new preview."""
    folder = tmp_path / "recipes" / "mixup"
    shutil.copytree(ROOT / "templates" / "mixup", folder)
    template = folder / "feature.py.j2"
    os.utime(template, (HOUR_AGO, HOUR_AGO))
    monkeypatch.setattr(digests, "_clock", lambda: time.time_ns() + 3600 * 10**9)  # trusted
    client = TestClient(create_app(load_catalog([folder.parent])), base_url="http://127.0.0.1")
    first = ask(client, "0.4")
    assert ask(client, "0.4", shown=first["key"])["edits"] == []
    time.sleep(0.05)  # past a tick of the file system's clock
    template.write_text(template.read_text().replace("blend every", "blend EVERY"))
    os.utime(template, (HOUR_AGO, HOUR_AGO))
    got = ask(client, "0.4", shown=first["key"])
    assert got["key"] != first["key"]
    assert [text(line) for _, _, lines in got["edits"] for line in lines] == [
        '    """Mixup: blend EVERY sample with a partner from the same batch.'
    ]
