"""Detectors over what a message's pictures held (``IMAGES`` events).

They read :class:`~rules.core.model.ImageReport` values, never pixels, so they are
as fast and as table-testable as the text detectors:

- ``image_text``: the recognised text of each picture goes through the same text
  detectors as a message (keywords with every evasion, links, personal data);
- ``qrcode``: each QR or barcode payload goes through the link, keyword and
  personal-data detectors, so an allow-listed domain stays allowed; a WeChat or QQ
  group/contact code is a solicitation even without a banned word;
- ``image_hash``: each frame's perceptual hash against the blocklist of known bad
  pictures (config files plus pictures officers added by command);
- ``nsfw``: a classifier's score; weak evidence by design (classifiers misjudge
  drawings and stickers), so by default it goes to review, never to a kick.

Findings carry ``image`` (the picture's index in the message) and ``start``/``end``
into the recognised text or the payload (-1 when there is no text span).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import ClassVar

from rules.config import DetectorSettings, ImageSettings, Policy
from rules.core.model import (
    ChatEvent,
    EventKind,
    Finding,
    ImageReport,
    MatchKind,
    Strength,
)
from rules.detectors.base import Detector
from rules.detectors.images.phash import ImageBlocklist, ImageHashes

# Invitation codes: scanning them joins a group or adds a contact (a solicitation).
_INVITATION = re.compile(
    r"(?:weixin\.qq\.com/(?:g|r|u)/|u\.wechat\.com/|wxp://|qm\.qq\.com/|jq\.qq\.com/"
    r"|qun\.qq\.com/|work\.weixin\.qq\.com/(?:gm|u)/)",
    re.IGNORECASE,
)

TextDetectors = Sequence[Detector[DetectorSettings]]
PolicyFor = Callable[[str], Policy]


def _probe(event: ChatEvent, text: str) -> ChatEvent:
    """A message event holding only ``text``, for the text detectors."""
    return replace(
        event,
        kind=EventKind.MESSAGE,
        text=text,
        cards=(),
        images=(),
        image_reports=(),
        message_id=None,
    )


def _run_text_detectors(
    detectors: TextDetectors, policy: Policy, event: ChatEvent
) -> list[Finding]:
    found: list[Finding] = []
    for detector in detectors:
        settings: DetectorSettings = getattr(policy, detector.section)
        if settings.enabled:
            found.extend(detector.check(event, settings))
    return found


class ImageTextDetector(Detector[ImageSettings]):
    """Text recognised in a picture, judged like a message's text."""

    name: ClassVar[str] = "image_text"
    section: ClassVar[str] = "images"
    kinds = frozenset({EventKind.IMAGES})

    def __init__(self, text_detectors: TextDetectors, policy_for: PolicyFor) -> None:
        self.text_detectors = list(text_detectors)
        self.policy_for = policy_for

    def check(self, event: ChatEvent, settings: ImageSettings) -> list[Finding]:
        if not settings.text.enabled:
            return []
        policy = self.policy_for(event.group_id)
        findings: list[Finding] = []
        for report in event.image_reports:
            if not report.checked or not report.text:
                continue
            probe = _probe(event, report.text)
            for f in _run_text_detectors(self.text_detectors, policy, probe):
                findings.append(_in_picture(f, self.name, report))
        return findings


class QrCodeDetector(Detector[ImageSettings]):
    """QR and barcode payloads: links, banned words, personal data, invitations."""

    name: ClassVar[str] = "qrcode"
    section: ClassVar[str] = "images"
    kinds = frozenset({EventKind.IMAGES})

    def __init__(self, text_detectors: TextDetectors, policy_for: PolicyFor) -> None:
        self.text_detectors = list(text_detectors)
        self.policy_for = policy_for

    def check(self, event: ChatEvent, settings: ImageSettings) -> list[Finding]:
        if not settings.qrcode.enabled:
            return []
        policy = self.policy_for(event.group_id)
        findings: list[Finding] = []
        for report in event.image_reports:
            for payload in report.codes:
                findings.extend(self._payload(event, policy, report, payload, settings))
        return findings

    def _payload(
        self,
        event: ChatEvent,
        policy: Policy,
        report: ImageReport,
        payload: str,
        settings: ImageSettings,
    ) -> list[Finding]:
        found = [
            _in_picture(f, self.name, report)
            for f in _run_text_detectors(self.text_detectors, policy, _probe(event, payload))
        ]
        if found:
            return found
        invitation = _INVITATION.search(payload)
        if invitation and settings.qrcode.invitations:
            return [
                Finding(
                    self.name,
                    settings.qrcode.invitation_category,
                    payload[:200],
                    invitation.start(),
                    len(payload),
                    "group or contact invitation",
                    image=report.index,
                )
            ]
        return []


class ImageHashDetector(Detector[ImageSettings]):
    """A picture that is (nearly) one on the blocklist: resized, recompressed or cropped."""

    name: ClassVar[str] = "image_hash"
    section: ClassVar[str] = "images"
    kinds = frozenset({EventKind.IMAGES})

    def __init__(self, blocklist: ImageBlocklist) -> None:
        self.blocklist = blocklist

    def check(self, event: ChatEvent, settings: ImageSettings) -> list[Finding]:
        if not settings.hash.enabled or not len(self.blocklist):
            return []
        findings: list[Finding] = []
        for report in event.image_reports:
            if not report.hashes:
                continue
            frames = [ImageHashes(p, d) for p, d in report.hashes]
            matches = self.blocklist.lookup(frames, threshold=settings.hash.threshold)
            if matches:
                best = matches[0]
                findings.append(
                    Finding(
                        self.name,
                        best.entry.category or settings.hash.category,
                        best.entry.name,
                        -1,
                        -1,
                        f"distance {best.distance}",
                        how=MatchKind.IMAGE,
                        strength=Strength.STRONG,
                        image=report.index,
                    )
                )
        return findings


class NsfwDetector(Detector[ImageSettings]):
    """An offline classifier's verdict: weak evidence, for a person to review."""

    name: ClassVar[str] = "nsfw"
    section: ClassVar[str] = "images"
    kinds = frozenset({EventKind.IMAGES})

    def check(self, event: ChatEvent, settings: ImageSettings) -> list[Finding]:
        if not settings.nsfw.enabled:
            return []
        return [
            Finding(
                self.name,
                settings.nsfw.category,
                f"score {report.nsfw:.2f}",
                -1,
                -1,
                "classifier",
                how=MatchKind.IMAGE,
                strength=Strength.WEAK,
                image=report.index,
            )
            for report in event.image_reports
            if report.nsfw is not None and report.nsfw >= settings.nsfw.threshold
        ]


def _in_picture(finding: Finding, detector: str, report: ImageReport) -> Finding:
    """A text finding restated as found in a picture (its span stays in the picture's text)."""
    detail = finding.detector if not finding.detail else f"{finding.detector}: {finding.detail}"
    return replace(finding, detector=detector, detail=detail, image=report.index)
