"""Protection across groups (REQUIREMENTS §9, issue 21): what one group's trouble means
for the institution's other groups, and for the minutes after it.

It owns, each in its own module and free of any platform or store:

- ``recent``: the recent message ids of each member per group, in bounded memory,
  so that a member removed for a violation has them recalled (clean-up);
- ``bans``: the organisation's ban list (who, which accounts including the
  roster's accounts on the other platform, why, by whom, lifted by whom) and who
  may never be banned; ``sweep``: removing a banned member from every other
  guarded group where the bot finds them, with one officer report;
- ``raids``: many joins, or many new members posting links, pictures or the same
  text, within a short time in one group, and the raid mode that answers it
  (alert, whole-group mute, refusing unknown applicants, the raid's accounts) until
  it is lifted;
- ``probation``: a new member's first messages judged with strict settings;
- ``cards``: the history of members' group cards and the impersonation check;
- ``service``: :class:`~rules.protection.service.Protection`, the one component the
  composition root (``rules.runtime``) wires into the engine, the commands and the
  scheduled jobs.

What it needs of storage it declares as Protocols (``bans.BanStore``,
``cards.CardHistoryStore``, ``raids.RaidStore``); platforms reach it only through
the core's ports (:class:`~rules.core.ports.Gateway`,
:class:`~rules.core.ports.Directory`). Nothing imports this package except
``rules.runtime``, the commands and the plugins.
"""
