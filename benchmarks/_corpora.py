"""Shared benchmark helpers: where the corpora live ($NEWSDESK_CORPORA, else
<repo>/../shared/corpora), and a local multi-port HTTP server loop."""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def corpora_dir(override: str | os.PathLike | None = None) -> Path:
    """The corpora folder (which may not exist: callers check and skip visibly)."""
    if override:
        return Path(override)
    env = os.environ.get("NEWSDESK_CORPORA")
    return Path(env) if env else REPO.parent / "shared" / "corpora"


def serve_forever(ports: list[int], handler: type[http.server.BaseHTTPRequestHandler],
                  ready: threading.Event | None = None) -> None:
    """Serve ``handler`` on each 127.0.0.1 port (a thread each); set ``ready``; never return.

    Meant as the body of a benchmark's server process, so that its Python work does not
    share a GIL with the run being measured."""

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    servers = [Server(("127.0.0.1", p), handler) for p in ports]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if ready is not None:
        ready.set()
    threading.Event().wait()
