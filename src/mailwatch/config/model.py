"""The whole configuration file as one validated model. Every section is optional."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.config.checks import CheckBase
from mailwatch.config.checks.registry import ChecksConfig
from mailwatch.config.daemon import DaemonConfig
from mailwatch.config.escalation import (
    EscalationPolicyConfig,
    OutboxConfig,
    PolicyName,
    RemindersConfig,
    check_escalation_references,
)
from mailwatch.config.incidents import IncidentsConfig, check_incident_references
from mailwatch.config.maintenance import MaintenanceWindowConfig, check_maintenance_references
from mailwatch.config.metrics import MetricsConfig
from mailwatch.config.node import NodeConfig
from mailwatch.config.routes import AlertsConfig, RouteConfig, RouteName, check_route_references
from mailwatch.config.sla import BusinessCalendarConfig, SlaPlanConfig, check_plan_references
from mailwatch.config.store import StoreConfig
from mailwatch.config.web import WebConfig


class MailwatchConfig(StrictModel):
    """The root of ``mailwatch.toml``."""

    schema_url: str | None = Field(default=None, alias="$schema")
    """Where editors find this file's JSON Schema (``mailwatch schema``); mailwatch ignores it."""
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    calendars: dict[str, BusinessCalendarConfig] = Field(default_factory=dict)
    plans: dict[str, SlaPlanConfig] = Field(default_factory=dict)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    node: NodeConfig = Field(default_factory=NodeConfig)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    maintenance: list[MaintenanceWindowConfig] = Field(default_factory=list)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    routes: dict[RouteName, RouteConfig] = Field(default_factory=dict)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    escalation: dict[PolicyName, EscalationPolicyConfig] = Field(default_factory=dict)
    reminders: RemindersConfig = Field(default_factory=RemindersConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    @model_validator(mode="after")
    def _references(self) -> MailwatchConfig:
        check_plan_references(self.calendars, self.plans)
        checks = list(self.checks)
        counts = Counter(check.name for check in checks)
        duplicated = sorted(name for name, n in counts.items() if n > 1)
        if duplicated:
            raise ValueError(f"check names must be unique; repeated: {', '.join(duplicated)}")
        for check in checks:
            unknown = [dep for dep in check.depends_on if dep not in counts]
            if unknown:
                raise ValueError(
                    f"check {check.name} depends_on unknown check(s): {', '.join(unknown)}"
                )
            if check.plan is not None and check.plan not in self.plans:
                raise ValueError(f"check {check.name} names unknown plan {check.plan}")
        return self

    @model_validator(mode="after")
    def _incident_references(self) -> MailwatchConfig:
        names = {check.name for check in self.checks}
        check_incident_references(self.incidents, self.plans, names)
        check_maintenance_references(self.maintenance, names, set(self.routes))
        return self

    @model_validator(mode="after")
    def _route_references(self) -> MailwatchConfig:
        names = {check.name for check in self.checks}
        check_route_references(self.routes, self.calendars, names)
        return self

    @model_validator(mode="after")
    def _escalation_references(self) -> MailwatchConfig:
        check_escalation_references(self.escalation, self.routes)
        return self

    _by_name: dict[str, CheckBase] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._by_name = {check.name: check for check in self.checks}

    def check_named(self, name: str) -> CheckBase | None:
        """The configured check called ``name`` (a dict lookup: the daemon asks for every
        result, and a scan of 1,000 checks each time showed in its profile)."""
        return self._by_name.get(name)

    def enabled_checks(self) -> list[CheckBase]:
        return [check for check in self.checks if check.enabled]
