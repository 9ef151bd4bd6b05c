from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdesk.feeds import ParsedFeed, html_to_text, parse_feed
from newsdesk.models import DATE_FUTURE, DATE_MISSING, DATE_OK

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
URL = "https://news.example.com/feeds/main.xml"


def parse(content: bytes | str, **kwargs) -> ParsedFeed:
    if isinstance(content, str):
        content = content.encode("utf-8")
    kwargs.setdefault("feed_name", "test")
    kwargs.setdefault("url", URL)
    kwargs.setdefault("now", NOW)
    return parse_feed(content, **kwargs)


RSS20 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>Example &amp; News</title>
    <link>https://news.example.com/</link>
    <language>en-GB</language>
    <item>
      <title>Council approves &lt;b&gt;new&lt;/b&gt; budget</title>
      <link>https://news.example.com/2024/03/budget?utm_source=rss</link>
      <guid isPermaLink="false">budget-2024</guid>
      <description>&lt;p&gt;The council &lt;em&gt;approved&lt;/em&gt; it.&lt;/p&gt;&lt;script&gt;evil()&lt;/script&gt;&lt;p&gt;Second&amp;nbsp;para.&lt;/p&gt;</description>
      <dc:creator>Jane Doe</dc:creator>
      <pubDate>Sat, 09 Mar 2024 18:30:00 +0100</pubDate>
      <category>Politics</category>
      <category>Local</category>
    </item>
    <item>
      <title>Second story</title>
      <link>https://news.example.com/2024/03/second</link>
      <guid>https://news.example.com/2024/03/second</guid>
      <content:encoded><![CDATA[<div>Only <a href="/x">content</a> here</div>]]></content:encoded>
      <pubDate>Mon, 01 Jan 2035 00:00:00 GMT</pubDate>
    </item>
    <item>
      <title>No date here</title>
      <link>https://news.example.com/2024/03/third</link>
    </item>
  </channel>
</rss>
"""


def test_rss20():
    feed = parse(RSS20)
    assert feed.error is None and feed.warning is None
    assert feed.version == "rss20"
    assert feed.title == "Example & News"
    first, second, third = feed.entries
    assert first.feed == "test"
    assert first.url == "https://news.example.com/2024/03/budget?utm_source=rss"  # raw link
    assert first.guid == "budget-2024"
    assert first.title == "Council approves new budget"
    assert first.summary == "The council approved it. Second para."  # nbsp folded
    assert first.author == "Jane Doe"
    assert first.published.value == datetime(2024, 3, 9, 17, 30, tzinfo=UTC)
    assert first.published.status == DATE_OK and first.published.source == "feed"
    assert first.published.raw == "Sat, 09 Mar 2024 18:30:00 +0100"
    assert first.tags == ["Politics", "Local"]
    assert first.language == "en-GB"
    assert second.summary == "Only content here"
    assert second.published.status == DATE_FUTURE and second.published.value is None
    assert third.published.status == DATE_MISSING and third.summary is None


def test_language_argument_overrides_the_feed():
    assert {e.language for e in parse(RSS20, language="de").entries} == {"de"}


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr" xml:base="https://blog.example.org/">
  <title type="html">Le &lt;i&gt;blog&lt;/i&gt;</title>
  <id>urn:uuid:feed</id>
  <updated>2024-03-01T10:00:00Z</updated>
  <entry>
    <title type="text">A &lt; B &amp; C</title>
    <link rel="alternate" href="posts/one.html"/>
    <id>tag:blog.example.org,2024:1</id>
    <updated>2024-03-01T10:00:00+02:00</updated>
    <author><name>Ann Author</name></author>
    <summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hello <b>world</b></p></div></summary>
    <category term="tech"/>
  </entry>
  <entry>
    <title>Two</title>
    <link href="/abs/two"/>
    <id>tag:blog.example.org,2024:2</id>
    <published>2024-02-01T00:00:00Z</published>
    <updated>2024-02-05T00:00:00Z</updated>
    <content type="html">&lt;p&gt;Body &amp;amp; more&lt;/p&gt;</content>
  </entry>
</feed>
"""


