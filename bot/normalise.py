"""Turn what a feed gave us into comparable values: canonical URLs, clean text, an Article.

Everything here is a pure function of its arguments: dedup keys must not depend on when or
where they were computed, so the clock comes in as `now` and nothing is fetched.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from datetime import UTC, datetime
from ipaddress import ip_address
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html

from bot.junk import strip_junk
from bot.language import detect_language
from bot.models import Article, Entry, Source

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 20_000
"""An article's stored text is cut here: enough for a summary and for near-duplicate checks."""

MAX_MARKUP_CHARS = 400_000
"""HTML is cut here before parsing, so a 2 MB description costs no more than a long article."""

MAX_TITLE_CHARS = 400

_TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_")
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "ocid",
        "cmp",
        "ito",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "ref_url",
        "xtor",
        "sr_share",
        "maca",
        "srcref",
        "dmcid",
        "_ga",
        "_gl",
        "smid",
        "smtyp",
        "s_cid",
        "wt.mc_id",
        "wt_mc",  # Webtrekk campaign tags: heise's "?wt_mc=rss.developer.beitrag.atom"
        "wt_zmc",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "soc_src",
        "soc_trk",
        "mbid",
        "cmpid",
        "int_source",
        "int_medium",
        "int_campaign",
        "__twitter_impression",
        "rss",
        "rssfeed",
        "feedtype",
        "feedname",  # Reuters' "?feedType=RSS&feedName=worldNews": the path names the article
    }
)
_AMP_HOST_PREFIXES = ("m.", "mobile.", "amp.")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def canonical_url(url: str, base: str | None = None) -> str:
    """The one spelling of an article's address that every outlet's link maps to.

    The result is both the exact-dedup key and the link shown to readers, so it stays a
    working address. Rules: scheme and host lower-cased; credentials, default ports,
    fragments and tracking parameters (utm_*, fbclid, ...) dropped; the remaining query
    sorted; a trailing slash dropped (the root stays "/"); AMP variants (an `amp` path
    segment, a `.amp` suffix, `amp=1`, `outputType=amp`, an `amp.` host) and mobile hosts
    (`m.`, `mobile.`) mapped to the `www.` desktop page, the most common desktop host of news
    sites. `http` becomes `https`, since outlets serve and redirect to https and the same
    story arrives under both schemes; loopback, IP-address hosts and explicit non-default
    ports keep `http`, because local test servers and intranets rarely speak TLS. Anything
    that is not an http(s) URL (`tag:` ids, `mailto:`) comes back stripped but unchanged,
    and nothing raises.
    """
    url = "".join(url.split())
    if base:
        try:
            url = urljoin(base, url)
        except ValueError:
            return url
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return url
        host = parts.hostname.rstrip(".")
        port = parts.port
    except ValueError:
        return url
    if not host:  # "http://./x": no host to keep, so no address to rewrite
        return url
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    if scheme == "http" and port is None and not _is_local_host(host):
        scheme = "https"
    host = _desktop_host(host)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit(
        (scheme, netloc, _canonical_path(parts.path), _canonical_query(parts.query), "")
    )


def _is_local_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def _desktop_host(host: str) -> str:
    for prefix in _AMP_HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            return "www." + host[len(prefix) :]
    return host


def _canonical_path(path: str) -> str:
    """Percent-encode consistently and drop AMP markers and the trailing slash."""
    path = quote(path, safe=_PATH_SAFE)
    if "%" in path:
        path = _PERCENT_ESCAPE.sub(lambda m: m.group(0).upper(), path)
    kept = [segment for segment in path.split("/") if segment.lower() != "amp"]
    last = kept[-1].lower() if kept else ""
    if last.endswith(".amp"):
        kept[-1] = kept[-1][:-4]
    elif ".amp." in last:
        stem, _, ext = kept[-1].rpartition(".")
        kept[-1] = f"{stem[:-4]}.{ext}"
    path = "/".join(kept).rstrip("/")
    return path if path.startswith("/") else "/" + path


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = sorted((k, v) for k, v in pairs if not _is_tracking_param(k, v))
    return urlencode(kept, quote_via=quote)


