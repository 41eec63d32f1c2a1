"""The quality benchmark's photos: the held-out face photos, the re-identification gallery, the WIDER photos, and the records of each face measured.

Part of ``python -m benchmarks.quality`` (see its docstring).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anonymizer.imageio import IMAGE_EXTENSIONS
from anonymizer.training.dataset import identity_group, split_of
from benchmarks.quality_metrics import FACE_SETS, VAL_FRACTION


@dataclass
class Photo:
    dataset: str  # "heldout" or "wider"
    subset: str  # lfw / celeba / utkface / the WIDER event
    rel: str  # relative to the dataset's root
    path: Path
    group: str  # identity group: the LFW person, else the photo


def validation_rels(faces_dir: Path, name: str) -> list[str]:
    """The photos of one face set (relative to ``faces_dir``, sorted) whose split is ``val``."""
    rels = sorted(
        p.relative_to(faces_dir).as_posix()
        for p in (faces_dir / name).rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    return [r for r in rels if split_of(r, VAL_FRACTION) == "val"]


def person_of(rel: str) -> str:
    """The LFW person of ``lfw/<Person>/<photo>``: the photo's folder."""
    return str(Path(rel).parent)


def reid_photos(
    faces_dir: Path, queries: int, gallery: int, seed: int, prefer: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Query and gallery photos for re-identification, from the held-out LFW photos.

    Queries: up to ``queries`` photos of people with two or more held-out
    photos, those in ``prefer`` (already processed) first, then a seeded sample.
    Gallery: every photo of the queries' people, plus the other held-out LFW
    photos (all of them when ``gallery`` is 0, else a seeded sample up to
    ``gallery`` photos in all). Both sorted.
    """
    if not (faces_dir / "lfw").is_dir():
        return [], []
    val = validation_rels(faces_dir, "lfw")
    photos_of: dict[str, list[str]] = {}
    for r in val:
        photos_of.setdefault(person_of(r), []).append(r)
    candidates = [r for r in val if len(photos_of[person_of(r)]) >= 2]
    preferred = set(prefer)
    first = [r for r in candidates if r in preferred]
    rest = [r for r in candidates if r not in preferred]
    random.Random(f"{seed}:reid").shuffle(rest)
    chosen = sorted((first + rest)[:queries])
    people = {person_of(r) for r in chosen}
    must = [r for r in val if person_of(r) in people]
    others = [r for r in val if person_of(r) not in people]
    if gallery > 0:
        random.Random(f"{seed}:gallery").shuffle(others)
        others = others[: max(0, gallery - len(must))]
    return chosen, sorted(must + others)


def heldout_photos(faces_dir: Path, limit: int, seed: int) -> list[Photo]:
    """A seeded sample of validation photos, even across the sets, interleaved."""
    per_set: dict[str, list[Photo]] = {}
    for name in FACE_SETS:
        if not (faces_dir / name).is_dir():
            continue
        val = validation_rels(faces_dir, name)
        random.Random(f"{seed}:{name}").shuffle(val)
        per_set[name] = [Photo("heldout", name, r, faces_dir / r, identity_group(r)) for r in val]
    if not per_set:
        raise SystemExit(f"no face sets under {faces_dir}")
    names = list(per_set)
    quota = {n: limit // len(names) + (1 if i < limit % len(names) else 0) for i, n in enumerate(names)}
    chosen = {n: per_set[n][: quota[n]] for n in names}
    out: list[Photo] = []
    for k in range(max(len(v) for v in chosen.values())):
        out.extend(chosen[n][k] for n in names if k < len(chosen[n]))
    return out


def wider_photos(wider_dir: Path, limit: int, seed: int) -> list[Photo]:
    root = wider_dir / "images"
    if not root.is_dir():
        raise SystemExit(f"no WIDER photos under {root}")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if limit < len(paths):
        paths = sorted(random.Random(f"{seed}:wider").sample(paths, limit))
    return [
        Photo("wider", p.relative_to(root).parts[0], p.relative_to(root).as_posix(), p, p.relative_to(root).as_posix())
        for p in paths
    ]


@dataclass
class FaceRecord:
    dataset: str
    subset: str
    photo: str
    group: str
    box: list[float]
    size: float
    descriptor: np.ndarray
    identity: str  # who the face is: the LFW person, else this face of this photo
    retained: dict[str, bool] = field(default_factory=dict)
    distance: dict[str, float] = field(default_factory=dict)
    anonymized: dict[str, np.ndarray] = field(default_factory=dict)  # descriptors
    painted: dict[str, bool] = field(default_factory=dict)  # hidden by the method itself, not its fallback


@dataclass
class SampleFace:
    crops: dict[str, np.ndarray]  # "original" and each method: square crop around the face
    distance: float | None
    size: float = 0.0  # the face box's longer side in the photo (px)
    distances: dict[str, float] = field(default_factory=dict)  # each method's dlib distance to the original


@dataclass
class ReidFace:
    """The largest face of a held-out LFW photo: its descriptor, and those after each method (queries only)."""

    rel: str
    person: str
    original: np.ndarray
    anonymized: dict[str, np.ndarray] = field(default_factory=dict)
