from __future__ import annotations

import pytest

from newsdesk.config import add_feed, load_config, remove_feed, set_enabled
from newsdesk.errors import ConfigError, ExitCode

GOOD = """\
# my feeds
defaults:
  timeout: 10   # seconds
  max_articles: 5
feeds:
  # the first one
  - name: One
    url: https://example.com/one.xml
    tags: [world]
  - name: Two
    url: https://example.org/two.xml
    full_text: false
    timeout: 3
    enabled: false
"""


def write(tmp_path, text):
    p = tmp_path / "feeds.yaml"
    p.write_text(text)
    return p


def test_load_good_config(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    one, two = cfg.feeds
    assert one.options.timeout == 10 and one.options.max_articles == 5 and one.options.full_text
    assert two.options.timeout == 3 and not two.options.full_text and not two.enabled
    assert [f.name for f in cfg.select()] == ["One"]
    assert [f.name for f in cfg.select(["Two"])] == ["Two"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("feeds:\n  - name: A\n    url: https://a/x\n    colour: red\n", "feed 'A': field 'colour'"),
        ("feeds:\n  - name: A\n", "feed 'A': field 'url': missing url"),
        ("feeds:\n  - name: A\n    url: https://a\n  - name: A\n    url: https://b\n",
         "feed 'A': field 'name': duplicate"),
        ("feeds:\n  - name: A\n    url: https://a\n    timeout: -1\n", "field 'timeout'"),
        ("feeds:\n  - name: A\n    url: https://a\n    full_text: maybe\n", "field 'full_text'"),
        ("feeds:\n  - name: A\n    url: ftp://a\n", "must be an http(s) URL"),
        ("defaults:\n  speed: 3\nfeeds: []\n", "field 'speed'"),
        ("feeds:\n  - name: A\n    url: [unclosed\n", "YAML syntax error"),
        ("feeds:\n  - url: https://a\n", "feed '#1': field 'name'"),
        ("colour: red\n", "unknown top-level key 'colour'"),
    ],
)
def test_bad_config_names_file_feed_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in str(e.value)
    assert expected in str(e.value)
    assert e.value.exit_code == ExitCode.USAGE


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_env_var_gives_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSDESK_FEEDS", str(write(tmp_path, GOOD)))
    assert len(load_config().feeds) == 2


def test_edits_keep_comments(tmp_path):
    path = write(tmp_path, GOOD)
    add_feed(path, "Three", "https://example.net/three.xml", tags=["science"])
    set_enabled(path, "Two", True)
    remove_feed(path, "One")
    text = path.read_text()
    assert "# my feeds" in text and "# seconds" in text
    cfg = load_config(path)
    assert [f.name for f in cfg.feeds] == ["Two", "Three"]
    assert cfg.feed("Two").enabled and cfg.feed("Three").tags == ("science",)
    with pytest.raises(ConfigError, match="exists already"):
        add_feed(path, "Two", "https://x.org/feed")
    with pytest.raises(ConfigError, match="no feed named"):
        remove_feed(path, "Nope")
