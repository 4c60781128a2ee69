"""The long-running service: scheduled checks, the incident engine, the status file."""
