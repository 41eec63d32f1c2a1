"""The aligned frame in training: preparation from a detections report, the compact state the run that keeps
going continues from, and stopping it by signal without losing its steps."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from anonymizer.models.io import load_generator
from safetensors import safe_open

from anonymizer.align import InnerMask, fit_alignment, template_points, transform_box
from anonymizer.crops import Region
from anonymizer.faces import estimate_landmarks
from anonymizer.training.dataset import PrepareOptions, load_dataset, prepare_dataset
from anonymizer.training.train import STATE_FILE, TrainOptions, train
from tests.conftest import write_face_photos

ROOT = Path(__file__).resolve().parents[2]
# Where the astronaut's face lies in each photo of the folder below (a 200 px resize of a 360 px window).
LISTED = {"person_0/photo_0.jpg": (76.0, 33.0, 126.0, 97.0), "person_1/photo_1.jpg": (70.0, 30.0, 122.0, 95.0)}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return write_face_photos(tmp_path_factory.mktemp("photos"), 6, 3)


@pytest.fixture(scope="module")
def aligned(photos, tmp_path_factory) -> Path:
    """Two photos' faces from a report (made up, so that using them shows), the rest from the detector."""
    report = {
        "version": 1,
        "images": [
            {
                "input": rel,
                "status": "ok",
                "faces": [{"box": list(box), "score": 0.95, "landmarks": estimate_landmarks(np.array(box)).tolist()}],
            }
            for rel, box in LISTED.items()
        ],
    }
    detections = tmp_path_factory.mktemp("report") / "detections.json"
    detections.write_text(json.dumps(report))
    out = tmp_path_factory.mktemp("aligned")
    options = PrepareOptions(resolution=64, frame="aligned", min_face_size=20)
    summary = prepare_dataset(photos, out, options, progress=False, detections=detections)
    assert summary["photos_seen"] == 6 and summary["kept"] >= 5
    return out


def test_prepare_aligns_faces_on_the_template_and_uses_the_report(aligned):
    data = load_dataset(aligned, "all", InnerMask())
    assert data.frame == "aligned" and data.images.shape[1:] == (64, 64, 3)
    # Every face's landmarks land on the template (a fit, so not exactly).
    assert np.abs(data.landmarks - template_points(64)).max() < 6
    # One mask, the template's, for every face.
    assert (data.masks == (InnerMask().masks(64)[2] > 0.5)).all()
    # The listed photos' faces are the report's, not the detector's: their boxes map exactly.
    for rel, box in LISTED.items():
        i = list(data.files).index(rel)
        matrix, _ = fit_alignment(estimate_landmarks(np.array(box)), 64)
        np.testing.assert_allclose(data.boxes[i], transform_box(np.array(box), matrix), atol=1e-3)
    with pytest.raises(ValueError, match="frame"):
        load_dataset(aligned, "all", Region())


def test_an_existing_dataset_of_another_frame_is_refused(photos, aligned):
    with pytest.raises(ValueError, match="frame"):
        prepare_dataset(photos, aligned, PrepareOptions(resolution=64, frame="box"), progress=False)


def _options(steps: int, **kw) -> TrainOptions:
    settings = dict(
        steps=steps,
        batch_size=4,
        checkpoint_every=2,
        width=8,
        max_width=32,
        fold=2,
        rec_weight=0.0,
        fm_weight=1.0,
        threads=1,
        init=None,
    )
    return TrainOptions(**{**settings, **kw})


