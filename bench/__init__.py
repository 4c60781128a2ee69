"""mailwatch side by side with check_email_delivery: timing accuracy, cost per probe, scale.

Run it with ``bench/run`` (see docs/performance.md). Not a test suite: pytest never collects it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The bench drives the tests' mail server harness (tests/harness), which is not installed.
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
