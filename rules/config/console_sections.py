"""The ``[console]`` section: the officer web console served by the bot (issue 20).

Global only (one web server per process). Off by default; on a loopback
``[server] host`` it needs nothing else (links point at
``http://127.0.0.1:<port>``). On any other address the console is reachable
from the network, so :class:`~rules.config.Config` refuses it unless
``public_url`` is an ``https://`` URL (a reverse proxy terminating TLS):
sessions then get Secure cookies and links never travel in clear text
(:func:`exposure_problem`).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator

from rules.config.fields import Duration, Section


def _check_base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r} (use e.g. https://guard.example.org)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("the base URL takes no query, fragment or credentials")
    return value


class ConsoleSettings(Section):
    enabled: bool = Field(False, description="Serve the officer console under /console.")
    public_url: Annotated[str, AfterValidator(_check_base_url)] = Field(
        "",
        description="Base URL people open (e.g. https://guard.example.org, behind a reverse "
        "proxy); sign-in links start with it. Empty: http://127.0.0.1:<server.port>.",
    )
    session_lifetime: Duration = Field(
        default_factory=lambda: timedelta(hours=8),
        description="How long a signed-in session lasts.",
    )
    link_lifetime: Duration = Field(
        default_factory=lambda: timedelta(minutes=5),
        description="How long a one-time sign-in link may be used.",
    )
    redeem_limit: int = Field(
        10, ge=1, description="Sign-in attempts allowed per address per minute."
    )

    @field_validator("session_lifetime")
    @classmethod
    def _session_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=5) <= value <= timedelta(days=30):
            raise ValueError("use between 5 minutes and 30 days")
        return value

    @field_validator("link_lifetime")
    @classmethod
    def _link_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=30) <= value <= timedelta(minutes=15):
            raise ValueError("use between 30 seconds and 15 minutes")
        return value

    @property
    def https(self) -> bool:
        return self.public_url.startswith("https://")

    def base_url(self, port: int) -> str:
        return self.public_url or f"http://127.0.0.1:{port}"


def exposure_problem(settings: ConsoleSettings, server_host: str) -> str | None:
    """Why the console must not be served on ``server_host``, or None.

    Off loopback the console is reachable from the network, so it needs a
    public HTTPS base URL (a reverse proxy terminating TLS): sessions then get
    Secure cookies and links never travel in clear text.
    """
    if not settings.enabled or ipaddress.ip_address(server_host).is_loopback:
        return None
    if settings.https:
        return None
    return (
        f"console.public_url: must be an https:// URL when server.host ({server_host}) "
        "is not a loopback address (put the bot behind a reverse proxy with HTTPS)"
    )
