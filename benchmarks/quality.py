"""Quality benchmark: do anonymized faces stay detectable, and do they stop being the same person?

Reproduce (from the repository root; the ``eval`` extra brings dlib and its models)::

    .venv/bin/pip install -e '.[eval]'
    .venv/bin/python -m benchmarks.quality --weights weights/generator.safetensors   # full run, writes benchmarks/results/
    .venv/bin/python -m benchmarks.quality --limit 30 --wider-limit 20 --out /tmp/q --samples-dir /tmp/q  # a quick run

Data (read only, ``shared/data``):

* **held-out faces**: photos of ``faces/`` (LFW, CelebA, UTKFace) whose split,
  by :func:`anonymizer.training.dataset.split_of` with the training run's
  validation fraction 0.1, is ``val``: the generator never trained on them (LFW
  is split by person, so nobody in these LFW photos was trained on either; the
  same celebrity may still appear in a CelebA training photo). A seeded sample,
  ``--limit`` photos in all, split evenly across the three sets.
* **WIDER**: the 400 in-the-wild photos of ``wider/images`` (``--wider-limit``).

Per photo, the faces are detected once in the original with the default
detector (``make_detector("union")``, default threshold and minimum size, via
``Anonymizer.detect``) and the same faces are handed to every method:
``Anonymizer(method=m).anonymize(image, faces=faces)``. Every detected face is
anonymized (small ones by the pipeline's fallback, as in normal use), but only
faces whose box has a longer side of at least ``--min-size`` (32) px are scored:

* **retention**: the share of those faces that the same detector still finds
  in the anonymized photo: a detection there matched one-to-one (greedily, by
  IoU) to the original face box at IoU >= 0.5. High is good for ``gan`` (the
  photo still shows a face where there was one); blur/pixelate/solid are
  expected to lose most faces.
* **identity**: dlib's ResNet face-recognition model (``dlib_face_recognition_resnet_model_v1``,
  128-d descriptors, from ``face_recognition_models``). For each face, dlib's
  5-point shape predictor is run on the face box in each image (original and
  anonymized, separately, as anyone trying to recognise the face would), and the
  descriptor is computed from the chip it aligns. Reported: the share of
  anonymized faces within Euclidean distance 0.6 of their original (dlib's
  same-person threshold: "same person" is a leak; low is good) and the mean
  distance.

Reference rows, so the numbers can be read:

* ``jpeg`` (sanity): the original re-encoded as JPEG at quality 50 (the photos are
  stored at 75, where a re-encode would change next to nothing). Not
  anonymized at all: retention and same-person share should be ~100%.
* ``other person`` (floor): the original face against the original face of a
  different photo (a derangement of the scored faces; LFW photos of the same
  person excluded). The share within 0.6 is dlib's false-match rate on these
  faces: what a perfect anonymizer that draws an unrelated face would score.
* ``swap`` (with ``--donors``, a prepared dataset in the GAN's frame and
  resolution): a real training-split face of another person, composited
  through the GAN's own region and paste path (:class:`DonorReplacer`): in the
  aligned frame, the donor on the template pasted through the target's aligned
  crop and warped back. What a perfect generator would score.

Realism and privacy, on the held-out faces (realism also on those of
>= ``--realism-min-size`` px alone, ``realism_large`` in the JSON: the bars'):

* **classifier AUC** (a two-sample test): a logistic regression on standardised
  dlib descriptors learns to tell the original faces from the anonymized ones,
  per method; ``--folds`` (5) cross-validation folds grouped by identity group
  (the LFW person, else the photo), so a face and its anonymized version are
  always in the same fold; the mean ROC AUC of the folds, over ``--cv-repeats``
  (5) draws of the folds, is reported (0.5: indistinguishable). Reference row
  ``other person``: the originals of one half of the groups against those of
  the other half, split within each face set (the floor, ~0.5).
* **Fréchet distance** between Gaussians fitted to the descriptors (as FID
  does). The groups are split into two halves, within each face set
  (``--frechet-splits`` seeded splits, averaged): a method scores the mean of d(anonymized A, original B) and
  d(anonymized B, original A), the floor is d(original A, original B), the same
  sample sizes, so the ratio is like for like. ``all_vs_all`` in the JSON is
  d(all anonymized, all originals): twice the samples per side, so less
  small-sample bias than the floor, and not comparable to it.
* **re-identification against a gallery** (rank-1): held-out LFW photos of
  people with two or more photos (``--reid-queries``, the sample's LFW photos
  first) are anonymized; the descriptor of the anonymized face (the photo's
  largest) is compared with a gallery of the largest face of every held-out LFW
  photo (``--reid-gallery`` caps it), its own photo left out. A hit is a
  nearest gallery face of the same person; chance is 1 / gallery identities.

dlib always gives a descriptor for a box (its landmarks are fitted inside the
box the detector found), so no face lacks one; a pair with a non-finite
descriptor would be dropped from both sides (``dropped`` in the JSON). Gallery
photos where the detector finds no face of ``--min-size`` are left out, and a
query counts only when its person keeps another photo in the gallery.

The markdown opens with the issue's "done when" bars for ``gan``, each passed or
failed. Realism, on the held-out faces whose box is at least ``--realism-min-size``
(100) px, at least 500 of them (the markdown says whether the count got there):
classifier AUC <= 0.75 and Fréchet <= 2x the floor. WIDER retention >= 97 % at
>= 64 px. Privacy, on the held-out LFW queries: rank-1 re-identification <=
solid's + 1 point, and the share dlib calls the same person as its own original
(distance < 0.6) <= the ``swap`` reference's share + 1 point. ``--realism-faces N``
stops the held-out sample (in its seeded order, so the same photos for any
weights) once N faces of that size are scored; ``--limit`` stays the cap.

The GAN draws its latent codes from ``--gan-seed`` (default: ``--seed``), so a run
is deterministic for given weights; another ``--gan-seed`` on the same photos
shows how much of a GAN figure is the draw of its faces rather than the weights.
Writes ``quality.json``, ``quality.md`` and a
per-face ``quality.csv`` to ``--out``, and ``samples_gan.png`` (32 held-out faces,
original | gan, the distance under each pair), ``samples_gan_large.png``
(``--large-samples`` held-out faces whose box is >= 128 px, at full size, original
| gan) and ``samples_methods.png`` (a few faces under every method) to
``--samples-dir``.
"""

from __future__ import annotations

import argparse
import copy
import csv
import importlib.util
import io
import json
import math
import os
import platform
import random
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from anonymizer.models.io import read_info

from anonymizer.detection import box_iou
from anonymizer.imageio import IMAGE_EXTENSIONS, ImageReadError, read_image
from anonymizer.pipeline import Anonymizer
from anonymizer.training.dataset import identity_group, split_of
from benchmarks.common import ROOT

