from __future__ import annotations

import socket
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdesk.urls import canonicalize, host_of, is_http_url, is_private_host


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),  # not the default for https
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/News/Story.HTML", "https://example.com/News/Story.HTML"),
        ("https://example.com/a/?utm_source=rss&id=7&utm_medium=feed&page=2&fbclid=x",
         "https://example.com/a/?id=7&page=2"),
        ("https://example.com/a?z=1&a=2&gclid=1&mc_cid=2&mc_eid=3&_ga=4&ocid=5&ref_src=6",
         "https://example.com/a?z=1&a=2"),
        ("https://example.com/a?UTM_Campaign=x", "https://example.com/a"),
        ("https://example.com/a?utm_source=x", "https://example.com/a"),
        ("https://example.com/%7euser/a%2fb", "https://example.com/~user/a%2Fb"),
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://bücher.de/x", "https://xn--bcher-kva.de/x"),
        ("https://Example.com./x", "https://example.com/x"),
        ("https://example.com?q=1", "https://example.com/?q=1"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("  https://example.com/a  ", "https://example.com/a"),
    ],
)
def test_canonicalize(url, expected):
    assert canonicalize(url) == expected
    assert canonicalize(expected) == expected


def test_canonicalize_resolves_against_base():
    base = "https://Example.com/news/feed.xml"
    assert canonicalize("/a/b?x=1", base) == "https://example.com/a/b?x=1"
    assert canonicalize("story.html", base) == "https://example.com/news/story.html"
    assert canonicalize("//cdn.example.org/x", base) == "https://cdn.example.org/x"
    assert canonicalize("https://other.org/x", base) == "https://other.org/x"


def test_canonicalize_does_not_touch_meaningful_params_or_blank_values():
    url = "https://example.com/search?q=a+b&empty=&flag&source=rss&id=3"
    assert canonicalize(url) == url


@pytest.mark.parametrize("url", ["", "not a url", "http://[::1", "mailto:a@b.c", "http://",
                                 "javascript:alert(1)", "http://a:xyz/", "\x00"])
def test_canonicalize_never_raises(url):
    result = canonicalize(url)
    assert isinstance(result, str)
    assert canonicalize(result) == result


def test_is_http_url():
    assert is_http_url("https://example.com/x")
    assert is_http_url("HTTP://example.com")
    assert not is_http_url("ftp://example.com/x")
    assert not is_http_url("/relative/path")
    assert not is_http_url("http://")
    assert not is_http_url(None)
    assert not is_http_url("http://[::1")


def test_host_of():
    assert host_of("https://User:pw@WWW.Example.com:8080/x") == "www.example.com"
    assert host_of("http://[::1]:80/") == "::1"
    assert host_of("/relative") == ""
    assert host_of("") == ""
    assert host_of("http://[::1") == ""


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.8", "192.168.1.1", "172.16.5.4",
                                  "169.254.169.254", "::1", "[::1]", "fe80::1", "0.0.0.0",
                                  "::ffff:10.0.0.1", "localhost", "LOCALHOST", "a.localhost",
                                  "240.0.0.1", "fc00::1"])
def test_private_hosts(host):
    assert is_private_host(host)


@pytest.mark.parametrize("host", ["8.8.8.8", "2606:4700:4700::1111", "", "1.1.1.1"])
def test_public_or_empty_hosts(host):
    assert not is_private_host(host)


def test_private_host_resolution_is_used(monkeypatch):
    def fake_getaddrinfo(name, port, *args, **kwargs):
        table = {"intranet.example": "10.1.2.3", "www.example": "93.184.216.34"}
        if name not in table:
            raise socket.gaierror("no such name")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[name], 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert is_private_host("intranet.example")
    assert not is_private_host("www.example")
    assert not is_private_host("does-not-resolve.example")  # unresolvable => False


# --- properties ----------------------------------------------------------------------------

_HOST = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z][A-Za-z0-9-]{0,10}){0,2}",
                      fullmatch=True)
_PATH = st.from_regex(r"(/[A-Za-z0-9._~!$'()*+,;=:@%-]{0,12}){0,4}", fullmatch=True)
_QUERY = st.lists(
    st.tuples(st.sampled_from(["id", "q", "utm_source", "page", "fbclid", "Ref", "x"]),
              st.text(alphabet="abcXYZ019-_.%+ ", max_size=6)),
    max_size=4,
)


@st.composite
def _urls(draw):
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_HOST)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = draw(_PATH)
    query = "&".join(f"{k}={v}" for k, v in draw(_QUERY))
    fragment = draw(st.sampled_from(["", "#top", "#"]))
    return f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "") + fragment


@settings(max_examples=400, deadline=None)
@given(_urls())
def test_canonicalize_properties_on_urls(url):
    once = canonicalize(url)
    assert canonicalize(once) == once
    before, after = urlsplit(url), urlsplit(once)
    assert after.scheme == before.scheme.lower()
    assert after.hostname == before.hostname.lower()
    assert unquote(after.path) == unquote(before.path or "/")
    assert "utm_" not in after.query and "fbclid" not in after.query
    assert after.fragment == ""


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80), st.one_of(st.none(), st.text(max_size=30), _urls()))
def test_canonicalize_never_raises_and_is_idempotent_on_any_text(url, base):
    once = canonicalize(url, base)
    assert isinstance(once, str)
    assert canonicalize(once) == once
