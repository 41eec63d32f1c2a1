"""The aligned face frame: the fit, what is alignable, the inner mask, and painting back through the warp."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from anonymizer import Anonymizer
from anonymizer.align import InnerMask, alignable, fit_alignment, template_points, transform_points, warp_to_frame
from anonymizer.crops import FaceCrop
from anonymizer.faces import Face, estimate_landmarks
from anonymizer.frames import face_window, make_crop, paint_waves, paste_back
from anonymizer.replacers import PixelateReplacer
from tests.conftest import FakeDetector, make_face, noise_image


def _similar(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    return (points @ (scale * np.array([[c, -s], [s, c]])).T + np.array(shift)).astype(np.float32)


def _turned_face(angle=25.0, scale=1.6, shift=(150.0, 90.0)) -> Face:
    """A face whose landmarks are the template's, turned, scaled and moved into a photo."""
    points = _similar(template_points(128) - 64, angle, scale, shift)
    lo, hi = points.min(0) - 40, points.max(0) + 40
    return Face(np.concatenate([lo, hi]), 0.99, points)


def test_the_fit_recovers_a_similarity_transform():
    face = _turned_face()
    matrix, residual = fit_alignment(face.landmarks, 128)
    assert residual < 1e-4
    np.testing.assert_allclose(transform_points(face.landmarks, matrix), template_points(128), atol=1e-3)
    # Uniform scale, no shear: the transform is 1/1.6 in both directions.
    np.testing.assert_allclose(np.linalg.svd(matrix[:, :2])[1], [1 / 1.6, 1 / 1.6], rtol=1e-4)


def test_profiles_and_stray_landmarks_are_not_alignable():
    assert alignable(_turned_face().landmarks, _turned_face().box)[0]
    frontal = make_face((100, 100, 200, 200))
    assert alignable(frontal.landmarks, frontal.box)[0]
    # A profile: both eyes and mouth corners bunched on one side of the nose.
    profile = np.array([[150, 140], [160, 140], [185, 165], [152, 185], [160, 185]], np.float32)
    ok, why = alignable(profile, np.array([100, 100, 200, 200]))
    assert not ok and "residual" in why
    stray = frontal.landmarks.copy()
    stray[0] = (20, 20)
    ok, why = alignable(stray, frontal.box)
    assert not ok and "outside" in why


def test_the_inner_mask_is_soft_edged_and_grows_with_its_scale():
    hidden, alpha, replaced = InnerMask().masks(128)
    assert (alpha[hidden > 0] == 1).all() and ((alpha > 0) == (replaced > 0)).all()
    assert 0 < ((alpha > 0) & (alpha < 1)).sum()  # a fade band
    # Brows to chin: the template's eyes and mouth are inside, the crop's corners and top are not.
    for x, y in template_points(128):
        assert hidden[int(y), int(x)] == 1
    assert replaced[:30].sum() == 0 and replaced[:, :20].sum() == 0
    assert InnerMask(scale=1.2).masks(128)[0].sum() > 1.3 * hidden.sum()


def test_a_large_face_is_averaged_down_not_aliased():
    # A fine checkerboard: a plain warp at 1/4 scale picks single squares; area averaging gives grey.
    board = (np.indices((1200, 1200)).sum(0) % 2 * 255).astype(np.uint8)
    photo = np.repeat(board[..., None], 3, axis=2)
    face = _turned_face(angle=0, scale=4.0, shift=(600, 600))
    matrix, _ = fit_alignment(face.landmarks, 128)
    crop = warp_to_frame(photo, matrix, 128).astype(float)
    assert abs(crop.mean() - 127.5) < 10 and crop.std() < 20