DATA = ROOT.parent / "shared" / "data"
FACE_SETS = ("lfw", "celeba", "utkface")
METHODS = ("gan", "blur", "pixelate", "solid")
SWAP = "swap"  # reference: another person's real face, composited as the GAN's are (needs --donors)
SANITY = "jpeg"  # the re-encoded original: not anonymized
OTHER = "other person"  # original vs the original face of another photo
# Face sizes (longer side of the box, px) reported apart: dlib's descriptor, and what the
# context around a face gives away, depend on the size.
SIZE_BANDS = ((32, 64), (64, 128), (128, None))
AT_LEAST = (64,)  # also reported as one group: faces of at least this size
SAME_PERSON = 0.6  # dlib's threshold for "same person"
JPEG_QUALITY = 50  # WIDER, CelebA and LFW are stored at libjpeg quality 75; re-encoding at 75 changes ~nothing
VAL_FRACTION = 0.1  # the training run's PrepareOptions.val_fraction
ORIGINAL = "original"  # re-identification of the unanonymized face: dlib's own rank-1 rate
LARGE_MIN_SIZE = 128  # faces on samples_gan_large.png
LARGE_GROW = 1.6  # the crop around a face on samples_gan_large.png, in face sides
# The bars for the GAN.
REALISM_MIN_SIZE = 100.0  # px: realism is judged on held-out faces at least this large...
REALISM_FACES = 500  # ...and on at least this many of them
MAX_AUC = 0.75
MAX_FRECHET_RATIO = 2.0
MIN_RETENTION = 0.97  # WIDER faces of >= 64 px
REID_MARGIN = 0.01  # re-identified at most solid's share + 1 point
SAME_PERSON_MARGIN = 0.01  # called the same person at most as often as the swap reference + 1 point


# ---------------------------------------------------------------- metric helpers


def size_band(size: float) -> str | None:
    """The band a face of this size falls in, named like ``64-127 px``; None below the first."""
    for lo, hi in SIZE_BANDS:
        if size >= lo and (hi is None or size < hi):
            return f"{lo}-{hi - 1} px" if hi is not None else f">= {lo} px"
    return None


def match_faces(original: np.ndarray, found: np.ndarray, min_iou: float = 0.5) -> np.ndarray:
    """For each original box, whether a found box matches it one-to-one at IoU >= ``min_iou``.

    Pairs are taken greedily from the highest IoU down, so one detection never
    accounts for two faces.
    """
    original = np.asarray(original, dtype=np.float32).reshape(-1, 4)
    found = np.asarray(found, dtype=np.float32).reshape(-1, 4)
    matched = np.zeros(len(original), dtype=bool)
    if not len(original) or not len(found):
        return matched
    iou = box_iou(original, found)
    used = np.zeros(len(found), dtype=bool)
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(found))
        if iou[i, j] < min_iou:
            break
        if not matched[i] and not used[j]:
            matched[i] = used[j] = True
    return matched


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a share k/n."""
    if n == 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def derangement(groups: list[str], seed: int) -> list[int]:
    """A permutation pairing each item with one of another group (its photo or person), when possible."""
    n = len(groups)
    if n < 2:
        return list(range(n))
    rng = random.Random(seed)
    order = list(range(n))
    for _ in range(100):
        rng.shuffle(order)
        if all(groups[i] != groups[order[i]] for i in range(n)):
            return order
    # Fall back to a shift of a shuffled order; a clash left here is rare and tiny in effect.
    base = list(range(n))
    rng.shuffle(base)
    perm = [0] * n
    for k in range(n):
        perm[base[k]] = base[(k + 1) % n]
    return perm


def face_box_int(box: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    return (
        int(max(0, math.floor(x1))),
        int(max(0, math.floor(y1))),
        int(min(w - 1, math.ceil(x2))),
        int(min(h - 1, math.ceil(y2))),
    )


def jpeg_roundtrip(image: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def grouped_folds(
    groups: Sequence[str], n_folds: int, seed: int = 0, labels: Sequence[int] | None = None
) -> np.ndarray:
    """The fold (0 .. n_folds-1) of each item; every item of a group lands in the same fold.

    Groups are shuffled (seeded) and dealt, largest first, to the fold holding
    the fewest items so far, separately for each set of labels a group holds, so
    every fold gets a share of each kind of group (both classes when groups hold
    one label each).
    """
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(str(g), []).append(i)
    strata: dict[tuple, list[str]] = {}
    for g, idx in members.items():
        key = tuple(sorted({int(labels[i]) for i in idx})) if labels is not None else ()
        strata.setdefault(key, []).append(g)
    rng = random.Random(seed)
    fold = np.zeros(len(groups), dtype=int)
    for key in sorted(strata):
        names = strata[key]
        rng.shuffle(names)
        names.sort(key=lambda g: -len(members[g]))  # stable: shuffled among groups of one size
        load = [0] * n_folds
        for g in names:
            k = min(range(n_folds), key=lambda f: (load[f], f))
            fold[members[g]] = k
            load[k] += len(members[g])
    return fold


def split_halves(groups: Sequence[str], seed: int = 0, strata: Sequence[str] | None = None) -> np.ndarray:
    """A seeded split of the items into two halves by group: True for half A; items of a group stay together.

    With ``strata`` (one per item, e.g. its face set), each stratum is split in
    half on its own, so the halves differ in who is in them and not in where
    the faces come from.
    """
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(str(g), []).append(i)
    by_stratum: dict[str, list[str]] = {}
    for g, idx in members.items():
        by_stratum.setdefault(str(strata[idx[0]]) if strata is not None else "", []).append(g)
    rng = random.Random(seed)
    half_a = np.zeros(len(groups), dtype=bool)
    for key in sorted(by_stratum):
        names = by_stratum[key]
        rng.shuffle(names)
        names.sort(key=lambda g: -len(members[g]))
        count = [0, 0]
        for g in names:
            side = 0 if count[0] <= count[1] else 1
            half_a[members[g]] = side == 0
            count[side] += len(members[g])
    return half_a


def finite_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows where both descriptors are finite (a face without one is dropped from both sides)."""
    return np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)


