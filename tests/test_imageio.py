import io

import numpy as np
import pytest
from conftest import noise_image, sha256
from PIL import Image, ImageCms, PngImagePlugin

from anonymizer.imageio import (
    ORIENTATION_TAG,
    ImageReadError,
    ImageTooLargeError,
    atomic_output,
    is_image_path,
    read_image,
    write_image,
)

GPS_IFD = 0x8825
MAKE = 0x010F
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Jane Doe"/></rdf:RDF></x:xmpmeta>'
)


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "TestCam"
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (59.0, 19.0, 48.0)
    return exif


def test_candidates_are_chosen_by_extension():
    assert is_image_path("a/b.JPG") and is_image_path("x.tiff") and is_image_path("y.webp")
    assert not is_image_path("notes.txt") and not is_image_path("photo.gif") and not is_image_path("jpg")


def test_exif_orientation_is_applied(tmp_path):
    # Stored 60 wide and 40 tall with a red top-left corner; orientation 6 shows it turned 90 degrees clockwise.
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:10, :10] = (255, 0, 0)
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif_with_gps(orientation=6), quality=95)
    photo = read_image(path)
    assert (photo.width, photo.height) == (40, 60)
    assert photo.rgb[:10, -10:, 0].mean() > 200  # the red corner is now top-right
    assert photo.rgb[:10, :10, 0].mean() < 50
    assert photo.exif is not None and photo.exif[ORIENTATION_TAG] == 1
    # Written upright, without the rotation tag (stripped) or with orientation 1 (kept).
    write_image(tmp_path / "out.jpg", photo.rgb, photo)
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.size == (40, 60) and ORIENTATION_TAG not in out.getexif()
    write_image(tmp_path / "kept.jpg", photo.rgb, photo, keep_metadata=True)
    with Image.open(tmp_path / "kept.jpg") as kept:
        assert kept.size == (40, 60) and kept.getexif()[ORIENTATION_TAG] == 1