def test_an_aligned_crop_paints_back_into_the_turned_face_and_nowhere_else():
    photo = cv2.GaussianBlur(noise_image(300, 320, seed=3), (0, 0), 4)
    face = _turned_face()
    crop = make_crop(photo, face, 128, InnerMask())
    assert crop.matrix is not None and crop.image.shape == (128, 128, 3)
    np.testing.assert_allclose(crop.landmarks, template_points(128), atol=0.01)
    # The crop shows the photo: its centre pixel is the photo's at the inverse-mapped place.
    inverse = cv2.invertAffineTransform(crop.matrix)
    x, y = transform_points([[64, 64]], inverse)[0]
    assert np.abs(crop.image[64, 64].astype(int) - photo[round(y), round(x)].astype(int)).max() < 4

    out = paste_back(photo, [crop], [np.full((128, 128, 3), 255, np.uint8)])
    hidden, _, replaced = crop.areas()
    ys, xs = np.mgrid[0:300, 0:320]
    at = transform_points(np.stack([xs.ravel(), ys.ravel()], 1), crop.matrix)  # photo pixel -> crop (cv2's grid)
    mx, my = at[:, 0].reshape(300, 320), at[:, 1].reshape(300, 320)
    inside = cv2.remap(hidden, mx, my, cv2.INTER_LINEAR) > 0.5
    outside = cv2.remap(replaced, mx, my, cv2.INTER_LINEAR)
    assert inside.sum() > 3000
    assert (out[inside] == 255).all()  # every hidden pixel is the new face's: nothing of the original
    untouched = outside == 0
    np.testing.assert_array_equal(out[untouched], photo[untouched])
    # The nose (template point 2) is painted; the corner of the face box is not.
    nose = face.landmarks[2].astype(int)
    assert (out[nose[1], nose[0]] == 255).all()
    corner = face.box[:2].astype(int)
    np.testing.assert_array_equal(out[corner[1], corner[0]], photo[corner[1], corner[0]])


def test_faces_whose_aligned_crops_see_each_other_are_painted_in_turn():
    near = [_turned_face(shift=(120, 150)), _turned_face(angle=-10, shift=(190, 150))]
    far = [_turned_face(shift=(120, 150)), _turned_face(shift=(600, 150))]
    assert len(paint_waves(near, InnerMask())) == 2
    assert paint_waves(far, InnerMask()) == [[0, 1]]
    window, hidden = face_window(near[0], InnerMask())
    assert (window[:2] <= hidden[:2]).all() and (hidden[2:] <= window[2:]).all()


class _AlignedShade:
    """An aligned-frame replacer painting one grey, declining faces it cannot align (as the aligned GAN does)."""

    name = "shade"
    crop_size = 64
    min_face_size = 20.0
    grain = False
    region = InnerMask()

    def declines(self, face: Face) -> str | None:
        ok, why = alignable(face.landmarks, face.box)
        return None if ok else f"not alignable: {why}"

    def replace(self, crops: list[FaceCrop]) -> list[np.ndarray]:
        return [np.full((c.size, c.size, 3), 200, np.uint8) for c in crops]


def test_the_pipeline_hands_unalignable_faces_to_the_fallback_and_says_why():
    photo = noise_image(300, 400, seed=5)
    profile = Face(np.array([250, 100, 350, 200]), 0.9, [[300, 140], [310, 140], [335, 165], [302, 185], [310, 185]])
    faces = [make_face((60, 80, 160, 180)), profile, make_face((20, 250, 32, 262))]
    anonymizer = Anonymizer(detector=FakeDetector(), replacer=_AlignedShade(), fallback=PixelateReplacer())
    result = anonymizer.anonymize(photo, faces)
    assert [f.method for f in result.faces] == ["shade", "pixelate", "pixelate"]
    assert result.faces[0].fallback is None and "fallback" not in result.faces[0].to_report()
    assert "not alignable" in result.faces[1].to_report()["fallback"]
    assert "smaller than" in result.faces[2].fallback
    # The frontal face's inner face is the replacer's grey; the profile is pixelated, not left alone.
    x, y = faces[0].landmarks[2].astype(int)
    assert (result.image[y, x] == 200).all()
    assert not np.array_equal(result.image[120:180, 270:330], photo[120:180, 270:330])


@pytest.fixture(scope="module")
def aligned_weights(tmp_path_factory):
    import torch
    from anonymizer.models.io import save_generator
    from anonymizer.models.networks import Generator, GeneratorConfig

    torch.manual_seed(0)
    config = GeneratorConfig(
        resolution=64, width=8, max_width=32, fold=2, frame="aligned", region_scale=1.0, feather=0.06, context=0.0
    )
    path = tmp_path_factory.mktemp("weights") / "generator.safetensors"
    return save_generator(Generator(config).eval(), path)


