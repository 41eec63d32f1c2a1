"""The quality benchmark's summary and report: per method and size band, the bars of 'done when', the markdown and the CSV.

Part of ``python -m benchmarks.quality`` (see its docstring).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.quality_data import FaceRecord
from benchmarks.quality_identity import reidentified
from benchmarks.quality_metrics import (
    AT_LEAST,
    FACE_SETS,
    MAX_AUC,
    MAX_FRECHET_RATIO,
    MIN_RETENTION,
    ORIGINAL,
    OTHER,
    REALISM_FACES,
    REALISM_MIN_SIZE,
    SAME_PERSON,
    SANITY,
    SIZE_BANDS,
    SWAP,
    derangement,
    frechet_against_halves,
    halves_auc,
    realism_auc,
    size_band,
    wilson,
)


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


def _score(records: list[FaceRecord], variant: str, perm: list[int] | None = None) -> dict:
    """One method's row for ``records``; ``perm`` pairs each face with another photo's (the `other person` row's
    :func:`derangement`), for the share of its faces dlib matches to that other original."""
    n = len(records)
    ids = [r.identity for r in records]
    gallery = np.stack([r.descriptor for r in records]) if n else np.zeros((0, 128))
    queries = np.stack([r.anonymized[variant] for r in records]) if n else np.zeros((0, 128))
    reid = int(reidentified(queries, gallery, ids, ids).sum())
    # The same person as another photo's original (the `other person` row's pairs): a method whose faces are close
    # to everyone's (a generic face) scores high here as well as on its own original; one that gives identity
    # back scores high on its own original alone.
    other = None
    if perm is not None and n >= 2:
        other = int((np.linalg.norm(queries - gallery[perm], axis=1) < SAME_PERSON).sum())
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
    # Retention of the faces the method painted itself (not its fallback's: a blurred face is not found again).
    painted = [r for r in records if r.painted.get(variant)] if all(variant in r.painted for r in records) else None
    kept = sum(r.retained[variant] for r in painted) if painted is not None else None
    return {
        "faces": n,
        "retained": retained,
        "retention": retained / n if n else None,
        "retention_ci95": wilson(retained, n),
        "painted": len(painted) if painted is not None else None,
        "painted_retained": kept,
        "painted_retention": kept / len(painted) if painted else None,
        "same_person": same,
        "same_person_share": same / n if n else None,
        "same_person_ci95": wilson(same, n),
        "same_person_beyond_solid": beyond,
        "same_person_beyond_solid_share": beyond / n if n and beyond is not None else None,
        "same_person_beyond_solid_ci95": wilson(beyond, n) if beyond is not None else None,
        "mean_distance": float(np.mean(dists)) if n else None,
        "median_distance": float(np.median(dists)) if n else None,
        "same_as_other": other,
        "same_as_other_share": other / n if other is not None else None,
        "same_as_other_ci95": wilson(other, n) if other is not None else None,
        "reidentified": reid,
        "reidentified_share": reid / n if n else None,
        "reidentified_ci95": wilson(reid, n),
        "gallery": n,
    }


def _other_person(records: list[FaceRecord], perm: list[int]) -> dict:
    n = len(records)
    desc = np.stack([r.descriptor for r in records]) if n else np.zeros((0, 128))
    dists = np.linalg.norm(desc - desc[perm], axis=1) if n >= 2 else np.zeros(0)
    same = int((dists < SAME_PERSON).sum())
    m = len(dists)
    return {
        "faces": m,
        "retained": None,
        "retention": None,
        "retention_ci95": None,
        "painted": None,
        "painted_retained": None,
        "painted_retention": None,
        "same_person": same,
        "same_person_share": same / m if m else None,
        "same_person_ci95": wilson(same, m),
        "same_person_beyond_solid": None,
        "same_person_beyond_solid_share": None,
        "same_person_beyond_solid_ci95": None,
        "mean_distance": float(dists.mean()) if m else None,
        "median_distance": float(np.median(dists)) if m else None,
        "same_as_other": same,
        "same_as_other_share": same / m if m else None,
        "same_as_other_ci95": wilson(same, m),
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
        perm = derangement([r.group for r in recs], seed)  # one pairing for the row and every method's column
        for variant in variants:
            rows.append({"dataset": name, "method": variant, **_score(recs, variant, perm)})
        rows.append({"dataset": name, "method": OTHER, **_other_person(recs, perm)})
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
        if s.get("gan_truncation", 1.0) != 1.0:
            lines.append(f"Latent codes scaled by {s['gan_truncation']:g} (truncation).")
        if s.get("gan_fallback"):
            lines.append(f"Faces the GAN declines are painted by `{s['gan_fallback']}` (not pixelated).")
        lines.append("")
    if s.get("heldout_skip"):
        lines += [f"Held-out sample: seed {s['seed']}, its first {s['heldout_skip']} photos left out.", ""]
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
        f"**As another's original**: share whose descriptor lies within {s['same_person_threshold']} of another photo's original face (the `{OTHER}` row's pairs): "
        "high here as well as on its own original, the method's faces are close to everyone's (a generic face); high on its own original alone, it gives identity back.",
        "**Beyond solid**: share that is the same person under this method but not under a solid box over the same region: "
        "what the method's own pixels give away, beyond the hair, ears, clothes and background that every method leaves (needs `solid` in the run).",
        f"**Re-identified**: share whose nearest original descriptor, among all scored faces of the same data, is their own original (rank-1, no threshold; LFW photos of the same person count as a hit; chance is 1/faces, shown on the `{OTHER}` row).",
        "",
        "| data | method | faces | retention | same person | as another's original | beyond solid | mean distance | re-identified |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
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
            "| set | method | faces | retention | same person | as another's original | beyond solid | mean distance | re-identified |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [_row(r["dataset"].split("/", 1)[1], r) for r in sub]
    by_size = [r for r in result["results"] if "@" in r["dataset"]]
    if by_size:
        lines += [
            "",
            "By face size (the box's longer side in the original; `other person` pairs faces of the same band):",
            "",
            "| data | size | method | faces | retention | same person | as another's original | beyond solid | mean distance | re-identified |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
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
        "Painted: the faces of >= 64 px the method hid itself, not its fallback (a face too small for it or, for the "
        "aligned generator, whose landmarks fit no frontal face), and the share of those found again.",
        "",
        f"| method | faces >= {lo} px | retention >= {lo} px | faces >= 64 px | retention >= 64 px | painted >= 64 px | retention of painted >= 64 px |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    header = len(lines)
    for variant in [*result["settings"]["methods"], SANITY]:
        cells = []
        for group in ("wider", "wider@>= 64 px"):
            row = by.get((group, variant))
            cells += ["0", "–"] if row is None else [str(row["faces"]), f"{_pct(row['retention'])} ({row['retained']})"]
        row = by.get(("wider@>= 64 px", variant)) or {}
        k = row.get("painted")
        cells += ["–", "–"] if k is None else [str(k), f"{_pct(row['painted_retention'])} ({row['painted_retained']})"]
        if cells[0] != "0" or cells[2] != "0":
            name = f"`{variant}`" if variant == SANITY else variant
            lines.append(f"| {name} | {' | '.join(cells)} |")
    return [*lines, ""] if len(lines) > header else []


def _row(name: str, row: dict) -> str:
    ret = "–" if row["retention"] is None else f"{_pct(row['retention'])} ({row['retained']}/{row['faces']})"
    same = f"{_pct(row['same_person_share'])} ({row['same_person']}/{row['faces']})"
    dist = "–" if row["mean_distance"] is None else f"{row['mean_distance']:.3f}"
    o = row.get("same_as_other")
    other = "–" if o is None else f"{_pct(row['same_as_other_share'])} ({o}/{row['faces']})"
    k = row.get("same_person_beyond_solid")
    beyond = "–" if k is None else f"{_pct(row['same_person_beyond_solid_share'])} ({k}/{row['faces']})"
    method = f"`{row['method']}`" if row["method"] in (SANITY, OTHER) else row["method"]
    if row["reidentified"] is None:
        reid = "–" if row["reidentified_share"] is None else f"{_pct(row['reidentified_share'])} (chance)"
    else:
        reid = f"{_pct(row['reidentified_share'])} ({row['reidentified']}/{row['faces']})"
    return f"| {name} | {method} | {row['faces']} | {ret} | {same} | {other} | {beyond} | {dist} | {reid} |"


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
