"""Settings: file < environment < command line; unknown keys are named; the reference file is honest."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from pydantic import BaseModel

from nanoaid_daemon.config import DEFAULT_CONFIG_PATH, Settings, load_settings
from nanoaid_daemon.errors import ConfigError


def test_precedence_is_cli_over_env_over_file(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[settle]\nquiet_s = 3.0\npoll_s = 0.3\n[watch]\nobserver = "polling"\n')
    monkeypatch.setenv("NANOAID_SETTLE__QUIET_S", "2.0")
    s = load_settings(cfg, {"settle": {"poll_s": 0.7}})
    assert s.settle.quiet_s == 2.0  # env beats file
    assert s.settle.poll_s == 0.7  # command line beats file
    assert s.watch.observer == "polling"  # the file still counts where nothing overrides it


def test_unknown_key_in_file_is_named(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[settle]\nquiet_secs = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'settle\.quiet_secs'"):
        load_settings(cfg)


def test_invalid_value_names_the_setting(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[watch]\nobserver = "telepathy"\n')
    with pytest.raises(ConfigError, match=r"watch\.observer"):
        load_settings(cfg)


def test_unknown_time_zone_is_refused():
    with pytest.raises(ConfigError, match="time zone"):
        load_settings(None, {"timezone": "Mars/Olympus"})


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_reference_config_equals_defaults_and_mentions_every_setting():
    assert load_settings(DEFAULT_CONFIG_PATH) == Settings()
    text = DEFAULT_CONFIG_PATH.read_text()

    def fields(model, prefix=""):
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                yield from fields(value, f"{prefix}{name}.")
            else:
                yield name

    missing = [f for f in fields(Settings()) if not re.search(rf"^#? ?{f} =|^\[(\w+\.)?{f}\]", text, re.M)]
    assert missing == []


def test_config_show_prints_effective_settings_and_exit_2_on_bad_key(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[bus]\nheartbeat_s = 5.0\n")
    ok = subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "config", "show", "--config", str(cfg)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and '"heartbeat_s": 5.0' in ok.stdout
    cfg.write_text("[bus]\nheartbeat = 5.0\n")
    bad = subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "config", "show", "--config", str(cfg)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "bus.heartbeat" in bad.stderr
