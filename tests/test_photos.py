"""Report photos: metadata stripped, limits, visibility, storage (local and real S3), deletion."""

import io
import uuid

import pytest
from photo_files import CAMERA, SECRET_COMMENT, encoded, gps_exif, gps_jpeg, png_claiming
from PIL import Image
from sqlalchemy import func, select

from civic_api.audit.models import AuditEntry
from civic_api.photos.models import Photo
from civic_api.photos.storage import LocalStore


@pytest.fixture
def store(app, tmp_path):
    store = LocalStore(tmp_path / "photos")
    previous = app.extensions.get("photo_store")
    app.extensions["photo_store"] = store
    yield store
    app.extensions["photo_store"] = previous


@pytest.fixture
def reported(submit):
    def make(category="waste"):
        body = submit(category=category).json
        return body["id"], {"Follow-Up-Token": body["follow_up_token"]}

    return make


def upload(client, report_id, token_headers, data, name="photo.jpg", content_type="image/jpeg"):
    return client.post(
        f"/v1/reports/{report_id}/photos",
        data={"file": (io.BytesIO(data), name, content_type)},
        headers=token_headers,
        content_type="multipart/form-data",
    )


def stored_bytes(store, db, photo_id) -> bytes:
    return store.get(db.get(Photo, uuid.UUID(photo_id)).storage_key)


def test_gps_exif_comment_icc_and_xmp_are_gone_and_orientation_applied(client, reported, store, db):
    original = gps_jpeg(size=(60, 40), orientation=6)
    # The file really carries what we claim it does.
    with Image.open(io.BytesIO(original)) as before:
        assert before.info["comment"] == SECRET_COMMENT
        assert before.getexif().get_ifd(0x8825)  # GPS IFD
        assert "icc_profile" in before.info and "xmp" in before.info
    report_id, token = reported()
    r = upload(client, report_id, token, original)
    assert r.status_code == 201, r.json
    # Orientation 6 means "rotate 90° clockwise to view": 60×40 becomes 40×60.
    assert (r.json["width"], r.json["height"]) == (40, 60)
    assert r.json["content_type"] == "image/jpeg"
    assert r.json["moderation"] == "pending"
    data = stored_bytes(store, db, r.json["id"])
    assert r.json["size_bytes"] == len(data)
    for leak in (SECRET_COMMENT, CAMERA.encode(), b"Exif", b"GPS", b"xmpmeta", b"ICC_PROFILE"):
        assert leak not in data
    with Image.open(io.BytesIO(data)) as after:
        assert after.format == "JPEG"
        assert after.size == (40, 60)
        assert not set(after.info) & {"exif", "comment", "icc_profile", "xmp", "photoshop"}
        assert len(after.getexif()) == 0
        # After rotating clockwise the blue left half is on top.
        assert after.getpixel((20, 5))[2] > 150 and after.getpixel((20, 55))[0] > 150
    # The stored name is random: nothing of the upload's name, the report or the photo id.
    key = db.get(Photo, uuid.UUID(r.json["id"])).storage_key
    assert report_id not in key and r.json["id"] not in key and "photo" not in key


@pytest.mark.parametrize(
    "data, fmt",
    [
        (encoded("PNG", (30, 20), mode="RGBA"), "PNG"),
        (encoded("WEBP", (30, 20)), "WEBP"),
        (encoded("PNG", (30, 20), mode="P"), "PNG"),
        (encoded("HEIF", (30, 20)), "HEIF"),
    ],
)
def test_png_webp_and_heic_become_jpeg(client, reported, store, db, data, fmt):
    report_id, token = reported()
    # A wrong name and type on purpose: only the content counts.
    r = upload(client, report_id, token, data, name="x.txt", content_type="text/plain")
    assert r.status_code == 201, r.json
    assert (r.json["width"], r.json["height"]) == (30, 20)
    with Image.open(io.BytesIO(stored_bytes(store, db, r.json["id"]))) as stored:
        assert stored.format == "JPEG"
        assert stored.getpixel((1, 1)) == pytest.approx((255, 255, 255), abs=3)  # alpha on white


