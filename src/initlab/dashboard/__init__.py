"""initlab's local web dashboard (a face: it calls the library and holds no math).

``initlab dashboard`` serves it on 127.0.0.1; `serve` is the same from Python.

The server answers only requests that name it by a loopback name (a guard against DNS
rebinding), imports no module a URL names, and reads no page address whose query Panel could
not parse: `Guard` checks every request before Panel and Bokeh see it.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from urllib.parse import parse_qsl, urlencode

from initlab.errors import InitlabError

LOCAL = "127.0.0.1"
#: Host names every server answers to (with its port); the --host it was started on is added.
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
#: Packages whose components the page loads through Panel's /components/ route. Panel's
#: handler imports the module the URL names: only modules already imported, of these
#: packages, reach it.
COMPONENT_PACKAGES = ("panel", "bokeh", "initlab")
WILDCARD = ("0.0.0.0", "", "::")


def check_port(host: str, port: int) -> None:
    """A one-line error when ``host:port`` cannot be bound (in use, or not an address here).

    SO_REUSEADDR, as Tornado sets it on the server's own socket: the connections of a server
    stopped a moment ago wait in TIME-WAIT for a minute, and must not make the port look busy
    (a listening socket still does)."""
    if not 0 < port < 65536:
        raise InitlabError(f"--port must be 1 to 65535, got {port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise InitlabError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}"
                + (" (the port is in use; pick another with --port)" if exc.errno in (98, 48) else "")
            ) from None


def _split_host(header: str) -> tuple[str, int | None]:
    """``"LocalHost:8765"`` -> ``("localhost", 8765)``; ``"[::1]"`` -> ``("[::1]", None)``."""
    name, sep, port = header.strip().lower().rpartition(":")
    if sep and port.isascii() and port.isdigit() and (not name.startswith("[") or name.endswith("]")):
        return name, int(port)
    return header.strip().lower(), None


def host_allowed(header: str | None, port: int, host: str = LOCAL) -> bool:
    """Whether a request's ``Host`` header names this server: a loopback name or the address
    it was started on, with its port. A DNS-rebinding page sends its own name
    (``evil.example:PORT``) even when that name resolves to 127.0.0.1, so it is refused. A
    server on every interface (``--host 0.0.0.0``) also answers to any IP address: rebinding
    needs a name."""
    if not header:
        return False
    name, given = _split_host(header)
    if (given if given is not None else 80) != port:
        return False
    if name in LOOPBACK or name == host.lower() or (":" in host and name == f"[{host.lower()}]"):
        return True
    if host in WILDCARD:
        try:
            ipaddress.ip_address(name[1:-1] if name.startswith("[") else name)
            return True
        except ValueError:
            return False
    return False


def refusal(
    method: str, path: str, query: str, host_header: str | None, port: int, host: str = LOCAL
) -> tuple[int, str] | None:
    """``(status, one line)`` for a request the dashboard refuses, or None to serve it."""
    from initlab.dashboard.session import max_chars

    if not host_allowed(host_header, port, host):
        own = () if host in (*LOOPBACK, *WILDCARD) else (host,)
        names = ", ".join(f"{n}:{port}" for n in (*LOOPBACK, *own))
        return 403, (
            f"403: this dashboard answers to Host {names} only, not {(host_header or '')[:60]!r} "
            "(a guard against DNS rebinding)"
        )
    if path.startswith("/components/"):
        module = path[len("/components/") :].partition("/")[0]
        if module.partition(".")[0] not in COMPONENT_PACKAGES or module not in sys.modules:
            return 404, "404: no such component"
    if path in ("/", "", "/autoload.js") and query:  # the routes that make a page from the query
        from panel.util import parse_query

        for key, value in parse_qsl(query, keep_blank_values=True):
            if len(key) > 40 or len(value) > max_chars(key):
                return 400, (
                    f"400: the address's {key[:40]!r} is {len(value):,} characters long; at most {max_chars(key):,}"
                )
            try:  # what Panel does with it before the page exists
                parse_query("?" + urlencode({key: value}))
            except Exception:  # noqa: BLE001 - any failure there is a 500 with a traceback
                return 400, f"400: the address's {key!r} cannot be read: {value[:40]!r}"
    return None


def install_guard(server, port: int, host: str = LOCAL) -> None:
    """Put `refusal` in front of every route of a Bokeh/Panel ``server`` (plain HTTP, static
    files, the websocket): a Tornado rule matched before all others."""
    from tornado.routing import Matcher, Rule
    from tornado.web import RequestHandler

    class Guard(Matcher):
        def match(self, request):
            found = refusal(request.method, request.path, request.query, request.headers.get("Host"), port, host)
            if found is not None:
                return {"target_kwargs": {"status": found[0], "line": found[1]}}
            if request.host.startswith("["):  # Panel's Location splits host:port at ':' (500 on
                request.host = f"localhost:{port}"  # "[::1]:PORT"): the same machine, by name
            return None

    class Refuse(RequestHandler):
        def initialize(self, status: int, line: str) -> None:
            self.code, self.line = status, line

        def prepare(self) -> None:
            self.set_status(self.code)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(self.line + "\n")

    # Bokeh keeps its Tornado application private; Tornado's router is public. A test
    # (tests/test_dashboard.py) fails if a Bokeh release moves it.
    app = server._tornado
    app.default_router.rules.insert(0, Rule(Guard(), Refuse))


def serve(port: int = 8765, host: str = LOCAL, *, open_browser: bool = True) -> None:
    """Serve the dashboard until Ctrl-C. Binds 127.0.0.1 unless another host is given, which
    prints a warning: the page trains whatever its visitors ask."""
    check_port(host, port)
    if host != LOCAL:
        print(
            f"warning: serving on {host}, not only this machine: anyone who can reach "
            f"{host}:{port} can use the dashboard",
            file=sys.stderr,
        )
    import panel as pn

    from initlab.dashboard.app import create_page

    shown = "127.0.0.1" if host in WILDCARD else host
    print(f"initlab dashboard: http://{shown}:{port}/  (Ctrl-C stops it)", flush=True)
    # Bokeh's own check of the websocket's Origin (it cannot parse "[::1]", which the Host
    # guard lets through; this server listens on IPv4 unless --host says otherwise)
    origins = [f"{h}:{port}" for h in {host, shown, *LOOPBACK} if h and not h.startswith("[")]
    server = pn.serve(
        {"/": create_page},
        port=port,
        address=host,
        show=False,
        start=False,
        websocket_origin=origins,
        title="initlab dashboard",
        threaded=False,
    )
    install_guard(server, port, host)
    if open_browser:
        import webbrowser

        server.io_loop.add_callback(lambda: webbrowser.open(f"http://{shown}:{port}/"))
    try:
        server.start()
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("initlab dashboard stopped", file=sys.stderr)
