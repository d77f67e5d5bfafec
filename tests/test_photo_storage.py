"""Photo storage in a real S3-compatible server (moto's, started here) and on local disk."""

import io
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from live import free_port
from photo_files import SECRET_COMMENT, gps_jpeg
from sqlalchemy import func, select

from civic_api.photos.models import Photo
from civic_api.photos.storage import LocalStore, S3Store, store_from_config

BUCKET = "civic-photos"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """`python -m moto.server` (moto from PyPI) on a free loopback port."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.2)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)
    log.close()


@pytest.fixture
def s3_store(app, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    config = app.config | {
        "PHOTO_STORAGE": "s3",
        "PHOTO_S3_BUCKET": BUCKET,
        "PHOTO_S3_ENDPOINT_URL": s3_endpoint,
        "PHOTO_S3_REGION": "eu-central-1",
    }
    store = store_from_config(config, app.instance_path)
    assert isinstance(store, S3Store)
    store.client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    previous = app.extensions.get("photo_store")
    app.extensions["photo_store"] = store
    yield store
    app.extensions["photo_store"] = previous
    for key in store.keys_older_than(datetime.now(UTC) + timedelta(days=1)):
        store.delete(key)
    store.client.delete_bucket(Bucket=BUCKET)


def objects(store) -> dict[str, bytes]:
    listed = store.client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        item["Key"]: store.client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in listed
    }


def test_upload_read_and_erase_through_s3(client, submit, db, s3_store, staff_client):
    created = submit(category="waste").json
    token = {"Follow-Up-Token": created["follow_up_token"]}
    r = client.post(
        f"/v1/reports/{created['id']}/photos",
        data={"file": (io.BytesIO(gps_jpeg()), "IMG_0001.HEIC")},
        headers=token,
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.json
    key = "photos/" + db.get(Photo, uuid.UUID(r.json["id"])).storage_key
    stored = objects(s3_store)
    assert list(stored) == [key]
    assert SECRET_COMMENT not in stored[key]
    head = s3_store.client.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentType"] == "image/jpeg"
    staff = staff_client("staff", ["prishtina"])
    served = staff.get(f"/v1/admin/reports/{created['id']}/photos/{r.json['id']}")
    assert served.status_code == 200 and served.data == stored[key]
    # Erasing the report deletes its photos from the bucket.
    assert client.delete(f"/v1/reports/{created['id']}", headers=token).status_code == 204
    assert objects(s3_store) == {}


def test_s3_outage_is_a_clean_error_and_leaves_no_row(app, client, submit, db, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    dead = S3Store(
        BUCKET, endpoint_url=f"http://127.0.0.1:{free_port()}", region="eu-central-1", timeout=1
    )
    monkeypatch.setitem(app.extensions, "photo_store", dead)
    created = submit().json
    r = client.post(
        f"/v1/reports/{created['id']}/photos",
        data={"file": (io.BytesIO(gps_jpeg()), "p.jpg")},
        headers={"Follow-Up-Token": created["follow_up_token"]},
        content_type="multipart/form-data",
    )
    assert r.status_code == 503, r.json
    assert r.json["code"] == 503 and "Retry-After" in r.headers
    assert db.scalar(select(func.count()).select_from(Photo)) == 0


def test_local_store_refuses_path_tricks_and_writes_atomically(tmp_path):
    store = LocalStore(tmp_path / "p")
    store.put("a.jpg", b"data", "image/jpeg")
    assert store.get("a.jpg") == b"data"
    for key in ("../x", ".hidden", "", "a/b"):
        with pytest.raises(ValueError):
            store.get(key)
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["a.jpg"]  # no temp file left
    assert ((tmp_path / "p").stat().st_mode & 0o777) == 0o700
