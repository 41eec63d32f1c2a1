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
per-face ``quality.csv`` to ``--out``, and ``samples_gan.jpg`` (32 held-out faces,
original | gan, the distance under each pair), ``samples_gan_large.png``
(``--large-samples`` held-out faces whose box is >= 128 px, at full size, original
| gan) and ``samples_methods.png`` (a few faces under every method) to
``--samples-dir``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from anonymizer.models.io import read_info

from anonymizer.imageio import ImageReadError, read_image
from anonymizer.pipeline import Anonymizer
from benchmarks.common import ROOT
from benchmarks.quality_data import (
    FaceRecord,
    Photo,
    ReidFace,
    SampleFace,
    heldout_photos,
    person_of,
    reid_photos,
    validation_rels,
    wider_photos,
)
from benchmarks.quality_identity import (
    DonorReplacer,
    Recognizer,
    _layout,
    demographics,
    dlib_model_dir,
    gallery_reid,
    reidentified,
    similarity,
)
from benchmarks.quality_metrics import (
    AT_LEAST,
    DATA,
    FACE_SETS,
    JPEG_QUALITY,
    LARGE_GROW,
    LARGE_MIN_SIZE,
    MAX_AUC,
    MAX_FRECHET_RATIO,
    METHODS,
    MIN_RETENTION,
    ORIGINAL,
    OTHER,
    REALISM_FACES,
    REALISM_MIN_SIZE,
    REID_MARGIN,
    SAME_PERSON,
    SAME_PERSON_MARGIN,
    SANITY,
    SIZE_BANDS,
    SWAP,
    SWAP_LIKE,
    VAL_FRACTION,
    classifier_auc,
    derangement,
    face_box_int,
    finite_pairs,
    frechet_against_halves,
    frechet_distance,
    grouped_folds,
    halves_auc,
    jpeg_roundtrip,
    match_faces,
    realism_auc,
    size_band,
    split_halves,
    wilson,
)
from benchmarks.quality_report import (
    _done_when_lines,
    _num,
    _other_person,
    _pct,
    _realism_large_lines,
    _realism_lines,
    _row,
    _score,
    _wider_retention_lines,
    done_when,
    markdown,
    realism_summary,
    summarize,
    write_csv,
)
from benchmarks.quality_sheets import (
    _grid,
    _label,
    _save_sheet,
    full_size_crop,
    full_size_sheet,
    methods_sheet,
    pair_sheet,
    sample_crop,
)

# The parts' names, used from here by the other benchmarks and the tests.
__all__ = [
    "AT_LEAST",
    "DATA",
    "DonorReplacer",
    "FACE_SETS",
    "FaceRecord",
    "JPEG_QUALITY",
    "LARGE_GROW",
    "LARGE_MIN_SIZE",
    "MAX_AUC",
    "MAX_FRECHET_RATIO",
    "METHODS",
    "MIN_RETENTION",
    "ORIGINAL",
    "OTHER",
    "Photo",
    "REALISM_FACES",
    "REALISM_MIN_SIZE",
    "REID_MARGIN",
    "Recognizer",
    "ReidFace",
    "SAME_PERSON",
    "SAME_PERSON_MARGIN",
    "SANITY",
    "SIZE_BANDS",
    "SWAP",
    "SWAP_LIKE",
    "SampleFace",
    "VAL_FRACTION",
    "_done_when_lines",
    "_grid",
    "_label",
    "_layout",
    "_num",
    "_other_person",
    "_pct",
    "_realism_large_lines",
    "_realism_lines",
    "_row",
    "_save_sheet",
    "_score",
    "_wider_retention_lines",
    "classifier_auc",
    "derangement",
    "dlib_model_dir",
    "done_when",
    "face_box_int",
    "finite_pairs",
    "frechet_against_halves",
    "frechet_distance",
    "full_size_crop",
    "full_size_sheet",
    "gallery_reid",
    "gan_seed",
    "grouped_folds",
    "halves_auc",
    "heldout_photos",
    "jpeg_roundtrip",
    "main",
    "markdown",
    "match_faces",
    "methods_sheet",
    "pair_sheet",
    "parse_args",
    "person_of",
    "realism_auc",
    "realism_summary",
    "reid_photos",
    "reidentified",
    "run",
    "sample_crop",
    "similarity",
    "size_band",
    "split_halves",
    "summarize",
    "validation_rels",
    "wider_photos",
    "wilson",
    "write_csv",
]


