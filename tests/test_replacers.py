import numpy as np
import pytest
from conftest import make_face, noise_image

from anonymizer.frames import make_crop
from anonymizer.replacers import (
    METHODS,
    BlurReplacer,
    PixelateReplacer,
    SolidReplacer,
    make_replacer,
)


def _crops(image, boxes, size=None):
    return [make_crop(image, make_face(b), size) for b in boxes]


def _hidden(crop) -> tuple[slice, slice]:
    x1, y1, x2, y2 = (int(round(v)) for v in crop.hidden)
    return slice(y1, y2), slice(x1, x2)


@pytest.mark.parametrize("replacer", [BlurReplacer(), PixelateReplacer(), SolidReplacer()], ids=lambda r: r.name)
@pytest.mark.parametrize("size", [None, 64])
def test_each_replacer_returns_one_uint8_crop_per_face(replacer, size):
    image = noise_image(300, 400)
    crops = _crops(image, [(50, 50, 90, 100), (200, 100, 320, 250), (0, 0, 14, 14)], size)
    out = replacer.replace(crops)
    assert len(out) == len(crops)
    for crop, px in zip(crops, out, strict=True):
        assert px.shape == crop.image.shape and px.dtype == np.uint8
    assert replacer.replace([]) == []


def test_make_replacer_names():
    for name in ("blur", "pixelate", "solid"):
        assert make_replacer(name).name == name
    assert set(METHODS) == {"gan", "blur", "pixelate", "solid"}
    with pytest.raises(ValueError, match="unknown method"):
        make_replacer("sparkles")


def _edge_width(row: np.ndarray) -> int:
    """Pixels between 10% and 90% of a dark-to-bright step."""
    lo, hi = float(row.min()), float(row.max())
    t = (row.astype(np.float32) - lo) / max(hi - lo, 1.0)
    return int(np.argmax(t >= 0.9) - np.argmax(t >= 0.1))


