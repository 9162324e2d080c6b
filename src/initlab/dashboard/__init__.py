"""initlab's local web dashboard (a face: it calls the library and holds no math).

``initlab dashboard`` serves it on 127.0.0.1; `serve` is the same from Python.
"""

from __future__ import annotations

import socket
import sys

from initlab.errors import InitlabError

LOCAL = "127.0.0.1"


def check_port(host: str, port: int) -> None:
    """A one-line error when ``host:port`` cannot be bound (in use, or not an address here)."""
    if not 0 < port < 65536:
        raise InitlabError(f"--port must be 1 to 65535, got {port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise InitlabError(f"cannot serve on {host}:{port}: {exc.strerror or exc}"
                               + (" (the port is in use; pick another with --port)"
                                  if exc.errno in (98, 48) else "")) from None


def serve(port: int = 8765, host: str = LOCAL, *, open_browser: bool = True) -> None:
    """Serve the dashboard until Ctrl-C. Binds 127.0.0.1 unless another host is given, which
    prints a warning: the page trains whatever its visitors ask."""
    check_port(host, port)
    if host != LOCAL:
        print(f"warning: serving on {host}, not only this machine: anyone who can reach "
              f"{host}:{port} can use the dashboard", file=sys.stderr)
    import panel as pn

    from initlab.dashboard.app import create_page

    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    print(f"initlab dashboard: http://{shown}:{port}/  (Ctrl-C stops it)", flush=True)
    origins = [f"{h}:{port}" for h in {host, shown, "localhost", LOCAL}]
    server = pn.serve({"/": create_page}, port=port, address=host, show=False, start=False,
                      websocket_origin=origins, title="initlab dashboard", threaded=False)
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
