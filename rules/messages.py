"""Every sentence the bot says to people, in one place, in Chinese and English.

A group's language is ``[moderation] language`` ("zh" default, or "en").
Templates use ``str.format`` fields; values are plain text (platform edges send
them as text segments, never as markup). Keep the Chinese short and polite:
it is read on phones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Language = Literal["zh", "en"]

_TEMPLATES: Mapping[str, Mapping[Language, str]] = {
    "warn": {
        "zh": "请勿发布违规内容（{reason}），本条已处理。这是您第{count}次违规，请遵守群规。",
        "en": "Please do not post prohibited content ({reason}). This is violation {count}; "
        "please follow the group rules.",
    },
    "warn_muted": {
        "zh": "因发布违规内容（{reason}），已被禁言{duration}。这是您第{count}次违规。",
        "en": "Muted for {duration} for prohibited content ({reason}). This is violation {count}.",
    },
    "warn_kicked": {
        "zh": "因多次或严重违反群规（{reason}），已被移出本群，并已上报管理员。",
        "en": "Removed from the group for repeated or serious violations ({reason}); "
        "this has been reported.",
    },
    "remind": {
        "zh": "请按群规修改群名片（{detail}）。",
        "en": "Please change your group card to follow the group rules ({detail}).",
    },
    "report": {
        "zh": "【群卫士上报】案件 #{case_id}\n群：{group}\n成员：{member}\n"
        "违规：{findings}\n原文：{evidence}\n处理：{outcomes}\n时间：{time}",
        "en": "[GroupGuard report] case #{case_id}\nGroup: {group}\nMember: {member}\n"
        "Found: {findings}\nText: {evidence}\nAction: {outcomes}\nTime: {time}",
    },
    "report_batch": {
        "zh": "【群卫士】共{count}条上报：",
        "en": "[GroupGuard] {count} reports:",
    },
}

# Human names for detector categories, used in warnings and reports.
_CATEGORY_NAMES: Mapping[str, Mapping[Language, str]] = {
    "politics": {"zh": "政治敏感", "en": "politics"},
    "ethnic": {"zh": "民族仇恨", "en": "ethnic hatred"},
    "cult": {"zh": "邪教迷信", "en": "cults and superstition"},
    "rumor": {"zh": "谣言", "en": "rumours"},
    "porn": {"zh": "色情", "en": "pornography"},
    "gambling": {"zh": "赌博", "en": "gambling"},
    "drugs": {"zh": "毒品", "en": "drugs"},
    "violence": {"zh": "暴力恐怖", "en": "violence and terror"},
    "insult": {"zh": "辱骂攻击", "en": "insults"},
    "ads": {"zh": "商业广告", "en": "advertising"},
    "solicit": {"zh": "拉票集赞砍价募捐", "en": "vote/like/donation requests"},
    "link": {"zh": "外部链接", "en": "links"},
    "pii": {"zh": "个人隐私信息", "en": "personal data"},
    "flood": {"zh": "刷屏", "en": "flooding"},
    "nickname": {"zh": "群名片不规范", "en": "group card format"},
}


def render(key: str, language: Language = "zh", **fields: object) -> str:
    """Fill template ``key`` in ``language``; KeyError names a missing template."""
    return _TEMPLATES[key][language].format(**fields)


def category_name(category: str | None, language: Language = "zh") -> str:
    """Readable name of a category; unknown categories are shown as they are."""
    if category is None:
        return "违规内容" if language == "zh" else "prohibited content"
    names = _CATEGORY_NAMES.get(category)
    return names[language] if names else category


def truncate(text: str, limit: int = 200) -> str:
    """Shorten long evidence for chat display, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
