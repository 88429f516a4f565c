"""Every sentence the bot says to people, in one place, in Chinese and English.

A group's language is ``[moderation] language`` ("zh" default, or "en").
Templates use ``str.format`` fields; values are plain text (platform edges send
them as text segments, never as markup). Keep the Chinese short and polite:
it is read on phones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Literal

Language = Literal["zh", "en"]

_TEMPLATES: Mapping[str, Mapping[Language, str]] = {
    # The @-notices of the ladder's steps and reminders (rules/moderation/notices.py).
    "warn": {
        "zh": "请勿发布违规内容（{reason}），本条已处理。"
        "这是您第{count}次违规，请遵守群规。{case_ref}",
        "en": "Please do not post prohibited content ({reason}). This is violation {count}; "
        "please follow the group rules.{case_ref}",
    },
    "warn_muted": {
        "zh": "因发布违规内容（{reason}），已被禁言{duration}。这是您第{count}次违规。{case_ref}",
        "en": "Muted for {duration} for prohibited content ({reason}). "
        "This is violation {count}.{case_ref}",
    },
    "warn_kicked": {
        "zh": "因多次或严重违反群规（{reason}），已被移出本群，并已上报管理员。{case_ref}",
        "en": "Removed from the group for repeated or serious violations ({reason}); "
        "this has been reported.{case_ref}",
    },
    # appended to the notices above when the case is recorded (members appeal by its number)
    "case_ref": {
        "zh": "（案件 #{case}；如有异议，请私聊本机器人发送：/申诉 #{case} 理由）",
        "en": " (Case #{case}; to appeal, send me privately: /appeal #{case} reason)",
    },
    "remind": {
        "zh": "请按群规修改群名片（{detail}）。",
        "en": "Please change your group card to follow the group rules ({detail}).",
    },
    # Group cards (rules/detectors/nickname/cards.py): one sentence per wrong part.
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
    # Card-compliance timeline (rules/members/compliance.py).
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
    # Join screening (rules/members/joins.py): the reason given with the decision.
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
    # Group checks in the scheduled audit (rules/members/audit.py).
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
    # Roster checks (rules/detectors/nickname/roster.py, rules/detectors/nickname/detector.py).
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
    # The officer's report of a case (rules/moderation/notices.py), batched by the outbox.
    "report": {
        "zh": "【群卫士上报】案件 #{case_id}\n群：{group}\n成员：{member}\n"
        "违规：{findings}\n原文：{evidence}\n处理：{outcomes}\n时间：{time}",
        "en": "[GroupGuard report] case #{case_id}\nGroup: {group}\nMember: {member}\n"
        "Found: {findings}\nText: {evidence}\nAction: {outcomes}\nTime: {time}",
    },
    # First line of a report the recovery released (rules/moderation/recovery.py): the bot
    # stopped or crashed mid-case; what it could check after the restart is recorded as such.
    "report_restarted": {
        "zh": "【注意】群卫士在处理本案件时重启，以下处理结果为重启后核实所得"
        "（unknown 表示无法确认是否已执行）。",
        "en": "[Note] GroupGuard restarted while handling this case; the actions below were "
        "checked after the restart (unknown: it could not be told whether it happened).",
    },
    "report_batch": {
        "zh": "【群卫士】共{count}条上报：",
        "en": "[GroupGuard] {count} reports:",
    },
    # A case held for review (rules/moderation/review.py): weak evidence waits for a person.
    "review_item": {
        "zh": "【群卫士·待核实】案件 #{case_id}\n群：{group}\n成员：{member}\n"
        "命中：{findings}\n原文：{evidence}\n{message}未记违规，未公开警告。\n"
        "处理：回复 /确认 #{case_id}（属实，按群规处理）或 /误判 #{case_id}"
        "（作废；/误判 #{case_id} 加白 同时放行同样的文字）",
        "en": "[GroupGuard review] case #{case_id}\nGroup: {group}\nMember: {member}\n"
        "Found: {findings}\nText: {evidence}\n{message}No strike and no public warning yet.\n"
        "Answer /confirm #{case_id} (a violation: apply the rules) or /falsepositive "
        "#{case_id} (void it; /falsepositive #{case_id} allow also lets the same text pass)",
    },
    "review_kept": {"zh": "消息未撤回。", "en": "The message was left up. "},
    "review_deleted": {"zh": "消息已撤回。", "en": "The message was deleted. "},
    "review_not_deleted": {
        "zh": "消息撤回失败（{detail}）。",
        "en": "The message could not be deleted ({detail}). ",
    },
    "review_finding": {
        "zh": "「{match}」{category}（{how}，证据{strength}）",
        "en": '"{match}" {category} ({how}, {strength} evidence)',
    },
    # How a finding matched (rules.core.model.MatchKind) and how strong it is (Strength).
    "how_direct": {"zh": "原文", "en": "as written"},
    "how_folded": {"zh": "变形", "en": "folded"},
    "how_lookalike": {"zh": "形近字母", "en": "look-alike letters"},
    "how_mixed": {"zh": "拼音混写", "en": "mixed pinyin"},
    "how_pinyin": {"zh": "拼音", "en": "pinyin"},
    "how_homophone": {"zh": "谐音", "en": "sound-alike"},
    "how_image": {"zh": "图片", "en": "picture"},
    "strength_strong": {"zh": "强", "en": "strong"},
    "strength_medium": {"zh": "中", "en": "medium"},
    "strength_weak": {"zh": "弱", "en": "weak"},
    # ---- Officers: daily digest (rules/officers/digest.py), registry, exports ------------------
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
    "digest_reviews_total": {
        "zh": "待核实{count}件（证据较弱，未记违规）",
        "en": "{count} held for review (weak evidence, no strike yet)",
    },
    "digest_reviews": {
        "zh": "待核实{count}件（回复 /确认 #案件号 或 /误判 #案件号）：",
        "en": "{count} held for review (answer /confirm #case or /falsepositive #case):",
    },
    "digest_review_line": {
        "zh": "· 案件#{case} {member}：{findings}，{at}",
        "en": "· case #{case} {member}: {findings}, {at}",
    },
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
    # ---- Across groups (rules/protection/reports.py): bans, clean-up, raids, cards ------------
    "ban_report": {
        "zh": "【群卫士封禁】{name}（{accounts}）已列入封禁名单 #{ban}\n原因：{reason}{case}\n"
        "来源：{origin}，{by}，{time}",
        "en": "[GroupGuard ban] {name} ({accounts}) is on the ban list as #{ban}\n"
        "Reason: {reason}{case}\nFrom: {origin}, {by}, {time}",
    },
    "ban_case": {"zh": "（案件 #{case}）", "en": " (case #{case})"},
    "ban_by_bot": {"zh": "违规自动封禁", "en": "banned by the bot"},
    "ban_by_officer": {"zh": "由 {officer} 封禁", "en": "banned by {officer}"},
    "ban_origin_none": {"zh": "私聊命令", "en": "private command"},
    "sweep_header": {"zh": "其他群清理结果：", "en": "Other groups:"},
    "sweep_removed": {"zh": "· {group}：已移出 {member}", "en": "· {group}: removed {member}"},
    "sweep_failed": {
        "zh": "· {group}：移出 {member} 失败（{detail}），请人工处理",
        "en": "· {group}: removing {member} failed ({detail}); please act by hand",
    },
    "sweep_exempt": {
        "zh": "· {group}：{member} 是{detail}，未处理",
        "en": "· {group}: {member} is {detail}; left alone",
    },
    "sweep_cannot": {
        "zh": "· {group}：机器人无权移出 {member}，请人工处理",
        "en": "· {group}: the bot cannot remove {member} there; please act by hand",
    },
    "sweep_dry_run": {
        "zh": "· {group}：试运行，未移出 {member}",
        "en": "· {group}: dry run, {member} not removed",
    },
    "sweep_none": {"zh": "其他群中未发现该成员。", "en": "Not found in any other group."},
    "sweep_summary": {
        "zh": "共检查{checked}个群，移出{removed}处，用时{seconds}秒。",
        "en": "{checked} group(s) checked, {removed} removal(s), {seconds} s.",
    },
    "sweep_opted_out": {
        "zh": "{count}个群未参与联合封禁，未检查。",
        "en": "{count} group(s) opted out of shared bans; not checked.",
    },
    "sweep_unreadable": {
        "zh": "无法读取成员列表的群：{groups}",
        "en": "Member lists unavailable: {groups}",
    },
    "sweep_unswept": {
        "zh": "{platforms} 当前无法检查（未连接）。",
        "en": "{platforms}: not checked (not connected).",
    },
    "ban_join_refused": {
        "zh": "【群卫士封禁】{member} 申请加入 {group}，该账号在封禁名单中（#{ban}：{reason}），"
        "{outcome}",
        "en": "[GroupGuard ban] {member} asked to join {group} and is on the ban list "
        "(#{ban}: {reason}); {outcome}",
    },
    "ban_join_removed": {
        "zh": "【群卫士封禁】封禁名单中的 {member} 加入了 {group}（#{ban}：{reason}），{outcome}",
        "en": "[GroupGuard ban] {member}, on the ban list (#{ban}: {reason}), joined {group}; "
        "{outcome}",
    },
    "ban_join_reason": {"zh": "已被列入封禁名单", "en": "on the ban list"},
    "outcome_done": {"zh": "已{action}。", "en": "{action}."},
    "outcome_not_done": {
        "zh": "{action}未成功（{detail}），请人工处理。",
        "en": "not {action} ({detail}); please act by hand.",
    },
    "cleanup_done": {
        "zh": "已撤回 {member} 在 {group} 最近{window}内的{count}条消息。",
        "en": "Recalled {count} message(s) {member} posted in {group} in the last {window}.",
    },
    "cleanup_partly": {
        "zh": "撤回 {member} 在 {group} 最近{window}内的消息：成功{done}条，失败{failed}条。",
        "en": "Recalling {member}'s messages in {group} (last {window}): {done} done, "
        "{failed} failed.",
    },
    "cleanup_cannot": {
        "zh": "{platform}不能撤回他人的消息：{member} 在 {group} 最近{window}内的{count}条消息"
        "未撤回，请人工处理。",
        "en": "{platform} cannot recall other people's messages: {count} message(s) {member} "
        "posted in {group} in the last {window} are still there; please remove them by hand.",
    },
    "cleanup_report": {
        "zh": "【群卫士清理】案件 #{case}\n{lines}",
        "en": "[GroupGuard clean-up] case #{case}\n{lines}",
    },
    "raid_alert": {
        "zh": "【群卫士警报】{group} 疑似遭遇批量入群攻击：{trigger}。\n已采取：{measures}\n"
        "将于 {until} 自动解除。\n涉及账号（{count}）：{accounts}",
        "en": "[GroupGuard alert] {group} looks raided: {trigger}.\nMeasures: {measures}\n"
        "Lifted automatically at {until}.\nAccounts ({count}): {accounts}",
    },
    "raid_trigger_joins": {
        "zh": "{window}内{count}人入群",
        "en": "{count} joins within {window}",
    },
    "raid_trigger_posts": {
        "zh": "{window}内{count}名新成员发布链接、图片或相同内容",
        "en": "{count} new members posting links, pictures or the same text within {window}",
    },
    "raid_mute_all": {"zh": "全员禁言", "en": "whole group muted"},
    "raid_mute_all_failed": {
        "zh": "全员禁言失败（{detail}）",
        "en": "muting the whole group failed ({detail})",
    },
    "raid_mute_all_unsupported": {
        "zh": "本平台不能全员禁言",
        "en": "this platform cannot mute a whole group",
    },
    "raid_refuse_joins": {
        "zh": "拒绝名单外人员的入群申请",
        "en": "join requests from people not on the roster refused",
    },
    "raid_accounts_muted": {"zh": "禁言新账号{count}个", "en": "{count} new account(s) muted"},
    "raid_accounts_removed": {
        "zh": "移出新账号{count}个",
        "en": "{count} new account(s) removed",
    },
    "raid_accounts_failed": {
        "zh": "{count}个账号处理失败",
        "en": "{count} account action(s) failed",
    },
    "raid_none": {"zh": "仅报告", "en": "reported only"},
    "raid_lifted": {
        "zh": "【群卫士】{group} 的入群攻击防护已解除（{started} 至 {ended}）。\n解除：{measures}\n"
        "期间涉及账号（{count}）：{accounts}",
        "en": "[GroupGuard] Raid mode in {group} lifted ({started} to {ended}).\n"
        "Lifted: {measures}\nAccounts ({count}): {accounts}",
    },
    "raid_lift_unmute_all": {"zh": "全员禁言", "en": "the group's mute"},
    "raid_lift_unmuted": {"zh": "{count}个账号的禁言", "en": "{count} account mute(s)"},
    "raid_lift_nothing": {"zh": "无需解除的措施", "en": "nothing to undo"},
    "raid_join_refused": {
        "zh": "入群攻击防护期间，不接受名单外人员入群",
        "en": "no unknown applicants while the group is under a raid",
    },
    "impersonation_report": {
        "zh": "【群卫士提醒】{group} 中 {member} 将群名片由「{old}」改为「{new}」，"
        "与{whom}相同，疑似冒名，请核实。",
        "en": '[GroupGuard notice] In {group}, {member} changed their card from "{old}" to '
        '"{new}", the same as {whom}: possible impersonation, please check.',
    },
    "impersonation_member": {
        "zh": "成员 {member} 的群名片",
        "en": "the card of member {member}",
    },
    "impersonation_roster": {
        "zh": "名册人员「{name}」的姓名",
        "en": 'the name of roster person "{name}"',
    },
}

# Slash commands (rules/commands): replies, refusals, usage lines and /help.
# "{cmd}" in usage lines is the command's name in the reply language.
_COMMAND_TEXTS: Mapping[str, Mapping[Language, str]] = {
    # --- /help
    "help_header": {"zh": "群卫士命令（中英文命令名均可）：", "en": "GroupGuard commands:"},
    "help_private_note": {
        "zh": "私聊使用时，请在命令后先写群号，例如：/禁言 123456 张三 10分钟 刷屏",
        "en": "By private message, put the group id first, e.g. /mute 123456 Alice 10m spam",
    },
    "help_line": {"zh": "/{name} {usage} — {summary}", "en": "/{name} {usage} - {summary}"},
    # --- usage and summary of each command ("usage_X", "summary_X")
    "usage_help": {"zh": "", "en": ""},
    "summary_help": {"zh": "查看可用命令", "en": "list the commands you may use"},
    "usage_warn": {"zh": "@成员 [原因]", "en": "@member [reason]"},
    "summary_warn": {"zh": "警告成员并记一次违规", "en": "warn a member and record a strike"},
    "usage_mute": {"zh": "@成员 时长 [原因]", "en": "@member duration [reason]"},
    "summary_mute": {
        "zh": "禁言（时长如 10分钟、2小时、1天、30s）",
        "en": "mute (duration e.g. 30s, 10m, 2h, 1d)",
    },
    "usage_unmute": {"zh": "@成员", "en": "@member"},
    "summary_unmute": {"zh": "解除禁言", "en": "lift a mute"},
    "usage_kick": {"zh": "@成员 [原因]", "en": "@member [reason]"},
    "summary_kick": {"zh": "移出本群", "en": "remove from the group"},
    "usage_pardon": {"zh": "@成员 | #案件号", "en": "@member | #case"},
    "summary_pardon": {
        "zh": "赦免：清除成员的违规记录，或撤销一个案件",
        "en": "clear a member's strikes, or void a case",
    },
    "usage_uphold": {"zh": "#案件号 [说明]", "en": "#case [note]"},
    "summary_uphold": {
        "zh": "维持案件处理（驳回申诉）",
        "en": "uphold a case (reject the appeal)",
    },
    "usage_strikes": {"zh": "@成员", "en": "@member"},
    "summary_strikes": {"zh": "查看成员的违规记录", "en": "show a member's strikes and cases"},
    "usage_audit": {"zh": "", "en": ""},
    "summary_audit": {"zh": "立即检查全体成员的群名片", "en": "check every member's card now"},
    "usage_words": {
        "zh": "add 类别 词… | del 词… | list",
        "en": "add CATEGORY WORD... | del WORD... | list",
    },
    "summary_words": {"zh": "本群自定义敏感词", "en": "this group's banned words"},
    "usage_allow": {"zh": "add 词… | del 词… | list", "en": "add WORD... | del WORD... | list"},
    "summary_allow": {"zh": "本群白名单（不算违规的词）", "en": "this group's allowed words"},
    "usage_blockimage": {"zh": "[类别]（回复要拉黑的图片）", "en": "[CATEGORY] (replying to it)"},
    "summary_blockimage": {
        "zh": "拉黑一张图片：相同或相似的图片再发即按违规处理（所有群）",
        "en": "blocklist a picture: it and near copies count as violations (every group)",
    },
    "usage_unblockimage": {"zh": "（回复该图片）", "en": "(replying to the picture)"},
    "summary_unblockimage": {"zh": "解除拉黑图片", "en": "take a picture off the blocklist"},
    "usage_config": {
        "zh": "show [设置项] | set 设置项 值 | unset 设置项",
        "en": "show [KEY] | set KEY VALUE | unset KEY",
    },
    "summary_config": {
        "zh": "查看或修改本群设置，如 set flood.repeat 4",
        "en": "show or change this group's settings, e.g. set flood.repeat 4",
    },
    "usage_dryrun": {"zh": "on | off（开启/关闭）", "en": "on | off"},
    "summary_dryrun": {
        "zh": "试运行：只记录不处理",
        "en": "dry run: record decisions, act on nothing",
    },
    "usage_stats": {"zh": "[天数，如 7d]", "en": "[period, e.g. 7d]"},
    "summary_stats": {"zh": "违规统计", "en": "violation statistics"},
    "usage_register": {
        "zh": "[show] | set 群主=张三 负责人=李四 管理员=王五,赵六 用途=教学通知 | del",
        "en": "[show] | set owner=... responsible=... admins=a,b purpose=... | del",
    },
    "summary_register": {
        "zh": "查看或登记本群备案信息",
        "en": "show or record this group's registration",
    },
    "usage_groups": {"zh": "", "en": ""},
    "summary_groups": {
        "zh": "机器人所在的群及未备案的群",
        "en": "the groups the bot is in, and those not registered",
    },
    "usage_export": {
        "zh": "[群号] [7d 或 2026-11-01] [xlsx|csv]",
        "en": "[GROUP] [7d or 2026-11-01] [xlsx|csv]",
    },
    "summary_export": {
        "zh": "导出案件记录（文件私聊发送）",
        "en": "export the case records (sent as a file)",
    },
    "usage_report": {
        "zh": "[原因]（回复要举报的消息）",
        "en": "[reason] (as a reply to the message)",
    },
    "summary_report": {"zh": "向负责人举报一条消息", "en": "report a message to the officer"},
    "usage_appeal": {"zh": "#案件号 理由", "en": "#case reason"},
    "summary_appeal": {
        "zh": "对自己的处理提出申诉（私聊机器人）",
        "en": "appeal a decision about you (private message)",
    },
    "usage_console": {"zh": "", "en": ""},
    "summary_console": {
        "zh": "管理后台的一次性登录链接（负责人、群主、管理员）",
        "en": "a one-time sign-in link to the web console (officers, owners, admins)",
    },
    "usage_confirm": {"zh": "#案件号", "en": "#case"},
    "summary_confirm": {
        "zh": "待核实的案件属实：按群规处理（记违规、警告）",
        "en": "a case held for review is a violation: apply the rules (strike, warning)",
    },
    "usage_falsepositive": {"zh": "#案件号 [加白]", "en": "#case [allow]"},
    "summary_falsepositive": {
        "zh": "待核实的案件是误判：作废（加白：同时放行同样的文字）",
        "en": "a case held for review is a false positive: void it (allow: let the text pass)",
    },
    # --- refusals and errors (one line, then the usage)
    "cmd_usage": {"zh": "用法：/{name} {usage}", "en": "Usage: /{name} {usage}"},
    "group_arg": {"zh": "群号", "en": "GROUP"},
    # By private message there is no @: a member is named by id or card.
    "member_arg": {"zh": "@成员", "en": "@member"},
    "member_arg_private": {"zh": "成员(QQ号/群名片)", "en": "member(id/card)"},
    "cmd_refused": {
        "zh": "抱歉，只有本群群主、管理员或负责人可以使用 /{name}。",
        "en": "Sorry, only this group's owner, admins or officers may use /{name}.",
    },
    "cmd_refused_private": {
        "zh": "抱歉，您不是该群的负责人，不能私聊管理该群。",
        "en": "Sorry, you are not an officer of that group.",
    },
    "cmd_group_only": {
        "zh": "/{name} 只能在群里使用。",
        "en": "/{name} can only be used in a group.",
    },
    "cmd_private_only": {
        "zh": "/{name} 请私聊机器人使用。",
        "en": "/{name} must be sent to the bot by private message.",
    },
    "cmd_restricted_key": {
        "zh": "设置项 {setting} 只有负责人可以修改。",
        "en": "Only an officer may change {setting}.",
    },
    "cmd_protected": {
        "zh": "不能对群主、管理员、负责人或机器人本身执行此操作。",
        "en": "Owners, admins, officers and the bot itself cannot be targeted.",
    },
    "cmd_need_member": {
        "zh": "请 @ 要处理的成员（或写QQ号/群名片）。",
        "en": "Name a member (@, id or card).",
    },
    "cmd_need_group": {
        "zh": "请先写群号，例如 /{name} 123456 …",
        "en": "Put the group id first, e.g. /{name} 123456 ...",
    },
    "cmd_unknown_member": {
        "zh": "找不到成员「{who}」。",
        "en": 'No member "{who}" in this group.',
    },
    "cmd_ambiguous_member": {
        "zh": "「{who}」对应{count}位成员，请 @ 对方或写QQ号。",
        "en": '"{who}" matches {count} members; @ them or use their id.',
    },
    "cmd_bad_duration": {
        "zh": "时长「{value}」看不懂，请写如 30s、10分钟、2小时、1天。",
        "en": 'Cannot read the duration "{value}"; use e.g. 30s, 10m, 2h, 1d.',
    },
    "cmd_mute_range": {
        "zh": "禁言时长须在1分钟到30天之间。",
        "en": "A mute must last between 1 minute and 30 days.",
    },
    "cmd_need_case": {"zh": "请写案件号，例如 #12。", "en": "Give a case number, e.g. #12."},
    "cmd_unknown_case": {"zh": "没有案件 #{case_id}。", "en": "There is no case #{case_id}."},
    "cmd_need_reason": {"zh": "请写明理由。", "en": "Please give a reason."},
    "cmd_cannot": {
        "zh": "机器人在本群没有权限执行「{what}」（需要设为管理员）。",
        "en": "The bot cannot {what} in this group (it needs admin rights).",
    },
    "cmd_failed": {"zh": "{what}失败：{detail}", "en": "Could not {what}: {detail}"},
    "cmd_busy": {"zh": "操作过于频繁，请稍后再试。", "en": "Too many requests; try again later."},
    "cmd_error": {
        "zh": "命令执行出错，已记录，请稍后再试。",
        "en": "The command failed; it has been logged. Please try again later.",
    },
    # --- action verbs for the messages above
    "verb_warn": {"zh": "警告", "en": "warn"},
    "verb_mute": {"zh": "禁言", "en": "mute"},
    "verb_unmute": {"zh": "解除禁言", "en": "unmute"},
    "verb_kick": {"zh": "移出", "en": "remove"},
    "verb_mute_all": {"zh": "全员禁言", "en": "mute the whole group"},
    "verb_unmute_all": {"zh": "解除全员禁言", "en": "unmute the whole group"},
    # --- results
    "cmd_warn_notice": {
        "zh": "管理员提醒：{reason}。请遵守群规。",
        "en": "A reminder from the admins: {reason}. Please follow the group rules.",
    },
    "cmd_warned": {
        "zh": "已警告 {who}（案件 #{case_id}）。",
        "en": "Warned {who} (case #{case_id}).",
    },
    "cmd_muted": {
        "zh": "已禁言 {who} {duration}{reason}（案件 #{case_id}）。",
        "en": "Muted {who} for {duration}{reason} (case #{case_id}).",
    },
    "cmd_unmuted": {"zh": "已解除 {who} 的禁言。", "en": "Lifted the mute on {who}."},
    "cmd_kicked": {
        "zh": "已将 {who} 移出本群{reason}（案件 #{case_id}）。",
        "en": "Removed {who} from the group{reason} (case #{case_id}).",
    },
    "cmd_reason": {"zh": "，原因：{reason}", "en": ", reason: {reason}"},
    "cmd_no_reason": {"zh": "管理员处理", "en": "admin action"},
    "cmd_pardoned_member": {
        "zh": "已清除 {who} 的全部违规记录（共{weight}次）。",
        "en": "Cleared {who}'s strikes (total {weight}).",
    },
    "cmd_pardoned_case": {
        "zh": "已赦免案件 #{case_id}，其违规记录已撤销。",
        "en": "Case #{case_id} pardoned; its strikes are void.",
    },
    "cmd_upheld_case": {"zh": "已维持案件 #{case_id}。", "en": "Case #{case_id} upheld."},
    "cmd_strikes": {
        "zh": "{who}：有效违规记录{weight}次（{days}天内）。",
        "en": "{who}: {weight} strike(s) in the last {days} days.",
    },
    "cmd_strikes_case": {
        "zh": "#{case_id} {date} {categories}（{status}）",
        "en": "#{case_id} {date} {categories} ({status})",
    },
    "cmd_no_cases": {"zh": "没有案件记录。", "en": "No cases."},
    "case_status_open": {"zh": "已处理", "en": "open"},
    "case_status_upheld": {"zh": "维持", "en": "upheld"},
    "case_status_pardoned": {"zh": "已赦免", "en": "pardoned"},
    "cmd_audit_done": {
        "zh": "名片检查完成：共{checked}人，不规范{flagged}人，"
        "已提醒{reminded}人，已处理{acted}人。",
        "en": "Card check done: {checked} checked, {flagged} not compliant, "
        "{reminded} reminded, {acted} acted on.",
    },
    "cmd_words_added": {"zh": "已添加：{words}", "en": "Added: {words}"},
    "cmd_words_removed": {"zh": "已删除：{words}", "en": "Removed: {words}"},
    "cmd_words_unchanged": {"zh": "无变化：{words}", "en": "Unchanged: {words}"},
    "cmd_words_list": {
        "zh": "本群自定义词（{count}个）：{words}",
        "en": "Custom words ({count}): {words}",
    },
    "cmd_words_category": {
        "zh": "没有类别「{category}」，可用：{categories}",
        "en": 'No category "{category}"; use one of: {categories}',
    },
    "cmd_words_bad": {"zh": "无法添加「{word}」：{why}", "en": 'Cannot add "{word}": {why}'},
    "cmd_blockimage_need_reply": {
        "zh": "请回复一条带图片或表情的消息再使用此命令。",
        "en": "Reply to a message with a picture or sticker to use this command.",
    },
    "cmd_blockimage_off": {
        "zh": "图片检查未启用（[images]），无法拉黑图片。",
        "en": "Pictures are not checked here ([images]); nothing to blocklist.",
    },
    "cmd_blockimage_no_fetch": {
        "zh": "此平台取不到被回复的图片。",
        "en": "This platform cannot fetch the quoted picture.",
    },
    "cmd_blockimage_failed": {"zh": "图片处理失败：{why}", "en": "Picture not processed: {why}"},
    "cmd_blockimage_added": {
        "zh": "已拉黑{count}张图片（{category}）：之后相同或相似的图片将按违规处理。",
        "en": "Blocklisted {count} picture(s) ({category}): they and near copies now count "
        "as violations.",
    },
    "cmd_unblockimage_removed": {
        "zh": "已解除{count}条图片拉黑记录。",
        "en": "Took {count} entr(ies) off the picture blocklist.",
    },
    "cmd_unblockimage_none": {
        "zh": "这张图片不在拉黑名单中。",
        "en": "That picture is not on the blocklist.",
    },
    "cmd_config_value": {"zh": "{setting} = {value}{source}", "en": "{setting} = {value}{source}"},
    "cmd_config_from_command": {"zh": "（命令设置）", "en": " (set by command)"},
    "cmd_config_from_file": {"zh": "（配置文件）", "en": " (config file)"},
    "cmd_config_none": {
        "zh": "本群没有单独设置，使用全局配置。",
        "en": "This group uses the global settings.",
    },
    "cmd_config_set": {"zh": "已设置 {setting} = {value}", "en": "Set {setting} = {value}"},
    "cmd_config_unset": {
        "zh": "已恢复 {setting} 的默认值",
        "en": "{setting} is back to its default",
    },
    "cmd_config_unknown": {"zh": "没有设置项 {setting}。", "en": "There is no setting {setting}."},
    "cmd_config_not_set": {
        "zh": "设置项 {setting} 没有用命令设置过，无需恢复。",
        "en": "{setting} was not set by command; nothing to undo.",
    },
    "cmd_config_invalid": {"zh": "设置无效：{problem}", "en": "Invalid setting: {problem}"},
    "cmd_dryrun_on": {
        "zh": "本群已开启试运行：只记录，不删除、不禁言、不踢人。",
        "en": "Dry run on: decisions are recorded, nothing is done.",
    },
    "cmd_dryrun_off": {
        "zh": "本群已关闭试运行，恢复正常处理。",
        "en": "Dry run off: acting again.",
    },
    "cmd_reported": {
        "zh": "已收到您的举报，已转交负责人处理，谢谢。",
        "en": "Thank you; your report has been passed to the officer.",
    },
    "cmd_no_officer": {
        "zh": "本群未设置负责人，请直接联系群主。",
        "en": "No officer is set for this group; please contact the owner.",
    },
    "cmd_need_reply": {
        "zh": "请回复要举报的消息再发 /举报，或 @ 被举报的成员。",
        "en": "Reply to the message you report, or @ the member.",
    },
    "cmd_appealed": {
        "zh": "申诉已提交（案件 #{case_id}），处理结果会私信告知您。",
        "en": "Appeal filed (case #{case_id}); you will be told the outcome.",
    },
    "cmd_appeal_not_yours": {
        "zh": "只能对自己的案件提出申诉。",
        "en": "You can only appeal your own cases.",
    },
    "cmd_appeal_pending": {
        "zh": "案件 #{case_id} 已在申诉处理中。",
        "en": "Case #{case_id} already has an appeal pending.",
    },
    "cmd_appeal_closed": {
        "zh": "案件 #{case_id} 已有处理结果（{status}），不能再申诉。",
        "en": "Case #{case_id} is already decided ({status}).",
    },
    # --- what officers and members receive by private message
    "task_report": {
        "zh": "【群卫士·成员举报】任务 #{task_id}\n群：{group}\n举报人：{requester}\n"
        "被举报：{subject}\n消息：{evidence}\n理由：{reason}\n系统检测：{findings}",
        "en": "[GroupGuard member report] task #{task_id}\nGroup: {group}\nBy: {requester}\n"
        "About: {subject}\nMessage: {evidence}\nReason: {reason}\nDetected: {findings}",
    },
    "task_appeal": {
        "zh": "【群卫士·申诉】案件 #{case_id}\n群：{group}\n申诉人：{requester}\n"
        "原处理：{categories}\n原文：{evidence}\n理由：{reason}\n"
        "处理：回复 /赦免 #{case_id} 或 /维持 #{case_id}",
        "en": "[GroupGuard appeal] case #{case_id}\nGroup: {group}\nBy: {requester}\n"
        "Decision: {categories}\nText: {evidence}\nReason: {reason}\n"
        "Answer with /pardon #{case_id} or /uphold #{case_id}",
    },
    "appeal_pardoned": {
        "zh": "您对案件 #{case_id} 的申诉已通过，相关违规记录已撤销。",
        "en": "Your appeal on case #{case_id} succeeded; its strikes are void.",
    },
    # --- the review queue (rules/commands/review.py)
    "cmd_review_none": {
        "zh": "案件 #{case_id} 不在待核实队列中。",
        "en": "Case #{case_id} is not held for review.",
    },
    "cmd_review_decided": {
        "zh": "案件 #{case_id} 已核实过（{status}）。",
        "en": "Case #{case_id} was already decided ({status}).",
    },
    "cmd_review_confirmed": {
        "zh": "已确认案件 #{case_id}，已按群规处理：{actions}。",
        "en": "Case #{case_id} confirmed; the rules applied: {actions}.",
    },
    "cmd_review_voided": {
        "zh": "已将案件 #{case_id} 作废（误判），不记违规。",
        "en": "Case #{case_id} voided as a false positive; no strike.",
    },
    "cmd_review_offer_allow": {
        "zh": "如需本群今后放行同样的文字，请发送：/误判 #{case_id} 加白"
        "（将把「{words}」加入本群白名单）",
        "en": "To let the same text pass in this group from now on, send: "
        '/falsepositive #{case_id} allow (adds "{words}" to this group\'s allow-list)',
    },
    "cmd_review_allowed": {
        "zh": "已将「{words}」加入本群白名单，同样的文字今后不再拦截。",
        "en": 'Added "{words}" to this group\'s allow-list; the same text passes from now on.',
    },
    "cmd_review_nothing_to_allow": {
        "zh": "案件 #{case_id} 命中的是敏感词本身或图片，加白会放行本群所有同样的内容，"
        "因此不自动加白；确需放行请用 /白名单 add 词。",
        "en": "Case #{case_id} matched the banned term itself or a picture; allow-listing it "
        "would let every such message pass in this group, so it is not done here "
        "(use /allow add word if you really mean it).",
    },
    "cmd_review_not_done": {"zh": "；未成功：{actions}", "en": "; not done: {actions}"},
    "cmd_review_no_words": {
        "zh": "本机器人未启用敏感词检测，无法加白。",
        "en": "The word filter is not running; nothing can be allow-listed.",
    },
    "review_status_upheld": {"zh": "已确认属实", "en": "confirmed"},
    "review_status_pardoned": {"zh": "已判为误判", "en": "false positive"},
    "appeal_upheld": {
        "zh": "您对案件 #{case_id} 的申诉未通过，原处理维持。{note}",
        "en": "Your appeal on case #{case_id} was not upheld; the decision stands. {note}",
    },
    "none": {"zh": "无", "en": "none"},
    "cmd_register_none": {
        "zh": "本群尚未备案。用法：/备案 set 群主=张三 负责人=李四 用途=教学通知",
        "en": "This group is not registered. Use: /register set owner=... responsible=...",
    },
    "cmd_register_done": {"zh": "已更新本群备案：", "en": "Registration updated:"},
    "cmd_register_removed": {"zh": "已删除本群备案。", "en": "Registration removed."},
    "cmd_register_config": {
        "zh": "注意：配置文件中也登记了本群，重启后以配置文件为准。",
        "en": "Note: the config file registers this group too; it wins at the next restart.",
    },
    "cmd_register_bad": {"zh": "备案信息有误：{problem}", "en": "Cannot register: {problem}"},
    "cmd_groups": {
        "zh": "机器人所在群共{total}个，已备案{registered}个，未备案{count}个{colon}{groups}",
        "en": "The bot is in {total} group(s): {registered} registered, {count} not{colon}{groups}",
    },
    "cmd_groups_unreachable": {
        "zh": "{platform} 的群列表暂时无法获取。",
        "en": "The {platform} group list is unavailable right now.",
    },
    "cmd_export_need_group": {
        "zh": "请写要导出的群号（您只负责部分群）。",
        "en": "Name the group to export (you oversee only some groups).",
    },
    "cmd_console_link": {
        "zh": "管理后台登录链接，{valid}内有效，仅可使用一次，请勿转发：\n{url}",
        "en": (
            "Your console sign-in link, valid for {valid}, usable once; do not forward it:\n{url}"
        ),
    },
    "cmd_console_none": {
        "zh": "您不是任何群的负责人、群主或管理员，无法进入管理后台。",
        "en": "You oversee no group, so the console has nothing for you.",
    },
    "cmd_console_off": {
        "zh": "管理后台未开启（配置文件 [console] enabled）。",
        "en": "The web console is not enabled ([console] enabled in the config).",
    },
    "cmd_bad_since": {
        "zh": "「{value}」不是时长或日期，请写如 7d、30天 或 2026-11-01。",
        "en": '"{value}" is not a period or a date; use e.g. 7d or 2026-11-01.',
    },
    "cmd_unsupported": {
        "zh": "该平台不支持「{what}」。",
        "en": "This platform cannot {what}.",
    },
    "cmd_stats": {
        "zh": "近{period}：共{cases}个案件。\n类别：{categories}\n处理：{actions}",
        "en": "Last {period}: {cases} case(s).\nCategories: {categories}\nActions: {actions}",
    },
    "action_failed": {"zh": "失败", "en": "failed"},
    # --- across groups (rules/commands/protection.py)
    "usage_bans": {"zh": "[all（含已解除）]", "en": "[all (lifted too)]"},
    "summary_bans": {"zh": "封禁名单", "en": "the organisation's ban list"},
    "usage_unban": {"zh": "成员(QQ号/微信号/#封禁号)", "en": "member(id/#ban)"},
    "summary_unban": {"zh": "解除封禁（各群生效）", "en": "lift a ban everywhere"},
    "usage_ban": {"zh": "@成员 原因", "en": "@member reason"},
    "summary_ban": {
        "zh": "封禁成员：移出各群并拒绝其入群",
        "en": "ban a member: removed from every group, refused when applying",
    },
    "usage_muteall": {"zh": "on | off（开启/关闭）", "en": "on | off"},
    "summary_muteall": {"zh": "全员禁言", "en": "mute or unmute the whole group"},
    "usage_cardhistory": {"zh": "@成员", "en": "@member"},
    "summary_cardhistory": {"zh": "成员的群名片变更记录", "en": "a member's group-card history"},
    "cmd_bans_header": {"zh": "封禁名单（{count}）：", "en": "Ban list ({count}):"},
    "cmd_bans_line": {
        "zh": "#{id} {name}（{accounts}）：{reason}；{by}，{time}{case}{lifted}",
        "en": "#{id} {name} ({accounts}): {reason}; {by}, {time}{case}{lifted}",
    },
    "cmd_bans_lifted": {"zh": "；{by} 于 {time} 解除", "en": "; lifted by {by} at {time}"},
    "cmd_bans_empty": {"zh": "封禁名单为空。", "en": "The ban list is empty."},
    "cmd_unban_done": {
        "zh": "已解除 {name}（{accounts}）的封禁 #{id}，各群不再拒绝其入群。",
        "en": "Ban #{id} of {name} ({accounts}) lifted everywhere.",
    },
    "cmd_unban_none": {"zh": "{who} 不在封禁名单中。", "en": "{who} is not on the ban list."},
    "cmd_ban_done": {
        "zh": "已将 {name}（{accounts}）列入封禁名单 #{id}：{reason}。"
        "正在清理其他群，结果将私聊负责人。",
        "en": "{name} ({accounts}) is on the ban list as #{id}: {reason}. Sweeping the other "
        "groups; the officers get the result.",
    },
    "cmd_ban_exists": {
        "zh": "{who} 已在封禁名单中（#{id}）。",
        "en": "{who} is already on the ban list (#{id}).",
    },
    "cmd_ban_need_reason": {"zh": "请写封禁原因。", "en": "Give a reason for the ban."},
    "cmd_ban_protected": {
        "zh": "不能封禁 {who}：{why}。",
        "en": "{who} cannot be banned: {why}.",
    },
    "cmd_muteall_on": {"zh": "已开启全员禁言。", "en": "The whole group is muted."},
    "cmd_muteall_off": {"zh": "已解除全员禁言。", "en": "The whole group is unmuted."},
    "cmd_muteall_failed": {"zh": "操作失败：{detail}", "en": "That failed: {detail}"},
    "cmd_cardhistory_header": {"zh": "{who} 的群名片记录：", "en": "Card history of {who}:"},
    "cmd_cardhistory_line": {
        "zh": "{time}：「{old}」→「{new}」（{source}）",
        "en": '{time}: "{old}" -> "{new}" ({source})',
    },
    "cmd_cardhistory_empty": {
        "zh": "没有 {who} 的群名片变更记录。",
        "en": "No card changes recorded for {who}.",
    },
    "card_source_notice": {"zh": "改名通知", "en": "card notice"},
    "card_source_message": {"zh": "发言时发现", "en": "seen on a message"},
    "card_source_audit": {"zh": "定期检查", "en": "audit"},
    "card_source_join": {"zh": "入群", "en": "joined"},
    "card_empty_shown": {"zh": "（空）", "en": "(empty)"},
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
    "mute_all": {"zh": "全员禁言", "en": "group muted"},
    "unmute_all": {"zh": "解除全员禁言", "en": "group unmuted"},
    "review": {"zh": "转人工核实", "en": "sent to review"},
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
    "manual": {"zh": "管理员处理", "en": "admin action"},
    "report": {"zh": "成员举报", "en": "member report"},
    "ban": {"zh": "封禁名单", "en": "ban list"},
    "raid": {"zh": "批量入群攻击", "en": "raid"},
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
    templates = _TEMPLATES.get(key) or _COMMAND_TEXTS[key]
    return templates[language].format(**fields)


def category_name(category: str | None, language: Language = "zh") -> str:
    """Readable name of a category; unknown categories are shown as they are."""
    if category is None:
        return "违规内容" if language == "zh" else "prohibited content"
    names = _CATEGORY_NAMES.get(category)
    return names[language] if names else category


def truncate(text: str, limit: int = 200) -> str:
    """Shorten long evidence for chat display, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def category_key(name: str, keys: Iterable[str] | None = None) -> str | None:
    """The category a person named (``ads``, ``商业广告``, or a unique part: ``广告``), or None.

    ``keys`` limits the answer to these categories (default: every named one).
    """
    wanted = name.strip().lower()
    allowed = [k for k in (keys if keys is not None else _CATEGORY_NAMES)]
    names = {k: [k, *(n.lower() for n in _CATEGORY_NAMES.get(k, {}).values())] for k in allowed}
    exact = [k for k, said in names.items() if wanted in said]
    if exact:
        return exact[0]
    partial = [k for k, said in names.items() if wanted and any(wanted in n for n in said)]
    return partial[0] if len(partial) == 1 else None


def human_duration(value: timedelta, language: Language = "zh") -> str:
    """``10分钟`` / ``10 minute(s)``: the largest unit that divides the duration exactly."""
    seconds = int(value.total_seconds())
    units = (
        ((86400, "天"), (3600, "小时"), (60, "分钟"), (1, "秒"))
        if language == "zh"
        else ((86400, " day(s)"), (3600, " hour(s)"), (60, " minute(s)"), (1, " second(s)"))
    )
    for size, unit in units:
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}{units[-1][1]}"
