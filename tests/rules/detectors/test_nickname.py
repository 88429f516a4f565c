"""Group cards against every format the policies use, valid and near-miss cards."""

from __future__ import annotations

from typing import Any

import pytest

from rules.config import ConfigError, NicknameSettings, parse_config
from rules.core.model import EventKind, Member
from rules.detectors.nickname import NicknameDetector, card_for
from rules.detectors.nickname.cards import CardRules, Surnames, default_surnames, name_problem
from rules.detectors.nickname.roster import Person, Roster, RosterBook, RosterError
from rules.text.cardformat import parse_format, splits
from tests.fakes import message

DEPTS = ["宣传统战部", "办公室", "行政中心", "人事处"]

# (policy, settings, card, expected problem texts; [] = compliant)
CASES: list[tuple[str, dict[str, Any], str, list[str]]] = [
    # 003 §9: 实名+部门, e.g. 张三+宣传统战部
    ("003 name+dept", {"format": "{name}+{dept}"}, "张三+宣传统战部", []),
    ("003 other separator", {"format": "{name}+{dept}"}, "张三-办公室", []),
    ("003 spaced separator", {"format": "{name}+{dept}"}, "张三 + 办公室", []),
    ("003 full-width plus", {"format": "{name}+{dept}"}, "张三＋办公室", []),
    ("003 traditional", {"format": "{name}+{dept}"}, "張三+辦公室", []),
    ("003 compound surname", {"format": "{name}+{dept}"}, "欧阳娜娜+办公室", []),
    ("003 minority name", {"format": "{name}+{dept}"}, "阿依古丽·买买提+办公室", []),
    ("003 missing dept", {"format": "{name}+{dept}"}, "张三", ["缺少部门，应为「姓名+部门」"]),
    ("003 missing name", {"format": "{name}+{dept}"}, "办公室", ["缺少姓名，应为「姓名+部门」"]),
    (
        "003 unknown dept",
        {"format": "{name}+{dept}"},
        "张三+宣传部",
        ["部门「宣传部」不在本群部门列表中"],
    ),
    (
        "003 wrong order",
        {"format": "{name}+{dept}"},
        "办公室+张三",
        ["顺序不对，应为「姓名+部门」"],
    ),
    (
        "003 no separator",
        {"format": "{name}+{dept}"},
        "张三办公室",
        ["各部分之间缺少分隔符（如“+”），应为「姓名+部门」"],
    ),
    ("003 english name", {"format": "{name}+{dept}"}, "Tom+办公室", ["姓名「Tom」不是中文姓名"]),
    ("003 empty card", {"format": "{name}+{dept}"}, "", ["群名片为空"]),
    ("003 blank card", {"format": "{name}+{dept}"}, " \u200b ", ["群名片为空"]),
    (
        "003 nickname not a name",
        {"format": "{name}+{dept}"},
        "小明+办公室",
        ["姓名「小明」不像真实姓名（“小”不是常见姓氏）"],
    ),
    (
        "003 name too long",
        {"format": "{name}+{dept}"},
        "张三四五六+办公室",
        ["姓名「张三四五六」应为2–4个汉字"],
    ),
    (
        "003 one character",
        {"format": "{name}+{dept}"},
        "张+办公室",
        ["姓名「张」应为2–4个汉字"],
    ),
    # 001 §20: 部门+姓名
    ("001 dept+name", {"format": "{dept}+{name}"}, "人事处+李四", []),
    (
        "001 wrong order",
        {"format": "{dept}+{name}"},
        "李四+人事处",
        ["顺序不对，应为「部门+姓名」"],
    ),
    ("001 missing name", {"format": "{dept}+{name}"}, "人事处", ["缺少姓名，应为「部门+姓名」"]),
    # 004: 中心名称+姓名, e.g. 行政中心何锐 (no separator)
    ("004 centre+name", {"format": "{dept}{name}"}, "行政中心何锐", []),
    ("004 centre+3-char name", {"format": "{dept}{name}"}, "行政中心司马相如", []),
    (
        "004 unknown centre",
        {"format": "{dept}{name}"},
        "财务中心何锐",
        ["部门「财务中心」不在本群部门列表中"],
    ),
    ("004 centre only", {"format": "{dept}{name}"}, "行政中心", ["缺少姓名，应为「部门姓名」"]),
    ("004 reversed", {"format": "{dept}{name}"}, "何锐行政中心", ["顺序不对，应为「部门姓名」"]),
    # 004 teachers: 学科+教师姓名
    ("004 subject+teacher", {"format": "{subject}{name}"}, "数学王老", []),
    ("004 subject+teacher 2", {"format": "{subject}{name}"}, "道德与法治刘洋", []),
    (
        "004 unknown subject",
        {"format": "{subject}+{name}"},
        "烹饪+刘洋",
        ["学科「烹饪」不在学科列表中"],
    ),
    (
        "004 teacher missing subject",
        {"format": "{subject}{name}"},
        "刘洋",
        ["缺少学科，应为「学科姓名」"],
    ),
    # 004 parents: 学生姓名+爸爸/妈妈, e.g. 张一凡妈妈, or just the student's name
    ("004 parent", {"format": ["{child}{relation}", "{child}"]}, "张一凡妈妈", []),
    ("004 parent grandpa", {"format": ["{child}{relation}", "{child}"]}, "李想爷爷", []),
    ("004 student name only", {"format": ["{child}{relation}", "{child}"]}, "张一凡", []),
    (
        "004 parent unknown relation",
        {"format": "{child}+{relation}"},
        "张一凡+老板",
        ["「老板」不是与学生的关系（如爸爸、妈妈）"],
    ),
    (
        "004 parent english",
        {"format": "{child}{relation}"},
        "Lucy妈妈",
        ["学生姓名「Lucy」不是中文姓名"],
    ),
    (
        "004 parent relation first",
        {"format": "{child}{relation}"},
        "妈妈张一凡",
        ["顺序不对，应为「学生姓名关系」"],
    ),
    ("004 parent empty", {"format": "{child}{relation}"}, "", ["群名片为空"]),
    # several formats per group
    ("multi: first", {"format": ["{name}+{dept}", "{dept}{name}"]}, "张三+办公室", []),
    ("multi: second", {"format": ["{name}+{dept}", "{dept}{name}"]}, "办公室张三", []),
    (
        "multi: neither",
        {"format": ["{name}+{dept}", "{dept}{name}"]},
        "张三",
        ["缺少部门，应为「姓名+部门」或「部门姓名」"],
    ),
    (
        "003 extra part",
        {"format": "{name}+{dept}"},
        "张三+办公室+备注",
        ["群名片「张三+办公室+备注」不符合格式「姓名+部门」"],
    ),
    # literal text in a format
    ("literal", {"format": "{name}({dept})"}, "张三(办公室)", []),
    # free-text departments when no list is configured
    ("free dept", {"format": "{name}+{dept}", "departments": []}, "张三+随便什么组", []),
    (
        "free dept missing",
        {"format": "{name}+{dept}", "departments": []},
        "张三",
        ["缺少部门，应为「姓名+部门」"],
    ),
    (
        "free dept reversed",
        {"format": "{name}+{dept}", "departments": []},
        "宣传部+张三",
        ["顺序不对，应为「姓名+部门」"],
    ),
    # names not checked
    ("no name check", {"format": "{name}+{dept}", "check_names": False}, "Tom+办公室", []),
]


