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
    # Group cards (rules/cards.py): one sentence per wrong part.
    "card_empty": {"zh": "群名片为空", "en": "the group card is empty"},
    "card_no_match": {
        "zh": "群名片「{value}」不符合格式「{formats}」",
        "en": 'the card "{value}" does not follow "{formats}"',
    },
    "card_wrong_order": {
        "zh": "顺序不对，应为「{formats}」",
        "en": 'the parts are in the wrong order; use "{formats}"',
    },
    "card_missing_separator": {
        "zh": "各部分之间缺少分隔符（如“+”），应为「{formats}」",
        "en": 'separate the parts (e.g. with "+"): "{formats}"',
    },
    "card_missing_field": {
        "zh": "缺少{field}，应为「{formats}」",
        "en": 'the {field} is missing; use "{formats}"',
    },
    "card_unknown_dept": {
        "zh": "部门「{value}」不在本群部门列表中",
        "en": 'department "{value}" is not in this group\'s list',
    },
    "card_unknown_subject": {
        "zh": "学科「{value}」不在学科列表中",
        "en": 'subject "{value}" is not a known subject',
    },
    "card_unknown_relation": {
        "zh": "「{value}」不是与学生的关系（如爸爸、妈妈）",
        "en": '"{value}" is not a relation to the student (e.g. 爸爸, 妈妈)',
    },
    "card_name_not_chinese": {
        "zh": "{field}「{value}」不是中文姓名",
        "en": '{field} "{value}" is not a Chinese name',
    },
    "card_name_like_dept": {
        "zh": "{field}「{value}」像单位名称，不像姓名",
        "en": '{field} "{value}" looks like a unit, not a name',
    },
    "card_name_surname": {
        "zh": "{field}「{value}」不像真实姓名（“{surname}”不是常见姓氏）",
        "en": '{field} "{value}" does not look like a real name ("{surname}" is no surname)',
    },
    "card_name_length": {
        "zh": "{field}「{value}」应为2–4个汉字",
        "en": '{field} "{value}" should be 2-4 Chinese characters',
    },
    # Card-compliance timeline (rules/members.py).
    "card_remind": {
        "zh": "请按群规修改群名片（{detail}）。",
        "en": "Please change your group card to follow the group rules ({detail}).",
    },
    "card_remind_deadline": {
        "zh": "请在{left}内按群规修改群名片（{detail}），逾期将{then}。",
        "en": "Please change your group card within {left} ({detail}); "
        "otherwise you will be {then}.",
    },
    "card_then_kick": {"zh": "移出本群", "en": "removed from the group"},
    "card_then_escalate": {"zh": "上报管理员", "en": "reported to the group officer"},
    "card_should_be": {
        "zh": "按名单，您的群名片应为「{card}」。",
        "en": 'According to the roster your card should be "{card}". ',
    },
    # Join screening (rules/joins.py): the reason given with the decision.
    "join_roster_id": {
        "zh": "账号属于名单中的「{name}」",
        "en": 'the account belongs to "{name}" in the roster',
    },
    "join_roster_name": {
        "zh": "申请备注「{comment}」对应名单中的「{name}」",
        "en": 'the comment "{comment}" names "{name}" in the roster',
    },
    "join_left": {
        "zh": "「{name}」在名单中已登记为离职",
        "en": '"{name}" has left according to the roster',
    },
    "join_format": {
        "zh": "申请备注「{comment}」符合群名片格式",
        "en": 'the comment "{comment}" follows the card format',
    },
    "join_unknown": {
        "zh": "申请备注「{comment}」无法确认身份（{detail}）",
        "en": 'the comment "{comment}" does not identify the person ({detail})',
    },
    "join_report": {
        "zh": "【群卫士入群审核】群：{group}\n申请人：{member}\n备注：{comment}\n"
        "结果：{decision}\n原因：{reason}\n时间：{time}",
        "en": "[GroupGuard join request] Group: {group}\nApplicant: {member}\n"
        "Comment: {comment}\nDecision: {decision}\nReason: {reason}\nTime: {time}",
    },
    "join_approved": {"zh": "已同意", "en": "approved"},
    "join_rejected": {"zh": "已拒绝", "en": "rejected"},
    "join_left_for_admin": {"zh": "未处理，请管理员审核", "en": "left for an admin to decide"},
    # Group checks in the scheduled audit (rules/audit.py).
    "group_too_big": {
        "zh": "群「{name}」（{group}）有{count}人，超过{limit}人上限",
        "en": 'group "{name}" ({group}) has {count} members, over the limit of {limit}',
    },
    "group_bad_name": {
        "zh": "群「{name}」（{group}）的名称不符合“单位简称+群名”（单位简称：{units}）",
        "en": 'group "{name}" ({group}) is not named "unit + name" (units: {units})',
    },
    "audit_report": {
        "zh": "【群卫士成员检查】{time}\n{lines}",
        "en": "[GroupGuard member audit] {time}\n{lines}",
    },
    "audit_group_line": {
        "zh": "群{group}：检查{checked}人，名片不合规{flagged}人，提醒{reminded}人，处理{acted}人",
        "en": "group {group}: {checked} checked, {flagged} with a wrong card, "
        "{reminded} reminded, {acted} acted on",
    },
    # Roster checks (rules/roster.py, rules/detectors/nickname.py).
    "roster_unknown_name": {
        "zh": "名单中没有「{value}」",
        "en": '"{value}" is not in the roster',
    },
    "roster_left_name": {
        "zh": "「{value}」在名单中已登记为离职",
        "en": '"{value}" is marked as having left in the roster',
    },
    "roster_left_id": {
        "zh": "该账号属于已离职人员「{value}」",
        "en": 'this account belongs to "{value}", who has left',
    },
    "roster_name_mismatch": {
        "zh": "名片姓名「{value}」与该账号在名单中登记的「{expected}」不符",
        "en": 'the card says "{value}" but the roster lists this account as "{expected}"',
    },
    "roster_dept_mismatch": {
        "zh": "部门「{value}」与名单中登记的「{expected}」不符",
        "en": 'department "{value}" differs from the roster\'s "{expected}"',
    },
    "roster_unlisted_id": {
        "zh": "该账号不在名单中（「{value}」在名单中登记的是其他账号）",
        "en": 'this account is not in the roster ("{value}" is listed with another account)',
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
    # ---- Officers: daily digest (rules/digest.py), registry, exports ------------------
    "digest_header": {
        "zh": "【群卫士日报】{date}\n统计时段：{since} 至 {until}",
        "en": "[GroupGuard daily digest] {date}\nPeriod: {since} to {until}",
    },
    "digest_summary": {
        "zh": "共{groups}个群：违规{cases}起，处理失败{failed}项，名片待整改{grace}人，"
        "待处理申诉{appeals}件",
        "en": "{groups} group(s): {cases} violation(s), {failed} failed action(s), "
        "{grace} card(s) to fix, {appeals} open appeal(s)",
    },
    "digest_continued": {
        "zh": "【群卫士日报】{date}（续{part}）",
        "en": "[GroupGuard daily digest] {date} (part {part})",
    },
    "digest_nothing": {
        "zh": "过去一天没有需要处理的事项。",
        "en": "Nothing to report for the past day.",
    },
    "digest_unregistered": {
        "zh": "未备案的群（{count}）：{groups}",
        "en": "Not registered ({count}): {groups}",
    },
    "digest_group": {"zh": "■ {group}{tag}", "en": "■ {group}{tag}"},
    "digest_chart_tag": {"zh": "〔图{letter}〕", "en": " [chart {letter}]"},
    "digest_cases": {
        "zh": "违规{count}起：{categories}",
        "en": "{count} violation(s): {categories}",
    },
    "digest_actions": {"zh": "处理：{actions}", "en": "Actions: {actions}"},
    "digest_dry_run": {
        "zh": "试运行，未执行{count}项",
        "en": "dry run: {count} not carried out",
    },
    "digest_failed": {"zh": "处理失败{count}项：", "en": "{count} failed action(s):"},
    "digest_failed_line": {
        "zh": "· 案件#{case} {action} {member}：{detail}",
        "en": "· case #{case} {action} {member}: {detail}",
    },
    "digest_grace": {
        "zh": "名片待整改{count}人：",
        "en": "{count} member(s) still to fix their card:",
    },
    "digest_grace_line": {"zh": "· {member}，{deadline}前", "en": "· {member}, by {deadline}"},
    "digest_grace_overdue": {
        "zh": "· {member}，{deadline}已逾期",
        "en": "· {member}, overdue since {deadline}",
    },
    "digest_appeals": {"zh": "待处理申诉{count}件：", "en": "{count} open appeal(s):"},
    "digest_appeal_line": {
        "zh": "· 申诉#{task}（案件#{case}）{member}，{at}",
        "en": "· appeal #{task} (case #{case}) {member}, {at}",
    },
    "digest_over_cap": {
        "zh": "群人数{count}，超过{limit}人上限",
        "en": "{count} members, over the limit of {limit}",
    },
    "digest_idle": {"zh": "已{days}天无人发言", "en": "no activity for {days} days"},
    "digest_more": {"zh": "· …另有{count}项", "en": "· … and {count} more"},
    "digest_quiet": {
        "zh": "其余{count}个群无违规、无待办：{groups}",
        "en": "{count} other group(s) with nothing to report: {groups}",
    },
    "digest_held": {
        "zh": "待阅上报{count}条（级别较低，未即时发送）：",
        "en": "{count} lower-severity report(s) held for this digest:",
    },
    "digest_held_line": {
        "zh": "· 案件#{case} {group} {member}：{categories}，{at}",
        "en": "· case #{case} {group} {member}: {categories}, {at}",
    },
    "digest_chart": {
        "zh": "附图：近7天每日违规数（{legend}）",
        "en": "Chart: violations per day, last 7 days ({legend})",
    },
    "digest_chart_other": {"zh": "其他{count}个群", "en": "{count} other group(s)"},
    "registry_entry": {
        "zh": "【群备案】{name}（{group}）\n群主：{owner}\n管理员：{admins}\n"
        "负责人：{responsible}\n用途：{purpose}\n备案日期：{date}\n登记人：{by}",
        "en": "[Group registration] {name} ({group})\nOwner: {owner}\nAdmins: {admins}\n"
        "Responsible: {responsible}\nPurpose: {purpose}\nRegistered on: {date}\nBy: {by}",
    },
    "export_sent": {
        "zh": "已导出{count}起案件（{scope}），见文件 {name}。",
        "en": "Exported {count} case(s) ({scope}); see the file {name}.",
    },
    "export_scope": {"zh": "{since}起，{group}", "en": "since {since}, {group}"},
    "export_all_groups": {"zh": "全部群", "en": "all groups"},
    "export_empty": {
        "zh": "没有符合条件的案件（{scope}）。",
        "en": "No cases match ({scope}).",
    },
    "export_no_files": {
        "zh": "本平台不能通过私聊发送文件。共{count}起案件（{scope}），"
        "请在服务器上导出：\n{command}",
        "en": "This platform cannot send files by private message. {count} case(s) ({scope}); "
        "export them on the server:\n{command}",
    },
    "export_failed": {
        "zh": "文件发送失败（{error}）。请稍后再试，或在服务器上导出：\n{command}",
        "en": "The file could not be sent ({error}). Try again later, or export on the "
        "server:\n{command}",
    },
}

