import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ASTRONAUT_FACE, SAMPLES, TWO_PEOPLE, FakeDetector, noise_image, tree_hashes
from PIL import Image

from anonymizer import cli
from anonymizer.batch import Batch
from anonymizer.crops import DEFAULT_MASK_SHAPE, Region, hidden_mask, hidden_region, rect_mask
from anonymizer.detection import box_iou
from anonymizer.imageio import ORIENTATION_TAG
from anonymizer.replacers import SolidReplacer

FACE = (20, 20, 60, 70)
OK_KEYS = ["input", "output", "status", "width", "height", "faces"]
FACE_KEYS = ["box", "score", "landmarks", "method"]


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check_report_schema(report: dict) -> None:
    """The report contract, exactly: no key missing, none added."""
    assert list(report) == ["version", "images"] and report["version"] == 1
    for entry in report["images"]:
        status = entry["status"]
        if status == "ok":
            assert list(entry) == OK_KEYS
            assert isinstance(entry["width"], int) and isinstance(entry["height"], int)
            assert entry["output"] == entry["input"]
            for face in entry["faces"]:
                assert list(face) == FACE_KEYS
                assert len(face["box"]) == 4 and all(isinstance(v, float) for v in face["box"])
                assert isinstance(face["score"], float)
                assert len(face["landmarks"]) == 5 and all(len(p) == 2 for p in face["landmarks"])
                assert isinstance(face["method"], str)
        elif status == "error":
            assert list(entry) == ["input", "output", "status", "error"]
            assert entry["output"] is None and entry["error"]
        else:
            assert status == "skipped" and list(entry) == ["input", "output", "status"]
        assert not entry["input"].startswith("/") and "\\" not in entry["input"]


def build_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(noise_image(100, 120, seed=1, low=50, high=200)).save(root / "a.jpg", quality=95)
    rgba = np.dstack([noise_image(90, 80, seed=2, low=50, high=200), np.full((90, 80), 128, np.uint8)])
    Image.fromarray(rgba).save(root / "sub" / "b.png")
    Image.fromarray(noise_image(80, 80, seed=3, low=50, high=200)).save(root / "sub" / "deeper" / "c.webp")
    (root / "notes.txt").write_text("not a photo")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "in"
    build_tree(root)
    return root


@pytest.fixture
def no_detector(monkeypatch):
    """Fail the test if anything loads a detector."""

    def refuse(*args, **kwargs):
        raise AssertionError("a detector was loaded")

    monkeypatch.setattr("anonymizer.pipeline.make_detector", refuse)


def test_help_has_examples(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert "examples:" in out and "anonymize --input" in out and "--max-pixels" in out and "exit status" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "required"),
        (["--input", "{in}"], "required"),
        (["--input", "{tmp}/missing", "--out", "{tmp}/o"], "input not found"),
        (["--input", "{in}", "--out", "{in}"], "inside"),
        (["--input", "{in}", "--out", "{in}/sub/anon"], "inside"),
        (["--input", "{in}/a.jpg", "--out", "{in}"], "overwrite the input"),
        (["--input", "{in}/notes.txt", "--out", "{tmp}/o"], "not a supported image or video type"),
        (["--input", "{in}", "--out", "{tmp}/o", "--method", "sparkles"], "invalid choice"),
        (["--input", "{in}", "--out", "{tmp}/o", "--jpeg-quality", "0"], "between 1 and 100"),
        (["--input", "{in}", "--out", "{tmp}/o", "--threshold", "2"], "between 0 and 1"),
        (["--input", "{in}", "--out", "{tmp}/o", "--weights", "w.safetensors"], "--method gan"),
    ],
)
def test_usage_errors_exit_2_before_loading_anything(tree, capsys, no_detector, argv, message):
    tmp = tree.parent
    argv = [a.format(tmp=tmp, **{"in": tree}) for a in argv]
    before = tree_hashes(tree)
    code, out, err = run(argv, capsys)
    assert code == 2
    assert message in err and out == ""
    assert tree_hashes(tree) == before
    assert not (tmp / "o").exists()


