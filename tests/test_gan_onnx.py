"""The generator on onnxruntime: its ONNX export paints what torch paints, and inference needs no torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from anonymizer.models.io import WeightsError, onnx_export_of, read_info
from conftest import make_face

from anonymizer.frames import make_crop
from anonymizer.gan import GanReplacer, default_weights

REPO = Path(__file__).resolve().parents[1]
torch = pytest.importorskip("torch")  # the export and the torch side of the comparison need the train extra


def _calibrated_weights(folder: Path, **config) -> Path:
    """A small untrained generator whose batch norms are measured on random inputs (every layer at unit
    scale, as after training, so that the comparison is not of near-constant outputs)."""
    from anonymizer.models.io import save_generator
    from anonymizer.models.networks import COND_CHANNELS, Generator, GeneratorConfig

    torch.manual_seed(0)
    generator = Generator(GeneratorConfig(**config))
    for style in getattr(generator, "styles", []):  # a modulated generator's, as if trained (they start at zero)
        torch.nn.init.normal_(style.weight, std=0.2)
    fold, size = generator.config.fold, generator.config.resolution
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.momentum = None
    with torch.no_grad():
        for _ in range(5):
            generator(torch.randn(4, COND_CHANNELS, size, size), torch.randn(4, generator.config.latent_dim))
    assert fold in (1, 2)
    return save_generator(generator.eval(), folder / "generator.safetensors")


ALIGNED = dict(
    resolution=128,
    width=8,
    max_width=32,
    latent_dim=16,
    fold=2,
    frame="aligned",
    region_scale=1.0,
    feather=0.06,
    context=0.0,
)


@pytest.fixture(scope="module")
def aligned_weights(tmp_path_factory) -> Path:
    from anonymizer.models.export import export_onnx

    path = _calibrated_weights(tmp_path_factory.mktemp("aligned"), **ALIGNED)
    export_onnx(path)
    return path


@pytest.fixture(scope="module")
def modulated_weights(tmp_path_factory) -> Path:
    """An aligned generator whose code modulates every decoder level."""
    from anonymizer.models.export import export_onnx

    path = _calibrated_weights(tmp_path_factory.mktemp("modulated"), **ALIGNED, modulated=True)
    export_onnx(path)
    return path


def _face_crops(astronaut, replacer: GanReplacer) -> list:
    faces = [
        make_face((175, 60, 245, 150)),  # the astronaut's face
        make_face((300, 250, 380, 340)),  # her suit: a crop that is no face
    ]
    faces[0].landmarks = np.array([[195, 95], [228, 93], [213, 113], [199, 132], [226, 131]], np.float32)
    return [make_crop(astronaut, f, replacer.crop_size, replacer.region) for f in faces]


@pytest.mark.parametrize("which", ["shipped", "aligned", "modulated"])
def test_the_onnx_generator_paints_what_torch_paints(which, aligned_weights, modulated_weights, astronaut):
    """Same crops, same latent codes: the two backends' faces agree within 2/255 in every pixel."""
    weights = {"shipped": default_weights(), "aligned": aligned_weights, "modulated": modulated_weights}[which]
    onnx = GanReplacer(weights, device="cpu", seed=5, backend="onnx")
    ref = GanReplacer(weights, device="cpu", seed=5, backend="torch")
    assert (onnx.backend, ref.backend) == ("onnx", "torch")
    crops = _face_crops(astronaut, onnx)
    ours, theirs = onnx.replace(crops), ref.replace(crops)
    for crop, a, b in zip(crops, ours, theirs):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
        inside = crop.mask > 0.5
        assert np.abs(a[inside].astype(int) - crop.image[inside].astype(int)).mean() > 1, "it paints"
        np.testing.assert_array_equal(a[~(crop.mask > 0)], crop.image[~(crop.mask > 0)])  # the rest untouched


def test_the_shipped_weights_carry_a_current_export():
    model, why = onnx_export_of(default_weights())
    assert model is not None, why
    assert GanReplacer(device="cpu").backend == "onnx"


def test_a_stale_or_damaged_export_is_never_used(aligned_weights, tmp_path):
    from anonymizer.models.io import load_generator, save_generator

    folder = tmp_path / "w"
    shutil.copytree(aligned_weights.parent, folder)
    weights = folder / aligned_weights.name
    assert GanReplacer(weights, device="cpu").backend == "onnx"
    # Damaged: the file no longer has the recorded checksum.
    model = weights.with_suffix(".onnx")
    data = bytearray(model.read_bytes())
    data[-10] ^= 0xFF
    model.write_bytes(bytes(data))
    assert onnx_export_of(weights)[0] is None and "checksum" in onnx_export_of(weights)[1]
    assert GanReplacer(weights, device="cpu").backend == "torch"
    with pytest.raises(WeightsError, match="anonymize-train export --onnx"):
        GanReplacer(weights, device="cpu", backend="onnx")
    # Stale: new weights written over the old ones; the old export stays beside them, but is not theirs.
    shutil.copy(aligned_weights.with_suffix(".onnx"), model)
    save_generator(load_generator(weights), weights, info={"retrained": True})
    assert "onnx" not in read_info(weights)
    assert GanReplacer(weights, device="cpu").backend == "torch"
    # Exported again: the sidecar records the new export.
    from anonymizer.models.export import export_onnx

    export_onnx(weights)
    assert read_info(weights)["onnx"]["weights_sha256"] == read_info(weights)["sha256"]
    assert GanReplacer(weights, device="cpu").backend == "onnx"


