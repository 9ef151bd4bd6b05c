"""feeds.yaml: loading, validation and comment-preserving edits."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .errors import ConfigError

log = logging.getLogger("newsdesk.config")

DEFAULT_FEEDS = "feeds.yaml"
DEFAULT_DB = "newsdesk.db"


def default_feeds_path() -> Path:
    return Path(os.environ.get("NEWSDESK_FEEDS") or DEFAULT_FEEDS)


def default_db_path() -> Path:
    return Path(os.environ.get("NEWSDESK_DB") or DEFAULT_DB)


@dataclass(frozen=True)
class FeedOptions:
    """Per-feed settings that `defaults:` sets and each feed may override."""

    timeout: float = 30.0  # seconds: read timeout; the total deadline is 2x this
    max_articles: int = 50  # new articles fetched from one feed per run
    full_text: bool = True  # fetch and extract each article page
    robots: bool = True  # honour robots.txt for article pages
    allow_private: bool = False  # allow article links to private/loopback addresses


@dataclass(frozen=True)
class FetchSettings:
    """Run-wide politeness settings (the `fetch:` block)."""

    per_host: int = 2  # requests in flight to one host
    host_delay: float = 0.5  # seconds between request starts to one host
    user_agent: str | None = None  # default: newsdesk/<version>


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str
    tags: tuple[str, ...] = ()
    language: str | None = None
    enabled: bool = True
    options: FeedOptions = field(default_factory=FeedOptions)


@dataclass(frozen=True)
class Config:
    path: Path
    feeds: tuple[FeedConfig, ...]
    defaults: FeedOptions = field(default_factory=FeedOptions)
    fetch: FetchSettings = field(default_factory=FetchSettings)

    def feed(self, name: str) -> FeedConfig:
        for f in self.feeds:
            if f.name == name:
                return f
        raise ConfigError(f"{self.path}: no feed named {name!r} (see `newsdesk feeds list`)")

    def select(self, names: list[str] | tuple[str, ...] = ()) -> list[FeedConfig]:
        """The enabled feeds, or exactly the named ones (enabled or not)."""
        if names:
            return [self.feed(n) for n in names]
        return [f for f in self.feeds if f.enabled]


_OPTION_TYPES = {f.name: f.type for f in fields(FeedOptions)}
_FEED_KEYS = {"name", "url", "tags", "language", "enabled"} | set(_OPTION_TYPES)


def _yaml() -> YAML:
    y = YAML()  # round-trip: keeps comments and order for edits
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _where(path: Path, feed: str | None, key: str | None) -> str:
    parts = [str(path)]
    if feed is not None:
        parts.append(f"feed {feed!r}")
    if key is not None:
        parts.append(f"field {key!r}")
    return ": ".join(parts)


def _coerce_option(path: Path, feed: str | None, key: str, value: Any) -> Any:
    kind = _OPTION_TYPES[key]
    where = _where(path, feed, key)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if value <= 0:
        raise ConfigError(f"{where}: must be greater than 0, got {value!r}")
    if kind == "int":
        if int(value) != value:
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return int(value)
    return float(value)


def _options(path: Path, feed: str | None, raw: dict, base: FeedOptions) -> FeedOptions:
    values = {k: _coerce_option(path, feed, k, v) for k, v in raw.items() if k in _OPTION_TYPES}
    return replace(base, **values)


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: feeds file not found (create it, or pass --feeds / set NEWSDESK_FEEDS)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read feeds file ({e})") from None
    try:
        return _yaml().load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}:{line}: YAML syntax error: {problem}") from None


def parse_config(data: Any, path: Path) -> Config:
    """Validate the loaded YAML document into a Config."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'defaults:' and 'feeds:'")
    unknown = set(data) - {"defaults", "feeds", "fetch"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key {sorted(unknown)[0]!r} "
            "(expected defaults, feeds, fetch)"
        )
    fetch = _fetch_settings(path, data.get("fetch") or {})
    raw_defaults = data.get("defaults") or {}
    if not isinstance(raw_defaults, dict):
        raise ConfigError(f"{path}: 'defaults' must be a mapping")
    for key in raw_defaults:
        if key not in _OPTION_TYPES:
            raise ConfigError(
                f"{_where(path, None, key)}: unknown key in defaults "
                f"(allowed: {', '.join(sorted(_OPTION_TYPES))})"
            )
    defaults = _options(path, None, raw_defaults, FeedOptions())
    raw_feeds = data.get("feeds") or []
    if not isinstance(raw_feeds, list):
        raise ConfigError(f"{path}: 'feeds' must be a list of feeds")
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_feeds, 1):
        feeds.append(_parse_feed(path, i, raw, defaults, seen))
    return Config(path=path, feeds=tuple(feeds), defaults=defaults, fetch=fetch)


