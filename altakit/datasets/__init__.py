"""Dataset versions you read: typed samples in WebDataset shards, and Delta tables.

Typed samples, from the type to the training loop (each module imports only the ones above it):

- :mod:`~altakit.datasets.samples` — ``@sample`` types, ``SampleSchema`` / ``SampleField``, ``build_type``
- :mod:`~altakit.datasets.npy` — array fields as ``np.save`` members: ``npy_bytes``, ``npy_value``
- :mod:`~altakit.datasets.codec` — a msgpack map per sample; ``encode_parts``, ``decode``, columnar decode
- :mod:`~altakit.datasets.shards` — the tar shard format: ``ShardWriter``, ``Shard``, ``index_shard``
- :mod:`~altakit.datasets.manifest` — catalog kinds ``dataset`` (``DatasetDoc``) and ``sample_type``
- :mod:`~altakit.datasets.fetch`, :mod:`~altakit.datasets.columns`, :mod:`~altakit.datasets.reader`,
  :mod:`~altakit.datasets.plan` — shard bytes (mmap, verified once, cached), batches, epoch plans
- :mod:`~altakit.datasets.lenses` — ``LensRegistry``, ``lenses_of(store)``
- :mod:`~altakit.datasets.dataset` — ``load_dataset``, ``Dataset`` (stages, batches, adapters)
- :mod:`~altakit.datasets.write` — ``write_dataset``
- :mod:`~altakit.datasets.spark_write` — ``write_dataset_from_spark``: a Spark DataFrame's partitions
  write their own shards, the driver the manifest; ``table_frame``: a table version as a DataFrame
- :mod:`~altakit.datasets.imports` — ``import_dataset``: plain WebDataset shards registered as they are
  (:mod:`~altakit.datasets.members` decodes their members: npy, cls, txt, json, images as bytes)
- :mod:`~altakit.datasets.verify` — re-read and check a version
- adapters, imported on use: :mod:`~altakit.datasets.torch` (+ :mod:`~altakit.datasets.slots`),
  :mod:`~altakit.datasets.tensorflow`, :mod:`~altakit.datasets.frames` (polars / pandas)
- :mod:`~altakit.datasets.files` — ``FileDataset``: plain files under a prefix

Tables: :mod:`~altakit.datasets.tables` (``read_table``, history),
:mod:`~altakit.datasets.profile` (profiles, drift) and :mod:`~altakit.datasets.internal`
(the names of altakit's own columns).

Importing this package imports none of them (no torch, tensorflow or polars).

Example:
    >>> import altakit
    >>> from altakit.datasets.dataset import load_dataset
    >>> from altakit.datasets.write import write_dataset
    >>> altakit.write_dataset is write_dataset and altakit.load_dataset is load_dataset
    True
"""