def test_a_retraining_run_exports_its_generator(tmp_path):
    """anonymize-train export --onnx writes generator.onnx and records it, from the weights or a checkpoint."""
    from anonymizer.training.cli import main

    weights = _calibrated_weights(tmp_path, resolution=64, width=4, max_width=16, latent_dim=8)
    assert main(["--quiet", "export", "--weights", str(weights), "--onnx"]) == 0
    entry = read_info(weights)["onnx"]
    assert entry["file"] == "generator.onnx" and entry["max_difference_255"] <= 0.5
    assert onnx_export_of(weights)[0] == weights.with_suffix(".onnx")
    assert main(["--quiet", "export", "--weights", str(weights)]) == 2  # --weights alone does nothing: refused


def _run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )


def test_anonymize_with_the_gan_never_imports_torch(tmp_path):
    out = tmp_path / "anon"
    code = f"""
import sys
from anonymizer.cli import main
rc = main(["--input", {str(REPO / "samples")!r}, "--out", {str(out)!r}, "--method", "gan", "--seed", "0",
           "--workers", "1", "-q"])
print(rc, sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "safetensors", "onnx")))
"""
    done = _run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "0 []", done.stdout + done.stderr
    assert len(list(out.iterdir())) == len(list((REPO / "samples").glob("*.jpg")))


def test_where_torch_is_missing_the_gan_runs_and_training_says_what_to_install(tmp_path):
    """As in the light install: ``import torch`` fails. The GAN still paints; anonymize-train names the extra."""
    out = tmp_path / "anon"
    code = f"""
import sys
sys.modules["torch"] = None  # 'import torch' now fails, as where it is not installed
from anonymizer.cli import main
rc = main(["--input", {str(REPO / "samples")!r}, "--out", {str(out)!r}, "--method", "gan", "--workers", "1", "-q"])
from anonymizer.training.cli import main as train
print(rc, train(["train", "--data", "x", "--out", "y"]))
"""
    done = _run_python(code, tmp_path)
    assert done.stdout.split() == ["0", "2"], done.stdout + done.stderr
    assert "anonymizer[train]" in done.stderr
    assert len(list(out.iterdir())) == len(list((REPO / "samples").glob("*.jpg")))


def test_the_shipped_export_matches_its_sidecar():
    meta = json.loads(default_weights().with_suffix(".json").read_text())
    assert meta["onnx"]["weights_sha256"] == meta["sha256"]


def test_the_backend_is_chosen_on_the_command_line(tmp_path, capsys):
    from anonymizer.cli import main

    assert main(["--input", str(REPO / "samples"), "--out", str(tmp_path / "a"), "--gan-backend", "torch"]) == 2
    assert "--gan-backend is only used with --method gan" in capsys.readouterr().err
    args = ["--input", str(REPO / "samples"), "--out", str(tmp_path / "b"), "--method", "gan", "--seed", "0"]
    assert main([*args, "--gan-backend", "torch", "--workers", "1", "-q"]) == 0
    assert len(list((tmp_path / "b").glob("*.jpg"))) == 2


def test_the_command_line_says_once_when_weights_without_an_export_run_on_torch(aligned_weights, tmp_path, capsys):
    from anonymizer.models.io import sidecar

    from anonymizer.cli import main

    folder = tmp_path / "w"
    shutil.copytree(aligned_weights.parent, folder)
    weights = folder / aligned_weights.name
    args = ["--input", str(REPO / "samples"), "--method", "gan", "--seed", "0", "--weights", str(weights), "-q"]
    assert main([*args, "--out", str(tmp_path / "a"), "--workers", "1"]) == 0
    assert "runs on torch" not in capsys.readouterr().err  # a current export: onnxruntime, nothing to say
    meta = json.loads(sidecar(weights).read_text())
    del meta["onnx"]
    sidecar(weights).write_text(json.dumps(meta))
    assert main([*args, "--out", str(tmp_path / "b"), "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert err.count("runs on torch") == 1, err
    assert f"anonymize-train export --onnx --weights {weights}" in err
    assert len(list((tmp_path / "b").glob("*.jpg"))) == 2