def test_folder_end_to_end_mirrors_the_tree(tree, tmp_path, capsys, use_detector):
    use_detector(FakeDetector([FACE]))
    before = tree_hashes(tree)
    out_dir, report = tmp_path / "out", tmp_path / "report.json"
    code, out, err = run(["--input", tree, "--out", out_dir, "--method", "solid", "--report", report], capsys)
    assert code == 0, err
    assert (
        out.strip()
        == f"3 images: 3 written, 0 failed, 3 faces hidden -> {out_dir}; 1 other file ignored; report: {report}"
    )
    assert sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()) == [
        "a.jpg",
        "sub/b.png",
        "sub/deeper/c.webp",
    ]
    for name, fmt in [("a.jpg", "JPEG"), ("sub/b.png", "PNG"), ("sub/deeper/c.webp", "WEBP")]:
        with Image.open(out_dir / name) as image:
            assert image.format == fmt
            pixels = np.asarray(image.convert("RGB"))
        hidden = hidden_mask(pixels.shape[:2], np.array(FACE, np.float32), Region(shape=DEFAULT_MASK_SHAPE))
        assert pixels[hidden].mean() < 10  # solid black (up to compression)
    with Image.open(out_dir / "sub" / "b.png") as png:
        assert png.mode == "RGBA" and (np.asarray(png)[..., 3] == 128).all()
    data = json.loads(report.read_text(encoding="utf-8"))
    check_report_schema(data)
    assert [e["input"] for e in data["images"]] == ["a.jpg", "sub/b.png", "sub/deeper/c.webp"]
    first = data["images"][0]
    assert (first["width"], first["height"]) == (120, 100)
    assert first["faces"][0]["box"] == [20.0, 20.0, 60.0, 70.0] and first["faces"][0]["method"] == "solid"
    assert tree_hashes(tree) == before
    assert not list(out_dir.rglob("*.tmp"))


def test_single_file_input(tree, tmp_path, capsys, use_detector):
    use_detector(FakeDetector([FACE]))
    report = tmp_path / "r.json"
    code, out, _ = run(["--input", tree / "sub" / "b.png", "--out", tmp_path / "o", "--report", report], capsys)
    assert code == 0
    assert (tmp_path / "o" / "b.png").is_file()
    data = json.loads(report.read_text())
    check_report_schema(data)
    assert [(e["input"], e["output"]) for e in data["images"]] == [("b.png", "b.png")]
    assert out.startswith("1 image: 1 written, 0 failed, 1 face hidden")


def test_existing_outputs_are_skipped_unless_overwrite(tree, tmp_path, capsys, use_detector):
    use_detector(FakeDetector([FACE]))
    out_dir, report = tmp_path / "out", tmp_path / "r.json"
    assert run(["--input", tree, "--out", out_dir], capsys)[0] == 0
    (out_dir / "sub" / "b.png").unlink()  # as if the first run had been interrupted before it
    stamp = (out_dir / "a.jpg").stat().st_mtime_ns
    code, out, _ = run(["--input", tree, "--out", out_dir, "--report", report], capsys)
    assert code == 0
    assert "1 written, 2 skipped (output already there), 0 failed" in out
    data = json.loads(report.read_text())
    check_report_schema(data)
    assert [e["status"] for e in data["images"]] == ["skipped", "ok", "skipped"]
    assert (out_dir / "a.jpg").stat().st_mtime_ns == stamp
    code, out, _ = run(["--input", tree, "--out", out_dir, "--report", report, "--overwrite"], capsys)
    assert code == 0 and "3 written" in out
    assert [e["status"] for e in json.loads(report.read_text())["images"]] == ["ok", "ok", "ok"]


def test_quiet_prints_nothing_on_success(tree, tmp_path, capsys, use_detector):
    use_detector(FakeDetector())
    code, out, err = run(["--input", tree, "--out", tmp_path / "o", "-q"], capsys)
    assert (code, out, err) == (0, "", "")


def test_failure_exits_1_with_summary_on_stderr(tree, tmp_path, capsys, use_detector):
    use_detector(FakeDetector([FACE]))
    (tree / "broken.jpg").write_text("hello")
    code, out, err = run(["--input", tree, "--out", tmp_path / "o", "-q"], capsys)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("anonymize: broken.jpg: not an image")
    assert lines[-1].startswith("anonymize: 4 images: 3 written, 1 failed, 3 faces hidden")