def test_an_aligned_generator_paints_the_inner_face_of_a_photo(aligned_weights):
    from anonymizer.gan import GanReplacer

    photo = noise_image(300, 320, seed=7)
    face = _turned_face(scale=1.2)
    gan = GanReplacer(weights=aligned_weights, device="cpu", seed=1)
    assert isinstance(gan.region, InnerMask) and gan.crop_size == 64
    result = Anonymizer(detector=FakeDetector(), replacer=gan).anonymize(photo, [face])
    assert result.faces[0].method == "gan"
    changed = np.abs(result.image.astype(int) - photo.astype(int)).max(axis=2) > 0
    x, y = face.landmarks[2].astype(int)
    assert changed[y - 3 : y + 3, x - 3 : x + 3].all()
    assert not changed[: int(face.box[1]) - 5].any()  # above the face: the photo's own
    again = Anonymizer(detector=FakeDetector(), replacer=GanReplacer(weights=aligned_weights, device="cpu", seed=1))
    np.testing.assert_array_equal(again.anonymize(photo, [face]).image, result.image)


def test_a_generator_paints_faces_as_loosely_fitting_as_it_was_trained_on(aligned_weights, tmp_path):
    """A turned head whose landmarks fit the template to 0.3: the default generator (0.25) declines it to the
    fallback, one whose config says it learned on faces fitting to 0.45 paints it."""
    from dataclasses import replace

    from anonymizer.gan import GanReplacer

    box = np.array([100.0, 100.0, 160.0, 170.0])
    points = estimate_landmarks(box)
    width = points[1, 0] - points[0, 0]
    points[2, 0] += 0.9 * width
    points[3:, 0] += 0.45 * width
    points[1, 0] -= 0.36 * width
    assert 0.25 < fit_alignment(points, 128)[1] < 0.45
    face = Face(box, 0.9, points)
    assert "not alignable" in GanReplacer(weights=aligned_weights, device="cpu").declines(face)
    import torch
    from anonymizer.models.io import save_generator
    from anonymizer.models.networks import Generator, GeneratorConfig

    torch.manual_seed(0)
    config = GeneratorConfig(
        resolution=64, width=8, max_width=32, fold=2, frame="aligned", region_scale=1.0, feather=0.06, context=0.0
    )
    loose = save_generator(Generator(replace(config, max_residual=0.45)).eval(), tmp_path / "generator.safetensors")
    gan = GanReplacer(weights=loose, device="cpu", seed=1)
    assert gan.declines(face) is None
    photo = noise_image(300, 320, seed=7)
    result = Anonymizer(detector=FakeDetector(), replacer=gan, fallback=PixelateReplacer()).anonymize(photo, [face])
    assert result.faces[0].method == "gan"


def test_a_generator_trained_on_the_templates_landmarks_is_given_them_whatever_the_faces_own(tmp_path):
    """With landmarks 'template' in its config the generator paints a face from the template's five points, so
    two faces that differ only in their landmarks' residual (their proportions) get the same new face; one
    trained on each face's own landmarks paints them differently."""
    import json

    import torch
    from anonymizer.models.config import painted_landmarks
    from anonymizer.models.io import save_generator
    from anonymizer.models.networks import Generator, GeneratorConfig

    from anonymizer.gan import GanReplacer

    config = GeneratorConfig(
        resolution=64, width=8, max_width=32, fold=2, frame="aligned", region_scale=1.0, feather=0.06, context=0.0
    )
    points = np.random.default_rng(0).uniform(10, 50, size=(3, 5, 2)).astype(np.float32)
    np.testing.assert_array_equal(painted_landmarks(config, points), points)
    template = GeneratorConfig(**{**config.to_dict(), "landmarks": "template"})
    np.testing.assert_array_equal(painted_landmarks(template, points), np.broadcast_to(template_points(64), (3, 5, 2)))
    with pytest.raises(ValueError, match="template"):
        painted_landmarks(GeneratorConfig(landmarks="template"), points)  # the box frame has no template

    # One crop, and the same crop with other landmarks (another face's proportions on the same context).
    rng = np.random.default_rng(1)
    mask = (InnerMask().masks(64)[2] > 0.5).astype(np.float32)
    crop = FaceCrop(
        image=rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
        mask=mask,
        hidden=np.array([8, 8, 56, 56], dtype=np.float32),
        landmarks=template_points(64),
        origin=(0, 0),
        side=64,
        face_size=48.0,
        region=InnerMask(),
    )
    moved = FaceCrop(
        **{**crop.__dict__, "landmarks": template_points(64) + np.float32([[-2, 0], [2, 0], [0, 3], [-2, 1], [2, 1]])}
    )
    painted = {}
    for name, cfg in (("own", config), ("template", template)):
        torch.manual_seed(0)
        weights = save_generator(Generator(cfg).eval(), tmp_path / name / "generator.safetensors")
        assert json.loads(weights.with_suffix(".json").read_text())["config"]["landmarks"] == name
        painted[name] = GanReplacer(weights=weights, device="cpu", seed=1)._replace_batch([crop, moved])
    np.testing.assert_array_equal(painted["template"][0], painted["template"][1])
    assert not np.array_equal(painted["own"][0], painted["own"][1])


