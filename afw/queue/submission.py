"""One queue submission: reserve a Firework, prepare its launch dir, write the script, submit.

Reservation mode (FireWorks ``qlaunch -r``), step by step:

1. ``reserve_fw`` → the Firework is RESERVED, a launch records the planned dir;
2. the dir becomes ``spec._launch_dir`` if set; a remote launch records its host
   (``remote_host``, so that ``recover_offline`` reads the dir over SFTP);
3. ``spec._queueadapter`` is merged into the queue config, ``--fw-id N`` appended to
   ``rocket_launch``;
4. offline (``--offline`` in ``rocket_launch``): ``FW.json``, ``FW_offline.json`` and
   ``FW_submit.script`` are written atomically in one batch (all durable before anything else
   happens) and the offline run is registered; otherwise only the script is written; then the
   job is submitted;
5. the job id is stored as the reservation id.

Any failure after step 1 cancels the reservation and forgets the offline run, so nothing is left
RESERVED for a job that does not exist. The one exception is a submission whose outcome is unknown
(the connection to a remote login node was lost and could not be restored while the scheduler
was being asked): the job may be queued, so the reservation and the offline run are kept, and
the error says so. Releasing them could let a second job run the same Firework.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from anyio import to_thread

from afw.errors import AfwError, ConfigError, QueueLimitError, RemoteError, StateError
from afw.firework import Firework
from afw.fs.base import FileSystem
from afw.fs.formats import FW_SUBMIT_SCRIPT
from afw.fs.launchdir import write_reservation, write_submit_script
from afw.fworker import FWorker
from afw.queue.client import QueueClient
from afw.queue.config import QueueConfig
from afw.serialize import dump_json

if TYPE_CHECKING:
    from afw.launchpad import LaunchPad

__all__ = ["QueueContext", "check_options", "submit_plain", "submit_reserved"]

log = logging.getLogger("afw.qlaunch")


def check_options(config: QueueConfig, *, reserve: bool, fw_id: int | None = None) -> None:
    """Refuse combinations FireWorks refuses, before anything is reserved (ConfigError)."""
    if config.offline and not reserve:
        raise ConfigError(
            "rocket_launch asks for --offline, which needs reservation mode: use afw qlaunch -r ..."
        )
    if fw_id is not None and not reserve:
        raise ConfigError("-f/--fw-id needs reservation mode: use afw qlaunch -r singleshot -f N")
    if reserve and "singleshot" not in config.rocket_launch.split():
        raise ConfigError(
            "reservation mode needs a rocket_launch running 'rlaunch singleshot' "
            f"(got {config.rocket_launch!r})"
        )


@dataclass
class QueueContext:
    """What every submission of one qlaunch run shares.

    ``remote_host`` (``[user@]host[:port]``) is recorded on every launch whose dir is on
    ``fs`` when that is a remote filesystem.
    """

    lp: LaunchPad
    fworker: FWorker
    config: QueueConfig
    client: QueueClient
    fs: FileSystem
    remote_host: str | None = None
    _templates: dict[str | None, str] = field(default_factory=dict)

    async def template(self, config: QueueConfig) -> str:
        """The template text of ``config``, each file read once (in a worker thread)."""
        key = config.template_file
        if key not in self._templates:
            self._templates[key] = await to_thread.run_sync(config.load_template)
        return self._templates[key]

    async def render(self, config: QueueConfig, launch_dir: str, job_name: str | None) -> str:
        """The ``FW_submit.script`` text of a job running in ``launch_dir``."""
        text = await self.template(config)
        return config.render_script(launch_dir, job_name=job_name, template=text)

    async def submit_script(
        self,
        config: QueueConfig,
        launch_dir: str,
        job_name: str | None,
        once_key: str | None = None,
    ) -> str:
        """Render and write ``FW_submit.script`` into ``launch_dir`` (made if needed), submit
        it: the job id."""
        script = await self.render(config, launch_dir, job_name)
        path = await write_submit_script(self.fs, launch_dir, script)
        return await self.client.submit(path, once_key=once_key)

    async def submit(self, launch_dir: str, once_key: str | None = None) -> str:
        """Submit the ``FW_submit.script`` already written in ``launch_dir``: the job id."""
        path = posixpath.join(launch_dir, FW_SUBMIT_SCRIPT)
        return await self.client.submit(path, once_key=once_key)


async def submit_plain(ctx: QueueContext, launch_dir: str) -> str:
    """Non-reservation mode: the job's own ``rlaunch`` checks a Firework out later."""
    job_id = await ctx.submit_script(ctx.config, launch_dir, None)
    log.info("submitted job %s in %s", job_id, launch_dir)
    return job_id


