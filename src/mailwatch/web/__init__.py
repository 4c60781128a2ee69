"""The daemon's web face: an aiohttp application on the daemon's own event loop (``[web]``).

``app.build_app`` makes the application from a ``WebHost`` (what the daemon shares with it);
``server.WebServer`` listens. Pages render ``status.model.StatusSnapshot``; docs/web.md.
"""
