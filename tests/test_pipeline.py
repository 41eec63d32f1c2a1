import numpy as np
import pytest
from conftest import FakeDetector, make_face, noise_image

from anonymizer import Anonymizer, ImageResult
from anonymizer.crops import hidden_region, rect_mask


class RecordingReplacer:
    """A stand-in for a generator: big faces only, paints them white."""

    name = "fake-gan"
    crop_size = 32
    min_face_size = 50.0
    grain = False

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken

    def replace(self, crops):
        if self.broken:
            return [np.zeros((3, 3, 3), np.uint8) for _ in crops]
        return [np.full(c.image.shape, 255, np.uint8) for c in crops]


def test_anonymize_hides_detected_faces_and_reports_the_method():
    image = noise_image(200, 300, low=50, high=200)
    before = image.copy()
    detector = FakeDetector([(40, 40, 100, 110), (180, 60, 240, 130)])
    result = Anonymizer(method="solid", detector=detector).anonymize(image)
    assert isinstance(result, ImageResult)
    assert [f.method for f in result.faces] == ["solid", "solid"]
    for face in result.faces:
        hidden = rect_mask(image.shape[:2], hidden_region(face.box)).astype(bool)
        assert (result.image[hidden] == 0).all()
    np.testing.assert_array_equal(image, before)


def test_no_face_gives_an_unchanged_copy():
    image = noise_image(50, 60)
    result = Anonymizer(method="blur", detector=FakeDetector()).anonymize(image)
    assert result.faces == [] and result.image is not image
    np.testing.assert_array_equal(result.image, image)


def test_small_faces_fall_back_to_pixelation():
    image = noise_image(300, 300, low=50, high=200)
    detector = FakeDetector([(20, 20, 40, 40), (120, 120, 220, 220)])
    result = Anonymizer(detector=detector, replacer=RecordingReplacer()).anonymize(image)
    assert [f.method for f in result.faces] == ["pixelate", "fake-gan"]


def test_given_faces_skip_detection():
    detector = FakeDetector([(0, 0, 10, 10)])
    result = Anonymizer(method="blur", detector=detector).anonymize(
        noise_image(100, 100), faces=[make_face((30, 30, 70, 70))]
    )
    assert detector.calls == 0 and len(result.faces) == 1


def test_a_replacer_returning_garbage_fails_closed():
    detector = FakeDetector([(120, 120, 220, 220)])
    with pytest.raises(RuntimeError):
        Anonymizer(detector=detector, replacer=RecordingReplacer(broken=True)).anonymize(noise_image(300, 300))


@pytest.mark.parametrize("shape,dtype", [((10, 10), np.uint8), ((10, 10, 4), np.uint8), ((10, 10, 3), np.float32)])
def test_only_rgb_uint8_is_accepted(shape, dtype):
    with pytest.raises(ValueError, match="RGB"):
        Anonymizer(method="blur", detector=FakeDetector()).anonymize(np.zeros(shape, dtype))
