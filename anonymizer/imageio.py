"""Reading photos into the pipeline's RGB arrays, and writing the results back.

Reading applies the EXIF orientation (the pipeline works on the image as it is
displayed), checks the size from the header before anything is decoded, and
normalises every mode Pillow reads (grey, palette, alpha, CMYK, 16-bit) to
8-bit RGB, keeping the alpha channel aside so that it can be written back.

Writing uses the input's format, strips metadata unless asked to keep it, and
is atomic: a temporary file in the destination folder, then ``os.replace``.
A reader never sees a half-written output, and an input is never opened for
writing.

:func:`scaled_down` is the one downscaling the detectors' passes share.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_JPEG_QUALITY = 95

ORIENTATION_TAG = 0x0112
_WRITABLE = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")
_WITH_ALPHA = ("PNG", "WEBP", "TIFF")  # formats whose alpha channel Pillow writes and reads back
_BY_EXTENSION = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
# Modes whose colours are RGB already: an embedded ICC profile still describes the output.
_RGB_MODES = ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA")

# Pillow's own decompression-bomb limit is a process-wide setting; it is lifted
# (under this lock) only while a header is parsed, and the caller's limit is
# checked instead.
_PIL_LIMIT_LOCK = threading.Lock()


class ImageReadError(ValueError):
    """A file that cannot be used as a photo; the message says why, for the user."""


class ImageTooLargeError(ImageReadError):
    """The header announces more pixels than the limit allows."""


@dataclass
class LoadedImage:
    """A photo as the pipeline sees it, plus what writing it back needs."""

    rgb: np.ndarray  # HxWx3 uint8, EXIF orientation applied
    alpha: np.ndarray | None  # HxW uint8, or None when the input has no transparency
    format: str  # the Pillow format to write it back in: JPEG, PNG, WEBP, BMP or TIFF
    source_mode: str  # the mode Pillow read, e.g. "RGB", "CMYK", "I;16"
    icc_profile: bytes | None = None  # kept when it still describes the RGB pixels
    exif: Image.Exif | None = None  # orientation reset to 1: it is baked into the pixels
    xmp: bytes | None = None
    comment: bytes | None = None
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def is_image_path(path: str | os.PathLike) -> bool:
    """Whether a file is a candidate photo, decided by its extension alone."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _open(path: Path) -> Image.Image:
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _output_format(pil_format: str | None, path: Path) -> str:
    if pil_format == "MPO":  # multi-picture JPEGs from cameras: the first picture, as a JPEG
        return "JPEG"
    if pil_format in _WRITABLE:
        return pil_format
    by_ext = _BY_EXTENSION.get(path.suffix.lower())
    if by_ext is None:
        raise ImageReadError(f"unsupported format: {pil_format} in a {path.suffix or 'extensionless'} file")
    return by_ext


def _to_uint8_grey(image: Image.Image) -> np.ndarray:
    data = np.asarray(image)
    if image.mode.startswith("I;16"):
        data = data.astype(np.float32) / 257.0
    elif image.mode == "F" and data.size and float(np.nanmax(data)) <= 1.0:
        data = data.astype(np.float32) * 255.0
    elif data.size and float(np.nanmax(data)) > 255:  # 32-bit int holding 16-bit samples
        data = data.astype(np.float32) / 257.0
    return np.clip(np.rint(np.nan_to_num(data)), 0, 255).astype(np.uint8)


