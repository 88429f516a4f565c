"""The ``[images]`` section: which checks look at pictures and stickers, and their limits.

Pictures count as much as words (000 §5(二), 003 §(四), 004 4.1.x). The checks:
QR codes and known bad pictures are cheap (≈ 10-20 ms a picture) and on by
default; reading text in pictures (OCR) costs ≈ 0.1-0.5 s of one core a picture,
runs in a bounded pool beside the event loop and is on by default too, because
that is where spam moved (posters, screenshots); when the pool is full a picture
is counted as "not checked" rather than slowing text moderation. The NSFW
classifier is optional and off: it misjudges drawings and stickers, so its
findings go to the officers' review, never straight to a penalty.

A picture URL written in a message (a card's preview, a sticker's link) is chosen by
whoever sent it: unless ``fetch_private`` is on, it must lead to a public address.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from rules.config.detector_sections import DetectorSettings
from rules.config.fields import Duration, Section


class ImageTextSettings(Section):
    enabled: bool = Field(True, description="Read text in pictures (OCR) and check it.")


class QrCodeSettings(Section):
    enabled: bool = Field(True, description="Decode QR codes and barcodes and check them.")
    invitations: bool = Field(
        True, description="A WeChat/QQ group or contact invitation code is a solicitation."
    )
    invitation_category: str = Field(
        "solicit", description="Category of an invitation code found in a picture."
    )


class ImageHashSettings(Section):
    enabled: bool = Field(True, description="Match pictures against the blocklist.")
    category: str = Field("porn", description="Category of a blocklisted picture by default.")
    threshold: int = Field(
        8, ge=0, le=32, description="Largest perceptual-hash distance (bits of 64) that matches."
    )


class NsfwSettings(Section):
    enabled: bool = Field(False, description="Run the optional NSFW classifier (nudenet).")
    threshold: float = Field(0.8, ge=0.0, le=1.0, description="Score from which it is a finding.")
    category: str = Field("porn", description="Category of its findings.")


class ImageSettings(DetectorSettings):
    """The picture path as a whole, plus one sub-section per check."""

    enabled: bool = Field(True, description="Look at pictures and stickers at all.")
    stickers: bool = Field(True, description="Also look at stickers (QQ mface, WeChat emoticons).")
    max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest picture fetched, in bytes."
    )
    fetch_timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=10),
        description="Time limit for fetching one picture.",
    )
    fetch_private: bool = Field(
        False,
        description="Fetch picture URLs taken from message content (card previews, "
        "stickers, WeChat file-box links) even when they lead to loopback, private LAN or "
        "link-local addresses; off, such a URL (or a redirect to one) is refused, so a "
        "member cannot make the bot request its own machine, LAN or cloud metadata. "
        "Pictures the platform itself hands over (QQ get_image) are always fetched.",
    )
    max_pending: int = Field(
        8,
        ge=1,
        le=1000,
        description="Pictures waiting or being looked at, at most; beyond "
        "that a picture is not checked (counted in the stats line and the digest).",
    )
    workers: int = Field(1, ge=1, le=16, description="Processes looking at pictures.")
    blocklist: list[str] = Field(
        default_factory=list,
        description="Known bad pictures, files or globs; the category is the name of the "
        "folder a file is in (data/blocklist/porn/x.jpg -> porn), else [images.hash] category.",
    )
    thumbnail_bytes: int = Field(
        65536, ge=4096, description="Size cap of the thumbnail kept with a case as evidence."
    )
    text: ImageTextSettings = Field(default_factory=ImageTextSettings)
    qrcode: QrCodeSettings = Field(default_factory=QrCodeSettings)
    hash: ImageHashSettings = Field(default_factory=ImageHashSettings)
    nsfw: NsfwSettings = Field(default_factory=NsfwSettings)