def test_the_posed_template_tells_the_pose_and_not_the_proportions():
    """``landmarks="pose"``: a frontal face gets the template itself; a head turned to one side gets the template
    with its nose (and half as far its mouth) moved that way, in steps; two faces in the same pose but with other
    proportions (eye spacing, mouth width) get the same points; NumPy and torch agree."""
    import torch
    from anonymizer.models.config import GeneratorConfig, painted_landmarks

    from anonymizer.align import POSE_STEP, POSE_YAW_MAX, posed_template

    size = 128
    template = template_points(size)
    np.testing.assert_allclose(posed_template(template[None], size)[0], template, atol=1e-4)
    eye_distance = float(np.linalg.norm(template[1] - template[0]))
    turned = template.copy()
    turned[2, 0] += 0.2 * eye_distance  # the nose a fifth of the eye distance to the viewer's right
    posed = posed_template(turned[None], size)[0]
    assert posed[2, 0] - template[2, 0] == pytest.approx(0.2 * eye_distance, abs=1e-3)
    assert posed[3, 0] - template[3, 0] == pytest.approx(0.1 * eye_distance, abs=1e-3)
    np.testing.assert_allclose(posed[[0, 1]], template[[0, 1]], atol=1e-4)  # the eyes stay the template's
    other = turned.copy()  # the same pose, wider-set eyes and a wider mouth about the same middles
    other[0, 0] -= 3.0
    other[1, 0] += 3.0
    other[3, 0] -= 2.0
    other[4, 0] += 2.0
    other[2, 0] = (other[0, 0] + other[1, 0] + other[3, 0] + other[4, 0]) / 4 + 0.2 * np.linalg.norm(
        other[1] - other[0]
    )
    np.testing.assert_allclose(posed_template(other[None], size)[0], posed, atol=1e-3)
    far = template.copy()
    far[2, 0] += 5 * eye_distance  # a profile's nose: clipped
    assert posed_template(far[None], size)[0, 2, 0] - template[2, 0] == pytest.approx(
        POSE_YAW_MAX * eye_distance, abs=1e-3
    )
    shifts = posed_template(np.random.default_rng(0).normal(template, 2.0, (50, 5, 2)), size)[:, 2, 0] - template[2, 0]
    steps = shifts / (POSE_STEP * eye_distance)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)  # whole steps only
    config = GeneratorConfig(resolution=size, frame="aligned", landmarks="pose")
    points = np.random.default_rng(1).normal(template, 3.0, (4, 5, 2)).astype(np.float32)
    from_numpy = painted_landmarks(config, points)
    from_torch = painted_landmarks(config, torch.from_numpy(points)).numpy()
    assert from_numpy.dtype == np.float32 and from_numpy.shape == (4, 5, 2)
    np.testing.assert_allclose(from_torch, from_numpy, atol=1e-3)
    with pytest.raises(ValueError, match="pose"):
        painted_landmarks(GeneratorConfig(landmarks="pose"), points)  # the box frame has no template


