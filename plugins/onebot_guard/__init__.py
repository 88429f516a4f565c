"""QQ edge: OneBot v11 events in, the core's decisions out, before any other plugin runs.

What the package holds (one job per module):

- :mod:`.intake`: how an event reaches moderation (the raw, fast and full
  lanes, and why), stopping enforced messages, what runs after moderation;
- :mod:`.patches`: every change made to nonebot's and the adapter's internals
  for those lanes, checked at load;
- :mod:`.events`: which events an account moderates and the core event each
  becomes; :mod:`.translate`: the pure parsing under it;
- :mod:`.gateway`: the core's Gateway for QQ, made of :mod:`.accounts` (which
  connected account serves which group, reconnect waits), :mod:`.actions`
  (verified moderation actions), :mod:`.media` (private messages, images,
  files) and :mod:`.directory` (member and group lists); :mod:`.routes` and
  :mod:`.throttle` are their bookkeeping and pacing;
- :mod:`.pictures`: the bytes of a message's pictures (``get_image``, else the URL);
- :mod:`.commands`: the slash commands, run after moderation.

This module wires them when nonebot loads the plugin, and follows the accounts
connecting and disconnecting.
"""

from __future__ import annotations

import logging

from nonebot import get_adapter, get_driver, require
from nonebot.adapters.onebot.v11 import Adapter, Bot
from nonebot.plugin import PluginMetadata

require("guard")

from plugins.guard import get_runtime, request_outbox_flush  # noqa: E402
from plugins.onebot_guard import intake  # noqa: E402
from plugins.onebot_guard.commands import QQCommands, is_command  # noqa: E402
from plugins.onebot_guard.gateway import OneBotGateway  # noqa: E402
from plugins.onebot_guard.pictures import QQPictures  # noqa: E402
from rules.core.model import Platform  # noqa: E402

__plugin_meta__ = PluginMetadata(
    name="onebot_guard",
    description="GroupGuard on QQ: moderates groups through OneBot v11 (NapCat, Lagrange), "
    "and its slash commands (/help, /帮助)",
    usage="connect the OneBot implementation to ws://HOST:PORT/onebot/v11/ws; "
    "/help or /帮助 in a group, or by private message (officers)",
)

log = logging.getLogger(__name__)
driver = get_driver()
gateway = OneBotGateway()
pictures = QQPictures(gateway.accounts, lambda: get_runtime().config.policy().images)
commands = QQCommands(gateway, lambda: get_runtime().commands, pictures)


def get_gateway() -> OneBotGateway:
    return gateway


def _adapter() -> Adapter | None:
    try:
        return get_adapter(Adapter)
    except ValueError:  # not registered (yet): the adapter's own paths only
        log.warning("OneBot adapter not registered before onebot_guard loaded: no raw lane")
        return None


intake.install(gateway, _adapter(), pictures)
intake.after_moderation(commands.follow, wants=is_command)


@driver.on_startup
async def _register() -> None:
    runtime = get_runtime()
    runtime.gateways[Platform.QQ] = gateway
    if runtime.commands is not None:
        commands.register(runtime.commands)


@driver.on_bot_connect
async def _connected(bot: Bot) -> None:
    gateway.connection_made(bot.self_id)
    request_outbox_flush(Platform.QQ)  # reports waiting for QQ go now, not after their backoff


@driver.on_bot_disconnect
async def _disconnected(bot: Bot) -> None:
    log.info("QQ account %s disconnected; its groups fall to other accounts", bot.self_id)
    gateway.connection_lost(bot.self_id)
