"""bot.py as people run it: check-config, scan, and the bot starting and stopping cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_check_config_accepts_the_example() -> None:
    result = run_bot("check-config", "--config", str(ROOT / "config.example.toml"))
    assert result.returncode == 0 and "config OK" in result.stdout


def test_check_config_names_misspelled_key_and_wrong_type(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[flood]\nrepaet = 3\n[server]\nport = "eighty"\n', encoding="utf-8")
    result = run_bot("check-config", "--config", str(bad))
    assert result.returncode == 2
    assert "flood.repaet: unknown key (did you mean 'repeat'?)" in result.stderr
    assert "server.port: Input should be a valid integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_refuses_bad_config_before_connecting(tmp_path: Path) -> None:
    bad = tmp_path / "open.toml"
    bad.write_text('[server]\nhost = "0.0.0.0"\n', encoding="utf-8")
    result = run_bot("--config", str(bad))
    assert result.returncode == 2
    assert "onebot.access_token: must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_scan_file_to_file(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a", "platform": "qq", "group": "1", "user": "2", "text": "hi"}\n{broken\n',
        encoding="utf-8",
    )
    target = tmp_path / "out.jsonl"
    result = run_bot("scan", str(source), "--output", str(target))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert out[0] == {"id": "a", "findings": [], "actions": []}
    assert out[1]["line"] == 2 and "error" in out[1]
    assert "1 malformed line" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bot_starts_with_banner_and_stops_on_ctrl_c_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nport = {_free_port()}\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/gg.db"\n',
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if "dry run:" in line:  # last banner line
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        output.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(output)
    assert "ws://127.0.0.1:" in text and "/onebot/v11/ws" in text
    assert "database:" in text and "gg.db" in text
    assert "rules:" in text and "dry run:   off" in text
    assert (tmp_path / "gg.db").exists()
    assert "Traceback" not in text, text
    assert proc.returncode == 0, text
