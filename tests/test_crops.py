import numpy as np
import pytest
from conftest import make_face, noise_image

from anonymizer.box_frame import crop_geometry
from anonymizer.crops import DEFAULT_MASK_SCALE, FEATHER, Region, feather_alpha, grain_level, hidden_region, rect_mask
from anonymizer.frames import make_crop, paint_waves, paste_back


def _region_mask(shape, rect) -> np.ndarray:
    return rect_mask(shape, np.asarray(rect, dtype=np.float32)).astype(bool)


def _replaced_mask(shape, face) -> np.ndarray:
    """Pixels the paste may touch: the crop's painted square mapped back to the photo."""
    crop = make_crop(np.zeros((*shape, 3), np.uint8), face)
    x0, y0 = crop.origin
    rect = crop.hidden / crop.scale
    feather = FEATHER * max(rect[2] - rect[0], rect[3] - rect[1])
    grown = rect + np.array([-feather, -feather, feather, feather]) + np.array([x0, y0, x0, y0])
    return _region_mask(shape, grown)


def _solid(crop, value: int) -> np.ndarray:
    return np.full((crop.size, crop.size, 3), value, np.uint8)


def test_crop_is_a_square_around_the_face_with_context():
    image = noise_image(200, 300)
    face = make_face((100, 50, 160, 130))  # 60x80
    crop = make_crop(image, face)
    x0, y0, side = crop_geometry(face.box)
    assert crop.image.shape == (side, side, 3) and crop.mask.shape == (side, side)
    assert side >= 2 * 80  # at least twice the face's longer side
    assert (crop.origin, crop.side) == ((x0, y0), side)
    # The centre of the crop is the centre of the face.
    assert abs(x0 + side / 2 - 130) <= 1 and abs(y0 + side / 2 - 90) <= 1
    # Inside the photo the crop is the photo's own pixels.
    np.testing.assert_array_equal(crop.image, image[y0 : y0 + side, x0 : x0 + side])
    # Landmarks move with the crop.
    np.testing.assert_allclose(crop.landmarks, face.landmarks - [x0, y0], atol=1e-4)


def test_mask_covers_the_hidden_region_and_leaves_context():
    face = make_face((100, 50, 160, 130))
    crop = make_crop(noise_image(200, 300), face)
    hidden = _region_mask(crop.mask.shape, crop.hidden)
    assert crop.mask[hidden].min() == 1.0  # everything hidden is painted by the replacer
    assert crop.mask.sum() > hidden.sum()  # plus a feather band
    assert crop.mask[0, :].max() == 0.0 and crop.mask[:, 0].max() == 0.0  # and context is left around it


