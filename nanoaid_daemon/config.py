"""One validated settings model. Precedence: command line > environment > TOML file > defaults.

Environment variables are ``NANOAID_<SECTION>__<KEY>`` (e.g. ``NANOAID_SETTLE__QUIET_S=1``).
An unknown key anywhere is an error that names it. ``default-config.toml`` beside this module is
the commented reference; a test keeps it equal to the defaults here.
"""
from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from .errors import ConfigError

__all__ = [
    "Settings", "load_settings", "config_hash", "default_models_dir", "DEFAULT_CONFIG_PATH", "MODELS_SETTING",
    "deep_merge",
]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default-config.toml")
DEFAULT_INCLUDE = ["*.tif", "*.tiff", "*.png", "*.jpg", "*.jpeg"]


#: The package the shipped models install as (the checkout's ``models/``, mapped in setup.py).
MODELS_PACKAGE = "nanoaid_models"
MODELS_SETTING = "models.dir (environment: NANOAID_MODELS__DIR)"


def default_models_dir() -> Path:
    """The models folder that ships inside the distribution, wherever it was installed.

    Found through ``importlib.resources`` rather than a path relative to this file: a wheel installs
    the package in site-packages, where no ``models/`` sits beside ``nanoaid_daemon``.
    """
    try:
        root = importlib.resources.files(MODELS_PACKAGE)
    except ModuleNotFoundError:
        raise ConfigError(f"the shipped models (package {MODELS_PACKAGE}) are not installed; reinstall "
                          f"nanoaid-daemon, or set {MODELS_SETTING} to a folder of models") from None
    return root if isinstance(root, Path) else Path(str(root))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class WatchSettings(_Section):
    root: Path | None = Field(None, description="Folder the instrument saves frames into.")
    recursive: bool = True
    include: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INCLUDE), description="Glob patterns of frame names."
    )
    exclude: list[str] = Field(default_factory=list, description="Glob patterns (names or relative paths) to skip.")
    observer: Literal["auto", "native", "polling", "none"] = Field(
        "auto", description="'native' (inotify etc.), 'polling' for network shares, 'none': reconcile scans only."
    )
    polling_interval_s: float = Field(1.0, gt=0)
    reconcile_interval_s: float = Field(
        30.0, gt=0, description="Full scan against the journal; watchdog events are hints."
    )


class SettleSettings(_Section):
    quiet_s: float = Field(0.5, ge=0, description="Size and mtime must be unchanged this long.")
    poll_s: float = Field(0.1, gt=0)
    timeout_s: float = Field(600.0, gt=0, description="A file still changing after this long is rejected.")
    incomplete_grace_s: float = Field(
        10.0, ge=0, description="A stable file whose structure is incomplete (truncated) is rejected after this long."
    )


class OutputSettings(_Section):
    root: Path | None = Field(
        None, description="Write sidecars/previews here (same relative path) instead of beside the frame."
    )


class BusSettings(_Section):
    bind: str = Field("127.0.0.1", description="Interface for the event endpoints. Non-loopback needs CURVE keys.")
    pub_port: int = Field(0, ge=0, le=65535, description="0: any free port; the chosen one is in STATE/endpoints.json.")
    replay_port: int = Field(0, ge=0, le=65535)
    command_port: int = Field(0, ge=0, le=65535)
    heartbeat_s: float = Field(1.0, gt=0)
    send_hwm: int = Field(
        10000, ge=1, description="Per-subscriber send queue bound; a slow subscriber replays what it misses."
    )
    replay_page_max: int = Field(
        1000, ge=1, le=100000, description="Most events one replay reply carries; clients page."
    )
    max_request_bytes: int = Field(
        65536,
        ge=1024,
        le=1 << 20,
        description="Larger replay/command requests get an error reply (over 1 MiB: dropped).",
    )
    server_secret_key: Path | None = Field(None, description="CURVE secret key file (mode 0600). Enables CURVE.")
    authorized_keys: Path | None = Field(None, description="Folder of allowed client public keys.")


class PipelineSettings(_Section):
    cpu_budget: int | None = Field(None, ge=1, description="Worker threads; default: all cores but one, at least 1.")
    analyzer_timeout_s: float = Field(30.0, gt=0)
    queue_size: int = Field(1000, ge=1)

    def workers(self) -> int:
        return self.cpu_budget or max(1, (os.cpu_count() or 2) - 1)


class ModelSettings(_Section):
    dir: Path | None = Field(
        None, description="Folder of ONNX models and their cards; default: the shipped models (package nanoaid_models)."
    )
    providers: list[str] = Field(default_factory=lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    accept_threshold: float | None = Field(None, ge=0, le=1, description="Override the model card's 0.8.")
    review_threshold: float | None = Field(None, ge=0, le=1, description="Override the model card's 0.35.")
    max_batch: int = Field(
        16, ge=1, le=256, description="Most frames one batched inference run takes when a backlog builds up."
    )

    def resolved_dir(self) -> Path:
        return self.dir or default_models_dir()


class AdaptationSettings(_Section):
    enabled: bool = Field(True, description="Re-fit the classifier head from operator corrections while running.")
    batch_s: float = Field(2.0, ge=0, description="Re-fit once corrections have been quiet this long.")
    max_wait_s: float = Field(8.0, gt=0, description="... but never later than this after the first unfitted one.")
    poll_s: float = Field(0.5, gt=0, description="How often the journal and current.json are checked.")


class PluginSettings(_Section):
    disabled: list[str] = Field(default_factory=list, description="Plugin names not to load.")
    options: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per-plugin options by name.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NANOAID_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    state_dir: Path = Field(Path("nanoaid-state"), description="Journal, endpoints.json, keys; on local disk.")
    timezone: str | None = Field(None, description="IANA zone of the instrument clock; default: this host's.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    watch: WatchSettings = Field(default_factory=WatchSettings)
    settle: SettleSettings = Field(default_factory=SettleSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    adaptation: AdaptationSettings = Field(default_factory=AdaptationSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            from zoneinfo import ZoneInfo

            try:
                ZoneInfo(v)
            except Exception as exc:
                raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if _ACTIVE_TOML is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_ACTIVE_TOML))
        return tuple(sources)


_ACTIVE_TOML: Path | None = None


def _describe(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown setting {key!r} in {origin}")
        else:
            lines.append(f"setting {key!r}: {err['msg']}")
    return "; ".join(lines)


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, nested tables merged key by key (settings files, ELN blocks)."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the effective settings or raise ConfigError naming the bad key and its origin."""
    global _ACTIVE_TOML
    config_file = config_file or (Path(os.environ["NANOAID_CONFIG"]) if os.environ.get("NANOAID_CONFIG") else None)
    if config_file is not None and not Path(config_file).is_file():
        raise ConfigError(f"config file {config_file} does not exist (given by --config or NANOAID_CONFIG)")
    origin = f"config file {config_file}" if config_file else "the environment"
    _ACTIVE_TOML = Path(config_file) if config_file else None
    try:
        if overrides:
            # Nested command-line values merge into the file/env values instead of replacing a section.
            base = Settings().model_dump(exclude_unset=True)
            return Settings(**deep_merge(base, overrides))
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
    except ValueError as exc:  # TOML syntax errors
        raise ConfigError(f"cannot read {origin}: {exc}") from None
    finally:
        _ACTIVE_TOML = None


def config_hash(settings: Settings) -> str:
    payload = json.dumps(settings.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
