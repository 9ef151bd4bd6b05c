"""Article pages -> body text and metadata, through trafilatura.

`extract()` is the one entry point: fetch calls it in a ProcessPoolExecutor worker, and
benchmarks/extraction_eval.py scores the very same function. It is pure (no I/O, no
globals written), returns plain picklable values, and never raises on bad input.

The page is decoded once and parsed into one lxml tree; trafilatura's metadata pass and
its text pass both run on that tree (the order is the one `bare_extraction` uses
internally, so the body text is what trafilatura's defaults give). We read a few more
fields from the same tree ourselves: canonical URL, page language and the raw
published-date string (trafilatura only hands back a reformatted YYYY-MM-DD).
"""

from __future__ import annotations

import codecs
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from lxml import etree
from trafilatura import bare_extraction, extract_metadata, load_html

log = logging.getLogger("newsdesk.extract")

# Errors observed from lxml/trafilatura on hostile input; anything else is a bug to see.
_PARSE_ERRORS = (ValueError, TypeError, etree.LxmlError, RecursionError, UnicodeError)


@dataclass
class Extracted:
    text: str | None
    title: str | None
    author: str | None
    date: str | None  # raw date string as found on the page
    sitename: str | None
    language: str | None  # primary language subtag, lower case ("en", "de", ...)
    description: str | None
    canonical_url: str | None  # <link rel=canonical> / og:url, absolute
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def _empty() -> Extracted:
    return Extracted(None, None, None, None, None, None, None, None, [], [])


# --- decoding ---------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:\-]+)""")
# WHATWG: these labels mean windows-1252 in browsers, which is what pages really use.
_WHATWG_1252 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "ascii", "us-ascii"}


def _declared_charset(data: bytes) -> str | None:
    head = data[:4096]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if not match:
        return None
    label = match.group(1).decode("ascii", "replace").strip().lower()
    if label in _WHATWG_1252:
        return "cp1252"
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # a page that declares UTF-16 in a <meta> cannot be UTF-16 (the tag was ASCII-readable)
    return None if name.startswith("utf-16") or name.startswith("utf-32") else name


def decode_html(data: bytes | str) -> bytes | str:
    """Decode page bytes to text: BOM, then valid UTF-8, then the declared charset.

    Returns the bytes unchanged when none of those settle it, so that trafilatura's own
    detection (charset_normalizer) gets its turn.
    """
    if isinstance(data, str):
        return data
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    try:
        # strict UTF-8 that decodes is UTF-8: legacy encodings almost never validate
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(data)
    if declared and declared != "utf-8":
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            return data.decode(declared, errors="replace")
    return data


# --- fields trafilatura does not give back as we need them ------------------------------


def _absolute_http(href: str | None, base: str) -> str | None:
    if not href:
        return None
    href = href.strip()
    try:
        absolute = urljoin(base, href) if base else href
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return absolute


def _canonical_url(tree, url: str) -> str | None:
    for link in tree.iterfind(".//link[@rel][@href]"):
        if "canonical" in link.get("rel", "").lower().split():
            found = _absolute_http(link.get("href"), url)
            if found:
                return found
    for meta in tree.iterfind(".//meta[@content]"):
        if (meta.get("property") or meta.get("name") or "").lower() == "og:url":
            found = _absolute_http(meta.get("content"), url)
            if found:
                return found
    return None


_LANG_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")


def _language(tree) -> str | None:
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    for meta in tree.iterfind(".//meta[@content]"):
        key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if key in ("content-language", "og:locale", "language", "dc.language"):
            candidates.append(meta.get("content"))
    for value in candidates:
        match = _LANG_TAG.match((value or "").strip().split(",")[0].strip())
        if match:
            return match.group(1).lower()
    return None


_DATE_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "publishdate",
    "pubdate",
    "date",
    "dc.date.issued",
    "dc.date",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
)


def _jsonld_dates(tree) -> list[str]:
    found: list[str] = []

    def walk(node, depth: int = 0) -> None:
        if depth > 6:
            return
        if isinstance(node, dict):
            value = node.get("datePublished")
            if isinstance(value, str):
                found.append(value)
            for child in node.values():
                if isinstance(child, (dict, list)):
                    walk(child, depth + 1)
        elif isinstance(node, list):
            for child in node:
                walk(child, depth + 1)

    for script in tree.iterfind(".//script[@type]"):
        if "ld+json" not in script.get("type", "").lower() or not script.text:
            continue
        try:
            walk(json.loads(script.text))
        except (ValueError, RecursionError):
            continue
    return found


