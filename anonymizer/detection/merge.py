"""Merging what several detectors (or passes) found into one face per person."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anonymizer.boxes import box_iou
from anonymizer.faces import Face


def merge_faces(groups: Sequence[Sequence[Face]], merge_iou: float) -> list[Face]:
    """One face per cluster of boxes overlapping at IoU >= ``merge_iou``, over all ``groups``.

    ``groups`` are the finds of several detectors (or passes), in order of
    preference for landmarks. A merged face hides the union of its cluster's
    boxes (a miss is a leak, a slightly larger region is not), keeps the best
    score, and takes its landmarks from the first group that found it with real
    ones (``Face.source != "estimated"``), else from the first group that found it.
    """
    faces = [(g, f) for g, group in enumerate(groups) for f in group]
    if not faces:
        return []
    boxes = np.stack([f.box for _, f in faces])
    iou = box_iou(boxes, boxes)
    order = sorted(range(len(faces)), key=lambda i: -faces[i][1].score)
    used = np.zeros(len(faces), dtype=bool)
    out = []
    for i in order:
        if used[i]:
            continue
        members = [j for j in order if not used[j] and iou[i, j] >= merge_iou]
        used[members] = True
        cluster = [faces[j] for j in members]
        real = [c for c in cluster if c[1].source != "estimated"]
        g_best, donor = min(real or cluster, key=lambda c: c[0])
        box = np.concatenate(
            [np.min([f.box[:2] for _, f in cluster], axis=0), np.max([f.box[2:] for _, f in cluster], axis=0)]
        )
        out.append(Face(box, max(f.score for _, f in cluster), donor.landmarks.copy(), source=donor.source))
    for f in out:
        f.source = "detector"
    return out