def test_the_compact_state_carries_a_run_into_a_new_run_folder(aligned, tmp_path):
    state = tmp_path / "state"
    first = train(aligned, tmp_path / "a", _options(4, state=str(state)), progress=False)
    assert first["step"] == 4
    info = json.loads((state / "generator.json").read_text())
    assert info["config"]["frame"] == "aligned" and info["training"]["images_seen"] == 16
    assert info["training"]["training_seconds"] > 0
    # fp16, no optimiser moments: a few times smaller than the full checkpoint.
    compact = sum(p.stat().st_size for p in state.iterdir())
    assert compact < (tmp_path / "a" / "checkpoint.pt").stat().st_size / 2
    rows = (tmp_path / "a" / "losses.csv").read_text().splitlines()
    assert rows[0].endswith("g_fm") and float(rows[-1].split(",")[-1]) > 0
    ema = load_generator(state / "generator.safetensors").state_dict()

    # A new session: no run folder, the state only. It starts from the state, and counts on from it.
    second = train(aligned, tmp_path / "b", _options(2, state=str(state)), progress=False)
    assert second["step"] == 2
    after = json.loads((state / "generator.json").read_text())["training"]
    assert after["images_seen"] == 24 and after["steps"] == 6
    assert after["training_seconds"] > info["training"]["training_seconds"]
    start = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    moved = max(
        (start["ema"][k].float() - ema[k]).abs().max().item()
        for k in ema
        if "running" not in k and ema[k].is_floating_point()
    )
    assert 0 < moved < 0.05  # two steps on from the state's EMA, not a fresh start


