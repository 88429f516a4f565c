"""Process settings: how this bot process runs, the same for every group.

``[server]``, ``[onebot]``, ``[database]``, ``[redis]``, ``[wechat]`` and
``[commands]``. None of these can be overridden per group.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator, model_validator
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from rules.config.fields import Duration, QualifiedId, Section


def _ip_address(value: object) -> object:
    """An IP address as the server binds it ("localhost" is 127.0.0.1; no other names)."""
    if value == "localhost":
        return "127.0.0.1"
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(
                "use an IP address: 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)"
            ) from None
    return value


class ServerSettings(Section):
    host: Annotated[str, BeforeValidator(_ip_address)] = Field(
        "127.0.0.1", description="Address the bot listens on for OneBot."
    )
    port: int = Field(8080, ge=1, le=65535, description="Port the bot listens on.")
    stats_interval: Duration = Field(
        default_factory=lambda: timedelta(minutes=10),
        description="Log one line of counts (events, cases, failed actions, skipped notices) "
        "this often; 0: only at shutdown.",
    )
    stop_grace: Duration = Field(
        default_factory=lambda: timedelta(seconds=10),
        description="On SIGTERM or Ctrl-C: stop taking events and let those in flight finish "
        "(their actions and records) for at most this long; what is left is recorded as "
        "interrupted and settled at the next start.",
    )

    @property
    def loopback_only(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback


class OneBotSettings(Section):
    access_token: str = Field(
        "", description="Token NapCat/Lagrange must send; required unless host is loopback."
    )


class DatabaseSettings(Section):
    url: str = Field(
        "sqlite+aiosqlite:///data/groupguard.db",
        description="SQLAlchemy async URL; relative SQLite paths are under the project root.",
    )
    timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=10),
        description="A database call unanswered this long counts as an outage (writes queue).",
    )
    outage_spool: str = Field(
        "",
        description="File where writes queued during an outage are kept (replayed at the next "
        "start); relative paths are under the project root. Empty: beside a SQLite database "
        "file, else data/outage-<port>.spool.",
    )

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
            raise ValueError(
                f"unsupported database URL scheme {scheme!r} "
                "(use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db)"
            )
        try:
            make_url(value)
        except (ValueError, ArgumentError):  # the messages may quote the URL: not shown
            raise ValueError("not a valid database URL (check the host and port)") from None
        return value


class CommandSettings(Section):
    superusers: list[QualifiedId] = Field(
        default_factory=list,
        description="Ids that may run every command in every group (besides owners/admins).",
    )
    report_limit: int = Field(
        3, ge=1, description="Reports (/report, /举报) one member may make per report_window."
    )
    report_window: Duration = Field(
        default_factory=lambda: timedelta(minutes=10), description="Window of report_limit."
    )
    appeal_limit: int = Field(
        3, ge=1, description="Appeals (/appeal, /申诉) one member may make per day."
    )


class RedisSettings(Section):
    url: str = Field(
        "",
        description="Redis URL for state several bot processes share; empty: this process alone.",
    )
    key_prefix: str = Field(
        "groupguard:", description="Prefix of every key, so deployments can share one Redis."
    )
    timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=1),
        description="A Redis call unanswered this long means Redis is unreachable (local state).",
    )

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if value and scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(f"unsupported Redis URL scheme {scheme!r} (use redis://host:6379/0)")
        return value


class WechatSettings(Section):
    enabled: bool = Field(False, description="Connect to a Wechaty puppet service.")
    endpoint: str = Field("", description="Puppet service gateway host:port.")
    token: str = Field("", description="Puppet service token.")
    connect_timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=5),
        description="Give up a connection attempt to the endpoint after this long.",
    )
    rpc_timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=10),
        description="Deadline of every call to the puppet service (Start, sends, RoomDel...).",
    )
    ding_interval: Duration = Field(
        default_factory=lambda: timedelta(seconds=30),
        description="How often the liveness check (ding -> dong) runs.",
    )
    ding_timeout: Duration = Field(
        default_factory=lambda: timedelta(seconds=10),
        description="A ding unanswered this long means the server hung: reconnect.",
    )
    backoff_initial: Duration = Field(
        default_factory=lambda: timedelta(seconds=1),
        description="First wait before reconnecting; doubles per failed attempt.",
    )
    backoff_max: Duration = Field(
        default_factory=lambda: timedelta(minutes=5),
        description="Longest wait between reconnection attempts.",
    )
    send_interval_room: Duration = Field(
        default_factory=lambda: timedelta(seconds=2),
        description="Minimum gap between two outgoing actions in one room.",
    )
    send_interval: Duration = Field(
        default_factory=lambda: timedelta(seconds=1),
        description="Minimum gap between any two outgoing actions of the account.",
    )

    @model_validator(mode="after")
    def _endpoint_when_enabled(self) -> WechatSettings:
        if self.enabled and not self.endpoint:
            raise ValueError("endpoint: required when wechat is enabled (host:port)")
        return self
