"""``snippetgen serve``: listen on a local port and answer with the web composer (uvicorn)."""

from __future__ import annotations

import gc
import ipaddress
import socket
import sys
from collections.abc import Callable

from snippetgen.errors import UserError
from snippetgen.recipes.catalog import Catalog

DEFAULT_HOST = "127.0.0.1"


def is_local(host: str) -> bool:
    """Whether every address `host` names is a loopback address (only this machine)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise UserError(f"Cannot listen on {host!r}: no such address on this machine.") from None
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one); a refusal is one sentence."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UserError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UserError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(
    catalog: Catalog,
    *,
    host: str | None,
    port: int,
    open_browser: bool,
    say: Callable[[str], None],
) -> None:
    """Answer on `host` (default 127.0.0.1) until Ctrl-C. Only an explicit --host can open it
    to other machines, and then it says so; a local server answers loopback Host names only."""
    import uvicorn

    from snippetgen.web.app import LOCAL_HOSTS, create_app

    if host is not None and not host.strip():
        raise UserError("--host needs an address, such as 127.0.0.1 or 0.0.0.0.")
    chosen = DEFAULT_HOST if host is None else host
    local = is_local(chosen)
    sock = listen(chosen, port)
    if not local:
        say(
            f"warning: listening on {chosen}, which other machines can reach: anyone who can "
            "connect can use this composer (it reads no file a request names and writes "
            "only its render cache)."
        )
    url = url_of(sock)
    allowed = [*LOCAL_HOSTS, chosen] if local else None
    config = uvicorn.Config(
        create_app(catalog, allowed_hosts=allowed),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    gc.freeze()  # what is loaded by now lives as long as the server: no GC rescans of it
    sys.stdout.write(f"{url}\n")
    sys.stdout.flush()
    say(f"serving the snippetgen composer at {url} (Ctrl-C stops it)")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    server.run(sockets=[sock])