def test_atom_with_xml_base_and_relative_links():
    feed = parse(ATOM)
    assert feed.version == "atom10" and feed.error is None and feed.warning is None
    assert feed.title == "Le blog"
    one, two = feed.entries
    assert one.url == "https://blog.example.org/posts/one.html"
    assert two.url == "https://blog.example.org/abs/two"
    assert one.title == "A < B & C"  # text/plain title: not treated as markup
    assert one.summary == "Hello world"
    assert one.author == "Ann Author"
    assert one.guid == "tag:blog.example.org,2024:1"
    assert one.published.value == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)  # updated: no published
    assert two.published.value == datetime(2024, 2, 1, tzinfo=UTC)  # published wins
    assert two.summary == "Body & more"
    assert one.tags == ["tech"]
    assert one.language == "fr"


def test_relative_links_resolve_against_the_feed_url():
    rss = """<rss version="2.0"><channel><title>t</title>
      <item><title>a</title><link>/2024/a.html</link></item>
      <item><title>b</title><link>b.html</link></item></channel></rss>"""
    feed = parse(rss)
    assert [e.url for e in feed.entries] == [
        "https://news.example.com/2024/a.html",
        "https://news.example.com/feeds/b.html",
    ]
    # a Content-Location header (final URL after redirects) takes precedence
    moved = parse(rss, headers={"Content-Location": "https://cdn.example.net/x/feed"})
    assert moved.entries[1].url == "https://cdn.example.net/x/b.html"


RDF = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.com/">
    <title>RDF news</title><link>https://rdf.example.com/</link><description>d</description>
  </channel>
  <item rdf:about="https://rdf.example.com/1">
    <title>First</title><link>https://rdf.example.com/1</link>
    <description>One</description><dc:date>2024-03-01T09:00:00+01:00</dc:date>
    <dc:subject>Science</dc:subject>
  </item>
</rdf:RDF>
"""


def test_rdf():
    feed = parse(RDF)
    assert feed.version == "rss10" and feed.error is None
    (entry,) = feed.entries
    assert entry.url == "https://rdf.example.com/1"
    assert entry.published.value == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert entry.tags == ["Science"]


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON news",
    "home_page_url": "https://json.example.com/",
    "feed_url": "https://json.example.com/feed.json",
    "language": "en",
    "authors": [{"name": "Feed Author"}],
    "items": [
        {
            "id": "1",
            "url": "/posts/1",
            "title": "First <post>",
            "content_html": "<p>Hello <b>JSON</b></p>",
            "date_published": "2024-03-01T10:00:00-05:00",
            "tags": ["a", "b"],
            "authors": [{"name": "Item Author"}],
        },
        {"id": 2, "external_url": "https://elsewhere.example/x", "content_text": "plain  text",
         "date_modified": "2024-03-02T00:00:00Z"},
        {"id": "3", "summary": "short", "content_text": "long body", "date_published": "junk"},
        "not an item",
    ],
}


def test_json_feed():
    feed = parse(json.dumps(JSON_FEED), headers={"Content-Type": "application/feed+json"})
    assert feed.error is None and feed.version == "json11" and feed.title == "JSON news"
    first, second, third = feed.entries
    assert first.url == "https://json.example.com/posts/1"
    assert first.guid == "1" and first.title == "First <post>"
    assert first.summary == "Hello JSON"
    assert first.author == "Item Author"
    assert first.published.value == datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
    assert first.tags == ["a", "b"] and first.language == "en"
    assert second.guid == "2" and second.url == "https://elsewhere.example/x"
    assert second.summary == "plain text" and second.author == "Feed Author"
    assert second.published.value == datetime(2024, 3, 2, tzinfo=UTC)
    assert third.summary == "short" and third.published.status == "unparseable"


def test_json_feed_detected_without_content_type_and_version_1():
    doc = dict(JSON_FEED, version="https://jsonfeed.org/version/1")
    feed = parse(b"\xef\xbb\xbf  " + json.dumps(doc).encode())
    assert feed.version == "json1" and len(feed.entries) == 3


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"some": "json"}', "not a JSON Feed"),
        (b"[1, 2, 3]", "not a JSON Feed"),
        (b"{not json", "invalid JSON"),
        (b"[" * 100_000, "invalid JSON"),
    ],
)
def test_json_that_is_not_a_feed(body, fragment):
    feed = parse(body, headers={"Content-Type": "application/json"})
    assert feed.entries == [] and fragment in feed.error and "\n" not in feed.error


def test_deeply_nested_json_object():
    feed = parse(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    assert feed.entries == [] and feed.error.startswith("not a feed")


BOZO = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Broken</title>
<item><title>One &amp; only</title><link>https://b.example/1</link></item>
<item><title>Two & a bare ampersand</title><link>https://b.example/2</link></item>
</channel></rss>
"""


