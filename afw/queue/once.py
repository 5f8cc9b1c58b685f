"""Submitting a job at most once over a connection that may drop (sans-I/O).

A submission cut off by a dropped SSH connection has an unknown outcome: the scheduler may or
may not have queued the job, and sending ``sbatch`` again could queue it twice. So a remote
submission is wrapped in a small POSIX ``sh`` step that makes it idempotent:

1. ``mkdir .afw-submit-KEY`` in the launch dir claims the submission (atomic, NFS too);
2. the claimer runs the submit command with its output redirected into that directory, then
   writes ``returncode`` last (temp file + rename), ignoring SIGHUP/SIGPIPE: a dropped
   connection does not stop it half-way;
3. whoever runs the step again with the same key (after reconnecting) finds the directory and
   waits for ``returncode``; either way the step prints the recorded output and, as its last
   stderr line, ``afw-submit: returncode N``.

Running the step again is therefore safe, so the runner may re-run it after a reconnect
(``idempotent=True``): the job is submitted exactly once and its id is learnt either way. The key
is the launch id for reservations, so the record stays findable in the launch dir.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Sequence
from typing import Final

from afw.errors import QueueError, RemoteError
from afw.queue.adapter import CommandResult

__all__ = ["ONCE_PREFIX", "new_once_key", "once_command", "once_result", "outcome_unknown"]

ONCE_PREFIX: Final = ".afw-submit-"
"""Name prefix of the per-submission record directory in the launch dir."""

_PENDING: Final = 75
_NO_RECORD: Final = 73
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TRAILER = re.compile(r"^afw-submit: returncode (\d+)$")
# One line and no "!" (csh login shells expand it even inside single quotes).
_SNIPPET: Final = (
    'd=$1; w=$2; shift 2; trap "" HUP PIPE; '
    'if mkdir "$d" 2>/dev/null; then '
    '"$@" >"$d/stdout" 2>"$d/stderr" </dev/null; '
    'echo "$?" >"$d/rc.tmp"; mv -f "$d/rc.tmp" "$d/returncode"; '
    'elif [ -d "$d" ]; then :; '
    f'else echo "afw-submit: cannot create $d" >&2; exit {_NO_RECORD}; fi; '
    'n=0; until [ -s "$d/returncode" ]; do '
    f'if [ "$n" -ge "$w" ]; then echo "afw-submit: pending" >&2; exit {_PENDING}; fi; '
    "sleep 1; n=$((n+1)); done; "
    'cat "$d/stdout"; cat "$d/stderr" >&2; '
    'echo "afw-submit: returncode $(cat "$d/returncode")" >&2'
)


def new_once_key() -> str:
    """A random key, for submissions that have no launch id (non-reservation mode)."""
    return secrets.token_hex(8)


def once_command(argv: Sequence[str], key: str, wait: int) -> list[str]:
    """``argv`` wrapped so that running it again with the same ``key`` never re-submits.

    ``wait``: seconds a repeated run waits for a first, still running attempt to finish.
    """
    if not _KEY.match(key):
        raise ValueError(f"bad submission key {key!r}")
    return ["sh", "-c", _SNIPPET, "afw-submit", ONCE_PREFIX + key, str(max(wait, 1)), *argv]


def outcome_unknown(argv: Sequence[str], reason: str, **context: object) -> RemoteError:
    """The error for a submission that may or may not have reached the scheduler."""
    shown = shlex.join(argv)
    message = f"outcome of `{shown}` unknown: {reason}"
    return RemoteError(message, command=shown, outcome="unknown", **context)


def once_result(
    result: CommandResult, argv: Sequence[str], record: str | None = None
) -> CommandResult:
    """The submit command's own result, recovered from the wrapper's output.

    Raises :class:`~afw.errors.QueueError` when nothing was submitted for sure (the record could
    not be created, the program does not exist), and :class:`~afw.errors.RemoteError` with
    ``outcome="unknown"`` when the wrapper could not tell (``record``: where its answer will be).
    """
    lines = result.stderr.rstrip("\n").split("\n")
    found = _TRAILER.match(lines[-1]) if lines else None
    shown = shlex.join(argv)
    if found is not None:
        code, stderr = int(found.group(1)), "\n".join(lines[:-1])
        if code == 127 and "not found" in stderr:
            raise QueueError(f"command not found on the remote host: {argv[0]}", command=shown)
        return CommandResult(code, result.stdout, stderr + "\n" if stderr else "")
    if result.returncode == _NO_RECORD:
        detail = result.stderr.strip().splitlines()[-1:] or ["no detail"]
        raise QueueError(f"cannot submit `{shown}`: {detail[0]}", command=shown)
    if result.returncode == _PENDING:
        raise outcome_unknown(argv, "an earlier attempt is still running", record=record)
    reason = f"the submission step ended with status {result.returncode}"
    raise outcome_unknown(argv, reason, stderr=result.stderr, record=record)
