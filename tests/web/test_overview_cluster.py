"""The overview names the node (and site) that ran each check's last result: any node's page
shows the whole cluster (docs/cluster.md, "Every node shows the whole cluster")."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from mailwatch.web.html import Viewer
from mailwatch.web.overview import render_overview
from status.sample import NOW, snapshot


def test_each_check_says_which_node_ran_it() -> None:
    page = render_overview(snapshot(), ZoneInfo("UTC"), Viewer(None, None), NOW)
    mx = page[page.index("<strong>mx-main</strong>") :]
    mx = mx[: mx.index("</div>")]
    assert "on mon-b (dc2)" in mx
    # A check whose result names no node (recorded before nodes existed) says nothing more.
    disk = page[page.index("<strong>disk</strong>") :]
    assert " on " not in disk[: disk.index("</div>")]