def _fetch_settings(path: Path, raw: Any) -> FetchSettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'fetch' must be a mapping")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{path}: fetch: field {key!r}"
        if key == "per_host":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}: expected a whole number >= 1, got {value!r}")
        elif key == "host_delay":
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{where}: expected seconds >= 0, got {value!r}")
            value = float(value)
        elif key == "user_agent":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: expected a text")
        else:
            raise ConfigError(f"{where}: unknown key (allowed: per_host, host_delay, user_agent)")
        values[key] = value
    return FetchSettings(**values)


def _parse_feed(path: Path, i: int, raw: Any, defaults: FeedOptions, seen: set[str]) -> FeedConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: feed #{i}: expected a mapping with name and url")
    name = raw.get("name")
    label = str(name) if name else f"#{i}"
    for key in raw:
        if key not in _FEED_KEYS:
            raise ConfigError(
                f"{_where(path, label, key)}: unknown key "
                f"(allowed: {', '.join(sorted(_FEED_KEYS))})"
            )
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{_where(path, label, 'name')}: every feed needs a name")
    name = name.strip()
    if name in seen:
        raise ConfigError(f"{_where(path, name, 'name')}: duplicate feed name")
    seen.add(name)
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{_where(path, name, 'url')}: missing url")
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise ConfigError(f"{_where(path, name, 'url')}: must be an http(s) URL, got {url!r}")
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{_where(path, name, 'tags')}: expected a list of words")
    language = raw.get("language")
    if language is not None and not isinstance(language, str):
        raise ConfigError(f"{_where(path, name, 'language')}: expected a language code like 'en'")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{_where(path, name, 'enabled')}: expected true or false")
    return FeedConfig(
        name=name,
        url=url,
        tags=tuple(t.strip() for t in tags),
        language=language,
        enabled=enabled,
        options=_options(path, name, raw, defaults),
    )


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate feeds.yaml; raises ConfigError naming file, feed and field."""
    path = Path(path) if path is not None else default_feeds_path()
    return parse_config(_read(path), path)


# --- editing (comments kept) ------------------------------------------------


@contextmanager
def edit_config(path: Path | str) -> Iterator[Any]:
    """Yield the round-trip YAML document; it is validated and written back on exit."""
    path = Path(path)
    data = _read(path) if path.exists() else None
    if data is None:
        data = _yaml().load("feeds: []\n")
    if data.get("feeds") is None:
        data["feeds"] = []
    yield data
    parse_config(data, path)  # never write an invalid file
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        _yaml().dump(data, fh)
    os.replace(tmp, path)


def _find(data: Any, name: str, path: Path) -> Any:
    for item in data["feeds"]:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    raise ConfigError(f"{path}: no feed named {name!r} (see `newsdesk feeds list`)")


def add_feed(
    path: Path | str,
    name: str,
    url: str,
    *,
    tags: list[str] | tuple[str, ...] = (),
    language: str | None = None,
) -> FeedConfig:
    path = Path(path)
    with edit_config(path) as data:
        if any(isinstance(f, dict) and f.get("name") == name for f in data["feeds"]):
            raise ConfigError(f"{path}: a feed named {name!r} exists already (pick another name)")
        entry: dict[str, Any] = {"name": name, "url": url}
        if tags:
            entry["tags"] = list(tags)
        if language:
            entry["language"] = language
        data["feeds"].append(entry)
    return load_config(path).feed(name)


def add_feeds(path: Path | str, feeds: list[tuple[str, str, list[str]]]) -> int:
    """Add (name, url, tags) feeds whose URL is not listed yet; a taken name gets a
    numbered suffix. Returns how many were added."""
    path = Path(path)
    added = 0
    with edit_config(path) as data:
        items = [f for f in data["feeds"] if isinstance(f, dict)]
        urls = {f.get("url") for f in items}
        names = {f.get("name") for f in items}
        for name, url, tags in feeds:
            if url in urls:
                continue
            unique, n = name, 2
            while unique in names:
                unique, n = f"{name} ({n})", n + 1
            entry: dict[str, Any] = {"name": unique, "url": url}
            if tags:
                entry["tags"] = list(tags)
            data["feeds"].append(entry)
            urls.add(url)
            names.add(unique)
            added += 1
    return added


def remove_feed(path: Path | str, name: str) -> None:
    path = Path(path)
    with edit_config(path) as data:
        data["feeds"].remove(_find(data, name, path))


def set_enabled(path: Path | str, name: str, enabled: bool) -> None:
    path = Path(path)
    with edit_config(path) as data:
        item = _find(data, name, path)
        if enabled:
            item.pop("enabled", None)
        else:
            item["enabled"] = False
