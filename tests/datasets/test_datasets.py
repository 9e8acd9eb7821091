"""Writing and reading datasets on the local store and on S3: len, head, stages, views, frames, CLI."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import msgpack
import numpy as np
import pytest
from datakit_types import Digit, LabelOnly, digit_to_label, digits, invert, is_even
from typer.testing import CliRunner

import altakit
from altakit.catalog import catalog_of
from altakit.cli import app
from altakit.datasets.lenses import LensRegistry, lenses_of
from altakit.errors import ConfigError, NotFound


def test_write_and_read_on_local_and_s3(any_store):
    samples = digits(250)
    ds = altakit.write_dataset(samples, "digits", store=any_store, maxcount=100, progress=False)
    assert (
        ds.version == 1 and len(ds) == 250 and [s["count"] for s in ds.manifest["shards"]] == [100, 100, 50]
    )
    again = altakit.load_dataset("digits@1", store=any_store)
    got = list(again)
    assert [s.idx for s in got] == list(range(250))
    assert all(
        np.array_equal(a.image, b.image) and a.label == b.label for a, b in zip(got, samples, strict=True)
    )
    assert altakit.write_dataset(samples[:10], "digits", store=any_store, progress=False).version == 2
    assert len(altakit.load_dataset("digits", store=any_store)) == 10
    assert len(altakit.load_dataset("dataset:digits@1", store=any_store)) == 250


def test_s3_second_epoch_reads_from_the_cache(s3_store, tmp_path):
    altakit.write_dataset(digits(300), "d", store=s3_store, maxcount=100, progress=False)
    ds = altakit.load_dataset("d", store=s3_store, cache_dir=str(tmp_path / "cache"))
    first = [b["idx"].tolist() for b in ds.batches(64, shuffle=True, seed=5)]
    assert ds.source.fetcher.downloads == 3 and ds.source.fetcher.cache_hits == 0
    second = [b["idx"].tolist() for b in ds.batches(64, shuffle=True, seed=5)]
    assert first == second and ds.source.fetcher.downloads == 3 and ds.source.fetcher.cache_hits == 3
    assert len(list((tmp_path / "cache").glob("*.tar"))) == 3


def test_cache_stays_within_its_bound(s3_store, tmp_path):
    ds = altakit.write_dataset(digits(300), "d", store=s3_store, maxcount=100, progress=False)
    one = ds.manifest["shards"][0]["bytes"]
    ds = altakit.load_dataset("d", store=s3_store, cache_dir=str(tmp_path / "c"), cache_bytes=one + one // 2)
    assert sum(b.size for b in ds.batches(50)) == 300
    assert len(list((tmp_path / "c").glob("*.tar"))) == 1


def test_the_type_is_rebuilt_from_the_stored_schema(digits_ds):
    ds = altakit.load_dataset("digits", store=digits_ds.store)
    first = ds.head(1)[0]
    assert type(first) is not Digit and type(first).__name__ == "digit" and first.image.shape == (8, 8)
    typed = altakit.load_dataset("digits", store=digits_ds.store, sample_type=Digit)
    assert isinstance(typed.head(1)[0], Digit)
    with pytest.raises(ConfigError, match="does not match"):
        altakit.load_dataset("digits", store=digits_ds.store, sample_type=LabelOnly)
    rec = catalog_of(digits_ds.store).resolve(ds.manifest["schema_ref"])
    assert rec.kind == "sample_type" and rec.doc["fingerprint"] == ds.schema.fingerprint


def test_len_head_and_stages_in_order(digits_ds, digit_samples):
    assert len(digits_ds) == 1797 and [s.idx for s in digits_ds.head(3)] == [0, 1, 2]
    even_then_inverted = digits_ds.filter(is_even).map(invert)
    got = list(even_then_inverted)
    want = [s for s in digit_samples if s.label % 2 == 0]
    assert [s.idx for s in got] == [s.idx for s in want]
    assert np.array_equal(got[0].image, 255 - want[0].image)
    with pytest.raises(TypeError):
        len(even_then_inverted)
    # map before filter sees mapped samples: the order of stages matters
    assert [s.label for s in digits_ds.map(invert).filter(is_even).head(2)] == [0, 2]
    batched = digits_ds.batch(500)
    sizes = [b["image"].shape for b in batched]
    assert len(batched) == 4 and sizes == [(500, 8, 8)] * 3 + [(297, 8, 8)]
    assert [b["label"].shape[0] for b in digits_ds.filter(is_even).batch(100)][-1] <= 100


def test_stages_pickle(digits_ds):
    import pickle

    ds = pickle.loads(pickle.dumps(digits_ds.filter(is_even).map(invert)))
    assert [s.idx for s in ds.head(2)] == [0, 2]


def test_as_type_uses_a_lens_registry(digits_ds):
    lenses = LensRegistry()
    with pytest.raises(NotFound, match="no lens"):
        digits_ds.as_type(LabelOnly, lenses=lenses)
    lenses.register(digit_to_label)
    view = digits_ds.as_type(LabelOnly, lenses=lenses)
    got = view.head(3)
    assert all(isinstance(v, LabelOnly) for v in got) and [v.label for v in got] == [0, 1, 2]
    assert [v.even for v in got] == [True, False, True]
    assert len(LensRegistry()) == 0  # registries are separate instances


def test_as_type_defaults_to_the_catalogs_registry(digits_ds):
    lenses_of(digits_ds.store).register(digit_to_label)
    got = digits_ds.as_type(LabelOnly).head(2)
    assert [v.label for v in got] == [0, 1]
    assert len(lenses_of(digits_ds.store)) == 1  # owned by this store's catalog, not a global


def test_to_polars_and_pandas(digits_ds):
    pl_df = digits_ds.to_polars()
    assert pl_df.columns == ["label", "idx"] and pl_df.height == 1797
    assert pl_df["idx"].to_list() == list(range(1797))
    pd_df = digits_ds.to_pandas()
    assert pd_df["label"].sum() == pl_df["label"].sum()


def test_shards_are_plain_tar_and_plain_webdataset(digits_ds, tmp_path):
    import webdataset as wds

    entry = digits_ds.manifest["shards"][0]
    path = tmp_path / "shard.tar"
    path.write_bytes(digits_ds.store.get(entry["key"], entry["version"]))
    listing = subprocess.run(
        ["tar", "tf", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(listing) == 400 and listing[:2] == ["000000000.mp", "000000000.image.npy"]
    with tarfile.open(path) as tf:
        assert tf.getmembers()[2].name == "000000001.mp"
    first = next(iter(wds.WebDataset(str(path), shardshuffle=False)))
    assert np.load(io.BytesIO(first["image.npy"])).shape == (8, 8) and first["__key__"] == "000000000"
    assert sorted(msgpack.unpackb(first["mp"])) == ["idx", "label"]


def test_progress_bar_is_shown(local_store, capsys):
    altakit.write_dataset(digits(20), "bar", store=local_store, progress=True)
    assert "writing bar" in capsys.readouterr().err


def test_cli_ls_info_head_verify(digits_ds):
    runner = CliRunner()
    url = str(digits_ds.store.root)
    out = runner.invoke(app, ["dataset", "ls", "--store", url])
    assert out.exit_code == 0 and "digits@1\t1797 samples\t9 shards" in out.output
    out = runner.invoke(app, ["dataset", "info", "digits@1", "--store", url])
    assert out.exit_code == 0 and '"count": 1797' in out.output and '"name": "digit"' in out.output
    out = runner.invoke(app, ["dataset", "head", "digits", "-n", "2", "--store", url])
    assert out.exit_code == 0 and out.output.splitlines()[1] == "image=uint8[8, 8]  label=1  idx=1"
    out = runner.invoke(app, ["dataset", "verify", "digits", "--store", url])
    assert out.exit_code == 0 and "9 shards, 1797 samples: ok" in out.output


def test_import_altakit_stays_light():
    code = (
        "import altakit, sys; altakit.sample; altakit.load_dataset; altakit.write_dataset; "
        "altakit.FileDataset; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'pyspark', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_write_refuses_mixed_types_and_empty_input(local_store):
    with pytest.raises(ConfigError, match="one sample type"):
        altakit.write_dataset([digits(1)[0], LabelOnly(1, False)], "x", store=local_store, progress=False)
    with pytest.raises(ConfigError, match="no samples"):
        altakit.write_dataset([], "x", store=local_store, progress=False)


def test_writing_reports_progress_on_the_event_stream(local_store):
    from altakit.datasets.write import PROGRESS_EVERY
    from altakit.events import EventStream

    stream, seen = EventStream("write"), []
    stream.subscribe(seen.append)
    n = 2 * PROGRESS_EVERY + 5
    altakit.write_dataset(
        (Digit(np.zeros((8, 8), np.uint8), i % 10, i) for i in range(n)),
        "p",
        store=local_store,
        progress=stream,
    )
    assert [e.kind for e in seen] == ["start", "progress", "progress", "progress", "end"]
    assert [e.done for e in seen if e.kind == "progress"] == [PROGRESS_EVERY, 2 * PROGRESS_EVERY, n]
    assert seen[-1].data == {"status": "finished", "samples": n}