def run(args: argparse.Namespace) -> dict:
    import torch
    from tqdm import tqdm

    if args.threads:
        torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in (*METHODS, SWAP, SWAP_LIKE):
            raise SystemExit(f"unknown method {m!r}: use {', '.join((*METHODS, SWAP, SWAP_LIKE))}")
    if (SWAP in methods or SWAP_LIKE in methods) and not args.donors:
        raise SystemExit(f"{SWAP} needs --donors: a folder of prepared crops (anonymize-train prepare)")

    photos = heldout_photos(Path(args.faces_dir), args.limit, args.seed)[args.skip :] if args.limit > 0 else []
    if args.sets:
        sets = [name.strip() for name in args.sets.split(",") if name.strip()]
        unknown = sorted(set(sets) - set(FACE_SETS))
        if unknown:
            raise SystemExit(f"unknown --sets {', '.join(unknown)}: use {', '.join(FACE_SETS)}")
        photos = [p for p in photos if p.subset in sets]
    photos += wider_photos(Path(args.wider_dir), args.wider_limit, args.seed) if args.wider_limit > 0 else []
    if not photos:
        raise SystemExit("nothing to measure: --limit and --wider-limit are both 0")

    recognizer = Recognizer()
    base = Anonymizer(method="blur", device=args.device)
    detector = base.detector
    anonymizers: dict[str, Anonymizer] = {}
    weights_info: dict | None = None
    for m in methods:
        if m in (SWAP, SWAP_LIKE):
            from anonymizer.gan import GanReplacer

            geometry = GanReplacer(args.weights, device="cpu")  # the GAN's crop size, region and face-size floor
            swap = DonorReplacer(Path(args.donors), geometry, args.seed, args.donor_pool, like=m == SWAP_LIKE)
            anonymizers[m] = Anonymizer(replacer=swap, detector=detector)
            continue
        options = {}
        if m == "gan":
            options = dict(
                weights=args.weights, seed=gan_seed(args), seam=args.gan_seam, truncation=args.gan_truncation
            )
        fallback = None
        if m == "gan" and args.gan_fallback:
            # Faces the GAN declines (too small, or for the aligned generator not alignable) painted by another
            # generator (e.g. the box-frame one) instead of the pipeline's pixelation.
            from anonymizer.gan import GanReplacer

            fallback = GanReplacer(args.gan_fallback, device=args.device, seed=gan_seed(args))
        anonymizers[m] = Anonymizer(method=m, detector=detector, device=args.device, fallback=fallback, **options)
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
                if variant == SWAP_LIKE:  # a donor like the person in this photo (UTKFace's file name)
                    anonymizers[variant].replacer.want = demographics([photo.rel])[0]
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
            if variant != SANITY:
                for rec, i in zip(recs, scored):
                    rec.painted[variant] = given[i].fallback is None
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
            "gan_seam": args.gan_seam,
            "gan_truncation": args.gan_truncation,
            "gan_fallback": args.gan_fallback or None,
            "methods": methods,
            "heldout_limit": args.limit,
            "heldout_skip": args.skip,
            "heldout_sets": args.sets or ",".join(FACE_SETS),
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
    if args.save_descriptors:
        save_descriptors(out / "descriptors.npz", records, variants)
    if samples and args.samples_dir:
        sdir = Path(args.samples_dir)
        sdir.mkdir(parents=True, exist_ok=True)
        if "gan" in methods:
            pair_sheet(samples, "gan", sdir / "samples_gan.jpg", args.tile)
        methods_sheet(samples[: args.method_samples], methods, sdir / "samples_methods.png", args.tile)
    if large and args.samples_dir:
        for method in ("gan", SWAP):
            if method in methods:
                full_size_sheet(large, method, Path(args.samples_dir) / f"samples_{method}_large.png")
    return result


def save_descriptors(path: Path, records: list[FaceRecord], variants: list[str]) -> None:
    """Every scored face's dlib descriptor, original and after each method, with its photo, set, size and
    identity group, for analyses the report does not make (benchmarks/identity_sources.py)."""
    n = len(records)
    arrays = {
        "photo": np.array([r.photo for r in records]),
        "dataset": np.array([r.dataset for r in records]),
        "subset": np.array([r.subset for r in records]),
        "group": np.array([r.group for r in records]),
        "size": np.array([r.size for r in records], dtype=np.float32),
        "original": np.stack([r.descriptor for r in records]).astype(np.float32) if n else np.zeros((0, 128)),
    }
    for v in variants:
        arrays[f"anonymized_{v}"] = (
            np.stack([r.anonymized[v] for r in records]).astype(np.float32) if n else np.zeros((0, 128))
        )
    np.savez_compressed(path, **arrays)


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
    p.add_argument("--gan-seam", default="shift", help="how the GAN's face meets the photo: shift or blend")
    p.add_argument(
        "--gan-truncation", type=float, default=1.0, help="the GAN's latent codes scaled by this (0-1; 1: as drawn)"
    )
    p.add_argument(
        "--gan-fallback",
        default="",
        help="generator weights that paint the faces the GAN declines (default: none, the pipeline pixelates them)",
    )
    p.add_argument(
        "--skip",
        type=int,
        default=0,
        help="leave out the held-out sample's first N photos (of --limit): a sample apart from the learning "
        "curve's, which stops at about 700 photos of its seed-0 sample of 3,000",
    )
    p.add_argument(
        "--sets",
        default="",
        help="held-out photos of these sets only, comma-separated from lfw,celeba,utkface (default: all three)",
    )
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument(
        "--samples-dir", default=str(ROOT / "docs"), help="where samples_gan.jpg / samples_methods.png go ('' for none)"
    )
    p.add_argument("--samples", type=int, default=32, help="held-out faces on samples_gan.jpg")
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
    p.add_argument(
        "--save-descriptors",
        action="store_true",
        help="also write descriptors.npz to --out: each scored face's dlib descriptor, original and per method",
    )
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
