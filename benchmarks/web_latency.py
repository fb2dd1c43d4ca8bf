"""Preview latency of the web composer (``snippetgen serve``), measured by benchmarks/bench.py.

A real server process answers ``/api/preview`` over a kept-alive loopback connection; the
floor is the same selection rendered in this process by the CLI's own steps (plan, then
render_plan) on the same render cache. Both sides run interleaved, request for request, and
are wall-clock times (the request crosses two processes), taken in alternating blocks.

  cached preview  two cached selections in turn (--alpha 0.4, then 0.2, ...), each request
                  naming the preview shown before it, as the page does (so the answer holds
                  the lines that changed), vs the in-process lookup of the same cached render;
                  target: p50 ratio <= 1.2
  cold preview    a new value every request (a cache miss: Jinja, black, code checks), vs an
                  in-process render of a new value (informational)
  digests kept    the cached preview again, vs an in-process lookup that also keeps the
                  recipe folders' digests as the server does (FolderDigests): what HTTP and
                  the answer add (informational)

uvicorn closes a connection left idle for 5 s (during a slow block of local renders); the
client then opens a new one, as a browser does.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

CACHED_TARGET = 1.2
SELECTION = [("recipe", "mixup"), ("with", "warmup")]
CACHED_VALUES = ["0.4", "0.2"]  # two cached previews, asked for in turn


def _percentiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times), cuts[-1]


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], http.client.HTTPConnection]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "snippetgen", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit("snippetgen serve did not start (is the web extra installed?)")
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    return proc, http.client.HTTPConnection(host, int(port), timeout=120)


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> bytes:
    for attempt in (1, 2):
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()  # closed by the server while idle: the next request reconnects
            if attempt == 2:
                raise
            continue
        if response.status != 200:
            raise SystemExit(f"GET {path} answered {response.status}: {body[:300]!r}")
        return body
    raise AssertionError("unreachable")


def _pair(
    requests: int, web: Callable[[int], None], local: Callable[[int], None], block: int = 25
) -> tuple[list[float], list[float]]:
    """Wall time of each call of `web(i)` and `local(i)`, in alternating blocks of `block`
    calls: both sides meet the same drift of a shared machine, and each runs warm (one
    request after another, as a user's typing sends them)."""
    web_times: list[float] = []
    local_times: list[float] = []
    for first in range(0, requests, block):
        order = [(web, web_times), (local, local_times)]
        for call, times in order if (first // block) % 2 else order[::-1]:
            for i in range(first, min(first + block, requests)):
                start = time.perf_counter()
                call(i)
                times.append(time.perf_counter() - start)
    return web_times, local_times


def measure(requests: int = 300, cold_requests: int = 30) -> dict[str, Any]:
    """{'cached': (web p50, p95, local p50, p95), 'cold': (...), 'kept': (...)} in seconds."""
    from urllib.parse import urlencode

    with tempfile.TemporaryDirectory(prefix="snippetgen-web-bench-") as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        os.environ["XDG_CACHE_HOME"] = cache  # this process renders into the same cache
        from snippetgen.codegen.digests import FolderDigests
        from snippetgen.codegen.rendering import (
            RenderRequest,
            cached_render,
            plan,
            render_key,
            render_plan,
        )
        from snippetgen.recipes.catalog import load_catalog
        from snippetgen.recipes.recipecheck import check_templates
        from snippetgen.web.app import SHOWN_HEADER

        catalog = load_catalog()
        proc, conn = _serve(env)
        try:
            shown: dict[str, str] = {}  # the key of the preview "the page" shows

            def web(alpha: str) -> None:
                body = _get(
                    conn, "/api/preview?" + urlencode([*SELECTION, ("alpha", alpha)]), shown
                )
                shown[SHOWN_HEADER] = json.loads(body)["key"]

            def local_render(alpha: str) -> None:  # what `snippetgen render` does in process
                request = RenderRequest("mixup", with_=["warmup"], args=[f"--alpha={alpha}"])
                resolved = plan(request, catalog)
                check_templates(resolved.recipes)
                render_plan(resolved)

            for _ in range(5):  # warm both sides: the cache entries, imports, connections
                for alpha in CACHED_VALUES:
                    web(alpha)
                    local_render(alpha)
            kept = FolderDigests()

            def local_kept(alpha: str) -> None:  # the same, keeping folder digests as serve does
                request = RenderRequest("mixup", with_=["warmup"], args=[f"--alpha={alpha}"])
                resolved = plan(request, catalog)
                check_templates(resolved.recipes)
                cached_render(resolved, key=render_key(resolved, digests=kept))

            turn = CACHED_VALUES * (requests // len(CACHED_VALUES) + 1)
            cached = _pair(requests, lambda i: web(turn[i]), lambda i: local_render(turn[i]))
            same = _pair(requests, lambda i: web(turn[i]), lambda i: local_kept(turn[i]))
            # a fresh value each time: web and local never share a cache entry
            cold = _pair(
                cold_requests,
                lambda i: web(f"0.5{i:04d}1"),
                lambda i: local_render(f"0.6{i:04d}1"),
                block=5,
            )
        finally:
            conn.close()
            proc.terminate()
            proc.wait(timeout=30)
    return {
        "cached": (*_percentiles(cached[0]), *_percentiles(cached[1])),
        "cold": (*_percentiles(cold[0]), *_percentiles(cold[1])),
        "kept": (*_percentiles(same[0]), *_percentiles(same[1])),
    }


def report(requests: int = 300) -> None:
    """Print the two rows of the preview comparison."""
    results = measure(requests)
    print(
        f"\n{'preview':<17}{'p50 ms':>8}{'p95 ms':>8}  {'floor: in-process render':<26}"
        f"{'p50 ms':>7}{'p95 ms':>8}{'ratio':>7}{'target':>8}"
    )
    rows = {
        "cached": ("cached preview", "the same two selections"),
        "cold": ("cold preview", "a new value each time"),
        "kept": ("cached preview", "the same, digests kept"),
    }
    for name, (web50, web95, local50, local95) in results.items():
        ratio = web50 / local50
        target = f"{CACHED_TARGET:8.2f} {'ok' if ratio <= CACHED_TARGET else 'MISSED'}"
        print(
            f"{rows[name][0]:<17}{web50 * 1e3:8.2f}{web95 * 1e3:8.2f}  {rows[name][1]:<26}"
            f"{local50 * 1e3:7.2f}{local95 * 1e3:8.2f}{ratio:7.2f}"
            f"{target if name == 'cached' else '   (informational)'}"
        )
    print(f"({requests} cached and 30 cold requests each side, interleaved; wall time)")


if __name__ == "__main__":
    report()
