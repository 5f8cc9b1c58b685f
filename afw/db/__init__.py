"""Stores, picked by URL scheme: ``sqlite:///path`` (embedded, the default) or ``mongodb://``.

Implementations are imported only when asked for, so ``import afw`` never imports pymongo.
"""

from __future__ import annotations

import importlib
from typing import Any

from afw.db.base import NeedLaunchIds, OfflineRun, SortSpec, Store, UpdateContext, WorkflowFn
from afw.errors import ConfigError

__all__ = [
    "NeedLaunchIds",
    "OfflineRun",
    "SortSpec",
    "Store",
    "UpdateContext",
    "WorkflowFn",
    "make_store",
]

_SCHEMES = {
    "sqlite": ("afw.db.sqlite", "SQLiteStore"),
    "mongodb": ("afw.db.mongo", "MongoStore"),
    "mongodb+srv": ("afw.db.mongo", "MongoStore"),
}


def make_store(url: str, **options: Any) -> Store:
    """Create (not open) the store for ``url``; ``options`` go to its constructor."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    target = _SCHEMES.get(scheme)
    if target is None:
        raise ConfigError(f"unsupported store URL {url!r}: use sqlite:///PATH or mongodb://HOST/DB")
    module = importlib.import_module(target[0])
    store: Store = getattr(module, target[1])(url, **options)
    return store