def _step_image(side: int) -> np.ndarray:
    image = np.zeros((side, side, 3), np.uint8)
    image[:, side // 2 :] = 255
    return image


def test_blur_strength_scales_with_face_size():
    widths = {}
    for face in (40, 160):
        image = _step_image(600)
        c = 300
        crop = make_crop(image, make_face((c - face / 2, c - face / 2, c + face / 2, c + face / 2)))
        out = BlurReplacer().replace([crop])[0]
        widths[face] = _edge_width(out[crop.size // 2, :, 0])
    assert widths[40] >= 5  # a real blur, even on a small face
    assert 2.5 <= widths[160] / widths[40] <= 6.0  # four times the face, about four times the blur


def test_blur_removes_the_detail_of_the_face():
    image = noise_image(300, 300)
    crop = make_crop(image, make_face((100, 100, 200, 200)))
    out = BlurReplacer().replace([crop])[0]
    ys, xs = _hidden(crop)
    assert out[ys, xs].std() < 0.1 * crop.image[ys, xs].std()


@pytest.mark.parametrize("face", [40, 120])
def test_pixelate_block_size_follows_the_face(face):
    side = 400
    ramp = np.linspace(0, 255, side, dtype=np.float32)[None, :, None]
    image = np.broadcast_to(ramp, (side, side, 3)).astype(np.uint8).copy()
    c = side / 2
    crop = make_crop(image, make_face((c - face / 2, c - face / 2, c + face / 2, c + face / 2)))
    replacer = PixelateReplacer(blocks=8)
    out = replacer.replace([crop])[0]
    row = out[crop.size // 2, :, 0].astype(int)
    runs = np.diff(np.flatnonzero(np.diff(row) != 0))  # lengths of the inner runs of one colour
    hidden_side = float(crop.hidden[2] - crop.hidden[0])
    expected = hidden_side / 8
    assert abs(float(np.median(runs)) - expected) <= max(1.5, 0.15 * expected)
    # Blocks are flat in both directions.
    column = out[:, crop.size // 2, 0].astype(int)
    assert len(np.unique(column)) == 1


def test_solid_fills_with_its_colour():
    crop = make_crop(noise_image(100, 100), make_face((30, 30, 60, 60)))
    out = SolidReplacer(color=(10, 20, 30)).replace([crop])[0]
    assert (out.reshape(-1, 3) == (10, 20, 30)).all()
    out[0, 0] = 0  # a writable copy, not a view of a shared buffer


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """An untrained generator small enough to run in a blink: behaviour of the replacer, not of training."""
    import torch
    from anonymizer.models.io import save_generator
    from anonymizer.models.networks import COND_CHANNELS, Generator, GeneratorConfig

    torch.manual_seed(0)
    generator = Generator(GeneratorConfig(resolution=64, width=4, max_width=16, latent_dim=8))
    # Fresh from init, each layer shrinks its input and the latent moves no pixel by more than a level or two
    # (two codes gave identical faces once in CI). Batch-norm statistics measured on random inputs bring every
    # layer to unit scale, as training does, so that different codes paint different faces.
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.momentum = None  # a plain average over the passes below
    with torch.no_grad():
        for _ in range(10):
            generator(torch.randn(8, COND_CHANNELS, 64, 64), torch.randn(8, 8))
    for norm in norms:
        norm.momentum = 0.1
    generator.eval()
    return save_generator(generator, tmp_path_factory.mktemp("weights") / "tiny.safetensors")


def test_seeded_gan_faces_do_not_depend_on_batching(tiny_weights):
    from anonymizer.gan import GanReplacer

    image = noise_image(300, 400)
    a, b = _crops(image, [(50, 50, 110, 120), (220, 100, 320, 210)], 64)
    gan = GanReplacer(tiny_weights, device="cpu", seed=3)
    together = gan.replace([a, b])
    np.testing.assert_array_equal(together[1], gan.replace([b])[0])
    np.testing.assert_array_equal(together[0], GanReplacer(tiny_weights, device="cpu", seed=3).replace([a])[0])
    inside = b.mask > 0.5
    assert not np.array_equal(
        together[1][inside], GanReplacer(tiny_weights, device="cpu", seed=4).replace([b])[0][inside]
    )
    unseeded = GanReplacer(tiny_weights, device="cpu")
    assert not np.array_equal(unseeded.replace([b])[0][inside], unseeded.replace([b])[0][inside])


@pytest.mark.parametrize("replacer", [BlurReplacer(), PixelateReplacer()], ids=lambda r: r.name)
def test_a_crop_running_off_the_photo_is_painted_on_its_part_on_the_photo_as_a_whole_one_would_be(replacer):
    """A close-up's crop can be many times the frame: only its part on the photo is averaged down and painted
    (the rest is never pasted), and that part is what painting the whole crop gives, up to the cells at the
    photo's edge (they repeat the edge's cells rather than its last row of pixels)."""
    import dataclasses

    import cv2

    photo = cv2.GaussianBlur(noise_image(120, 160, seed=4), (0, 0), 5)
    crop = make_crop(photo, make_face((-60, 20, 100, 200)))  # larger than the photo, past its left and bottom
    assert crop.visible is not None
    x1, y1, x2, y2 = crop.visible
    assert (x2 - x1, y2 - y1) == (160, 120)
    part = replacer.replace([crop])[0]
    whole = replacer.replace([dataclasses.replace(crop, visible=None)])[0]
    assert np.abs(part[y1:y2, x1:x2].astype(int) - whole[y1:y2, x1:x2]).max() <= 3
    inside = make_crop(photo, make_face((40, 30, 90, 80)))
    assert inside.visible is None
    rng = np.random.default_rng(0)  # faces of every size, off every edge: the cells always fit the crop
    for _ in range(200):
        side = rng.uniform(4, 600)
        x, y = rng.uniform(-0.9 * side, 150), rng.uniform(-0.9 * side, 110)
        crop = make_crop(photo, make_face((x, y, x + side, y + side * rng.uniform(0.8, 1.3))))
        (painted,) = replacer.replace([crop])
        assert painted.shape == crop.image.shape and painted.dtype == np.uint8
