"""Ingestion engines: local (polars) and Spark, behind one contract."""
