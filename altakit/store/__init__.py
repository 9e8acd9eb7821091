"""Versioned object stores: local (default), S3, JVM, and wrappers around any of them."""

from altakit.store.base import Store
from altakit.store.cache import CachedStore
from altakit.store.crypto import EncryptedStore
from altakit.store.names import Version
from altakit.store.registry import Registry, default_registry, open_store

__all__ = ["CachedStore", "EncryptedStore", "Registry", "Store", "Version", "default_registry", "open_store"]