def _normalise(image: Image.Image, icc: bytes | None) -> tuple[np.ndarray, np.ndarray | None]:
    """8-bit RGB pixels and the alpha channel (None when fully opaque by construction)."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        grey = _to_uint8_grey(image)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)), None
    if mode == "CMYK" and icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(image, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            return np.asarray(rgb, dtype=np.uint8).copy(), None
        except (ImageCms.PyCMSError, OSError) as err:
            log.debug("CMYK profile unusable (%s); converting without it", err)
    has_alpha = "A" in image.getbands() or mode == "RGBa" or "transparency" in image.info
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy(), None


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read a photo as displayed (EXIF orientation applied), as 8-bit RGB.

    Raises :class:`ImageReadError` (or its subclass :class:`ImageTooLargeError`)
    with a message for the user when the file cannot be used. The size is
    checked from the header, before the pixels are decoded.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):  # a named pipe or a device would block or never end
            raise ImageReadError("cannot read: not a regular file (a named pipe, socket or device)")
        opened = _open(path)
    except UnidentifiedImageError:
        size = path.stat().st_size if path.is_file() else None
        if size == 0:
            raise ImageReadError("not an image: the file is empty") from None
        raise ImageReadError("not an image: its contents are in no format Pillow reads") from None
    except IsADirectoryError:
        raise ImageReadError("cannot read: it is a directory") from None
    except PermissionError:
        raise ImageReadError("cannot read: permission denied") from None
    except FileNotFoundError:
        raise ImageReadError("cannot read: no such file (a broken link?)") from None
    except OSError as err:
        raise ImageReadError(f"cannot read: {err.strerror or err}") from None
    with opened as image:
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageTooLargeError(
                f"too large: {width}x{height} is {width * height / 1e6:.0f} megapixels, "
                f"over the limit of {max_pixels / 1e6:g} megapixels (raise it with --max-pixels)"
            )
        fmt = _output_format(image.format, path)
        source_mode = image.mode
        try:
            image.load()
            shown = ImageOps.exif_transpose(image)
        except Exception as err:  # Pillow raises many types for broken data: OSError, SyntaxError, ValueError...
            reason = str(err) or type(err).__name__
            raise ImageReadError(f"not a readable image: {reason}") from None
        info = dict(image.info)
        text = dict(getattr(image, "text", None) or {})
    icc = info.get("icc_profile") or None
    try:
        rgb, alpha = _normalise(shown, icc)
    except (ValueError, OSError) as err:
        raise ImageReadError(f"unsupported image mode {shown.mode}: {err}") from None
    exif = None
    raw_exif = shown.info.get("exif")
    if raw_exif:
        exif = Image.Exif()
        try:
            exif.load(raw_exif)
            exif[ORIENTATION_TAG] = 1  # exif_transpose drops the tag; say "upright" explicitly
        except Exception as err:  # a broken EXIF block is dropped, not fatal: we strip it by default anyway
            log.debug("unreadable EXIF in %s dropped: %s", path, err)
            exif = None
    xmp = shown.info.get("xmp") or info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    comment = info.get("comment")
    if isinstance(comment, str):
        comment = comment.encode("utf-8")
    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        format=fmt,
        source_mode=source_mode,
        icc_profile=icc if source_mode in _RGB_MODES else None,
        exif=exif,
        xmp=xmp or None,
        comment=comment or None,
        text={k: v for k, v in text.items() if isinstance(v, str)},
    )


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` at once.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the permissions a plain new file would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _save_options(like: LoadedImage, keep_metadata: bool, jpeg_quality: int) -> dict:
    fmt = like.format
    options: dict = {}
    if like.icc_profile and fmt != "BMP":
        options["icc_profile"] = like.icc_profile
    if fmt == "JPEG":
        options["quality"] = int(jpeg_quality)
    elif fmt == "WEBP":
        options["quality"] = int(jpeg_quality)
    elif fmt == "TIFF":
        options["compression"] = "tiff_lzw"
    if not keep_metadata:
        return options
    if like.exif is not None and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        options["exif"] = like.exif
    if like.xmp and fmt in ("JPEG", "WEBP"):
        options["xmp"] = like.xmp
    if like.comment and fmt == "JPEG":
        options["comment"] = like.comment
    if fmt == "PNG":
        text = dict(like.text)
        if like.xmp and "XML:com.adobe.xmp" not in text:
            text["XML:com.adobe.xmp"] = like.xmp.decode("utf-8", "replace")
        if text:
            pnginfo = PngImagePlugin.PngInfo()
            for key, value in text.items():
                pnginfo.add_itxt(key, value)
            options["pnginfo"] = pnginfo
    return options


def write_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    like: LoadedImage,
    *,
    keep_metadata: bool = False,
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
) -> Path:
    """Write ``rgb`` atomically to ``path`` in the format of ``like`` (the input it came from).

    The input's alpha channel is put back where the format has one. Metadata
    (EXIF with GPS, XMP, comments, text chunks) is written only with
    ``keep_metadata``; the ICC profile is kept either way, since it only
    describes the colours.
    """
    path = Path(path)
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    if like.alpha is not None and like.format in _WITH_ALPHA:
        if like.alpha.shape != rgb.shape[:2]:
            raise ValueError(f"alpha of shape {like.alpha.shape} does not fit an image of {rgb.shape[:2]}")
        image = Image.fromarray(np.ascontiguousarray(np.dstack([rgb, like.alpha])))
    else:
        image = Image.fromarray(np.ascontiguousarray(rgb))
    # A fresh Image carries no info of its own, so only what is passed here is written.
    options = _save_options(like, keep_metadata, jpeg_quality)
    with atomic_output(path) as tmp:
        image.save(tmp, format=like.format, **options)
    return path


def scaled_down(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """``image`` scaled so that its longer side is at most ``side`` px, and the factor (1.0: as it is)."""
    import cv2

    f = side / max(image.shape[:2])
    if f >= 1.0:
        return image, 1.0
    return cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA), f
