"""Typed samples written from Spark (local[2,4]): each partition writes its shards, the driver the manifest.

The samples are the local path's for the same rows, byte for byte; plain ``webdataset`` and the
exact-once torch loader read them; a killed task attempt's shards are in no manifest and are swept.
One Spark session is shared by the module; its Python workers carry a fault point that kills only
while the marker file is missing (``ALTAKIT_FAULT_ONCE``), so one session serves every test.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Annotated

import numpy as np
import pytest
from fixtures.parts import java_ok, need

import altakit
from altakit.datasets.samples import Array, sample

pytestmark = pytest.mark.jvm

ROWS, PARTS = 300, 3


@sample(name="spark_record")
class Record:
    x: Annotated[np.ndarray, Array("float32", (3,))]
    pixels: Annotated[np.ndarray, Array("uint8", (2, 2))]
    label: int
    score: float
    name: str
    blob: bytes
    note: str | None = None


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """A local[2,4] session (a failed task is retried) whose workers die at ``spark.dataset_written``
    once the returned marker is removed (it exists, so nothing is killed until a test removes it)."""
    need(
        importlib.util.find_spec("pyspark") is not None,
        "pyspark is not installed (pip install 'altakit[spark]')",
    )
    need(java_ok(), "Java 17 is not installed (apt-get install openjdk-17-jre)")
    from altakit.ingestion.engines import spark as engine_spark

    killed = tmp_path_factory.mktemp("fault") / "killed"
    killed.touch()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALTAKIT_FAULT", "spark.dataset_written")
        mp.setenv("ALTAKIT_FAULT_ONCE", str(killed))
        engine_spark.stop_all()  # the workers of a new session inherit the fault
        session = engine_spark.session("local[2,4]")
    yield session, killed
    engine_spark.stop_all()


def frame(session, rows: int = ROWS):
    """``rows`` rows in ``PARTS`` partitions, in ``id`` order (no shuffle): every field type of a sample."""
    from pyspark.sql import functions as F

    i = F.col("id")
    return session.range(0, rows, numPartitions=PARTS).select(
        F.array((i * 0.5).cast("float"), (i + 1.0).cast("float"), (-i / 7).cast("float")).alias("x"),
        F.array(*[((i + k) % 256).cast("int") for k in range(4)]).alias("pixels"),  # flat: reshaped to (2, 2)
        i.alias("label"),
        (i / 3).alias("score"),
        F.concat(F.lit("row é "), i.cast("string")).alias("name"),
        F.concat(F.lit("b"), i.cast("string")).cast("binary").alias("blob"),
        F.when(i % 3 == 0, F.concat(F.lit("note "), i.cast("string"))).alias("note"),
        F.lit(1).alias("unused"),
    )


def local_samples(df) -> list[Record]:
    """The same rows as the local path gets them (the test collects them; the library never does)."""
    from altakit.datasets.spark_write import sample_from_row

    return [sample_from_row(Record, row) for row in df.toArrow().to_pylist()]


def raw_members(ds, tmp_path) -> list[dict]:
    """Every sample's members as bytes, read by plain webdataset (no altakit, no decoding)."""
    wds = pytest.importorskip("webdataset")
    paths = []
    for i, entry in enumerate(ds.manifest["shards"]):
        path = tmp_path / f"{ds.name}-{i:06d}.tar"
        path.write_bytes(ds.store.get(entry["key"], entry["version"]))
        paths.append(str(path))
    return list(wds.WebDataset(paths, shardshuffle=False, empty_check=False))


def stored(store, ds) -> tuple[set, set]:
    """(versions under the write's folder, versions the manifest lists)."""
    prefix = ds.manifest["shards"][0]["key"].rsplit("/", 1)[0] + "/"
    on_store = {(v.key, v.id) for latest in store.list(prefix) for v in store.versions(latest.key)}
    return on_store, {(s["key"], s["version"]) for s in ds.manifest["shards"]}