def test_the_seam_blend_takes_nothing_from_the_original_face():
    """The photo side of the blend is filled from outside the hidden region: two crops that differ only inside
    it (two people's faces on the same surroundings) give the same blended face."""
    from anonymizer.gan import blend_seam, fill_from_outside

    photo = cv2.GaussianBlur(noise_image(300, 320, seed=3), (0, 0), 3)
    crop = make_crop(photo, _turned_face(), 128, InnerMask())
    hidden = crop.areas()[0] > 0.5
    other = crop.image.copy()
    other[hidden] = np.random.default_rng(1).integers(0, 256, (int(hidden.sum()), 3))
    twin = FaceCrop(**{**crop.__dict__, "image": other})
    filled = fill_from_outside(crop.image.astype(np.float32), ~hidden)
    np.testing.assert_array_equal(filled, fill_from_outside(other.astype(np.float32), ~hidden))
    np.testing.assert_array_equal(filled[~hidden], crop.image[~hidden])
    new = np.full((128, 128, 3), 200, np.uint8)
    np.testing.assert_array_equal(blend_seam(new, crop), blend_seam(new, twin))


def test_the_seam_blend_keeps_the_new_faces_detail_and_brings_its_shading_to_the_photos():
    """A face painted brighter than the photo around it: the blend leaves its middle as painted, fine detail
    and all, and moves its rim toward the photo's brightness, where the plain paste would meet it with a step."""
    from anonymizer.gan import blend_seam

    photo = np.full((300, 320, 3), 90, np.uint8)
    crop = make_crop(photo, _turned_face(), 128, InnerMask())
    hidden, alpha, _ = crop.areas()
    new = np.full((128, 128, 3), 170.0)
    new[::2, ::2] += 20  # fine detail
    new = new.astype(np.uint8)
    out = blend_seam(new, crop).astype(float)
    np.testing.assert_allclose(out[60:68, 60:68], new[60:68, 60:68], atol=2)  # the middle: as painted
    ring = (hidden > 0.5) & (cv2.erode(hidden, np.ones((5, 5), np.uint8)) < 0.5)  # the hidden region's rim
    assert out[ring].mean() < new[ring].astype(float).mean() - 15  # its shading goes toward the photo's 90
    assert out[ring].mean() > 100  # but it is still the new face's, not the photo's


def test_the_generator_blends_its_seam_only_when_asked(aligned_weights):
    from anonymizer.gan import GanReplacer

    photo = cv2.GaussianBlur(noise_image(300, 320, seed=5), (0, 0), 3)
    face = _turned_face(scale=1.2)
    images = {}
    for seam in ("shift", "blend"):
        gan = GanReplacer(weights=aligned_weights, device="cpu", seed=1, seam=seam)
        images[seam] = Anonymizer(detector=FakeDetector(), replacer=gan).anonymize(photo, [face]).image
    assert (images["shift"] != images["blend"]).any()
    with pytest.raises(ValueError, match="seam"):
        GanReplacer(weights=aligned_weights, device="cpu", seam="poisson")


def test_truncation_draws_the_generators_codes_nearer_their_mean(aligned_weights):
    """``truncation`` scales each face's latent code: at 0 every seed paints the one face of the mean code, at 1
    the codes are as drawn."""
    from anonymizer.gan import GanReplacer

    photo = cv2.GaussianBlur(noise_image(300, 320, seed=5), (0, 0), 3)
    face = _turned_face(scale=1.2)

    def painted(seed: int, truncation: float) -> np.ndarray:
        gan = GanReplacer(weights=aligned_weights, device="cpu", seed=seed, truncation=truncation)
        return Anonymizer(detector=FakeDetector(), replacer=gan).anonymize(photo, [face]).image

    assert (painted(1, 1.0) != painted(2, 1.0)).any()
    assert np.array_equal(painted(1, 0.0), painted(2, 0.0))
    half = GanReplacer(weights=aligned_weights, device="cpu", seed=1, truncation=0.5)
    drawn = GanReplacer(weights=aligned_weights, device="cpu", seed=1)
    crop = make_crop(photo, face, 128, half.region)
    codes = drawn._latents([crop])
    seen = []
    half.generator.inpaint = lambda image, mask, landmarks, z: seen.append(z) or image
    half._replace_batch([crop])
    np.testing.assert_allclose(seen[0], codes * 0.5)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="truncation"):
            GanReplacer(weights=aligned_weights, device="cpu", truncation=bad)
