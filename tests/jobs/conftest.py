"""tests/jobs: Jupyter Scheduler with altakit's execution manager on real servers (tests/widgets helpers)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "widgets"))
