"""The quality benchmark's identity: dlib's face descriptors (Recognizer), the swap reference (another person's real face through the same region), and re-identification.

Part of ``python -m benchmarks.quality`` (see its docstring).
"""

from __future__ import annotations

import importlib.util
import json
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.quality_data import ReidFace
from benchmarks.quality_metrics import (
    ORIGINAL,
    REID_MARGIN,
    SAME_PERSON,
    SAME_PERSON_MARGIN,
    SWAP,
    SWAP_LIKE,
    face_box_int,
    wilson,
)


def dlib_model_dir() -> Path:
    """The folder of face_recognition_models' .dat files, found without importing the package.

    (Its ``__init__`` imports ``pkg_resources``, which is not installed beside torch.)
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("face_recognition_models is not installed: .venv/bin/pip install -e '.[eval]'")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    for name in ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"):
        if not (folder / name).is_file():
            raise SystemExit(f"{folder / name} is missing: reinstall face_recognition_models")
    return folder


class Recognizer:
    """dlib's 5-point alignment and ResNet descriptor at given face boxes."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise SystemExit("dlib is not installed: .venv/bin/pip install -e '.[eval]'") from None
        folder = dlib_model_dir()
        self.dlib = dlib
        self.predictor = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.model = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))

    def descriptors(self, image: np.ndarray, boxes: list[np.ndarray]) -> np.ndarray:
        """Nx128 descriptors of the faces at ``boxes`` (landmarks found in this image)."""
        if not boxes:
            return np.zeros((0, 128), dtype=np.float32)
        image = np.ascontiguousarray(image)
        shapes = self.dlib.full_object_detections()
        for box in boxes:
            rect = self.dlib.rectangle(*face_box_int(box, image.shape))
            shapes.append(self.predictor(image, rect))
        out = self.model.compute_face_descriptor(image, shapes)
        return np.array([np.asarray(d) for d in out], dtype=np.float32)


