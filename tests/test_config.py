"""The environment is read once, into one Config."""

from __future__ import annotations

from pathlib import Path

import pytest

from sma_host.config import COMMAND_IDLE_S, DEFAULT_POLL_S, DEFAULT_STALL_S, Config


def test_defaults_without_settings() -> None:
    config = Config.from_environ({})
    assert config == Config()
    assert config.push and config.poll_interval == DEFAULT_POLL_S and config.data_dir is None


def test_every_setting_is_read() -> None:
    config = Config.from_environ(
        {
            "SMA_HOST_DATA_DIR": "/tmp/sma",
            "SMA_HOST_LOG": "debug",
            "SMA_HOST_PUSH": "OFF",
            "SMA_HOST_POLL_S": "5",
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        }
    )
    assert config.data_dir == Path("/tmp/sma") and config.log_level == "DEBUG"
    assert not config.push and config.poll_interval == 5.0 and config.keyring_backend_chosen
    assert config.warnings == ()


@pytest.mark.parametrize("value", ["0", "no", "off", "Off"])
def test_push_can_be_switched_off(value: str) -> None:
    assert not Config.from_environ({"SMA_HOST_PUSH": value}).push


@pytest.mark.parametrize(("value", "seconds"), [("0.01", 1.0), ("99999", 3600.0), ("42.5", 42.5)])
def test_the_poll_interval_is_clamped(value: str, seconds: float) -> None:
    assert Config.from_environ({"SMA_HOST_POLL_S": value}).poll_interval == seconds


@pytest.mark.parametrize("value", ["soon", "nan", "inf", ""])
def test_a_poll_interval_that_is_no_number_falls_back_with_a_warning(value: str) -> None:
    config = Config.from_environ({"SMA_HOST_POLL_S": value})
    assert config.poll_interval == DEFAULT_POLL_S
    assert len(config.warnings) == 1 and "SMA_HOST_POLL_S" in config.warnings[0]


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, DEFAULT_STALL_S), ("0.2", 1.0), ("9999", 600.0), ("2", 2.0)]
)
def test_the_stall_bound_is_clamped(value: str | None, seconds: float) -> None:
    environ = {} if value is None else {"SMA_HOST_STALL_S": value}
    assert Config.from_environ(environ).stall_s == seconds
    assert Config.from_environ({"SMA_HOST_STALL_S": "never"}).stall_s == DEFAULT_STALL_S


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, COMMAND_IDLE_S), ("0.5", 1.0), ("120", 30.0), ("2", 2.0)]
)
def test_the_command_idle_close_can_only_come_sooner(value: str | None, seconds: float) -> None:
    environ = {} if value is None else {"SMA_HOST_COMMAND_IDLE_S": value}
    assert Config.from_environ(environ).command_idle_s == seconds
