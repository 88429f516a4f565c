"""WeChat edge: runs python-wechaty against a Wechaty puppet service inside nonebot.

When ``[wechat] enabled``, nonebot's startup builds a :class:`WechatService`
on the guard's runtime, registers its gateway (so officer reports reach WeChat
officers) and starts the connection supervisor as a background task; shutdown
cancels it. With several processes only the holder of the connection lease
connects; the others hand it their WeChat work (``service``, ``relay``). With
WeChat disabled the plugin does nothing. A WeChat endpoint that is down never
delays or stops the rest of the bot: the supervisor retries in the background.

``import wechaty`` takes about a second, so it happens here at module level
(through ``compat``, which also patches it for Python 3.11), not in a hook.
"""

from __future__ import annotations

from nonebot import get_driver, logger, require
from nonebot.plugin import PluginMetadata

require("guard")

from plugins.guard import (  # noqa: E402
    get_runtime,
    request_outbox_flush,
    request_outbox_flush_when_due,
)
from plugins.wechaty_guard.bridge import PrivateMessage  # noqa: E402
from plugins.wechaty_guard.service import WechatService  # noqa: E402
from rules.core.model import Platform  # noqa: E402

__plugin_meta__ = PluginMetadata(
    name="wechaty_guard",
    description="GroupGuard on WeChat through a Wechaty puppet service",
    usage="set [wechat] enabled, endpoint and token in the config",
)

__all__ = ["PrivateMessage", "WechatService", "get_service"]

driver = get_driver()
_state: dict[str, WechatService] = {}


def get_service() -> WechatService | None:
    """The running WeChat service, or None when WeChat is disabled or not started."""
    return _state.get("service")


@driver.on_startup
async def _start() -> None:
    runtime = get_runtime()
    if not runtime.config.wechat.enabled:
        return
    service = WechatService(runtime)
    service.on_report = request_outbox_flush_when_due
    # WeChat (re)connected, here or in another process: reports that wait for it go now
    service.on_connected = lambda: request_outbox_flush(Platform.WECHAT)
    _state["service"] = service
    service.start()
    logger.info(f"WeChat: supervisor started for {runtime.config.wechat.endpoint}")


@driver.on_shutdown
async def _stop() -> None:
    service = _state.pop("service", None)
    if service is not None:
        await service.stop()