def _settings(**overrides: Any) -> NicknameSettings:
    data: dict[str, Any] = {"enabled": True, "departments": DEPTS}
    data.update(overrides)
    return NicknameSettings.model_validate(data)


@pytest.mark.parametrize(
    ("policy", "overrides", "card", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_card_formats(
    policy: str, overrides: dict[str, Any], card: str, expected: list[str]
) -> None:
    rules = CardRules(_settings(**overrides))
    assert [p.text("zh") for p in rules.problems(card)] == expected


def test_english_details() -> None:
    rules = CardRules(_settings(format="{name}+{dept}"))
    assert [p.text("en") for p in rules.problems("张三+宣传部")] == [
        'department "宣传部" is not in this group\'s list'
    ]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("张三", True),
        ("王小明", True),
        ("诸葛亮", True),
        ("司马相如", True),
        ("迪丽热巴·迪力木拉提", True),
        ("扎西", True),  # Tibetan names have no surname
        ("Tom", False),
        ("张", False),
        ("小王", False),
        ("老李", False),
        ("人事处", False),
        ("张3", False),
        ("·买买提", False),
    ],
)
def test_plausible_names(name: str, ok: bool) -> None:
    assert (name_problem(name, "name", default_surnames()) is None) is ok


def test_surnames_file_loads() -> None:
    surnames = default_surnames()
    assert {"张", "王", "李", "肖", "付"} <= surnames.single
    assert {"欧阳", "诸葛", "司马"} <= surnames.compound
    assert Surnames(frozenset({"张"})).of("李四") is None


