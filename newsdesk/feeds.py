"""Feed parsing: the bytes of an RSS/Atom/RDF/JSON Feed document to ``Entry`` values.

``parse_feed`` never raises and never touches the network or the file system: feedparser gets the
bytes wrapped in a stream (given plain ``bytes`` it would first try them as a *file name*), and the
HTTP headers the fetcher saw, so that encoding detection and relative links work as they would
on a live fetch.

Outcomes:

* entries, no warning, no error: a good feed (zero entries is fine for a good feed);
* entries and ``warning``: feedparser flagged the document (bozo) but recovered entries;
* no entries and ``error``: the body is empty, an HTML page, JSON that is not a JSON Feed, or XML
  too broken to yield anything. ``error`` is one line, fit for a run log.

XML safety (checked by tests/test_feeds.py): feedparser keeps only entity declarations whose
value has no markup or references (so nested "billion laughs" entities are dropped before the
parser sees them), turns off external general entities in xml.sax, and expat >= 2.4 has its own
amplification limit. External entities (``SYSTEM "file:///etc/passwd"``) are never read.
"""

from __future__ import annotations

import html
import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html
from dateparser.data.languages_info import language_order

from .dates import from_struct, normalise
from .models import Entry, When

log = logging.getLogger("newsdesk.feeds")

MAX_FEED_BYTES = 32 * 1024 * 1024

_DATEPARSER_LANGUAGES = frozenset(language_order)
_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre tr td th table section article "
    "header footer figure figcaption dd dt hr".split()
)
_DROP_TAGS = ("script", "style", "noscript", "template")
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
# as feedparser's loose parser reads them: the ';' is optional there
_CHAR_REF = re.compile(rb"&#(?:[xX]0*([0-9a-fA-F]+)|0*([0-9]+));?")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What feedparser 6.0.x lets escape from its namespace handlers and fallback parser on malformed
# input (found by fuzzing the corpora): georss/cc/psc KeyError/TypeError, int() and chr()
# ValueError/OverflowError, UnicodeDecodeError in encoding sniffing, sgmllib's AssertionError.
_FEEDPARSER_ERRORS = (
    ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, AssertionError,
    RecursionError,
)
_XML_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=", re.I)
# bozo exceptions that are notes about the transport, not about broken XML
_SOFT_BOZO = (
    feedparser.CharacterEncodingOverride,
    feedparser.NonXMLContentType,
)
# ... of which this one is pure noise: a missing or odd Content-Type header, parsed fine anyway
_SILENT_BOZO = (feedparser.NonXMLContentType,)


@dataclass
class ParsedFeed:
    entries: list[Entry]
    title: str | None
    version: str | None  # feedparser's version string ("rss20", "atom10", "json11", ...)
    warning: str | None  # one line when feedparser set bozo but entries were recovered
    error: str | None  # one line when the document is not a feed at all (then entries == [])


# --- text helpers --------------------------------------------------------------------------


