"""Record types of the picture path that storage and the services share (leaf module)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BlockedImage:
    """A blocklisted picture as the store keeps it (its hashes only, never the picture)."""

    key: str  # the picture's SHA-256
    name: str
    category: str
    hashes: str  # "phash:dhash" hex pairs of its frames, separated by spaces
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class CaseImage:
    """A picture kept as a case's evidence: a small thumbnail and what was seen in it."""

    case_id: int
    position: int  # the picture's index in its message
    key: str  # the platform's name for it (QQ: the MD5 file name)
    sha256: str
    width: int
    height: int
    text: str  # recognised text
    codes: tuple[str, ...]  # QR / barcode payloads
    thumbnail: bytes  # JPEG
    problem: str = ""  # why it could not be (fully) looked at
