"""The types every layer of mailwatch shares, and nothing else.

Results and states, failure stages, tickets and their timeline, a check's remembered state,
quiet periods, notice kinds and outbox statuses, the exception tree, and the one way to read
and write instants and durations. Nothing here imports the rest of mailwatch (an import
contract in pyproject.toml keeps it so); see docs/architecture.md.
"""
