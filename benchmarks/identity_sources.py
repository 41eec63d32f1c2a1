"""Where does a method's "same person" come from: the person, or only who they look like at a glance?

A generator that fits a new face to the hair, neck and clothes gives it the sex, age and skin tone they suggest,
and dlib calls two different people of the same sex, age and origin the same person more often than two people
at random. So a method's share of faces within 0.6 of their own original mixes two things: the individual given
back, and the demographics it is meant to keep. UTKFace's file names carry age, sex and race
(``<age>_<sex>_<race>_<date>.jpg``), which tells them apart. For each held-out UTKFace face and method, against
the originals of

* **its own** photo: the share the report calls the same person;
* **others like it**: every other UTKFace face of the same sex and race whose age is within ``--age-band``
  years (the share of those pairs, averaged over faces);
* **anyone**: every other UTKFace face.

The ``original`` row puts the original face itself in the method's place: how often dlib calls two real people
the same (its floor for "others like it" and "anyone"). A method whose share for its own original is no higher
than for others like it gives back demographics only; the gap between the two is the individual.

Reads the ``descriptors.npz`` that ``benchmarks/quality.py --save-descriptors`` writes, and writes
``identity_sources.md`` and ``.json``::

    python -m benchmarks.quality --methods gan,swap --donors data/aligned128 ... --save-descriptors --out /tmp/q
    python -m benchmarks.identity_sources --descriptors /tmp/q/descriptors.npz --out /tmp/q
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.quality_identity import demographics, like_person
from benchmarks.quality_metrics import SAME_PERSON, wilson


def shares(query: np.ndarray, original: np.ndarray, people: np.ndarray, age_band: int) -> dict:
    """Same-person shares of ``query[i]`` against ``original[i]`` (own), against the originals of every other face
    of the same sex and race within ``age_band`` years (like), and against every other face (anyone)."""
    n = len(query)
    dist = np.linalg.norm(query[:, None, :] - original[None, :, :], axis=2)
    same = dist < SAME_PERSON
    others = ~np.eye(n, dtype=bool)
    like = others & np.stack([like_person(people, person, age_band) for person in people]) if n else others
    own = int(np.diag(same).sum())
    has_like = like.any(axis=1)
    like_share = [same[i, like[i]].mean() for i in range(n) if has_like[i]]
    anyone = [same[i, others[i]].mean() for i in range(n)] if n > 1 else []
    return {
        "faces": n,
        "own": own,
        "own_share": own / n if n else None,
        "own_ci95": wilson(own, n),
        "faces_with_others_like": int(has_like.sum()),
        "others_like_share": float(np.mean(like_share)) if like_share else None,
        "anyone_share": float(np.mean(anyone)) if anyone else None,
        "own_distance": float(np.diag(dist).mean()) if n else None,
        "others_like_distance": float(np.mean([dist[i, like[i]].mean() for i in range(n) if has_like[i]]))
        if has_like.any()
        else None,
    }


def measure(npz: dict, age_band: int, min_size: float) -> dict:
    photos = npz["photo"]
    people = demographics(photos)
    keep = (people[:, 0] >= 0) & (npz["size"] >= min_size)
    original = npz["original"][keep]
    people = people[keep]
    methods = [k.removeprefix("anonymized_") for k in npz if k.startswith("anonymized_")]
    rows = {"original": shares(original, original, people, age_band)}
    for m in methods:
        rows[m] = shares(npz[f"anonymized_{m}"][keep], original, people, age_band)
    return {"age_band": age_band, "min_size": min_size, "faces": int(keep.sum()), "methods": rows}


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def markdown(result: dict, source: str) -> str:
    lines = [
        "# Same person: the individual, or who they look like",
        "",
        f"Held-out UTKFace faces of >= {result['min_size']:g} px: {result['faces']}. Each method's face against the "
        f"original of its own photo, of every other face of the same sex and race within {result['age_band']} years "
        "(others like it), and of every other face (anyone); the share dlib puts within "
        f"{SAME_PERSON} (the same person). `original`: the original face itself in the method's place (its own row "
        "is 100 % by definition; the other two are dlib's rates for two real people).",
        "",
        "| method | own original | others like it | anyone | own minus like it | mean distance, own | mean distance, like it |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in result["methods"].items():
        gap = (
            None
            if r["own_share"] is None or r["others_like_share"] is None
            else r["own_share"] - r["others_like_share"]
        )
        gap_text = "–" if gap is None else f"{100 * gap:+.1f} points"
        lines.append(
            f"| {'`original`' if name == 'original' else name} | {_pct(r['own_share'])} ({r['own']}/{r['faces']}) | "
            f"{_pct(r['others_like_share'])} | {_pct(r['anyone_share'])} | {gap_text} | "
            f"{r['own_distance']:.3f} | {r['others_like_distance']:.3f} |"
        )
    lines += ["", f"From `{source}`; `python -m benchmarks.identity_sources --descriptors {source}`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--descriptors", required=True, help="descriptors.npz from benchmarks/quality.py --save-descriptors")
    p.add_argument("--age-band", type=int, default=5, help="others like it: at most this many years apart")
    p.add_argument("--min-size", type=float, default=0, help="faces whose box's longer side is at least this (px)")
    p.add_argument("--out", required=True, help="folder for identity_sources.md and .json")
    args = p.parse_args(argv)
    path = Path(args.descriptors)
    if not path.is_file():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    with np.load(path) as f:
        npz = {k: f[k] for k in f.files}
    result = measure(npz, args.age_band, args.min_size)
    if not result["faces"]:
        print(f"no UTKFace faces in {path}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "identity_sources.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result, str(path))
    (out / "identity_sources.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
