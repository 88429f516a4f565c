"""Escalation routing: whether an officer's report goes out now or waits for the digest.

``[escalation] immediate_from`` sets the severity from which a report is sent
at once; below it, where the group gets a daily digest, the report is held and
listed there (``rules.officers.digest``).
"""

from __future__ import annotations

from collections.abc import Iterable

from rules.config import Policy
from rules.core.model import Finding


def held_for_digest(findings: Iterable[Finding], policy: Policy) -> bool:
    """Whether an escalation waits for the digest: below ``[escalation] immediate_from``.

    Only where the group gets digests; a case is as severe as its worst finding.
    """
    if not policy.digest.enabled:
        return False
    ladder = policy.ladder
    severity = max((ladder.severity_of(f.category) for f in findings), default=None)
    return (severity or ladder.default_severity) < policy.escalation.immediate_from
