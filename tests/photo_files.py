"""Image files for the photo tests, made with Pillow: metadata-laden JPEGs, a PNG bomb."""

import io
import struct
import zlib

import pillow_heif
from PIL import ExifTags, Image, ImageCms

pillow_heif.register_heif_opener()  # HEIC as iPhones write it

SECRET_COMMENT = b"reporter phone: Pixel 7, owner Arta K."
CAMERA = "SecretCam 3000"


def gps_jpeg(size=(60, 40), orientation=6) -> bytes:
    """A JPEG whose EXIF holds GPS (Prishtina), a camera model and an orientation, with a
    comment, an ICC profile and XMP: everything a phone may leak."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = CAMERA
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (42.0, 39.0, 46.44),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (21.0, 9.0, 55.8),
    }
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>GPSLatitude 42.66</rdf:RDF></x:xmpmeta>'
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=SECRET_COMMENT, icc_profile=icc, xmp=xmp)
    return out.getvalue()


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = CAMERA
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (42.0, 39.0, 46.44),
    }
    return exif.tobytes()


def encoded(fmt: str, size=(32, 24), mode="RGB", **options) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "white" if mode != "RGBA" else (0, 0, 0, 0)).save(out, fmt, **options)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height pixels (a decompression bomb's shape)."""
    data = bytearray(encoded("PNG", (1, 1)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # Signature (8) + length (4) + "IHDR" (4) + 13 data bytes + CRC (4).
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)
