"""Turn any folder of photos into a compact dataset of face crops for training.

Faces are found by the same detector and cut by the same :func:`make_crop` as
at inference, so the generator learns on exactly the crops it is later given.
The dataset is a folder of ``.npz`` shards (uint8 crops, face boxes and
landmarks in crop pixels, split) plus ``manifest.json``; preparation resumes
where it stopped, since every finished shard records the files it covered.
The crop's context is fixed at preparation; the face region the generator is
to paint (:class:`anonymizer.crops.Region`) is not: its masks are drawn from
the boxes when the dataset is loaded, so one dataset serves any region.

:func:`pack_dataset` writes a dataset as one file of JPEG crops, small enough
to travel with the working tree to a lent accelerator; :func:`load_dataset`
reads either form.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SHARD_SIZE = 1000
DATASET_VERSION = 2  # 2: face boxes instead of masks, and the crop's context in the manifest


FRAMES = ("box", "aligned")
FACE_CHOICES = ("largest", "every")


@dataclass
class PrepareOptions:
    resolution: int = 64
    context: float = 2.0  # crop side as a multiple of the face box's longer side (crops.Region.context)
    # "box": a square around the face box (context above); "aligned": the face mapped onto the template of
    # anonymizer.align from its five landmarks (faces that do not fit it are dropped)
    frame: str = "box"
    min_face_size: float = 32.0
    min_score: float = 0.75  # CenterFace scores a clear face 0.8-0.95
    # "largest": one face per photo, the largest (aligned face sets hold one subject each); "every": every face
    # that passes the filters (in the aligned frame, with its painted region inside the photo: MIN_INSIDE), the
    # others under the photo's name and "#2", "#3", ... by size
    faces: str = "largest"
    # the aligned frame's bound on a face's fit to the template (anonymizer.align.MAX_RESIDUAL by default): a
    # looser one keeps turned heads, which the template's fit declines
    max_residual: float | None = None
    val_fraction: float = 0.1
    limit: int | None = None
    seed: int = 0
    workers: int = 1


def list_images(root: Path) -> list[Path]:
    from anonymizer.imageio import is_image_path

    return sorted(p for p in root.rglob("*") if p.is_file() and is_image_path(p))


def identity_group(rel: str) -> str:
    """The identity group of a photo (its path in the photo folder): the folder, for photos two or more
    levels deep (``lfw/<Person>/x.jpg``: one person), else the photo itself."""
    parts = Path(rel).parts
    return str(Path(*parts[:-1])) if len(parts) >= 3 else rel


def split_of(rel: str, val_fraction: float) -> str:
    """``val`` or ``train``, stable per identity group (:func:`identity_group`), so one person never lands
    in both splits."""
    group = identity_group(rel)
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


def _init_worker(
    resolution: int, context: float, frame: str = "box", faces: str = "largest", max_residual: float | None = None
) -> None:
    import torch

    torch.set_num_threads(1)
    _worker_state["resolution"] = resolution
    _worker_state["context"] = context
    _worker_state["frame"] = frame
    _worker_state["faces"] = faces
    _worker_state["max_residual"] = max_residual


def _detector():
    """The default detector, built on first need (a photo the detections file does not cover)."""
    if "detector" not in _worker_state:
        from anonymizer.detection import make_detector

        _worker_state["detector"] = make_detector(threshold=0.6, min_face_size=12, device="cpu")
    return _worker_state["detector"]


def read_detections(path: Path) -> dict[str, list]:
    """The faces of a report (``anonymize --report``, version 1) by input path: what the detector found, so
    that preparation need not run it again."""
    from anonymizer.faces import Face

    report = json.loads(Path(path).read_text())
    if report.get("version") != 1 or not isinstance(report.get("images"), list):
        raise ValueError(f"{path} is not an anonymizer report (version 1)")
    found: dict[str, list] = {}
    for entry in report["images"]:
        if entry.get("status") != "ok":
            continue
        found[entry["input"]] = [
            Face(box=f["box"], score=f["score"], landmarks=f["landmarks"]) for f in entry.get("faces", [])
        ]
    return found


def _process(args: tuple) -> tuple[str, list[dict], str]:
    """Detect (unless the faces are given), filter and crop one photo. Returns (rel, samples, reason): one
    sample, the largest face's, or with ``faces="every"`` every face's, largest first; none, and why."""
    path, rel, min_size, min_score, *known = args
    from anonymizer.crops import Region
    from anonymizer.frames import make_crop
    from anonymizer.imageio import ImageReadError, read_image

    try:
        image = read_image(path).rgb
    except ImageReadError as exc:
        return rel, [], f"unreadable ({exc})"
    faces = known[0] if known and known[0] is not None else _detector().detect(image)
    if not faces:
        return rel, [], "no face found"
    faces = [f for f in faces if f.score >= min_score]
    if not faces:
        return rel, [], "score below minimum"
    faces = [f for f in faces if f.size >= min_size]
    if not faces:
        return rel, [], "face too small"
    # Aligned face sets hold one subject per photo: by default keep the largest face.
    faces = sorted(faces, key=lambda f: -f.size)
    if _worker_state.get("faces", "largest") == "largest":
        faces = faces[:1]
    samples, reason = [], ""
    for face in faces:
        if _worker_state["frame"] == "aligned":
            sample, why = _aligned_sample(image, face)
            if sample is None:
                reason = reason or why
                continue
        else:
            crop = make_crop(
                image, face, _worker_state["resolution"], Region(scale=1.0, context=_worker_state["context"])
            )
            sample = {
                "image": crop.image,
                "box": crop.hidden.astype(np.float32),  # with scale 1 the hidden rectangle is the face box
                "landmarks": crop.landmarks.astype(np.float32),
            }
        samples.append(sample)
    return rel, samples, "kept" if samples else reason


# With every face of a photo kept, a face is dropped when less than this share of the region the generator learns
# to paint (the inner-face mask at the largest training scale, 1.3) lies inside the photo: the rest of it would be
# the photo's edge replicated in streaks, which the discriminator would learn as real. 28 % of the training photos'
# other faces (beside each photo's subject, often cut by its edge) are under it, 0.2 % of the subjects.
MIN_INSIDE = 0.9
REGION_CHECKED = 1.3


@functools.lru_cache(maxsize=4)
def _region_points(size: int) -> np.ndarray:
    """Every other pixel centre of the painted region checked by :func:`region_inside`, in a ``size`` crop."""
    from anonymizer.align import InnerMask

    hidden = InnerMask(scale=REGION_CHECKED).masks(size)[0][::2, ::2] > 0.5
    ys, xs = np.nonzero(hidden)
    return np.stack([xs * 2.0 + 0.5, ys * 2.0 + 0.5], 1)


def region_inside(matrix: np.ndarray, size: int, shape: tuple[int, int]) -> float:
    """The share of the aligned crop's painted region (the inner mask at ``REGION_CHECKED``) that ``matrix``
    (photo to crop) takes from inside a photo of ``shape`` (height, width)."""
    import cv2

    points = _region_points(size)
    inverse = cv2.invertAffineTransform(matrix)
    photo = points @ inverse[:, :2].T + inverse[:, 2]
    height, width = shape
    inside = (photo[:, 0] >= 0) & (photo[:, 0] < width) & (photo[:, 1] >= 0) & (photo[:, 1] < height)
    return float(inside.mean()) if len(inside) else 0.0


def _aligned_sample(image: np.ndarray, face) -> tuple[dict | None, str]:
    from anonymizer.align import MAX_RESIDUAL, alignable, fit_alignment, transform_box, transform_points, warp_to_frame

    bound = _worker_state.get("max_residual")
    ok, _ = alignable(face.landmarks, face.box, MAX_RESIDUAL if bound is None else bound)
    if not ok:
        return None, "not alignable"
    size = _worker_state["resolution"]
    matrix, _ = fit_alignment(face.landmarks, size)
    if _worker_state.get("faces") == "every" and region_inside(matrix, size, image.shape[:2]) < MIN_INSIDE:
        return None, "painted region past the photo's edge"
    sample = {
        "image": warp_to_frame(image, matrix, size),
        "box": transform_box(face.box, matrix),
        "landmarks": transform_points(face.landmarks, matrix),
    }
    return sample, "kept"


def _write_shard(out: Path, index: int, samples: list[dict], rels: list[str], splits: list[str]) -> None:
    path = out / f"shard_{index:05d}.npz"
    tmp = out / f".shard_{index:05d}.tmp.npz"
    np.savez(
        tmp,
        images=np.stack([s["image"] for s in samples]) if samples else np.zeros((0, 1, 1, 3), np.uint8),
        boxes=np.stack([s["box"] for s in samples]) if samples else np.zeros((0, 4), np.float32),
        landmarks=np.stack([s["landmarks"] for s in samples]) if samples else np.zeros((0, 5, 2), np.float32),
        split=np.array([sp == "val" for sp in splits], dtype=bool),
        files=np.array(rels, dtype=str),
    )
    os.replace(tmp, path)


def prepare_dataset(
    input_dir: Path, out: Path, options: PrepareOptions, progress: bool = True, detections: Path | None = None
) -> dict:
    """Build (or resume) the dataset in ``out`` from the photos under ``input_dir``.

    ``detections`` is a report of the same folder (``anonymize --report``): the faces it lists are used as
    they are, and only photos it does not cover go through the detector.
    """
    from multiprocessing import get_context

    from tqdm import tqdm

    input_dir, out = Path(input_dir), Path(out)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"no such folder: {input_dir}")
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if manifest and manifest.get("version") != DATASET_VERSION:
        raise ValueError(f"{out} was prepared by an older version; prepare it again into a new folder")
    if options.frame not in FRAMES:
        raise ValueError(f"frame must be one of {', '.join(FRAMES)}, not {options.frame!r}")
    if options.faces not in FACE_CHOICES:
        raise ValueError(f"faces must be one of {', '.join(FACE_CHOICES)}, not {options.faces!r}")
    if options.max_residual is not None and options.frame != "aligned":
        raise ValueError("max_residual bounds the aligned frame's fit; the box frame has none")
    context = options.context if options.frame == "box" else 0.0  # the aligned frame has its own geometry
    wanted = (options.resolution, context, options.frame)
    if manifest and (manifest["resolution"], manifest["context"], manifest.get("frame", "box")) != wanted:
        raise ValueError(
            f"{out} holds a {manifest['resolution']} px dataset ({manifest.get('frame', 'box')} frame, context "
            f"{manifest['context']}); asked for {options.resolution} px ({options.frame} frame, context {context})"
        )
    chosen = (options.faces, options.max_residual)
    if manifest and (manifest.get("faces", "largest"), manifest.get("max_residual")) != chosen:

        def said(faces: str, bound: float | None) -> str:
            kept = "every face of each photo" if faces == "every" else "each photo's largest face"
            return kept + ("" if bound is None else f" fitting the template to {bound:g}")

        raise ValueError(
            f"{out} holds {said(manifest.get('faces', 'largest'), manifest.get('max_residual'))}; asked for "
            f"{said(*chosen)}: prepare into a new folder"
        )
    manifest = manifest or {
        "version": DATASET_VERSION,
        "resolution": options.resolution,
        "context": context,
        "frame": options.frame,
        "faces": options.faces,
        "max_residual": options.max_residual,
        "shards": [],
        "dropped": {},
    }

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

    known = read_detections(detections) if detections else {}
    jobs = [
        (str(p), rel, options.min_face_size, options.min_score, known.get(rel))
        for p in todo
        for rel in [p.relative_to(input_dir).as_posix()]
    ]
    if detections:
        log.info(
            "%d of %d photos to go have their faces in %s", sum(j[-1] is not None for j in jobs), len(jobs), detections
        )
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
    with ctx.Pool(
        workers,
        initializer=_init_worker,
        initargs=(options.resolution, context, options.frame, options.faces, options.max_residual),
    ) as pool:
        bar = tqdm(total=len(jobs), unit="photo", desc="preparing", disable=not progress)
        for rel, found, reason in pool.imap_unordered(_process, jobs, chunksize=64):
            bar.update(1)
            covered.append(rel)
            if not found:
                dropped[reason] += 1
            for k, sample in enumerate(found):
                key = _dhash(sample["image"])
                if key in hashes:
                    dropped["duplicate"] += 1
                    continue
                hashes.add(key)
                shard_hashes.append(key)
                samples.append(sample)
                # A photo's other faces go with it into its split (the split follows the photo's identity group).
                rels.append(rel if k == 0 else f"{rel}#{k + 1}")
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
    boxes: np.ndarray  # N x 4 float32, the face box in crop pixels
    landmarks: np.ndarray  # N x 5 x 2 float32, crop pixels
    files: np.ndarray
    context: float  # the crops' side as a multiple of the face box's longer side (0 in the aligned frame)
    masks: np.ndarray | None = None  # N x R x R uint8, drawn for a region by with_region()
    frame: str = "box"  # or "aligned": faces on the template of anonymizer.align
    max_residual: float | None = None  # aligned frame: the loosest fit to the template prepared (None: the default)

    def __len__(self) -> int:
        return len(self.images)

    def with_region(self, region) -> FaceArrays:
        """The same faces with the replaced area of ``region`` as their masks: a crops.Region for crops in the
        box frame, an align.InnerMask (one mask for all) in the aligned frame."""
        from anonymizer.align import InnerMask
        from anonymizer.crops import hidden_region, region_masks

        side = self.images.shape[1]
        if (self.frame == "aligned") != isinstance(region, InnerMask):
            raise ValueError(f"the crops are in the {self.frame} frame, the region {region} is not for it")
        if isinstance(region, InnerMask):
            one = (region.masks(side)[2] > 0.5).astype(np.uint8)
            masks = np.broadcast_to(one, self.images.shape[:3])
            return replace(self, masks=masks)
        if abs(region.context - self.context) > 1e-6:
            raise ValueError(f"the crops have context {self.context}, the region asks for {region.context}")
        masks = np.empty(self.images.shape[:3], np.uint8)
        for i, box in enumerate(self.boxes):
            masks[i] = region_masks((side, side), hidden_region(box, region.scale), region)[2] > 0.5
        return replace(self, masks=masks)


KEYS = ("images", "boxes", "landmarks", "files")


def load_dataset(path: Path, split: str = "train", region=None) -> FaceArrays:
    """All samples of one split (``train``, ``val`` or ``all``) in memory, from a folder or a pack.

    With ``region`` (a :class:`anonymizer.crops.Region`), the masks of its replaced area are drawn.
    """
    path = Path(path)
    if path.is_file():
        parts, manifest = _read_pack(path, split)
    else:
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest.get("version") != DATASET_VERSION:
            raise ValueError(f"{path} was prepared by an older version; prepare it again into a new folder")
        parts = {k: [] for k in KEYS}
        for shard in manifest["shards"]:
            if not shard["count"]:
                continue
            with np.load(path / shard["file"]) as data:
                keep = _split_mask(data["split"], split)
                for key in KEYS:
                    parts[key].append(data[key][keep])
    arrays = (
        FaceArrays(
            **{k: np.concatenate(v) for k, v in parts.items()},
            context=float(manifest["context"]),
            frame=manifest.get("frame", "box"),
            max_residual=manifest.get("max_residual"),
        )
        if parts["images"]
        else None
    )
    if arrays is None or not len(arrays):
        raise ValueError(f"no {split} samples in {path}")
    return arrays if region is None else arrays.with_region(region)


def _split_mask(is_val: np.ndarray, split: str) -> np.ndarray:
    return np.ones(len(is_val), bool) if split == "all" else (is_val == (split == "val"))


def pack_dataset(data: Path, out: Path, max_bytes: int, quality: int = 90, seed: int = 0, val_faces: int = 64) -> dict:
    """Write the dataset as one ``.npz`` of JPEG crops of at most ``max_bytes``; returns what it holds.

    Faces are taken in a seeded order that visits every top-level folder (face
    set) in turn, so a budget that holds only part of the data keeps the sets'
    balance; ``val_faces`` held-out faces come first (sample sheets), then
    training faces until the budget is spent.
    """
    import cv2

    arrays = load_dataset(data, "all")
    manifest = json.loads((Path(data) / "manifest.json").read_text())
    is_val = np.concatenate(
        [np.load(Path(data) / s["file"])["split"] for s in manifest["shards"] if s["count"]]
    ).astype(bool)
    rng = np.random.default_rng(seed)
    sources = np.array([f.split("/", 1)[0] for f in arrays.files])

    def interleaved(pool: np.ndarray) -> list[int]:
        queues = [list(rng.permutation(np.flatnonzero(pool & (sources == s)))) for s in np.unique(sources)]
        order = []
        while any(queues):
            order.extend(q.pop() for q in queues if q)
        return order

    order = interleaved(is_val)[:val_faces] + interleaved(~is_val)
    # Besides its JPEG, a face costs its box, landmarks, offset, flag and file name (numpy stores
    # names as 4 bytes per character of the longest); the container's headers take about 2 kB.
    per_face = 64 + 4 * max(len(f) for f in arrays.files)
    chosen, blobs, used = [], [], 8192
    for i in order:
        ok, jpeg = cv2.imencode(
            ".jpg", cv2.cvtColor(arrays.images[i], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise ValueError(f"could not encode {arrays.files[i]}")
        if used + jpeg.size + per_face > max_bytes:
            break
        chosen.append(i)
        blobs.append(jpeg.ravel())
        used += jpeg.size + per_face
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:  # the estimate above is close; if the file still comes out too big, leave faces out
        written = _write_pack(out, arrays, is_val, chosen, blobs, quality)
        if written <= max_bytes or not chosen:
            break
        drop = max(1, len(chosen) // 100)
        chosen, blobs = chosen[:-drop], blobs[:-drop]
    kept_val = int(is_val[np.array(chosen, dtype=np.int64)].sum())
    return {"faces": len(chosen), "val": kept_val, "of": len(arrays), "bytes": written}


def _write_pack(out: Path, arrays: FaceArrays, is_val: np.ndarray, chosen: list, blobs: list, quality: int) -> int:
    index = np.array(chosen, dtype=np.int64)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez(
        tmp,
        jpeg=np.concatenate(blobs) if blobs else np.zeros(0, np.uint8),
        offsets=np.cumsum([0] + [b.size for b in blobs]).astype(np.int64),
        boxes=arrays.boxes[index],
        landmarks=arrays.landmarks[index],
        files=arrays.files[index],
        split=is_val[index],
        meta=np.array(
            json.dumps(
                {
                    "version": DATASET_VERSION,
                    "context": arrays.context,
                    "frame": arrays.frame,
                    "max_residual": arrays.max_residual,
                    "quality": quality,
                }
            )
        ),
    )
    os.replace(tmp, out)
    return out.stat().st_size


def _read_pack(path: Path, split: str) -> tuple[dict, dict]:
    """One split's arrays of a pack, and the pack's description (context, frame, ...)."""
    import cv2

    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("version") != DATASET_VERSION:
            raise ValueError(f"{path} was packed by another version")
        keep = np.flatnonzero(_split_mask(data["split"], split))
        jpeg, offsets = data["jpeg"], data["offsets"]
        images = [
            cv2.cvtColor(cv2.imdecode(jpeg[offsets[i] : offsets[i + 1]], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            for i in keep
        ]
        parts = {
            "images": [np.stack(images)] if images else [],
            "boxes": [data["boxes"][keep]],
            "landmarks": [data["landmarks"][keep]],
            "files": [data["files"][keep]],
        }
    return parts, meta
