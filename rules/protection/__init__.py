"""Protection across groups (REQUIREMENTS §9, issue 21): what one group's trouble means
for the institution's other groups, and for the minutes after it.

It owns, each in its own module and free of any platform or store:

- ``recent``: the recent message ids of each member per group, in bounded memory,
  so that a member removed for a violation has them recalled (clean-up);
- ``bans``: the organisation's ban list (who, which accounts including the
  roster's accounts on the other platform, why, by whom, lifted by whom) and who
  may never be banned; ``sweep``: removing a banned member from every other
  guarded group where the bot finds them; ``banning``: a ban, its sweep and the
  one officer report;
- ``joining``: join requests refused (a banned applicant; an unknown one during a
  raid) and a banned account that joins anyway removed again;
- ``raids``: many joins, or many new members posting links, pictures or the same
  text, within a short time in one group; ``raid_mode``: what answers it (alert,
  whole-group mute, the raid's accounts) until it is lifted, also after a restart;
- ``probation``: a new member's first messages judged with strict settings;
- ``cards``: card history and the impersonation check; ``card_watch``: fed by
  every message, join and card notice;
- ``reports``: the officers' reports, worded from the catalogue;
- ``service``: :class:`~rules.protection.service.Protection`, the one component the
  composition root (``rules.runtime``) wires into the engine, the commands and the
  plugins.

What it needs of storage it declares as Protocols (``bans.BanStore``,
``cards.CardHistoryStore``, ``raids.RaidStore``); platforms reach it only through
the core's ports (:class:`~rules.core.ports.Gateway`,
:class:`~rules.core.ports.Directory`). Nothing imports this package except
``rules.runtime``, the commands and the plugins.
"""