def test_resized_crop_keeps_geometry_in_crop_pixels():
    face = make_face((100, 50, 160, 130))
    native = make_crop(noise_image(200, 300), face)
    small = make_crop(noise_image(200, 300), face, size=64)
    assert small.image.shape == (64, 64, 3) and small.size == 64
    np.testing.assert_allclose(small.hidden, native.hidden * small.scale, rtol=1e-5)
    np.testing.assert_allclose(small.landmarks, native.landmarks * small.scale, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("size", [None, 64, 256])
def test_hidden_region_is_fully_replaced_and_outside_untouched(size):
    image = noise_image(240, 320, low=50, high=200)
    face = make_face((120, 60, 180, 140))
    crop = make_crop(image, face, size=size)
    out = paste_back(image, [crop], [_solid(crop, 7)])
    hidden = _region_mask(image.shape[:2], hidden_region(face.box))
    assert (out[hidden] == 7).all()
    outside = ~_replaced_mask(image.shape[:2], face)
    np.testing.assert_array_equal(out[outside], image[outside])
    assert out.shape == image.shape and out.dtype == np.uint8
    assert image.min() >= 50  # the input was not changed in place


def test_feather_band_blends_between_new_and_old():
    image = np.full((200, 200, 3), 200, np.uint8)
    face = make_face((80, 80, 120, 120))
    crop = make_crop(image, face)
    out = paste_back(image, [crop], [_solid(crop, 0)])
    row = out[100, :, 0].astype(int)
    hidden = hidden_region(face.box)
    left_edge = int(np.floor(hidden[0]))
    band = row[left_edge - 5 : left_edge]
    assert (np.diff(band) <= 0).all()  # fades monotonically towards the face
    assert 0 < band.min() and band.max() <= 200


def test_overlapping_faces_leave_no_original_pixel_in_any_hidden_region():
    image = noise_image(240, 320, low=50, high=200)
    faces = [make_face((100, 60, 170, 150)), make_face((140, 80, 210, 170)), make_face((120, 100, 160, 150))]
    crops = [make_crop(image, f) for f in faces]
    out = paste_back(image, crops, [_solid(c, v) for c, v in zip(crops, (5, 250, 20), strict=True)])
    union = np.zeros(image.shape[:2], bool)
    for face in faces:
        union |= _region_mask(image.shape[:2], hidden_region(face.box))
    assert np.isin(out[union], (5, 250, 20)).all()


@pytest.mark.parametrize(
    "box",
    [(-20, -10, 40, 50), (280, 190, 340, 260), (0, 100, 30, 140), (150, 0, 190, 20)],
    ids=["top-left-outside", "bottom-right-outside", "left-edge", "top-edge"],
)
def test_crops_at_image_borders(box):
    image = noise_image(240, 320, low=50, high=200)
    face = make_face(box)
    crop = make_crop(image, face)
    assert crop.image.shape == (crop.side, crop.side, 3)
    out = paste_back(image, [crop], [_solid(crop, 3)])
    assert out.shape == image.shape
    hidden = _region_mask(image.shape[:2], hidden_region(face.box))
    assert hidden.any() and (out[hidden] == 3).all()
    outside = ~_replaced_mask(image.shape[:2], face)
    np.testing.assert_array_equal(out[outside], image[outside])


def test_crop_beyond_the_border_replicates_the_edge():
    image = noise_image(100, 100)
    crop = make_crop(image, make_face((-30, 20, 10, 60)))
    x0, y0 = crop.origin
    assert x0 < 0
    inside_col = -x0  # the crop column of the photo's column 0
    np.testing.assert_array_equal(crop.image[:, 0], crop.image[:, inside_col])


def test_face_outside_the_image_is_refused():
    with pytest.raises(ValueError, match="outside"):
        make_crop(noise_image(100, 100), make_face((500, 500, 560, 560)))


def test_paste_back_checks_its_inputs():
    image = noise_image(100, 100)
    crop = make_crop(image, make_face((30, 30, 60, 60)))
    with pytest.raises(ValueError):
        paste_back(image, [crop], [])
    with pytest.raises(ValueError):
        paste_back(image, [crop], [np.zeros((5, 5, 3), np.uint8)])


def test_hidden_region_scales_the_box():
    np.testing.assert_allclose(hidden_region(np.array([0, 0, 10, 20]), 2.0), [-5, -10, 15, 30])
    assert DEFAULT_MASK_SCALE >= 1.0


def test_feather_alpha_is_one_inside_and_zero_far_away():
    alpha = feather_alpha((50, 50), np.array([20, 20, 30, 30], np.float32), 5.0)
    assert alpha[25, 25] == 1.0 and alpha[0, 0] == 0.0
    assert 0.0 < alpha[25, 32] < 1.0


def test_grain_matches_the_photo_around_a_smooth_upscaled_face():
    rng = np.random.default_rng(3)
    photo = np.clip(128 + rng.normal(0, 6, (400, 400, 3)), 0, 255).astype(np.uint8)  # a noisy grey photo
    face = make_face((150, 150, 250, 250))
    crop = make_crop(photo, face, size=64)  # scaled down, as for the GAN
    smooth = np.full((64, 64, 3), 128, np.uint8)  # a generated face with no fine detail at all
    plain = paste_back(photo, [crop], [smooth])
    grainy = paste_back(photo, [crop], [smooth], grain=[True])
    hidden = _region_mask(photo.shape[:2], hidden_region(face.box))
    context_level = grain_level(photo, ~_replaced_mask(photo.shape[:2], face))
    assert grain_level(plain, hidden) < 0.2 * context_level
    assert grain_level(grainy, hidden) == pytest.approx(context_level, rel=0.25)
    # Deterministic for equal inputs, and nothing outside the replaced region changes.
    np.testing.assert_array_equal(grainy, paste_back(photo, [crop], [smooth], grain=[True]))
    outside = ~_replaced_mask(photo.shape[:2], face)
    np.testing.assert_array_equal(grainy[outside], photo[outside])


def test_no_grain_is_added_to_a_clean_photo():
    photo = np.full((300, 300, 3), 90, np.uint8)
    face = make_face((100, 100, 180, 180))
    crop = make_crop(photo, face, size=64)
    new = np.full((64, 64, 3), 200, np.uint8)
    np.testing.assert_array_equal(paste_back(photo, [crop], [new], grain=[True]), paste_back(photo, [crop], [new]))


def test_faces_apart_share_one_wave():
    faces = [make_face((20, 20, 60, 70)), make_face((200, 30, 250, 90)), make_face((100, 150, 130, 190))]
    assert paint_waves(faces) == [[0, 1, 2]]
    assert paint_waves([]) == []


def test_touching_faces_are_painted_largest_first():
    # A large face, a small one beside it whose crop reaches into it, and one far away.
    faces = [make_face((100, 60, 200, 180)), make_face((60, 70, 110, 130)), make_face((400, 60, 450, 120))]
    assert paint_waves(faces) == [[0, 2], [1]]


def test_a_chain_of_faces_takes_as_many_waves_as_it_needs():
    # Each face's crop reaches the next one's face: sizes grow along the row.
    faces = [make_face((x, 50, x + w, 50 + w)) for x, w in ((0, 30), (35, 34), (75, 38), (120, 42))]
    assert paint_waves(faces) == [[3], [2], [1], [0]]


def test_an_ellipse_region_replaces_the_ellipse_and_leaves_the_corners():
    photo = noise_image(300, 300)
    face = make_face((100, 90, 200, 210))  # 100 x 120
    region = Region(scale=1.2, shape="ellipse", feather=0.1)
    crop = make_crop(photo, face, region=region)
    out = paste_back(photo, [crop], [_solid(crop, 255)])
    rect = hidden_region(face.box, 1.2)  # 60..240 x 78..222
    cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    ys, xs = np.mgrid[0:300, 0:300] + 0.5
    radius = np.sqrt(((xs - cx) / ((rect[2] - rect[0]) / 2)) ** 2 + ((ys - cy) / ((rect[3] - rect[1]) / 2)) ** 2)
    assert (out[radius <= 1] == 255).all()  # the whole ellipse is new
    # The bounding rectangle's corners lie beyond the feather band (0.1 x 144 px): untouched.
    corner = (radius > 1.3) & (xs > rect[0]) & (xs < rect[2]) & (ys > rect[1]) & (ys < rect[3])
    assert corner.any()
    np.testing.assert_array_equal(out[corner], photo[corner])
    # The mask the replacer paints holds the ellipse and its band, and is smaller than the rectangle's.
    hidden, alpha, replaced = crop.areas()
    assert (replaced >= hidden).all() and (alpha[hidden > 0] == 1).all() and (alpha[replaced == 0] == 0).all()
    assert replaced.sum() < make_crop(photo, face, region=Region(scale=1.2)).mask.sum()


def test_a_region_is_checked():
    with pytest.raises(ValueError, match="shape"):
        Region(shape="circle")
    with pytest.raises(ValueError):
        Region(scale=0)


@pytest.mark.parametrize("shape", ["rect", "ellipse"])
def test_a_face_larger_than_the_photo_is_hidden_wherever_its_region_lies_on_it(shape):
    """A close-up (or a box carried past the frame's edge) has a crop many times the photo; the paste works on the
    part on the photo only, and every pixel of the hidden region there is replaced, nothing beyond its feather."""
    image = noise_image(120, 400, seed=9)
    region = Region(scale=1.3, shape=shape)
    face = make_face((-600, -500, 150, 200))  # 750x700, centred off the photo's corner
    crop = make_crop(image, face, None, region)
    assert crop.side > 3 * max(image.shape[:2])
    out = paste_back(image, [crop], [np.full((crop.size, crop.size, 3), 7, np.uint8)])
    hidden = rect_mask(image.shape[:2], hidden_region(face.box, region.scale)).astype(bool)
    if shape == "ellipse":  # the ellipse inscribed in the grown box: its centre part, at least, is on the photo
        x1, y1, x2, y2 = hidden_region(face.box, region.scale)
        ys, xs = np.mgrid[0:120, 0:400] + 0.5
        hidden &= ((xs - (x1 + x2) / 2) / ((x2 - x1) / 2)) ** 2 + ((ys - (y1 + y2) / 2) / ((y2 - y1) / 2)) ** 2 <= 1
    assert hidden.any() and (out[hidden] == 7).all()
    x1, y1, x2, y2 = hidden_region(face.box, region.scale)
    reach = FEATHER * max(x2 - x1, y2 - y1) + 1
    beyond = ~rect_mask(image.shape[:2], np.array([x1 - reach, y1 - reach, x2 + reach, y2 + reach])).astype(bool)
    assert beyond.sum() > 1000 and np.array_equal(out[beyond], image[beyond])


def test_the_grain_of_a_large_area_is_measured_on_bands_of_it_and_agrees_with_all_of_it(monkeypatch):
    from anonymizer import crops

    rng = np.random.default_rng(3)
    ramp = np.linspace(40, 200, 1280, dtype=np.float32)[None, :, None]  # smooth structure: no grain
    image = np.clip(ramp + rng.normal(0, 5, (720, 1280, 3)), 0, 255).astype(np.uint8)
    where = np.ones((720, 1280), bool)
    where[200:500, 400:800] = False
    banded = crops.grain_level(image, where)
    monkeypatch.setattr(crops, "GRAIN_PIXELS", 10**9)
    whole = crops.grain_level(image, where)
    assert abs(banded - whole) < 0.03 * whole
    # the noise of std 5 on three channels averaged into luma: std 5 / sqrt(3), through the blur's residual
    assert abs(whole - crops.GRAIN_GAIN * 5 / np.sqrt(3)) < 0.1 * whole


def test_a_small_crop_is_scaled_back_to_the_photo_over_its_part_on_the_photo_as_a_whole_resize_would():
    """A generator's 64 px crop of a close-up is scaled back to photo pixels over the part on the photo only,
    and what lands there is what scaling the whole crop up and cutting that part out gives."""
    import cv2

    from anonymizer.box_frame import box_layers

    photo = noise_image(120, 160, seed=2)
    crop = make_crop(photo, make_face((-40, 10, 130, 190)), 64)  # past the left and bottom edges
    pixels = cv2.GaussianBlur(noise_image(64, 64, seed=3), (0, 0), 1.5)
    part, _, _, new = box_layers(photo, crop, pixels, grain=False)
    whole = cv2.resize(pixels.astype(np.float32), (crop.side, crop.side), interpolation=cv2.INTER_LINEAR)
    x0, y0 = crop.origin
    expected = whole[part[0].start - y0 : part[0].stop - y0, part[1].start - x0 : part[1].stop - x0]
    assert new.shape == expected.shape
    assert np.abs(new - expected).max() < 2.0


@pytest.mark.parametrize("shape", [(37, 90), (512, 512), (700, 1300), (1024, 1024)])
def test_grain_noise_is_unit_noise_of_the_shape_asked_for_and_follows_the_seed(shape):
    from anonymizer.crops import unit_noise

    a, b, c = unit_noise(shape, 1), unit_noise(shape, 1), unit_noise(shape, 2)
    assert a.shape == shape and a.dtype == np.float32
    assert np.array_equal(a, b), "the same seed, the same grain"
    assert not np.array_equal(a, c), "another seed, other grain"
    assert abs(float(a.std()) - 1.0) < 0.1 and abs(float(a.mean())) < 0.1
    if shape[0] > 64 and shape[1] > 64:  # no visible pattern: rows and columns next to each other are unrelated
        assert abs(float(np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1])) < 0.05
        assert abs(float(np.corrcoef(a[:-1].ravel(), a[1:].ravel())[0, 1])) < 0.05


