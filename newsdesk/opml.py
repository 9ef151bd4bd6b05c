"""OPML import/export: round trips with the feed readers people already use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

from .config import FeedConfig
from .errors import NewsdeskError


@dataclass
class OpmlFeed:
    name: str
    url: str
    tags: list[str] = field(default_factory=list)  # the outline folders it sits in


def read_opml(path: Path | str) -> list[OpmlFeed]:
    """Feeds of an OPML file; folders become tags. Entities are never expanded."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except (OSError, etree.XMLSyntaxError) as e:
        raise NewsdeskError(f"{path}: cannot read OPML ({e})") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise NewsdeskError(f"{path}: not an OPML file (no <opml><body>)")
    found: list[OpmlFeed] = []

    def walk(node: etree._Element, folders: list[str]) -> None:
        for outline in node.findall("outline"):
            url = outline.get("xmlUrl")
            label = outline.get("title") or outline.get("text") or url
            if url:
                found.append(OpmlFeed(name=label or url, url=url, tags=list(folders)))
            else:
                walk(outline, folders + ([label] if label else []))

    walk(body, [])
    return found


def write_opml(feeds: Iterable[FeedConfig], title: str = "newsdesk feeds") -> str:
    """OPML 2.0 text: one outline per feed, grouped under its first tag."""
    groups: dict[str, list[FeedConfig]] = {}
    for f in feeds:
        groups.setdefault(f.tags[0] if f.tags else "", []).append(f)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{_esc(title)}</title></head>", "  <body>"]
    for group, members in groups.items():
        indent = "    "
        if group:
            lines.append(f"    <outline text={quoteattr(group)} title={quoteattr(group)}>")
            indent = "      "
        for f in members:
            lines.append(
                f"{indent}<outline type=\"rss\" text={quoteattr(f.name)} "
                f"title={quoteattr(f.name)} xmlUrl={quoteattr(f.url)}/>")
        if group:
            lines.append("    </outline>")
    lines += ["  </body>", "</opml>"]
    return "\n".join(lines) + "\n"


def _esc(s: str) -> str:
    return quoteattr(s)[1:-1]