def test_options_reach_the_anonymizer(tree, tmp_path, capsys, monkeypatch):
    seen = {}

    def fake_make_detector(name, threshold, min_face_size, device):
        seen.update(name=name, threshold=threshold, min_face_size=min_face_size, device=device)
        return FakeDetector([FACE])

    class NamedSolid(SolidReplacer):
        name = "gan"

    def fake_make_replacer(method, **options):
        seen.update(method=method, options=options)
        return NamedSolid()

    monkeypatch.setattr("anonymizer.pipeline.make_detector", fake_make_detector)
    monkeypatch.setattr("anonymizer.pipeline.make_replacer", fake_make_replacer)
    report = tmp_path / "r.json"
    argv = ["--input", tree / "a.jpg", "--out", tmp_path / "o", "--report", report, "--method", "gan"]
    argv += ["--threshold", "0.8", "--min-face-size", "30", "--device", "cpu", "--seed", "7", "--weights", "w.st"]
    argv += ["--mask-scale", "2.0"]
    assert run(argv, capsys)[0] == 0
    assert seen == {
        "name": "default",
        "threshold": 0.8,
        "min_face_size": 30,
        "device": "cpu",
        "method": "gan",
        "options": {"weights": Path("w.st"), "seed": 7, "device": "cpu"},
    }
    assert json.loads(report.read_text())["images"][0]["faces"][0]["method"] == "gan"
    with Image.open(tmp_path / "o" / "a.jpg") as image:
        pixels = np.asarray(image)
    wide = rect_mask(pixels.shape[:2], hidden_region(np.array(FACE, np.float32), 1.95)).astype(bool)
    assert pixels[wide].mean() < 10  # --mask-scale 2 hides about twice the box


def test_mask_shape_rect_hides_the_whole_grown_box(tree, tmp_path, capsys, use_detector):
    use_detector(FakeDetector([FACE]))
    grown = hidden_region(np.array(FACE, np.float32))
    corner = (int(grown[1]) + 1, int(grown[0]) + 1)  # inside the rectangle, outside its inscribed ellipse
    means = {}
    for shape in ("rect", "ellipse"):
        out_dir = tmp_path / shape
        code, _, err = run(["--input", tree, "--out", out_dir, "--method", "solid", "--mask-shape", shape], capsys)
        assert code == 0, err
        with Image.open(out_dir / "sub" / "b.png") as image:
            pixels = np.asarray(image.convert("RGB")).astype(int)
        assert pixels[rect_mask(pixels.shape[:2], grown).astype(bool)].mean() < (10 if shape == "rect" else 255)
        means[shape] = pixels[corner].mean()
    assert means["rect"] == 0 and means["ellipse"] > 20  # the corner: black, or the photo's own pixels
    code, _, err = run(["--input", tree, "--out", tmp_path / "x", "--mask-shape", "star"], capsys)
    assert code == 2 and "--mask-shape" in err


@pytest.mark.parametrize(
    "option, text, words",
    [
        ("--jpeg-quality", "high", "must be a whole number, got 'high'"),
        ("--min-face-size", "1.5", "must be a whole number, got '1.5'"),
        ("--threshold", "low", "must be a number, got 'low'"),
        ("--mask-scale", "nan", "must be at least 1.0"),
    ],
)
def test_an_option_that_is_not_a_number_says_so_in_words(tmp_path, capsys, option, text, words):
    code, _, err = run(["--input", tmp_path, "--out", tmp_path / "x", option, text], capsys)
    assert code == 2 and option in err and words in err and "invalid _" not in err


