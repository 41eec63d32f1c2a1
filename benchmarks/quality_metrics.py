"""The quality benchmark's measures: size bands, face matching, Wilson intervals, the two-sample classifier
(AUC) and the Fréchet distance, and the constants every part of the benchmark shares.

Part of ``python -m benchmarks.quality`` (see its docstring).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence

import numpy as np

from anonymizer.detection import box_iou
from benchmarks.common import ROOT

DATA = ROOT.parent / "shared" / "data"
FACE_SETS = ("lfw", "celeba", "utkface")
METHODS = ("gan", "blur", "pixelate", "solid")
SWAP = "swap"  # reference: another person's real face, composited as the GAN's are (needs --donors)
SWAP_LIKE = "swap-like"  # the same, the donor of the same sex, race and age (UTKFace's file names)
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
MIN_RETENTION = 0.95  # WIDER faces of >= 64 px found again after the GAN (the generator's bar: DeepPrivacy's measure)
REID_MARGIN = 0.01  # re-identified at most solid's share + 1 point
SAME_PERSON_MARGIN = 0.01  # called the same person at most as often as the swap reference + 1 point


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