def test_a_killed_task_attempt_leaves_no_shard_in_the_manifest_and_its_shards_are_swept(spark, local_store):
    """The Python worker of one attempt is SIGKILLed after writing its shards: Spark retries the task,
    the manifest lists the retry's shards only, and the killed attempt's are removed.

    First in the module: a worker process dies at its first pass of the point (``faults`` counts per
    process), and Spark reuses its Python workers, so this needs workers that ran no task yet.
    """
    from altakit.datasets.gc import orphan_shards
    from altakit.datasets.spark_write import write_dataset_from_spark

    session, killed = spark
    os.remove(killed)  # the next worker to reach the point dies (once)
    df = frame(session)
    ds = write_dataset_from_spark(df, "spark", Record, store=local_store, maxcount=40)
    assert killed.exists()  # an attempt was killed after writing
    assert [s.label for s in ds] == list(range(ROWS))  # no sample twice, none missed
    on_store, listed = stored(local_store, ds)
    assert on_store == listed  # the killed attempt's shards were swept
    assert orphan_shards(local_store, grace=0) == []


def test_spark_writes_the_samples_the_local_path_writes(spark, local_store, tmp_path):
    session, _ = spark
    df = frame(session)
    ds = altakit.write_dataset_from_spark(
        df, "spark", Record, store=local_store, maxcount=40, description="d"
    )
    expected = local_samples(df)
    local = altakit.write_dataset(expected, "local", store=local_store, maxcount=40, progress=False)
    assert (len(ds), ds.manifest["schema_ref"], ds.manifest["description"]) == (
        ROWS,
        local.manifest["schema_ref"],
        "d",
    )
    assert len(ds.manifest["shards"]) == PARTS * 3  # 100 rows a partition, 40 a shard
    assert [s["first"] for s in ds.manifest["shards"]] == [
        p * 100 + k * 40 for p in range(PARTS) for k in (0, 1, 2)
    ]
    # decoded by altakit: every field of every sample equals the local path's, in the same order
    for got, want in zip(ds, local, strict=True):
        for f in ("label", "score", "name", "blob", "note"):
            assert getattr(got, f) == getattr(want, f), f
        for f in ("x", "pixels"):
            assert (
                getattr(got, f).dtype == getattr(want, f).dtype
                and getattr(got, f).shape == getattr(want, f).shape
            )
            np.testing.assert_array_equal(getattr(got, f), getattr(want, f))
    # read by plain webdataset: the same member bytes; only the keys differ (partition, position)
    spark_raw, local_raw = raw_members(ds, tmp_path), raw_members(local, tmp_path)
    assert [s["__key__"] for s in spark_raw] == [f"{i // 100:05d}-{i % 100:09d}" for i in range(ROWS)]
    for a, b in zip(spark_raw, local_raw, strict=True):
        assert {k: v for k, v in a.items() if not k.startswith("__")} == {
            k: v for k, v in b.items() if not k.startswith("__")
        }
    on_store, listed = stored(local_store, ds)
    assert on_store == listed


def test_the_exact_once_torch_loader_reads_a_spark_written_dataset(spark, local_store):
    pytest.importorskip("torch")
    from altakit.datasets.spark_write import write_dataset_from_spark

    ds = write_dataset_from_spark(frame(spark[0]), "spark", Record, store=local_store, maxcount=64)
    seen = [
        label
        for rank in range(2)
        for batch in ds.torch(32, seed=3, rank=rank, world_size=2, keys=True)
        for label in batch["label"].tolist()
    ]
    assert sorted(seen) == list(range(ROWS))  # every sample once, across both ranks


