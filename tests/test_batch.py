import json

import numpy as np
import pytest
from conftest import FakeDetector, make_face, noise_image
from PIL import Image

from anonymizer import Anonymizer
from anonymizer.batch import Batch, BatchOptions, BatchPathError, ReportEntry, plan_jobs, report_dict, write_report


def _photos(root, names):
    for i, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(noise_image(40, 50, seed=i)).save(path)


@pytest.fixture
def anonymizer():
    return Anonymizer(method="blur", detector=FakeDetector([(5, 5, 25, 30)]))


def test_plan_lists_photos_sorted_by_path_and_ignores_the_rest(tmp_path):
    root = tmp_path / "in"
    _photos(root, ["b.png", "a.PNG", "z/c.jpg", "m/d.tiff"])
    (root / "m" / "notes.md").write_text("x")
    (root / "photo.gif").write_bytes(b"GIF89a")
    jobs, ignored = plan_jobs(root, tmp_path / "out")
    assert [j.name for j in jobs] == ["a.PNG", "b.png", "m/d.tiff", "z/c.jpg"]
    assert jobs[2].output == tmp_path / "out" / "m" / "d.tiff"
    assert sorted(p.name for p in ignored) == ["notes.md", "photo.gif"]


def test_plan_refuses_paths_that_could_touch_the_input(tmp_path):
    root = tmp_path / "in"
    _photos(root, ["a.png"])
    with pytest.raises(BatchPathError, match="inside"):
        plan_jobs(root, root / "anon")
    with pytest.raises(BatchPathError, match="overwrite the input"):
        plan_jobs(root / "a.png", root)
    with pytest.raises(BatchPathError, match="not found"):
        plan_jobs(tmp_path / "nothing", tmp_path / "o")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BatchPathError, match="not a folder"):
        plan_jobs(root, tmp_path / "file")


def test_an_output_that_is_another_input_is_refused(tmp_path, anonymizer):
    # The input folder lies inside the output folder: in/x.png of the input would be written over out/in/x.png,
    # which is itself an input.
    out = tmp_path / "out"
    _photos(out / "in", ["x.png", "in/x.png"])
    before = (out / "in" / "x.png").read_bytes()
    batch = Batch(anonymizer, out / "in", out)
    batch.run()
    statuses = {e.input: (e.status, e.error) for e in batch.entries}
    assert statuses["in/x.png"] == ("error", "the output would overwrite an input file")
    assert statuses["x.png"][0] == "ok"
    assert (out / "in" / "x.png").read_bytes() == before


def test_progress_and_cancel(tmp_path, anonymizer):
    root = tmp_path / "in"
    _photos(root, ["a.png", "b.png", "c.png"])
    seen = []
    batch = Batch(anonymizer, root, tmp_path / "out")
    batch.run(
        progress=lambda entry, done, total: seen.append((entry.input, done, total)),
        should_cancel=lambda: len(seen) >= 2,
    )
    assert seen == [("a.png", 1, 3), ("b.png", 2, 3)]
    assert batch.cancelled and not (tmp_path / "out" / "c.png").exists()
    assert (
        batch.summary() == f"2 images: 2 written, 0 failed, 2 faces hidden -> {tmp_path / 'out'} (stopped after 2 of 3)"
    )
    batch.run()  # goes on where it stopped
    assert [e.input for e in batch.entries] == ["a.png", "b.png", "c.png"] and batch.ok


def test_options_are_used(tmp_path, anonymizer):
    root = tmp_path / "in"
    root.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    Image.fromarray(noise_image(40, 50)).save(root / "a.jpg", exif=exif)
    Batch(anonymizer, root, tmp_path / "strip").run()
    Batch(anonymizer, root, tmp_path / "keep", BatchOptions(keep_metadata=True, jpeg_quality=50)).run()
    with Image.open(tmp_path / "strip" / "a.jpg") as stripped, Image.open(tmp_path / "keep" / "a.jpg") as kept:
        assert len(stripped.getexif()) == 0 and kept.getexif()[0x010F] == "TestCam"
    assert (tmp_path / "keep" / "a.jpg").stat().st_size < (tmp_path / "strip" / "a.jpg").stat().st_size
    batch = Batch(anonymizer, root, tmp_path / "small", BatchOptions(max_pixels=100))
    batch.run()
    assert batch.entries[0].error.startswith("too large")


def test_report_is_written_atomically_in_the_contract_schema(tmp_path, anonymizer):
    root = tmp_path / "in"
    _photos(root, ["a.png"])
    batch = Batch(anonymizer, root, tmp_path / "out")
    entries = batch.run() + [
        ReportEntry(input="b.png", output="b.png", status="skipped"),
        ReportEntry(input="c.png", output=None, status="error", error="not an image: x"),
    ]
    path = write_report(tmp_path / "reports" / "r.json", entries)
    data = json.loads(path.read_text())
    assert data == report_dict(entries)
    assert data["images"][1:] == [
        {"input": "b.png", "output": "b.png", "status": "skipped"},
        {"input": "c.png", "output": None, "status": "error", "error": "not an image: x"},
    ]
    face = data["images"][0]["faces"][0]
    assert face["box"] == [5.0, 5.0, 25.0, 30.0] and face["method"] == "blur" and np.shape(face["landmarks"]) == (5, 2)
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_faces_for_replaces_detection(tmp_path):
    root = tmp_path / "in"
    _photos(root, ["a.png", "b.png"])
    detector = FakeDetector([(5, 5, 25, 30)])
    given = {"a.png": [make_face((10, 10, 30, 30)), make_face((30, 5, 45, 20))], "b.png": None}
    batch = Batch(
        Anonymizer(method="solid", detector=detector), root, tmp_path / "out", faces_for=lambda job: given[job.name]
    )
    batch.run()
    assert [len(e.faces) for e in batch.entries] == [2, 1]
    assert detector.calls == 1  # only b.png, which had no faces given, went through detection
    assert batch.entries[0].faces[0].box.tolist() == [10, 10, 30, 30]


def test_merged_report_keeps_the_other_photos_entries(tmp_path):
    path = tmp_path / "report.json"
    write_report(path, [ReportEntry("a.png", None, "error", error="x"), ReportEntry("b.png", "b.png", "skipped")])
    write_report(path, [ReportEntry("a.png", "a.png", "skipped")], merge=True)
    images = json.loads(path.read_text())["images"]
    assert images == [
        {"input": "b.png", "output": "b.png", "status": "skipped"},
        {"input": "a.png", "output": "a.png", "status": "skipped"},
    ]
    # Without merge, or over a file that is not a report, only the new entries are written.
    path.write_text("not json")
    write_report(path, [ReportEntry("c.png", "c.png", "skipped")], merge=True)
    assert [i["input"] for i in json.loads(path.read_text())["images"]] == ["c.png"]
    write_report(path, [ReportEntry("d.png", "d.png", "skipped")])
    assert [i["input"] for i in json.loads(path.read_text())["images"]] == ["d.png"]
