"""``/static/NAME``: the stylesheet and other assets shipped inside the package (the
monitoring host may have no internet, so nothing comes from a CDN)."""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web

from mailwatch.web.access import public

_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


def _load() -> dict[str, tuple[bytes, str]]:
    found: dict[str, tuple[bytes, str]] = {}
    for item in files("mailwatch.web").joinpath("static").iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if item.is_file() and suffix in _TYPES:
            found[item.name] = (item.read_bytes(), _TYPES[suffix])
    return found


def asset_routes() -> list[web.RouteDef]:
    assets = _load()

    @public
    async def asset(request: web.Request) -> web.Response:
        found = assets.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        return web.Response(
            body=body,
            content_type=content_type,
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return [web.get("/static/{name}", asset)]
