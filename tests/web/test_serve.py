"""`snippetgen serve` as a user starts it: a real process on a real port."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from helpers import serving


def fetch(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_listens_on_loopback_on_a_free_port_and_prints_its_url() -> None:
    with serving() as (url, proc):
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        status, page = fetch(url)
        assert status == 200 and 'href="/recipe/mixup"' in page
        status, _ = fetch(url + "api/preview?recipe=mixup&alpha=0.3")
        assert status == 200
        # a page elsewhere that resolves its own name to 127.0.0.1 is not answered
        assert fetch(url, host="attacker.example")[0] == 400
        proc.send_signal(2)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130  # Ctrl-C stops it like any other command
    assert "Traceback" not in err and err.count("\n") <= 2, err


def test_a_busy_port_is_refused_in_one_sentence() -> None:
    with serving() as (url, _):
        port = url.rsplit(":", 1)[1].strip("/")
        result = subprocess.run(
            [sys.executable, "-m", "snippetgen", "serve", "--port", port],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: Cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--host", "no-such-host.invalid"],
        ["--port", "70000"],
        ["--host", ""],
        ["--host", "192.0.2.1"],
    ],
)
def test_bad_addresses_are_refused(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "snippetgen", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "warning" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr


def test_a_non_local_host_only_when_asked_and_then_it_says_so() -> None:
    with serving("--host", "0.0.0.0") as (url, proc):
        assert url.startswith("http://0.0.0.0:")
        port = url.rsplit(":", 1)[1].strip("/")
        assert fetch(f"http://127.0.0.1:{port}/")[0] == 200
        proc.send_signal(2)
        _, err = proc.communicate(timeout=15)
    assert "warning: listening on 0.0.0.0, which other machines can reach" in err


def test_without_the_web_extra_serve_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None; sys.argv = ['snippetgen', 'serve'];"
        "from snippetgen.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: snippetgen serve needs uvicorn, which is not installed; "
        "install the web extra: pip install 'snippetgen[web]'\n"
    )
