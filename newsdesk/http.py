"""The polite HTTP client every fetch in newsdesk goes through.

`HttpClient.get` never raises for network or HTTP trouble: it returns a `FetchResult` whose
`error` is one human line (what failed, for which URL, what to do) and whose `error_kind`
is a short machine-readable tag.

What the client guarantees:

* one `requests.Session` with pooled connections, safe to call from many threads;
* a wall-clock *deadline* for the whole `get` call (all attempts, redirects and backoff
  waits; time spent queueing for our own per-host politeness slot does not count), enforced
  while the body streams in, so a server trickling one byte a second cannot hang a run;
* a body cap counted in *decoded* bytes (a gzip bomb is cut at the cap, never inflated);
* retries with exponential backoff and jitter on connection errors, timeouts, 429 and 5xx,
  honouring `Retry-After` when it is short and giving up at once when it is long;
* redirects followed by hand, each hop re-checked for scheme and address;
* an SSRF guard refusing loopback, private, link-local, reserved, multicast and
  unspecified addresses unless `allow_private`;
* per-host politeness: at most `per_host` requests in flight and at least `host_delay`
  seconds between request starts to one host;
* optional robots.txt checks, cached per scheme and host.
"""

from __future__ import annotations

import email.utils
import http.client
import http.cookiejar
import ipaddress
import logging
import random
import re
import socket
import threading
import time
import urllib.robotparser
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
import urllib3.connection
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar

from newsdesk import __version__

log = logging.getLogger("newsdesk.http")

DEFAULT_USER_AGENT = f"newsdesk/{__version__} (+https://github.com/newsdesk/newsdesk)"

# error_kind values ---------------------------------------------------------------
KIND_TIMEOUT = "timeout"
KIND_CONNECTION = "connection"
KIND_TLS = "tls"
KIND_HTTP = "http"
KIND_TOO_LARGE = "too_large"  # reserved: oversized bodies are truncated, not failed
KIND_REDIRECTS = "redirects"
KIND_SCHEME = "scheme"
KIND_ROBOTS = "robots"
KIND_BLOCKED = "blocked_address"
KIND_RATE_LIMITED = "rate_limited"

ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 512_000
_CHUNK = 64 * 1024


