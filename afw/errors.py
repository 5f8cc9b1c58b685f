"""afw's single exception tree.

Every error afw raises on purpose derives from :class:`AfwError`. Driver errors (sqlite3, pymongo,
asyncssh, OS) are translated at the boundary into one of these, with context attached::

    AfwError
    ├── ConfigError              bad launchpad / fworker / qadapter file, bad option
    ├── SerializationError       malformed JSON/YAML, unknown _fw_name, bad task parameters
    │   └── TaskParamError       missing required or unknown task parameter
    ├── WorkflowError            invalid workflow: missing link target, cycle, duplicate ids
    ├── QueryError               a filter that is not valid JSON or uses an unknown operator
    ├── StateError               an operation not allowed in the object's current state
    ├── NotFoundError            no Firework / launch / workflow with that id
    ├── StoreError               the database failed
    │   ├── StoreUnavailableError   the database cannot be reached
    │   └── LockError               a workflow lock could not be taken in time
    ├── FileFormatError          a launch-dir file is missing, torn or unparsable ("not ready yet")
    ├── QueueError               a scheduler command failed
    │   └── QueueLimitError         the scheduler refused a submission because of a job limit
    ├── RemoteError              SSH connection, authentication or host-key failure
    └── TaskError                a Firetask failed while running
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AfwError",
    "ConfigError",
    "FileFormatError",
    "LockError",
    "NotFoundError",
    "QueryError",
    "QueueError",
    "QueueLimitError",
    "RemoteError",
    "SerializationError",
    "StateError",
    "StoreError",
    "StoreUnavailableError",
    "TaskError",
    "TaskParamError",
    "WorkflowError",
]


class AfwError(Exception):
    """Root of every error afw raises on purpose.

    ``context`` carries identifiers that help a user locate the problem (fw_id, launch_id, path,
    command, output); ``str()`` stays a single readable line.
    """

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class ConfigError(AfwError):
    """A configuration file or option is invalid."""


class SerializationError(AfwError):
    """A document could not be parsed or turned into afw objects."""


class TaskParamError(SerializationError):
    """A Firetask was given a missing or unknown parameter."""


class WorkflowError(AfwError):
    """A workflow's structure is invalid (missing link targets, cycles, duplicate ids)."""


class QueryError(AfwError):
    """A query filter is malformed."""


class StateError(AfwError):
    """The operation is not allowed in the current state."""


class NotFoundError(AfwError):
    """The requested Firework, launch or workflow does not exist."""


class StoreError(AfwError):
    """The store (database) failed."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached."""


class LockError(StoreError):
    """A workflow lock could not be acquired."""


class FileFormatError(AfwError):
    """A launch-dir file is missing, torn or not parsable yet."""


class QueueError(AfwError):
    """A scheduler command failed."""


class QueueLimitError(QueueError):
    """The scheduler refused a submission because a job limit was reached."""


class RemoteError(AfwError):
    """An SSH connection, authentication or host-key check failed."""


class TaskError(AfwError):
    """A Firetask failed."""