def test_bozo_feed_recovers_entries_with_a_warning():
    feed = parse(BOZO)
    assert feed.error is None
    assert [e.url for e in feed.entries] == ["https://b.example/1", "https://b.example/2"]
    assert feed.warning.startswith("feed is not well-formed XML (")
    assert feed.warning.endswith("; 2 entries recovered")
    assert "\n" not in feed.warning


def test_broken_xml_with_no_entries_is_an_error():
    feed = parse("<rss><channel><title>x</title><item><title>a</tit")
    assert feed.entries == [] or feed.warning  # feedparser may still salvage the item
    feed = parse("<<<>>> this is not xml &&&")
    assert feed.entries == [] and feed.error


def test_html_page():
    page = """<!DOCTYPE html><html><head><title>Page not found</title></head>
    <body><h1>404</h1><p>Sorry</p></body></html>"""
    for headers in ({"Content-Type": "text/html; charset=utf-8"}, None):
        feed = parse(page, headers=headers)
        assert feed.entries == []
        assert feed.error == "not a feed: got an HTML page (check the feed URL)"


@pytest.mark.parametrize("body", [b"", b"   \n\t  "])
def test_empty_response(body):
    feed = parse(body)
    assert feed == ParsedFeed(entries=[], title=None, version=None, warning=None,
                              error="empty response")


def test_valid_feed_with_no_entries_is_not_an_error():
    feed = parse('<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title>'
                 "</channel></rss>")
    assert feed.entries == [] and feed.error is None and feed.warning is None
    assert feed.title == "Quiet" and feed.version == "rss20"


def test_leading_whitespace_before_declaration_is_tolerated():
    feed = parse("\n\n  " + RSS20)
    assert feed.warning is None and len(feed.entries) == 3


CYRILLIC = (
    "<rss version=\"2.0\"><channel><title>Новости дня</title><item>"
    "<title>Главные новости: Москва объявила о новых мерах</title>"
    "<link>https://ru.example/1</link>"
    "<description>Правительство сегодня утвердило бюджет на следующий год.</description>"
    "</item></channel></rss>"
)


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/rss+xml; charset=windows-1251"},
        {"Content-Type": "text/xml"},  # no charset anywhere: guessed from the bytes
        None,
    ],
)
def test_windows_1251_without_declaration(headers):
    feed = parse(CYRILLIC.encode("cp1251"), headers=headers)
    assert feed.error is None
    assert feed.title == "Новости дня"
    assert feed.entries[0].title == "Главные новости: Москва объявила о новых мерах"


def test_declared_encoding_is_respected():
    body = ('<?xml version="1.0" encoding="windows-1251"?>' + CYRILLIC).encode("cp1251")
    assert parse(body).entries[0].title.startswith("Главные")


def test_dates_feedparser_cannot_read_go_to_dateparser_with_the_feed_language():
    rss = """<rss version="2.0"><channel><title>t</title><language>pt-BR</language>
      <item><title>a</title><link>https://pt.example/1</link>
      <pubDate>Seg, 24 Set 2018 19:42:40 -0300</pubDate></item></channel></rss>"""
    (entry,) = parse(rss).entries
    assert entry.published.value == datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)


def test_html_to_text():
    assert html_to_text(None) is None
    assert html_to_text("") is None
    assert html_to_text("   ") is None
    assert html_to_text("Fish &amp; chips") == "Fish & chips"
    assert html_to_text("<p>a</p><p>b</p>") == "a b"
    assert html_to_text("x<br>y") == "x y"
    assert html_to_text("<style>p{}</style><p>text</p><script>1</script>") == "text"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"