def test_sigterm_stops_the_run_at_a_checkpoint(aligned, tmp_path):
    out, state = tmp_path / "run", tmp_path / "state"
    cmd = [
        sys.executable,
        "-m",
        "anonymizer.training.cli",
        "-q",
        "train",
        "--data",
        str(aligned),
        "--out",
        str(out),
        "--init",
        "none",
        "--steps",
        "100000",
        "--checkpoint-every",
        "3",
        "--batch-size",
        "2",
        "--width",
        "8",
        "--max-width",
        "32",
        "--fold",
        "2",
        "--threads",
        "1",
        "--state",
        str(state),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not (state / STATE_FILE).exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert (state / STATE_FILE).exists(), proc.communicate()[0].decode()[-2000:]
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, output[-2000:]
    step = json.loads((out / "result.json").read_text())["step"]
    assert step >= 3
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == step
    assert json.loads((state / "generator.json").read_text())["training"]["steps"] == step


def test_mask_scales_draw_each_faces_mask_from_the_range(aligned):
    from anonymizer.align import mask_scales
    from anonymizer.training.train import draw_batch, generator_config, mask_scale_stack

    assert mask_scales(1.0, 1.3) == [1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3]
    assert mask_scales(1.2, 1.2) == [1.2]
    with pytest.raises(ValueError):
        mask_scales(1.3, 1.0)
    data = load_dataset(aligned, "train", InnerMask())
    options = _options(1, mask_scales=(1.0, 1.3), batch_size=64)
    config = generator_config(options, 64, data.context, data.frame)
    stack = mask_scale_stack(config, mask_scales(1.0, 1.3), "cpu")
    areas = stack.sum((1, 2, 3))
    assert (areas[1:] > areas[:-1]).all()  # each scale hides more than the one before
    # The smallest is the template's own mask, as a run without mask scales draws it.
    assert torch.equal(stack[0, 0], torch.from_numpy((InnerMask().masks(64)[2] > 0.5).astype(np.float32)))
    rng = torch.Generator().manual_seed(0)
    (real, mask, _), _ = draw_batch(data.with_region(InnerMask()), None, options, config, rng, "cpu", stack)
    drawn = mask.sum((1, 2, 3))
    # Every mask is one of the scales' (mirrored or not: the ellipse is symmetric), and a batch holds several.
    assert all((torch.isclose(a, areas)).any() for a in drawn)
    assert len(torch.unique(drawn)) >= 4
    assert real.shape[0] == mask.shape[0] == 64


def test_a_run_goes_on_from_its_state_with_a_new_region_but_not_a_new_network(aligned, tmp_path):
    state = tmp_path / "state"
    train(aligned, tmp_path / "a", _options(2, state=str(state)), progress=False)
    assert json.loads((state / "generator.json").read_text())["config"]["region_scale"] == 1.0
    # Same network, a larger region and masks drawn at several scales: it goes on from the state.
    grown = _options(2, state=str(state), region_scale=1.15, mask_scales=(1.0, 1.3))
    train(aligned, tmp_path / "b", grown, progress=False)
    info = json.loads((state / "generator.json").read_text())
    assert info["config"]["region_scale"] == 1.15 and info["training"]["steps"] == 4
    assert info["training"]["mask_scales"] == [1.0, 1.3]
    # It resumes its own run folder too (the full checkpoint), with the region it now has.
    train(
        aligned,
        tmp_path / "b",
        _options(3, state=str(state), region_scale=1.15, mask_scales=(1.0, 1.3)),
        progress=False,
    )
    assert json.loads((state / "generator.json").read_text())["training"]["steps"] == 5
    # Another network (narrower, or deeper channels) is refused from the state; from the run folder even a wider
    # one (its checkpoint holds optimiser moments of the old shapes).
    with pytest.raises(ValueError, match="generator"):
        train(aligned, tmp_path / "c", _options(1, state=str(state), width=4), progress=False)
    with pytest.raises(ValueError, match="generator"):
        train(aligned, tmp_path / "c", _options(1, state=str(state), max_width=64), progress=False)
    with pytest.raises(ValueError, match="trained with"):
        train(aligned, tmp_path / "b", _options(4, state=str(state), width=16, d_width=8), progress=False)


def test_a_wider_run_goes_on_from_a_narrow_state_painting_what_it_painted(aligned, tmp_path):
    """--width over a state's: both generators start widened (models.networks.widen), painting what the state's
    painted; its discriminator goes on at the width it was trained at (--d-width), and another is refused."""
    from anonymizer.models.networks import Discriminator, Generator, condition

    from anonymizer.training.train import load_state

    state = tmp_path / "state"
    train(aligned, tmp_path / "a", _options(4, state=str(state)), progress=False)
    narrow = load_generator(state / "generator.safetensors").eval()
    config = replace(narrow.config, width=16)
    generator, ema, discriminator = Generator(config), Generator(config), Discriminator(64, 8, 32, fold=2)
    assert load_state(state, generator, ema, discriminator, config)[0] == 4
    with safe_open(str(state / STATE_FILE), framework="pt") as f:
        stored = {k[2:]: f.get_tensor(k).float() for k in f.keys() if k.startswith("d.")}
    assert all(torch.allclose(v.float(), stored[k]) for k, v in discriminator.state_dict().items())
    torch.manual_seed(0)
    image, mask = torch.rand(2, 3, 64, 64) * 2 - 1, torch.zeros(2, 1, 64, 64)
    mask[:, :, 16:48, 16:48] = 1
    cond, z = condition(image, mask, torch.rand(2, 5, 2) * 64), torch.randn(2, narrow.config.latent_dim)
    with torch.no_grad():
        torch.testing.assert_close(ema.eval()(cond, z), narrow(cond, z), atol=1e-4, rtol=0)

    # A run goes on from it, wider, and its state is the wider generator's from then on.
    train(aligned, tmp_path / "b", _options(5, state=str(state), width=16, d_width=8), progress=False)
    info = json.loads((state / "generator.json").read_text())
    assert info["config"]["width"] == 16 and info["training"]["steps"] == 4 + 5
    # A discriminator of another width than the state's cannot go on from it.
    wider = tmp_path / "wider"
    train(aligned, tmp_path / "c", _options(2, state=str(wider)), progress=False)
    with pytest.raises(ValueError, match="--d-width"):
        train(aligned, tmp_path / "d", _options(3, state=str(wider), width=16), progress=False)


def test_a_template_landmarks_run_shows_both_networks_the_templates_points_and_says_so(aligned, tmp_path):
    """--landmarks template: every face of a batch (mirrored or not) carries the template's five points, and the
    run's generator records it, so that inference gives it the template's points too. A state trained on each
    face's own landmarks goes on with the template's: the same network."""
    from anonymizer.align import template_points
    from anonymizer.training.train import draw_batch, generator_config

    data = load_dataset(aligned, "train", InnerMask())
    options = _options(1, landmarks="template", batch_size=16)
    config = generator_config(options, 64, data.context, data.frame)
    assert config.landmarks == "template"
    (_, _, landmarks), _ = draw_batch(data.with_region(InnerMask()), None, options, config, torch.Generator(), "cpu")
    assert torch.equal(landmarks, torch.from_numpy(template_points(64)).expand(16, 5, 2))
    own = generator_config(_options(1), 64, data.context, data.frame)
    (_, _, theirs), _ = draw_batch(
        data.with_region(InnerMask()), None, _options(1, batch_size=16), own, torch.Generator(), "cpu"
    )
    assert not torch.equal(theirs, landmarks)  # the faces' own points differ from the template's

    state = tmp_path / "state"
    train(aligned, tmp_path / "a", _options(2, state=str(state)), progress=False)
    assert json.loads((state / "generator.json").read_text())["config"]["landmarks"] == "own"
    train(aligned, tmp_path / "b", _options(2, state=str(state), landmarks="template"), progress=False)
    info = json.loads((state / "generator.json").read_text())
    assert info["config"]["landmarks"] == "template" and info["training"]["steps"] == 4


def test_a_pose_landmarks_run_trains_on_posed_templates_and_says_so(aligned, tmp_path):
    """--landmarks pose: every face of a batch carries the template's points moved to its coarse pose (the
    eyes stay the template's), a run trains with them, and its generator records it for inference."""
    from anonymizer.align import posed_template, template_points
    from anonymizer.training.train import draw_batch, generator_config

    data = load_dataset(aligned, "train", InnerMask())
    options = _options(1, landmarks="pose", batch_size=16)
    config = generator_config(options, 64, data.context, data.frame)
    assert config.landmarks == "pose"
    torch.manual_seed(0)
    (_, _, landmarks), _ = draw_batch(data.with_region(InnerMask()), None, options, config, torch.Generator(), "cpu")
    template = torch.from_numpy(template_points(64))
    assert torch.allclose(landmarks[:, :2], template[:2].expand(16, 2, 2), atol=1e-4)
    torch.manual_seed(0)
    (_, _, own), _ = draw_batch(
        data.with_region(InnerMask()),
        None,
        _options(1, batch_size=16),
        generator_config(_options(1), 64, data.context, data.frame),
        torch.Generator(),
        "cpu",
    )
    assert torch.allclose(landmarks, torch.as_tensor(posed_template(own.numpy(), 64)), atol=1e-3)
    train(aligned, tmp_path / "run", _options(2, landmarks="pose"), progress=False)
    info = json.loads((tmp_path / "run" / "generator.json").read_text())
    assert info["config"]["landmarks"] == "pose"


def test_a_state_without_its_training_generator_goes_on_with_its_discriminator(aligned, tmp_path):
    """The state kept small in the tree: the discriminator stays, the EMA generator starts both generators."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from anonymizer.training.train import drop_training_generator

    state = tmp_path / "state"
    train(aligned, tmp_path / "a", _options(4, state=str(state)), progress=False)
    full = (state / STATE_FILE).stat().st_size
    with safe_open(str(state / STATE_FILE), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    # Shift the stored discriminator's weights by 0.5, so that going on from them tells from a fresh start.
    learned = [
        k
        for k in tensors
        if k.startswith("d.")
        and tensors[k].is_floating_point()
        and k.endswith(("weight", "bias", "original", "weight_orig"))
    ]
    assert learned
    for k in learned:
        tensors[k] = tensors[k] + 0.5
    save_file(tensors, str(state / STATE_FILE), metadata=meta)
    assert drop_training_generator(state) < full
    with safe_open(str(state / STATE_FILE), framework="pt") as f:
        assert set(f.keys()) == {k for k in tensors if k.startswith("d.")}
        assert f.metadata() == meta  # the training block (steps, images, the discriminator's kind) kept
    ema = load_generator(state / "generator.safetensors").state_dict()

    # One step of a new run from it: both generators from the EMA, the discriminator from the state.
    second = train(aligned, tmp_path / "b", _options(1, state=str(state), checkpoint_every=1), progress=False)
    assert second["step"] == 1
    start = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    floats = [k for k in ema if "running" not in k and ema[k].is_floating_point()]
    assert max((start["generator"][k].float() - ema[k].float()).abs().max().item() for k in floats) < 0.05
    d = start["discriminator"]
    assert max((d[k[2:]].float() - tensors[k].float()).abs().max().item() for k in learned) < 0.05

    # A state that holds no discriminator cannot be made so.
    only = tmp_path / "only"
    only.mkdir()
    save_file({k: v for k, v in tensors.items() if k.startswith("g.")}, str(only / STATE_FILE), metadata=meta)
    with pytest.raises(ValueError, match="no discriminator"):
        drop_training_generator(only)
