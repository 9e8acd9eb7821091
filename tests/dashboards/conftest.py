"""The dashboard tests share the widget tests' server helpers (``tests/widgets/jupyter_servers.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "widgets"))
