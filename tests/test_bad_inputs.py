"""Bad inputs: each one is reported, gets no output, leaves its input as it was, and the batch goes on."""

import io
import json
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeDetector, noise_image, sha256, tree_hashes
from PIL import Image

from anonymizer import cli
from anonymizer.imageio import ImageReadError, ImageTooLargeError, read_image

FACE = (10, 10, 40, 45)
NON_ASCII = "café 写真.jpg"


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def jpeg_bytes(seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(noise_image(64, 80, seed=seed, low=50, high=200)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# What each bad file is, and the start of the reason the report must give.
BAD = {
    "empty.jpg": "not an image: the file is empty",
    "text.jpg": "not an image",
    "sub/truncated.jpg": "not a readable image",
    "huge.png": "too large: 100000x100000",
    "sub/gone.jpg": "cannot read: no such file",
    "locked.jpg": "cannot read: permission denied",
}
GOOD = ["good.jpg", f"sub/{NON_ASCII}"]


@pytest.fixture
def bad_tree(tmp_path, monkeypatch):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "good.jpg").write_bytes(jpeg_bytes(1))
    (root / "sub" / NON_ASCII).write_bytes(jpeg_bytes(2))
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("this is a shopping list, not a photo\n")
    whole = jpeg_bytes(3)
    (root / "sub" / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (root / "huge.png").write_bytes(png_claiming(100_000, 100_000))
    os.symlink(root / "deleted.jpg", root / "sub" / "gone.jpg")  # a link to a file that no longer exists
    (root / "locked.jpg").write_bytes(jpeg_bytes(4))
    (root / "notes.txt").write_text("ignored")
    (root / "sub" / "data.csv").write_text("a,b\n1,2\n")

    # Tests run as root, for whom chmod 000 changes nothing: make opening locked.jpg fail the way
    # it does for a user without read permission (EACCES), at the single place files are opened.
    real_open = Image.open

    def open_as_a_user(fp, *args, **kwargs):
        if isinstance(fp, (str, os.PathLike)) and Path(fp).name == "locked.jpg":
            raise PermissionError(13, "Permission denied", str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", open_as_a_user)
    return root


def test_bad_inputs_are_reported_and_the_batch_goes_on(bad_tree, tmp_path, capsys, use_detector):
    use_detector(FakeDetector([FACE]))
    before = tree_hashes(bad_tree)
    out_dir, report = tmp_path / "out", tmp_path / "report.json"
    start = time.monotonic()
    code = cli.main(["--input", str(bad_tree), "--out", str(out_dir), "--report", str(report)])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err

    assert code == 1
    assert elapsed < 20  # the huge PNG was refused from its header, not decoded
    entries = {e["input"]: e for e in json.loads(report.read_text(encoding="utf-8"))["images"]}
    assert sorted(entries) == sorted([*BAD, *GOOD])
    for name, reason in BAD.items():
        entry = entries[name]
        assert entry["status"] == "error" and entry["output"] is None, name
        assert entry["error"].startswith(reason), (name, entry["error"])
        assert not (out_dir / name).exists(), name
        assert sum(line.startswith(f"anonymize: {name}: ") for line in err.splitlines()) == 1, name
    for name in GOOD:
        assert entries[name]["status"] == "ok" and len(entries[name]["faces"]) == 1
        with Image.open(out_dir / name) as image:
            assert image.size == (80, 64)
    summary = err.strip().splitlines()[-1]
    assert (
        summary
        == f"anonymize: 8 images: 2 written, 6 failed, 2 faces hidden -> {out_dir}; 2 other files ignored; report: {report}"
    )
    assert tree_hashes(bad_tree) == before
    assert sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()) == sorted(GOOD)


def test_non_ascii_name_works_on_its_own(bad_tree, tmp_path, capsys, use_detector):
    use_detector(FakeDetector([FACE]))
    src = bad_tree / "sub" / NON_ASCII
    report = tmp_path / "rapport é.json"
    code = cli.main(["--input", str(src), "--out", str(tmp_path / "sortie 写真"), "--report", str(report)])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "sortie 写真" / NON_ASCII).is_file()
    assert NON_ASCII in report.read_text(encoding="utf-8")  # written as UTF-8, not \u escapes
    assert json.loads(report.read_text(encoding="utf-8"))["images"][0]["input"] == NON_ASCII


@pytest.mark.parametrize("name", [n for n in BAD if n != "sub/gone.jpg"])  # a missing --input is a usage error
def test_each_bad_input_alone(bad_tree, tmp_path, capsys, use_detector, name):
    use_detector(FakeDetector([FACE]))
    src = bad_tree / name
    before = sha256(src) if src.is_file() else None
    report = tmp_path / "r.json"
    code = cli.main(["--input", str(src), "--out", str(tmp_path / "o"), "--report", str(report)])
    err = capsys.readouterr().err
    assert code == 1
    entry = json.loads(report.read_text())["images"][0]
    assert entry["input"] == Path(name).name and entry["error"].startswith(BAD[name])
    assert err.splitlines()[0].startswith(f"anonymize: {Path(name).name}: {BAD[name]}")
    assert not list((tmp_path / "o").iterdir())
    if before is not None:
        assert sha256(src) == before


def test_huge_header_fails_fast_without_decoding(tmp_path):
    (tmp_path / "huge.png").write_bytes(png_claiming(100_000, 100_000))
    start = time.monotonic()
    with pytest.raises(ImageTooLargeError, match=r"100000x100000 is 10000 megapixels, over the limit of 100"):
        read_image(tmp_path / "huge.png")
    assert time.monotonic() - start < 1.0


def test_max_pixels_raises_the_limit_past_pillows_own(tmp_path):
    # 200 megapixels is over Pillow's own bomb limit; with a higher --max-pixels it is let through
    # the size check, and this file then fails only because its pixel data is missing.
    (tmp_path / "big.png").write_bytes(png_claiming(20_000, 10_000))
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / "big.png")
    with pytest.raises(ImageReadError) as caught:
        read_image(tmp_path / "big.png", max_pixels=300_000_000)
    assert not isinstance(caught.value, ImageTooLargeError)
    assert str(caught.value).startswith("not a readable image")