def test_a_value_that_disagrees_with_its_field_is_a_typed_error_and_leaves_nothing(spark, local_store):
    from pyspark.sql import functions as F

    from altakit.datasets.spark_write import write_dataset_from_spark
    from altakit.errors import ConfigError, DataError

    df = frame(spark[0], rows=30)
    bad = df.withColumn("x", F.when(F.col("label") == 17, F.array(F.lit(1.0))).otherwise(F.col("x")))
    with pytest.raises(DataError, match="dataset 'spark', sample 00001-000000007") as err:
        write_dataset_from_spark(bad, "spark", Record, store=local_store, maxcount=4)
    assert "shape (1,)" in str(err.value) and err.value.fields["key"] == "00001-000000007"
    with pytest.raises(ConfigError, match="no column 'label'") as err:
        write_dataset_from_spark(df.drop("label"), "spark", Record, store=local_store)
    assert "withColumnRenamed" in err.value.hint
    with pytest.raises(ConfigError, match="Spark DataFrame") as err:
        altakit.write_dataset(df, "spark", store=local_store, progress=False)
    assert "write_dataset_from_spark" in err.value.hint
    assert local_store.list("datasets/") == []  # the shards the other partitions wrote were removed
    with pytest.raises(altakit.errors.NotFound):
        altakit.load_dataset("spark", local_store)


def test_windows_of_a_table_version_read_by_the_tasks_are_the_local_paths_samples(
    spark, local_store, tmp_path
):
    """A table version read by Spark from its Delta files, shaped into windows by Spark, written by the
    tasks: the same samples as windows computed locally from ``read_table`` of that version."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from altakit.datasets.spark_write import table_frame, write_dataset_from_spark

    @sample(name="sensor_window")
    class SensorWindow:
        x: Annotated[np.ndarray, Array("float32", (4,))]
        target: float
        sensor: str
        start: int

    csv = tmp_path / "sensors.csv"
    lines = [
        f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00Z,s{k},{(i * 7 + k) % 13 / 2}"
        for i in range(30)
        for k in (1, 2)
    ]
    csv.write_text("ts,sensor,value\n" + "\n".join(lines) + "\n")
    altakit.ingest(str(csv), "sensors", {"time": "ts", "by": ["sensor"]}, store=local_store)

    w = Window.partitionBy("sensor").orderBy("ts")
    df = table_frame(spark[0], "sensors@1", store=local_store)
    windows = df.select(
        F.collect_list("value").over(w.rowsBetween(0, 3)).alias("x"),
        F.lead("value", 4).over(w).alias("target"),
        "sensor",
        F.col("ts").cast("long").alias("start"),
    ).where(F.col("target").isNotNull())
    ds = write_dataset_from_spark(
        windows, "windows", SensorWindow, store=local_store, links={"derived_from": "table:sensors@1"}
    )
    links = altakit.catalog_of(local_store).get("dataset", "windows", 1).links
    assert [(rel, str(ref)) for rel, ref in links if rel == "derived_from"] == [
        ("derived_from", "table:sensors@1")
    ]

    local = []
    frame = altakit.read_table("sensors@1", store=local_store).sort("sensor", "ts")
    for (sensor,), part in frame.group_by(["sensor"], maintain_order=True):
        values, starts = part["value"].to_list(), [int(t.timestamp()) for t in part["ts"].to_list()]
        local += [
            SensorWindow(np.array(values[i : i + 4], np.float32), values[i + 4], sensor, starts[i])
            for i in range(len(values) - 4)
        ]
    written = altakit.write_dataset(local, "windows-local", store=local_store, progress=False)

    def rows(d):
        return sorted((s.sensor, s.start, s.target, s.x.tobytes()) for s in d)

    assert len(ds) == 2 * (30 - 4) and rows(ds) == rows(written)


def test_to_sample_builds_each_sample_on_the_executors(spark, local_store):
    from altakit.datasets.spark_write import write_dataset_from_spark
    from altakit.errors import ConfigError

    @sample(name="spark_pair")  # defined here, so it travels to the workers by value
    class Pair:
        x: Annotated[np.ndarray, Array("float64", (2,))]
        tag: str

    def to_pair(row):
        return Pair(np.array([row["label"], row["score"]]), f"#{row['label']}")

    df = frame(spark[0], rows=20)
    ds = write_dataset_from_spark(df, "pairs", Pair, store=local_store, to_sample=to_pair)
    assert [(s.tag, s.x.tolist()) for s in ds] == [(f"#{i}", [i, i / 3]) for i in range(20)]
    with pytest.raises(ConfigError, match="to_sample gave a dict, not a spark_pair sample"):
        write_dataset_from_spark(df, "pairs", Pair, store=local_store, to_sample=lambda row: row)
