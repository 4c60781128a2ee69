"""The daemon's web face: pages for people, and the JSON API (``/api/v1``) for programs."""
