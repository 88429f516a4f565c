"""Configured secrets never reach the log, whichever library writes the line.

The bot's secrets (the OneBot access token, the WeChat puppet service token,
the database and Redis passwords) can turn up in log lines written by code we
do not control: python-wechaty prints its token at start-up through its own
handlers, a client's request URL may carry a token, a driver's error may quote
a connection URL. :func:`install` masks them in three layers, so no single
library's logging set-up can bypass it:

1. **Every stdlib log record** (``logging.setLogRecordFactory``): when a
   record's message, its formatted exception or its stack contains a secret,
   the record is rewritten (message formatted and masked, ``args`` dropped,
   ``exc_text`` pre-formatted and masked) before any handler sees it. This
   covers loggers with their own handlers and ``propagate = False``
   (python-wechaty's), grpclib, uvicorn, SQLAlchemy, asyncpg, asyncio, and
   loggers created later.
2. **loguru** (nonebot's logger): :meth:`SecretMasker.loguru_patcher` masks
   each record's message for every sink; the bot's sink writes to
   ``sys.stdout``, which is layer 3, so tracebacks loguru renders itself are
   masked too.
3. **The process's stdout and stderr** are replaced by :class:`MaskedStream`
   wrappers, the last line of defence for anything that prints (handlers
   created after install, ``print``, the default excepthook, warnings).

The module is stdlib only (the core stays free of nonebot and loguru); bot.py
hands the patcher to loguru.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    from rules.config import Config

MASK = "***"


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every non-blank secret and the forms it takes in URLs and JSON, longest first."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret or not secret.strip():
            continue
        forms.add(secret)
        forms.add(quote(secret, safe=""))
        forms.add(quote_plus(secret, safe=""))
        forms.add(json.dumps(secret)[1:-1])  # escaped inside a JSON string
        forms.add(repr(secret)[1:-1])  # escaped inside a Python repr
    return tuple(sorted(forms, key=len, reverse=True))


def url_passwords(url: str) -> list[str]:
    """The password in a URL (``scheme://user:password@host``), as written and decoded."""
    try:
        raw = urlsplit(url).password or ""
    except ValueError:
        return []
    return [raw, unquote(raw)] if raw else []


class SecretMasker:
    """Replaces every form of the given secrets with :data:`MASK`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.forms = secret_forms(secrets)

    def __bool__(self) -> bool:
        return bool(self.forms)

    def mask(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def leaks(self, text: str) -> bool:
        return any(form in text for form in self.forms)

    # ------------------------------------------------------------ stdlib logging

    def mask_record(self, record: logging.LogRecord) -> logging.LogRecord:
        """Rewrite ``record`` in place when any part of it shows a secret."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler's error path
            message = str(record.msg)
        if self.leaks(message):
            record.msg = self.mask(message)
            record.args = None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if self.leaks(text):
                record.exc_text = self.mask(text)
        if record.exc_text and self.leaks(record.exc_text):
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info and self.leaks(record.stack_info):
            record.stack_info = self.mask(record.stack_info)
        return record

    # ------------------------------------------------------------ loguru (as plain dicts)

    def loguru_patcher(self, record: dict[str, Any]) -> None:
        """A loguru ``patcher``: mask the record's message (and extra values) for every sink."""
        message = record["message"]
        if self.leaks(message):
            record["message"] = self.mask(message)
        extra = record.get("extra")
        if extra:
            for key, value in list(extra.items()):
                if isinstance(value, str) and self.leaks(value):
                    extra[key] = self.mask(value)


class MaskedStream:
    """A text stream that masks secrets in everything written to it (else the stream itself)."""

    def __init__(self, stream: TextIO, masker: SecretMasker) -> None:
        self.stream = stream
        self.masker = masker

    def write(self, text: str) -> int:
        self.stream.write(self.masker.mask(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, buffer, reconfigure, ...
        return getattr(self.stream, name)


class Installed:
    """What :func:`install` changed, so it can be undone (tests)."""

    def __init__(self, masker: SecretMasker) -> None:
        self.masker = masker
        self._undo: list[Callable[[], None]] = []

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


def install(secrets: Iterable[str], streams: bool = True) -> Installed:
    """Mask ``secrets`` in every stdlib log record and (``streams``) on stdout/stderr.

    Call it as early as possible, before the libraries log anything. Hand
    ``installed.masker.loguru_patcher`` to loguru (``logger.configure(patcher=...)``).
    Installing twice stacks harmlessly; :meth:`Installed.uninstall` undoes one.
    """
    masker = SecretMasker(secrets)
    installed = Installed(masker)
    if not masker:
        return installed

    previous_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return masker.mask_record(previous_factory(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    installed._undo.append(lambda: logging.setLogRecordFactory(previous_factory))

    if streams:
        out, err = sys.stdout, sys.stderr
        if out is not None:
            sys.stdout = MaskedStream(out, masker)
        if err is not None:
            sys.stderr = MaskedStream(err, masker)

        def restore() -> None:
            sys.stdout, sys.stderr = out, err

        installed._undo.append(restore)
    return installed


def config_secrets(config: Config) -> list[str]:
    """The secrets a GroupGuard config holds: both tokens and the passwords in its URLs."""
    secrets = [config.onebot.access_token, config.wechat.token]
    secrets += url_passwords(config.database.url) + url_passwords(config.redis.url)
    return [s for s in secrets if s.strip()]
