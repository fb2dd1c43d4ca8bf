"""The web composer in a real browser: Chromium (the distribution's package) driven by
Playwright against a real `snippetgen serve` process.

Where Chromium or Playwright is missing the tests skip, unless SNIPPETGEN_REQUIRE_BROWSER is
set (CI sets it: there a missing browser is a failure, not a skip). With
SNIPPETGEN_SCREENSHOTS=DIR they also save the screenshots shown in the docs into DIR.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import importable, serving

CHROMIUM = os.environ.get("SNIPPETGEN_CHROMIUM") or shutil.which("chromium")
SHOTS = os.environ.get("SNIPPETGEN_SCREENSHOTS")


def _missing() -> str:
    if not importable("playwright.sync_api"):
        return "playwright is not installed"
    if not (importable("starlette") and importable("uvicorn")):
        return "the web extra (starlette, uvicorn) is not installed"
    if CHROMIUM is None:
        return "no chromium on PATH (Debian: apt-get install chromium)"
    return ""


if _missing():
    if os.environ.get("SNIPPETGEN_REQUIRE_BROWSER"):
        raise RuntimeError(f"browser tests required but {_missing()}")
    pytest.skip(_missing(), allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cache = tmp_path_factory.mktemp("web-cache")
    with serving(env={"XDG_CACHE_HOME": str(cache)}) as (url, _):
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == []  # no script error on any page


def shot(page: Page, name: str, **options: Any) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), **options)


def cli_render(tmp_path: Path, *args: str) -> bytes:
    out = tmp_path / "cli-render"
    result = subprocess.run(
        [sys.executable, "-m", "snippetgen", "render", *args, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def test_search_in_chinese_and_open_the_result(page: Page, server: str) -> None:
    page.goto(server + "/")
    page.fill("#search", "标签平滑")
    results = page.locator("#results")
    expect(results).to_have_attribute("data-query", "标签平滑")
    first = results.locator("li a.name").first
    expect(first).to_have_text("label-smoothing")
    shot(page, "search.png")
    first.click()
    expect(page).to_have_url(server + "/recipe/label-smoothing")
    expect(page.locator("h1")).to_contain_text("Label smoothing")
    expect(page.locator(".pitfalls li").first).to_be_visible()


def test_a_schedule_page_draws_its_curve(page: Page, server: str) -> None:
    page.goto(server + "/recipe/warmup")
    chart = page.locator("#lr-chart svg")
    expect(chart).to_be_visible()
    page.fill("#curve-form input[name=epochs]", "20")
    page.click("#curve-form button")
    expect(chart.locator("circle")).to_have_count(20)
    shot(page, "recipe-warmup.png", full_page=True)


def test_compose_preview_error_and_downloads(page: Page, server: str, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    page.goto(server + "/compose?recipe=mixup")
    page.check("input[name=with][value=warmup]")  # loads the page for the new feature set
    expect(page).to_have_url(server + "/compose?recipe=mixup&with=warmup")
    expect(page.locator("input[name=with][value=lr-schedule]")).to_be_disabled()
    expect(page.locator("#why-lr-schedule")).to_contain_text("does not combine with warmup")

    command = page.locator("#command")
    expect(command).to_have_text("snippetgen render mixup --with warmup")
    page.fill("#p-alpha", "0.4")
    expect(command).to_have_text("snippetgen render mixup --with warmup --alpha 0.4")
    expect(page.locator("#code")).to_contain_text("default=0.4")
    expect(page).to_have_url(server + "/compose?recipe=mixup&with=warmup&alpha=0.4")
    shot(page, "composer.png")

    page.fill("#p-alpha", "-1")
    error = page.locator("#err-alpha")
    expect(error).to_have_text("Invalid value '-1' for --alpha: it must satisfy 0 < x <= 100.")
    expect(page.locator("#preview")).to_have_attribute("data-state", "error")
    expect(page.locator("#p-alpha")).to_have_attribute("aria-invalid", "true")
    shot(page, "composer-error.png")
    page.fill("#p-alpha", "0.4")
    expect(error).to_be_hidden()
    expect(page.locator("#preview")).to_have_attribute("data-state", "ready")

    page.reload()  # the URL holds the whole selection
    expect(page.locator("#p-alpha")).to_have_value("0.4")
    expect(command).to_have_text("snippetgen render mixup --with warmup --alpha 0.4")

    # After the first preview, a page is sent only the lines that changed; what it shows is
    # still the CLI's script.
    page.fill("#p-alpha", "0.3")
    expect(command).to_have_text("snippetgen render mixup --with warmup --alpha 0.3")
    with page.expect_response(lambda r: "/api/preview" in r.url) as answered:
        page.fill("#p-alpha", "0.4")
    assert len(answered.value.json()["edits"]) == 2
    expect(command).to_have_text("snippetgen render mixup --with warmup --alpha 0.4")
    expected = cli_render(tmp_path, "mixup", "--with", "warmup", "--alpha", "0.4")
    assert page.locator("#code").text_content().strip() == expected.decode().strip()

    with page.expect_download() as script:
        page.click("#dl-py")
    assert script.value.suggested_filename == "train.py"
    assert Path(script.value.path()).read_bytes() == expected

    with page.expect_download() as notebook:
        page.click("#dl-ipynb")
    assert notebook.value.suggested_filename == "train.ipynb"
    nbformat.validate(nbformat.read(notebook.value.path(), as_version=4))
