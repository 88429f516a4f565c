"""Pictures through inspection and the picture detectors, with the real text detectors.

Bytes -> :func:`inspect_picture` (decode, codes, hashes, OCR) -> an IMAGES event ->
``image_text`` / ``qrcode`` / ``image_hash`` findings, judged by the same keyword,
link and PII detectors (and the same group settings) as a message's text.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from rules.config import Config, DetectorSettings, parse_config
from rules.core.model import (
    ChatEvent,
    EventKind,
    Finding,
    ImageRef,
    Member,
    Platform,
    Strength,
)
from rules.detectors.base import Detector
from rules.detectors.images.findings import (
    ImageHashDetector,
    ImageTextDetector,
    NsfwDetector,
    QrCodeDetector,
)
from rules.detectors.images.inspect import InspectOptions, inspect_picture
from rules.detectors.images.phash import ImageBlocklist
from rules.detectors.keyword import KeywordDetector
from rules.detectors.link import LinkDetector
from rules.detectors.pii import PiiDetector
from tests import imagegen

GROUP = "qq:700"


@pytest.fixture(scope="module")
def config() -> Config:
    return parse_config({"groups": {"qq:701": {"links": {"allow_domains": ["example.edu.cn"]}}}})


@pytest.fixture(scope="module")
def text_detectors(config: Config) -> list[Detector[DetectorSettings]]:
    return [
        KeywordDetector.from_settings(config.keywords),  # type: ignore[list-item]
        LinkDetector(),  # type: ignore[list-item]
        PiiDetector(),  # type: ignore[list-item]
    ]


def _event(group: str = GROUP) -> ChatEvent:
    return ChatEvent(
        EventKind.IMAGES,
        Platform.QQ,
        group,
        Member("qq:42", card="张三+办公室"),
        datetime(2026, 12, 6, 9, 0, tzinfo=UTC),
        message_id="m1",
        images=(ImageRef("p0"),),
    )


def _inspected(data: bytes, **options: object) -> ChatEvent:
    report = inspect_picture(data, 0, "p0", InspectOptions(**options))  # type: ignore[arg-type]
    assert report.checked, report.problem
    return replace(_event(), image_reports=(report,))


def _check(detector: Detector[DetectorSettings], event: ChatEvent, config: Config) -> list[Finding]:
    return detector.check(event, config.policy_for(event.group_id).images)


@pytest.mark.parametrize(
    ("lines", "category"),
    [
        (["周末网络赌博 稳赚不赔"], "gambling"),
        (["出售冰毒 量大从优"], "drugs"),
    ],
)
def test_text_in_a_picture_is_judged_like_a_message(
    lines: list[str], category: str, config: Config, text_detectors: list
) -> None:
    event = _inspected(imagegen.jpeg(imagegen.text_image(lines)), codes=False)
    found = _check(ImageTextDetector(text_detectors, config.policy_for), event, config)
    assert category in {f.category for f in found}
    hit = next(f for f in found if f.category == category)
    text = event.image_reports[0].text
    assert hit.image == 0 and hit.detector == "image_text"
    assert 0 <= hit.start < hit.end <= len(text)  # the span is in the recognised text


def test_a_qr_code_to_a_site_is_a_link_finding(config: Config, text_detectors: list) -> None:
    picture = imagegen.poster(title="好消息", lines=("欢迎",), qr_payload="https://lucky8.vip/r/9")
    event = _inspected(imagegen.jpeg(picture), text=False)
    assert event.image_reports[0].codes == ("https://lucky8.vip/r/9",)
    found = _check(QrCodeDetector(text_detectors, config.policy_for), event, config)
    assert [(f.detector, f.category, f.image) for f in found] == [("qrcode", "link", 0)]


def test_an_allow_listed_domain_in_a_qr_code_stays_allowed(
    config: Config, text_detectors: list
) -> None:
    picture = imagegen.qr_image("https://www.example.edu.cn/notice")
    event = replace(_inspected(imagegen.png(picture), text=False), group_id="qq:701")
    assert _check(QrCodeDetector(text_detectors, config.policy_for), event, config) == []


def test_a_wechat_group_invitation_code_is_a_solicitation(
    config: Config, text_detectors: list
) -> None:
    event = _inspected(
        imagegen.png(imagegen.qr_image("https://weixin.qq.com/g/AbC123")), text=False
    )
    found = _check(QrCodeDetector(text_detectors, config.policy_for), event, config)
    assert found and found[0].category in {"solicit", "link"}


def test_a_blocklisted_picture_matches_when_resized_and_recompressed(config: Config) -> None:
    original = imagegen.photo(seed=7)
    blocklist = ImageBlocklist()
    blocklist.add_image("bad.jpg", "porn", original)
    copy = imagegen.recompressed(imagegen.resized(original, 0.5), 60)
    event = _inspected(imagegen.jpeg(copy), text=False, codes=False)
    found = _check(ImageHashDetector(blocklist), event, config)
    assert [(f.detector, f.category, f.match, f.strength) for f in found] == [
        ("image_hash", "porn", "bad.jpg", Strength.STRONG)
    ]


def test_a_clean_photo_gives_nothing(config: Config, text_detectors: list) -> None:
    blocklist = ImageBlocklist()
    blocklist.add_image("bad.jpg", "porn", imagegen.photo(seed=7))
    event = _inspected(imagegen.jpeg(imagegen.photo(seed=3)))
    detectors: list[Detector[DetectorSettings]] = [
        ImageTextDetector(text_detectors, config.policy_for),  # type: ignore[list-item]
        QrCodeDetector(text_detectors, config.policy_for),  # type: ignore[list-item]
        ImageHashDetector(blocklist),  # type: ignore[list-item]
        NsfwDetector(),  # type: ignore[list-item]
    ]
    assert [f for d in detectors for f in _check(d, event, config)] == []


def test_hostile_bytes_give_an_unchecked_report() -> None:
    report = inspect_picture(imagegen.zip_archive(), 2, "evil.png", InspectOptions())
    assert (report.index, report.checked) == (2, False)
    assert "zip" in report.problem.lower()
