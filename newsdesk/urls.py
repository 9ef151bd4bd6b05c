"""URL helpers: canonical form for deduplication, scheme/host checks, private-address guard.

``canonicalize`` is hand-written rather than built on ``courlan.normalize_url``: courlan sorts the
query parameters, drops blank ones, decodes punycode hosts to Unicode and strips a wide family of
parameters by regex (anything matching ``source``, ``ref``, ``cid``, ...) which can merge two
distinct articles. Here only a fixed list of known trackers goes, the others keep their order,
and hosts are kept in their ASCII (IDNA) form, which is what goes on the wire.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from urllib.parse import urljoin, urlsplit, urlunsplit

log = logging.getLogger("newsdesk.urls")

# Query parameters that only identify a campaign, a click or a sharer, never the content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "twclid", "ttclid",
        "li_fat_id", "mc_cid", "mc_eid", "igshid", "igsh", "_ga", "_gl", "yclid", "ysclid",
        "ocid", "cmpid", "ref_src", "ref_url", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "wt.mc_id", "s_cid", "spm", "__twitter_impression",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "itm_", "hsa_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 unreserved characters: percent-escapes of these are decoded, everything else that is not
# allowed in its component is escaped, and every escape's hex digits are upper-cased.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))
_QUERY_SAFE = frozenset(_PATH_SAFE | set("?"))
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_HEX = frozenset("0123456789abcdefABCDEF")


def _normalise_escapes(part: str, safe: frozenset[str], decode: bool = True) -> str:
    """Percent-encoding in one canonical form; idempotent.

    ``decode=False`` keeps escapes of unreserved characters (only upper-cases them): used for
    relative references, where decoding "%41:" would turn the path into a scheme.
    """
    out: list[str] = []
    i = 0
    n = len(part)
    while i < n:
        ch = part[i]
        if ch == "%" and i + 2 < n and part[i + 1] in _HEX and part[i + 2] in _HEX:
            byte = int(part[i + 1 : i + 3], 16)
            decoded = chr(byte)
            if decode and byte < 0x80 and decoded in _UNRESERVED:
                out.append(decoded)
            else:
                out.append("%" + part[i + 1 : i + 3].upper())
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        i += 1
    return "".join(out)


def _is_tracker(name: str) -> bool:
    key = name.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _clean_query(query: str) -> str:
    if not query:
        return ""
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0]
        if _is_tracker(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), name)):
            continue
        kept.append(_normalise_escapes(pair, _QUERY_SAFE))
    return "&".join(kept)


def _idna_host(host: str) -> str:
    host = host.strip().rstrip(".").lower() if host not in ("", ".") else host.lower()
    if not host or host.isascii():
        return host
    labels = []
    for label in host.split("."):
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append(label.encode("idna").decode("ascii"))
        except UnicodeError:
            labels.append(label)  # not encodable: keep the (lower-cased) Unicode label
    return ".".join(labels)


def _netloc(scheme: str, netloc: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        host, rest = (hostport[: end + 1], hostport[end + 1 :]) if end != -1 else (hostport, "")
        port = rest[1:] if rest.startswith(":") else ""
        host = host.lower()
    else:
        host, _, port = hostport.partition(":")
        host = _idna_host(host)
    if port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme):
        port = ""
    result = host + (":" + port if port else "")
    if userinfo:
        result = userinfo + "@" + result
    return result


def canonicalize(url: str, base: str | None = None) -> str:
    """Canonical form of ``url`` (resolved against ``base``). Never raises; idempotent.

    Lower-cases scheme and host, encodes the host as IDNA, strips the scheme's default port,
    drops the fragment and tracking parameters, turns an empty path into "/", and normalises
    percent-encoding. The path's case and segments are left alone.
    """
    if not isinstance(url, str):
        return ""
    text = url.strip()
    if base and isinstance(base, str):
        try:
            text = urljoin(base.strip(), text)
        except ValueError as exc:
            log.debug("cannot resolve %r against %r: %s", url, base, exc)
    result = _canonical(text)
    # Degenerate references ("////", "%41:") can take a second step to settle; real URLs never do.
    for _ in range(3):
        again = _canonical(result)
        if again == result:
            break
        result = again
    return result


def _canonical(text: str) -> str:
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. "http://[::1" (unbalanced bracket)
        log.debug("cannot split url %r: %s", text, exc)
        return text
    scheme = parts.scheme.lower()
    netloc = _netloc(scheme, parts.netloc) if parts.netloc else ""
    path = _normalise_escapes(parts.path, _PATH_SAFE, decode=bool(scheme or netloc))
    if not path and netloc:
        path = "/"
    query = _clean_query(parts.query)
    try:
        return urlunsplit((scheme, netloc, path, query, ""))
    except ValueError as exc:
        log.debug("cannot rebuild url %r: %s", text, exc)
        return text


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a host."""
    if not url or not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host_of(url))


def host_of(url: str) -> str:
    """Lower-case host of ``url`` without port or brackets; "" when there is none."""
    if not url or not isinstance(url, str):
        return ""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return ""
    return (host or "").rstrip(".").lower()


def _ip_is_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def is_private_host(host: str) -> bool:
    """True when ``host`` is (or resolves to) a loopback/private/link-local/reserved address.

    Names that do not resolve give False (the fetch will fail on its own). Any one private address
    among those a name resolves to is enough.
    """
    if not host or not isinstance(host, str):
        return False
    name = host.strip().strip("[]").rstrip(".").lower()
    if not name:
        return False
    try:
        return _ip_is_private(ipaddress.ip_address(name.split("%", 1)[0]))
    except ValueError:
        pass
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        infos = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError, ValueError):
        return False
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        try:
            if _ip_is_private(ipaddress.ip_address(address)):
                return True
        except ValueError:
            continue
    return False