@pytest.mark.parametrize(
    "fmt, options",
    [
        ("PNG", {"pnginfo": "comment"}),
        ("WEBP", {"xmp": b"<x:xmpmeta>GPSLatitude 42.66</x:xmpmeta>"}),
        ("HEIF", {}),
    ],
)
def test_metadata_of_png_webp_and_heic_is_gone_too(client, reported, store, db, fmt, options):
    from PIL import PngImagePlugin

    if options.get("pnginfo"):
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", SECRET_COMMENT.decode())
        options = {"pnginfo": info}
    data = encoded(fmt, (30, 20), exif=gps_exif(), **options)
    assert CAMERA.encode() in data  # the upload does carry it
    report_id, token = reported()
    r = upload(client, report_id, token, data)
    assert r.status_code == 201, r.json
    stored = stored_bytes(store, db, r.json["id"])
    for leak in (CAMERA.encode(), SECRET_COMMENT, b"Exif", b"xmpmeta"):
        assert leak not in stored


@pytest.mark.parametrize(
    "data, status, message",
    [
        (b"GIF89a" + b"\0" * 100, 422, "not a JPEG, PNG, WebP or HEIC"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 422, "not a JPEG, PNG, WebP or HEIC"),
        (b"", 422, "not a JPEG"),
        (gps_jpeg()[:300], 422, "could not be decoded"),
        (png_claiming(100_000, 100_000), 413, "pixels"),
        (png_claiming(9_000, 9_000), 413, "at most 40000000 are allowed"),
    ],
)
def test_bad_uploads_get_clear_errors_and_store_nothing(
    client, reported, store, db, data, status, message
):
    report_id, token = reported()
    r = upload(client, report_id, token, data)
    assert r.status_code == status, r.json
    assert r.json["code"] == status and message in r.json["message"]
    assert r.json["errors"] == {"files": {"file": [r.json["message"]]}}
    assert db.scalar(select(func.count()).select_from(Photo)) == 0
    assert not (store.directory.exists() and any(store.directory.iterdir()))


def test_too_large_file_is_413_before_decoding(app, client, reported, store, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 1000)
    report_id, token = reported()
    r = upload(client, report_id, token, gps_jpeg(size=(400, 400)) + b"\0" * 70_000)
    assert r.status_code == 413
    assert r.json["code"] == 413 and r.json["status"]


def test_large_jpegs_decode_at_a_reduced_scale_other_formats_count_in_full(
    app, client, reported, store, monkeypatch
):
    monkeypatch.setitem(app.config, "PHOTO_MAX_PIXELS", 10_000)
    monkeypatch.setitem(app.config, "PHOTO_MAX_DIMENSION", 50)
    report_id, token = reported()
    # 400×400 JPEG: decoded at 1/4 scale (100×100 = 10,000 pixels), then shrunk to 50×50.
    r = upload(client, report_id, token, encoded("JPEG", (400, 400)))
    assert r.status_code == 201, r.json
    assert (r.json["width"], r.json["height"]) == (50, 50)
    r = upload(client, report_id, token, encoded("PNG", (400, 400)))
    assert r.status_code == 413 and "400×400" in r.json["message"]


