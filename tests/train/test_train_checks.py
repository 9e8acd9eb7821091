"""check_checkpoints and check_aliases: damage left by concurrent writers before the fixes is found."""

from __future__ import annotations

import json

from altakit.catalog import catalog_of
from altakit.train import Checkpointer
from altakit.train.checkpoint import FORMAT
from altakit.train.checks import check_aliases, check_checkpoints
from altakit.train.registry import ALIAS, MODEL, AliasDoc, ModelDoc, ModelRegistry


def test_a_manifest_listing_purged_bytes_is_found_and_repaired(local_store) -> None:
    kept = local_store.put("checkpoints/nightly/state", b"kept")
    purged = local_store.put("checkpoints/nightly/state", b"purged by the other writer")
    listed = [
        {"run": "nightly", "key": "checkpoints/nightly/state", "version": v.id, "step": i}
        for i, v in enumerate([kept, purged])
    ]
    manifest = {
        "format": FORMAT,
        "run": "nightly",
        "monitor": None,
        "mode": "min",
        "pinned": [],
        "checkpoints": listed,
    }
    local_store.put("checkpoints/nightly/manifest.json", json.dumps(manifest).encode())
    local_store.purge("checkpoints/nightly/state", purged)

    found = check_checkpoints(local_store)
    assert [(f.kind, f.subject, f.repaired) for f in found] == [
        ("missing_checkpoint", f"checkpoints/nightly@{purged.id}", False)
    ]
    assert [f.repaired for f in check_checkpoints(local_store, repair=True)] == [True]
    assert check_checkpoints(local_store) == []
    ckpt = Checkpointer(local_store, "nightly")
    assert [c.version for c in ckpt.checkpoints()] == [kept.id]
    assert ckpt.restore("latest").data == b"kept"


def test_an_alias_history_with_a_lost_move_is_reported(local_store) -> None:
    cat = catalog_of(local_store)
    for n in range(3):
        cat.register(MODEL, "m", ModelDoc("torch", "torch", "k", f"v{n}", 1, "00", {}, None, {}).to_doc())
    for version, previous, stack in [(1, None, []), (2, 1, [1]), (3, 1, [1])]:  # the move to 2 was lost
        cat.register(
            ALIAS, "m/champion", AliasDoc("m", "champion", version, previous, stack, "move").to_doc()
        )
    found = check_aliases(local_store)
    assert [(f.kind, f.subject) for f in found] == [("alias_chain", "model_alias:m/champion@3")]
    ModelRegistry(local_store).promote("m", 1)  # moves from now on chain, the old history stays as it was
    assert len(check_aliases(local_store)) == 1
