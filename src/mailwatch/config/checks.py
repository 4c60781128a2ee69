"""Fields every check shares, whatever its kind."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from mailwatch.config.base import StrictModel

CheckName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""Check names go into mail headers, ticket keys and file names: keep them plain."""


class CheckBase(StrictModel):
    """One configured check. Subclasses set ``kind`` and say what they look at in ``target``."""

    kind: ClassVar[str]

    name: CheckName
    enabled: bool = True
    interval_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)
    severity: int | None = Field(default=None, ge=1, le=4)
    depends_on: list[CheckName] = Field(default_factory=list)
    plan: str | None = None
    tags: list[str] = Field(default_factory=list)
    runbook: str | None = None

    @property
    def target(self) -> str:
        """What the check looks at, for people and for ticket de-duplication."""
        return self.name
