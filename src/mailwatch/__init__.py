"""mailwatch: proves that mail flows, and keeps the clock when it does not."""

__version__ = "0.1.0"