class DonorReplacer:
    """The ``swap`` reference: what a perfect generator would score *as this pipeline paints*.

    Each face gets a real face of another person: a training-split crop of a prepared dataset (the held-out
    faces are the validation split, so no person is in both, up to CelebA's and UTKFace's per-photo split),
    chosen among those whose five landmarks are laid out most alike (the pose). It is brought into the crop
    the GAN is given, masked to the replaced area, colour-matched at the seam (:func:`match_seam_colour`) and
    pasted with grain by the pipeline exactly as the GAN's output is, in the GAN's region. Its realism is the
    best a generator can reach with this region and blending; its privacy row is that of an unrelated real
    face.

    In the box frame the donor is aligned on the crop's landmarks with a similarity transform. In the aligned
    frame the prepared crops are already the faces on the template (cut by the same warp as
    ``make_crop(image, face, size, InnerMask)``), as the target's crop is, so the donor is pasted as it is
    and goes back into the photo through the target's inverse warp; faces the GAN declines (not alignable)
    go to the pipeline's fallback here too.
    """

    name = SWAP
    grain = True

    def __init__(self, donors: Path, geometry, seed: int, pool: int, like: bool = False) -> None:
        from anonymizer.align import InnerMask

        self.crop_size, self.region, self.min_face_size = geometry.crop_size, geometry.region, geometry.min_face_size
        self._declines = getattr(geometry, "declines", None)
        self.aligned = isinstance(self.region, InnerMask)
        manifest = json.loads((donors / "manifest.json").read_text())
        frame = manifest.get("frame", "box")
        if frame != ("aligned" if self.aligned else "box"):
            raise SystemExit(
                f"--donors holds {frame}-frame crops; the GAN paints in the {'aligned' if self.aligned else 'box'} frame"
            )
        shards = [donors / shard["file"] for shard in manifest["shards"] if shard["count"]]
        # The training split's faces of every shard, numbered in order; only the drawn ones are read (the whole
        # set is gigabytes at 128 px).
        opened = [np.load(path) for path in shards]  # each member is read when first asked for
        train = [np.flatnonzero(~data["split"]) for data in opened]
        if like:
            # ``swap-like``: UTKFace's faces alone, whose file names say who they look like (sex, race, age); each
            # target the caller names with ``want`` gets a donor among those like it.
            self.name = SWAP_LIKE
            train = [t[demographics(data["files"][t])[:, 0] >= 0] for data, t in zip(opened, train)]
        starts = np.cumsum([0] + [len(t) for t in train])
        pick = np.random.default_rng(seed).permutation(int(starts[-1]))[:pool]
        shard_of = np.searchsorted(starts, pick, side="right") - 1
        images, landmarks, files = [None] * len(pick), [None] * len(pick), [""] * len(pick)
        for k, data in enumerate(opened):
            mine = np.flatnonzero(shard_of == k)
            if not len(mine):
                continue
            rows = train[k][pick[mine] - starts[k]]
            for slot, image, lm, name in zip(mine, data["images"][rows], data["landmarks"][rows], data["files"][rows]):
                images[slot], landmarks[slot], files[slot] = image, lm, str(name)
        self.files = files
        self.people = demographics(files) if like else None
        self.want: np.ndarray | None = None  # (age, sex, race) of the photo being anonymized, for ``swap-like``
        self.images, self.landmarks = np.stack(images), np.stack(landmarks).astype(np.float32)
        if self.images.shape[1] != self.crop_size:
            raise SystemExit(f"--donors holds {self.images.shape[1]} px crops; the GAN's are {self.crop_size} px")
        self.layouts = np.stack([_layout(lm) for lm in self.landmarks])
        self.seed = seed

    def declines(self, face) -> str | None:
        """The GAN's own refusals (an aligned generator's unalignable faces), so both hide the same faces."""
        return self._declines(face) if self._declines is not None else None

    def choose(self, crop) -> int:
        """The donor for a crop: one of the 8 whose landmarks are laid out most like its own (for ``swap-like``,
        among those like the person ``want`` names, when there are any), the same one for the same crop."""
        pool = np.arange(len(self.layouts))
        if self.people is not None and self.want is not None and self.want[0] >= 0:
            alike = pool[like_person(self.people, self.want)]
            pool = alike if len(alike) else pool
        near = pool[np.argsort(np.linalg.norm(self.layouts[pool] - _layout(crop.landmarks), axis=1))[:8]]
        key = zlib.crc32(np.ascontiguousarray(crop.landmarks).tobytes(), self.seed & 0xFFFFFFFF)
        return int(near[key % len(near)])

    def replace(self, crops):
        import cv2

        from anonymizer.gan import match_seam_colour

        out = []
        for crop in crops:
            donor = self.choose(crop)
            if self.aligned:
                warped = self.images[donor].astype(np.float32)  # both faces already on the template
            else:
                matrix = similarity(self.landmarks[donor], crop.landmarks)
                warped = cv2.warpAffine(
                    self.images[donor],
                    matrix,
                    (crop.size, crop.size),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT,
                ).astype(np.float32)
            mask = crop.mask[..., None]
            composite = mask * warped + (1 - mask) * crop.image.astype(np.float32)
            out.append(match_seam_colour(composite, crop))
        return out


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, shift) taking points ``src`` nearest to ``dst``
    in least squares (Umeyama 1991), all points weighing alike."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, sigma, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(sigma) @ d) / max((a**2).sum() / len(src), 1e-12))
    shift = md - scale * rotation @ ms
    return np.hstack([scale * rotation, shift[:, None]]).astype(np.float32)


def _layout(landmarks: np.ndarray) -> np.ndarray:
    """Five landmarks with position and scale taken out: the face's pose, to compare donors by."""
    pts = np.asarray(landmarks, np.float32) - np.asarray(landmarks, np.float32).mean(0)
    return (pts / max(float(np.linalg.norm(pts)), 1e-6)).reshape(-1)


def reidentified(
    queries: np.ndarray,
    gallery: np.ndarray,
    query_ids: Sequence[str],
    gallery_ids: Sequence[str],
    query_keys: Sequence[str] | None = None,
    gallery_keys: Sequence[str] | None = None,
) -> np.ndarray:
    """Whether each query's nearest gallery descriptor is of the same identity (rank-1 re-identification).

    With keys (the photo of each descriptor), the gallery entries of a query's
    own photo are left out for that query. A query with nothing left to compare
    with, or with a non-finite descriptor, is not re-identified.
    """
    if not len(queries) or not len(gallery):
        return np.zeros(len(queries), dtype=bool)
    d = np.linalg.norm(queries[:, None, :] - gallery[None, :, :], axis=2)
    d[~np.isfinite(d)] = np.inf
    if query_keys is not None and gallery_keys is not None:
        d[np.asarray(query_keys)[:, None] == np.asarray(gallery_keys)[None, :]] = np.inf
    nearest = np.argmin(d, axis=1)
    found = np.isfinite(d[np.arange(len(d)), nearest])
    return np.array([f and query_ids[i] == gallery_ids[j] for i, (j, f) in enumerate(zip(nearest, found))], dtype=bool)