@pytest.mark.parametrize("size", [None, 64])
def test_a_capped_fade_band_is_no_wider_than_its_cap_on_a_large_face_and_unchanged_on_a_small_one(size):
    image = np.full((600, 600, 3), 200, np.uint8)
    capped = Region(shape="rect", feather_max=10.0)
    large, small = make_face((150, 150, 450, 450)), make_face((280, 280, 320, 320))
    assert capped.for_box(small.box) is capped  # 0.12 of a 52 px region is under 10 px

    def band(face, region):
        """How far (px) the paste changed the photo left and right of the hidden area, along the middle row."""
        crop = make_crop(image, face, size=size, region=region)
        out = paste_back(image, [crop], [_solid(crop, 0)])
        hidden = hidden_region(face.box)
        assert (out[_region_mask(image.shape[:2], hidden)] == 0).all()  # the hidden area is all replaced
        changed = np.flatnonzero(out[300, :, 0] != 200)
        return hidden[0] - changed[0], changed[-1] + 1 - hidden[2]

    small_band = FEATHER * 40 * DEFAULT_MASK_SCALE
    for left_right in (band(small, capped), band(small, Region(shape="rect"))):
        assert all(0.6 * small_band <= b <= small_band + 1.5 for b in left_right)
    assert all(6 <= b <= 11.5 for b in band(large, capped))
    assert all(b >= 0.6 * FEATHER * 390 for b in band(large, Region(shape="rect")))  # uncapped: 47 px


def test_a_negative_fade_band_cap_is_refused():
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError):
            Region(feather_max=bad)
