"""The fixed split of the WIDER photos into a half to tune on and a half to report on.

Thresholds and settings are chosen on ``tune``; every figure is reported on
``report``, so that the figures say what a photo nobody tuned on gets. The
split is by photo, stratified by event folder (each event's photos, sorted by
name, shuffled with one fixed seed, the first half of them tuned on), so it
does not depend on which other photos are present, only on each event's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HALVES = ("tune", "report", "all")
SEED = 22


def tune_names(names: Sequence[str], seed: int = SEED) -> set[str]:
    """The names (``event/file.jpg``) of the tune half; an event of n photos gives n // 2 of them."""
    events: dict[str, list[str]] = {}
    for name in names:
        events.setdefault(name.split("/", 1)[0], []).append(name)
    tune: set[str] = set()
    for event in sorted(events):
        members = sorted(events[event])
        order = np.random.default_rng([seed, *event.encode()]).permutation(len(members))
        tune.update(members[i] for i in order[: len(members) // 2])
    return tune


def select_half(photos: list, half: str, seed: int = SEED, name=lambda p: p.name) -> list:
    """The photos of ``half``: tune, report or all, in order. ``name`` gives a photo's ``event/file.jpg`` (by
    default its ``name``; the quality benchmark's photos call it ``rel``)."""
    if half not in HALVES:
        raise ValueError(f"half must be one of {', '.join(HALVES)}, not {half!r}")
    if half == "all":
        return list(photos)
    tune = tune_names([name(p) for p in photos], seed)
    return [p for p in photos if (name(p) in tune) == (half == "tune")]
