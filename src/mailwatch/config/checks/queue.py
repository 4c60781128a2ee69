"""The ``queue`` kind: which MTA's queue to read, and how full, old or fast-growing is bad.

One check kind, ``queue``, whose ``mta`` picks the keys that apply: ``postfix`` (``postqueue
-j``), ``exim`` (``exim -bpc`` and ``-bp``), ``command`` (any program that prints a count).
A level is switched off with ``"off"``, as in the resources check. The probe is
``mailwatch.probes.queue``.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from mailwatch.config.checks.base import CheckBase, CheckKind
from mailwatch.config.checks.levels import Level, Limits
from mailwatch.domain.kinds import ANY, CRITICAL_ONLY, Figure, SeverityRule

MTAS = ("postfix", "exim", "command")


def level_keys(name: str) -> tuple[str, str]:
    """The config keys of one limit: ``oldest_s`` -> ``oldest_warning_s``, ``oldest_critical_s``."""
    base, _, unit = name.partition("_")
    suffix = f"_{unit}" if unit else ""
    return f"{base}_warning{suffix}", f"{base}_critical{suffix}"


class QueueCheckBase(CheckBase):
    """Fields of every queue check: the size limits and the growth rate."""

    kind = "queue"

    total_warning: Level = 100
    total_critical: Level = 500
    growth_warning_per_min: Level = None
    growth_critical_per_min: Level = None
    growth_window_s: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _levels_in_order(self) -> QueueCheckBase:
        for name, limits in self.limits().items():
            warning, critical = limits.warning, limits.critical
            if warning is not None and critical is not None and warning > critical:
                warning_key, critical_key = level_keys(name)
                raise ValueError(f"{warning_key} must not be above {critical_key}")
        return self

    def limits(self) -> dict[str, Limits]:
        """Warning and critical levels by what they apply to (``total``, ``oldest_s``, ...)."""
        return {
            "total": Limits(self.total_warning, self.total_critical),
            "growth_per_min": Limits(self.growth_warning_per_min, self.growth_critical_per_min),
        }


class PostfixQueue(QueueCheckBase):
    """Postfix: ``postqueue -j``, one JSON object per queued message."""

    mta: Literal["postfix"] = "postfix"
    postqueue_path: str = Field(default="postqueue", min_length=1)
    postfix_config_dir: Path | None = None
    deferred_warning: Level = 50
    deferred_critical: Level = 200
    hold_warning: Level = None
    hold_critical: Level = None
    oldest_warning_s: Level = 3600
    oldest_critical_s: Level = 14400

    def limits(self) -> dict[str, Limits]:
        return {
            **super().limits(),
            "deferred": Limits(self.deferred_warning, self.deferred_critical),
            "hold": Limits(self.hold_warning, self.hold_critical),
            "oldest_s": Limits(self.oldest_warning_s, self.oldest_critical_s),
        }

    @property
    def target(self) -> str:
        if self.postfix_config_dir is None:
            return "Postfix queue"
        return f"Postfix queue ({self.postfix_config_dir})"


class EximQueue(QueueCheckBase):
    """Exim: ``exim -bpc`` for the count, ``exim -bp`` for ages and frozen messages."""

    mta: Literal["exim"]
    exim_path: str = Field(default="exim", min_length=1)
    frozen_warning: Level = None
    frozen_critical: Level = None
    oldest_warning_s: Level = 3600
    oldest_critical_s: Level = 14400

    def limits(self) -> dict[str, Limits]:
        return {
            **super().limits(),
            "frozen": Limits(self.frozen_warning, self.frozen_critical),
            "oldest_s": Limits(self.oldest_warning_s, self.oldest_critical_s),
        }

    @property
    def target(self) -> str:
        return "Exim queue"


class CommandQueue(QueueCheckBase):
    """Any program that prints the number of queued messages."""

    mta: Literal["command"]
    command: list[str] = Field(min_length=1)
    count_pattern: str | None = None

    @field_validator("command")
    @classmethod
    def _program_named(cls, value: list[str]) -> list[str]:
        if not value[0]:
            raise ValueError("the first element names the program and must not be empty")
        return value

    @field_validator("count_pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if groups != 1:
            raise ValueError(f"needs exactly one group (the count), has {groups}")
        return value

    @property
    def count_regex(self) -> re.Pattern[str] | None:
        return re.compile(self.count_pattern) if self.count_pattern is not None else None

    @property
    def target(self) -> str:
        return f"queue command {self.command[0]}"


def _mta_tag(value: Any) -> str | None:
    # A missing mta means Postfix, the common case on Debian.
    mta = value.get("mta", "postfix") if isinstance(value, dict) else getattr(value, "mta", None)
    return mta if mta in MTAS else None


QueueCheck = Annotated[
    Annotated[PostfixQueue, Tag("postfix")]
    | Annotated[EximQueue, Tag("exim")]
    | Annotated[CommandQueue, Tag("command")],
    Discriminator(
        _mta_tag,
        custom_error_type="queue_mta",
        custom_error_message=f"mta must be one of: {', '.join(MTAS)}",
    ),
]
"""A ``[[checks.queue]]`` entry; its ``mta`` (default ``postfix``) decides which model applies."""


class QueueStage(enum.StrEnum):
    """``queue_command`` (tool missing, not executable, failed), ``queue_parse`` (output not
    understood), then the limits a queue can reach."""

    QUEUE_COMMAND = "queue_command"
    QUEUE_PARSE = "queue_parse"
    QUEUE_SIZE = "queue_size"
    QUEUE_DEFERRED = "queue_deferred"
    QUEUE_HOLD = "queue_hold"
    QUEUE_FROZEN = "queue_frozen"
    QUEUE_AGE = "queue_age"
    QUEUE_GROWTH = "queue_growth"


KIND = CheckKind(
    name="queue",
    config=QueueCheck,
    stages=QueueStage,
    probe="mailwatch.probes.queue",
    severity=(SeverityRule((ANY,), CRITICAL_ONLY, 2, "mail queue over critical"),),
    exported=(
        Figure("total_messages", "messages", "Messages in the queue, all parts together"),
        Figure(
            "{queue}_messages",
            "part_messages",
            "Messages in one part of the queue (Postfix: active, incoming, deferred, hold; "
            "Exim: frozen)",
        ),
        Figure("oldest_age_s", "oldest_message_age_seconds", "Age of the oldest queued message"),
        Figure(
            "growth_per_min",
            None,
            "Not exported: deriv(mailwatch_queue_messages[10m]) * 60 says it over any window",
        ),
    ),
)
