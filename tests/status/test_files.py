"""The status files are replaced whole: a reader sees the old file or the new one."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailwatch.status.document import to_document
from mailwatch.status.files import STATUS_JSON, STATUS_TXT, write_atomically, write_status
from status.sample import GOLDEN, NOW, snapshot


def test_write_status_writes_both_files_readable_by_all(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    write_status(state_dir, snapshot(), ZoneInfo("Europe/Berlin"), NOW)
    assert (state_dir / STATUS_JSON).read_text() == (GOLDEN / "status.json").read_text()
    assert json.loads((state_dir / STATUS_JSON).read_text()) == to_document(snapshot())
    assert (state_dir / STATUS_TXT).read_text() == (GOLDEN / "status-berlin.txt").read_text()
    for name in (STATUS_JSON, STATUS_TXT):
        assert stat.S_IMODE((state_dir / name).stat().st_mode) == 0o644
    assert sorted(p.name for p in state_dir.iterdir()) == [STATUS_JSON, STATUS_TXT]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    write_atomically(tmp_path, "status.txt", "old\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(tmp_path, "status.txt", "half \udcff")
    assert [p.name for p in tmp_path.iterdir()] == ["status.txt"]
    assert (tmp_path / "status.txt").read_text() == "old\n"
