"""training/accelerator.sh, the 15 minutes of a lent accelerator, run end to end on the CPU for a few steps: it
must train the background run's recipe from its committed state, not fail when the machine is there."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anonymizer.training.dataset import PrepareOptions, prepare_dataset
from anonymizer.training.recipes import RECIPES, RESUMED
from tests.conftest import write_face_photos

ROOT = Path(__file__).resolve().parents[2]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.skipif(sys.platform == "win32", reason="a bash script")
@pytest.mark.parametrize("from_history", [False, True], ids=["its folder", "the history"])
def test_the_accelerator_script_trains_the_resumed_recipe_on_from_its_state(tmp_path, from_history):
    """From the recipe's state folder, or (a start that left the tree, ``REVISION:folder``) from the history."""
    photos = write_face_photos(tmp_path / "photos", 6, 3)
    data = tmp_path / "aligned128"
    prepare_dataset(photos, data, PrepareOptions(resolution=128, frame="aligned", min_face_size=20), progress=False)
    (data / ".complete").write_text("prepared for the test\n")
    state = ROOT / RECIPES[RESUMED].starts_from(ROOT)
    before = _hashes(state)
    seen = json.loads((state / "generator.json").read_text())["training"]["images_seen"]
    out = tmp_path / "out"
    env = {
        **os.environ,
        "OUT": str(out),
        "DEVICE": "cpu",
        "MINUTES": "0.05",
        "BATCH": "4",
        "DATA": str(data),
        "RUN": str(tmp_path / "run"),
        "PYTHON": sys.executable,
    }
    if from_history:
        env["STATE"] = "HEAD:" + state.relative_to(ROOT).as_posix()
        committed = subprocess.run(
            ["git", "-C", str(ROOT), "show", env["STATE"] + "/generator.json"], capture_output=True, text=True
        )
        seen = json.loads(committed.stdout)["training"]["images_seen"]  # the tree's may have trained on since
    done = subprocess.run(
        ["bash", str(ROOT / "training" / "accelerator.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert ("from the repository's history" in done.stdout) == from_history
    after = json.loads((out / "state" / "generator.json").read_text())["training"]
    assert after["images_seen"] > seen and after["images_seen"] % 4 == seen % 4
    assert after["discriminator"] == RECIPES[RESUMED].options.get("discriminator", "dcgan")
    assert (out / "losses.csv").read_text().startswith("step,") and (out / "samples.png").stat().st_size > 0
    assert _hashes(state) == before, "the committed state is copied, never changed"
