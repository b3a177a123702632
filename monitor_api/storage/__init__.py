"""Blob stores: S3 through boto3 when a bucket is configured, else a local directory."""

from __future__ import annotations

from monitor_api.config import Settings
from monitor_api.storage.base import (
    PART_SIZE,
    BlobStore,
    BodyEnded,
    StagedItem,
    StagingInterrupted,
    StagingLost,
    StagingState,
    TrackMultipart,
    original_key,
)
from monitor_api.storage.local import LocalBlobStore
from monitor_api.storage.s3 import S3BlobStore

__all__ = ["PART_SIZE", "BlobStore", "BodyEnded", "LocalBlobStore", "S3BlobStore", "StagedItem",
           "StagingInterrupted", "StagingLost", "StagingState", "TrackMultipart",
           "make_blob_store", "original_key"]


def make_blob_store(settings: Settings) -> BlobStore:
    """The store the settings ask for (no network calls here; /readyz calls `check()`)."""
    if settings.s3_bucket:
        return S3BlobStore(bucket=settings.s3_bucket, endpoint_url=settings.s3_endpoint_url,
                           region=settings.s3_region, access_key_id=settings.s3_access_key_id,
                           secret_access_key=settings.s3_secret_access_key,
                           path_style=settings.s3_path_style, sse=settings.s3_sse)
    return LocalBlobStore(settings.blob_dir)
