"""UTC timestamps written the way FireWorks writes them (ISO-8601 with ``+00:00``)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["datestamp", "now", "now_iso", "parse_iso", "to_iso"]


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """ISO-8601 with microseconds, so that string order equals time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string."""
    return to_iso(now())


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC (FireWorks writes both)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def datestamp() -> str:
    """``YYYY-MM-DD-HH-MM-SS-ffffff`` in UTC, FireWorks' block/launcher directory format."""
    return now().strftime("%Y-%m-%d-%H-%M-%S-%f")