@dataclass
class FetchResult:
    """Everything a caller needs to know about one `HttpClient.get`."""

    url: str  # requested URL
    final_url: str  # after redirects
    status: int | None  # HTTP status, None when no response
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    not_modified: bool = False  # 304 answer to a conditional GET
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0  # seconds, all attempts
    truncated: bool = False  # body cut at max_bytes
    error: str | None = None  # one human line: URL, problem, what to do
    error_kind: str | None = None
    retry_after: float | None = None  # seconds the server asked us to wait, when we gave up

    @property
    def ok(self) -> bool:
        """2xx without error; a 304 to a conditional GET counts as ok."""
        if self.error is not None or self.status is None:
            return False
        return 200 <= self.status < 300 or (self.status == 304 and self.not_modified)

    @property
    def content_type(self) -> str:
        """The media type only ("text/html"), lower case, "" when there is none."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


# Internal plumbing -----------------------------------------------------------------


@dataclass
class _Call:
    """Per-`get` state shared by its hops and attempts."""

    url: str
    read_timeout: float
    deadline: float  # seconds allowed for the whole call
    deadline_at: float  # monotonic clock value
    max_bytes: int
    allow_private: bool
    check_robots: bool
    etag: str | None
    last_modified: str | None
    retries_used: int = 0
    cookies: RequestsCookieJar = field(default_factory=RequestsCookieJar)

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()


@dataclass
class _Attempt:
    """What one request/response exchange produced."""

    result: FetchResult | None = None  # final answer (success or error)
    redirect: str | None = None  # absolute URL to follow next
    retryable: bool = False  # result is an error worth another attempt
    retry_after: float | None = None  # server-requested wait, if any


class _HostGate:
    """Limits in-flight requests to one host and spaces their starts."""

    def __init__(self, per_host: int, delay: float) -> None:
        self._slots = threading.BoundedSemaphore(per_host)
        self._lock = threading.Lock()
        self._delay = delay
        self._next_start = 0.0

    def acquire(self) -> float:
        """Block until a request may start; return the seconds spent waiting."""
        began = time.monotonic()
        self._slots.acquire()
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._delay
        if start > now:
            time.sleep(start - now)
        return time.monotonic() - began

    def release(self) -> None:
        self._slots.release()


_local = threading.local()


class _Watchdog:
    """Cuts the connection of the current thread's request when its deadline passes.

    Socket timeouts restart on every received byte, so a server that trickles its status
    line or body would otherwise hold a request for hours. Connections made through the
    client's pools attach themselves to the active watchdog of their thread; when the
    timer fires, their socket is shut down and the blocked read returns at once.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._conn: object | None = None
        self._done = False
        self.fired = False
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        _local.watchdog = self
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _local.watchdog = None
        with self._lock:
            self._done = True
            self._conn = None
        self._timer.cancel()

    def attach(self, conn: object) -> None:
        with self._lock:
            if self._done:
                return
            self._conn = conn
            if self.fired:
                self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        sock = getattr(self._conn, "sock", None)
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _attach_to_watchdog(conn: object) -> None:
    dog = getattr(_local, "watchdog", None)
    if dog is not None:
        dog.attach(conn)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        _attach_to_watchdog(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_to_watchdog(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        _attach_to_watchdog(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_to_watchdog(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """HTTPAdapter whose (direct, non-proxy) connections report to the watchdog."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


@dataclass
class _RobotsEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    parser: urllib.robotparser.RobotFileParser | None = None  # None => everything allowed


def _secs(value: float) -> str:
    """Seconds for humans: 30s, 1.5s, 0.2s."""
    return f"{round(value, 1):g}s"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _exception_chain(exc: BaseException) -> list[tuple[int, BaseException]]:
    """Every exception wrapped inside `exc` (via reason, cause, context, args), with depth."""
    found: list[tuple[int, BaseException]] = []
    seen: set[int] = set()
    queue: list[tuple[int, BaseException]] = [(0, exc)]
    while queue:
        depth, err = queue.pop(0)
        if id(err) in seen:
            continue
        seen.add(id(err))
        found.append((depth, err))
        for nxt in (getattr(err, "reason", None), err.__cause__, err.__context__, *err.args):
            if isinstance(nxt, BaseException):
                queue.append((depth + 1, nxt))
    return found


def _reason_of(exc: BaseException) -> str:
    """The most telling short reason inside a requests/urllib3 exception chain."""

    def rank(item: tuple[int, BaseException]) -> tuple[int, int]:
        depth, err = item
        if isinstance(err, OSError) and err.strerror:
            return (3, depth)  # "Connection refused", "[SSL: ...] ..."
        if isinstance(err, http.client.HTTPException):
            return (2, depth)  # BadStatusLine, IncompleteRead, RemoteDisconnected
        if not isinstance(err, requests.RequestException | urllib3.exceptions.HTTPError):
            return (1, depth)  # zlib.error and other root causes
        return (0, -depth)  # a wrapper: the outermost one reads best

    best = max(_exception_chain(exc), key=rank)[1]
    if isinstance(best, OSError) and best.strerror:
        text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", best.strerror)
    else:
        text = _one_line(str(best))
        if isinstance(best, http.client.HTTPException) and not isinstance(best, OSError):
            name = type(best).__name__
            text = text if text.startswith(name) else f"{name}: {text}".rstrip(": ")
    return text[:200] or type(best).__name__


def _broken_response(exc: BaseException) -> bool:
    """Whether the server answered, but not with valid HTTP (as opposed to no connection)."""
    return any(isinstance(err, http.client.HTTPException) for _, err in _exception_chain(exc))


def _header_safe(value: str) -> bool:
    """Whether a stored validator can go into a request header as it is."""
    return value.isascii() and "\r" not in value and "\n" not in value


def _status_phrase(status: int, reason: str | None) -> str:
    if reason:
        return reason
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _http_hint(status: int) -> str:
    if status in (401, 403):
        return "access denied; the site may block bots or need a login"
    if status in (404, 410):
        return "page gone; check the URL or remove it from feeds.yaml"
    if status == 429:
        return "rate limited; newsdesk will try again on a later run"
    if status >= 500:
        return "server error; it will be retried on a later run"
    if 300 <= status < 400:
        return "redirect without a usable Location; check the URL in a browser"
    return "request rejected; check the URL in feeds.yaml"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is off limits ("loopback", ...), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def host_key(url: str) -> str:
    """The host and port whose `per_host` limit a request to `url` counts against."""
    parts = urlsplit(url)
    try:
        port = parts.port or _default_port(parts.scheme.lower())
    except ValueError:  # a malformed port: the request itself will report it
        return parts.netloc.lower()
    return f"{(parts.hostname or '').lower()}:{port}"


class HttpClient:
    """Thread-safe, polite HTTP GET client. See the module docstring for the guarantees."""

    def __init__(
        self,
        *,
        user_agent: str | None = None,
        connect_timeout: float = 10,
        read_timeout: float = 30,
        deadline: float = 60,
        max_bytes: int = 10_000_000,
        max_redirects: int = 5,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_wait: float = 30,
        per_host: int = 2,
        host_delay: float = 0.5,
        allow_private: bool = False,
    ) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        if min(connect_timeout, read_timeout, deadline) <= 0:
            raise ValueError("timeouts and deadline must be positive")
        self.user_agent = user_agent or DEFAULT_USER_AGENT
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.deadline = float(deadline)
        self.max_bytes = int(max_bytes)
        self.max_redirects = int(max_redirects)
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.max_retry_wait = float(max_retry_wait)
        self.per_host = int(per_host)
        self.host_delay = max(0.0, float(host_delay))
        self.allow_private = bool(allow_private)
        # robots.txt groups are matched on the product token ("newsdesk").
        self._robots_agent = (self.user_agent.split("/", 1)[0].split() or ["newsdesk"])[0]

        session = requests.Session()
        adapter = _WatchedAdapter(
            pool_connections=64,  # hosts whose pools are kept
            pool_maxsize=max(16, self.per_host),  # connections kept per host
            max_retries=0,  # retries are ours, with deadline and Retry-After
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = self.user_agent
        # No cookie state shared between calls (or threads): each call has its own jar.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._session = session

        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()
        self._robots: dict[str, _RobotsEntry] = {}
        self._robots_lock = threading.Lock()

    # Context manager / lifecycle ----------------------------------------------------

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # Public API -----------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        check_robots: bool = False,
        allow_private: bool | None = None,
    ) -> FetchResult:
        """GET `url`. Never raises for network or HTTP trouble; see `FetchResult`.

        `timeout` replaces the read timeout for this call and scales the deadline by the
        same factor (with the defaults 30 s / 60 s, timeout=10 gives a 20 s deadline).
        """
        started = time.monotonic()
        read_timeout = self.read_timeout
        deadline = self.deadline
        if timeout is not None and timeout > 0:
            deadline = self.deadline * (timeout / self.read_timeout)
            read_timeout = float(timeout)
        call = _Call(
            url=url,
            read_timeout=read_timeout,
            deadline=deadline,
            deadline_at=started + deadline,
            max_bytes=self.max_bytes if max_bytes is None else int(max_bytes),
            allow_private=self.allow_private if allow_private is None else allow_private,
            check_robots=check_robots,
            etag=etag,
            last_modified=last_modified,
        )
        result = self._run(call)
        result.elapsed = time.monotonic() - started
        if result.error:
            log.debug("GET %s failed (%s): %s", url, result.error_kind, result.error)
        return result

    def robots_allowed(self, url: str, *, allow_private: bool | None = None) -> bool:
        """Whether robots.txt of `url`'s site lets newsdesk fetch `url`.

        robots.txt is fetched once per scheme+host through this client and cached. A
        missing robots.txt (4xx) allows everything; so does a 5xx or an unreachable host
        (logged at debug) -- the page fetch itself will then report the real problem.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES or not parts.hostname:
            return True
        key = f"{scheme}://{parts.netloc.lower()}"
        with self._robots_lock:
            entry = self._robots.setdefault(key, _RobotsEntry())
        with entry.lock:
            if not entry.done:
                entry.parser = self._load_robots(key + "/robots.txt", allow_private)
                entry.done = True
            parser = entry.parser
        if parser is None:
            return True
        return parser.can_fetch(self._robots_agent, url)

    # Robots -----------------------------------------------------------------------------

    def _load_robots(
        self, robots_url: str, allow_private: bool | None
    ) -> urllib.robotparser.RobotFileParser | None:
        res = self.get(robots_url, max_bytes=ROBOTS_MAX_BYTES, allow_private=allow_private)
        if res.status is not None and 200 <= res.status < 300 and res.error is None:
            parser = urllib.robotparser.RobotFileParser(robots_url)
            parser.parse(res.content.decode("utf-8", errors="replace").splitlines())
            return parser
        if res.status is not None and 400 <= res.status < 500:
            log.debug("no robots.txt at %s (HTTP %s): all allowed", robots_url, res.status)
        else:
            log.debug("robots.txt at %s unavailable (%s): all allowed", robots_url, res.error)
        return None

    # The fetch loop -------------------------------------------------------------------

    def _run(self, call: _Call) -> FetchResult:
        current = call.url
        problem = self._scheme_problem(current)
        if problem is not None:
            return self._fail(call, current, KIND_SCHEME, problem)
        chain = [current]
        while True:
            if not call.allow_private:
                problem = self._address_problem(current)
                if problem is not None:
                    kind, message = problem
                    return self._fail(call, current, kind, message)
            if call.check_robots and not self._robots_check(call, current):
                host = urlsplit(current).hostname
                return self._fail(
                    call,
                    current,
                    KIND_ROBOTS,
                    f"robots.txt of {host} disallows {current} for {self._robots_agent} "
                    "(respecting the site's wishes; turn off full text for this feed)",
                )
            outcome = self._fetch_with_retries(call, current)
            if outcome.result is not None:
                return outcome.result
            target = outcome.redirect
            assert target is not None
            if len(chain) > self.max_redirects:
                looped = target in chain
                path = " -> ".join([*chain[-3:], target])
                what = "redirect loop" if looped else f"more than {self.max_redirects} redirects"
                advice = (
                    "the site is misconfigured; check the URL in a browser"
                    if looped
                    else "point feeds.yaml at the final URL"
                )
                return self._fail(
                    call, current, KIND_REDIRECTS, f"{what} fetching {call.url}: {path} ({advice})"
                )
            problem = self._scheme_problem(target)
            if problem is not None:
                return self._fail(
                    call,
                    current,
                    KIND_SCHEME,
                    f"{current} redirected to {target}, which is not an http(s) URL "
                    "(refusing to follow; check the feed URL)",
                )
            log.debug("redirect %s -> %s", current, target)
            chain.append(target)
            current = target

    def _robots_check(self, call: _Call, url: str) -> bool:
        began = time.monotonic()
        allowed = self.robots_allowed(url, allow_private=call.allow_private)
        # The robots.txt fetch has its own deadline; do not charge it to the page.
        call.deadline_at += time.monotonic() - began
        return allowed

    def _fetch_with_retries(self, call: _Call, url: str) -> _Attempt:
        while True:
            outcome = self._attempt(call, url)
            if outcome.redirect is not None or not outcome.retryable:
                return outcome
            result = outcome.result
            assert result is not None
            wait = outcome.retry_after
            if wait is not None and wait > self.max_retry_wait:
                result.retry_after = wait
                return outcome
            if call.retries_used >= self.retries:
                result.retry_after = wait
                return outcome
            if wait is None:
                base = self.backoff * (2**call.retries_used)
                wait = min(self.max_retry_wait, base * (0.5 + random.random()))
            if wait >= call.remaining():
                result.retry_after = outcome.retry_after
                return outcome
            call.retries_used += 1
            log.debug(
                "retry %d/%d of %s in %.2fs (%s)",
                call.retries_used,
                self.retries,
                url,
                wait,
                result.error_kind,
            )
            time.sleep(wait)

    def _gate(self, url: str) -> _HostGate:
        key = host_key(url)
        with self._gates_lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = _HostGate(self.per_host, self.host_delay)
            return gate

    def _attempt(self, call: _Call, url: str) -> _Attempt:
        gate = self._gate(url)
        waited = gate.acquire()
        try:
            # Queueing behind our own politeness limits is not the server's slowness.
            call.deadline_at += waited
            remaining = call.remaining()
            if remaining <= 0:
                return self._timeout_attempt(call, url)
            with _Watchdog(remaining) as dog:
                outcome = self._exchange(call, url, remaining)
            if dog.fired and outcome.result is not None and outcome.result.error is not None:
                # Whatever broke, it broke because the watchdog cut the connection.
                return self._timeout_attempt(call, url, base=outcome.result)
            return outcome
        finally:
            gate.release()

    def _exchange(self, call: _Call, url: str, remaining: float) -> _Attempt:
        host = urlsplit(url).hostname
        headers: dict[str, str] = {}
        if call.etag and _header_safe(call.etag):
            headers["If-None-Match"] = call.etag
        if call.last_modified and _header_safe(call.last_modified):
            headers["If-Modified-Since"] = call.last_modified
        connect_t = min(self.connect_timeout, remaining)
        read_t = min(call.read_timeout, remaining)
        log.debug("GET %s (attempt %d)", url, call.retries_used + 1)
        sent = time.monotonic()
        try:
            resp = self._session.get(
                url,
                headers=headers,
                timeout=(connect_t, read_t),
                stream=True,
                allow_redirects=False,
                cookies=call.cookies,
            )
        except requests.exceptions.SSLError as exc:
            return self._error_attempt(
                call,
                url,
                KIND_TLS,
                f"TLS/SSL handshake failed for {host} fetching {url} ({_reason_of(exc)}) "
                "(check the URL's scheme: the server may only speak http://, "
                "or its certificate is invalid)",
            )
        except requests.exceptions.ConnectTimeout:
            return self._error_attempt(
                call,
                url,
                KIND_TIMEOUT,
                f"timed out after {_secs(connect_t)} connecting to {host} for {url} "
                "(host down or unreachable; check the URL or raise timeout in feeds.yaml)",
                retryable=True,
            )
        except requests.exceptions.ReadTimeout:
            return self._error_attempt(
                call,
                url,
                KIND_TIMEOUT,
                f"timed out after {_secs(read_t)} waiting for a response from {url} "
                "(server too slow; raise timeout in feeds.yaml)",
                retryable=True,
            )
        except requests.exceptions.ConnectionError as exc:
            if _broken_response(exc):
                text = (
                    f"no valid HTTP response from {url} ({_reason_of(exc)}) (the server "
                    "dropped the connection or does not speak HTTP there; check the URL)"
                )
            else:
                text = (
                    f"could not connect to {host} for {url} ({_reason_of(exc)}) "
                    "(host down or URL wrong; check it in feeds.yaml)"
                )
            return self._error_attempt(call, url, KIND_CONNECTION, text, retryable=True)
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
        ) as exc:
            return self._error_attempt(
                call,
                url,
                KIND_SCHEME,
                f"cannot fetch {url}: invalid URL ({_reason_of(exc)}) (fix the URL in feeds.yaml)",
            )
        except requests.RequestException as exc:
            return self._error_attempt(
                call,
                url,
                KIND_CONNECTION,
                f"request to {url} failed ({_reason_of(exc)}) (check the URL in feeds.yaml)",
            )
        try:
            return self._handle_response(call, url, resp, sent)
        finally:
            resp.close()

    def _handle_response(
        self, call: _Call, url: str, resp: requests.Response, sent: float
    ) -> _Attempt:
        call.cookies.update(resp.cookies)
        status = resp.status_code
        headers = {k.lower(): v for k, v in resp.headers.items()}
        log.debug("GET %s -> %d in %.2fs", url, status, time.monotonic() - sent)
        base = FetchResult(
            url=call.url,
            final_url=url,
            status=status,
            headers=headers,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )
        phrase = _status_phrase(status, resp.reason)

        if status in REDIRECT_STATUSES and headers.get("location"):
            return _Attempt(redirect=urljoin(url, headers["location"].strip()))
        if status == 304:
            base.not_modified = True
            # Keep the validators we sent when the 304 does not repeat them.
            base.etag = base.etag or call.etag
            base.last_modified = base.last_modified or call.last_modified
            return _Attempt(result=base)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(headers.get("retry-after"))
            if status == 429:
                kind = KIND_RATE_LIMITED
                if retry_after is not None:
                    text = (
                        f"HTTP 429 Too Many Requests for {url}; the server asks to wait "
                        f"{_secs(retry_after)} (rate limited; this feed should pause)"
                    )
                else:
                    text = f"HTTP 429 Too Many Requests for {url} ({_http_hint(429)})"
            else:
                kind = KIND_HTTP
                text = f"HTTP {status} {phrase} for {url} ({_http_hint(status)})"
            base.error, base.error_kind = _one_line(text), kind
            return _Attempt(result=base, retryable=True, retry_after=retry_after)
        if not 200 <= status < 300:
            base.error = _one_line(f"HTTP {status} {phrase} for {url} ({_http_hint(status)})")
            base.error_kind = KIND_HTTP
            return _Attempt(result=base)
        return self._read_body(call, url, resp, base)

    def _read_body(
        self, call: _Call, url: str, resp: requests.Response, base: FetchResult
    ) -> _Attempt:
        cap = max(0, call.max_bytes)
        raw = resp.raw
        encoding = base.headers.get("content-encoding", "identity").strip().lower()
        declared = base.headers.get("content-length", "")
        if encoding in ("", "identity") and declared.isdigit() and int(declared) > cap:
            log.debug("%s declares %s bytes, over the %d-byte cap", url, declared, cap)

        # read1 returns whatever has arrived (urllib3 >= 2.3); plain read() may wait for a
        # whole chunk, which the watchdog still bounds.
        read = getattr(raw, "read1", None) or raw.read
        body = bytearray()
        truncated = False
        while True:
            remaining = call.remaining()
            if remaining <= 0:
                return self._timeout_attempt(call, url, base=base)
            self._tune_socket(raw, min(call.read_timeout, remaining))
            try:
                # One byte over the cap tells "exactly cap" from "more than cap".
                chunk = read(min(_CHUNK, cap - len(body) + 1), decode_content=True)
            except urllib3.exceptions.ReadTimeoutError:
                if call.remaining() <= 0:
                    return self._timeout_attempt(call, url, base=base)
                return self._error_attempt(
                    call,
                    url,
                    KIND_TIMEOUT,
                    f"timed out after {_secs(call.read_timeout)} waiting for more of {url} "
                    f"after {len(body)} bytes (server too slow; raise timeout in feeds.yaml)",
                    retryable=True,
                    base=base,
                )
            except urllib3.exceptions.DecodeError as exc:
                return self._error_attempt(
                    call,
                    url,
                    KIND_HTTP,
                    f"could not decode the {encoding} body of {url} ({_reason_of(exc)}) "
                    "(the server sent corrupt compressed data; try again later)",
                    base=base,
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                return self._error_attempt(
                    call,
                    url,
                    KIND_CONNECTION,
                    f"connection lost while reading {url} after {len(body)} bytes "
                    f"({_reason_of(exc)}) (the server closed or reset the connection; "
                    "try again later)",
                    retryable=True,
                    base=base,
                )
            if not chunk:
                break
            body += chunk
            if len(body) > cap:
                del body[cap:]
                truncated = True
                break
        if truncated:
            log.warning(
                "%s: body larger than %d bytes (decoded); keeping the first %d", url, cap, cap
            )
        base.content = bytes(body)
        base.truncated = truncated
        return _Attempt(result=base)

    @staticmethod
    def _tune_socket(raw: object, seconds: float) -> None:
        """Shrink the socket timeout so a single blocked read cannot outlive the deadline."""
        conn = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
        sock = getattr(conn, "sock", None)
        if sock is None:
            return
        try:
            sock.settimeout(max(0.01, seconds))
        except OSError:
            pass

    # Policy checks ------------------------------------------------------------------------

    @staticmethod
    def _scheme_problem(url: str) -> str | None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- raises ValueError on a bad port
        except ValueError as exc:
            return f"cannot fetch {url}: malformed URL ({exc}) (fix the URL in feeds.yaml)"
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            shown = parts.scheme or "no scheme"
            return (
                f"cannot fetch {url}: {shown} is not supported, only http and https "
                "(fix the URL in feeds.yaml)"
            )
        if not parts.hostname:
            return f"cannot fetch {url}: the URL has no host (fix the URL in feeds.yaml)"
        return None

    @staticmethod
    def _address_problem(url: str) -> tuple[str, str] | None:
        """(kind, message) when `url`'s host is, or resolves to, an off-limits address."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or _default_port(parts.scheme.lower())
        addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                return (
                    KIND_CONNECTION,
                    f"could not resolve {host} for {url} ({_reason_of(exc)}) "
                    "(DNS lookup failed; check the URL or the network)",
                )
            addresses = []
            for info in infos:
                try:
                    addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
                except ValueError:
                    continue
        for ip in addresses:
            kind = _address_kind(ip)
            if kind is not None:
                via = "is" if str(ip) == host else f"resolves to {ip},"
                return (
                    KIND_BLOCKED,
                    f"refusing to fetch {url}: {host} {via} a {kind} address "
                    "(set allow_private for trusted internal feeds)",
                )
        return None

    # Result builders ------------------------------------------------------------------------

    @staticmethod
    def _fail(call: _Call, final_url: str, kind: str, message: str) -> FetchResult:
        return FetchResult(
            url=call.url,
            final_url=final_url,
            status=None,
            error=_one_line(message),
            error_kind=kind,
        )

    def _error_attempt(
        self,
        call: _Call,
        url: str,
        kind: str,
        message: str,
        *,
        retryable: bool = False,
        base: FetchResult | None = None,
    ) -> _Attempt:
        result = base if base is not None else self._fail(call, url, kind, message)
        result.content = b""
        result.error = _one_line(message)
        result.error_kind = kind
        return _Attempt(result=result, retryable=retryable)

    def _timeout_attempt(
        self, call: _Call, url: str, *, base: FetchResult | None = None
    ) -> _Attempt:
        """The call's deadline has passed: a timeout, not worth retrying."""
        return self._error_attempt(
            call,
            url,
            KIND_TIMEOUT,
            f"timed out after {_secs(call.deadline)} reading {url} "
            "(server too slow; raise timeout in feeds.yaml)",
            base=base,
        )