# Human names for action kinds, used in digests.
_ACTION_NAMES: Mapping[str, Mapping[Language, str]] = {
    "delete": {"zh": "撤回", "en": "deleted"},
    "warn": {"zh": "警告", "en": "warned"},
    "remind": {"zh": "提醒", "en": "reminded"},
    "mute": {"zh": "禁言", "en": "muted"},
    "unmute": {"zh": "解除禁言", "en": "unmuted"},
    "kick": {"zh": "移出", "en": "removed"},
    "escalate": {"zh": "上报", "en": "reported"},
    "set_card": {"zh": "改名片", "en": "card set"},
    "approve_join": {"zh": "同意入群", "en": "join approved"},
    "reject_join": {"zh": "拒绝入群", "en": "join rejected"},
}


def action_name(kind: str, language: Language = "zh") -> str:
    """Readable name of an action kind; unknown kinds are shown as they are."""
    names = _ACTION_NAMES.get(kind)
    return names[language] if names else kind


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
    "roster": {"zh": "实名核验未通过", "en": "roster check"},
    "chatter": {"zh": "上班时间扎堆聊天", "en": "chatter in working hours"},
    "custom": {"zh": "本群自定义敏感词", "en": "group-specific banned words"},
}


# Names of the parts of a group-card format ({name}, {dept}, ...).
_CARD_FIELDS: Mapping[str, Mapping[Language, str]] = {
    "name": {"zh": "姓名", "en": "name"},
    "dept": {"zh": "部门", "en": "department"},
    "subject": {"zh": "学科", "en": "subject"},
    "child": {"zh": "学生姓名", "en": "student's name"},
    "relation": {"zh": "关系", "en": "relation"},
}


def card_field(name: str, language: Language = "zh") -> str:
    """Readable name of a card-format placeholder (``dept`` -> 部门)."""
    names = _CARD_FIELDS.get(name)
    return names[language] if names else name


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