def classifier_auc(
    x: np.ndarray, labels: Sequence[int], groups: Sequence[str], folds: int = 5, seed: int = 0, repeats: int = 1
) -> dict:
    """Cross-validated ROC AUC of a logistic regression (standardised inputs) telling label 1 from label 0.

    Folds are grouped (:func:`grouped_folds`), so no group is both trained on
    and tested; the AUC is the mean over the folds whose test part holds both
    labels, over ``repeats`` seeded draws of the folds. 0.5: the two sets
    cannot be told apart.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    aucs = []
    for r in range(repeats):
        fold = grouped_folds(groups, folds, seed + r, y)
        for k in range(folds):
            test = fold == k
            if len(set(y[test])) < 2 or len(set(y[~test])) < 2:
                continue
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            model.fit(x[~test], y[~test])
            aucs.append(float(roc_auc_score(y[test], model.decision_function(x[test]))))
    return {
        "auc": float(np.mean(aucs)) if aucs else None,
        "fold_aucs": [round(a, 4) for a in aucs],
        "samples": len(y),
        "groups": len(set(map(str, groups))),
        "repeats": repeats,
    }


def realism_auc(
    originals: np.ndarray,
    anonymized: np.ndarray,
    groups: Sequence[str],
    folds: int = 5,
    seed: int = 0,
    repeats: int = 1,
) -> dict:
    """:func:`classifier_auc` of original faces (0) against their anonymized versions (1), pair by pair."""
    keep = finite_pairs(originals, anonymized)
    kept = [g for g, k in zip(groups, keep) if k]
    x = np.concatenate([originals[keep], anonymized[keep]])
    labels = [0] * len(kept) + [1] * len(kept)
    result = classifier_auc(x, labels, kept + kept, folds, seed, repeats)
    return {**result, "pairs": len(kept), "dropped": int((~keep).sum())}


def halves_auc(
    originals: np.ndarray,
    groups: Sequence[str],
    folds: int = 5,
    seed: int = 0,
    repeats: int = 1,
    strata: Sequence[str] | None = None,
) -> dict:
    """The floor of :func:`realism_auc`: original faces of one half of the groups against the other half's.

    Each of the ``repeats`` draws takes its own split into halves (by
    :func:`split_halves`, within ``strata``) and its own folds.
    """
    keep = np.isfinite(originals).all(axis=1)
    kept = [g for g, k in zip(groups, keep) if k]
    kept_strata = [t for t, k in zip(strata, keep) if k] if strata is not None else None
    aucs: list[float] = []
    for r in range(repeats):
        labels = split_halves(kept, seed + r, kept_strata).astype(int)
        aucs += classifier_auc(originals[keep], labels, kept, folds, seed + r)["fold_aucs"]
    return {
        "auc": float(np.mean(aucs)) if aucs else None,
        "fold_aucs": aucs,
        "samples": len(kept),
        "groups": len(set(kept)),
        "repeats": repeats,
        "pairs": None,
        "dropped": int((~keep).sum()),
    }


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of vectors (rows), as FID computes it."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs two or more vectors on each side")
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrt(A B) from the symmetric sqrt(A) B sqrt(A), which has the same eigenvalues.
    w, v = np.linalg.eigh(cov_a)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root @ cov_b @ root
    tr_mean = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    d = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_mean
    return float(max(0.0, d))


def frechet_against_halves(
    originals: np.ndarray,
    anonymized: np.ndarray,
    groups: Sequence[str],
    splits: int = 10,
    seed: int = 0,
    strata: Sequence[str] | None = None,
) -> dict:
    """Fréchet distance of anonymized faces to original faces, and its floor, like for like.

    Over ``splits`` seeded splits of the groups into halves A and B: the method
    scores the mean of d(anonymized A, original B) and d(anonymized B, original
    A); the floor is d(original A, original B), what faces as real as the
    originals but of other people would score. The halves are drawn by
    :func:`split_halves` (within ``strata``). ``all_vs_all`` is d(anonymized,
    original) on every face at once.
    """
    keep = finite_pairs(originals, anonymized)
    orig, anon = originals[keep], anonymized[keep]
    kept = [g for g, k in zip(groups, keep) if k]
    kept_strata = [t for t, k in zip(strata, keep) if k] if strata is not None else None
    dist, floor = [], []
    for k in range(splits):
        a = split_halves(kept, seed + k, kept_strata)
        if min(a.sum(), (~a).sum()) < 2:
            continue
        floor.append(frechet_distance(orig[a], orig[~a]))
        dist.append((frechet_distance(anon[a], orig[~a]) + frechet_distance(anon[~a], orig[a])) / 2)
    d = float(np.mean(dist)) if dist else None
    f = float(np.mean(floor)) if floor else None
    return {
        "distance": d,
        "floor": f,
        "ratio": d / f if d is not None and f else None,
        "all_vs_all": frechet_distance(anon, orig) if len(kept) >= 2 else None,
        "pairs": len(kept),
        "dropped": int((~keep).sum()),
        "splits": len(dist),
    }


# ---------------------------------------------------------------- dlib


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


# ---------------------------------------------------------------- data


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

    def __init__(self, donors: Path, geometry, seed: int, pool: int) -> None:
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
        train = [np.flatnonzero(~np.load(path)["split"]) for path in shards]
        starts = np.cumsum([0] + [len(t) for t in train])
        pick = np.random.default_rng(seed).permutation(int(starts[-1]))[:pool]
        shard_of = np.searchsorted(starts, pick, side="right") - 1
        images, landmarks = [None] * len(pick), [None] * len(pick)
        for k, path in enumerate(shards):
            mine = np.flatnonzero(shard_of == k)
            if not len(mine):
                continue
            data = np.load(path)
            rows = train[k][pick[mine] - starts[k]]
            for slot, image, lm in zip(mine, data["images"][rows], data["landmarks"][rows]):
                images[slot], landmarks[slot] = image, lm
        self.images, self.landmarks = np.stack(images), np.stack(landmarks).astype(np.float32)
        if self.images.shape[1] != self.crop_size:
            raise SystemExit(f"--donors holds {self.images.shape[1]} px crops; the GAN's are {self.crop_size} px")
        self.layouts = np.stack([_layout(lm) for lm in self.landmarks])
        self.seed = seed

    def declines(self, face) -> str | None:
        """The GAN's own refusals (an aligned generator's unalignable faces), so both hide the same faces."""
        return self._declines(face) if self._declines is not None else None

    def replace(self, crops):
        import cv2

        from anonymizer.gan import match_seam_colour

        out = []
        for crop in crops:
            near = np.argsort(np.linalg.norm(self.layouts - _layout(crop.landmarks), axis=1))[:8]
            key = zlib.crc32(np.ascontiguousarray(crop.landmarks).tobytes(), self.seed & 0xFFFFFFFF)
            donor = int(near[key % len(near)])
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


# ---------------------------------------------------------------- the run


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


def sample_crop(image: np.ndarray, box: np.ndarray, tile: int, grow: float = 2.0) -> np.ndarray:
    """The face's box grown ``grow`` times into a square, resized to ``tile``; beyond the photo is white."""
    import cv2

    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * grow
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    x0, y0, s = int(round(cx - side / 2)), int(round(cy - side / 2)), max(2, int(round(side)))
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + s - w, y0 + s - h)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255)) if pad else image
    part = np.ascontiguousarray(padded[y0 + pad : y0 + pad + s, x0 + pad : x0 + pad + s])
    interp = cv2.INTER_AREA if s > tile else cv2.INTER_CUBIC
    return cv2.resize(part, (tile, tile), interpolation=interp)


def full_size_crop(image: np.ndarray, box: np.ndarray, grow: float = LARGE_GROW) -> np.ndarray:
    """The face's box grown ``grow`` times about its centre into a square, cut to the photo, not resized."""
    x1, y1, x2, y2 = (float(v) for v in box)
    half = max(x2 - x1, y2 - y1) * grow / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h, w = image.shape[:2]
    left, top = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
    right, bottom = min(w, int(round(cx + half))), min(h, int(round(cy + half)))
    return np.ascontiguousarray(image[top:bottom, left:right])


