"""Turn any folder of photos into a compact dataset of face crops for training.

Faces are found by the same detector and cut by the same :func:`make_crop` as
at inference, so the generator learns on exactly the crops it is later given.
The dataset is a folder of ``.npz`` shards (uint8 crops, masks, landmarks,
hidden regions, split) plus ``manifest.json``; preparation resumes where it
stopped, since every finished shard records the files it covered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SHARD_SIZE = 1000


@dataclass
class PrepareOptions:
    resolution: int = 64
    min_face_size: float = 32.0
    min_score: float = 0.9
    val_fraction: float = 0.1
    limit: int | None = None
    seed: int = 0
    workers: int = 1


def list_images(root: Path) -> list[Path]:
    from anonymizer.imageio import is_image_path

    return sorted(p for p in root.rglob("*") if p.is_file() and is_image_path(p))


def split_of(rel: str, val_fraction: float) -> str:
    """``val`` or ``train``, stable per identity group.

    Photos in a folder two or more levels deep (``lfw/<Person>/x.jpg``) are
    grouped by that folder, so one person never lands in both splits; others
    are grouped by file.
    """
    parts = Path(rel).parts
    group = str(Path(*parts[:-1])) if len(parts) >= 3 else rel
    bucket = int(hashlib.sha1(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if bucket < val_fraction else "train"


def _dhash(crop: np.ndarray) -> str:
    import cv2

    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    # 16x16 differences (256 bits): tight enough that distinct faces of similar light don't collide.
    small = cv2.resize(grey, (17, 16), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return np.packbits(bits).tobytes().hex()


_worker_state: dict = {}


def _init_worker(resolution: int) -> None:
    import torch

    torch.set_num_threads(1)
    from anonymizer.detection import make_detector

    _worker_state["detector"] = make_detector("union", threshold=0.6, min_face_size=12, device="cpu")
    _worker_state["resolution"] = resolution


def _process(args: tuple[str, str, float, float]) -> tuple[str, dict | None, str]:
    """Detect, filter and crop one photo. Returns (rel, sample or None, reason)."""
    path, rel, min_size, min_score = args
    from anonymizer.crops import make_crop
    from anonymizer.imageio import ImageReadError, read_image

    try:
        image = read_image(path).rgb
    except ImageReadError as exc:
        return rel, None, f"unreadable ({exc})"
    faces = _worker_state["detector"].detect(image)
    if not faces:
        return rel, None, "no face found"
    faces = [f for f in faces if f.score >= min_score]
    if not faces:
        return rel, None, "score below minimum"
    faces = [f for f in faces if f.size >= min_size]
    if not faces:
        return rel, None, "face too small"
    # Aligned face sets hold one subject per photo: keep the largest face.
    face = max(faces, key=lambda f: f.size)
    crop = make_crop(image, face, _worker_state["resolution"])
    sample = {
        "image": crop.image,
        "mask": (crop.mask > 0.5).astype(np.uint8),
        "hidden": crop.hidden.astype(np.float32),
        "landmarks": crop.landmarks.astype(np.float32),
    }
    return rel, sample, "kept"


def _write_shard(out: Path, index: int, samples: list[dict], rels: list[str], splits: list[str]) -> None:
    path = out / f"shard_{index:05d}.npz"
    tmp = out / f".shard_{index:05d}.tmp.npz"
    np.savez(
        tmp,
        images=np.stack([s["image"] for s in samples]) if samples else np.zeros((0, 1, 1, 3), np.uint8),
        masks=np.stack([s["mask"] for s in samples]) if samples else np.zeros((0, 1, 1), np.uint8),
        hidden=np.stack([s["hidden"] for s in samples]) if samples else np.zeros((0, 4), np.float32),
        landmarks=np.stack([s["landmarks"] for s in samples]) if samples else np.zeros((0, 5, 2), np.float32),
        split=np.array([sp == "val" for sp in splits], dtype=bool),
        files=np.array(rels, dtype=str),
    )
    os.replace(tmp, path)


def prepare_dataset(input_dir: Path, out: Path, options: PrepareOptions, progress: bool = True) -> dict:
    """Build (or resume) the dataset in ``out`` from the photos under ``input_dir``."""
    from multiprocessing import get_context

    from tqdm import tqdm

    input_dir, out = Path(input_dir), Path(out)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"no such folder: {input_dir}")
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if manifest and manifest["resolution"] != options.resolution:
        raise ValueError(f"{out} holds a {manifest['resolution']} px dataset; asked for {options.resolution}")
    manifest = manifest or {"version": 1, "resolution": options.resolution, "shards": [], "dropped": {}}

    done: set[str] = set()
    hashes: set[str] = set()
    for shard in manifest["shards"]:
        done.update(shard["covered"])
        hashes.update(shard["hashes"])

    files = list_images(input_dir)
    random.Random(options.seed).shuffle(files)
    if options.limit:
        files = files[: options.limit]
    todo = [p for p in files if p.relative_to(input_dir).as_posix() not in done]
    dropped = Counter(manifest["dropped"])
    log.info("%d photos, %d already done, %d to go", len(files), len(files) - len(todo), len(todo))

    jobs = [(str(p), p.relative_to(input_dir).as_posix(), options.min_face_size, options.min_score) for p in todo]
    samples: list[dict] = []
    rels: list[str] = []
    splits: list[str] = []
    covered: list[str] = []
    shard_hashes: list[str] = []
    kept = sum(s["count"] for s in manifest["shards"])

    def flush() -> None:
        index = len(manifest["shards"])
        _write_shard(out, index, samples, rels, splits)
        manifest["shards"].append(
            {
                "file": f"shard_{index:05d}.npz",
                "count": len(samples),
                "covered": list(covered),
                "hashes": list(shard_hashes),
            }
        )
        manifest["dropped"] = dict(dropped)
        tmp = manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, manifest_path)
        for pending in (samples, rels, splits, covered, shard_hashes):
            pending.clear()

    ctx = get_context("spawn")
    workers = max(1, options.workers)
    with ctx.Pool(workers, initializer=_init_worker, initargs=(options.resolution,)) as pool:
        bar = tqdm(total=len(jobs), unit="photo", desc="preparing", disable=not progress)
        for rel, sample, reason in pool.imap_unordered(_process, jobs, chunksize=8):
            bar.update(1)
            covered.append(rel)
            if sample is None:
                dropped[reason] += 1
            else:
                key = _dhash(sample["image"])
                if key in hashes:
                    dropped["duplicate"] += 1
                else:
                    hashes.add(key)
                    shard_hashes.append(key)
                    samples.append(sample)
                    rels.append(rel)
                    splits.append(split_of(rel, options.val_fraction))
                    kept += 1
            bar.set_postfix(kept=kept)
            if len(covered) >= SHARD_SIZE:
                flush()
        bar.close()
    if covered:
        flush()
    return summarize(out)


def summarize(out: Path) -> dict:
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    kept = sum(s["count"] for s in manifest["shards"])
    seen = sum(len(s["covered"]) for s in manifest["shards"])
    return {"photos_seen": seen, "kept": kept, "dropped": manifest["dropped"], "resolution": manifest["resolution"]}


@dataclass
class FaceArrays:
    images: np.ndarray  # N x R x R x 3 uint8
    masks: np.ndarray  # N x R x R uint8
    landmarks: np.ndarray  # N x 5 x 2 float32, crop pixels
    files: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def load_dataset(path: Path, split: str = "train") -> FaceArrays:
    """All samples of one split (``train``, ``val`` or ``all``) in memory."""
    manifest = json.loads((Path(path) / "manifest.json").read_text())
    parts: dict[str, list] = {"images": [], "masks": [], "landmarks": [], "files": []}
    for shard in manifest["shards"]:
        if not shard["count"]:
            continue
        with np.load(Path(path) / shard["file"]) as data:
            keep = np.ones(len(data["split"]), bool) if split == "all" else (data["split"] == (split == "val"))
            for key in parts:
                parts[key].append(data[key][keep])
    arrays = FaceArrays(**{k: np.concatenate(v) for k, v in parts.items()}) if parts["images"] else None
    if arrays is None or not len(arrays):
        raise ValueError(f"no {split} samples in {path}")
    return arrays