def test_max_pixels_flag(tmp_path, capsys, use_detector):
    use_detector(FakeDetector())
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(noise_image(100, 200)).save(src / "a.png")
    assert cli.main(["--input", str(src), "--out", str(tmp_path / "o1"), "--max-pixels", "10000"]) == 1
    assert "too large: 200x100" in capsys.readouterr().err
    assert cli.main(["--input", str(src), "--out", str(tmp_path / "o2"), "--max-pixels", "20000"]) == 0


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_really_unreadable_file(tmp_path, capsys, use_detector):
    use_detector(FakeDetector())
    src = tmp_path / "in"
    src.mkdir()
    (src / "secret.jpg").write_bytes(jpeg_bytes())
    (src / "secret.jpg").chmod(0)
    try:
        assert cli.main(["--input", str(src), "--out", str(tmp_path / "o")]) == 1
        assert "secret.jpg: cannot read: permission denied" in capsys.readouterr().err
    finally:
        (src / "secret.jpg").chmod(0o644)


def test_a_folder_named_like_a_photo_is_searched_not_read(tmp_path, capsys, use_detector):
    use_detector(FakeDetector())
    src = tmp_path / "in"
    (src / "album.jpg").mkdir(parents=True)
    (src / "album.jpg" / "x.png").write_bytes(b"")
    assert cli.main(["--input", str(src), "--out", str(tmp_path / "o")]) == 1
    assert "album.jpg/x.png: not an image: the file is empty" in capsys.readouterr().err


def test_pixels_are_never_written_unanonymized(tmp_path, capsys, use_detector):
    class FlakyDetector(FakeDetector):
        def detect(self, image):
            if image.shape[1] == 80:  # the second photo
                raise RuntimeError("out of memory")
            return super().detect(image)

    use_detector(FlakyDetector([FACE]))
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(noise_image(64, 64)).save(src / "a.png")
    Image.fromarray(noise_image(64, 80)).save(src / "b.png")
    Image.fromarray(noise_image(64, 96)).save(src / "c.png")
    report = tmp_path / "r.json"
    assert cli.main(["--input", str(src), "--out", str(tmp_path / "o"), "--report", str(report)]) == 1
    entries = json.loads(report.read_text())["images"]
    assert [e["status"] for e in entries] == ["ok", "error", "ok"]
    assert entries[1]["error"] == "anonymizing failed: RuntimeError: out of memory"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.png", "c.png"]
    assert "b.png: anonymizing failed" in capsys.readouterr().err


def test_an_unwritable_output_is_an_error_not_a_partial_file(tmp_path, capsys, use_detector):
    use_detector(FakeDetector())
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(noise_image(32, 32)).save(src / "sub" / "a.png")
    Image.fromarray(noise_image(32, 32)).save(src / "b.png")
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    (out_dir / "sub").write_text("a file where the folder should be")
    report = tmp_path / "r.json"
    assert cli.main(["--input", str(src), "--out", str(out_dir), "--report", str(report)]) == 1
    entries = {e["input"]: e for e in json.loads(report.read_text())["images"]}
    assert entries["sub/a.png"]["error"].startswith("cannot write the output")
    assert entries["b.png"]["status"] == "ok"
    assert (out_dir / "sub").read_text() == "a file where the folder should be"
    assert np.asarray(Image.open(out_dir / "b.png")).shape == (32, 32, 3)
