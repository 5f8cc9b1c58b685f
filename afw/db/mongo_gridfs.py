"""FireWorks' GridFS fallback for actions too large for a launch document.

FireWorks stores such an action as JSON in the ``fw_gridfs`` bucket (``metadata.launch_id``) and
puts ``{"gridfs_id": "<ObjectId>"}`` in the launch document. afw reads those back wherever it
reads launches, and offloads the same way when it writes a launch that would not fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import bson
import orjson
from bson import ObjectId
from bson.errors import InvalidId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from afw.db.mongo_conn import Collections, Doc
from afw.errors import StoreError

__all__ = ["BUCKET", "delete_actions", "expand_actions", "offload_actions"]

BUCKET: Final = "fw_gridfs"
LIMIT: Final = 15 * 1024 * 1024  # MongoDB's 16 MiB, less room for the rest of the write


def _reference(action: Any) -> str | None:
    if isinstance(action, Mapping) and set(action) == {"gridfs_id"}:
        return str(action["gridfs_id"])
    return None


async def expand_actions(cols: Collections, launches: Iterable[Doc]) -> None:
    """Replace GridFS references by the actions they point to (in place)."""
    bucket: AsyncGridFSBucket | None = None
    for doc in launches:
        ref = _reference(doc.get("action"))
        if ref is None:
            continue
        bucket = bucket or AsyncGridFSBucket(cols.db, bucket_name=BUCKET)
        try:
            stream = await bucket.open_download_stream(ObjectId(ref))
            doc["action"] = orjson.loads(await stream.read())
        except (NoFile, InvalidId, orjson.JSONDecodeError) as exc:
            launch_id = doc.get("launch_id")
            raise StoreError(
                f"launch {launch_id}: its action in GridFS ({ref}) cannot be read: {exc}",
                launch_id=launch_id,
            ) from exc


async def delete_actions(cols: Collections, launch_ids: Iterable[int]) -> None:
    ids = sorted({int(i) for i in launch_ids})
    files = cols.db[f"{BUCKET}.files"]
    if not ids or await files.estimated_document_count() == 0:
        return
    bucket = AsyncGridFSBucket(cols.db, bucket_name=BUCKET)
    async for found in files.find({"metadata.launch_id": {"$in": ids}}, {"_id": 1}):
        await bucket.delete(found["_id"])


async def offload_actions(cols: Collections, launches: list[Doc]) -> None:
    """Move the action of any launch document too large for MongoDB to GridFS (in place)."""
    for doc in launches:
        if doc.get("action") is None or len(bson.encode(doc)) <= LIMIT:
            continue
        launch_id = int(doc["launch_id"])
        await delete_actions(cols, [launch_id])
        bucket = AsyncGridFSBucket(cols.db, bucket_name=BUCKET)
        file_id = await bucket.upload_from_stream(
            f"action_{launch_id}.json",
            orjson.dumps(doc["action"]),
            metadata={"launch_id": launch_id},
        )
        doc["action"] = {"gridfs_id": str(file_id)}