def _is_tracking_param(name: str, value: str) -> bool:
    key = name.lower()
    if key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES):
        return True
    if key == "amp":
        return value.lower() in ("", "1", "true")
    return key == "outputtype" and value.lower() == "amp"


_SKIPPED_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "svg",
        "iframe",
        "object",
        "select",
        "textarea",
        "button",
        "math",
    }
)
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "tr",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "nav",
        "main",
        "figure",
        "figcaption",
        "hr",
        "address",
        "form",
        "fieldset",
        "details",
        "summary",
        "caption",
        "body",
        "html",
    }
)
_CELL_TAGS = frozenset({"td", "th"})
_CONTROL_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u2060\ufeff\ufffe\uffff"
    "\ud800-\udfff]"
)
_LINE_BREAKS = re.compile("[\r\u2028\u2029\x85]")
_LEFTOVER_REFERENCE = re.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|quot|apos|lt|gt|nbsp|hellip|mdash|ndash|"
    r"laquo|raquo|[lr]squo|[lr]dquo);"
)
_MARKUP_HINT = re.compile(r"<[a-zA-Z/!?]|&[#a-zA-Z]")
_ANY_TAG = re.compile(r"<[^<>]*>")
_SIMPLE_MARKUP = re.compile(r"(?:[^<>&]++|<br ?/?>|<p>(?:[^<>&]++|<br ?/?>)*+</p>)*+")
"""Text, `<br>` and closed `<p>` elements of text and `<br>` only. A `</p>` without its
`<p>` is left out: libxml2 ignores it rather than ending a paragraph."""
_SIMPLE_TAG = re.compile(r"</?p>|<br ?/?>")
_MAX_DEPTH = 1000
"""libxml2 silently drops content nested deeper than about 2048 elements; real pages stay far
below this, so a deeper tree is degenerate markup and is stripped by pattern instead."""


_SPACE_BEFORE_STOP = re.compile(r"(?<=\w) ([.,])(?=\s|$)")


def clean_text(html_or_text: str) -> str:
    """Readable plain text from an HTML fragment, a whole page or plain text.

    Tags go, and the text of scripts, styles and other non-prose elements with them; block
    elements and `<br>` end a paragraph; entities are decoded once, as a browser would.
    A character reference still left after that (`&amp;#39;` decodes to `&#39;`) is a
    publisher's double escaping, and a reader wants the apostrophe, so leftover references
    are decoded once more (see `fold_text`). Paragraphs come out one per line, whitespace
    folded, control characters removed. The HTML is parsed by libxml2, which is linear in
    the input, so a 2 MB page is fine; callers still cap what they pass in.
    """
    if not _MARKUP_HINT.search(html_or_text):
        return fold_text(html_or_text)
    if _SIMPLE_MARKUP.fullmatch(html_or_text):
        return _clean_simple(_CONTROL_CHARS.sub("", html_or_text))
    return _clean_parsed(html_or_text)


def _clean_parsed(html_or_text: str) -> str:
    """`clean_text` by libxml2's parse: any markup, however broken."""
    root = _parse_html(html_or_text)
    if root is None:
        return ""
    paragraphs: list[str] = []
    current: list[str] = []

    def end_paragraph() -> None:
        if current:
            line = fold_text(" ".join("".join(current).split()))
            if line:
                paragraphs.append(line)
            current.clear()

    depth = 0
    walker = lxml.etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            depth += 1
            if depth >= _MAX_DEPTH:
                return _strip_tags_crudely(html_or_text)
            if tag in _SKIPPED_TAGS:
                walker.skip_subtree()
                continue
            if tag in _BLOCK_TAGS:
                end_paragraph()
            elif tag in _CELL_TAGS:
                current.append(" ")
            if tag and element.text:
                current.append(element.text)
        else:
            depth -= 1
            if tag in _BLOCK_TAGS:
                end_paragraph()
            if element.tail:
                current.append(element.tail)
    end_paragraph()
    return "\n".join(paragraphs)


