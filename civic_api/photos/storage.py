"""Where photo bytes live: a local directory (default) or an S3-compatible bucket."""

import functools
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from civic_api.errors import DomainError

logger = logging.getLogger(__name__)


class StorageUnavailable(DomainError):
    """503: the photo store failed (disk, network, credentials); the client may retry."""

    status = 503

    def __init__(self, message: str = "Photo storage is unavailable; try again later."):
        super().__init__(message, headers={"Retry-After": "30"})


def _unavailable_on_failure(method):
    """Turn any storage failure into StorageUnavailable, logging only its type."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ValueError:
            raise
        except Exception as exc:
            logger.error("photo store %s failed: %s", method.__name__, type(exc).__name__)
            raise StorageUnavailable() from None

    return wrapper


def new_key() -> str:
    """A random object name: it says nothing about the report, the time or the upload."""
    return secrets.token_hex(16) + ".jpg"


class LocalStore:
    """Files in one directory (keep it outside any web root; the app serves them itself)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise ValueError("invalid storage key")
        return self.directory / key

    @_unavailable_on_failure
    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Write then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @_unavailable_on_failure
    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    @_unavailable_on_failure
    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys_older_than(self, when: datetime) -> Iterator[str]:
        if not self.directory.is_dir():
            return
        for entry in os.scandir(self.directory):
            if entry.name.startswith("."):  # an upload being written
                continue
            if entry.is_file() and entry.stat().st_mtime < when.timestamp():
                yield entry.name


class S3Store:
    """Objects in an S3-compatible bucket (AWS, MinIO, Ceph…) through boto3.

    Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID…, a profile, an instance role).
    """

    def __init__(
        self, bucket: str, *, prefix: str = "", endpoint_url=None, region=None, timeout=10
    ):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3}
            ),
        )

    @_unavailable_on_failure
    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type
        )

    @_unavailable_on_failure
    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    @_unavailable_on_failure
    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def keys_older_than(self, when: datetime) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                if item["LastModified"].astimezone(UTC) < when:
                    yield item["Key"][len(self.prefix) :]


def store_for(app):
    """The app's configured store, made once (boto3 is imported only when S3 is used)."""
    if "photo_store" not in app.extensions:
        app.extensions["photo_store"] = store_from_config(app.config, app.instance_path)
    return app.extensions["photo_store"]


def store_from_config(config, instance_path: str):
    """The store the configuration names (PHOTO_STORAGE: local or s3)."""
    if config["PHOTO_STORAGE"] == "s3":
        if not config["PHOTO_S3_BUCKET"]:
            raise RuntimeError("PHOTO_STORAGE=s3 needs CIVIC_PHOTO_S3_BUCKET")
        return S3Store(
            config["PHOTO_S3_BUCKET"],
            prefix=config["PHOTO_S3_PREFIX"],
            endpoint_url=config["PHOTO_S3_ENDPOINT_URL"],
            region=config["PHOTO_S3_REGION"],
        )
    if config["PHOTO_STORAGE"] != "local":
        raise RuntimeError(f"PHOTO_STORAGE must be local or s3, not {config['PHOTO_STORAGE']!r}")
    return LocalStore(config["PHOTO_DIRECTORY"] or Path(instance_path) / "photos")
