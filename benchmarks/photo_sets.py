"""The photo sets the detection benchmarks run on: WIDER FACE photos with their annotated boxes, and the harder
sets made from them, each written losslessly to a folder with its boxes moved alike.

Every set keeps the tune/report split of ``benchmarks/wider_split.py`` by source photo: a hard photo made from a
report-half photo is a report photo. Each photo is made the same way in every run (its random draws are seeded
by its name).
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anonymizer.boxes import carried_squares
from benchmarks.wider_split import SEED as SPLIT_SEED


@dataclass
class Photo:
    path: Path
    name: str
    faces: np.ndarray  # Nx4 int x1y1x2y2 (exclusive ends), valid faces
    ignored: np.ndarray  # Mx4, invalid=1 boxes


def load_photos(data: Path) -> list[Photo]:
    valid: dict[str, list] = {}
    ignored: dict[str, list] = {}
    with open(data / "boxes.csv", newline="") as f:
        for row in csv.DictReader(f):
            x, y, w, h = (int(row[k]) for k in ("x", "y", "w", "h"))
            target = ignored if row["invalid"] == "1" else valid
            target.setdefault(row["image"], []).append([x, y, x + w, y + h])
            valid.setdefault(row["image"], [])
    names = sorted(valid)
    return [
        Photo(
            data / "images" / n,
            n,
            np.asarray(valid[n], dtype=np.int64).reshape(-1, 4),
            np.asarray(ignored.get(n, []), dtype=np.int64).reshape(-1, 4),
        )
        for n in names
    ]


def turn_box(boxes: np.ndarray, angle: int, h: int, w: int) -> np.ndarray:
    """Boxes of an h x w photo, in the photo turned ``angle`` degrees clockwise."""
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    if angle == 90:
        out = [h - y2, x1, h - y1, x2]
    elif angle == 180:
        out = [w - x2, h - y2, w - x1, h - y1]
    else:
        out = [y1, w - x2, y2, w - x1]
    return np.stack(out, axis=1).reshape(-1, 4)


def turn_photos(photos: list[Photo], angle: int, folder: Path) -> list[Photo]:
    """The photos turned ``angle`` degrees clockwise (written losslessly into ``folder``), boxes turned alike:
    every face lies sideways (90, 270) or upside down (180)."""
    from PIL import Image

    out = []
    for photo in photos:
        image = read_rgb(photo.path)
        h, w = image.shape[:2]
        path = folder / (photo.name.replace("/", "__") + ".png")
        Image.fromarray(np.ascontiguousarray(np.rot90(image, k=-angle // 90))).save(path)
        out.append(Photo(path, photo.name, turn_box(photo.faces, angle, h, w), turn_box(photo.ignored, angle, h, w)))
    return out


def clip_boxes(boxes: np.ndarray, x0: int, y0: int, shape: tuple[int, int], keep_all: bool = False) -> np.ndarray:
    """Boxes of a photo, in its window from (x0, y0) of ``shape`` (height, width), clipped to it; those left
    under 2 px wide or high are dropped (unless ``keep_all``: one row per box, in order)."""
    h, w = shape
    b = np.clip(boxes - [x0, y0, x0, y0], 0, [w, h, w, h]).reshape(-1, 4)
    return b if keep_all else b[(b[:, 2] - b[:, 0] >= 2) & (b[:, 3] - b[:, 1] >= 2)].reshape(-1, 4)


def cut_photos(photos: list[Photo], folder: Path, min_face: int = 32) -> list[Photo]:
    """Each photo cut through the middle of its largest face (of ``min_face`` px or more; photos without one
    are left out) by its left edge (even photos) or its bottom edge (odd ones), written losslessly into
    ``folder``, boxes clipped to the cut photo (boxes left under 2 px wide or high dropped)."""
    from PIL import Image

    out = []
    for photo in photos:
        sizes = np.maximum(photo.faces[:, 2] - photo.faces[:, 0], photo.faces[:, 3] - photo.faces[:, 1])
        if not len(sizes) or sizes.max() < min_face:
            continue
        x1, y1, x2, y2 = photo.faces[int(np.argmax(sizes))]
        image = read_rgb(photo.path)
        h, w = image.shape[:2]
        left = len(out) % 2 == 0
        window = [(x1 + x2) // 2, 0, w, h] if left else [0, 0, w, (y1 + y2) // 2]
        image = image[window[1] : window[3], window[0] : window[2]]
        path = folder / (photo.name.replace("/", "__") + ".png")
        Image.fromarray(np.ascontiguousarray(image)).save(path)
        faces, ignored = (clip_boxes(b, window[0], window[1], image.shape[:2]) for b in (photo.faces, photo.ignored))
        out.append(Photo(path, photo.name, faces, ignored))
    return out


HARD_SETS = ("upscale", "dark", "tilt", "occluded", "pasted")


def _draw(name: str, salt: str) -> np.random.Generator:
    """A generator seeded by the photo's name: each hard photo is made the same way in every run."""
    return np.random.default_rng([SPLIT_SEED, *f"{salt}:{name}".encode()])


