"""The command table: which handler runs each command (keys as in ``rules.commands.spec``).

The composition root gives this table to :class:`~rules.commands.service.CommandService`;
the service itself never imports the handlers (they import it, for ``Call``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from rules.commands import (
    actions,
    member_requests,
    oversight,
    protection,
    registration,
    review,
    settings,
)
from rules.commands import pictures as picture_lists
from rules.commands import words as word_lists
from rules.commands.console import console_link
from rules.commands.help import help_
from rules.commands.service import Handler

HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        "help": help_,
        # moderation by hand
        "warn": actions.warn,
        "mute": actions.mute,
        "unmute": actions.unmute,
        "kick": actions.kick,
        "pardon": actions.pardon,
        "uphold": actions.uphold,
        "strikes": actions.strikes,
        # the review queue (weak evidence)
        "confirm": review.confirm,
        "falsepositive": review.falsepositive,
        # a group's own words
        "words": word_lists.words,
        "allow": word_lists.allow,
        # known bad pictures (replying to one)
        "blockimage": picture_lists.blockimage,
        "unblockimage": picture_lists.unblockimage,
        # a group's settings
        "config": settings.config,
        "dryrun": settings.dryrun,
        # looking over a group
        "stats": oversight.stats,
        "export": oversight.export,
        "audit": oversight.audit,
        # registrations
        "register": registration.register,
        "groups": registration.groups,
        # members asking the officers
        "report": member_requests.report,
        "appeal": member_requests.appeal,
        # across groups
        "bans": protection.bans,
        "ban": protection.ban,
        "unban": protection.unban,
        "muteall": protection.muteall,
        "cardhistory": protection.cardhistory,
        # the officers' web console
        "console": console_link,
    }
)