@pytest.mark.parametrize(
    ("fmt", "card", "expected"),
    [
        ("{name}+{dept}", "张三+办公室", [{"name": "张三", "dept": "办公室"}]),
        ("{name}+{dept}", "张三++办公室", [{"name": "张三", "dept": "办公室"}]),
        ("{name}+{dept}", "张三办公室", []),
        (
            "{dept}{name}",
            "部门张三",
            [
                {"dept": "部", "name": "门张三"},
                {"dept": "部门", "name": "张三"},
                {"dept": "部门张", "name": "三"},
            ],
        ),
    ],
)
def test_splits(fmt: str, card: str, expected: list[dict[str, str]]) -> None:
    assert list(splits(card, parse_format(fmt), "+-_ ")) == expected


@pytest.mark.parametrize(
    ("fmt", "error"),
    [
        ("{nam}+{dept}", "unknown placeholder {nam}"),
        ("{name", "without a closing"),
        ("name}", "without an opening"),
        ("{name}++{dept}", "two '+' in a row"),
        ("+{name}", "cannot start or end"),
        ("姓名", "at least one placeholder"),
        ("{name}{name}", "appears twice"),
    ],
)
def test_bad_formats_are_config_errors(fmt: str, error: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"nickname": {"format": fmt}})
    assert "nickname.format" in str(info.value)
    assert error in str(info.value)


def test_bad_format_in_group_override_names_the_group() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"groups": {"qq:1": {"nickname": {"format": ["{name}", "{x}"]}}}})
    assert 'groups."qq:1".nickname.format' in str(info.value)


# ---------------------------------------------------------------- roster paths

ROSTER_CSV = """name,department,role,qq,wechat,status
张三,办公室,科员,10001,wxid_zhang,
李四,人事处,科长,10002;10003,,在职
王五,办公室,,10004,,离职
赵六,宣传统战部,,,wxid_zhao,
孙七,办公室,,,,
"""


def _detector(**overrides: Any) -> tuple[NicknameDetector, NicknameSettings]:
    book = RosterBook(__import__("pathlib").Path("/nonexistent"))
    book.put("roster.csv", Roster.from_csv(ROSTER_CSV))
    settings = _settings(format="{name}+{dept}", roster="roster.csv", **overrides)
    return NicknameDetector(book), settings


