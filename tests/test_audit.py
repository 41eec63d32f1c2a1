"""The audit: the anonymized image searched again by another family; what it finds outside the hidden regions is
hidden when it is sure, flagged otherwise, and reported; the CLI says how many photos need a look."""

from __future__ import annotations

import json

import numpy as np
import pytest

from anonymizer import cli
from anonymizer.audit import Audit, Reviewed, inside_share
from anonymizer.batch import Batch
from anonymizer.faces import Face, estimate_landmarks
from anonymizer.pipeline import Anonymizer
from tests.conftest import ASTRONAUT_FACE, FakeDetector, noise_image


class FakeSearch:
    """The audit's detector: the same finds (box, score) for every image it is shown."""

    def __init__(self, finds=()) -> None:
        self.finds = [(np.asarray(b, np.float32), s) for b, s in finds]
        self.shown: list[np.ndarray] = []

    def find(self, image, threshold):
        self.shown.append(image.copy())
        kept = [(b, s) for b, s in self.finds if s >= threshold]
        boxes = np.array([b for b, _ in kept], np.float32).reshape(-1, 4)
        scores = np.array([s for _, s in kept], np.float32)
        marks = np.array([estimate_landmarks(b) for b, _ in kept], np.float32).reshape(-1, 5, 2)
        return boxes, scores, marks


MISSED = (120, 40, 200, 120)  # a face the main pass did not find
FOUND = (10, 10, 60, 60)


def _pipeline(finds, audit="hide", boxes=(FOUND,)) -> tuple[Anonymizer, FakeSearch]:
    search = FakeSearch(finds)
    anonymizer = Anonymizer(method="solid", detector=FakeDetector(boxes), audit=audit, auditor=Audit(detector=search))
    return anonymizer, search


def test_a_sure_residual_is_hidden_too_and_a_doubtful_one_is_flagged_and_left():
    image = noise_image(200, 300, seed=1)
    anonymizer, search = _pipeline([(MISSED, 0.97), ((235, 140, 290, 195), 0.6)])
    result = anonymizer.anonymize(image)
    # The audit saw the anonymized image, not the original.
    assert not np.array_equal(search.shown[0], image)
    actions = sorted((r.action, round(r.score, 2)) for r in result.residuals)
    assert actions == [("flagged", 0.6), ("hidden", 0.97)]
    x1, y1, x2, y2 = MISSED
    assert not np.array_equal(result.image[y1:y2, x1:x2], image[y1:y2, x1:x2]), "the sure one is hidden"
    assert np.array_equal(result.image[150:190, 245:285], image[150:190, 245:285]), "the doubtful one is left"
    assert len(result.faces) == 2 and result.faces[1].source == "audit"
    assert [r.action for r in result.flagged] == ["flagged"]


def test_a_find_inside_a_hidden_region_is_not_a_residual():
    image = noise_image(200, 300, seed=2)
    anonymizer, _ = _pipeline([((12, 12, 58, 58), 0.99)])  # the face already hidden, found again
    assert anonymizer.anonymize(image).residuals == []
    assert inside_share(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 20, 10]]))[0] == pytest.approx(0.5)


def test_flag_mode_hides_nothing_and_off_does_not_search():
    image = noise_image(200, 300, seed=3)
    anonymizer, _ = _pipeline([(MISSED, 0.99)], audit="flag")
    result = anonymizer.anonymize(image)
    assert [r.action for r in result.residuals] == ["flagged"] and len(result.faces) == 1
    x1, y1, x2, y2 = MISSED
    assert np.array_equal(result.image[y1:y2, x1:x2], image[y1:y2, x1:x2])
    anonymizer, search = _pipeline([(MISSED, 0.99)], audit="off")
    assert anonymizer.anonymize(image).residuals == [] and search.shown == []
    with pytest.raises(ValueError, match="audit"):
        Anonymizer(method="solid", audit="maybe")


def test_the_audit_runs_on_a_photo_where_the_main_pass_found_nothing():
    image = noise_image(200, 300, seed=4)
    anonymizer, _ = _pipeline([(MISSED, 0.95)], boxes=())
    result = anonymizer.anonymize(image)
    assert [r.action for r in result.residuals] == ["hidden"] and len(result.faces) == 1


