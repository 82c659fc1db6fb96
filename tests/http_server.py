"""A real HTTP file server on localhost for the download tests, with scriptable misbehaviour.

    with FileServer() as server:
        server.serve("/a.bin", data, drop_after=1000, fail_first=2, honour_range=False)
        fetch(server.url("/a.bin"), dest)
        server.requests  # what the client sent: method, path, query, headers

Each served path can honour or ignore Range requests, answer 503 to its first K requests, cut the
connection after N body bytes on its first successful request, redirect elsewhere, answer a fixed status
(e.g. 404), and require a credential in a header or a query parameter (401 without it). Every request is
recorded, headers included, so tests can assert on Range and credential headers.
"""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Route:
    body: bytes = b""
    status: int = 200  # a fixed answer (404, 500, ...) instead of the body
    honour_range: bool = True
    fail_first: int = 0  # answer 503 to this many requests first
    drop_after: int | None = None  # on the first body response, close the connection after this many bytes
    require_header: tuple[str, str] | None = None  # (name, value) or 401
    require_query: tuple[str, str] | None = None  # (parameter, value) or 401
    redirect: str | None = None  # answer 302 to this location
    hits: int = 0
    dropped: bool = False


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # header names in lower case


@dataclass
class FileServer:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    def serve(self, path: str, body: bytes = b"", **behaviour) -> Route:
        route = Route(body=body, **behaviour)
        self.routes[path] = route
        return route

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> "FileServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    owner: FileServer
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped connection is a closed socket

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass  # quiet: stderr belongs to the code under test (and request lines may carry secrets)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        request = Request(
            "GET",
            parts.path,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            {k.lower(): v for k, v in self.headers.items()},
        )
        owner = self.owner
        with owner._lock:
            owner.requests.append(request)
            route = owner.routes.get(parts.path)
            if route is not None:
                route.hits += 1
                hit = route.hits
        if route is None:
            return self._answer(404)
        if hit <= route.fail_first:
            return self._answer(503)
        if route.require_header is not None:
            name, value = route.require_header
            if request.headers.get(name.lower()) != value:
                return self._answer(401)
        if route.require_query is not None:
            name, value = route.require_query
            if request.query.get(name) != value:
                return self._answer(401)
        if route.redirect is not None:
            self.send_response(302)
            self.send_header("Location", route.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if route.status != 200:
            return self._answer(route.status)
        self._send_body(route, request.headers.get("range"))
        return None

    def _answer(self, status: int) -> None:
        body = f"{status}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_body(self, route: Route, range_header: str | None) -> None:
        body = route.body
        start = 0
        if range_header and route.honour_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Accept-Ranges", "bytes" if route.honour_range else "none")
        self.end_headers()
        with self.owner._lock:
            drop = route.drop_after is not None and not route.dropped
            route.dropped = route.dropped or drop
        if drop:
            self.wfile.write(payload[: route.drop_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)
