"""rules.logmask: configured secrets are masked in every log record and on stdout/stderr.

The whole-process check (every line a real bot prints, python-wechaty's
included) is tests/plugins/wechaty/test_real_gateway.py; these pin the parts.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from rules.config import parse_config
from rules.logmask import (
    MASK,
    Installed,
    MaskedStream,
    SecretMasker,
    config_secrets,
    install,
    secret_forms,
    url_passwords,
)

TOKEN = "tok-91fe/+ab SECRET"
PASSWORD = "p@ss:w0rd/SECRET"


@pytest.fixture
def installed() -> Iterator[Installed]:
    handle = install([TOKEN, PASSWORD], streams=False)
    try:
        yield handle
    finally:
        handle.uninstall()


def own_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    """A logger as python-wechaty makes them: own stream handler, no propagation."""
    stream = io.StringIO()
    logger = logging.getLogger(name)
    logger.handlers = [logging.StreamHandler(stream)]
    logger.handlers[0].setFormatter(logging.Formatter("%(name)s - %(message)s"))
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_a_logger_with_its_own_handler_is_masked(installed: Installed) -> None:
    logger, stream = own_logger("test.logmask.own")
    logger.warning("there are endpoint<%s> and token<%s>", "127.0.0.1:8788", TOKEN)
    logger.info(f"url postgresql+asyncpg://guard:{PASSWORD}@db/guard")
    text = stream.getvalue()
    assert TOKEN not in text and PASSWORD not in text
    assert f"token<{MASK}>" in text and f"guard:{MASK}@db" in text


def test_exceptions_and_encoded_forms_are_masked(installed: Installed) -> None:
    from urllib.parse import quote

    logger, stream = own_logger("test.logmask.exc")
    try:
        raise ConnectionError(f"cannot reach redis://:{quote(PASSWORD, safe='')}@h:6379")
    except ConnectionError:
        logger.exception("failed with %s", repr(TOKEN))
    text = stream.getvalue()
    assert "Traceback" in text and "ConnectionError" in text
    for form in secret_forms([TOKEN, PASSWORD]):
        assert form not in text


def test_records_without_secrets_keep_their_args(installed: Installed) -> None:
    record = logging.getLogger("test.logmask.args").makeRecord(
        "x", logging.INFO, __file__, 1, "%s of %d", ("three", 4), None
    )
    assert record.args == ("three", 4)
    assert record.getMessage() == "three of 4"


def test_uninstall_restores_the_record_factory() -> None:
    before = logging.getLogRecordFactory()
    handle = install([TOKEN], streams=False)
    assert logging.getLogRecordFactory() is not before
    handle.uninstall()
    assert logging.getLogRecordFactory() is before


def test_nothing_to_mask_installs_nothing() -> None:
    before = logging.getLogRecordFactory()
    handle = install(["", "   "])
    assert not handle.masker
    assert logging.getLogRecordFactory() is before


def test_streams_are_wrapped_and_restored(capsys: pytest.CaptureFixture[str]) -> None:
    handle = install([TOKEN])
    try:
        assert isinstance(sys.stdout, MaskedStream)
        print(f"Authorization: Wechaty {TOKEN}")
        sys.stderr.write(f"{TOKEN}\n")
    finally:
        handle.uninstall()
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    assert out == f"Authorization: Wechaty {MASK}\n" and err == f"{MASK}\n"


def test_loguru_patcher_masks_message_and_extra() -> None:
    masker = SecretMasker([TOKEN])
    record = {"message": f"config {{'token': '{TOKEN}'}}", "extra": {"t": TOKEN, "n": 3}}
    masker.loguru_patcher(record)
    assert record == {"message": f"config {{'token': '{MASK}'}}", "extra": {"t": MASK, "n": 3}}


def test_url_passwords() -> None:
    assert url_passwords("postgresql+asyncpg://guard:p%40ss@db:5432/guard") == ["p%40ss", "p@ss"]
    assert url_passwords("redis://:secret@127.0.0.1:6379/0") == ["secret", "secret"]
    assert url_passwords("sqlite+aiosqlite:///data/groupguard.db") == []
    assert url_passwords("redis://127.0.0.1:6379") == []


def test_config_secrets() -> None:
    config = parse_config(
        {
            "onebot": {"access_token": "ob-token"},
            "wechat": {"token": "wx-token"},
            "database": {"url": "postgresql+asyncpg://guard:db%2Fpw@db/guard"},
            "redis": {"url": "redis://:redis-pw@127.0.0.1:6379/0"},
        }
    )
    assert set(config_secrets(config)) == {"ob-token", "wx-token", "db%2Fpw", "db/pw", "redis-pw"}
    assert config_secrets(parse_config({})) == []
