"""ScriptTask: run shell commands, or argv commands without a shell, in the launch dir.

The commands of ``script`` run in turn, each in its own session (process group) with the launch
dir as working directory; the first non-zero return code stops the list. Cancelling the task (a
cancel scope, Ctrl-C, the Rocket's SIGTERM) terminates the whole group and kills it after
:attr:`ScriptTask.terminate_grace` seconds, so no script outlives its Rocket.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from afw.action import FWAction
from afw.errors import TaskError, TaskParamError
from afw.tasks.base import Firetask
from afw.tasks.context import launch_dir, resolve

__all__ = ["ScriptTask"]

_OPTIONAL = (
    "use_shell",
    "shell_exe",
    "stdin_file",
    "stdin_key",
    "stdout_file",
    "stderr_file",
    "store_stdout",
    "store_stderr",
    "defuse_bad_rc",
    "fizzle_bad_rc",
    "use_global_spec",
)
_STR_PARAMS = ("shell_exe", "stdin_file", "stdin_key", "stdout_file", "stderr_file")
_TAIL_BYTES = 2000


@dataclass(frozen=True)
class _Plan:
    """ScriptTask parameters, validated and normalised."""

    commands: tuple[tuple[str, ...], ...]
    labels: tuple[str, ...]
    stdin_file: str | None
    stdin_key: str | None
    stdout_file: str | None
    stderr_file: str | None
    store_stdout: bool
    store_stderr: bool
    defuse_bad_rc: bool
    fizzle_bad_rc: bool


def _command_list(script: Any) -> list[str | list[str]]:
    if isinstance(script, str):
        return [script]
    if not isinstance(script, list) or not script:
        raise TaskParamError("ScriptTask: script must be a string or a non-empty list")
    for cmd in script:
        ok = isinstance(cmd, str) or (
            isinstance(cmd, list) and all(isinstance(arg, str) for arg in cmd)
        )
        if not ok:
            raise TaskParamError(f"ScriptTask: bad command {cmd!r} (a string or list of strings)")
    return list(script)


def _argv(cmd: str | list[str], use_shell: bool, shell: str) -> tuple[str, ...]:
    if use_shell:
        return (shell, "-c", cmd if isinstance(cmd, str) else shlex.join(cmd))
    try:
        args = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    except ValueError as exc:
        raise TaskParamError(f"ScriptTask: cannot split command {cmd!r}: {exc}") from exc
    if not args:
        raise TaskParamError("ScriptTask: empty command")
    return tuple(args)


def _plan(params: Mapping[str, Any]) -> _Plan:
    for name in _STR_PARAMS:
        if params.get(name) is not None and not isinstance(params[name], str):
            raise TaskParamError(f"ScriptTask: {name} must be a string")
    if params.get("stdin_file") and params.get("stdin_key"):
        raise TaskParamError("ScriptTask: stdin_file and stdin_key are mutually exclusive")
    use_shell = bool(params.get("use_shell", True))
    shell = params.get("shell_exe") or "/bin/sh"
    cmds = _command_list(params["script"])
    commands = tuple(_argv(cmd, use_shell, shell) for cmd in cmds)
    labels = tuple(c if isinstance(c, str) else shlex.join(c) for c in cmds)
    defuse = bool(params.get("defuse_bad_rc", False))
    return _Plan(
        commands=commands,
        labels=labels,
        stdin_file=params.get("stdin_file") or None,
        stdin_key=params.get("stdin_key") or None,
        stdout_file=params.get("stdout_file") or None,
        stderr_file=params.get("stderr_file") or None,
        store_stdout=bool(params.get("store_stdout", False)),
        store_stderr=bool(params.get("store_stderr", False)),
        defuse_bad_rc=defuse,
        fizzle_bad_rc=bool(params.get("fizzle_bad_rc", not defuse)),
    )


class _Capture:
    """A pipe's bytes: all of them when stored, else a bounded tail, optionally echoed."""

    def __init__(self, keep_all: bool, echo: bool = False) -> None:
        self.keep_all = keep_all
        self.echo = echo
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        if self.echo:
            _echo_stderr(chunk)
        self.data += chunk
        if not self.keep_all:
            del self.data[:-_TAIL_BYTES]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _echo_stderr(chunk: bytes) -> None:
    buffer = getattr(sys.stderr, "buffer", None)
    if buffer is not None:
        buffer.write(chunk)
    else:
        sys.stderr.write(chunk.decode("utf-8", errors="replace"))
    sys.stderr.flush()