def test_retinaface_finds_the_face_a_detector_missed_and_the_audit_hides_it(astronaut):
    """The real audit network: the main pass misses the astronaut, the audit finds her face in the output and
    hides it."""
    anonymizer = Anonymizer(method="solid", detector=FakeDetector(()))
    result = anonymizer.anonymize(astronaut)
    hidden = [r for r in result.residuals if r.action == "hidden"]
    assert hidden, "the audit missed a plain frontal face"
    assert inside_share(np.array([ASTRONAUT_FACE]), np.array([hidden[0].box]))[0] > 0.5
    x1, y1, x2, y2 = (int(v) for v in ASTRONAUT_FACE)
    changed = (result.image[y1:y2, x1:x2] != astronaut[y1:y2, x1:x2]).any(axis=2).mean()
    assert changed > 0.7


def test_the_report_and_the_summary_say_which_photos_need_a_look(tmp_path):
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(noise_image(200, 300, seed=5)).save(folder / name)
    anonymizer, _ = _pipeline([((235, 140, 290, 195), 0.6)])
    batch = Batch(anonymizer, folder, tmp_path / "out", workers=1)
    batch.run()
    assert batch.need_review == 2
    assert "2 images need a look (2 possible faces flagged by the audit" in batch.summary()
    report = batch.entries[0].to_dict()
    assert report["review"] is True
    assert report["residuals"] == [{"box": [235.0, 140.0, 290.0, 195.0], "score": 0.6, "action": "flagged"}]


def test_fail_on_review_gives_its_own_exit_status(tmp_path, monkeypatch, use_detector, capsys):
    from PIL import Image

    Image.fromarray(noise_image(200, 300, seed=6)).save(tmp_path / "a.png")
    use_detector(FakeDetector([FOUND]))
    monkeypatch.setattr("anonymizer.audit._RetinaFaceSearch", lambda: FakeSearch([((235, 140, 290, 195), 0.6)]))
    args = ["--input", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--workers", "1", "-q"]
    report = tmp_path / "r.json"
    assert cli.main([*args, "--report", str(report)]) == 0
    assert "1 image needs a look" in capsys.readouterr().out, (
        "the summary is printed even with -q when a photo needs a look"
    )
    assert json.loads(report.read_text())["images"][0]["review"] is True
    assert cli.main([*args, "--overwrite", "--fail-on-review"]) == cli.EXIT_REVIEW
    assert cli.main([*args, "--overwrite", "--fail-on-review", "--audit", "off"]) == 0


def test_a_find_a_reviewer_dismissed_is_left_and_needs_no_look_and_one_they_hid_is_hidden(tmp_path):
    """A reviewer's decisions reach the run: the dismissed find (even a sure one) is left as it is and marked
    "dismissed"; the one they hid is a face like any other; neither makes the photo need a look."""
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    image = noise_image(200, 300, seed=7)
    Image.fromarray(image).save(folder / "a.png")
    doubtful = (235, 140, 290, 195)
    anonymizer, _ = _pipeline([(MISSED, 0.97), (doubtful, 0.6)])
    hid = Face(np.asarray(doubtful, np.float32), 0.6, estimate_landmarks(np.asarray(doubtful, np.float32)), "user")
    found = Face(np.asarray(FOUND, np.float32), 0.9, estimate_landmarks(np.asarray(FOUND, np.float32)))
    # The reviewer saw the sure find at a slightly different box (the photo as shown), and dismissed it.
    review = Reviewed(faces=(found, hid), dismissed=((122.0, 42.0, 198.0, 121.0),))
    batch = Batch(anonymizer, folder, tmp_path / "out", workers=1, faces_for=lambda job: review)
    batch.run()
    entry = batch.entries[0]
    assert entry.status == "ok" and batch.need_review == 0
    assert [(r.action, round(r.score, 2)) for r in entry.residuals] == [("dismissed", 0.97)]
    assert entry.to_dict()["review"] is False
    written = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    x1, y1, x2, y2 = MISSED
    assert np.array_equal(written[y1:y2, x1:x2], image[y1:y2, x1:x2]), "the dismissed find is left as it is"
    x1, y1, x2, y2 = doubtful
    assert not np.array_equal(written[y1:y2, x1:x2], image[y1:y2, x1:x2]), "the one they hid is hidden"
    # Without the dismissal, the same run hides the sure find.
    again = Reviewed(faces=(found, hid))
    Batch(anonymizer, folder, tmp_path / "out2", workers=1, faces_for=lambda job: again).run()
    written = np.asarray(Image.open(tmp_path / "out2" / "a.png"))
    x1, y1, x2, y2 = MISSED
    assert not np.array_equal(written[y1:y2, x1:x2], image[y1:y2, x1:x2])
