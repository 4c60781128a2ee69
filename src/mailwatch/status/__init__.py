"""The status model: one frozen snapshot of the daemon's world, and the renderers that read it:
``status.json`` and ``status.txt`` today (docs/status-file.md); web pages and an API later.
"""