def _one_line(text: object, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def html_to_text(markup: str | None) -> str | None:
    """Plain text of an HTML fragment: tags and scripts dropped, entities decoded, spaces folded."""
    if not markup:
        return None
    markup = _CONTROL_CHARS.sub(" ", markup)
    if "<" not in markup:
        text = html.unescape(markup)
    else:
        try:
            text = _lxml_text(markup)
        except (lxml.etree.ParserError, ValueError) as exc:
            log.debug("html fragment not parsed (%s); stripping tags by pattern", exc)
            text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    text = " ".join(text.split())
    return text or None


def _lxml_text(markup: str) -> str:
    root = lxml.html.fragment_fromstring(markup, create_parent="div")
    for bad in list(root.iter(*_DROP_TAGS)):
        if bad.getparent() is not None:
            bad.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS:
            el.tail = " " + (el.tail or "")
    return root.text_content()


def _detail_text(value: str | None, detail: dict | None) -> str | None:
    if not value:
        return None
    kind = (detail or {}).get("type") or "text/html"
    if "html" in kind:
        return html_to_text(value)
    return " ".join(value.split()) or None


# --- JSON Feed ---------------------------------------------------------------------------------


def _looks_like_json(content: bytes, content_type: str) -> bool:
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return False  # markup, whatever the Content-Type claims
    return head.startswith(b"{") or "json" in content_type


def _json_author(obj: dict, item: dict) -> str | None:
    for holder in (item, obj):
        authors = holder.get("authors")
        if isinstance(authors, list):
            names = [a.get("name") for a in authors if isinstance(a, dict) and a.get("name")]
            if names:
                return ", ".join(str(n) for n in names)
        author = holder.get("author")
        if isinstance(author, dict) and author.get("name"):
            return str(author["name"])
    return None


def _str_or_none(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _parse_json_feed(content: bytes, feed_name: str, url: str, language: str | None,
                     now: datetime | None) -> ParsedFeed:
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        return _error(f"not a feed: invalid JSON ({_one_line(exc, 120)})")
    version_url = doc.get("version") if isinstance(doc, dict) else None
    if (not isinstance(doc, dict) or not isinstance(doc.get("items"), list)
            or not (isinstance(version_url, str) and "jsonfeed.org" in version_url)):
        return _error("not a feed: got a JSON document that is not a JSON Feed")
    version = "json11" if version_url.rstrip("/").endswith("1.1") else "json1"
    base = _str_or_none(doc.get("feed_url")) or url
    feed_language = language or _str_or_none(doc.get("language"))
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        link = _str_or_none(item.get("url")) or _str_or_none(item.get("external_url"))
        if link:
            link = urljoin(base, link)
        summary = _str_or_none(item.get("summary"))
        if summary is None:
            summary = _str_or_none(item.get("content_text"))
            if summary is not None:
                summary = " ".join(summary.split())
            else:
                summary = html_to_text(_str_or_none(item.get("content_html")))
        raw_date = _str_or_none(item.get("date_published")) or _str_or_none(
            item.get("date_modified"))
        item_language = _str_or_none(item.get("language")) or feed_language
        tags = item.get("tags")
        entries.append(
            Entry(
                feed=feed_name,
                url=link,
                guid=_str_or_none(item.get("id")),
                title=_detail_text(_str_or_none(item.get("title")), {"type": "text/plain"}),
                summary=summary,
                author=_json_author(doc, item),
                published=normalise(raw_date, source="feed", now=now,
                                    languages=_languages(item_language)),
                tags=[str(t) for t in tags if isinstance(t, str | int)] if isinstance(
                    tags, list) else [],
                language=item_language,
            )
        )
    return ParsedFeed(entries=entries, title=_str_or_none(doc.get("title")), version=version,
                      warning=None, error=None)


# --- XML feeds ---------------------------------------------------------------------------------


def _error(message: str, version: str | None = None) -> ParsedFeed:
    return ParsedFeed(entries=[], title=None, version=version, warning=None, error=message)


def _languages(language: str | None) -> list[str] | None:
    """dateparser language list for a feed's language tag, when dateparser knows it."""
    if not language:
        return None
    code = language.strip().replace("_", "-").split("-")[0].lower()
    return [code] if code in _DATEPARSER_LANGUAGES else None


def _response_headers(headers: dict[str, str] | None, url: str) -> dict[str, str]:
    out = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    if url:
        out.setdefault("content-location", url)
    return out


def _entry_link(entry: dict, base: str) -> str | None:
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links") or []:
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    if not link:
        return None
    link = link.strip()
    return urljoin(base, link) if base else link


def _entry_summary(entry: dict) -> str | None:
    summary = _detail_text(entry.get("summary"), entry.get("summary_detail"))
    if summary:
        return summary
    for content in entry.get("content") or []:
        text = _detail_text(content.get("value"), content)
        if text:
            return text
    return None


def _entry_author(entry: dict) -> str | None:
    author = entry.get("author")
    if not author:
        names = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
        author = ", ".join(names) if names else None
    return " ".join(author.split()) if author else None


def _entry_date(entry: dict, languages: list[str] | None, now: datetime | None) -> When:
    for key in ("published", "updated", "created"):
        # plain dict access: FeedParserDict maps updated -> published with a DeprecationWarning
        raw = dict.get(entry, key)
        parsed = dict.get(entry, key + "_parsed")
        if parsed is not None:
            return from_struct(parsed, raw, source="feed", now=now)
        if raw:
            # feedparser could not read it: dateparser, restricted to the feed's language if known
            return normalise(raw, source="feed", now=now, languages=languages)
    return When(None, source="feed")


def _bozo_message(exc: object) -> str:
    return _one_line(exc, 160) if exc is not None else "unknown problem"


def _guess_charset(content: bytes, headers: dict[str, str]) -> None:
    """Undeclared, non-UTF-8 body: guess its charset and tell feedparser through the headers.

    feedparser falls back to windows-1252 for such a body, which turns e.g. windows-1251 Russian
    into mojibake. Only used when neither the HTTP header nor the XML declaration name a charset.
    """
    content_type = headers.get("content-type", "")
    if "charset" in content_type.lower() or _XML_DECL_ENCODING.match(content):
        return
    try:
        content.decode("utf-8")
        return
    except UnicodeDecodeError:
        pass
    try:
        import charset_normalizer
    except ImportError:  # optional: requests brings it in
        return
    best = charset_normalizer.from_bytes(content[:200_000]).best()
    if best is None or not best.encoding or best.encoding in ("utf_8", "ascii"):
        return
    log.debug("guessed charset %s for an undeclared feed", best.encoding)
    headers["content-type"] = (content_type or "application/xml").split(";")[0] + \
        f"; charset={best.encoding}"


def _strip_before_declaration(content: bytes) -> bytes:
    """Drop whitespace before ``<?xml`` (common from PHP templates; expat rejects it)."""
    bom = b"\xef\xbb\xbf" if content.startswith(b"\xef\xbb\xbf") else b""
    body = content[len(bom):]
    if body[:1].isspace():
        stripped = body.lstrip(b" \t\r\n")
        if stripped.startswith(b"<?xml"):
            return bom + stripped
    return content


def _fix_char_refs(content: bytes) -> bytes:
    """Replace numeric character references outside Unicode (``&#x110000;``) with U+FFFD.

    feedparser's fallback (loose) parser raises ValueError on them instead of flagging bozo.
    """

    def repl(match: re.Match[bytes]) -> bytes:
        hex_digits, dec_digits = match.groups()
        digits = hex_digits if hex_digits is not None else dec_digits
        if len(digits) > 7:
            return b"&#xFFFD;"
        code = int(digits, 16) if hex_digits is not None else int(digits)
        return match.group(0) if code <= 0x10FFFF else b"&#xFFFD;"

    return _CHAR_REF.sub(repl, content) if b"&#" in content else content


def parse_feed(
    content: bytes,
    *,
    feed_name: str,
    url: str,
    headers: dict[str, str] | None = None,
    language: str | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse a fetched feed body into entries. Never raises (see the module doc for outcomes)."""
    if not content or not content.strip():
        return _error("empty response")
    if len(content) > MAX_FEED_BYTES:
        return _error(f"response too large ({len(content)} bytes; limit {MAX_FEED_BYTES})")
    response_headers = _response_headers(headers, url)
    content_type = response_headers.get("content-type", "").lower()

    if _looks_like_json(content, content_type):
        return _parse_json_feed(content, feed_name, url, language, now)

    content = _fix_char_refs(_strip_before_declaration(content))
    _guess_charset(content, response_headers)
    try:
        result = feedparser.parse(
            io.BytesIO(content),  # a stream: plain bytes would first be tried as a file name
            response_headers=response_headers,
            resolve_relative_uris=True,
            sanitize_html=True,
        )
    except _FEEDPARSER_ERRORS as exc:
        error = f"feed could not be parsed (feedparser {type(exc).__name__}: {_one_line(exc, 120)})"
        log.info("%s: %s", feed_name, error)
        return _error(error)
    version = result.get("version") or None
    feed_info = result.get("feed") or {}
    title = _detail_text(feed_info.get("title"), feed_info.get("title_detail"))
    feed_language = language or feed_info.get("language") or response_headers.get(
        "content-language")
    feed_language = feed_language.strip() if isinstance(feed_language, str) and \
        feed_language.strip() else None
    languages = _languages(feed_language)
    base = result.get("href") or response_headers.get("content-location") or url

    entries = [
        Entry(
            feed=feed_name,
            url=_entry_link(e, base),
            guid=(e.get("id") or "").strip() or None,
            title=_detail_text(e.get("title"), e.get("title_detail")),
            summary=_entry_summary(e),
            author=_entry_author(e),
            published=_entry_date(e, languages, now),
            tags=[" ".join(t["term"].split()) for t in e.get("tags") or []
                  if t.get("term") and t["term"].strip()],
            language=feed_language,
        )
        for e in result.get("entries") or []
    ]

    bozo = bool(result.get("bozo"))
    exc = result.get("bozo_exception")
    if entries:
        warning = None
        if bozo and isinstance(exc, _SILENT_BOZO):
            log.debug("%s: %s", feed_name, _bozo_message(exc))
        elif bozo:
            if isinstance(exc, _SOFT_BOZO):
                warning = f"feed encoding problem ({_bozo_message(exc)}); " \
                          f"{len(entries)} entries recovered"
            else:
                warning = f"feed is not well-formed XML ({_bozo_message(exc)}); " \
                          f"{len(entries)} entries recovered"
            log.info("%s: %s", feed_name, warning)
        return ParsedFeed(entries=entries, title=title, version=version, warning=warning,
                          error=None)

    if version and (not bozo or isinstance(exc, _SOFT_BOZO)):
        return ParsedFeed(entries=[], title=title, version=version, warning=None, error=None)
    if "html" in content_type and "xml" not in content_type or _HTML_START.match(content):
        error = "not a feed: got an HTML page (check the feed URL)"
    elif bozo and not isinstance(exc, _SOFT_BOZO):
        if version:
            error = f"feed is not well-formed XML ({_bozo_message(exc)}); no entries recovered"
        else:
            error = f"not a feed: not well-formed XML ({_bozo_message(exc)})"
    else:
        error = "not a feed: no RSS, Atom or RDF content found"
    log.info("%s: %s", feed_name, error)
    return _error(error, version=version)