def _clean_simple(markup: str) -> str:
    """What `_clean_parsed` makes of `_SIMPLE_MARKUP`, the usual feed description, without
    parsing: every tag ends a paragraph and there is nothing to decode. The caller removes
    control characters first, as the parse does; `fold_text` would then change nothing,
    since `str.split` takes out every line break and there is no `&`. Several times cheaper
    than libxml2 for a short description; a test checks it against `_clean_parsed`.
    """
    paragraphs = (_tidy(" ".join(piece.split())) for piece in _SIMPLE_TAG.split(markup))
    return "\n".join(line for line in paragraphs if line)


def _strip_tags_crudely(markup: str) -> str:
    """Tags out by pattern, for markup nested too deep for libxml2, which drops what lies
    beyond its depth limit. `<[^<>]*>` cannot backtrack past the next `<`, so it is linear."""
    return fold_text(html.unescape(_ANY_TAG.sub(" ", markup)))


def _parse_html(markup: str) -> lxml.etree._Element | None:
    """Parse with libxml2; bytes in, so an XML declaration inside the text cannot upset it."""
    parser = lxml.html.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True
    )
    data = _CONTROL_CHARS.sub("", markup).encode("utf-8")
    if not data.strip():
        return None
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        log.debug("unparseable markup of %d chars", len(markup))
        return None
    return root


def fold_text(text: str) -> str:
    """Plain text with control characters removed and whitespace folded.

    Lines stay lines (one paragraph each), empty ones go. Character references left in
    plain text are double-escaping artefacts and are decoded; only well-formed references
    with a semicolon count, so "AT&T" or "?a=1&para=2" are left alone.
    """
    text = _LINE_BREAKS.sub("\n", _CONTROL_CHARS.sub("", text))
    if "&" in text:
        text = _LEFTOVER_REFERENCE.sub(lambda m: html.unescape(m.group(0)), text)
        text = _CONTROL_CHARS.sub("", text)
    lines = (_tidy(" ".join(line.split())) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _tidy(line: str) -> str:
    """A folded line without the space before a full stop or comma that pretty-printed
    markup leaves after a link ("<a>Kherson</a> ." reads "Kherson .")."""
    if " ." in line or " ," in line:
        return _SPACE_BEFORE_STOP.sub(r"\1", line)
    return line


def normalise_entry(entry: Entry, source: Source, *, now: datetime) -> Article | None:
    """One feed entry as a clean Article, or None when it has neither a title nor a URL.

    The body is the content when it is longer than the summary (some feeds put the full
    text in one and a teaser in the other), cleaned, with page junk stripped and cut at
    MAX_TEXT_CHARS. A missing or future `published` becomes `now`, so a feed with a wrong
    clock cannot keep its items on top. The guid falls back to the canonical URL and then to
    a hash of the title, so every article has a stable identity within its source.
    """
    title = _cut(fold_text(entry.title[:MAX_MARKUP_CHARS]).replace("\n", " "), MAX_TITLE_CHARS)
    url = canonical_url(entry.url, base=source.url) if entry.url.strip() else ""
    if not title and not url:
        return None
    content = _clean_body(entry.content)
    summary = _clean_body(entry.summary)
    text = content if len(content) > len(summary) else summary
    if not title:
        title = _cut(text.split("\n", 1)[0], MAX_TITLE_CHARS) or url
    hint = entry.language or source.language
    language = detect_language(f"{title}\n{text[:2000]}", hint=hint)
    published = entry.published or now
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    guid = (entry.guid or "").strip() or url or "sha256:" + _sha256(title.casefold())
    digest = _sha256(f"{title.casefold()}\n{' '.join(text.casefold().split())}")
    return Article(
        source=source.name,
        guid=guid,
        url=url,
        title=title,
        text=text,
        language=language,
        published_at=min(published, now),
        content_hash=digest,
    )


def _clean_body(markup: str) -> str:
    if not markup:
        return ""
    text = strip_junk(clean_text(markup[:MAX_MARKUP_CHARS]))
    return _cut(text, MAX_TEXT_CHARS)


def _cut(text: str, limit: int) -> str:
    """Shorten at a word boundary, so a cut text never ends in half a word."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