# --- hostile documents ---------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>t &lol9;</title>
<item><title>x &lol9;</title><link>https://ex.com/1</link><description>d &lol9;</description></item>
</channel></rss>
"""


def _all_text(feed: ParsedFeed) -> str:
    return " ".join(
        str(v) for e in feed.entries for v in (e.title, e.summary, e.url, e.guid, e.author)
    ) + str(feed.title)


@pytest.mark.timeout(10)
def test_billion_laughs_does_not_expand():
    started = time.perf_counter()
    feed = parse(BILLION_LAUGHS)
    assert time.perf_counter() - started < 2
    assert "lollol" not in _all_text(feed)
    assert len(_all_text(feed)) < 1000


@pytest.mark.timeout(10)
def test_quadratic_blowup_stays_small():
    """One big entity referenced many times: feedparser keeps it, but the cost stays linear-ish."""
    big = "A" * 20_000
    refs = "&big;" * 200
    doc = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{big}">]>'
           f"<rss version=\"2.0\"><channel><title>t</title><item><title>x</title>"
           f"<description>{refs}</description></item></channel></rss>")
    started = time.perf_counter()
    parse(doc)
    assert time.perf_counter() - started < 5


def test_external_entities_are_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT-42")
    for decl in (f'<!ENTITY xxe SYSTEM "file://{secret}">',
                 f'<!ENTITY % pe SYSTEM "file://{secret}"> %pe;',
                 '<!ENTITY xxe SYSTEM "file:///etc/passwd">'):
        doc = (f'<?xml version="1.0"?><!DOCTYPE rss [{decl}]>'
               '<rss version="2.0"><channel><title>T &xxe;</title><item><title>a &xxe;</title>'
               "<link>https://ex.com/1</link><description>b &xxe;</description></item>"
               "</channel></rss>")
        text = _all_text(parse(doc))
        assert "TOP-SECRET" not in text and "root:" not in text


def test_body_that_looks_like_a_path_is_not_opened(tmp_path):
    """feedparser.parse(bytes) would open a file of that name; parse_feed must not."""
    local = tmp_path / "feed.xml"
    local.write_text(RSS20)
    assert len(feedparser.parse(str(local).encode()).entries) == 3  # the hazard being avoided
    feed = parse(str(local).encode())
    assert feed.entries == [] and feed.error


def test_garbage_never_raises():
    for body in (b"\x00\x01\x02", b"\xff\xfe<\x00r\x00", b"<?xml version='1.0'?>",
                 b"<rss><channel><item><title>" * 2000, bytes(range(256)) * 10,
                 b'<?xml version="1.0" encoding="klingon"?><rss/>'):
        feed = parse(body)
        assert feed.error or feed.entries or feed.version


# --- inputs that make feedparser 6.0.x itself raise (found by fuzzing the corpora) ---------


def test_out_of_range_character_references_are_neutralised():
    body = (b"<rss><channel><title>x &#x110000; y &#99999999999999999999999 z</title>"
            b"<item><title>a &#1114112;</title><link>https://e.example/1</link></item>"
            b"</channel></rss>&")  # trailing junk forces feedparser's loose parser
    with pytest.raises(ValueError):
        feedparser.parse(body)  # the hazard being avoided
    feed = parse(body)
    assert feed.error is None and feed.entries[0].url == "https://e.example/1"
    assert "\ufffd" in feed.entries[0].title


def test_feedparser_crash_becomes_one_line_of_error():
    body = (b'<rss xmlns:creativeCommons="http://backend.userland.com/creativeCommonsRssModule">'
            b"<channel><item></creativeCommons:license></item></channel></rss>")
    with pytest.raises(KeyError):
        feedparser.parse(body)
    feed = parse(body)
    assert feed.entries == []
    assert feed.error.startswith("feed could not be parsed (feedparser KeyError")


_XMLISH = st.lists(
    st.sampled_from([
        b"<rss>", b"</rss>", b"<channel>", b"<item>", b"</item>", b"<title>", b"</title>",
        b"<link>", b"</link>", b"https://e.example/", b"&amp;", b"&#x110000;", b"&#", b"&",
        b"<![CDATA[", b"]]>", b"<feed xmlns='http://www.w3.org/2005/Atom'>", b"<entry>",
        b"</entry>", b"<pubDate>", b"</pubDate>", b"Mon, 99 Foo 2024", b"\x00", b"\xff", b"{",
        b"<?xml version='1.0' encoding='utf-16'?>", b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"&a;",
        b"<georss:point>", b"</georss:where>", b"<media:content url='x'/>", b"text",
    ]),
    max_size=30,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_XMLISH, st.binary(max_size=300)))
def test_parse_feed_never_raises(body):
    feed = parse(body)
    assert (feed.error is None) or feed.entries == []
    assert feed.error is None or "\n" not in feed.error


def test_xml_served_as_json_is_still_parsed_as_xml():
    feed = parse(RSS20, headers={"Content-Type": "application/json"})
    assert len(feed.entries) == 3 and feed.error is None