def test_mask_feather_max_caps_the_band_or_lifts_the_cap(tree, tmp_path, capsys, use_detector):
    from anonymizer.crops import FEATHER_MAX

    parse = cli.build_parser().parse_args
    assert parse(["--input", "a", "--out", "b"]).mask_feather_max == FEATHER_MAX
    assert parse(["--input", "a", "--out", "b", "--mask-feather-max", "none"]).mask_feather_max is None
    args = parse(["--input", "a", "--out", "b", "--mask-feather-max", "8", "--method", "solid"])
    use_detector(FakeDetector([FACE]))
    assert cli._build_anonymizer(args).mask_feather_max == 8.0
    for bad in ("-1", "wide", "nan"):
        code, _, err = run(["--input", tree, "--out", tmp_path / "x", "--mask-feather-max", bad], capsys)
        assert code == 2 and "--mask-feather-max" in err and "pixels" in err


def test_a_method_that_fails_to_load_is_a_clear_error(tree, tmp_path, capsys, monkeypatch, use_detector):
    use_detector(FakeDetector())

    def no_weights(method, **options):
        raise FileNotFoundError("no generator weights in weights/")

    monkeypatch.setattr("anonymizer.pipeline.make_replacer", no_weights)
    code, out, err = run(["--input", tree, "--out", tmp_path / "o", "--method", "gan"], capsys)
    assert code == 1
    assert "cannot set up the gan method" in err and "no generator weights" in err
    assert not list((tmp_path).glob("o/**/*.jpg"))


