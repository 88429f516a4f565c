"""Links written to slip past a filter, with their canonical form and original span.

Spammers write ``lucky8。vip``, ``abc . com``, ``abc[.]com``, ``abc点cn``,
``abc dot com``, ``h t t p s://x.cn``, full-width or look-alike letters. Each
found link is reported with its canonical form (``lucky8.vip``, lower-case host
plus port and path as written), whether it was hidden, whether its host is a
short-link service, and whether it is a WeChat or QQ invitation.

How: the text is translated once, length-preserving, into a *view* (full width
to ASCII, upper to lower case, look-alike letters to ASCII, the dot variants
。｡﹒·・ to one marker), so a position in the view is a position in the
original. One regular expression finds candidate hosts in the view; a
candidate is then judged in Python by its top-level domain, against a list
whose strictness depends on how the dots were written:

* a plain ``.``, a bracketed dot (``[.]``, ``(点)``, ``【.】``) or a scheme: any
  listed TLD (:data:`TLDS`);
* 。｡·, 点, `` dot ``, or spaces before a dot: only :data:`CORE_TLDS`, which
  leaves out TLDs that are English words (``ok。so``, ``thank you。love``);
* a dot followed by spaces only (``ok. com``, how sentences end): only
  :data:`SPACED_TLDS`.

With any written-out dot, the labels before the TLD need a Latin letter (or,
except with 点 and dot, three digits): ``3点开会``, ``8点vip专场``, ``3.5``,
``12:30`` and ``一点`` give nothing. E-mail addresses are not links here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from rules.text import lookalike

__all__ = [
    "CORE_TLDS",
    "INVITE_HOSTS",
    "SHORT_HOSTS",
    "SPACED_TLDS",
    "TLDS",
    "Link",
    "find_links",
    "invite_kind",
    "is_short_host",
]

# A dot written as something else (in the view), and an invisible character.
_SYMBOL_DOT = "\x01"
_INVISIBLE = "\x02"
_SYMBOL_DOTS = "。｡﹒·・‧∙"
_INVISIBLES = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# TLDs that are not English words or common abbreviations: safe after 。, 点, dot.
CORE_TLDS: Final = _words(
    """
    com net org edu gov info biz mobi asia cn hk tw mo jp kr sg uk de fr ru ca au nz
    me io cc tv ws pw tk ml ga cf gq ly gl gd vn th ph
    xyz vip top club site online wang xin ren ltd icu cyou buzz bond cfd sbs lat kim
    shop store tech cloud
    """
)
# Only these after a dot followed by spaces (``ok. com``): how a sentence ends.
SPACED_TLDS: Final = _words("com cn net org xyz vip cc icu cyou ltd xin info biz hk tw mo")
# Every TLD accepted after a plain or bracketed dot: the core, generic ones that
# are words, and the other country codes.
TLDS: Final = CORE_TLDS | _words(
    """
    int name pro tel travel jobs museum aero coop
    app dev link live fun ink work art bet win bid loan men red run fit cool fans love
    host plus zone group life world email press space website today games news blog
    chat team center city company network studio design media social video market
    ai co in to so us is it at be do no as am by my id la eu es nl se fi dk pl cz ch
    pt gr ie tr ua kz uz ar br mx cl pe ve za ng eg ke ma sa ae il ir pk bd lk np
    mm kh mn
    """
)

# Short-link services (links that hide where they lead) and app share links that redirect.
SHORT_HOSTS: Final = _words(
    """
    t.cn url.cn dwz.cn suo.im mrw.so 985.so sina.lt kks.me 3.cn u.jd.com m.tb.cn tb.cn
    b23.tv v.douyin.com xhslink.com v.kuaishou.com
    bit.ly tinyurl.com goo.gl is.gd v.gd ow.ly t.co t.ly rb.gy cutt.ly rebrand.ly s.id
    tiny.cc shorturl.at buff.ly bl.ink
    """
)

WECHAT_GROUP = "wechat_group"
WECHAT_CONTACT = "wechat_contact"
WECHAT_OFFICIAL = "wechat_official"
WECOM = "wecom"
QQ_GROUP = "qq_group"
QQ_CONTACT = "qq_contact"
QQ = "qq"  # qm.qq.com: a contact or a group, the link does not say
# Host -> (path prefix -> invitation kind); "" matches any path.
INVITE_HOSTS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "weixin.qq.com": (("/g/", WECHAT_GROUP), ("/r/", WECHAT_OFFICIAL), ("/q/", WECHAT_CONTACT)),
    "u.wechat.com": (("", WECHAT_CONTACT),),
    "work.weixin.qq.com": (("/gm/", WECOM), ("/u/", WECOM), ("/ca/", WECOM)),
    "qm.qq.com": (("", QQ),),
    "jq.qq.com": (("", QQ_GROUP),),
    "qun.qq.com": (("", QQ_GROUP),),
    "wpa.qq.com": (("", QQ_CONTACT),),
}


# Every TLD some link may end in: for a first, cheap rejection.
_ANY_TLD: Final = TLDS | {host.rsplit(".", 1)[1] for host in SHORT_HOSTS | INVITE_HOSTS.keys()}


def _view_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code, target in lookalike.FOLDS.items():  # look-alike letters, one for one
        if len(target) == 1 and target.isascii() and target.isalnum():
            table[code] = target
    for code in range(0xFF01, 0xFF5F):  # full width (also ．：／［］（）)
        table[code] = chr(code - 0xFEE0).lower()
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = chr(code).lower()
    table.update({ord(c): _SYMBOL_DOT for c in _SYMBOL_DOTS})
    table.update({ord(c): _INVISIBLE for c in _INVISIBLES})
    table.update({ord("【"): "[", ord("】"): "]", ord("〔"): "[", ord("〕"): "]"})
    table.update({0x3000: " ", 0x00A0: " "})
    return table


def _list(table: dict[int, str]) -> tuple[str | int, ...]:
    out: list[str | int] = list(range(0x20000))
    for code, target in table.items():
        if code < len(out):
            out[code] = target
    return tuple(out)


_VIEW: Final = _list(_view_table())
# Case kept (paths are case-sensitive): full width to ASCII only.
_WIDTH: Final = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}

_SP = r"[ \t\x02]*"
_WORD_DOT = r"点|(?<=[ \t])dot(?=[ \t])"
_DOT = rf"(?:{_SP}(?:\.|\x01|[\[(]{_SP}(?:\.|\x01|点|dot){_SP}[\])]|{_WORD_DOT}){_SP})"
_LABEL = r"[a-z0-9](?:[a-z0-9\-\x02]{0,61}[a-z0-9])?"
_SCHEME = r"h[ \x02]*[tx][ \x02]*[tx][ \x02]*p[ \x02]*(?:s[ \x02]*)?:[ \x02]*/[ \x02]*/[ \x02]*"
_LINK = re.compile(
    rf"(?<![a-z0-9\-@.\x02])(?P<scheme>{_SCHEME})?"
    rf"(?P<host>{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}(?=[a-z]){_LABEL})(?![a-z0-9\-\x02])"
    r"(?P<rest>(?::\d{2,5})?(?:/[a-z0-9\-._~%!$&'*+,;=:@/?#]*)?)"
)
_DOT_ONLY = re.compile(_DOT)
_WORDS = re.compile("[a-z]+")
_RUN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-:/ \t\x02")
_LETTER = re.compile(r"[a-z]")
# A link needs a letter or digit followed by some kind of dot (a cheap first test).
_MAY_LINK = re.compile(r"[a-z0-9][ \t\x02]*(?:[.\x01\[(点]|dot)")

# How a dot was written, strictest TLD list last.
_PLAIN, _BRACKET, _WRITTEN, _WORD, _SPACED_AFTER = range(5)
_ALLOWED = {
    _PLAIN: TLDS,
    _BRACKET: TLDS,
    _WRITTEN: CORE_TLDS,
    _WORD: CORE_TLDS,
    _SPACED_AFTER: SPACED_TLDS,
}


@dataclass(frozen=True, slots=True)
class Link:
    """One link: canonical form, span in the original text, and what kind it is."""

    canonical: str  # host (lower case), then port and path as written: "t.cn/A6xY"
    host: str  # "lucky8.vip"
    start: int
    end: int  # original text[start:end], end exclusive
    hidden: bool  # written with a disguised dot or scheme, or full-width / look-alike letters
    short: bool  # the host is a short-link service (SHORT_HOSTS)
    invite: str  # "" or WECHAT_GROUP, WECHAT_CONTACT, WECHAT_OFFICIAL, WECOM, QQ_GROUP...


def _dot_kind(dot: str) -> int:
    core = dot.strip(" \t\x02")
    if core == ".":
        if dot == core or dot.replace("\x02", "") == core:
            return _PLAIN
        before = dot[: dot.index(".")]
        return _WRITTEN if before.strip("\x02") else _SPACED_AFTER
    if core[0] in "[(":
        return _BRACKET
    if core == "\x01":
        return _WRITTEN
    return _WORD  # 点, dot


def is_short_host(host: str) -> bool:
    """Whether ``host`` is a short-link service or a subdomain of one."""
    if host in SHORT_HOSTS:
        return True
    parts = host.split(".")
    return any(".".join(parts[i:]) in SHORT_HOSTS for i in range(1, len(parts) - 1))


def invite_kind(host: str, path: str) -> str:
    """The invitation kind of a WeChat or QQ link (``""`` for none)."""
    for prefix, kind in INVITE_HOSTS.get(host, ()):
        if path.startswith(prefix):
            return kind
    return ""


def _known(host: str) -> bool:
    return host in INVITE_HOSTS or is_short_host(host)


_GAP = " \t\u3000" + _INVISIBLES
# A dot-like character with one that is not CJK before it (gaps skipped), searched for
# in the text reversed: a pattern that begins with a character class is searched
# for that class alone, and dot-like characters are few.
_DOT_AFTER_NON_CJK_REVERSED = re.compile(
    f"[.。｡．﹒·・‧∙点\\[(【（〔][{_GAP}]*[^\u3000-\u9fff{_GAP}]"
)
_DOT_WORD = re.compile("dot|DOT|Dot")


def _may_link(text: str) -> bool:
    """Whether some dot-like character follows one that is not CJK (gaps skipped), or the
    word dot is written: cheaper than the view.

    Most chat messages have dots only after Chinese (谢谢。) or none at all: for
    them these tests are the whole cost of :func:`find_links`.
    """
    if ("ot" in text or "OT" in text) and _DOT_WORD.search(text) is not None:
        return True
    return _DOT_AFTER_NON_CJK_REVERSED.search(text[::-1]) is not None


def find_links(text: str) -> list[Link]:
    """Every link in ``text``, plain or hidden, in order (see the module docstring)."""
    if not _may_link(text):
        return []
    view = text.translate(_VIEW)
    first = _MAY_LINK.search(view)
    if first is None:
        return []
    # Start where the run of characters a link (or its scheme) is made of begins: the
    # regex starts with a lookbehind, so each position it tries costs, and most are CJK.
    pos = first.start()
    while pos and view[pos - 1] in _RUN:
        pos -= 1
    links = []
    for match in _LINK.finditer(view, pos):
        link = _judge(text, view, match)
        if link is not None:
            links.append(link)
    return links


def _judge(text: str, view: str, match: re.Match[str]) -> Link | None:
    """A candidate host judged by its TLD and labels; trailing non-TLD labels dropped."""
    host_start = match.start("host")
    scheme = match.group("scheme") is not None
    if not scheme and _ANY_TLD.isdisjoint(_WORDS.findall(view, host_start, match.end("host"))):
        return None  # data.xlsx, v2.3.1: no word that could be a TLD
    labels: list[tuple[int, int]] = []  # view spans of the labels
    kinds: list[int] = []  # how each dot before labels[1:] was written
    at = host_start
    for dot in _DOT_ONLY.finditer(view, host_start, match.end("host")):
        labels.append((at, dot.start()))
        kinds.append(_dot_kind(dot.group()))
        at = dot.end()
    labels.append((at, match.end("host")))
    found = len(labels)
    names = [view[a:b].replace(_INVISIBLE, "") for a, b in labels]
    while len(names) >= 2:
        host = ".".join(names)
        strictest = max(kinds)
        if (names[-1] in _ALLOWED[strictest] and _labels_ok(names[:-1], kinds)) or (
            scheme or _known(host)
        ):
            break
        names.pop()
        kinds.pop()
        labels.pop()
    else:
        return None
    trimmed = len(labels) < found
    end = labels[-1][1] if trimmed else match.end()
    rest = "" if trimmed else text[match.end("host") : match.end()].translate(_WIDTH)
    if rest:  # a sentence's own punctuation after the link is not part of it
        kept = rest.rstrip(".,;:!?")
        end -= len(rest) - len(kept)
        rest = kept
    start = match.start()
    hidden = (
        (scheme and " " in match.group("scheme"))
        or any(k != _PLAIN for k in kinds)
        or not text[start:end].isascii()
    )
    path = rest[rest.index("/") :] if "/" in rest else ""
    return Link(
        canonical=host + rest,
        host=host,
        start=start,
        end=end,
        hidden=bool(hidden),
        short=is_short_host(host),
        invite=invite_kind(host, path),
    )


def _labels_ok(labels: list[str], kinds: list[int]) -> bool:
    """Labels before the TLD: with a written-out dot they need a letter (or three digits)."""
    if all(k == _PLAIN for k in kinds):
        return True
    joined = "".join(labels)
    if _LETTER.search(joined):
        return True
    return _WORD not in kinds and len(joined) >= 3