@pytest.mark.parametrize(
    ("member_id", "card", "expected"),
    [
        ("qq:10001", "张三+办公室", []),  # id and card agree
        ("qq:10003", "李四+人事处", []),  # second id of the same person
        ("qq:10001", "李四+人事处", ["名片姓名「李四」与该账号在名单中登记的「张三」不符"]),
        ("qq:10001", "张三+人事处", ["部门「人事处」与名单中登记的「办公室」不符"]),
        ("qq:10004", "王五+办公室", ["该账号属于已离职人员「王五」"]),
        ("qq:10004", "随便", ["该账号属于已离职人员「王五」"]),  # left wins over format
        ("qq:99999", "王五+办公室", ["「王五」在名单中已登记为离职"]),
        ("qq:99999", "周八+办公室", ["名单中没有「周八」"]),
        ("qq:99999", "张三+办公室", ["该账号不在名单中（「张三」在名单中登记的是其他账号）"]),
        ("qq:99999", "孙七+办公室", []),  # listed without a QQ id: cannot tell
        ("qq:99999", "赵六+宣传统战部", []),  # listed with WeChat only
        (
            "wechat:wxid_x",
            "赵六+宣传统战部",
            ["该账号不在名单中（「赵六」在名单中登记的是其他账号）"],
        ),
        ("qq:99999", "张三", ["缺少部门，应为「姓名+部门」"]),  # format first; no lookup
    ],
)
def test_roster_paths(member_id: str, card: str, expected: list[str]) -> None:
    detector, settings = _detector()
    texts = [p.text("zh") for p in detector.problems(Member(member_id, card), settings)]
    assert texts[-len(expected) :] == expected if expected else texts == []


def test_unlisted_ids_can_be_allowed() -> None:
    detector, settings = _detector(flag_unlisted=False)
    assert detector.problems(Member("qq:99999", "张三+办公室"), settings) == ()


def test_roster_findings_have_category_roster() -> None:
    detector, settings = _detector()
    event = message("hi", user="qq:10004", card="王五+办公室")
    [finding] = detector.check(event, settings)
    assert (finding.detector, finding.category, finding.match) == (
        "nickname",
        "roster",
        "王五+办公室",
    )


def test_expected_card_from_roster() -> None:
    detector, settings = _detector()
    assert detector.expected_card(Member("qq:10001", "zs"), settings) == "张三+办公室"
    assert detector.expected_card(Member("qq:10004", "x"), settings) is None  # left
    assert detector.expected_card(Member("qq:99999", "x"), settings) is None  # unknown
    rules = CardRules(_settings(format="{dept}{name}"))
    assert card_for(Person("何锐", "行政中心"), rules) == "行政中心何锐"
    assert card_for(Person("何锐", ""), rules) is None
    assert card_for(Person("何锐", "财务中心"), rules) is None  # not a known department


def test_roster_ambiguous_id_identifies_nobody() -> None:
    roster = Roster.from_csv("name,qq\n张三,1\n李四,1\n")
    assert roster.person_for("qq:1") is None
    assert roster.ambiguous_ids == {"qq:1"}


def test_roster_chinese_headers_and_errors(tmp_path: Any) -> None:
    roster = Roster.from_csv("\ufeff姓名,部门,QQ,微信,状态\n张三,办公室,qq:1,,已离职\n")
    person = roster.person_for("qq:1")
    assert person is not None and person.left and person.department == "办公室"
    with pytest.raises(RosterError, match="no 'name'"):
        Roster.from_csv("who,qq\n张三,1\n")
    with pytest.raises(RosterError, match=":2: unknown status"):
        Roster.from_csv("name,status\n张三,maybe\n")
    with pytest.raises(RosterError, match="cannot read"):
        Roster.load(tmp_path / "missing.csv")


def test_roster_book_reloads_changed_file(tmp_path: Any) -> None:
    path = tmp_path / "r.csv"
    path.write_text("name,qq\n张三,1\n", encoding="utf-8")
    book = RosterBook(tmp_path)
    book.load(["r.csv"])
    assert book.get("r.csv") is not None
    path.write_text("name,qq\n李四,1\n", encoding="utf-8")
    import os

    os.utime(path, (1, 1))
    assert book.refresh() == []
    roster = book.get("r.csv")
    assert roster is not None and roster.person_for("qq:1") == Person(
        "李四", ids=frozenset({"qq:1"})
    )


def test_detector_runs_on_join_card_change_and_message() -> None:
    assert NicknameDetector.kinds == {EventKind.MESSAGE, EventKind.JOIN, EventKind.CARD_CHANGE}
    assert NicknameDetector.feeds_ladder is False


def test_example_roster_loads() -> None:
    from rules.core.paths import PROJECT_ROOT

    roster = Roster.load(PROJECT_ROOT / "data" / "roster.example.csv")
    assert roster.people
