"""HttpClient against real servers on 127.0.0.1 (pytest-httpserver, or raw sockets for
servers that misbehave below HTTP). Nothing here touches the network."""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import newsdesk
import newsdesk.http as nh
from newsdesk.http import FetchResult, HttpClient, parse_retry_after

FAST = dict(
    connect_timeout=2,
    read_timeout=2,
    deadline=5,
    retries=2,
    backoff=0.01,
    max_retry_wait=5,
    host_delay=0,
    allow_private=True,
)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment would send 127.0.0.1 requests elsewhere."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with HttpClient(**FAST) as c:
        yield c


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


class Counter:
    """Thread-safe request counter with a per-call response plan."""

    def __init__(self, plan: Callable[[int, Request], Response]) -> None:
        self.calls = 0
        self.times: list[float] = []
        self._lock = threading.Lock()
        self._plan = plan

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.calls += 1
            n = self.calls
            self.times.append(time.monotonic())
        return self._plan(n, request)


# Raw socket servers ---------------------------------------------------------------------


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each to `handler(conn, stop)` in a thread."""

    def __init__(self, handler: Callable[[socket.socket, threading.Event], None]) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.connections = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handler(conn, self.stop)
        except OSError:
            pass  # the client hung up: that is what most of these tests provoke
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self._thread.join(1)


def read_request(conn: socket.socket) -> bytes:
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


RawHandler = Callable[[socket.socket, threading.Event], None]
RawFactory = Callable[[RawHandler], RawServer]


@pytest.fixture
def raw_server() -> Iterator[RawFactory]:
    servers: list[RawServer] = []

    def make(handler: RawHandler) -> RawServer:
        server = RawServer(handler)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


# Basics -------------------------------------------------------------------------------------


def test_200_with_body_headers_and_user_agent(httpserver: HTTPServer, client: HttpClient) -> None:
    seen: dict[str, str] = {}

    def handler(request: Request) -> Response:
        seen["ua"] = request.headers.get("User-Agent", "")
        return Response(
            "<rss>hi</rss>",
            content_type="application/rss+xml; charset=utf-8",
            headers={"ETag": '"v1"', "Last-Modified": "Tue, 01 Oct 2024 10:00:00 GMT"},
        )

    httpserver.expect_request("/feed").respond_with_handler(handler)
    url = httpserver.url_for("/feed")
    res = client.get(url)
    assert res.ok, res.error
    assert res.status == 200
    assert res.content == b"<rss>hi</rss>"
    assert res.url == url and res.final_url == url
    assert res.content_type == "application/rss+xml"
    assert res.headers["etag"] == '"v1"'  # lower-cased names
    assert res.etag == '"v1"'
    assert res.last_modified == "Tue, 01 Oct 2024 10:00:00 GMT"
    assert res.error is None and res.error_kind is None and not res.truncated
    assert res.elapsed > 0
    assert seen["ua"].startswith(f"newsdesk/{newsdesk.__version__} ")


def test_fetch_result_properties() -> None:
    ok = FetchResult(url="u", final_url="u", status=204)
    assert ok.ok and ok.content_type == ""
    assert not FetchResult(url="u", final_url="u", status=None).ok
    assert not FetchResult(url="u", final_url="u", status=200, error="x", error_kind="http").ok
    assert not FetchResult(url="u", final_url="u", status=304).ok  # 304 without conditional
    assert FetchResult(url="u", final_url="u", status=304, not_modified=True).ok
    typed = FetchResult(url="u", final_url="u", status=200, headers={"content-type": "Text/HTML"})
    assert typed.content_type == "text/html"


def test_conditional_get_304(httpserver: HTTPServer, client: HttpClient) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v2"':
            assert request.headers.get("If-Modified-Since") == "Tue, 01 Oct 2024 10:00:00 GMT"
            return Response(status=304, headers={"ETag": '"v2"'})
        return Response("fresh", headers={"ETag": '"v2"'})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    url = httpserver.url_for("/feed")
    first = client.get(url)
    assert first.status == 200 and first.content == b"fresh" and not first.not_modified
    again = client.get(url, etag=first.etag, last_modified="Tue, 01 Oct 2024 10:00:00 GMT")
    assert again.status == 304
    assert again.not_modified and again.ok
    assert again.content == b""
    assert again.etag == '"v2"'


def test_304_without_validators_keeps_the_ones_sent(
    httpserver: HTTPServer, client: HttpClient
) -> None:
    httpserver.expect_request("/feed").respond_with_response(Response(status=304))
    res = client.get(httpserver.url_for("/feed"), etag='"a"', last_modified="Mon, 01 Jan 2024")
    assert res.not_modified and res.ok
    assert res.etag == '"a"' and res.last_modified == "Mon, 01 Jan 2024"


def test_unusable_stored_validators_are_not_sent(
    httpserver: HTTPServer, client: HttpClient
) -> None:
    seen: list[str | None] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("If-None-Match"))
        return Response("body")

    httpserver.expect_request("/feed").respond_with_handler(handler)
    res = client.get(httpserver.url_for("/feed"), etag='"caf\u00e9"\r\nX-Evil: 1')
    assert res.ok and seen == [None]


# Retries ------------------------------------------------------------------------------------


def test_retries_on_500_then_succeeds(httpserver: HTTPServer, client: HttpClient) -> None:
    counter = Counter(lambda n, _r: Response("boom", status=500) if n < 3 else Response("ok"))
    httpserver.expect_request("/flaky").respond_with_handler(counter)
    res = client.get(httpserver.url_for("/flaky"))
    assert res.ok, res.error
    assert res.content == b"ok"
    assert counter.calls == 3


def test_gives_up_on_persistent_500(httpserver: HTTPServer, client: HttpClient) -> None:
    counter = Counter(lambda _n, _r: Response("boom", status=503))
    httpserver.expect_request("/down").respond_with_handler(counter)
    url = httpserver.url_for("/down")
    res = client.get(url)
    assert not res.ok
    assert res.status == 503 and res.error_kind == "http"
    assert counter.calls == 3  # retries=2
    assert "503" in res.error and url in res.error and "\n" not in res.error


def test_429_retry_after_is_honoured(httpserver: HTTPServer, client: HttpClient) -> None:
    counter = Counter(
        lambda n, _r: (
            Response("slow down", status=429, headers={"Retry-After": "1"})
            if n == 1
            else Response("ok")
        )
    )
    httpserver.expect_request("/rl").respond_with_handler(counter)
    res = client.get(httpserver.url_for("/rl"))
    assert res.ok, res.error
    assert counter.calls == 2
    assert counter.times[1] - counter.times[0] >= 0.95
    assert res.elapsed >= 0.95


def test_429_long_retry_after_gives_up_at_once(httpserver: HTTPServer) -> None:
    counter = Counter(lambda _n, _r: Response("later", status=429, headers={"Retry-After": "3600"}))
    httpserver.expect_request("/rl").respond_with_handler(counter)
    # A deadline far beyond the hour proves it is max_retry_wait that makes us give up.
    with HttpClient(**{**FAST, "deadline": 10_000, "max_retry_wait": 5}) as c:
        res = c.get(httpserver.url_for("/rl"))
    assert counter.calls == 1
    assert res.error_kind == "rate_limited"
    assert res.retry_after == pytest.approx(3600)
    assert res.elapsed < 1
    assert "3600" in res.error


def test_503_long_retry_after_returns_it(httpserver: HTTPServer) -> None:
    counter = Counter(
        lambda _n, _r: Response("maintenance", status=503, headers={"Retry-After": "600"})
    )
    httpserver.expect_request("/m").respond_with_handler(counter)
    with HttpClient(**{**FAST, "deadline": 10_000, "max_retry_wait": 5}) as c:
        res = c.get(httpserver.url_for("/m"))
    assert counter.calls == 1
    assert res.error_kind == "http" and res.status == 503
    assert res.retry_after == pytest.approx(600)


def test_404_is_not_retried(httpserver: HTTPServer, client: HttpClient) -> None:
    counter = Counter(lambda _n, _r: Response("nope", status=404))
    httpserver.expect_request("/gone").respond_with_handler(counter)
    url = httpserver.url_for("/gone")
    res = client.get(url)
    assert counter.calls == 1
    assert res.status == 404 and res.error_kind == "http" and not res.ok
    assert "404" in res.error and url in res.error


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = time.time() + 100
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(later))
    assert parse_retry_after(http_date) == pytest.approx(100, abs=2)
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0


# Slow and broken servers ------------------------------------------------------------------


def test_trickling_body_hits_the_deadline(raw_server: RawFactory) -> None:
    def trickle(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stop.wait(0.2):
            conn.sendall(b"x")

    server = raw_server(trickle)
    with HttpClient(**{**FAST, "deadline": 1, "read_timeout": 5}) as c:
        res = c.get(server.url("/slow"))
    assert res.error_kind == "timeout", res.error
    assert res.elapsed < 2
    assert "timed out" in res.error and server.url("/slow") in res.error
    assert not res.ok


def test_trickling_status_line_hits_the_deadline(raw_server: RawFactory) -> None:
    """Socket timeouts restart on each byte; the watchdog must cut the headers too."""

    def trickle(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        while not stop.wait(0.2):
            conn.sendall(b"y")

    server = raw_server(trickle)
    with HttpClient(**{**FAST, "deadline": 1, "read_timeout": 5}) as c:
        res = c.get(server.url("/slow"))
    assert res.error_kind == "timeout", res.error
    assert res.elapsed < 2


def test_no_response_times_out(raw_server: RawFactory) -> None:
    def silent(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        stop.wait(10)

    server = raw_server(silent)
    with HttpClient(**{**FAST, "deadline": 1, "read_timeout": 0.4}) as c:
        res = c.get(server.url("/"))
    assert res.error_kind == "timeout", res.error
    assert res.status is None
    assert res.elapsed < 2
    assert server.connections >= 2  # a read timeout is retried while the deadline allows


def test_timeout_argument_scales_read_timeout_and_deadline(raw_server: RawFactory) -> None:
    def silent(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        stop.wait(10)

    server = raw_server(silent)
    with HttpClient(**{**FAST, "read_timeout": 30, "deadline": 60, "retries": 0}) as c:
        res = c.get(server.url("/"), timeout=0.5)
    assert res.error_kind == "timeout"
    assert res.elapsed < 1.5


def test_connection_reset_mid_body(raw_server: RawFactory) -> None:
    def reset(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"a" * 1000)
        time.sleep(0.05)
        # SO_LINGER with a zero timeout turns close() into a TCP RST.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    server = raw_server(reset)
    url = server.url("/feed")
    with HttpClient(**{**FAST, "retries": 1}) as c:
        res = c.get(url)
    assert res.error_kind == "connection", res.error
    assert not res.ok and res.content == b""
    assert "connection lost" in res.error and url in res.error
    assert server.connections == 2  # retried once


def test_body_shorter_than_content_length(raw_server: RawFactory) -> None:
    def short(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"a" * 100)

    server = raw_server(short)
    with HttpClient(**{**FAST, "retries": 0}) as c:
        res = c.get(server.url("/feed"))
    assert res.error_kind == "connection" and not res.ok
    assert "after 100 bytes" in res.error and "IncompleteRead" in res.error


def test_server_not_speaking_http(raw_server: RawFactory) -> None:
    def ssh(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    server = raw_server(ssh)
    with HttpClient(**{**FAST, "retries": 0}) as c:
        res = c.get(server.url("/feed"))
    assert res.error_kind == "connection" and res.status is None
    assert "no valid HTTP response" in res.error


def test_corrupt_gzip_is_an_http_error(httpserver: HTTPServer, client: HttpClient) -> None:
    httpserver.expect_request("/gz").respond_with_data(
        b"definitely not gzip", headers={"Content-Encoding": "gzip"}
    )
    res = client.get(httpserver.url_for("/gz"))
    assert res.error_kind == "http" and res.status == 200 and not res.ok
    assert "decode the gzip body" in res.error


def test_connection_refused(client: HttpClient) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    res = client.get(f"http://127.0.0.1:{port}/")
    assert res.error_kind == "connection"
    assert res.status is None and "127.0.0.1" in res.error


def test_https_url_to_plain_http_server_is_a_tls_error(
    httpserver: HTTPServer, client: HttpClient
) -> None:
    counter = Counter(lambda _n, _r: Response("plain"))
    httpserver.expect_request("/feed").respond_with_handler(counter)
    url = httpserver.url_for("/feed").replace("http://", "https://")
    res = client.get(url)
    assert res.error_kind == "tls", res.error
    assert "TLS/SSL handshake failed" in res.error and "scheme" in res.error
    assert counter.calls == 0


# Redirects and schemes ------------------------------------------------------------------


def test_redirects_are_followed(httpserver: HTTPServer, client: HttpClient) -> None:
    httpserver.expect_request("/a").respond_with_response(
        Response(status=301, headers={"Location": "/b"})
    )
    httpserver.expect_request("/b").respond_with_response(
        Response(status=302, headers={"Location": httpserver.url_for("/c")})
    )
    httpserver.expect_request("/c").respond_with_data("end")
    res = client.get(httpserver.url_for("/a"))
    assert res.ok and res.content == b"end"
    assert res.url == httpserver.url_for("/a")
    assert res.final_url == httpserver.url_for("/c")


def test_redirect_loop(httpserver: HTTPServer, client: HttpClient) -> None:
    httpserver.expect_request("/a").respond_with_response(
        Response(status=302, headers={"Location": "/b"})
    )
    httpserver.expect_request("/b").respond_with_response(
        Response(status=302, headers={"Location": "/a"})
    )
    res = client.get(httpserver.url_for("/a"))
    assert res.error_kind == "redirects"
    assert "loop" in res.error


def test_too_many_redirects(httpserver: HTTPServer) -> None:
    for i in range(5):
        httpserver.expect_request(f"/r{i}").respond_with_response(
            Response(status=307, headers={"Location": f"/r{i + 1}"})
        )
    httpserver.expect_request("/r5").respond_with_data("end")
    with HttpClient(**{**FAST, "max_redirects": 4}) as c:
        res = c.get(httpserver.url_for("/r0"))
        assert res.error_kind == "redirects" and "more than 4" in res.error
    with HttpClient(**{**FAST, "max_redirects": 5}) as c:
        assert c.get(httpserver.url_for("/r0")).content == b"end"


def test_redirect_to_file_scheme_is_refused(httpserver: HTTPServer, client: HttpClient) -> None:
    httpserver.expect_request("/evil").respond_with_response(
        Response(status=302, headers={"Location": "file:///etc/passwd"})
    )
    res = client.get(httpserver.url_for("/evil"))
    assert res.error_kind == "scheme"
    assert "file:///etc/passwd" in res.error
    assert res.content == b""


@pytest.mark.parametrize(
    "url", ["ftp://example.org/feed", "file:///etc/passwd", "javascript:alert(1)", "example.org"]
)
def test_only_http_and_https(client: HttpClient, url: str) -> None:
    res = client.get(url)
    assert res.error_kind == "scheme" and url in res.error
    assert res.status is None


# Size caps ------------------------------------------------------------------------------------


def test_oversized_body_is_cut_at_the_cap(
    httpserver: HTTPServer, client: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/big").respond_with_data(b"z" * 300_000)
    httpserver.expect_request("/exact").respond_with_data(b"z" * 1000)
    with caplog.at_level("WARNING", logger="newsdesk.http"):
        res = client.get(httpserver.url_for("/big"), max_bytes=100_000)
    assert res.truncated and res.ok
    assert len(res.content) == 100_000
    assert any("100000" in r.getMessage() for r in caplog.records)
    exact = client.get(httpserver.url_for("/exact"), max_bytes=1000)
    assert not exact.truncated and len(exact.content) == 1000


def test_chunked_body_without_length_is_cut_at_the_cap(
    httpserver: HTTPServer, client: HttpClient
) -> None:
    def generate() -> Iterator[bytes]:
        for _ in range(200):
            yield b"q" * 10_000

    httpserver.expect_request("/stream").respond_with_response(Response(generate()))
    res = client.get(httpserver.url_for("/stream"), max_bytes=50_000)
    assert res.truncated and len(res.content) == 50_000


def test_gzip_body_is_decoded(httpserver: HTTPServer, client: HttpClient) -> None:
    httpserver.expect_request("/gz").respond_with_data(
        gzip.compress(b"hello " * 100), headers={"Content-Encoding": "gzip"}
    )
    res = client.get(httpserver.url_for("/gz"))
    assert res.ok and res.content == b"hello " * 100 and not res.truncated


def test_gzip_bomb_is_cut_at_the_cap(httpserver: HTTPServer, client: HttpClient) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    started = time.monotonic()
    res = client.get(httpserver.url_for("/bomb"), max_bytes=1_000_000)
    assert res.truncated
    assert len(res.content) == 1_000_000
    assert time.monotonic() - started < 3


# Address policy ---------------------------------------------------------------------------


def test_loopback_is_blocked_unless_allowed(httpserver: HTTPServer) -> None:
    counter = Counter(lambda _n, _r: Response("secret"))
    httpserver.expect_request("/admin").respond_with_handler(counter)
    url = f"http://127.0.0.1:{httpserver.port}/admin"
    with HttpClient(**{**FAST, "allow_private": False}) as c:
        res = c.get(url)
        assert res.error_kind == "blocked_address"
        assert "loopback" in res.error and url in res.error
        by_name = c.get(httpserver.url_for("/admin").replace("127.0.0.1", "localhost"))
        assert by_name.error_kind == "blocked_address"
        assert counter.calls == 0
        assert c.get(url, allow_private=True).content == b"secret"  # per-call override
    with HttpClient(**{**FAST, "allow_private": True}) as c:
        assert c.get(url).ok
        assert c.get(url, allow_private=False).error_kind == "blocked_address"
    assert counter.calls == 2


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.5",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "[::1]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
    ],
)
def test_blocked_addresses_are_refused_before_connecting(host: str) -> None:
    # A connection attempt to these would hang for the connect timeout or be refused,
    # both of which give another error_kind and take longer.
    with HttpClient(**{**FAST, "connect_timeout": 3, "allow_private": False}) as c:
        res = c.get(f"http://{host}/latest/meta-data/")
    assert res.error_kind == "blocked_address", res.error
    assert res.elapsed < 0.5


def test_every_redirect_hop_is_checked(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Treat the test server's loopback address as public so that the first hop is
    # allowed; the redirect target (the cloud metadata address) must still be refused.
    real = nh._address_kind
    monkeypatch.setattr(
        nh, "_address_kind", lambda ip: None if str(ip) == "127.0.0.1" else real(ip)
    )
    httpserver.expect_request("/hop").respond_with_response(
        Response(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    with HttpClient(**{**FAST, "allow_private": False}) as c:
        res = c.get(f"http://127.0.0.1:{httpserver.port}/hop")
    assert res.error_kind == "blocked_address"
    assert "169.254.169.254" in res.error and "link-local" in res.error
    assert res.elapsed < 0.5


def test_dns_failure_is_a_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*_args: object, **_kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with HttpClient(**{**FAST, "allow_private": False}) as c:
        res = c.get("http://feeds.example.invalid/rss")
    assert res.error_kind == "connection"
    assert "could not resolve feeds.example.invalid" in res.error


# robots.txt --------------------------------------------------------------------------------


def test_robots_disallow(httpserver: HTTPServer, client: HttpClient) -> None:
    robots = Counter(
        lambda _n, _r: Response("User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    )
    page = Counter(lambda _n, _r: Response("page"))
    httpserver.expect_request("/robots.txt").respond_with_handler(robots)
    httpserver.expect_request("/private/story").respond_with_handler(page)
    httpserver.expect_request("/public/story").respond_with_handler(page)
    res = client.get(httpserver.url_for("/private/story"), check_robots=True)
    assert res.error_kind == "robots"
    assert "robots.txt" in res.error
    assert page.calls == 0
    ok = client.get(httpserver.url_for("/public/story"), check_robots=True)
    assert ok.ok and page.calls == 1
    assert client.robots_allowed(httpserver.url_for("/private/other")) is False
    assert robots.calls == 1  # cached per scheme+host
    # without check_robots the page is fetched
    assert client.get(httpserver.url_for("/private/story")).ok


def test_robots_groups_match_newsdesk_agent(httpserver: HTTPServer, client: HttpClient) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: newsdesk\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    )
    assert client.robots_allowed(httpserver.url_for("/story")) is False


@pytest.mark.parametrize("status", [404, 403, 500])
def test_robots_missing_or_broken_means_allowed(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("no", status=status)
    httpserver.expect_request("/story").respond_with_data("page")
    with HttpClient(**{**FAST, "retries": 0}) as c:
        res = c.get(httpserver.url_for("/story"), check_robots=True)
    assert res.ok and res.content == b"page"


# Politeness --------------------------------------------------------------------------------


class ConcurrencyProbe:
    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.current = 0
        self.peak = 0
        self.starts: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, _request: Request) -> Response:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
            self.starts.append(time.monotonic())
        time.sleep(self.hold)
        with self._lock:
            self.current -= 1
        return Response("ok")


def _fetch_all(client: HttpClient, urls: list[str]) -> list[FetchResult]:
    results: list[FetchResult] = []
    lock = threading.Lock()

    def one(url: str) -> None:
        res = client.get(url)
        with lock:
            results.append(res)

    threads = [threading.Thread(target=one, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


def test_per_host_concurrency_limit(threaded_server: HTTPServer) -> None:
    probe = ConcurrencyProbe(hold=0.3)
    threaded_server.expect_request("/slow").respond_with_handler(probe)
    url = threaded_server.url_for("/slow")
    with HttpClient(**{**FAST, "per_host": 2}) as c:
        results = _fetch_all(c, [url] * 6)
    assert all(r.ok for r in results) and len(results) == 6
    assert probe.peak == 2
    with HttpClient(**{**FAST, "per_host": 4}) as c:
        probe.peak = 0
        _fetch_all(c, [url] * 4)
    assert probe.peak == 4  # the server can serve 4 at once: the limit above was ours


def test_host_delay_spaces_request_starts(threaded_server: HTTPServer) -> None:
    probe = ConcurrencyProbe(hold=0)
    threaded_server.expect_request("/x").respond_with_handler(probe)
    with HttpClient(**{**FAST, "per_host": 4, "host_delay": 0.2}) as c:
        _fetch_all(c, [threaded_server.url_for("/x")] * 4)
    starts = sorted(probe.starts)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.15


def test_different_hosts_proceed_concurrently() -> None:
    servers = [HTTPServer(host="127.0.0.1", port=0, threaded=True) for _ in range(2)]
    probes = [ConcurrencyProbe(hold=0.5) for _ in servers]
    try:
        for server, probe in zip(servers, probes, strict=True):
            server.expect_request("/x").respond_with_handler(probe)
            server.start()
        with HttpClient(**{**FAST, "per_host": 1}) as c:
            started = time.monotonic()
            results = _fetch_all(c, [s.url_for("/x") for s in servers])
            took = time.monotonic() - started
        assert all(r.ok for r in results)
        assert took < 0.9  # serial would be >= 1.0
    finally:
        for server in servers:
            server.stop()
