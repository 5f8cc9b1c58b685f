"""Documents of the MongoDB store ⇄ afw model objects, in FireWorks 2.1 shapes.

Writing: ``fireworks`` = ``Firework.to_db_dict()``, ``launches`` = ``Launch.to_db_dict()`` (dates
as ISO strings, as FireWorks writes them); ``workflows`` as FireWorks' ``Workflow.to_db_dict()``
with BSON dates for ``created_on``/``updated_on`` and string keys in ``links``/``fw_states``.

Reading: FireWorks mixes ISO strings and BSON dates (its claims, ``recover_offline``); every
datetime read is turned into afw's ISO string, every ObjectId into its hex string. Documents are
copied through orjson, which also gives the pure logic fresh objects to mutate on each attempt.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson
from bson import ObjectId
from bson.decimal128 import Decimal128

from afw.db.base import OfflineRun
from afw.errors import SerializationError
from afw.firework import Firework
from afw.launch import Launch
from afw.timeutil import parse_iso, to_iso
from afw.workflow import Workflow

__all__ = [
    "INTERNAL_FW_FIELDS",
    "as_date",
    "build_firework",
    "build_launch",
    "offline_doc",
    "offline_run",
    "pack",
    "plain",
    "unpack",
    "wf_insert_doc",
]

# Fields afw adds to FireWorks documents, hidden from the model.
INTERNAL_FW_FIELDS: Final = ("_id", "afw_claim")
_OPTS: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return to_iso(value)
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"{type(value).__name__} is not supported in afw documents")


def pack(doc: Mapping[str, Any], drop: Iterable[str] = ()) -> bytes:
    """A stored document as plain JSON bytes (dates as ISO strings), minus ``drop`` fields."""
    dropped = set(drop)
    body = {k: v for k, v in doc.items() if k not in dropped} if dropped else doc
    try:
        return orjson.dumps(body, default=_default, option=_OPTS)
    except TypeError as exc:
        raise SerializationError(f"stored document cannot be read by afw: {exc}") from exc


def unpack(data: bytes) -> Any:
    return orjson.loads(data)


def plain(doc: Mapping[str, Any], drop: Iterable[str] = ()) -> dict[str, Any]:
    """A fresh plain copy of a stored document (see :func:`pack`)."""
    result: dict[str, Any] = orjson.loads(pack(doc, drop))
    return result


def as_date(value: Any) -> Any:
    """An ISO string as a BSON date (FireWorks stores workflow dates that way)."""
    if isinstance(value, str) and value:
        try:
            return parse_iso(value)
        except ValueError:
            return value
    return value


def build_launch(doc: Mapping[str, Any]) -> Launch:
    return Launch.from_dict(plain(doc, ("_id",)))


def build_firework(data: bytes, launches: Mapping[int, bytes]) -> Firework:
    """A fresh Firework from packed documents (current launches looked up by id)."""
    doc = unpack(data)
    found = [
        Launch.from_dict(unpack(launches[int(lid)]))
        for lid in doc.get("launches") or []
        if int(lid) in launches
    ]
    return Firework.from_dict(doc, launches=found)


def wf_insert_doc(wf: Workflow) -> dict[str, Any]:
    """A new ``workflows`` document (FireWorks shape, BSON dates)."""
    doc = wf.to_db_dict()
    doc["created_on"] = as_date(doc["created_on"])
    doc["updated_on"] = as_date(doc["updated_on"])
    return doc


def offline_doc(run: OfflineRun) -> dict[str, Any]:
    """An ``offline_runs`` document as FireWorks writes it (plus afw's ``fingerprint``)."""
    doc: dict[str, Any] = {
        "fw_id": run.fw_id,
        "launch_id": run.launch_id,
        "name": run.name,
        "created_on": run.created_on,
        "updated_on": run.updated_on,
        "deprecated": run.deprecated,
        "completed": run.completed,
    }
    if run.fingerprint is not None:
        doc["fingerprint"] = run.fingerprint
    return doc


def offline_run(doc: Mapping[str, Any]) -> OfflineRun:
    data = plain(doc, ("_id",))
    return OfflineRun(
        launch_id=int(data["launch_id"]),
        fw_id=int(data.get("fw_id", 0)),
        name=str(data.get("name") or ""),
        created_on=str(data.get("created_on") or ""),
        updated_on=str(data.get("updated_on") or ""),
        deprecated=bool(data.get("deprecated")),
        completed=bool(data.get("completed")),
        fingerprint=data.get("fingerprint"),
    )
