import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # GUI tests run without a display

import hashlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from anonymizer.faces import Face, estimate_landmarks  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
SHARED = Path(__file__).parents[1].parent / "shared"
TWO_PEOPLE = SHARED / "data" / "photos" / "two_people.jpg"

# The astronaut's face in skimage.data.astronaut(), as the real detectors find it.
ASTRONAUT_FACE = (178.0, 60.0, 268.0, 175.0)


def make_face(box, score: float = 0.99) -> Face:
    box = np.asarray(box, dtype=np.float32)
    return Face(box, score, estimate_landmarks(box))


class FakeDetector:
    """Returns the same boxes for every image (fresh Face objects each call)."""

    def __init__(self, boxes=(), error: Exception | None = None) -> None:
        self.boxes = [tuple(b) for b in boxes]
        self.error = error
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return [make_face(b) for b in self.boxes]


def noise_image(height: int, width: int, seed: int = 0, low: int = 0, high: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, size=(height, width, 3), dtype=np.uint8)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_hashes(root: Path) -> dict[str, str]:
    """Every regular file under ``root`` (links not followed) with its hash."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[path.relative_to(root).as_posix()] = sha256(path)
    return out


def write_face_photos(folder: Path, count: int, people: int, flip: bool = False) -> Path:
    """A user's folder of face photos: crops of the astronaut portrait, 200 px, in ``people`` sub-folders
    (``person_<i % people>/photo_<i>.jpg``), every other one mirrored with ``flip``."""
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image

    base = Image.fromarray(skdata.astronaut())
    for i in range(count):
        person = folder / f"person_{i % people}"
        person.mkdir(parents=True, exist_ok=True)
        im = base.crop((40 + 6 * i, 4 * i, 400 + 6 * i, 360 + 4 * i)).resize((200, 200))
        if flip and i % 2:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        im.save(person / f"photo_{i}.jpg", quality=90)
    return folder


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def real_detector():
    """The default detector (see anonymizer.detection.cascade), loaded once for the whole run."""
    from anonymizer.detection import make_detector

    return make_detector(device="cpu")


@pytest.fixture
def use_detector(monkeypatch):
    """Make every Anonymizer built from names (as the CLI does) use the given detector."""

    def install(detector) -> None:
        monkeypatch.setattr("anonymizer.pipeline.make_detector", lambda *args, **kwargs: detector)
        # A worker process would build the real detector: such a pipeline cannot be rebuilt elsewhere.
        monkeypatch.setattr("anonymizer.pipeline.Anonymizer.recipe", property(lambda self: None))

    return install