def gallery_reid(faces: Sequence[ReidFace], queries: set[str], methods: Sequence[str]) -> dict:
    """Rank-1 re-identification of the query faces, after each method, against every face's original.

    The gallery is the original descriptor of every face in ``faces``; a query
    (a face whose photo is in ``queries``) is compared with all of them but its
    own photo, and counts only when its person has another face in the gallery.
    Row ``original``: the query's own original descriptor (dlib's rank-1 rate,
    the ceiling). ``bar``: solid's share plus one point.

    Each method's row also counts the queries whose anonymized descriptor lies within :data:`SAME_PERSON`
    of their own original (dlib calls them the same person); ``same_person_bar``: the ``swap`` reference's
    share plus one point.
    """
    faces = [f for f in faces if np.isfinite(f.original).all()]
    photos_of: dict[str, int] = {}
    for f in faces:
        photos_of[f.person] = photos_of.get(f.person, 0) + 1
    asked = [f for f in faces if f.rel in queries and f.anonymized]
    used = [f for f in asked if photos_of[f.person] >= 2]
    gallery = np.stack([f.original for f in faces]) if faces else np.zeros((0, 128))
    gallery_ids, gallery_keys = [f.person for f in faces], [f.rel for f in faces]
    rows = {}
    for variant in [ORIGINAL, *methods]:
        q = (
            np.stack([f.original if variant == ORIGINAL else f.anonymized[variant] for f in used])
            if used
            else np.zeros((0, 128))
        )
        hits = reidentified(q, gallery, [f.person for f in used], gallery_ids, [f.rel for f in used], gallery_keys)
        k, n = int(hits.sum()), len(used)
        rows[variant] = {"reidentified": k, "share": k / n if n else None, "ci95": wilson(k, n)}
        if variant != ORIGINAL:
            originals = np.stack([f.original for f in used]) if used else np.zeros((0, 128))
            same = int((np.linalg.norm(q - originals, axis=1) < SAME_PERSON).sum())
            rows[variant].update(
                {"same_person": same, "same_person_share": same / n if n else None, "same_person_ci95": wilson(same, n)}
            )
    solid = rows.get("solid", {}).get("share")
    swap = rows.get(SWAP, {}).get("same_person_share")
    return {
        "queries": len(used),
        "queries_without_other_photo": len(asked) - len(used),
        "query_identities": len({f.person for f in used}),
        "gallery_faces": len(faces),
        "gallery_identities": len(photos_of),
        "chance": 1 / len(photos_of) if photos_of else None,
        "methods": rows,
        "bar": solid + REID_MARGIN if solid is not None else None,
        "same_person_bar": swap + SAME_PERSON_MARGIN if swap is not None else None,
    }


UTK_NAME = re.compile(r"(?:^|/)(\d+)_([01])_([0-4])_[^/]*$")
AGE_BAND = 5  # years: "like" a person is the same sex and race and at most this many years apart


def demographics(photos) -> np.ndarray:
    """(age, sex, race) per photo from UTKFace's file names (``<age>_<sex>_<race>_<date>.jpg``); -1 where a name
    does not follow that pattern (LFW, CelebA)."""
    out = np.full((len(photos), 3), -1, dtype=np.int64)
    for i, photo in enumerate(photos):
        m = UTK_NAME.search(str(photo))
        if m:
            out[i] = [int(m.group(1)), int(m.group(2)), int(m.group(3))]
    return out


def like_person(people: np.ndarray, want: np.ndarray, age_band: int = AGE_BAND) -> np.ndarray:
    """Which rows of ``people`` (age, sex, race) are like ``want``: the same sex and race, the age within the band."""
    return (people[:, 1] == want[1]) & (people[:, 2] == want[2]) & (np.abs(people[:, 0] - want[0]) <= age_band)