def upscale_photos(photos: list[Photo], folder: Path, min_face: int = 40, max_side: int = 1600) -> list[Photo]:
    """Large faces: each photo with a face of ``min_face`` px or more scaled up so that its largest face is
    300-800 px (drawn per photo), then cut to a window of at most ``max_side`` px a side placed at random
    around that face (boxes scaled and clipped; boxes left under 2 px dropped). A face the window cuts to less
    than 60 % of its box, or that was under 16 px in the photo (a blob, scaled up), is kept as an ignored box:
    a detection on it is not false, and it is not counted as a face to hide."""
    import cv2
    from PIL import Image

    out = []
    for photo in photos:
        sizes = np.maximum(photo.faces[:, 2] - photo.faces[:, 0], photo.faces[:, 3] - photo.faces[:, 1])
        if not len(sizes) or sizes.max() < min_face:
            continue
        rng = _draw(photo.name, "upscale")
        big = int(np.argmax(sizes))
        f = rng.uniform(300, 800) / float(sizes[big])
        image = read_rgb(photo.path)
        h, w = (int(round(v * f)) for v in image.shape[:2])
        x1, y1, x2, y2 = (photo.faces[big] * f).astype(int)
        ww, wh = min(w, max(max_side, x2 - x1)), min(h, max(max_side, y2 - y1))
        x0 = int(rng.integers(max(0, x2 - ww), max(0, min(x1, w - ww)) + 1))
        y0 = int(rng.integers(max(0, y2 - wh), max(0, min(y1, h - wh)) + 1))
        # Only the window is resized: the rest of the photo scaled up would not fit in memory.
        src = (np.array([x0, y0, x0 + ww, y0 + wh]) / f).round().astype(int)
        crop = image[max(src[1], 0) : src[3], max(src[0], 0) : src[2]]
        window = cv2.resize(crop, (ww, wh), interpolation=cv2.INTER_CUBIC)
        path = folder / (photo.name.replace("/", "__") + ".png")
        Image.fromarray(np.ascontiguousarray(window)).save(path)
        scaled = (photo.faces * f).round().astype(np.int64)
        whole = _area(clip_boxes(scaled, x0, y0, (wh, ww), keep_all=True)) >= 0.6 * _area(scaled)
        whole &= sizes >= 16
        faces = clip_boxes(scaled[whole], x0, y0, (wh, ww))
        rest = np.concatenate([scaled[~whole], (photo.ignored * f).round().astype(np.int64)]).reshape(-1, 4)
        out.append(Photo(path, photo.name, faces, clip_boxes(rest, x0, y0, (wh, ww))))
    return out


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)


def dark_photos(photos: list[Photo], folder: Path) -> list[Photo]:
    """Dim and flat light: each photo darkened (gamma 1.8-2.6) and its contrast lowered to 40-70 % about its
    mean (drawn per photo), then lightly noised as a camera does in the dark; the boxes are the photo's."""
    from PIL import Image

    out = []
    for photo in photos:
        rng = _draw(photo.name, "dark")
        image = read_rgb(photo.path).astype(np.float32) / 255.0
        image = image ** rng.uniform(1.8, 2.6)
        image = image.mean() + (image - image.mean()) * rng.uniform(0.4, 0.7)
        image = image + rng.normal(0, 0.01, image.shape)
        path = folder / (photo.name.replace("/", "__") + ".png")
        Image.fromarray(np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)).save(path)
        out.append(Photo(path, photo.name, photo.faces, photo.ignored))
    return out


