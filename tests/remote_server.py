"""A real HTTP server on 127.0.0.1 for the remote providers' tests: each path answers what the test
sets (status, headers, body, a delay), and every request is recorded with its headers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple


class Route(NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]
    delay: float = 0.0


class Seen(NamedTuple):
    path: str
    headers: dict[str, str]


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, list[Route]] = {}
        self.seen: list[Seen] = []
        self.base_url = ""

    def answer(self, path: str, status: int = 200, body: Any = None, *, raw: bytes | None = None,
               headers: dict[str, str] | None = None, delay: float = 0.0, then: Route | None = None) -> None:
        """`path` answers this (JSON unless `raw`) every time, or once and then `then`."""
        data = raw if raw is not None else json.dumps(body).encode()
        kind = {"Content-Type": "application/json"} if raw is None else {}
        route = Route(status, data, {**kind, **(headers or {})}, delay)
        self.routes[path] = [route] if then is None else [route, then]

    def hits(self, path: str) -> int:
        return sum(1 for seen in self.seen if seen.path.endswith(path))


def json_route(status: int, body: Any, headers: dict[str, str] | None = None) -> Route:
    return Route(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


@contextmanager
def serving() -> Iterator[Server]:
    server = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            path = self.path.split("?")[0]
            path = path[path.index("/", path.index("//") + 2):] if path.startswith("http") else path
            routes = server.routes.get(path)
            if not routes:
                route = Route(404, b'{"error": {"type": "not_found", "message": "no such path"}}', {})
            else:
                route = routes[0] if len(routes) == 1 else routes.pop(0)
            if route.delay:
                time.sleep(route.delay)
            try:
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
