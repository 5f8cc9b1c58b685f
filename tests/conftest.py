"""Shared fixtures: services (tests/services.py), stores parametrized over implementations."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest_plugins = ["services"]

STORE_KINDS = ["sqlite", "mongo"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'launchpad.sqlite'}"


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL of each kind (the contract suite runs on all of them)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'launchpad.sqlite'}"
    uri, dbname = request.getfixturevalue("fresh_mongo_db")
    return _with_db(uri, dbname)


def _with_db(uri: str, dbname: str) -> str:
    head, _, query = uri.partition("?")
    scheme, _, rest = head.partition("://")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{dbname}" + (f"?{query}" if query else "")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[object]:
    from afw.db import make_store

    st = make_store(store_url)
    await st.open()
    await st.reset()
    try:
        yield st
    finally:
        await st.close()


@pytest.fixture
def ci() -> bool:
    return os.environ.get("CI") == "true"