def _turned_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Each box turned by the 2x3 ``matrix`` (:func:`~anonymizer.boxes.carried_squares`), in whole pixels."""
    if not len(boxes):
        return boxes.reshape(-1, 4)
    return carried_squares(boxes, matrix).round().astype(np.int64)


def tilt_photos(photos: list[Photo], folder: Path) -> list[Photo]:
    """Faces at any angle: each photo turned by an angle drawn from -180 to 180 degrees (per photo) about its
    centre, on a canvas large enough to hold it all (black corners); boxes as :func:`_turned_boxes`."""
    import cv2
    from PIL import Image

    out = []
    for photo in photos:
        angle = float(_draw(photo.name, "tilt").uniform(-180, 180))
        image = read_rgb(photo.path)
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        nw, nh = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
        matrix[0, 2] += nw / 2 - w / 2
        matrix[1, 2] += nh / 2 - h / 2
        turned = cv2.warpAffine(image, matrix, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        path = folder / (photo.name.replace("/", "__") + ".png")
        Image.fromarray(turned).save(path)
        faces, ignored = (clip_boxes(_turned_boxes(b, matrix), 0, 0, (nh, nw)) for b in (photo.faces, photo.ignored))
        out.append(Photo(path, photo.name, faces, ignored))
    return out


# ---------------------------------------------------------------- faces covered in part

OCCLUDERS = ("sunglasses", "hand", "microphone", "food", "head")
MIN_OCCLUDED = 24  # faces under this (longer side) are left as they are, and not counted


def _blob(shape: tuple[int, int], centre, axes, angle: float = 0.0) -> np.ndarray:
    """A soft-edged (anti-aliased) filled ellipse, 0-1, on an array of ``shape``."""
    import cv2

    mask = np.zeros(shape, np.float32)
    c = tuple(int(round(v * 16)) for v in centre)
    a = tuple(max(1, int(round(v * 16))) for v in axes)
    cv2.ellipse(mask, c, a, angle, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
    return mask


def occluder(kind: str, box: np.ndarray, shape: tuple[int, int], rng: np.random.Generator, image: np.ndarray):
    """The mask (0-1) and colour image of one occluder of ``kind`` over the face ``box`` (x1, y1, x2, y2) in a
    photo of ``shape`` (height, width): sunglasses over the eyes, a hand or food over the mouth, a microphone
    at the chin, another head coming in from one side."""
    import cv2

    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    at = lambda u, v: (x1 + u * w, y1 + v * h)  # noqa: E731 - a point in the box's own coordinates
    colour = np.zeros((*shape, 3), np.float32)
    if kind == "sunglasses":
        eye_y = rng.uniform(0.36, 0.46)
        lens = (rng.uniform(0.15, 0.2) * w, rng.uniform(0.1, 0.14) * h)
        mask = np.maximum(_blob(shape, at(0.3, eye_y), lens), _blob(shape, at(0.7, eye_y), lens))
        bridge = np.zeros(shape, np.float32)
        p, q = at(0.3, eye_y), at(0.7, eye_y)
        cv2.line(bridge, tuple(int(v) for v in p), tuple(int(v) for v in q), 1.0, max(1, int(0.03 * h)), cv2.LINE_AA)
        mask = np.maximum(mask, bridge)
        colour[:] = rng.uniform(10, 40)
    elif kind == "hand":
        # Skin of the face's own tone, a little darker: a palm and four fingers over the mouth or a cheek.
        cx, cy = at(rng.uniform(0.3, 0.7), rng.uniform(0.65, 0.8))
        palm = (rng.uniform(0.28, 0.38) * w, rng.uniform(0.22, 0.3) * h)
        turn = rng.uniform(-40, 40)
        mask = _blob(shape, (cx, cy), palm, turn)
        for k in range(4):
            fx = cx + (k - 1.5) * 0.16 * w
            mask = np.maximum(mask, _blob(shape, (fx, cy - 0.32 * h), (0.065 * w, 0.2 * h), turn))
        face = image[int(y1 + 0.3 * h) : int(y1 + 0.7 * h) + 1, int(x1 + 0.3 * w) : int(x1 + 0.7 * w) + 1]
        tone = np.median(face.reshape(-1, 3), axis=0) if face.size else np.array([180.0, 140, 120])
        colour[:] = tone * rng.uniform(0.75, 0.95)
    elif kind == "microphone":
        cx, cy = at(rng.uniform(0.35, 0.65), rng.uniform(0.8, 0.95))
        r = rng.uniform(0.16, 0.24) * w
        mask = _blob(shape, (cx, cy), (r, r))
        stick = np.zeros(shape, np.float32)
        end = (cx + rng.uniform(-0.3, 0.3) * w, cy + 1.2 * h)
        cv2.line(stick, (int(cx), int(cy)), (int(end[0]), int(end[1])), 1.0, max(2, int(0.12 * w)), cv2.LINE_AA)
        mask = np.maximum(mask, stick)
        colour[:] = rng.uniform(30, 90)
    elif kind == "food":
        # A patch of the photo from away from the face: something held up to the mouth.
        cx, cy = at(rng.uniform(0.35, 0.65), rng.uniform(0.68, 0.8))
        mask = _blob(shape, (cx, cy), (rng.uniform(0.25, 0.35) * w, rng.uniform(0.15, 0.22) * h), rng.uniform(-30, 30))
        dx, dy = int(rng.choice([-1, 1]) * 1.5 * w), int(rng.choice([-1, 1]) * 1.5 * h)
        colour[:] = np.roll(image, (dy, dx), axis=(0, 1)).astype(np.float32)
        colour = colour * rng.uniform(0.8, 1.2, 3) + rng.uniform(-20, 20, 3)
    elif kind == "head":
        # The back of another head, coming in from one side: dark hair.
        side = rng.choice([-0.05, 1.05])
        mask = _blob(shape, at(side, rng.uniform(0.4, 0.6)), (rng.uniform(0.4, 0.5) * w, 0.65 * h))
        colour[:] = np.array([rng.uniform(15, 70)] * 3) * rng.uniform(0.85, 1.15, 3)
    else:
        raise ValueError(f"occluder must be one of {', '.join(OCCLUDERS)}, not {kind!r}")
    texture = rng.normal(0, 6, (*shape, 1)).astype(np.float32)
    return mask, np.clip(colour + texture, 0, 255)


def occluded_photos(photos: list[Photo], folder: Path) -> list[Photo]:
    """Faces covered in part: every face of ``MIN_OCCLUDED`` px or more gets an occluder drawn per face
    (sunglasses, a hand, a microphone, food, another head; :func:`occluder`). Smaller faces become ignored
    boxes, so each photo's figures count covered faces only; photos with none are left out. A face counts as
    hidden when 70 % of its whole box is, as everywhere."""
    from PIL import Image

    out = []
    for photo in photos:
        sizes = np.maximum(photo.faces[:, 2] - photo.faces[:, 0], photo.faces[:, 3] - photo.faces[:, 1])
        chosen = sizes >= MIN_OCCLUDED
        if not chosen.any():
            continue
        rng = _draw(photo.name, "occluded")
        image = read_rgb(photo.path).astype(np.float32)
        shape = image.shape[:2]
        for box in photo.faces[chosen]:
            mask, colour = occluder(str(rng.choice(OCCLUDERS)), box, shape, rng, image)
            image = image * (1 - mask[..., None]) + colour * mask[..., None]
        path = folder / (photo.name.replace("/", "__") + ".png")
        Image.fromarray(np.clip(image + 0.5, 0, 255).astype(np.uint8)).save(path)
        ignored = np.concatenate([photo.ignored, photo.faces[~chosen]]).reshape(-1, 4)
        out.append(Photo(path, photo.name, photo.faces[chosen], ignored))
    return out


# ---------------------------------------------------------------- faces pasted into scenes

FACES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "faces"
PASTE_SOURCES = ("lfw", "utkface")
PASTE_SIZES = (12, 640)  # face sizes drawn log-uniform between these (longer side, px), capped by the scene
PASTES_PER_SCENE = 3


def _tune_half(data: Path) -> set[str]:
    """The names of the tune half of the WIDER photos in ``data`` (the split over all of its photos)."""
    from benchmarks.wider_split import tune_names

    return tune_names([p.relative_to(data / "images").as_posix() for p in (data / "images").glob("*/*.jpg")])


def paste_pool(half: str, faces: Path = FACES) -> list[tuple[str, list[float]]]:
    """The face photos pasted into ``half``'s scenes, with their one face's box: LFW and UTKFace photos where
    the default detector found exactly one face at 0.5 or more (``faces/detections.json``). The pool is split
    in two by person (LFW: the folder; UTKFace: the file), by a hash, so that no one is in both halves."""
    import json
    import zlib

    with open(faces / "detections.json") as f:
        images = json.load(f)["images"]
    pool = []
    for entry in images:
        source = entry["input"].split("/", 1)[0]
        found = [face for face in entry.get("faces", []) if face["score"] >= 0.5]
        if source not in PASTE_SOURCES or len(found) != 1 or len(entry.get("faces", [])) != 1:
            continue
        person = entry["input"].rsplit("/", 1)[0] if source == "lfw" else entry["input"]
        if (zlib.crc32(person.encode()) % 2 == 0) == (half == "tune"):
            pool.append((entry["input"], found[0]["box"]))
    return pool


def _overlaps(box: np.ndarray, others: list[np.ndarray]) -> bool:
    return any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in others)


def pasted_photos(photos: list[Photo], folder: Path, faces: Path = FACES) -> list[Photo]:
    """Face photos pasted into the scenes: each WIDER photo gets ``PASTES_PER_SCENE`` faces from the pool of its
    half (:func:`paste_pool`), each at a size drawn log-uniform over ``PASTE_SIZES`` (the face's longer side; at
    most half the scene's shorter side), placed at random where it covers no annotated face, in one of two
    ways drawn per face: ``print``, the whole face photo as a picture on a poster or screen (a light or dark
    frame round it), or ``blend``, the head alone, its edge feathered into the scene. The scene's own faces
    become ignored boxes: the figures count the pasted faces only."""
    import cv2
    from PIL import Image

    if not photos:
        return []
    pools = {half: paste_pool(half, faces) for half in ("tune", "report")}
    tune = _tune_half(photos[0].path.parents[2])  # photo.path: DATA/images/EVENT/FILE
    out = []
    for photo in photos:
        rng = _draw(photo.name, "pasted")
        pool = pools["tune" if photo.name in tune else "report"]
        image = read_rgb(photo.path).astype(np.float32)
        h, w = image.shape[:2]
        taken = [b.astype(np.float64) for b in np.concatenate([photo.faces, photo.ignored]).reshape(-1, 4)]
        boxes = []
        for _ in range(PASTES_PER_SCENE):
            name, fbox = pool[int(rng.integers(len(pool)))]
            source = read_rgb(faces / name).astype(np.float32)
            sh, sw = source.shape[:2]
            fbox = np.clip(np.array(fbox), 0, [sw, sh, sw, sh])
            top = min(PASTE_SIZES[1], 0.5 * min(h, w))
            size = float(np.exp(rng.uniform(np.log(PASTE_SIZES[0]), np.log(max(top, PASTE_SIZES[0] + 1)))))
            f = size / max(fbox[2] - fbox[0], fbox[3] - fbox[1])
            pw, ph = max(2, int(round(sw * f))), max(2, int(round(sh * f)))
            if pw >= w or ph >= h:
                continue
            mode = "print" if rng.random() < 0.5 else "blend"
            frame = max(1, int(0.04 * max(pw, ph))) if mode == "print" else 0
            for _try in range(30):
                x0 = int(rng.integers(frame, w - pw - frame + 1)) if w - pw - 2 * frame > 0 else -1
                y0 = int(rng.integers(frame, h - ph - frame + 1)) if h - ph - 2 * frame > 0 else -1
                if x0 < 0 or y0 < 0:
                    break
                extent = np.array([x0 - frame, y0 - frame, x0 + pw + frame, y0 + ph + frame], np.float64)
                if not _overlaps(extent, taken):
                    break
            else:
                continue
            if x0 < 0 or y0 < 0:
                continue
            patch = cv2.resize(source, (pw, ph), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
            face = (fbox * f + [x0, y0, x0, y0]).round().astype(np.int64)
            if mode == "print":
                image[extent[1].astype(int) : extent[3].astype(int), extent[0].astype(int) : extent[2].astype(int)] = (
                    rng.choice([235.0, 25.0])
                )
                # A print or a screen is lit unlike the scene: a little brighter or dimmer, flatter.
                image[y0 : y0 + ph, x0 : x0 + pw] = np.clip(
                    patch * rng.uniform(0.75, 1.1) + rng.uniform(-10, 20), 0, 255
                )
            else:
                centre = ((face[0] + face[2]) / 2 - x0, (face[1] + face[3]) / 2 - y0)
                axes = (0.62 * (face[2] - face[0]), 0.75 * (face[3] - face[1]))
                mask = _blob((ph, pw), centre, axes)
                mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, 0.06 * max(axes)))[..., None]
                region = image[y0 : y0 + ph, x0 : x0 + pw]
                image[y0 : y0 + ph, x0 : x0 + pw] = region * (1 - mask) + patch * mask
            taken.append(extent)
            boxes.append(np.clip(face, [x0, y0, x0, y0], [x0 + pw, y0 + ph, x0 + pw, y0 + ph]))
        if not boxes:
            continue
        path = folder / (photo.name.replace("/", "__") + ".png")
        Image.fromarray(np.clip(image + 0.5, 0, 255).astype(np.uint8)).save(path)
        ignored = np.concatenate([photo.faces, photo.ignored]).reshape(-1, 4)
        out.append(Photo(path, photo.name, np.array(boxes, np.int64).reshape(-1, 4), ignored))
    return out


HARD_MAKERS = {
    "upscale": upscale_photos,
    "dark": dark_photos,
    "tilt": tilt_photos,
    "occluded": occluded_photos,
    "pasted": pasted_photos,
}


def make_set(name: str, photos: list[Photo], folder: Path) -> list[Photo]:
    """The photos as they are (``photos``), cut through a face (``cut``), or a hard set, written into ``folder``."""
    if name == "photos":
        return photos
    if name == "cut":
        return cut_photos(photos, folder)
    return HARD_MAKERS[name](photos, folder)


def over_sets(names: str, photos: list[Photo], run: Callable[[list[Photo]], dict]) -> dict[str, dict]:
    """``run(set)`` on each set of ``names`` (a comma list for :func:`make_set`) made from ``photos`` in a
    temporary folder, each set's time said on stderr: {name: what ``run`` gave}."""
    results = {}
    for name in names.split(","):
        chosen = make_set(name, photos, Path(tempfile.mkdtemp(prefix=f"{name}-")))
        started = time.time()
        results[name] = run(chosen)
        print(f"{name}: {len(chosen)} photos, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    return results


def command_line(module: str, argv: list[str] | None) -> str:
    """How ``python -m benchmarks.MODULE`` was run: ``argv``, or the process's own arguments when None."""
    return f"python -m benchmarks.{module} " + " ".join(sys.argv[1:] if argv is None else argv)


def write_results(out: Path, markdown: str, command: str, sets: dict) -> None:
    """``markdown`` into ``out`` and {command, sets} as JSON beside it (``out`` with ``.json``); printed too."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "sets": sets}, indent=1) + "\n")
    print(markdown)


def pick(photos: list[Photo], limit: int | None) -> list[Photo]:
    """``limit`` photos spread evenly over the (event-sorted) list, so every event is in."""
    if not limit or limit >= len(photos):
        return photos
    idx = np.linspace(0, len(photos) - 1, limit).round().astype(int)
    return [photos[i] for i in sorted(set(idx.tolist()))]


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