def test_a_detector_that_fails_to_load_stops_before_the_first_photo(tree, tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")

    monkeypatch.setattr("anonymizer.pipeline.make_detector", broken)
    code, _, err = run(["--input", tree, "--out", tmp_path / "o", "--device", "cuda"], capsys)
    assert code == 1 and "no CUDA device" in err
    assert not (tmp_path / "o").exists()


def test_interrupt_keeps_the_report_of_what_was_done(tree, tmp_path, capsys, monkeypatch, use_detector):
    use_detector(FakeDetector([FACE]))
    real_process = Batch.process
    calls = []

    def process(self, job):
        calls.append(job.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_process(self, job)

    monkeypatch.setattr(Batch, "process", process)
    report = tmp_path / "r.json"
    code, _, err = run(["--input", tree, "--out", tmp_path / "o", "--report", report], capsys)
    assert code == 130 and "interrupted" in err
    assert [e["input"] for e in json.loads(report.read_text())["images"]] == ["a.jpg"]


def test_exif_rotated_photo_is_processed_upright(tmp_path, capsys, use_detector):
    class RecordingDetector(FakeDetector):
        def detect(self, image):
            self.shape = image.shape
            return super().detect(image)

    detector = RecordingDetector([(5, 30, 25, 55)])
    use_detector(detector)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    exif[0x010F] = "TestCam"
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(noise_image(40, 60, low=50, high=200)).save(src / "r.jpg", exif=exif)
    report = tmp_path / "r.json"
    assert run(["--input", src, "--out", tmp_path / "o", "--report", report, "--method", "solid"], capsys)[0] == 0
    assert detector.shape == (60, 40, 3)  # the detector saw the photo as displayed
    entry = json.loads(report.read_text())["images"][0]
    assert (entry["width"], entry["height"]) == (40, 60)
    with Image.open(tmp_path / "o" / "r.jpg") as out:
        assert out.size == (40, 60) and len(out.getexif()) == 0


# --- With the real detectors, on photos of real faces -------------------------------------------------


def _upright_and_stored():
    """The astronaut cut to 512x384, and the same turned a quarter left, to be shown with EXIF orientation 6."""
    from skimage import data

    upright = data.astronaut()[:384]
    return upright, np.ascontiguousarray(np.rot90(upright, k=1))


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, real_detector):
    root = tmp_path_factory.mktemp("real")
    src, out_dir, report = root / "in", root / "out", root / "report.json"
    src.mkdir()
    for name in ("astronaut.jpg", "group.jpg"):
        shutil.copy(SAMPLES / name, src / name)
    (src / "phone").mkdir()
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    Image.fromarray(_upright_and_stored()[1]).save(src / "phone" / "rotated.jpg", exif=exif, quality=95)
    before = tree_hashes(src)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("anonymizer.pipeline.make_detector", lambda *args, **kwargs: real_detector)
        code = cli.main(["--input", str(src), "--out", str(out_dir), "--report", str(report), "--method", "blur", "-q"])
    data = json.loads(report.read_text())
    return {"code": code, "src": src, "out": out_dir, "report": data, "before": before}


def _entry(run_result, name):
    return next(e for e in run_result["report"]["images"] if e["input"] == name)


def _load(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def test_real_run_exits_0_with_a_valid_report(real_run):
    assert real_run["code"] == 0
    check_report_schema(real_run["report"])
    assert tree_hashes(real_run["src"]) == real_run["before"]


def test_real_astronaut_face_is_found_and_hidden(real_run):
    entry = _entry(real_run, "astronaut.jpg")
    assert len(entry["faces"]) == 1
    box = np.array(entry["faces"][0]["box"])
    assert box_iou(box, np.array(ASTRONAUT_FACE))[0, 0] > 0.5
    before, after = _load(real_run["src"] / "astronaut.jpg"), _load(real_run["out"] / "astronaut.jpg")
    hidden = hidden_mask(before.shape[:2], box, Region(shape=DEFAULT_MASK_SHAPE))
    assert np.abs(after - before)[hidden].mean() > 10  # the face is changed...
    assert after[hidden].std() < 0.5 * before[hidden].std()  # ...and its detail gone
    far = np.ones(before.shape[:2], bool)
    far[:260, 120:330] = False
    assert np.abs(after - before)[far].mean() < 2  # the rest is the photo (JPEG recompressed)


def test_real_group_has_four_faces_one_per_tile(real_run):
    faces = _entry(real_run, "group.jpg")["faces"]
    assert len(faces) == 4
    tiles = sorted(
        (int((f["box"][0] + f["box"][2]) / 2 // 256), int((f["box"][1] + f["box"][3]) / 2 // 256)) for f in faces
    )
    assert tiles == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_real_exif_rotated_face_is_reported_in_displayed_pixels(real_run):
    entry = _entry(real_run, "phone/rotated.jpg")
    assert (entry["width"], entry["height"]) == (512, 384)
    assert len(entry["faces"]) == 1
    assert box_iou(np.array(entry["faces"][0]["box"]), np.array(ASTRONAUT_FACE))[0, 0] > 0.5
    with Image.open(real_run["out"] / "phone" / "rotated.jpg") as out:
        assert out.size == (512, 384) and ORIENTATION_TAG not in out.getexif()
    upright = _upright_and_stored()[0].astype(np.int16)
    after = _load(real_run["out"] / "phone" / "rotated.jpg")
    assert np.abs(after - upright)[300:, :].mean() < 4  # upright, and unchanged away from the face


@pytest.mark.skipif(not TWO_PEOPLE.is_file(), reason="../shared/data/photos/two_people.jpg is not beside the checkout")
def test_real_two_people(tmp_path, capsys, use_detector, real_detector):
    use_detector(real_detector)
    report = tmp_path / "r.json"
    code, out, err = run(
        ["--input", TWO_PEOPLE, "--out", tmp_path / "o", "--report", report, "--method", "pixelate"], capsys
    )
    assert code == 0, err
    entry = json.loads(report.read_text())["images"][0]
    assert entry["input"] == "two_people.jpg" and len(entry["faces"]) >= 2
    before, after = _load(TWO_PEOPLE), _load(tmp_path / "o" / "two_people.jpg")
    for face in entry["faces"]:
        hidden = hidden_mask(before.shape[:2], np.array(face["box"]), Region(shape=DEFAULT_MASK_SHAPE))
        assert np.abs(after - before)[hidden].mean() > 5


def test_version_and_a_report_on_stdout_for_scripts(tree, tmp_path, capsys, use_detector):
    from anonymizer import __version__

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--version"])
    assert capsys.readouterr().out.strip() == f"anonymize {__version__}"
    use_detector(FakeDetector([FACE]))
    code, out, err = run(["--input", tree, "--out", tmp_path / "o", "--report", "-"], capsys)
    assert code == 0, err
    report = json.loads(out)  # stdout holds the report and nothing else
    check_report_schema(report)
    assert len(report["images"]) == 3 and "3 images: 3 written" in err
    assert not (tmp_path / "-").exists()
