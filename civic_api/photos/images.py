"""Decode an uploaded image with Pillow and re-encode its pixels only (no framework imports).

Nothing of the upload survives but pixels: EXIF (GPS, camera, time), XMP, IPTC, ICC
profiles and the JPEG comment are dropped by building a new image from the decoded
pixels, after `exif_transpose` has applied the orientation the EXIF asked for.
"""

import functools
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# What the upload may be, whatever its name or declared type says.
FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
OUTPUT_TYPE = "image/jpeg"


@functools.cache
def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF on the first upload, not at import (~10 MB per process)."""
    import pillow_heif

    pillow_heif.register_heif_opener()


class ImageRejected(Exception):
    """The upload is not an acceptable image; `status` is 413 (too big) or 422."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    width: int
    height: int
    content_type: str = OUTPUT_TYPE


def clean(data: bytes, *, max_pixels: int, max_dimension: int, quality: int = 85) -> CleanImage:
    """Decode `data` (JPEG, PNG, WebP or HEIC/HEIF), orient it, shrink it to fit
    `max_dimension` on its longer side and return it as a metadata-free JPEG.

    Raises ImageRejected: 422 for anything that is not a decodable image of those formats,
    413 for images that would decode to more than `max_pixels` pixels (decompression bombs
    included; JPEGs count at the reduced scale they are decoded at).
    """
    _register_heif()
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, past Image.MAX_IMAGE_PIXELS; we check our own cap first.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                if image.format == "JPEG":
                    # Decode at the smallest 1/2, 1/4 or 1/8 scale still larger than what is
                    # kept: a 200-megapixel photo costs no more memory than a small one.
                    image.draft("RGB", (max_dimension, max_dimension))
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageRejected(
                        f"The image has {width}×{height} pixels; at most {max_pixels} are allowed.",
                        413,
                    )
                image.load()
                oriented = ImageOps.exif_transpose(image)
                pixels = _rgb(oriented)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image has too many pixels.", 413) from None
    except UnidentifiedImageError:
        raise ImageRejected("The upload is not a JPEG, PNG, WebP or HEIC image.") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
        # Truncated or corrupt files, and decoder failures.
        raise ImageRejected("The image could not be decoded; it may be damaged.") from None
    # A new image from the raw pixels: its `info` is empty, so no metadata can ride along.
    fresh = Image.frombytes("RGB", pixels.size, pixels.tobytes())
    fresh.thumbnail((max_dimension, max_dimension), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    fresh.save(out, "JPEG", quality=quality, optimize=True)
    return CleanImage(out.getvalue(), fresh.width, fresh.height)


def _rgb(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white and convert any other mode (P, L, CMYK…) to RGB."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