def run(args: argparse.Namespace) -> dict:
    import torch
    from tqdm import tqdm

    if args.threads:
        torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in (*METHODS, SWAP):
            raise SystemExit(f"unknown method {m!r}: use {', '.join((*METHODS, SWAP))}")
    if SWAP in methods and not args.donors:
        raise SystemExit(f"{SWAP} needs --donors: a folder of prepared crops (anonymize-train prepare)")

    photos = heldout_photos(Path(args.faces_dir), args.limit, args.seed) if args.limit > 0 else []
    photos += wider_photos(Path(args.wider_dir), args.wider_limit, args.seed) if args.wider_limit > 0 else []
    if not photos:
        raise SystemExit("nothing to measure: --limit and --wider-limit are both 0")

    recognizer = Recognizer()
    base = Anonymizer(method="blur", device=args.device)
    detector = base.detector
    anonymizers: dict[str, Anonymizer] = {}
    weights_info: dict | None = None
    for m in methods:
        if m == SWAP:
            from anonymizer.gan import GanReplacer

            geometry = GanReplacer(args.weights, device="cpu")  # the GAN's crop size, region and face-size floor
            swap = DonorReplacer(Path(args.donors), geometry, args.seed, args.donor_pool)
            anonymizers[m] = Anonymizer(replacer=swap, detector=detector)
            continue
        options = {"weights": args.weights, "seed": gan_seed(args)} if m == "gan" else {}
        anonymizers[m] = Anonymizer(method=m, detector=detector, device=args.device, **options)
        if m == "gan":
            rep = anonymizers[m].replacer
            info = read_info(rep.weights)
            weights_info = {
                "path": str(rep.weights),
                "sha256": info.get("sha256"),
                "config": info.get("config"),
                "training": info.get("training"),
            }
    variants = [*methods, SANITY]

    records: list[FaceRecord] = []
    samples: list[SampleFace] = []
    large: list[SampleFace] = []
    lfw_seen: dict[str, ReidFace] = {}  # the largest face of each held-out LFW photo measured, for re-identification
    realism_faces = 0  # held-out faces of >= --realism-min-size scored so far
    photo_stats = {
        "heldout": {"photos": 0, "unreadable": 0, "faces_detected": 0},
        "wider": {"photos": 0, "unreadable": 0, "faces_detected": 0},
    }
    started = time.perf_counter()
    wider_started = None  # the held-out photos come first, then WIDER's
    bar = tqdm(photos, unit="photo", desc="quality", disable=args.quiet)
    for photo in bar:
        if photo.dataset == "wider" and wider_started is None:
            wider_started = time.perf_counter()
        if photo.dataset == "heldout" and 0 < args.realism_faces <= realism_faces:
            continue  # enough faces for the realism bars: the rest of the held-out sample is left out
        stats = photo_stats[photo.dataset]
        stats["photos"] += 1
        try:
            image = read_image(photo.path).rgb
        except ImageReadError as exc:
            stats["unreadable"] += 1
            tqdm.write(f"skipped {photo.rel}: {exc}")
            continue
        faces = base.detect(image)
        stats["faces_detected"] += len(faces)
        scored = [i for i, f in enumerate(faces) if f.size >= args.min_size]
        if not scored:
            continue
        boxes = [faces[i].box for i in scored]
        originals = recognizer.descriptors(image, boxes)
        recs = [
            FaceRecord(
                photo.dataset,
                photo.subset,
                photo.rel,
                photo.group,
                [round(float(v), 1) for v in faces[i].box],
                faces[i].size,
                d,
                photo.group if photo.subset == "lfw" else f"{photo.rel}#{i}",
            )
            for i, d in zip(scored, originals)
        ]
        # The photo's largest scored face goes to the sample sheets (held-out photos only).
        want_sample = photo.dataset == "heldout" and len(samples) < args.samples
        big = int(np.argmax([faces[i].size for i in scored])) if want_sample else -1
        sample = SampleFace({"original": sample_crop(image, boxes[big], args.tile)}, None) if want_sample else None
        largest = int(np.argmax([faces[i].size for i in scored]))
        want_large = (
            photo.dataset == "heldout"
            and ("gan" in methods or SWAP in methods)
            and len(large) < args.large_samples
            and faces[scored[largest]].size >= LARGE_MIN_SIZE
        )
        big_sample = (
            SampleFace({"original": full_size_crop(image, boxes[largest])}, None, faces[scored[largest]].size)
            if want_large
            else None
        )
        for variant in variants:
            if variant == SANITY:
                out = jpeg_roundtrip(image, args.jpeg_quality)
            else:
                given = copy.deepcopy(faces)  # the pipeline fills in .method
                out = anonymizers[variant].anonymize(image, faces=given).image
            found = base.detect(out)
            retained = match_faces(
                np.stack(boxes), np.stack([f.box for f in found]) if found else np.zeros((0, 4)), args.iou
            )
            after = recognizer.descriptors(out, boxes)
            dists = np.linalg.norm(after - originals, axis=1)
            for rec, r, d, a in zip(recs, retained, dists, after):
                rec.retained[variant] = bool(r)
                rec.distance[variant] = float(d)
                rec.anonymized[variant] = a
            if sample is not None and variant != SANITY:
                sample.crops[variant] = sample_crop(out, boxes[big], args.tile)
                if variant == "gan":
                    sample.distance = float(dists[big])
            if big_sample is not None and variant in ("gan", SWAP):
                big_sample.crops[variant] = full_size_crop(out, boxes[largest])
                big_sample.distances[variant] = float(dists[largest])
        if sample is not None:
            samples.append(sample)
        if big_sample is not None:
            large.append(big_sample)
        if photo.dataset == "heldout" and photo.subset == "lfw":
            rec = recs[largest]
            lfw_seen[photo.rel] = ReidFace(
                photo.rel, person_of(photo.rel), rec.descriptor, {m: rec.anonymized[m] for m in methods}
            )
        if photo.dataset == "heldout":
            realism_faces += sum(r.size >= args.realism_min_size for r in recs)
        records.extend(recs)
        bar.set_postfix(faces=len(records))
    bar.close()
    loop_done = time.perf_counter()
    wider_started = wider_started or loop_done

    # Re-identification: the LFW photos measured above are the first queries; the rest of the gallery and of
    # the queries is measured here (the largest face of each photo).
    lfw_measured = sorted({r.photo for r in records if r.dataset == "heldout" and r.subset == "lfw"})
    reid_queries, reid_gallery = (
        reid_photos(Path(args.faces_dir), args.reid_queries, args.reid_gallery, args.seed, lfw_measured)
        if args.reid_queries > 0
        else ([], [])
    )
    query_set, gallery_set = set(reid_queries), set(reid_gallery)
    if reid_queries and not args.quiet:
        print(
            f"re-identification: {len(reid_queries)} query photos of {len({person_of(r) for r in reid_queries})} people, "
            f"gallery of {len(reid_gallery)} photos of {len({person_of(r) for r in reid_gallery})} people",
            file=sys.stderr,
        )
    reid: dict[str, ReidFace] = {}
    for rel, entry in lfw_seen.items():
        if rel in gallery_set:
            reid[rel] = entry if rel in query_set else ReidFace(entry.rel, entry.person, entry.original)
    todo = [r for r in reid_gallery if r not in reid]
    for rel in tqdm(todo, unit="photo", desc="re-id gallery", disable=args.quiet):
        try:
            image = read_image(Path(args.faces_dir) / rel).rgb
        except ImageReadError as exc:
            tqdm.write(f"skipped {rel}: {exc}")
            continue
        faces = base.detect(image)
        if not faces or max(f.size for f in faces) < args.min_size:
            continue
        box = faces[int(np.argmax([f.size for f in faces]))].box
        entry = ReidFace(rel, person_of(rel), recognizer.descriptors(image, [box])[0])
        if rel in query_set:
            for m in methods:
                out = anonymizers[m].anonymize(image, faces=copy.deepcopy(faces)).image
                entry.anonymized[m] = recognizer.descriptors(out, [box])[0]
        reid[rel] = entry
    elapsed = time.perf_counter() - started
    measured = photo_stats["heldout"]["photos"] + photo_stats["wider"]["photos"] + len(todo)
    phases = {
        "heldout_seconds": round(wider_started - started, 1),
        "wider_seconds": round(loop_done - wider_started, 1),
        "reid_gallery_seconds": round(elapsed - (loop_done - started), 1),
    }

    summary = summarize(records, variants, args.seed)
    held = [r for r in records if r.dataset == "heldout"]
    realism = realism_summary(held, variants, args.folds, args.cv_repeats, args.frechet_splits, args.seed)
    large_faces = [r for r in held if r.size >= args.realism_min_size]
    realism_large = {
        **realism_summary(large_faces, variants, args.folds, args.cv_repeats, args.frechet_splits, args.seed),
        "min_size": args.realism_min_size,
        "faces_wanted": REALISM_FACES,
    }
    phases["realism_seconds"] = round(time.perf_counter() - started - elapsed, 1)
    reid_result = gallery_reid([reid[r] for r in reid_gallery if r in reid], query_set, methods)
    reid_result.update(
        {
            "queries_asked": len(reid_queries),
            "gallery_photos_asked": len(reid_gallery),
            "gallery_photos_without_face": len(reid_gallery) - len(reid),
        }
    )
    verdicts = done_when(summary, realism_large, reid_result)
    result = {
        "version": 1,
        "settings": {
            "detector": "union (default threshold and minimum size)",
            "min_face_size": args.min_size,
            "retention_iou": args.iou,
            "same_person_threshold": SAME_PERSON,
            "jpeg_quality": args.jpeg_quality,
            "val_fraction": VAL_FRACTION,
            "seed": args.seed,
            "gan_seed": gan_seed(args),
            "methods": methods,
            "heldout_limit": args.limit,
            "realism_min_size": args.realism_min_size,
            "realism_faces": args.realism_faces,
            "wider_limit": args.wider_limit,
            "folds": args.folds,
            "cv_repeats": args.cv_repeats,
            "frechet_splits": args.frechet_splits,
            "reid_queries": args.reid_queries,
            "reid_gallery": args.reid_gallery,
        },
        "weights": weights_info,
        "photos": photo_stats,
        "results": summary,
        "realism": realism,
        "realism_large": realism_large,
        "reid_gallery": reid_result,
        "done_when": verdicts,
        "time": {
            "seconds": round(elapsed, 1),
            "photos": measured,
            "seconds_per_photo": round(elapsed / max(1, measured), 2),
            # where the time went; realism_seconds (the classifiers, after the photos) is not part of seconds
            **phases,
            "machine": f"{platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}, {torch.get_num_threads()} threads",
        },
        # A caller that builds the arguments itself (benchmarks/curve.py) passes its own command line.
        "command": getattr(args, "command", None)
        or " ".join([".venv/bin/python -m benchmarks.quality", *sys.argv[1:]]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "quality.md").write_text(markdown(result))
    write_csv(out / "quality.csv", records, variants)
    if samples and args.samples_dir:
        sdir = Path(args.samples_dir)
        sdir.mkdir(parents=True, exist_ok=True)
        if "gan" in methods:
            pair_sheet(samples, "gan", sdir / "samples_gan.png", args.tile)
        methods_sheet(samples[: args.method_samples], methods, sdir / "samples_methods.png", args.tile)
    if large and args.samples_dir:
        for method in ("gan", SWAP):
            if method in methods:
                full_size_sheet(large, method, Path(args.samples_dir) / f"samples_{method}_large.png")
    return result


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


def realism_summary(
    records: Sequence[FaceRecord], variants: Sequence[str], folds: int, repeats: int, splits: int, seed: int
) -> dict:
    """Classifier AUC and Fréchet distance of each variant's descriptors against the originals, with their floors.

    The floors' halves are split within each face set (LFW, CelebA, UTKFace).
    """
    out: dict = {
        "faces": len(records),
        "groups": len({r.group for r in records}),
        "folds": folds,
        "cv_repeats": repeats,
        "frechet_splits": splits,
        "classifier_auc": {},
        "frechet": {},
    }
    if len(records) < 4:
        return out
    groups = [r.group for r in records]
    strata = [r.subset for r in records]
    originals = np.stack([r.descriptor for r in records])
    for v in variants:
        anonymized = np.stack([r.anonymized[v] for r in records])
        out["classifier_auc"][v] = realism_auc(originals, anonymized, groups, folds, seed, repeats)
        out["frechet"][v] = frechet_against_halves(originals, anonymized, groups, splits, seed, strata)
    out["classifier_auc"][OTHER] = halves_auc(originals, groups, folds, seed, repeats, strata)
    floor = frechet_against_halves(originals, originals, groups, splits, seed, strata)["floor"]
    out["frechet"][OTHER] = {"distance": floor, "floor": floor, "ratio": 1.0 if floor else None}
    return out


def done_when(rows: list[dict], realism: dict, reid: dict) -> list[dict]:
    """The issue's bars for ``gan``, each with the measured value and pass (None: not measured).

    ``realism`` is :func:`realism_summary` of the held-out faces of at least ``realism["min_size"]`` px; its
    two bars also say how many faces they stand on (``faces``) and whether that reached
    :data:`REALISM_FACES` (``enough``).
    """
    by = {(r["dataset"], r["method"]): r for r in rows}
    methods = reid.get("methods", {})
    size = realism.get("min_size", REALISM_MIN_SIZE)
    faces = realism.get("faces", 0)
    counted = {"faces": faces, "enough": faces >= REALISM_FACES}

    def check(criterion: str, value: float | None, bar: float | None, at_most: bool, unit: str = "share") -> dict:
        ok = None if value is None or bar is None else (value <= bar + 1e-9 if at_most else value >= bar - 1e-9)
        return {"criterion": criterion, "value": value, "bar": bar, "at_most": at_most, "unit": unit, "pass": ok}

    return [
        {
            **check(
                f"classifier AUC, gan faces vs originals (held-out, >= {size:g} px)",
                realism.get("classifier_auc", {}).get("gan", {}).get("auc"),
                MAX_AUC,
                at_most=True,
                unit="auc",
            ),
            **counted,
        },
        {
            **check(
                f"Fréchet distance / floor (held-out, >= {size:g} px)",
                realism.get("frechet", {}).get("gan", {}).get("ratio"),
                MAX_FRECHET_RATIO,
                at_most=True,
                unit="ratio",
            ),
            **counted,
        },
        check(
            "WIDER retention, faces >= 64 px",
            by.get(("wider@>= 64 px", "gan"), {}).get("retention"),
            MIN_RETENTION,
            at_most=False,
        ),
        {
            **check(
                "re-identified in the LFW gallery (held-out)",
                methods.get("gan", {}).get("share"),
                reid.get("bar"),
                at_most=True,
            ),
            "solid": methods.get("solid", {}).get("share"),
        },
        {
            **check(
                "same person by dlib, LFW queries (held-out)",
                methods.get("gan", {}).get("same_person_share"),
                reid.get("same_person_bar"),
                at_most=True,
            ),
            "swap": methods.get(SWAP, {}).get("same_person_share"),
        },
    ]


def _score(records: list[FaceRecord], variant: str) -> dict:
    n = len(records)
    ids = [r.identity for r in records]
    gallery = np.stack([r.descriptor for r in records]) if n else np.zeros((0, 128))
    queries = np.stack([r.anonymized[variant] for r in records]) if n else np.zeros((0, 128))
    reid = int(reidentified(queries, gallery, ids, ids).sum())
    retained = sum(r.retained[variant] for r in records)
    same = sum(r.distance[variant] < SAME_PERSON for r in records)
    # Same person here but not under a solid box over the same region: what the
    # method's own pixels give away, beyond the hair, ears and background around them.
    beyond = (
        sum(r.distance[variant] < SAME_PERSON <= r.distance["solid"] for r in records)
        if all("solid" in r.distance for r in records)
        else None
    )
    dists = [r.distance[variant] for r in records]
    return {
        "faces": n,
        "retained": retained,
        "retention": retained / n if n else None,
        "retention_ci95": wilson(retained, n),
        "same_person": same,
        "same_person_share": same / n if n else None,
        "same_person_ci95": wilson(same, n),
        "same_person_beyond_solid": beyond,
        "same_person_beyond_solid_share": beyond / n if n and beyond is not None else None,
        "same_person_beyond_solid_ci95": wilson(beyond, n) if beyond is not None else None,
        "mean_distance": float(np.mean(dists)) if n else None,
        "median_distance": float(np.median(dists)) if n else None,
        "reidentified": reid,
        "reidentified_share": reid / n if n else None,
        "reidentified_ci95": wilson(reid, n),
        "gallery": n,
    }


def _other_person(records: list[FaceRecord], seed: int) -> dict:
    n = len(records)
    perm = derangement([r.group for r in records], seed)
    desc = np.stack([r.descriptor for r in records]) if n else np.zeros((0, 128))
    dists = np.linalg.norm(desc - desc[perm], axis=1) if n >= 2 else np.zeros(0)
    same = int((dists < SAME_PERSON).sum())
    m = len(dists)
    return {
        "faces": m,
        "retained": None,
        "retention": None,
        "retention_ci95": None,
        "same_person": same,
        "same_person_share": same / m if m else None,
        "same_person_ci95": wilson(same, m),
        "same_person_beyond_solid": None,
        "same_person_beyond_solid_share": None,
        "same_person_beyond_solid_ci95": None,
        "mean_distance": float(dists.mean()) if m else None,
        "median_distance": float(np.median(dists)) if m else None,
        "reidentified": None,
        "reidentified_share": (1 / m) if m else None,  # chance: one face of the gallery at random
        "reidentified_ci95": None,
        "gallery": m,
    }


def summarize(records: list[FaceRecord], variants: list[str], seed: int) -> list[dict]:
    groups: list[tuple[str, list[FaceRecord]]] = []
    for dataset in ("heldout", "wider"):
        recs = [r for r in records if r.dataset == dataset]
        groups.append((dataset, recs))
        if dataset == "heldout":
            for name in FACE_SETS:
                groups.append((f"heldout/{name}", [r for r in recs if r.subset == name]))
        for lo, _ in SIZE_BANDS:
            band = size_band(lo)
            groups.append((f"{dataset}@{band}", [r for r in recs if size_band(r.size) == band]))
        for lo in AT_LEAST:
            groups.append((f"{dataset}@>= {lo} px", [r for r in recs if r.size >= lo]))
    rows = []
    for name, recs in groups:
        if not recs:
            continue
        for variant in variants:
            rows.append({"dataset": name, "method": variant, **_score(recs, variant)})
        rows.append({"dataset": name, "method": OTHER, **_other_person(recs, seed)})
    return rows


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def markdown(result: dict) -> str:
    s = result["settings"]
    w = result["weights"]
    lines = ["# Quality: retention, identity, realism and privacy", ""]
    if w:
        t = w.get("training") or {}
        lines.append(
            f"GAN weights: `{Path(w['path']).name}` (sha256 `{str(w['sha256'])[:12]}`, "
            f"{t.get('steps', '?')} steps, {t.get('images_seen', '?')} images seen, config {w.get('config')})."
        )
        lines.append("")
    lines += _done_when_lines(result.get("done_when") or [])
    lines += _realism_lines(result)
    lines += _wider_retention_lines(result)
    lines += [
        "## Identity against each face's own original",
        "",
        f"Faces: detected in the original by the default union detector; scored when the box's longer side is >= {s['min_face_size']:g} px.",
        f"**Retention**: share of those still detected after anonymization (a detection matched one-to-one at IoU >= {s['retention_iou']} with the original box).",
        f"**Same person**: share whose dlib ResNet descriptor (5-point alignment on the same box, in each image) lies within {s['same_person_threshold']} of the original's; **distance**: mean Euclidean distance.",
        f"Reference rows: `{SANITY}` is the original re-encoded at JPEG quality {s['jpeg_quality']} (no anonymization: should be ~100% / ~100%); "
        f"`{OTHER}` pairs each original face with the original face of another photo (dlib's false-match rate: the floor a perfect anonymizer would reach).",
        "**Beyond solid**: share that is the same person under this method but not under a solid box over the same region: "
        "what the method's own pixels give away, beyond the hair, ears, clothes and background that every method leaves (needs `solid` in the run).",
        f"**Re-identified**: share whose nearest original descriptor, among all scored faces of the same data, is their own original (rank-1, no threshold; LFW photos of the same person count as a hit; chance is 1/faces, shown on the `{OTHER}` row).",
        "",
        "| data | method | faces | retention | same person | beyond solid | mean distance | re-identified |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    names = {"heldout": "held-out faces", "wider": "WIDER"}
    # WIDER's figures other than retention are in the by-size table below.
    lines += [_row(names["heldout"], row) for row in result["results"] if row["dataset"] == "heldout"]
    sub = [r for r in result["results"] if r["dataset"].startswith("heldout/")]
    if sub:
        lines += [
            "",
            "Held-out faces by set:",
            "",
            "| set | method | faces | retention | same person | beyond solid | mean distance | re-identified |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [_row(r["dataset"].split("/", 1)[1], r) for r in sub]
    by_size = [r for r in result["results"] if "@" in r["dataset"]]
    if by_size:
        lines += [
            "",
            "By face size (the box's longer side in the original; `other person` pairs faces of the same band):",
            "",
            "| data | size | method | faces | retention | same person | beyond solid | mean distance | re-identified |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in by_size:
            dataset, band = r["dataset"].split("@", 1)
            lines.append(_row(f"{names[dataset]} | {band}", r))
    p = result["photos"]
    t = result["time"]
    lines += [
        "",
        f"Photos: held-out {p['heldout']['photos']} ({p['heldout']['faces_detected']} faces detected), "
        f"WIDER {p['wider']['photos']} ({p['wider']['faces_detected']} faces detected); unreadable: "
        f"{p['heldout']['unreadable'] + p['wider']['unreadable']}. Shares come with 95% Wilson intervals in `quality.json`.",
        f"Run: {t['seconds']:.0f} s ({t['seconds_per_photo']} s/photo) on {t['machine']}. Seed {s['seed']}, GAN seed {s['gan_seed']}."
        + (
            f" Held-out photos {t['heldout_seconds']:.0f} s, WIDER {t['wider_seconds']:.0f} s, re-identification gallery "
            f"{t['reid_gallery_seconds']:.0f} s; then the realism classifiers {t['realism_seconds']:.0f} s."
            if "realism_seconds" in t
            else ""
        ),
        "",
        f"Reproduce: `{result['command']}`",
        "",
    ]
    return "\n".join(lines)


def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _done_when_lines(verdicts: list[dict]) -> list[str]:
    if not verdicts:
        return []
    lines = [
        "## Done when, for `gan`",
        "",
        "| measure | bar | gan | verdict |",
        "| --- | --- | ---: | --- |",
    ]
    show = {"auc": lambda x: _num(x), "ratio": lambda x: _num(x, 2), "share": _pct}
    for v in verdicts:
        fmt = show[v["unit"]]
        limit = "not measured" if v["bar"] is None else f"{'<=' if v['at_most'] else '>='} {fmt(v['bar'])}"
        if v.get("solid") is not None:
            limit += f" (solid {_pct(v['solid'])} + 1 point)"
        if v.get("swap") is not None:
            limit += f" (`{SWAP}` {_pct(v['swap'])} + 1 point)"
        verdict = "not measured" if v["pass"] is None else ("**pass**" if v["pass"] else "**FAIL**")
        lines.append(f"| {v['criterion']} | {limit} | {fmt(v['value'])} | {verdict} |")
    counted = next((v for v in verdicts if "faces" in v), None)
    if counted is not None:
        lines += [
            "",
            f"The realism bars stand on {counted['faces']} held-out faces; they ask for at least {REALISM_FACES}: "
            + ("reached." if counted["enough"] else "**not reached**, so their verdicts are provisional."),
        ]
    return [*lines, ""]


def _realism_lines(result: dict) -> list[str]:
    realism = result.get("realism") or {}
    reid = result.get("reid_gallery") or {}
    auc, fd, rows = realism.get("classifier_auc") or {}, realism.get("frechet") or {}, reid.get("methods") or {}
    if not auc and not rows:
        return []
    by = {(r["dataset"], r["method"]): r for r in result["results"]}
    lines = _realism_large_lines(result)
    lines += [
        "## Realism and privacy (held-out faces)",
        "",
        f"**Classifier AUC**: a logistic regression on standardised dlib descriptors telling the original faces from the method's, "
        f"{realism.get('folds')}-fold cross-validated with folds grouped by person (LFW) or photo, so a face and its anonymized "
        f"version share a fold; mean ROC AUC of the folds over {realism.get('cv_repeats')} draws of the folds, on "
        f"{realism.get('faces')} faces ({realism.get('groups')} groups); 0.5: indistinguishable. `{OTHER}`: originals of one "
        "half of the groups against the other half, split within each face set (the floor).",
        f"**Fréchet**: distance between Gaussians fitted to the 128-d descriptors, the anonymized faces of one half of the groups "
        f"(by person or photo, within each face set) against the originals of the other half, both ways, averaged over "
        f"{realism.get('frechet_splits')} seeded splits; the floor (`{OTHER}`) is originals against originals on the same splits.",
        f"**Re-identified**: rank-1 re-identification of anonymized held-out LFW faces in a gallery of the other held-out LFW photos "
        f"(their largest face, original); `{ORIGINAL}` is the unanonymized face (dlib's own rate). Gallery: "
        f"{reid.get('gallery_faces')} faces of {reid.get('gallery_identities')} people (chance {_pct(reid.get('chance'))}); "
        f"{reid.get('queries')} queries of {reid.get('query_identities')} people "
        f"({reid.get('queries_without_other_photo')} more left out: no other photo of the person in the gallery); "
        f"{reid.get('gallery_photos_without_face')} gallery photos without a face of >= {result['settings']['min_face_size']:g} px left out.",
        f"**Same person, LFW queries**: the share of those queries whose anonymized face dlib puts within {SAME_PERSON} "
        f"of its own original (the bar: `{SWAP}`'s share + 1 point).",
        "**Beyond solid, >= 64 px**: as in the identity tables below, on held-out faces whose box is at least 64 px.",
        "",
        "| method | classifier AUC | Fréchet | Fréchet / floor | re-identified in the gallery | same person, LFW queries "
        "| beyond solid, >= 64 px |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant in [*result["settings"]["methods"], SANITY, OTHER, ORIGINAL]:
        a, f, r = auc.get(variant) or {}, fd.get(variant) or {}, rows.get(variant)
        if variant == OTHER:
            reid_text = f"{_pct(reid.get('chance'))} (chance)"
        elif r:
            reid_text = f"{_pct(r['share'])} ({r['reidentified']}/{reid.get('queries')})"
        else:
            reid_text = "–"
        same = (
            f"{_pct(r['same_person_share'])} ({r['same_person']}/{reid.get('queries')})"
            if r and r.get("same_person") is not None
            else "–"
        )
        big = by.get(("heldout@>= 64 px", variant)) or {}
        k = big.get("same_person_beyond_solid")
        beyond = "–" if k is None else f"{_pct(big['same_person_beyond_solid_share'])} ({k}/{big['faces']})"
        ratio = "–" if f.get("ratio") is None else f"{f['ratio']:.2f}x"
        name = f"`{variant}`" if variant in (SANITY, OTHER, ORIGINAL) else variant
        if not a and not f and not r:
            continue
        lines.append(
            f"| {name} | {_num(a.get('auc'))} | {_num(f.get('distance'), 4)} | {ratio} | {reid_text} | {same} | {beyond} |"
        )
    return [*lines, ""]


def _realism_large_lines(result: dict) -> list[str]:
    """The realism bars' own faces: held-out faces of at least ``--realism-min-size`` px."""
    large = result.get("realism_large") or {}
    auc, fd = large.get("classifier_auc") or {}, large.get("frechet") or {}
    if not auc:
        return []
    lines = [
        f"## Realism on held-out faces >= {large['min_size']:g} px (the bars)",
        "",
        f"{large['faces']} faces ({large['groups']} groups; the bars ask for at least {large['faces_wanted']}), "
        "measured as in the next table.",
        "",
        "| method | classifier AUC | Fréchet | Fréchet / floor |",
        "| --- | ---: | ---: | ---: |",
    ]
    for variant in [*result["settings"]["methods"], SANITY, OTHER]:
        a, f = auc.get(variant) or {}, fd.get(variant) or {}
        if not a and not f:
            continue
        ratio = "–" if f.get("ratio") is None else f"{f['ratio']:.2f}x"
        name = f"`{variant}`" if variant in (SANITY, OTHER) else variant
        lines.append(f"| {name} | {_num(a.get('auc'))} | {_num(f.get('distance'), 4)} | {ratio} |")
    return [*lines, ""]


def _wider_retention_lines(result: dict) -> list[str]:
    by = {(r["dataset"], r["method"]): r for r in result["results"]}
    lo = f"{result['settings']['min_face_size']:g}"
    lines = [
        "## WIDER retention",
        "",
        f"| method | faces >= {lo} px | retention >= {lo} px | faces >= 64 px | retention >= 64 px |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for variant in [*result["settings"]["methods"], SANITY]:
        cells = []
        for group in ("wider", "wider@>= 64 px"):
            row = by.get((group, variant))
            cells += ["0", "–"] if row is None else [str(row["faces"]), f"{_pct(row['retention'])} ({row['retained']})"]
        if cells[0] != "0" or cells[2] != "0":
            name = f"`{variant}`" if variant == SANITY else variant
            lines.append(f"| {name} | {' | '.join(cells)} |")
    return [*lines, ""] if len(lines) > 4 else []


def _row(name: str, row: dict) -> str:
    ret = "–" if row["retention"] is None else f"{_pct(row['retention'])} ({row['retained']}/{row['faces']})"
    same = f"{_pct(row['same_person_share'])} ({row['same_person']}/{row['faces']})"
    dist = "–" if row["mean_distance"] is None else f"{row['mean_distance']:.3f}"
    k = row.get("same_person_beyond_solid")
    beyond = "–" if k is None else f"{_pct(row['same_person_beyond_solid_share'])} ({k}/{row['faces']})"
    method = f"`{row['method']}`" if row["method"] in (SANITY, OTHER) else row["method"]
    if row["reidentified"] is None:
        reid = "–" if row["reidentified_share"] is None else f"{_pct(row['reidentified_share'])} (chance)"
    else:
        reid = f"{_pct(row['reidentified_share'])} ({row['reidentified']}/{row['faces']})"
    return f"| {name} | {method} | {row['faces']} | {ret} | {same} | {beyond} | {dist} | {reid} |"


def write_csv(path: Path, records: list[FaceRecord], variants: list[str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "dataset",
                "subset",
                "photo",
                "box",
                "size",
                *[f"{v}_retained" for v in variants],
                *[f"{v}_distance" for v in variants],
            ]
        )
        for r in records:
            w.writerow(
                [
                    r.dataset,
                    r.subset,
                    r.photo,
                    " ".join(f"{v:g}" for v in r.box),
                    f"{r.size:.1f}",
                    *[int(r.retained[v]) for v in variants],
                    *[f"{r.distance[v]:.4f}" for v in variants],
                ]
            )


# ---------------------------------------------------------------- sample sheets


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    import cv2

    strip = np.full((16, tile.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(strip, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([tile, strip], axis=0)


def _save_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(image).save(path, optimize=True)


def pair_sheet(samples: list[SampleFace], method: str, path: Path, tile: int, per_row: int = 8) -> None:
    """Pairs original | ``method``, ``per_row`` pairs a row; the dlib distance under each pair."""
    gap = 6
    cells = []
    for s in samples:
        sep = np.full((tile, 2, 3), 255, dtype=np.uint8)
        pair = np.concatenate([s.crops["original"], sep, s.crops[method]], axis=1)
        text = f"d={s.distance:.2f}" + (" same" if s.distance is not None and s.distance < SAME_PERSON else "")
        cells.append(_label(pair, text))
    _save_png(_grid(cells, per_row, gap), path)


def full_size_sheet(samples: list[SampleFace], method: str, path: Path, per_row: int = 4) -> None:
    """Pairs original | ``method`` at full size (no scaling), on white cells as large as the largest pair.

    The label under each pair gives the face's size and dlib's distance between the two.
    """
    cells = []
    for s in samples:
        original, new = s.crops["original"], s.crops[method]
        sep = np.full((original.shape[0], 4, 3), 255, dtype=np.uint8)
        d = s.distances[method]
        text = f"{method}: {s.size:.0f} px face, d={d:.2f}" + (" same" if d < SAME_PERSON else "")
        cells.append(_label(np.concatenate([original, sep, new], axis=1), text))
    h, w = max(c.shape[0] for c in cells), max(c.shape[1] for c in cells)
    padded = []
    for c in cells:
        cell = np.full((h, w, 3), 255, dtype=np.uint8)
        cell[: c.shape[0], : c.shape[1]] = c
        padded.append(cell)
    _save_png(_grid(padded, per_row, 10), path)


def methods_sheet(samples: list[SampleFace], methods: list[str], path: Path, tile: int) -> None:
    """One row per face: original, then each method."""
    rows = []
    for s in samples:
        row = [_label(s.crops["original"], "original")] + [_label(s.crops[m], m) for m in methods]
        rows.append(row)
    cells = [c for row in rows for c in row]
    _save_png(_grid(cells, 1 + len(methods), 4), path)


def _grid(cells: list[np.ndarray], per_row: int, gap: int) -> np.ndarray:
    h, w = cells[0].shape[:2]
    n_rows = math.ceil(len(cells) / per_row)
    cols = min(per_row, len(cells))
    sheet = np.full((n_rows * (h + gap) + gap, cols * (w + gap) + gap, 3), 255, dtype=np.uint8)
    for k, cell in enumerate(cells):
        r, c = divmod(k, per_row)
        y, x = gap + r * (h + gap), gap + c * (w + gap)
        sheet[y : y + h, x : x + w] = cell
    return sheet


# ---------------------------------------------------------------- CLI


def gan_seed(args: argparse.Namespace) -> int:
    return args.seed if args.gan_seed is None else args.gan_seed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from anonymizer.gan import default_weights

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--weights",
        default=str(default_weights()),
        help="GAN generator (.safetensors with its .json); default: the shipped weights",
    )
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated, from gan,blur,pixelate,solid")
    p.add_argument(
        "--limit",
        type=int,
        default=300,
        help="held-out face photos in all, split evenly over LFW/CelebA/UTKFace (0: none)",
    )
    p.add_argument("--wider-limit", type=int, default=400, help="WIDER photos (400: all; 0: none)")
    p.add_argument("--faces-dir", default=str(DATA / "faces"))
    p.add_argument("--wider-dir", default=str(DATA / "wider"))
    p.add_argument(
        "--min-size", type=float, default=32.0, help="score faces whose box's longer side is at least this (px)"
    )
    p.add_argument(
        "--realism-min-size",
        type=float,
        default=REALISM_MIN_SIZE,
        help="the realism bars are judged on held-out faces whose box's longer side is at least this (px)",
    )
    p.add_argument(
        "--realism-faces",
        type=int,
        default=0,
        help="stop the held-out sample once this many faces of >= --realism-min-size are scored "
        "(0: measure all --limit photos; --limit stays the cap)",
    )
    p.add_argument("--iou", type=float, default=0.5, help="IoU for a face to count as still detected")
    p.add_argument("--jpeg-quality", type=int, default=JPEG_QUALITY, help="quality of the re-encoded sanity row")
    p.add_argument("--seed", type=int, default=0, help="photo sample (and GAN latent codes, unless --gan-seed)")
    p.add_argument("--gan-seed", type=int, default=None, help="seed of the GAN's latent codes (default: --seed)")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument(
        "--samples-dir", default=str(ROOT / "docs"), help="where samples_gan.png / samples_methods.png go ('' for none)"
    )
    p.add_argument("--samples", type=int, default=32, help="held-out faces on samples_gan.png")
    p.add_argument("--method-samples", type=int, default=6, help="faces on samples_methods.png")
    p.add_argument("--tile", type=int, default=96, help="side of one face on the sheets (px)")
    p.add_argument(
        "--large-samples",
        type=int,
        default=16,
        help=f"held-out faces of >= {LARGE_MIN_SIZE} px on samples_gan_large.png, at full size (0: no sheet)",
    )
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds of the realism classifier")
    p.add_argument(
        "--cv-repeats",
        type=int,
        default=5,
        help="seeded draws of the folds (and of the halves) the AUC is averaged over",
    )
    p.add_argument(
        "--frechet-splits",
        type=int,
        default=10,
        help="seeded splits into halves the Fréchet distances are averaged over",
    )
    p.add_argument(
        "--reid-queries",
        type=int,
        default=300,
        help="held-out LFW photos of people with other photos, re-identified against the gallery (0: none)",
    )
    p.add_argument(
        "--reid-gallery",
        type=int,
        default=0,
        help="gallery photos at most (0: every held-out LFW photo; the queries' people are always in it)",
    )
    p.add_argument(
        "--donors",
        default="",
        help=f"prepared crops (anonymize-train prepare, at the GAN's resolution and context) whose training-split "
        f"faces the {SWAP} reference pastes",
    )
    p.add_argument("--donor-pool", type=int, default=3000, help=f"faces the {SWAP} reference draws from")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "gan" in args.methods and not Path(args.weights).is_file():
        raise SystemExit(f"no GAN weights at {args.weights}: pass --weights, or leave gan out of --methods")
    result = run(args)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
