"""The small interface every blob store offers: write-once originals plus resumable staging."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, Protocol

# Staged bytes are written in parts of this size (S3's minimum part is 5 MiB); the remainder of
# a request that does not fill a part is kept as a "tail" object until more bytes arrive.
PART_SIZE = 8 * 1024 * 1024
READ_CHUNK = 256 * 1024


def original_key(sha256: str) -> str:
    """Where the verified original with this SHA-256 lives (content-addressed)."""
    return f"originals/{sha256[:2]}/{sha256}"


@dataclass
class StagingState:
    """What the store needs to continue a partial upload; kept in the database, as JSON."""

    size: int = 0                       # bytes durably staged
    multipart_id: str | None = None     # S3 multipart upload id, once a whole part was written
    parts: list[dict[str, Any]] = field(default_factory=list)  # [{"n", "etag", "size"}]
    tail_key: str | None = None         # bytes after the last part (S3 only)
    tail_size: int = 0
    in_flight: int = 0                  # parts being sent (never stored)
    # The whole file, when it all arrived in the final request (never stored): the caller
    # files it directly instead of staging it first.
    final_bytes: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "multipart_id": self.multipart_id, "parts": self.parts,
                "tail_key": self.tail_key, "tail_size": self.tail_size}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> StagingState:
        data = data or {}
        return cls(size=int(data.get("size", 0)), multipart_id=data.get("multipart_id"),
                   parts=list(data.get("parts", [])), tail_key=data.get("tail_key"),
                   tail_size=int(data.get("tail_size", 0)))


@dataclass(frozen=True)
class StagedItem:
    """One thing a store holds under `staging/`: an object or an S3 multipart upload."""

    upload_id: str                      # the name under staging/ (an upload id, if ours)
    key: str                            # the object key, or the multipart upload's key
    modified: datetime                  # last write (objects) or initiation (multipart)
    multipart_id: str | None = None     # set for a multipart upload


# Called with a new S3 multipart upload id before its first part is sent: it must persist
# the id (committed) so the parts can always be found and aborted.
TrackMultipart = Callable[[str], None]


class BodyEnded(Exception):
    """Raised by a chunk iterator when the client's body stops before its declared length."""


class StagingInterrupted(Exception):
    """The client's body ended early; `state` holds what was staged before it did."""

    def __init__(self, state: StagingState) -> None:
        super().__init__("request body ended early")
        self.state = state


class StagingLost(Exception):
    """The staged bytes are gone from the store (e.g. a lifecycle rule aborted the parts)."""


class BlobStore(Protocol):
    """Blob storage: S3 (boto3) or a local directory."""

    kind: str

    def check(self) -> None:
        """Raise if the store is unreachable."""

    def exists(self, key: str) -> bool:
        """Whether an object exists under `key`."""

    def size(self, key: str) -> int:
        """The byte size of `key`."""

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """A small byte range of `key` (magic-byte sniffing)."""

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        """Stream the bytes of `key` in chunks."""

    def download_to(self, key: str, fileobj: BinaryIO) -> None:
        """Copy `key` into an open binary file, streaming."""

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None,
                  sha256: str | None = None) -> None:
        """Store a small object; with `sha256` (hex), a store that can checks the bytes."""

    def promote(self, src: str, dst: str, *, lock_until: datetime | None = None) -> bool:
        """Move `src` to `dst` unless `dst` exists (write once); False when it already did."""

    def write_once(self, key: str, data: bytes, *, lock_until: datetime | None = None) -> bool:
        """Store `data` under `key` unless it exists (write once); False when it did."""

    def copy_once(self, src: str, dst: str, *, lock_until: datetime | None = None) -> bool:
        """Copy `src` to `dst` unless `dst` exists (write once; `src` stays); False if it did."""

    def delete(self, key: str) -> None:
        """Delete `key` (missing is fine)."""

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under `prefix`."""

    def presigned_get(self, key: str, *, seconds: int, filename: str,
                      content_type: str) -> str | None:
        """A short-lived URL for GET, or None when the store streams through the API."""

    def stage_append(self, upload_id: str, state: StagingState,
                     chunks: Iterable[bytes], *, final_size: int,
                     track: TrackMultipart | None = None) -> StagingState:
        """Append `chunks` to the staged upload; raise StagingInterrupted on an early end."""

    def stage_whole(self, upload_id: str, data: bytes, *, sha256: str) -> str:
        """Stage a whole file that arrived in one request as one object; return its key.
        `sha256` is the hash of `data` computed on the way in (S3 checks the stored bytes)."""

    def stage_rollback(self, upload_id: str, kept: StagingState,
                       attempt: StagingState) -> None:
        """Drop what a failed attempt staged beyond the state `kept` in the database."""

    def stage_finish(self, upload_id: str, state: StagingState) -> str:
        """Assemble the staged bytes into one object; return its key."""

    def stage_abort(self, upload_id: str, state: StagingState) -> None:
        """Forget every staged byte of the upload."""

    def list_staged(self, older_than: datetime) -> Iterator[StagedItem]:
        """Everything under `staging/` last written before `older_than`."""

    def list_keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix` (backups)."""

    def discard_staged(self, item: StagedItem) -> None:
        """Delete one staged object or abort one multipart upload."""