@dataclass
class _Files:
    """The files of one run, opened in a worker thread (stdout/stderr in append mode)."""

    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None
    closer: contextlib.ExitStack

    @classmethod
    def open_all(cls, stdin: Path | None, stdout: Path | None, stderr: Path | None) -> _Files:
        with contextlib.ExitStack() as stack:

            def _open(path: Path | None, mode: str) -> IO[bytes] | None:
                return stack.enter_context(open(path, mode)) if path else None

            try:
                files = cls(_open(stdin, "rb"), _open(stdout, "ab"), _open(stderr, "a+b"), stack)
            except OSError as exc:
                raise TaskError(f"ScriptTask: cannot open {exc.filename}: {exc.strerror}") from exc
            files.closer = stack.pop_all()
        return files

    def close(self) -> None:
        self.closer.close()

    def finish(self, out: _Capture, err: _Capture, failed: bool) -> str:
        """Write stored output to the files; return the tail of stderr for an error message."""
        if self.stdout is not None and out.keep_all:
            self.stdout.write(out.data)
        if self.stderr is not None and err.keep_all:
            self.stderr.write(err.data)
        if not (failed and self.stderr is not None and not err.keep_all):
            return err.text()[-_TAIL_BYTES:]
        self.stderr.flush()
        self.stderr.seek(max(0, self.stderr.seek(0, os.SEEK_END) - _TAIL_BYTES))
        return self.stderr.read().decode("utf-8", errors="replace")


def _path(name: str | None) -> Path | None:
    return resolve(name) if name else None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _stop(process: Process, grace: float) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    with anyio.move_on_after(grace):
        await process.wait()
    # Also kills what the group leader left behind (the script's background jobs).
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


async def _feed(stream: ByteSendStream, data: bytes) -> None:
    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        try:
            await stream.send(data)
        finally:
            await stream.aclose()


async def _drain(stream: ByteReceiveStream, sink: _Capture) -> None:
    async for chunk in stream:
        sink.add(chunk)


