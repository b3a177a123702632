"""Where backups go: a folder, or `s3://bucket/prefix` on the S3 endpoint of the settings.

Layout under the target: `<stamp>/database.dump` and `<stamp>/manifest.json` per backup, and
`blobs/<key>` shared by all of them (blobs are write-once, so each backup copies only the
ones the target does not hold yet).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from monitor_api.config import Settings


class Target(Protocol):
    """A backup location."""

    description: str

    def sizes(self, prefix: str) -> dict[str, int]:
        """Key → size of every object under `prefix`."""

    def put_file(self, key: str, path: Path) -> None:
        """Store a local file under `key`."""

    def get_file(self, key: str, path: Path) -> None:
        """Fetch `key` into a local file."""

    def child(self, name: str) -> Target:
        """The same target one folder down."""


class DirTarget:
    """A folder (a mounted volume, a disk that leaves the building)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.description = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root != path and self.root not in path.parents:
            raise ValueError(f"key escapes the backup folder: {key!r}")
        return path

    def sizes(self, prefix: str) -> dict[str, int]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return {}
        return {p.relative_to(self.root).as_posix(): p.stat().st_size
                for p in base.rglob("*") if p.is_file() and not p.name.endswith(".part")}

    def put_file(self, key: str, path: Path) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(path, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)

    def get_file(self, key: str, path: Path) -> None:
        shutil.copyfile(self._path(key), path)

    def child(self, name: str) -> DirTarget:
        return DirTarget(self._path(name))


class S3Target:
    """A bucket and prefix on the S3 endpoint the blob store uses (its credentials)."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.description = f"s3://{bucket}/{self.prefix}"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def sizes(self, prefix: str) -> dict[str, int]:
        out: dict[str, int] = {}
        start = len(self._key(""))
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)):
            for obj in page.get("Contents", []):
                out[obj["Key"][start:]] = int(obj["Size"])
        return out

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key))

    def get_file(self, key: str, path: Path) -> None:
        self.client.download_file(self.bucket, self._key(key), str(path))

    def child(self, name: str) -> S3Target:
        return S3Target(self.client, self.bucket, self._key(name))


def open_target(spec: str, settings: Settings) -> Target:
    """`s3://bucket/prefix` or a folder path."""
    if spec.startswith("s3://"):
        import boto3
        from botocore.config import Config

        bucket, _, prefix = spec[len("s3://"):].partition("/")
        if not bucket:
            raise ValueError("an S3 target is s3://bucket[/prefix]")
        client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(s3={"addressing_style": "path" if settings.s3_path_style
                              else "auto"}))
        return S3Target(client, bucket, prefix)
    return DirTarget(spec)