def test_large_photo_is_scaled_down(app, client, reported, store, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_DIMENSION", 100)
    report_id, token = reported()
    r = upload(client, report_id, token, encoded("PNG", (400, 200)))
    assert (r.json["width"], r.json["height"]) == (100, 50)


def test_count_limit_wrong_token_missing_file_and_json_body(
    app, client, reported, store, monkeypatch
):
    monkeypatch.setitem(app.config, "PHOTO_MAX_PER_REPORT", 2)
    report_id, token = reported()
    for _ in range(2):
        assert upload(client, report_id, token, encoded("PNG")).status_code == 201
    r = upload(client, report_id, token, encoded("PNG"))
    assert r.status_code == 409 and "at most 2 photos" in r.json["message"]
    other_id, other_token = reported()
    assert upload(client, other_id, token, encoded("PNG")).status_code == 404
    assert upload(client, report_id, {}, encoded("PNG")).status_code == 404
    r = client.post(
        f"/v1/reports/{other_id}/photos",
        data={"other": "x"},
        headers=other_token,
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "file" in r.json["errors"]["files"]
    r = client.post(f"/v1/reports/{other_id}/photos", json={"file": "x"}, headers=other_token)
    assert r.status_code == 422
    # Elsewhere multipart bodies stay refused.
    r = client.post("/v1/reports", data={"file": "x"}, content_type="multipart/form-data")
    assert r.status_code == 415


def test_reporter_lists_downloads_and_deletes(client, reported, store, db):
    report_id, token = reported()
    first = upload(client, report_id, token, gps_jpeg()).json
    second = upload(client, report_id, token, encoded("PNG")).json
    listed = client.get(f"/v1/reports/{report_id}/photos", headers=token).json
    assert [p["id"] for p in listed] == [first["id"], second["id"]]
    r = client.get(f"/v1/reports/{report_id}/photos/{first['id']}", headers=token)
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    assert r.data == stored_bytes(store, db, first["id"])
    assert r.headers["Cache-Control"] == "private, no-store"
    key = db.get(Photo, uuid.UUID(first["id"])).storage_key
    r = client.delete(f"/v1/reports/{report_id}/photos/{first['id']}", headers=token)
    assert r.status_code == 204
    assert not (store.directory / key).exists()
    assert [p["id"] for p in client.get(f"/v1/reports/{report_id}/photos", headers=token).json] == [
        second["id"]
    ]


def test_staff_of_the_municipality_only_and_sensitive_reads_are_audited(
    client, reported, store, staff_client, db
):
    report_id, token = reported(category="commenting")  # harassment: sensitive
    photo = upload(client, report_id, token, gps_jpeg()).json
    prishtina, drenas = staff_client("staff", ["prishtina"]), staff_client("staff", ["drenas"])
    url = f"/v1/admin/reports/{report_id}/photos"
    assert [p["id"] for p in prishtina.get(url).json] == [photo["id"]]
    assert drenas.get(url).status_code == 404
    assert drenas.get(f"{url}/{photo['id']}").status_code == 404
    assert client.get(url).status_code == 401
    r = prishtina.get(f"{url}/{photo['id']}")
    assert r.status_code == 200 and r.data == stored_bytes(store, db, photo["id"])
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "photo.read")).one()
    assert (entry.actor_id, entry.entity_id) == (prishtina.staff.id, photo["id"])
    assert entry.after == {"report_id": report_id}
    # Approved or not, a sensitive report's photo is never public.
    r = prishtina.put(f"{url}/{photo['id']}/moderation", json={"decision": "approved"})
    assert r.status_code == 200 and r.json["moderation"] == "approved"
    assert client.get(f"/v1/photos/{photo['id']}").status_code == 404


def test_public_only_after_approval_for_non_sensitive(client, reported, store, staff_client, db):
    report_id, token = reported(category="waste")
    photo = upload(client, report_id, token, gps_jpeg()).json
    public = f"/v1/photos/{photo['id']}"
    assert client.get(public).status_code == 404  # pending
    moderation = f"/v1/admin/reports/{report_id}/photos/{photo['id']}/moderation"
    manager = staff_client("staff", ["prishtina"])
    assert manager.put(moderation, json={"decision": "maybe"}).status_code == 422
    assert manager.put(moderation, json={"decision": "approved"}).status_code == 200
    r = client.get(public)
    assert r.status_code == 200 and r.data == stored_bytes(store, db, photo["id"])
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "photo.moderate")).one()
    assert entry.before == {"moderation": "pending"}
    assert manager.put(moderation, json={"decision": "rejected"}).status_code == 200
    assert client.get(public).status_code == 404
    assert client.get(f"/v1/photos/{uuid.uuid4()}").status_code == 404


def test_a_failed_commit_leaves_no_file(app, client, reported, store, db, monkeypatch):
    report_id, token = reported()
    from civic_api.database import session

    def broken_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(session, "commit", broken_commit)
    r = upload(client, report_id, token, encoded("PNG"))
    assert r.status_code == 500
    assert not any(store.directory.iterdir())
