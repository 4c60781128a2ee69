"""Incidents: the pure engine that opens and resolves tickets, and the processor that stores
its decisions. See ``docs/incidents.md``."""
