"""What the store raises, named for callers that must not depend on the driver."""

from __future__ import annotations

from gridfs.errors import NoFile
from pymongo.errors import ConnectionFailure, PyMongoError

# Any failure of a store operation; it may or may not have been applied, so nothing built on it is acked.
StorageError = PyMongoError
# The store could not be reached in time (answered as 503 / STORAGE_UNAVAILABLE).
StorageUnreachable = ConnectionFailure
# A recording file the session refers to is not in the store (deleted meanwhile); a StorageError too.
RecordingMissing = NoFile

DUPLICATE_KEY = 11000


def is_unreachable(error: BaseException) -> bool:
    """The store did not answer (in time): a connection failure, or any operation past its timeout."""
    return isinstance(error, ConnectionFailure) or (isinstance(error, PyMongoError) and error.timeout)


__all__ = ["DUPLICATE_KEY", "RecordingMissing", "StorageError", "StorageUnreachable", "is_unreachable"]
