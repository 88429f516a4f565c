"""Link detector: URLs (with or without scheme), bare IPs and share cards.

Policies ban "网址链接" unrelated to the group's work, virus links and
红包 / 拉票 / 集赞 / 砍价 / 募捐 links. A link is allowed when its host is one
of ``[links] allow_domains`` or a subdomain of one (``edu.cn`` allows
``www.pku.edu.cn``). Domains without a scheme are recognised by a known
top-level domain, so file names (报告.docx) and numbers (3.5) are not links.
Share cards, mini-programs and JSON cards arrive in ``ChatEvent.cards``; their
findings have an empty span (they are not part of the text). A card whose
title or URL asks for votes, likes, bargains or donations is ``solicit``.

Links written to hide (lucky8。vip, abc . com, abc[.]com, abc点cn, abc dot com,
h t t p s://, full-width or look-alike letters) are found by
:func:`rules.text.hidden_links.find_links` (``[links] hidden``): a hidden link
is ``how=folded`` and medium evidence (how the dot was written is a reading),
a plain one direct and strong. A WeChat or QQ group or contact invitation is
``solicit``; a short link (t.cn, dwz.cn, bit.ly...) says so in the detail, as
does a hidden one. Allow-listed domains stay allowed however they are written.
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar
from urllib.parse import urlsplit

from rules.config import LinkSettings
from rules.core.model import ChatEvent, Finding, MatchKind, Strength
from rules.detectors.base import Detector
from rules.text.hidden_links import Link, find_links

# Common generic and country TLDs seen in spam; bare "x.y" needs one of these.
_TLDS = (
    "com|cn|net|org|edu|gov|info|biz|top|xyz|vip|club|site|online|shop|store|wang|ltd|"
    "cc|tv|me|io|co|app|link|live|fun|icu|ink|pro|work|tech|cloud|asia|mobi|"
    "hk|tw|mo|jp|kr|us|uk|de|ru|in|sg|la|ws|pw|tk|ml|ga|cf|gq|to|so|im|ly|gl|gd|"
    "xin|ren|red|kim|bid|win|men|loan|vip|tel|name|press|space|website|today|"
    "公司|网络|中国|在线|网址"
)
_SCHEME_URL = re.compile(r"(?:https?|ftp)://[^\s<>\"'，。！？、；：）】》]+", re.I)
_BARE_DOMAIN = re.compile(
    r"(?<![\w@.\-])((?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:" + _TLDS + r"))"
    r"(?::\d{2,5})?(?:/[^\s<>\"'，。！？、；：）】》]*)?(?![\w\-])",
    re.I,
)
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?::\d{2,5})?(?:/[^\s，。]*)?(?![\d.]\d)")
_SOLICIT = re.compile(
    r"砍价|砍一刀|助力|集赞|点赞|投票|拉票|红包|募捐|捐款|众筹|水滴筹|轻松筹|帮我点"
)
# Full-width forms of URL characters, folded so ｗｗｗ．ｘ．ｃｏｍ is seen (length-preserving).
_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")


def _may_link(text: str) -> bool:
    """Whether ``text`` has a dot or a slash in either width: a link needs one, and most
    chat messages have neither (cheaper than folding the width of every message)."""
    return "." in text or "/" in text or "．" in text or "／" in text


def _host(url: str) -> str:
    candidate = url if "://" in url else "//" + url
    try:
        return (urlsplit(candidate).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def allowed(host: str, domains: list[str]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one."""
    host = host.lower().rstrip(".")
    for domain in domains:
        domain = domain.lower().strip().lstrip("*.").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


class LinkDetector(Detector[LinkSettings]):
    """Finds links in text and share cards; allow-listed domains pass."""

    name: ClassVar[str] = "link"
    section: ClassVar[str] = "links"

    def check(self, event: ChatEvent, settings: LinkSettings) -> list[Finding]:
        text = event.text
        findings = self._text_links(text, settings) if _may_link(text) else []
        if settings.hidden and text:
            findings = _with_hidden(text, findings, find_links(text), settings)
        if settings.cards:
            for card in event.cards:
                if card.url and allowed(_host(card.url), settings.allow_domains):
                    continue
                category = "solicit" if _SOLICIT.search(card.title + card.url) else "link"
                detail = f"card: {card.title}" if card.title else "card"
                findings.append(Finding(self.name, category, card.url or card.title, 0, 0, detail))
        return findings

    def _text_links(self, original: str, settings: LinkSettings) -> list[Finding]:
        findings: list[Finding] = []
        text = original.translate(_WIDTH) if _FULL_WIDTH.search(original) else original
        if "." not in text and "://" not in text:
            return findings
        spans = [(m.start(), m.end()) for m in _SCHEME_URL.finditer(text)]
        if settings.bare_domains:
            spans += [m.span() for m in _BARE_DOMAIN.finditer(text)]
        if settings.ips:
            spans += [m.span() for m in _IPV4.finditer(text) if _is_ip(m.group(1))]
        taken: list[tuple[int, int]] = []
        for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
            if any(s <= start < e for s, e in taken):
                continue  # inside a longer link already found
            taken.append((start, end))
            url = text[start:end].rstrip(".,;:!?)]}")
            end = start + len(url)
            if allowed(_host(url), settings.allow_domains):
                continue
            category = "solicit" if _SOLICIT.search(url) else "link"
            findings.append(Finding(self.name, category, original[start:end], start, end))
        return findings


def _with_hidden(
    text: str, findings: list[Finding], links: list[Link], settings: LinkSettings
) -> list[Finding]:
    """``findings`` (plain links) with the hidden, short and invitation links added,
    and plain ones that turn out to be invitations or short links said so."""
    if not links:
        return findings
    out = list(findings)
    for link in links:
        if (
            not settings.bare_domains
            and not link.hidden
            and "://" not in text[link.start : link.end]
        ):
            continue
        if allowed(link.host, settings.allow_domains):
            continue
        same = [f for f in out if f.start < link.end and link.start < f.end]
        if same and not (link.invite or link.short or link.hidden):
            continue  # the plain link, found already
        notes = [
            note
            for note, on in (
                (f"invitation ({link.invite})", link.invite),
                ("short link", link.short),
                (f"hidden link: {link.canonical}", link.hidden),
            )
            if on
        ]
        category = "solicit" if link.invite or _SOLICIT.search(link.canonical) else "link"
        how, strength = (
            (MatchKind.FOLDED, Strength.MEDIUM)
            if link.hidden
            else (MatchKind.DIRECT, Strength.STRONG)
        )
        for f in same:
            out.remove(f)
        out.append(
            Finding(
                LinkDetector.name,
                category,
                text[link.start : link.end],
                link.start,
                link.end,
                "; ".join(notes),
                how,
                strength,
            )
        )
    out.sort(key=lambda f: (f.start, f.end))
    return out


def _is_ip(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True