async def submit_reserved(
    ctx: QueueContext, base_dir: str, planned_dir: str, fw_id: int | None = None
) -> tuple[str, str] | None:
    """Reserve one Firework and submit it: ``(job_id, launch_dir)``, ``None`` if none is READY.

    The job runs in ``planned_dir`` unless the Firework sets ``spec._launch_dir`` (a relative
    one is taken from ``base_dir``, FireWorks' launcher dir). Raises QueueLimitError (the
    reservation released) when the scheduler refuses the job because of a limit.
    """
    fw, launch_id = await ctx.lp.reserve_fw(ctx.fworker, planned_dir, fw_id)
    if fw is None or launch_id is None:
        if fw_id is not None:
            raise StateError(f"Firework {fw_id} cannot be reserved: it is not READY")
        return None
    launch_dir = planned_dir
    try:
        launch_dir = _launch_dir(fw, base_dir, planned_dir)
        fields: dict[str, Any] = {"remote_host": ctx.remote_host} if ctx.remote_host else {}
        if launch_dir != planned_dir:
            fields["launch_dir"] = launch_dir
        if fields:
            await ctx.lp.store.update_launch_fields(launch_id, fields)
        config = _job_config(ctx.config, fw)
        once_key = f"launch-{launch_id}"
        if config.offline:
            # FW.json, FW_offline.json and the script in one batch: one thread hop, one dir fsync.
            _set_launch_dir(fw, launch_id, launch_dir)
            script = await ctx.render(config, launch_dir, _job_name(fw))
            fw_json = dump_json(fw.to_dict())
            await write_reservation(ctx.fs, launch_dir, fw_json, launch_id, submit_script=script)
            await ctx.lp.add_offline_run(launch_id, fw.fw_id, fw.name)
            job_id = await ctx.submit(launch_dir, once_key)
        else:
            job_id = await ctx.submit_script(config, launch_dir, _job_name(fw), once_key)
    except RemoteError as exc:
        if exc.context.get("outcome") != "unknown":
            with anyio.CancelScope(shield=True):
                await _release(ctx.lp, launch_id, exc)
        raise _kept_or_released(exc, fw.fw_id, launch_id, launch_dir) from exc
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await _release(ctx.lp, launch_id, exc)
        if isinstance(exc, QueueLimitError) or not isinstance(exc, AfwError):
            raise
        raise type(exc)(
            f"Firework {fw.fw_id} (launch {launch_id}) not submitted, reservation released: {exc}",
            **{"fw_id": fw.fw_id, "launch_id": launch_id, **exc.context},
        ) from exc
    await _record_job(ctx.lp, launch_id, job_id)
    log.info("Firework %s: job %s in %s", fw.fw_id, job_id, launch_dir)
    return job_id, launch_dir


def _kept_or_released(exc: RemoteError, fw_id: int, launch_id: int, launch_dir: str) -> RemoteError:
    context = {**exc.context, "fw_id": fw_id, "launch_id": launch_id, "launch_dir": launch_dir}
    if exc.context.get("outcome") != "unknown":
        message = f"Firework {fw_id} (launch {launch_id}) not submitted, reservation released"
        return RemoteError(f"{message}: {exc}", **context)
    record = exc.context.get("record")
    where = f" (the scheduler's answer, once known, is in {record} on the remote host)"
    return RemoteError(
        f"Firework {fw_id} (launch {launch_id}) may or may not be queued, so its reservation is "
        f"kept: {exc}{where if record else ''}; if no job runs it, release it with "
        f"afw lpad rerun_fws -i {fw_id}",
        **context,
    )


def _launch_dir(fw: Firework, base_dir: str, planned_dir: str) -> str:
    wanted = fw.spec.get("_launch_dir")
    if not wanted:
        return planned_dir
    path = os.path.expandvars(os.path.expanduser(str(wanted)))
    return posixpath.normpath(posixpath.join(base_dir, path))


def _job_config(base: QueueConfig, fw: Firework) -> QueueConfig:
    overrides: Mapping[str, Any] | None = fw.spec.get("_queueadapter")
    config = base.merge(overrides)
    check_options(config, reserve=True)
    return dataclasses.replace(config, rocket_launch=f"{config.rocket_launch} --fw-id {fw.fw_id}")


def _job_name(fw: Firework) -> str:
    """The Firework's name, unless its ``spec._queueadapter`` names the job (FireWorks' order)."""
    overrides = fw.spec.get("_queueadapter")
    named = overrides.get("job_name") if isinstance(overrides, Mapping) else None
    return str(named) if named else fw.name


def _set_launch_dir(fw: Firework, launch_id: int, launch_dir: str) -> None:
    """Make ``FW.json`` show where the launch really runs (FireWorks writes the planned dir)."""
    for launch in fw.launches:
        if launch.launch_id == launch_id:
            launch.launch_dir = launch_dir


async def _release(lp: LaunchPad, launch_id: int, cause: BaseException) -> None:
    try:
        await lp.cancel_reservation(launch_id)
        await lp.forget_offline(launch_ids=[launch_id])
    except Exception as exc:  # the original error matters more; report both
        log.warning("launch %s: reservation not released after %s: %s", launch_id, cause, exc)
    else:
        log.debug("launch %s: reservation released (%s)", launch_id, cause)


async def _record_job(lp: LaunchPad, launch_id: int, job_id: str) -> None:
    # The job is queued: releasing the reservation now would let a second job run the same
    # Firework, so a failure to store the id is only worth a warning.
    try:
        await lp.set_reservation_id(launch_id, job_id)
    except AfwError as exc:
        log.warning("launch %s: job %s submitted, its id not stored: %s", launch_id, job_id, exc)