def _raw_date_candidates(tree) -> list[str]:
    """Published-date strings as the page writes them, best sources first."""
    by_key: dict[str, str] = {}
    for meta in tree.iterfind(".//meta[@content]"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _DATE_META and key not in by_key:
            by_key[key] = meta.get("content").strip()
    found = [by_key[key] for key in _DATE_META if by_key.get(key)]
    found += _jsonld_dates(tree)
    for node in tree.iterfind(".//*[@itemprop='datePublished']"):
        value = node.get("datetime") or node.get("content")
        if value:
            found.append(value.strip())
    for node in tree.iterfind(".//time[@datetime]"):
        found.append(node.get("datetime").strip())
        break
    return [value for value in found if value]


def _pick_date(tree, trafilatura_date: str | None) -> str | None:
    """The page's own published-date string when it agrees with htmldate's day.

    htmldate (via trafilatura) is good at picking the right date but returns only a day;
    the page's string usually carries the time and zone, which the dates stage wants.
    """
    candidates = _raw_date_candidates(tree)
    if trafilatura_date:
        for raw in candidates:
            if raw.startswith(trafilatura_date):
                return raw
        return trafilatura_date
    return candidates[0] if candidates else None


_TITLE_SEPARATOR = re.compile(r"\s+[|\-\u2013\u2014\u00b7\u2022\u00bb]\s+")
_NON_ALNUM = re.compile(r"[\W_]+")


def _squash(text: str | None) -> str:
    return _NON_ALNUM.sub("", (text or "").casefold())


def _strip_site_suffix(title: str | None, sitename: str | None, url: str) -> str | None:
    """Drop a trailing " | Site Name" / " - Site Name" that names the outlet, not the story.

    The tail goes when it matches the site name or the host name (letters and digits only,
    case-folded, either inside the other); the rest must keep at least two words.
    """
    if not title:
        return title
    try:
        host = _squash(urlsplit(url).hostname or "")
    except ValueError:
        host = ""
    site = _squash(sitename)
    host_core = host.removeprefix("www")
    for _ in range(2):
        separators = list(_TITLE_SEPARATOR.finditer(title))
        if not separators:
            break
        last = separators[-1]
        head, tail = title[: last.start()].rstrip(), _squash(title[last.end() :])
        if len(tail) < 3 or len(head.split()) < 2:
            break
        by_site = len(site) >= 3 and (tail in site or site in tail)
        by_host = bool(host) and (tail in host or (len(host_core) > 6 and host_core[:-3] in tail))
        if not (by_site or by_host):
            break
        title = head
    return title


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value).strip()
    return value or None


# --- entry point ------------------------------------------------------------------


def extract(html: bytes | str, url: str) -> Extracted:
    """Body text and metadata of one article page. Never raises on bad HTML."""
    if not html:
        return _empty()
    try:
        tree = load_html(decode_html(html))
    except _PARSE_ERRORS as err:
        log.info("unparseable page %s: %s", url, err)
        return _empty()
    if tree is None:
        log.info("not an HTML page: %s", url)
        return _empty()

    result = _empty()
    try:
        result.canonical_url = _canonical_url(tree, url)
        result.language = _language(tree)
        # the metadata pass first, on the same tree, as bare_extraction does it; run apart
        # so that a page too short for a body still gives its title, date and author
        meta = extract_metadata(tree, default_url=url)
        result.title = _clean(_strip_site_suffix(meta.title, meta.sitename, url))
        result.author = _clean(meta.author)
        result.date = _pick_date(tree, meta.date)
        result.sitename = _clean(meta.sitename)
        result.description = _clean(meta.description)
        result.categories = [c for c in (_clean(c) for c in meta.categories or []) if c]
        result.tags = [t for t in (_clean(t) for t in meta.tags or []) if t]
        document = bare_extraction(
            tree, url=url, include_comments=False, with_metadata=False
        )
    except _PARSE_ERRORS as err:
        log.warning("extraction failed on %s: %s", url, err)
        return result
    if document is not None:
        result.text = _clean(document.text)
    if result.text is None:
        log.debug("no body text found on %s", url)
    return result