def test_grey_png_becomes_rgb(tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(grey).save(tmp_path / "g.png")
    photo = read_image(tmp_path / "g.png")
    assert photo.rgb.shape == (8, 8, 3) and photo.rgb.dtype == np.uint8 and photo.alpha is None
    for channel in range(3):
        np.testing.assert_array_equal(photo.rgb[..., channel], grey)


def test_palette_png_with_and_without_transparency(tmp_path):
    rgb = noise_image(16, 16)
    Image.fromarray(rgb).quantize(16).save(tmp_path / "p.png")
    photo = read_image(tmp_path / "p.png")
    assert photo.source_mode == "P" and photo.alpha is None and photo.rgb.shape == (16, 16, 3)
    paletted = Image.fromarray(rgb).quantize(16)
    paletted.info["transparency"] = 0
    paletted.save(tmp_path / "pt.png", transparency=0)
    photo = read_image(tmp_path / "pt.png")
    assert photo.alpha is not None and set(np.unique(photo.alpha)) <= {0, 255} and (photo.alpha == 0).any()


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif")])
def test_alpha_is_kept_where_the_format_has_it(tmp_path, fmt, ext):
    rgba = noise_image(20, 30, seed=1)
    rgba = np.dstack([rgba, np.tile(np.linspace(0, 255, 30).astype(np.uint8), (20, 1))])
    src = tmp_path / f"in.{ext}"
    extra = {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(rgba).save(src, format=fmt, **extra)
    photo = read_image(src)
    assert photo.rgb.shape == (20, 30, 3) and photo.alpha is not None
    write_image(tmp_path / f"out.{ext}", photo.rgb, photo)
    with Image.open(tmp_path / f"out.{ext}") as out:
        assert out.format == fmt and out.mode == "RGBA"
        written_alpha = np.asarray(out)[..., 3]
    assert np.abs(written_alpha.astype(int) - rgba[..., 3]).max() <= 2


def test_la_png_keeps_alpha(tmp_path):
    la = Image.fromarray(np.dstack([np.full((8, 8), 100, np.uint8), np.full((8, 8), 77, np.uint8)]))
    assert la.mode == "LA"
    la.save(tmp_path / "la.png")
    photo = read_image(tmp_path / "la.png")
    assert (photo.rgb == 100).all() and (photo.alpha == 77).all()


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")  # full magenta and yellow: red
    photo = read_image(tmp_path / "cmyk.jpg")
    assert photo.source_mode == "CMYK" and photo.rgb.shape == (8, 8, 3)
    r, g, b = photo.rgb[4, 4].astype(int)
    assert r > 200 and g < 60 and b < 60
    assert photo.icc_profile is None  # a CMYK profile would not describe the RGB pixels
    write_image(tmp_path / "out.jpg", photo.rgb, photo)
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.mode == "RGB" and out.format == "JPEG"


def test_16_bit_png_is_scaled_to_8_bit(tmp_path):
    values = np.array([[0, 257 * 128, 65535, 1000]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    photo = read_image(tmp_path / "g16.png")
    assert photo.source_mode.startswith("I")
    np.testing.assert_array_equal(photo.rgb[0, :, 0], [0, 128, 255, 4])
    assert photo.rgb.dtype == np.uint8


def test_bmp_and_tiff_round_trip(tmp_path):
    rgb = noise_image(10, 12)
    for ext in ("bmp", "tif"):
        Image.fromarray(rgb).save(tmp_path / f"a.{ext}")
        photo = read_image(tmp_path / f"a.{ext}")
        write_image(tmp_path / f"b.{ext}", photo.rgb, photo)
        with Image.open(tmp_path / f"b.{ext}") as out:
            np.testing.assert_array_equal(np.asarray(out.convert("RGB")), rgb)


def test_output_keeps_the_input_format_even_under_another_extension(tmp_path):
    Image.fromarray(noise_image(8, 8)).save(tmp_path / "really_a_png.jpg", format="PNG")
    photo = read_image(tmp_path / "really_a_png.jpg")
    assert photo.format == "PNG"
    write_image(tmp_path / "out.jpg", photo.rgb, photo)
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.format == "PNG"


def _jpeg_with_metadata(path, orientation=None):
    Image.fromarray(noise_image(32, 48)).save(
        path, exif=exif_with_gps(orientation), comment=b"taken at home", xmp=XMP, quality=95
    )


def test_metadata_is_stripped_by_default(tmp_path):
    _jpeg_with_metadata(tmp_path / "in.jpg")
    photo = read_image(tmp_path / "in.jpg")
    write_image(tmp_path / "out.jpg", photo.rgb, photo)
    with Image.open(tmp_path / "out.jpg") as out:
        assert "exif" not in out.info and len(out.getexif()) == 0
        assert "comment" not in out.info and "xmp" not in out.info
    raw = (tmp_path / "out.jpg").read_bytes()
    assert b"TestCam" not in raw and b"Jane Doe" not in raw and b"taken at home" not in raw


def test_keep_metadata_keeps_exif_gps_xmp_and_comment(tmp_path):
    _jpeg_with_metadata(tmp_path / "in.jpg", orientation=3)
    photo = read_image(tmp_path / "in.jpg")
    write_image(tmp_path / "out.jpg", photo.rgb, photo, keep_metadata=True)
    with Image.open(tmp_path / "out.jpg") as out:
        exif = out.getexif()
        assert exif[MAKE] == "TestCam" and exif[ORIENTATION_TAG] == 1
        assert exif.get_ifd(GPS_IFD)[1] == "N"
        assert out.info["comment"] == b"taken at home"
        assert b"Jane Doe" in out.info["xmp"]


def test_png_text_and_exif_are_stripped_unless_kept(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    Image.fromarray(noise_image(8, 8)).save(tmp_path / "in.png", pnginfo=info, exif=exif_with_gps())
    photo = read_image(tmp_path / "in.png")
    write_image(tmp_path / "out.png", photo.rgb, photo)
    with Image.open(tmp_path / "out.png") as out:
        assert "Author" not in out.info and len(out.getexif()) == 0
    write_image(tmp_path / "kept.png", photo.rgb, photo, keep_metadata=True)
    with Image.open(tmp_path / "kept.png") as kept:
        assert kept.info["Author"] == "Jane Doe" and kept.getexif().get_ifd(GPS_IFD)[1] == "N"


def test_icc_profile_of_an_rgb_photo_is_kept(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(noise_image(8, 8)).save(tmp_path / "in.jpg", icc_profile=icc)
    photo = read_image(tmp_path / "in.jpg")
    write_image(tmp_path / "out.jpg", photo.rgb, photo)
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.info.get("icc_profile") == icc


def test_jpeg_quality_is_used(tmp_path):
    Image.fromarray(noise_image(64, 64)).save(tmp_path / "in.jpg", quality=100)
    photo = read_image(tmp_path / "in.jpg")
    write_image(tmp_path / "q95.jpg", photo.rgb, photo)
    write_image(tmp_path / "q30.jpg", photo.rgb, photo, jpeg_quality=30)
    assert (tmp_path / "q95.jpg").stat().st_size > 1.5 * (tmp_path / "q30.jpg").stat().st_size


def test_size_limit_is_checked(tmp_path):
    Image.fromarray(noise_image(100, 100)).save(tmp_path / "a.png")
    with pytest.raises(ImageTooLargeError, match=r"100x100.*--max-pixels"):
        read_image(tmp_path / "a.png", max_pixels=5000)
    assert read_image(tmp_path / "a.png", max_pixels=10_000).width == 100
    assert read_image(tmp_path / "a.png", max_pixels=None).width == 100
    assert issubclass(ImageTooLargeError, ImageReadError)


def test_reading_leaves_the_pillow_limit_as_it_was(tmp_path):
    before = Image.MAX_IMAGE_PIXELS
    Image.fromarray(noise_image(4, 4)).save(tmp_path / "a.png")
    read_image(tmp_path / "a.png")
    assert Image.MAX_IMAGE_PIXELS == before


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path):
    Image.fromarray(noise_image(8, 8)).save(tmp_path / "in.png")
    photo = read_image(tmp_path / "in.png")
    target = tmp_path / "out" / "x.png"
    target.parent.mkdir()
    target.write_bytes(b"previous")
    write_image(target, photo.rgb, photo)
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.png"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    Image.fromarray(noise_image(8, 8)).save(tmp_path / "in.png")
    photo = read_image(tmp_path / "in.png")
    target = tmp_path / "out.png"
    target.write_bytes(b"previous")

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"half a")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_image(target, photo.rgb, photo)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_atomic_output_replaces_only_on_success(tmp_path):
    target = tmp_path / "r.json"
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("broken")
        raise RuntimeError
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_reading_never_changes_the_input(tmp_path):
    _jpeg_with_metadata(tmp_path / "in.jpg", orientation=6)
    before = sha256(tmp_path / "in.jpg")
    photo = read_image(tmp_path / "in.jpg")
    write_image(tmp_path / "out.jpg", photo.rgb, photo)
    assert sha256(tmp_path / "in.jpg") == before


def test_write_checks_the_pixels(tmp_path):
    Image.fromarray(noise_image(8, 8)).save(tmp_path / "in.png")
    photo = read_image(tmp_path / "in.png")
    with pytest.raises(ValueError):
        write_image(tmp_path / "o.png", np.zeros((8, 8), np.uint8), photo)
    assert not (tmp_path / "o.png").exists()


def test_webp_quality_and_exif_round_trip(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(noise_image(16, 16)).save(buf, format="WEBP", exif=exif_with_gps())
    (tmp_path / "in.webp").write_bytes(buf.getvalue())
    photo = read_image(tmp_path / "in.webp")
    assert photo.format == "WEBP"
    write_image(tmp_path / "out.webp", photo.rgb, photo)
    with Image.open(tmp_path / "out.webp") as out:
        assert "exif" not in out.info
    write_image(tmp_path / "kept.webp", photo.rgb, photo, keep_metadata=True)
    with Image.open(tmp_path / "kept.webp") as kept:
        assert kept.getexif()[MAKE] == "TestCam"
