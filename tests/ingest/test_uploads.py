"""Upload spools: what a process killed mid-upload leaves is swept, what is alive is not."""

from __future__ import annotations

import os
import time

from altakit.ingestion.uploads import UploadSpool


def test_a_dead_uploads_temp_file_is_swept_by_the_next_spool(tmp_path):
    def part(name: str, age_hours: float):
        path = tmp_path / name
        path.write_bytes(b"x" * 10)
        then = time.time() - age_hours * 3600
        os.utime(path, (then, then))
        return path

    dead = part("altakit-upload-dead.part", 25)
    alive = part("altakit-upload-alive.part", 1)  # another upload still arriving
    unrelated = part("notes.part", 48)
    with UploadSpool("day1.csv", folder=str(tmp_path)) as spool:
        spool.write(b"ts,value\n")
        assert not dead.exists() and alive.exists() and unrelated.exists() and spool.path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["altakit-upload-alive.part", "notes.part"]
