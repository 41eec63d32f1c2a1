import numpy as np
import pytest
from conftest import FakeDetector, make_face, noise_image

from anonymizer import Anonymizer, ImageResult
from anonymizer.crops import DEFAULT_MASK_SHAPE, Region, hidden_mask, hidden_region, rect_mask


class RecordingReplacer:
    """A stand-in for a generator: big faces only, paints them white."""

    name = "fake-gan"
    crop_size = 32
    min_face_size = 50.0
    grain = False
    region = None

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
        assert (result.image[_hidden_mask(image.shape[:2], face)] == 0).all()
    np.testing.assert_array_equal(image, before)


def test_the_mask_shape_ellipse_spares_the_corners_the_rectangle_hides():
    image = noise_image(200, 200, low=50, high=200)
    box = (60, 50, 140, 150)
    ellipse = Anonymizer(method="solid", detector=FakeDetector([box])).anonymize(image).image
    rect = Anonymizer(method="solid", mask_shape="rect", detector=FakeDetector([box])).anonymize(image).image
    grown = hidden_region(np.array(box, np.float32))  # the rectangle both are drawn in
    inside = rect_mask(image.shape[:2], grown).astype(bool)
    assert (rect[inside] == 0).all()
    ellipse_hidden = hidden_mask(image.shape[:2], np.array(box, np.float32), Region(shape="ellipse"))
    assert (ellipse[ellipse_hidden] == 0).all()
    # The corner of the grown box (outside the ellipse and its feather) keeps the photo's pixels.
    x1, y1 = int(grown[0]), int(grown[1])
    np.testing.assert_array_equal(ellipse[y1 + 1, x1 + 1], image[y1 + 1, x1 + 1])
    assert (rect[y1 + 1, x1 + 1] == 0).all()
    # The face box's corners lie in the ellipse's feather band: every pixel of the box is changed.
    changed = np.abs(ellipse.astype(int) - image).max(axis=2) >= 16
    assert changed[box[1] : box[3], box[0] : box[2]].all()
    with pytest.raises(ValueError):
        Anonymizer(method="solid", mask_shape="star")


def test_a_close_up_s_fade_band_is_capped_and_the_hidden_region_kept():
    """The band beyond the hidden region is at most ``mask_feather_max`` pixels wide (32 by default): a close-up
    changes less of the photo round the face, every pixel of the hidden region is still filled, and ``None``
    gives the old band, a share of the region however large."""
    from anonymizer.crops import FEATHER, FEATHER_MAX

    image = noise_image(1000, 1000, low=50, high=200)
    box = np.array((250, 200, 700, 800), np.float32)  # a 600 px face: its uncapped band is about 94 px
    hidden = hidden_mask(image.shape[:2], box, Region(shape="ellipse"))
    changed = {}
    for cap in (FEATHER_MAX, None, 0.0):
        pipeline = Anonymizer(method="solid", detector=FakeDetector([tuple(box)]), mask_feather_max=cap)
        out = pipeline.anonymize(image).image
        assert (out[hidden] == 0).all()
        changed[cap] = np.abs(out.astype(int) - image).max(axis=2) >= 16
    region = hidden_region(box)
    side = float(max(region[2] - region[0], region[3] - region[1]))
    beyond = lambda c: int((changed[c] & ~hidden).sum())  # noqa: E731
    assert beyond(None) > beyond(FEATHER_MAX) > beyond(0.0)
    # how far the band reaches to the right of the hidden region, on the middle row (its faint outer edge
    # changes a pixel by less than 16)
    row = int((region[1] + region[3]) / 2)
    reach = {c: int(np.nonzero(changed[c][row])[0].max() - region[2]) for c in changed}
    assert 0.6 * FEATHER_MAX <= reach[FEATHER_MAX] <= FEATHER_MAX + 1
    assert 0.6 * FEATHER * side <= reach[None] <= FEATHER * side + 1 and reach[None] > 2 * FEATHER_MAX
    assert reach[0.0] <= 1
    assert Anonymizer(method="solid").recipe["mask_feather_max"] == FEATHER_MAX
    with pytest.raises(ValueError):
        Anonymizer(method="solid", mask_feather_max=-1.0)


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


class ShadingReplacer:
    """Paints the replaced region of every crop flat, one shade per call, and keeps the crops it got."""

    name = "shade"
    crop_size = None  # native crops: pixels compare exactly
    min_face_size = 0.0
    grain = False
    region = None

    def __init__(self) -> None:
        self.calls: list[list] = []

    def replace(self, crops):
        self.calls.append(crops)
        out = []
        for crop in crops:
            pixels = crop.image.copy()
            pixels[crop.mask > 0.5] = 10 * len(self.calls)
            out.append(pixels)
        return out


def _hidden_mask(shape, face) -> np.ndarray:
    """What the pipeline's default region fully replaces for ``face``."""
    return hidden_mask(shape, face.box, Region(shape=DEFAULT_MASK_SHAPE))


def test_faces_apart_go_through_the_replacer_in_one_batch():
    image = noise_image(200, 500, low=50, high=200)
    boxes = [(20, 20, 80, 90), (200, 40, 260, 110), (380, 60, 450, 140)]
    replacer = ShadingReplacer()
    result = Anonymizer(detector=FakeDetector(boxes), replacer=replacer).anonymize(image)
    assert [len(call) for call in replacer.calls] == [3]
    assert [f.method for f in result.faces] == ["shade"] * 3


def test_a_face_overlapping_another_is_cut_from_the_photo_with_the_other_already_replaced():
    image = noise_image(260, 320, low=50, high=200)
    before = image.copy()
    big, small = (100, 60, 200, 180), (60, 70, 110, 130)  # the small face's region runs into the big one's
    replacer = ShadingReplacer()
    result = Anonymizer(detector=FakeDetector([big, small]), replacer=replacer).anonymize(image)
    assert [len(call) for call in replacer.calls] == [1, 1]
    (big_crop,), (small_crop,) = replacer.calls
    assert big_crop.face_size > small_crop.face_size
    # The small face's replacer saw the big face as replaced (shade 10), not its original pixels.
    x0, y0 = small_crop.origin
    big_in_crop = result.faces[0].box - np.array([x0, y0, x0, y0], np.float32)
    seen = hidden_mask((small_crop.side, small_crop.side), big_in_crop, Region(shape=DEFAULT_MASK_SHAPE))
    assert seen.any() and (small_crop.image[seen] == 10).all()
    # The small face is whole (painted last); the rest of the big face shows its own new pixels,
    # faded into the small one's across its feather: nothing of either original.
    big_hidden = _hidden_mask(image.shape[:2], result.faces[0])
    small_hidden = _hidden_mask(image.shape[:2], result.faces[1])
    assert (result.image[small_hidden] == 20).all()
    rest = result.image[big_hidden & ~small_hidden]
    assert ((rest >= 10) & (rest <= 20)).all() and (rest == 10).any()
    np.testing.assert_array_equal(image, before)
