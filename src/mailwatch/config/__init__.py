"""Configuration: one TOML file validated by strict pydantic models."""

from mailwatch.config.loader import DEFAULT_CONFIG_PATH, EX_CONFIG, config_path, load_config
from mailwatch.config.model import MailwatchConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EX_CONFIG",
    "MailwatchConfig",
    "config_path",
    "load_config",
]
