"""Probation: a member who has just joined has their first messages judged strictly.

A known spam pattern: join, wait a little, post an advert, a QR code or a
"加我微信" and leave. For ``[protection.probation] period`` after joining, and
for at most the member's first ``messages`` messages in that period, a message is
judged with the *strict* policy (:func:`strict_policy`): links are flagged
whatever ``[links] allow_domains`` says (also bare domains, IPs and forwarded
share cards), QR codes and contact invitations in pictures are read, banned
words (contact solicitations among them) are checked, and the message is always
deleted at the first offence. With ``action = "kick"`` those categories are
critical, so the first such offence removes the member.

Who joined when is kept in bounded memory (``capacity`` members; the oldest
joins are forgotten first). It is also what the raid watch asks to tell a new
member from an old one. After a restart, members who joined before it are no
longer on probation.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from rules.config import Policy, ProbationSettings
from rules.core.model import Severity

Key = tuple[str, str]  # (group id, member id)

# What probation is about: links and forwarded cards ("link", and "solicit" for a
# link or card asking for votes, likes or donations) and contact solicitations.
PROBATION_CATEGORIES = ("link", "solicit")


@dataclass(slots=True)
class _Entry:
    joined_at: datetime
    messages: int = 0


def strict_policy(policy: Policy) -> Policy:
    """``policy`` with the strict settings of probation (see the module docstring)."""
    settings = policy.protection.probation
    links = policy.links.model_copy(
        update={
            "enabled": True,
            "allow_domains": [],
            "bare_domains": True,
            "ips": True,
            "cards": True,
        }
    )
    images = policy.images.model_copy(
        update={
            "enabled": True,
            "qrcode": policy.images.qrcode.model_copy(
                update={"enabled": True, "invitations": True}
            ),
        }
    )
    keywords = policy.keywords.model_copy(update={"enabled": True})
    ladder_update: dict[str, object] = {"delete_message": True}
    if settings.action == "kick":
        severity = dict(policy.ladder.severity)
        categories = {*PROBATION_CATEGORIES, policy.images.qrcode.invitation_category}
        for category in categories:
            severity[category] = Severity.CRITICAL
        ladder_update["severity"] = severity
    ladder = policy.ladder.model_copy(update=ladder_update)
    return policy.model_copy(
        update={"links": links, "images": images, "keywords": keywords, "ladder": ladder}
    )


class Probation:
    """Join times of recent members, and the strict policy for their first messages."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._joined: OrderedDict[Key, _Entry] = OrderedDict()
        # per group: (the group's policy object, its strict version); a group's policy
        # object is replaced when its settings change, which rebuilds the strict one
        self._strict: dict[str, tuple[Policy, Policy]] = {}

    def __len__(self) -> int:
        return len(self._joined)

    def joined(self, group_id: str, member_id: str, at: datetime) -> None:
        """A member joined (again: probation starts over)."""
        key = (group_id, member_id)
        self._joined.pop(key, None)
        self._joined[key] = _Entry(at)
        while len(self._joined) > self.capacity:
            self._joined.popitem(last=False)

    def left(self, group_id: str, member_id: str) -> None:
        self._joined.pop((group_id, member_id), None)

    def joined_at(self, group_id: str, member_id: str) -> datetime | None:
        entry = self._joined.get((group_id, member_id))
        return None if entry is None else entry.joined_at

    def is_new(
        self, group_id: str, member_id: str, now: datetime, settings: ProbationSettings
    ) -> bool:
        """Whether the member joined within ``settings.period`` (probation on or off)."""
        entry = self._joined.get((group_id, member_id))
        return entry is not None and now - entry.joined_at < settings.period

    def on_probation(
        self, group_id: str, member_id: str, now: datetime, settings: ProbationSettings
    ) -> bool:
        """Whether the member's next message is judged strictly (counts nothing)."""
        if not settings.enabled:
            return False
        entry = self._joined.get((group_id, member_id))
        if entry is None or now - entry.joined_at >= settings.period:
            return False
        return settings.messages == 0 or entry.messages < settings.messages

    def policy_for_message(
        self, group_id: str, member_id: str, now: datetime, policy: Policy
    ) -> Policy:
        """The policy to judge this member's message by, counting the message."""
        settings = policy.protection.probation
        if not self.on_probation(group_id, member_id, now, settings):
            return policy
        self._joined[(group_id, member_id)].messages += 1
        return self.strict(group_id, policy)

    def policy_for_other(
        self, group_id: str, member_id: str, now: datetime, policy: Policy
    ) -> Policy:
        """The policy for another event of the member (e.g. what their pictures held):
        strict while they are on probation, counting nothing."""
        entry = self._joined.get((group_id, member_id))
        settings = policy.protection.probation
        if entry is None or not settings.enabled or now - entry.joined_at >= settings.period:
            return policy
        # the pictures of a message judged strictly are judged strictly too
        if settings.messages and entry.messages > settings.messages:
            return policy
        return self.strict(group_id, policy)

    def strict(self, group_id: str, policy: Policy) -> Policy:
        cached = self._strict.get(group_id)
        if cached is not None and cached[0] is policy:
            return cached[1]
        strict = strict_policy(policy)
        self._strict[group_id] = (policy, strict)
        return strict
