"""Ingest engines, one module each: :mod:`.local` (polars, one machine) and :mod:`.spark`.

Both implement :class:`altakit.ingestion.engine.Engine` (a module-level
``process``) and share typing, cleaning and their result through
:mod:`._shared`, so they write the same table for the same input. Jobs pick one
by name through :class:`altakit.ingestion.engine.EngineRegistry`, which imports
it on first use; the contract and the registry sit one level up so that the
rest of ``altakit.ingestion`` never imports an engine module directly.
"""
