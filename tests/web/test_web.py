"""The web composer (snippetgen serve), in process: every page, the JSON API and every
download, checked against what the CLI does for the same selection; and its refusals."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from html import unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from helpers import import_or_skip
from snippetgen.recipes.catalog import load_catalog  # noqa: E402
from snippetgen.web.app import create_app  # noqa: E402
from snippetgen.web.selection import MAX_QUERY_BYTES  # noqa: E402

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(CATALOG), base_url="http://127.0.0.1")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snippetgen", *args], capture_output=True, text=True, timeout=120
    )


def cli_sentence(*args: str) -> str:
    """The sentence the CLI refuses `args` with (after 'error: ')."""
    result = cli(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ")
    return result.stderr.removeprefix("error: ").strip()


# --- search and recipe pages -------------------------------------------------------------------


@pytest.mark.parametrize("query", ["标签平滑", "warmup", "断点续训", "mix up"])
def test_search_ranks_like_the_cli(client: TestClient, query: str) -> None:
    got = client.get("/api/search", params={"q": query})
    assert got.status_code == 200
    web = [row["name"] for row in got.json()]
    result = cli("search", query, "--json", "--limit", "12")
    assert web == [row["name"] for row in json.loads(result.stdout)]
    assert web, query


def test_chinese_search_finds_label_smoothing_first(client: TestClient) -> None:
    assert (
        client.get("/api/search", params={"q": "标签平滑"}).json()[0]["name"] == "label-smoothing"
    )
    page = client.get("/", params={"q": "标签平滑"}).text
    assert page.index('href="/recipe/label-smoothing"') < page.index('href="/recipe/one-hot"')


def test_the_index_lists_every_recipe(client: TestClient) -> None:
    page = client.get("/").text
    for recipe in CATALOG:
        assert f'href="/recipe/{recipe.name}"' in page


def test_every_recipe_has_a_page_and_a_composer(client: TestClient) -> None:
    for recipe in CATALOG:
        sheet = client.get(f"/recipe/{recipe.name}")
        assert sheet.status_code == 200, (recipe.name, sheet.text[-300:])
        assert unescape(recipe.summary) in unescape(sheet.text)
        for pitfall in recipe.pitfalls:
            assert pitfall in unescape(sheet.text)
        page = client.get("/compose", params={"recipe": recipe.name})
        assert page.status_code == 200, recipe.name
        assert 'data-state="ready"' in page.text, (recipe.name, _alert(page.text))


def _alert(page: str) -> str:
    found = re.findall(r'role="alert"[^>]*>([^<]+)<', page)
    return " | ".join(found)


def test_schedule_pages_draw_the_curve_for_the_values_asked(client: TestClient) -> None:
    from snippetgen.lookup.lrplot import lr_curve

    page = client.get("/recipe/warmup", params={"epochs": "12", "warmup-epochs": "3"}).text
    svg = re.search(r"<svg .*?</svg>", page, re.S)
    assert svg is not None
    points = re.search(r'<polyline class="curve" fill="none" points="([^"]+)"', svg.group(0))
    assert points is not None and len(points.group(1).split()) == 12
    values = {**{p.name: p.default for p in CATALOG.base.params}, "epochs": 12}
    values |= {p.name: p.default for p in CATALOG.get("warmup").params} | {"warmup-epochs": 3}
    rates, _ = lr_curve("warmup", values)
    assert rates is not None
    titles = re.findall(r"<title>epoch (\d+): ([^<]+)</title>", svg.group(0))
    assert [float(v) for _, v in titles] == [float(f"{r:.3g}") for r in rates]
    step = client.get("/recipe/lr-schedule", params={"kind": "step", "epochs": "9"}).text
    assert step.count("<circle") == 9


def test_a_bad_curve_value_gets_the_cli_sentence(client: TestClient) -> None:
    page = client.get("/recipe/warmup", params={"warmup-epochs": "0"})
    assert page.status_code == 400
    expected = cli_sentence("show", "warmup", "--warmup-epochs", "0")
    assert expected in unescape(page.text)


def test_an_unknown_recipe_is_a_404_with_a_suggestion(client: TestClient) -> None:
    page = client.get("/recipe/mixupp")
    assert page.status_code == 404
    assert cli_sentence("show", "mixupp") in unescape(page.text)


# --- the composer ------------------------------------------------------------------------------


def test_conflicting_features_are_disabled_with_the_reason(client: TestClient) -> None:
    page = client.get("/compose", params=[("recipe", "mixup"), ("with", "warmup")]).text
    box = re.search(r'<input type="checkbox" name="with" value="lr-schedule"[^>]*>', page)
    assert box is not None and " disabled" in box.group(0)
    declared = [c.why for c in CATALOG.get("lr-schedule").conflicts if c.recipe == "warmup"]
    declared += [c.why for c in CATALOG.get("warmup").conflicts if c.recipe == "lr-schedule"]
    assert f"does not combine with warmup: {declared[0]}" in unescape(page)
    warmup = re.search(r'<input type="checkbox" name="with" value="warmup"[^>]*>', page)
    assert warmup is not None and " checked" in warmup.group(0)


def test_the_form_holds_every_parameter_of_the_selection(client: TestClient) -> None:
    from snippetgen.codegen.rendering import RenderRequest, plan

    resolved = plan(RenderRequest("mixup", with_=["warmup"]), CATALOG)
    page = client.get("/compose", params=[("recipe", "mixup"), ("with", "warmup")]).text
    for name in resolved.params:
        assert f'id="p-{name}"' in page
    assert re.search(r'id="p-alpha" name="alpha" value="0.2"', page)
    # the chosen recipe's fields come before the training options
    assert page.index('id="p-alpha"') < page.index('id="p-epochs"')


def test_preview_matches_the_cli_render(client: TestClient) -> None:
    query = [("recipe", "mixup"), ("with", "warmup"), ("alpha", "0.4")]
    got = client.get("/api/preview", params=query).json()
    assert got["command"] == "snippetgen render mixup --with warmup --alpha 0.4"
    code = cli("render", "mixup", "--with", "warmup", "--alpha", "0.4").stdout
    text = unescape(re.sub(r"<[^>]+>", "", got["html"]))
    assert text.strip() == code.strip()


@pytest.mark.parametrize(
    ("query", "args", "field"),
    [
        ({"alpha": "-1"}, ["--alpha", "-1"], "alpha"),
        ({"alpha": "abc"}, ["--alpha", "abc"], "alpha"),
        ({"alpha": ""}, ["--alpha="], "alpha"),
        ({"epochs": "1e9"}, ["--epochs", "1e9"], "epochs"),
        ({"optimizer": "lbfgs"}, ["--optimizer", "lbfgs"], "optimizer"),
        ({"alphaa": "1"}, ["--alphaa", "1"], "alphaa"),
        ({"data": "parquet"}, ["--data", "parquet"], "data"),
        ({"model": "timm:bad name"}, ["--model", "timm:bad name"], "model"),
    ],
)
def test_invalid_values_get_the_cli_sentence_for_their_field(
    client: TestClient, query: dict[str, str], args: list[str], field: str
) -> None:
    got = client.get("/api/preview", params={"recipe": "mixup", **query})
    assert got.status_code == 400
    assert got.json() == {"error": cli_sentence("render", "mixup", *args), "field": field}
    page = client.get("/compose", params={"recipe": "mixup", **query}).text
    spot = re.search(rf'<p class="error" id="err-{field}" role="alert">([^<]*)</p>', page)
    if field in ("alphaa",):  # no such field: the sentence stands above the preview
        spot = re.search(r'<p class="error" id="general-error" role="alert">([^<]*)</p>', page)
    assert spot is not None and unescape(spot.group(1)) == got.json()["error"]


def test_conflicting_features_in_a_link_are_refused_in_one_sentence(client: TestClient) -> None:
    query = [("recipe", "mixup"), ("with", "warmup"), ("with", "lr-schedule")]
    got = client.get("/api/preview", params=query)
    assert got.status_code == 400
    expected = cli_sentence("render", "mixup", "--with", "warmup", "--with", "lr-schedule")
    assert got.json()["error"] == expected
    assert expected in unescape(client.get("/compose", params=query).text)


def test_hostile_text_is_escaped_everywhere(client: TestClient) -> None:
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    for url, params in [
        ("/compose", {"recipe": "profiler", "label": evil}),
        ("/recipe/warmup", {"lr": evil}),
        ("/", {"q": evil}),
        ("/compose", {"recipe": evil}),
    ]:
        page = client.get(url, params=params).text
        assert "<script>alert" not in page and "<img src=x" not in page, url
    got = client.get("/api/preview", params={"recipe": "profiler", "label": evil}).json()
    assert got["field"] == "label"


# --- downloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        [("recipe", "mixup"), ("with", "warmup"), ("alpha", "0.4")],
        [("recipe", "train"), ("data", "csv"), ("epochs", "3")],
        [("recipe", "checkpoint"), ("model", "resnet18"), ("data", "image-folder")],
        [("recipe", "profiler"), ("label", "fwd"), ("row-limit", "3")],
    ],
)
def test_the_downloaded_script_is_the_cli_render_byte_for_byte(
    client: TestClient, query: list[tuple[str, str]], tmp_path: Path
) -> None:
    got = client.get("/download/py", params=query)
    assert got.status_code == 200
    args = [query[0][1]]
    for key, value in query[1:]:
        args += [f"--{key}", value]
    out = tmp_path / "cli.py"
    assert cli("render", *args, "-o", str(out)).returncode == 0
    assert got.content == out.read_bytes()
    name = "train" if CATALOG.get(query[0][1]).kind == "feature" else query[0][1].replace("-", "_")
    assert got.headers["content-disposition"] == f'attachment; filename="{name}.py"'


def test_the_downloaded_notebook_is_the_cli_notebook(client: TestClient, tmp_path: Path) -> None:
    nbformat = import_or_skip("nbformat")
    query = [("recipe", "mixup"), ("with", "warmup"), ("alpha", "0.4")]
    got = client.get("/download/ipynb", params=query)
    assert got.status_code == 200
    notebook = nbformat.reads(got.text, as_version=4)
    nbformat.validate(notebook)
    out = tmp_path / "cli.ipynb"
    cli("render", "mixup", "--with", "warmup", "--alpha", "0.4", "-o", str(out))
    assert got.content == out.read_bytes()


def test_the_project_zip_holds_what_new_writes(client: TestClient, tmp_path: Path) -> None:
    query = [("recipe", "mixup"), ("with", "ema"), ("alpha", "0.3"), ("project", "demo_run")]
    got = client.get("/download/zip", params=query)
    assert got.status_code == 200
    assert got.headers["content-disposition"] == 'attachment; filename="demo_run.zip"'
    made = cli(
        "new", str(tmp_path / "demo_run"), "--with", "mixup", "--with", "ema", "--alpha", "0.3"
    )
    assert made.returncode == 0, made.stderr
    written = {
        p.relative_to(tmp_path).as_posix(): p.read_bytes()
        for p in (tmp_path / "demo_run").rglob("*")
        if p.is_file()
    }
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        zipped = {name: archive.read(name) for name in archive.namelist()}
    assert zipped == written
    again = client.get("/download/zip", params=query)
    assert again.content == got.content  # the same selection, the same bytes


def test_snippets_have_no_project_and_bad_names_are_refused(client: TestClient) -> None:
    got = client.get("/download/zip", params={"recipe": "profiler"})
    assert got.status_code == 400 and got.text.count("\n") == 1
    for name in ["../evil", "a/b", ".hidden", "x" * 65, "torch", "名字"]:
        got = client.get("/download/zip", params={"recipe": "mixup", "project": name})
        assert got.status_code == 400, name
        assert got.text.endswith("\n") and got.text.count("\n") == 1, got.text


# --- refusals ----------------------------------------------------------------------------------


def test_oversized_and_malformed_queries_are_refused_in_one_sentence(client: TestClient) -> None:
    cases = [
        "recipe=mixup&alpha=" + "1" * MAX_QUERY_BYTES,
        "recipe=mixup&" + "&".join(f"x{i}=1" for i in range(200)),
        "recipe=mixup&alpha=%FF%FE",
        "recipe=mixup&Alpha%00=1",
        "recipe=mixup&recipe=ema",
        "alpha=1",
        "recipe=mixup&alpha=" + "1" * 1001,
        "recipe=mixup&alpha=%00",
    ]
    for query in cases:
        got = client.get(f"/api/preview?{query}")
        assert got.status_code == 400, query
        sentence = got.json()["error"]
        assert sentence and "\n" not in sentence and "Traceback" not in sentence, query
        page = client.get(f"/compose?{query}")
        assert page.status_code == 400 and "Traceback" not in page.text


def test_only_gets_on_known_paths_and_no_file_outside_the_package(client: TestClient) -> None:
    assert client.post("/api/preview?recipe=mixup").status_code == 405
    for path in [
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fviews.py",
        "/download/..%2f..%2fetc%2fpasswd?recipe=mixup",
        "/recipe/..%2f..%2fpyproject.toml",
        "/download/tar?recipe=mixup",
    ]:
        got = client.get(path)
        assert got.status_code in (400, 404), path
        assert "snippetgen.web" not in got.text and "import " not in got.text, path


def test_a_foreign_host_header_is_refused(client: TestClient) -> None:
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8000"}).status_code == 200


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ["/", "/recipe/mixup", "/api/search?q=x", "/static/app.js", "/nowhere"]:
        headers = client.get(path).headers
        assert "script-src" not in headers["content-security-policy"]  # default-src 'self' holds
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert headers["x-content-type-options"] == "nosniff"


def test_the_page_scripts_use_no_inline_code(client: TestClient) -> None:
    for path in ["/", "/recipe/warmup", "/compose?recipe=mixup&with=warmup"]:
        page = client.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)", page) == [], path
        assert not re.search(r"\son[a-z]+=", page), path


def test_fields_show_the_value_as_parsed_and_keep_an_invalid_one(client: TestClient) -> None:
    page = client.get("/compose", params={"recipe": "param-count", "freeze-first": "no"}).text
    select = re.search(r'<select id="p-freeze-first".*?</select>', page, re.S)
    assert select is not None
    assert re.findall(r"<option selected>(\w+)</option>", select.group(0)) == ["false"]
    page = client.get("/compose", params={"recipe": "lr-schedule", "kind": "bogus"}).text
    select = re.search(r'<select id="p-kind".*?</select>', page, re.S)
    assert select is not None
    assert re.findall(r"<option selected>(\w+)</option>", select.group(0)) == ["bogus"]
    assert cli_sentence("render", "lr-schedule", "--kind", "bogus") in unescape(page)


def test_a_project_name_new_would_refuse_is_refused_under_its_field(client: TestClient) -> None:
    got = client.get("/api/preview", params={"recipe": "mixup", "project": "torch"})
    assert got.status_code == 400
    assert got.json() == {
        "error": "Package name 'torch' would shadow the module of that name; "
        "choose another folder name.",
        "field": "project",
    }
    page = client.get("/compose", params={"recipe": "mixup", "project": "<b>"})
    assert page.status_code == 200
    spot = re.search(r'<p class="error" id="err-project" role="alert">([^<]*)</p>', page.text)
    assert spot is not None and "project folder name" in spot.group(1)
    assert (
        client.get("/download/zip", params={"recipe": "mixup", "project": "torch"}).status_code
        == 400
    )


def test_pages_refuse_fields_they_do_not_take(client: TestClient) -> None:
    for url, params in [
        ("/recipe/warmup", {"with": "ema"}),
        ("/recipe/warmup", {"data": "csv"}),
        ("/recipe/warmup", {"model": "mlp"}),
        ("/", {"q": "a", "x": "1"}),
        ("/", [("q", "a"), ("q", "b")]),
        ("/api/search", {"q": "w" * 1001}),
    ]:
        got = client.get(url, params=params)
        assert got.status_code == 400, (url, params)
        assert "Traceback" not in got.text


def test_a_refused_host_still_gets_the_security_headers(client: TestClient) -> None:
    got = client.get("/", headers={"host": "evil.example"})
    assert got.status_code == 400
    assert got.headers["content-security-policy"].startswith("default-src 'self'")
    assert got.headers["x-content-type-options"] == "nosniff"