class ScriptTask(Firetask):
    """Run a shell script or a list of commands (FireWorks ``ScriptTask``).

    With ``use_shell`` (the default) each command string runs through ``shell_exe`` (``/bin/sh``)
    ``-c``; with ``use_shell: false`` each command is split with :func:`shlex.split` (or taken
    as an argv list) and executed without a shell, so its arguments are never interpreted.
    """

    _fw_name = "ScriptTask"
    required_params = ("script",)
    optional_params = _OPTIONAL
    terminate_grace: ClassVar[float] = 5.0
    """Seconds between SIGTERM and SIGKILL when the task is cancelled."""

    def validate(self) -> None:
        super().validate()
        _plan(self)

    @classmethod
    def from_str(cls, shell_cmd: str, parameters: Mapping[str, Any] | None = None) -> ScriptTask:
        """A ScriptTask running ``shell_cmd``, with further ``parameters``."""
        return cls({**(parameters or {}), "script": shell_cmd})

    def _params(self, fw_spec: Mapping[str, Any]) -> dict[str, Any]:
        if not self.get("use_global_spec"):
            return dict(self)
        names = (*self.required_params, *_OPTIONAL)
        return {**self, **{k: fw_spec[k] for k in names if k in fw_spec}}

    async def run_task(self, fw_spec: dict[str, Any]) -> FWAction:
        plan = _plan(self._params(fw_spec))
        stdin_data = _stdin_data(plan, fw_spec)
        out = _Capture(plan.store_stdout)
        err = _Capture(plan.store_stderr, echo=not (plan.store_stderr or plan.stderr_file))
        opener = functools.partial(
            _Files.open_all,
            _path(plan.stdin_file),
            _path(plan.stdout_file),
            _path(plan.stderr_file),
        )
        files = await anyio.to_thread.run_sync(opener)
        try:
            codes = await self._run_all(plan, files, stdin_data, out, err)
            tail = await anyio.to_thread.run_sync(files.finish, out, err, codes[-1] != 0)
        finally:
            files.close()
        return _result(plan, codes, out, err, tail)

    async def _run_all(
        self, plan: _Plan, files: _Files, stdin_data: bytes | None, out: _Capture, err: _Capture
    ) -> list[int]:
        codes: list[int] = []
        for argv in plan.commands:
            if files.stdin is not None:
                files.stdin.seek(0)
            codes.append(await self._run_one(argv, files, stdin_data, out, err))
            if codes[-1] != 0:
                break
        return codes

    async def _run_one(
        self,
        argv: Sequence[str],
        files: _Files,
        stdin_data: bytes | None,
        out: _Capture,
        err: _Capture,
    ) -> int:
        stdin: int | IO[bytes] = subprocess.DEVNULL if stdin_data is None else subprocess.PIPE
        try:
            process = await anyio.open_process(
                argv,
                stdin=files.stdin or stdin,
                stdout=subprocess.PIPE if out.keep_all else files.stdout,
                stderr=subprocess.PIPE if err.keep_all or files.stderr is None else files.stderr,
                cwd=launch_dir(),
                start_new_session=True,
            )
        except OSError as exc:
            return _spawn_failure(argv, exc, err)
        try:
            async with anyio.create_task_group() as tg:
                if stdin_data is not None and process.stdin is not None:
                    tg.start_soon(_feed, process.stdin, stdin_data)
                if process.stdout is not None:
                    tg.start_soon(_drain, process.stdout, out)
                if process.stderr is not None:
                    tg.start_soon(_drain, process.stderr, err)
            return await process.wait()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await _stop(process, self.terminate_grace)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await process.aclose()


def _spawn_failure(argv: Sequence[str], exc: OSError, err: _Capture) -> int:
    """A program that cannot be started fails like the shell reports it (127 / 126)."""
    if exc.filename is not None and str(exc.filename) != argv[0]:
        raise TaskError(f"ScriptTask: cannot start {argv[0]!r}: {exc}", command=list(argv)) from exc
    err.add(f"{argv[0]}: {exc.strerror}\n".encode())
    return 127 if isinstance(exc, FileNotFoundError) else 126


def _stdin_data(plan: _Plan, fw_spec: Mapping[str, Any]) -> bytes | None:
    if plan.stdin_key is None:
        return None
    if plan.stdin_key not in fw_spec:
        raise TaskError(f"ScriptTask: stdin_key {plan.stdin_key!r} is not in the spec")
    value = fw_spec[plan.stdin_key]
    return value if isinstance(value, bytes) else str(value).encode()


def _result(plan: _Plan, codes: list[int], out: _Capture, err: _Capture, tail: str) -> FWAction:
    code = codes[-1]
    stored: dict[str, Any] = {"returncode": code, "all_returncodes": codes}
    if plan.store_stdout:
        stored["stdout"] = out.text()
    if plan.store_stderr:
        stored["stderr"] = err.text()
    if code != 0 and plan.fizzle_bad_rc:
        label = plan.labels[len(codes) - 1]
        message = f"ScriptTask: {label!r} exited with return code {code}"
        if tail.strip():
            message += f"; stderr ends with {tail.strip()[-500:]!r}"
        raise TaskError(message, returncode=code, all_returncodes=codes, stderr=tail)
    return FWAction(stored_data=stored, defuse_children=code != 0 and plan.defuse_bad_rc)
