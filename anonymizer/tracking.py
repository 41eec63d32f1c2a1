"""Face tracks across video frames, with a look-ahead, so that a face the detector misses is still hidden.

Detection runs on every frame; :class:`FaceTracker` links the detections into tracks and decides, a few
frames late, where each track's face is in each frame:

* **Association**: a detection joins the track whose box, carried forward at the track's speed, it overlaps
  most (IoU), or whose centre it lies close to at a similar size (small, fast faces overlap little from one
  frame to the next). Greedy, best pairs first. A detection no track takes starts a new track.
* **Look-ahead**: a frame is decided only once later frames have been detected (``delay``: ``lookahead``, or
  ``entry`` where that is longer). So a face the
  detector misses for a while (turned away, blurred by motion, a threshold flicker) is hidden at the place
  interpolated between the detections before and after the gap, and a face is hidden a few frames
  (``lead``) *before* its first detection, where it was entering the picture or still too small, at the
  place its motion carries it back to. After a track's last detection it stays hidden ``tail`` frames more,
  carried forward.
* **The camera's motion**: where the video gives it (:class:`anonymizer.motion.CameraMotion`, frame to
  frame), a box the detector did not see is carried with the camera's motion plus the face's own motion
  (its detections' motion with the camera's taken out: a line fitted to the detections at that end of the track,
  kept only where it stands out of their jitter). A face on a panning camera moves with the pan, also
  when the pan stops or turns back; without it, a box is carried at its track's last speed.
* **The frame's edges**: a face last seen at the edge of the frame (within a quarter of its size) is leaving
  it, or is cut too far for the detector: its track is carried on, for at most ``exit`` frames, and hidden
  wherever its carried box is in the picture, so the sliver that is still in the picture stays hidden, and a
  face the camera turns back to is hidden again before the detector finds it. A track first seen at the edge
  is hidden back to the frame where its box, carried back, first touches the picture (at most ``entry``
  frames: a face coming in across the edge shows a chin or a forehead long before the detector finds it). A
  carried box is never smaller than the detection it is carried from, nor than the largest of the
  ``OWN_WINDOW`` detections at that end of the track (the boxes of a leaving face shrink as the edge cuts
  it; the face does not). A box the border cuts is widened
  along that border (``EDGE_WIDEN``): the detector's box for a cut face is often narrower than the face.
* **Cuts**: a frame that starts a new shot (``push``'s ``cut``, from :class:`anonymizer.motion.CameraMotion`)
  ends every look-back and carry: a face is not hidden in the shot before the one it was found in, nor carried
  into the next one (a close-up found just after a cut once blurred most of the wide shot before it).
* **Smoothing**: a track's box is the mean of its boxes over ``smooth`` frames either side, but never less
  than the frame's own detection (their union), and it never shrinks by more than ``max_shrink`` of its
  width or height from one frame to the next. Boxes not seen by the detector (interpolated or carried)
  are grown with the number of frames to the nearest detection.

The output is a list of :class:`~anonymizer.faces.Face` per frame with ``track`` set, which the pipeline
hides as any face (the GAN paints one face per track: the same latent code for all its frames). Everything
here is plain geometry: no pixels, no model.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from anonymizer.boxes import box_iou, box_sizes, grow_boxes
from anonymizer.faces import Face

DEFAULT_LOOKAHEAD = 12  # frames decided late: the longest detector gap that is bridged by interpolation
DEFAULT_LEAD = 6  # frames hidden before a track's first detection
DEFAULT_TAIL = 6  # frames hidden after a track's last detection
DEFAULT_SMOOTH = 2  # boxes averaged over this many frames either side
DEFAULT_MAX_SHRINK = 0.1  # a track's box loses at most this share of its width or height per frame
DEFAULT_EXIT = 250  # frames a track last seen at the frame's edge is kept, at most, while its box is in view
# Frames before its first detection a track first seen at the edge is hidden, at most: as long as a face last seen
# there is followed out (10 s at 25 fps). The frames are not held meanwhile (the video is read twice at once), so
# the cost is only that the writer runs this many frames behind the search.
DEFAULT_ENTRY = 250
# A track first found within the clip's first DEFAULT_START frames (1 s at 25 fps) is hidden back to the clip's first
# frame: nothing can be known to have brought the face in, so it was there, missed (turned, covered, too small).
DEFAULT_START = 25
# A video's weak finds: the default detector's scaled-down pass's finds scored from DEFAULT_WEAK up to its own
# threshold (0.45), where no other pass found a face; a track of weak finds only is hidden once it holds
# DEFAULT_CONFIRM of them. Chosen on tune seeds 2, 4 and 5 (benchmarks/results/video_weak_tune.md).
DEFAULT_WEAK = 0.2
DEFAULT_CONFIRM = 3
EDGE_MARGIN = 0.25  # a box this share of its size or closer to the frame's border is at the edge
GROW_PER_FRAME = 0.04  # a box not seen by the detector grows by this share per frame to the nearest detection
MAX_GROW = 1.4
# A face the frame's border cuts shows only a strip (a chin at the top, an ear at a side), and the detector's box
# for it is often narrower than the face (a chin is narrower than a face): such a box is widened along the cut
# border by this factor. Chosen on the tune half's exit clips (benchmarks/results/video_edge_widen.md).
EDGE_WIDEN = 1.3
EDGE_TOUCH = 2.0  # px: a box this close to the border, or past it, is cut by it
OWN_WINDOW = 12  # detections at a track's end whose motion, away from the frame's edge, is the face's own
OWN_MIN = 4  # detections the face's own motion is fitted to, at least (fewer: it is taken to be still)
OWN_SIGNIFICANT = 3.0  # standard errors a fitted slope must reach to count as the face's own motion
MATCH_IOU = 0.2
MATCH_DISTANCE = 0.6  # or: centres closer than this many face sizes, at a similar size
MATCH_SIZE_RATIO = 1.6


@dataclass
class _Obs:
    frame: int
    box: np.ndarray
    landmarks: np.ndarray  # relative to the box: (x - x1) / w, (y - y1) / h
    score: float
    weak: bool = False  # a weak find (``Face.source == "weak"``): hidden only in a confirmed track


@dataclass
class Track:
    """A face followed through the clip: its detections, and where it was hidden (for the report)."""

    id: int
    observations: list[_Obs] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)  # the observations' frames, for bisecting
    hidden: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (frame, box) as decided
    method: str | None = None
    weak: int = 0  # how many of its detections are weak finds
    strong: int = 0  # how many are not

    def add(self, obs: _Obs) -> None:
        self.observations.append(obs)
        self.frames.append(obs.frame)
        if obs.weak:
            self.weak += 1
        else:
            self.strong += 1

    def confirmed(self, confirm: int) -> bool:
        """Whether the track is a face to hide: one detection that is not a weak find, or ``confirm`` weak
        finds."""
        return self.strong > 0 or self.weak >= confirm

    @property
    def last(self) -> _Obs:
        return self.observations[-1]

    @property
    def first_frame(self) -> int | None:
        return self.hidden[0][0] if self.hidden else None

    @property
    def last_frame(self) -> int | None:
        return self.hidden[-1][0] if self.hidden else None

    def to_report(self, tolerance: float = 1.0) -> dict:
        """id, first and last frame, method, and the hidden boxes as keyframes: straight lines between them
        stay within ``tolerance`` px of every frame's box."""
        frames = np.array([f for f, _ in self.hidden])
        boxes = np.array([b for _, b in self.hidden], dtype=np.float64)
        keep = _keyframes(frames, boxes, tolerance)
        return {
            "id": self.id,
            "first_frame": int(frames[0]),
            "last_frame": int(frames[-1]),
            "frames": len(frames),
            "detections": len(self.observations),
            "method": self.method,
            "keyframes": [[int(frames[i]), *(round(float(v), 1) for v in boxes[i])] for i in keep],
        }


def boxes_at(tracks: Iterable[dict], frame: int) -> list[tuple[int, np.ndarray]]:
    """Where report tracks (:meth:`Track.to_report`) hid a face in ``frame``: (track id, box) per track.

    A track hides every frame from its first to its last, so between two keyframes its box is the straight
    line from one to the other (within the tolerance the keyframes were kept at).
    """
    found = []
    for track in tracks:
        if not track["first_frame"] <= frame <= track["last_frame"]:
            continue
        keys = np.asarray(track["keyframes"], dtype=np.float64)
        i = int(np.searchsorted(keys[:, 0], frame, side="right")) - 1
        if i >= len(keys) - 1:
            box = keys[-1, 1:]
        else:
            (f0, *b0), (f1, *b1) = keys[i], keys[i + 1]
            t = (frame - f0) / max(f1 - f0, 1.0)
            box = np.asarray(b0) + t * (np.asarray(b1) - np.asarray(b0))
        found.append((int(track["id"]), box.astype(np.float32)))
    return found


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float32)


def _keyframes(frames: np.ndarray, boxes: np.ndarray, tolerance: float) -> list[int]:
    """Indices of the frames to keep so that linear interpolation between them rebuilds every box."""
    keep = [0]
    start = 0
    for end in range(2, len(frames)):
        span = np.arange(start, end + 1)
        t = (frames[span] - frames[start]) / max(frames[end] - frames[start], 1)
        line = boxes[start] + t[:, None] * (boxes[end] - boxes[start])
        if np.abs(line - boxes[span]).max() > tolerance or frames[end] - frames[end - 1] != 1:
            keep.append(end - 1)
            start = end - 1
    if len(frames) > 1:
        keep.append(len(frames) - 1)
    return keep


class FaceTracker:
    """Links per-frame detections into tracks; see the module's docstring.

    Feed frames in order with :meth:`push` (frame index, that frame's detections); it returns the frames now
    decided, as ``(frame index, faces)``, each frame exactly once and in order, :attr:`delay` frames late.
    :meth:`finish` returns the rest at the clip's end.
    """

    def __init__(
        self,
        lookahead: int = DEFAULT_LOOKAHEAD,
        lead: int = DEFAULT_LEAD,
        tail: int = DEFAULT_TAIL,
        smooth: int = DEFAULT_SMOOTH,
        max_shrink: float = DEFAULT_MAX_SHRINK,
        frame_size: tuple[int, int] | None = None,
        exit: int = DEFAULT_EXIT,
        entry: int = DEFAULT_ENTRY,
        confirm: int = DEFAULT_CONFIRM,
        start: int = DEFAULT_START,
    ) -> None:
        if lookahead < max(lead, smooth):
            raise ValueError("the look-ahead must cover the lead and the smoothing window")
        self.lookahead, self.lead, self.tail, self.smooth = lookahead, lead, tail, smooth
        self.entry = max(entry, lead)
        self.start = min(start, self.entry)  # within the frames decided late
        self.delay = max(lookahead, self.entry)  # frames a frame is decided late
        self.max_shrink = max_shrink
        self.frame_size = frame_size  # (width, height): boxes are clipped to it, and its edges are watched
        self.exit = max(exit, tail)
        self.confirm = max(confirm, 1)
        self._tails: dict[int, tuple[int, int, bool]] = {}  # track id -> (its detections then, its tail, final)
        self._leads: dict[int, int] = {}  # track id -> its lead (its first detection never changes)
        self.tracks: list[Track] = []  # tracks a later frame may still need
        self.finished: list[Track] = []
        self._count = 0
        self._next_frame = 0  # the next frame to push
        self._next_out = 0  # the next frame to decide
        self._last_box: dict[int, np.ndarray] = {}  # track id -> box decided for the previous frame
        self._motion: dict[int, np.ndarray] = {}  # frame -> 3x3 camera motion from the frame before (if known)
        self._cuts: list[int] = []  # frames that start a new shot, in order
        self._warps: dict[tuple[int, int], np.ndarray] = {}  # (from, to) -> composed camera motion
        self._velocities: dict[tuple[int, bool], tuple[int, np.ndarray]] = {}  # (track, newest) -> (seen, v)
        self._whole: dict[tuple[int, bool], tuple[int, np.ndarray]] = {}  # (track, newest) -> (seen, box)

    # -- input -------------------------------------------------------------------------------------------
    def push(
        self, frame: int, faces: Iterable[Face], motion: np.ndarray | None = None, cut: bool = False
    ) -> list[tuple[int, list[Face]]]:
        """``motion``: the camera's motion from the previous frame to this one, a 2x3 similarity on pixels
        (:class:`anonymizer.motion.CameraMotion`); None for a still camera or an unknown motion. ``cut``: this
        frame starts a new shot (``CameraMotion.cut``): no box is carried back or forward across it."""
        if frame != self._next_frame:
            raise ValueError(f"frames must be pushed in order: expected {self._next_frame}, got {frame}")
        self._next_frame += 1
        if cut:
            self._cuts.append(frame)
        if motion is not None:
            self._motion[frame] = np.vstack([np.asarray(motion, np.float64).reshape(2, 3), [0.0, 0.0, 1.0]])
        self._associate(frame, list(faces))
        out = []
        while self._next_out <= frame - self.delay:
            out.append((self._next_out, self._decide(self._next_out)))
            self._next_out += 1
        return out

    def finish(self) -> list[tuple[int, list[Face]]]:
        out = []
        while self._next_out < self._next_frame:
            out.append((self._next_out, self._decide(self._next_out)))
            self._next_out += 1
        return out

    @property
    def all_tracks(self) -> list[Track]:
        """Every track so far, in the order they started (their ids)."""
        return sorted(self.finished + self.tracks, key=lambda t: t.id)

    def _associate(self, frame: int, faces: list[Face]) -> None:
        live = [t for t in self.tracks if frame - t.last.frame <= self.lookahead + self._tail_of(t)]
        pairs = []
        if live and faces:
            predicted = np.stack([self._carry(t, t.last, frame) for t in live])
            found = np.stack([f.box for f in faces]).astype(np.float32)
            iou = box_iou(predicted, found)
            size_p = np.maximum(box_sizes(predicted), 1.0)[:, None]
            size_f = np.maximum(box_sizes(found), 1.0)[None, :]
            ratio = np.maximum(size_p, size_f) / np.minimum(size_p, size_f)
            centre_p = (predicted[:, :2] + predicted[:, 2:]) / 2
            centre_f = (found[:, :2] + found[:, 2:]) / 2
            distance = np.linalg.norm(centre_p[:, None, :] - centre_f[None, :, :], axis=2) / size_p
            ok = (iou >= MATCH_IOU) | ((distance <= MATCH_DISTANCE) & (ratio <= MATCH_SIZE_RATIO))
            for ti, fi in zip(*np.nonzero(ok)):
                pairs.append((float(iou[ti, fi] - distance[ti, fi]), int(ti), int(fi)))
        pairs.sort(reverse=True)
        taken_t, taken_f = set(), set()
        for _, ti, fi in pairs:
            if ti in taken_t or fi in taken_f:
                continue
            taken_t.add(ti)
            taken_f.add(fi)
            live[ti].add(_observation(frame, faces[fi]))
        for fi, face in enumerate(faces):
            if fi not in taken_f:
                self._count += 1
                track = Track(id=self._count)
                track.add(_observation(frame, face))
                self.tracks.append(track)

    # -- output ------------------------------------------------------------------------------------------
    def _decide(self, frame: int) -> list[Face]:
        faces = []
        for track in self.tracks:
            # a track of weak finds only is hidden once enough of them confirm it; the look-ahead (``delay``
            # frames) has seen them by then, so all its frames are hidden, from the first
            placed = self._place(track, frame) if track.confirmed(self.confirm) else None
            if placed is None:
                self._last_box.pop(track.id, None)
                continue
            box, rel, score, seen = placed
            box = self._limit_shrink(track.id, box)
            if self.frame_size is not None:
                w, h = self.frame_size
                clipped = np.clip(box, [0, 0, 0, 0], [w, h, w, h])
                if clipped[2] - clipped[0] < 1 or clipped[3] - clipped[1] < 1:
                    self._last_box.pop(track.id, None)
                    continue
            self._last_box[track.id] = box  # before widening at the edge: the widening never compounds
            wh = np.array([box[2] - box[0], box[3] - box[1]], dtype=np.float32)
            landmarks = box[:2] + rel * wh
            if self.frame_size is not None:
                box = widen_at_edge(box, self.frame_size)
            track.hidden.append((frame, box.copy()))
            faces.append(
                Face(box=box, score=score, landmarks=landmarks, source="detector" if seen else "track", track=track.id)
            )
        # tracks no later frame can need (nor any detection join) leave the working list
        done = [t for t in self.tracks if t.last.frame < frame - self._tail_of(t)]
        if done:
            self.finished.extend(done)
            ended = {t.id for t in done}
            self.tracks = [t for t in self.tracks if t.id not in ended]
            for t in done:
                self._tails.pop(t.id, None)
                self._leads.pop(t.id, None)
                self._velocities.pop((t.id, True), None)
                self._velocities.pop((t.id, False), None)
                self._whole.pop((t.id, True), None)
                self._whole.pop((t.id, False), None)
        oldest = min([t.last.frame for t in self.tracks] + [frame]) - self.smooth - 1
        for key in [k for k in self._warps if max(k) < oldest]:
            del self._warps[key]
        return faces

    def _place(self, track: Track, frame: int) -> tuple[np.ndarray, np.ndarray, float, bool] | None:
        """The track's box at ``frame`` (smoothed), its landmarks relative to it, a score, and whether the
        detector saw it there; None when the track is not in that frame."""
        raw = self._raw(track, frame)
        if raw is None:
            return None
        box, rel, score, seen = raw
        window = [self._raw(track, f) for f in range(frame - self.smooth, frame + self.smooth + 1)]
        boxes = np.array([r[0] for r in window if r is not None])
        smoothed = boxes.mean(axis=0)
        union = np.concatenate([np.minimum(smoothed[:2], box[:2]), np.maximum(smoothed[2:], box[2:])])
        if seen:
            rel = (rel * (box[2:] - box[:2]) + box[:2] - union[:2]) / np.maximum(union[2:] - union[:2], 1e-3)
        return union.astype(np.float32), rel.astype(np.float32), score, seen

    def _raw(self, track: Track, frame: int) -> tuple[np.ndarray, np.ndarray, float, bool] | None:
        """Before smoothing: the detection at ``frame``, or the interpolated or carried box."""
        obs = track.observations
        i = bisect.bisect_left(track.frames, frame)
        if i < len(obs) and obs[i].frame == frame:
            o = obs[i]
            return o.box, o.landmarks, o.score, True
        before = obs[i - 1] if i > 0 else None
        after = obs[i] if i < len(obs) else None
        if before is not None and after is not None:  # a gap: interpolate, along the camera's path
            t = (frame - before.frame) / (after.frame - before.frame)
            # Both detections carried to this frame with the camera's motion, then blended: where the camera
            # takes a face out of the picture and brings it back elsewhere, a straight line between the two
            # detections would cut across; with a still camera this is the plain interpolation.
            start, end = self._across_gap(before, after, frame)
            box = start + t * (end - start)
            rel = before.landmarks + t * (after.landmarks - before.landmarks)
            away = min(frame - before.frame, after.frame - frame)
            score = min(before.score, after.score)
        elif after is not None:  # before its first detection
            away = after.frame - frame
            if away > self._lead_of(track) or self._cut_between(frame, after.frame):
                return None
            box = self._carry(track, after, frame)
            if away > self.lead and not self._in_frame(_unseen(box, away)):
                return None  # the look-back at the edge: only where the face was in the picture
            rel, score = after.landmarks, after.score
        elif before is not None:  # after its last detection
            away = frame - before.frame
            if away > self._tail_of(track) or self._cut_between(before.frame, frame):
                return None
            box = self._carry(track, before, frame)
            if away > self.tail and not self._in_frame(_unseen(box, away)):
                return None  # carried out of the picture (it may come back in while the exit lasts)
            rel, score = before.landmarks, before.score
        else:
            return None
        return _unseen(box, away), rel, score, False

    def _cut_between(self, start: int, end: int) -> bool:
        """Whether a new shot starts after frame ``start`` and at or before frame ``end``."""
        i = bisect.bisect_right(self._cuts, start)
        return i < len(self._cuts) and self._cuts[i] <= end

    def _at_edge(self, box: np.ndarray) -> bool:
        if self.frame_size is None:
            return False
        w, h = self.frame_size
        m = EDGE_MARGIN * max(float(box[2] - box[0]), float(box[3] - box[1]))
        return bool(box[0] <= m or box[1] <= m or box[2] >= w - m or box[3] >= h - m)

    def _in_frame(self, box: np.ndarray) -> bool:
        if self.frame_size is None:
            return True
        w, h = self.frame_size
        return bool(box[2] > 0 and box[3] > 0 and box[0] < w and box[1] < h)

    def _tail_of(self, track: Track) -> int:
        """Frames after its last detection that ``track`` may stay hidden: ``tail``, or ``exit`` when it is
        leaving: last seen at the edge, or carried to the edge within ``tail`` frames (a face the detector loses
        on its way out, before it reaches the edge); hidden then only while its carried box is in the picture.

        The carry goes only as far as the frames pushed so far (the camera's motion is known there), and the
        answer is asked again until those ``tail`` frames are in."""
        known = self._tails.get(track.id)
        if known is None or known[0] != len(track.observations) or not known[2]:
            last = track.last
            horizon = min(last.frame + self.tail, self._next_frame - 1)
            leaving = self._at_edge(last.box) or (
                horizon > last.frame and self._at_edge(self._carry(track, last, horizon))
            )
            final = leaving or horizon == last.frame + self.tail
            known = self._tails[track.id] = (len(track.observations), self.exit if leaving else self.tail, final)
        return known[1]

    def _lead_of(self, track: Track) -> int:
        """Frames before its first detection that ``track`` may be hidden: ``lead``, or ``entry`` when it came
        in across the edge: first seen at the edge, or at the edge ``lead`` frames before (carried back);
        hidden then only where its box, carried back, is in the picture. A track first found within the clip's
        first ``start`` frames is hidden back to the first frame (as far as its carried box is in the picture)."""
        lead = self._leads.get(track.id)
        if lead is None:
            first = track.observations[0]
            entering = self._at_edge(first.box) or self._at_edge(self._carry(track, first, first.frame - self.lead))
            lead = self.entry if entering else self.lead
            if first.frame <= self.start:  # found in the clip's first frames: there from its first frame
                lead = max(lead, first.frame)
            self._leads[track.id] = lead
        return lead

    # -- the camera's motion -----------------------------------------------------------------------------
    def _warp(self, start: int, end: int) -> np.ndarray:
        """The camera's motion from frame ``start`` to frame ``end`` (3x3, either direction), composed from
        the frames' motions (identity where unknown); composed once and kept while it may be needed."""
        if start == end:
            return np.eye(3)
        if end < start:
            return np.linalg.inv(self._warp(end, start))
        known = self._warps.get((start, end))
        if known is None:
            previous = self._warps.get((start, end - 1))
            if previous is None:
                previous = np.eye(3)
                for f in range(start + 1, end):
                    step = self._motion.get(f)
                    if step is not None:
                        previous = step @ previous
            step = self._motion.get(end)
            known = self._warps[(start, end)] = previous if step is None else step @ previous
        return known

    def _moved(self, box: np.ndarray, start: int, end: int) -> np.ndarray:
        """``box`` of frame ``start`` where the camera's motion puts it in frame ``end``."""
        if not self._motion or start == end:
            return box
        return _warped(box, self._warp(start, end))

    def _across_gap(self, before: _Obs, after: _Obs, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """The detections on either side of a gap, carried to ``frame`` with the camera's motion. Both warps
        are composed from ``before``'s frame (kept, one step more per frame), so a long gap costs one step a
        frame, not its length."""
        if not self._motion:
            return before.box, after.box
        to_frame = self._warp(before.frame, frame)
        from_after = to_frame @ np.linalg.inv(self._warp(before.frame, after.frame))
        return _warped(before.box, to_frame), _warped(after.box, from_after)

    def _own_velocity(self, track: Track, newest: bool = True) -> np.ndarray:
        """The face's own motion per frame (box corners), the camera's taken out: a straight line fitted by least
        squares to up to ``OWN_WINDOW`` detections at the newest (or oldest) end, each first carried with the
        camera to the frame of the one nearest that end (at most half a face size a frame).

        A detector's boxes jitter by a few pixels from frame to frame. A slope taken from two of them a few
        frames apart turns that jitter into a motion, which carried over the frames of an exit takes the box
        off the face. So a coordinate's slope is kept only where it stands out of the line's own scatter
        (``OWN_SIGNIFICANT`` standard errors, from ``OWN_MIN`` detections): else that side is taken to be still.

        With the camera's motion known, detections at the frame's edge are left out: the edge cuts a face's box,
        which then shrinks or slides as the face goes, a motion the face does not have. None left: the face is
        taken to be still, and only the camera moves it."""
        seen = len(track.observations) if newest else min(len(track.observations), OWN_WINDOW)
        known = self._velocities.get((track.id, newest))
        if known is not None and known[0] == seen:
            return known[1]
        obs = track.observations[-OWN_WINDOW:] if newest else track.observations[:OWN_WINDOW]
        if self._motion and self.frame_size is not None:
            obs = [o for o in obs if not self._at_edge(o.box)]
        v = np.zeros(4, dtype=np.float32)
        if len(obs) >= OWN_MIN and obs[-1].frame > obs[0].frame:
            ref = obs[-1].frame if newest else obs[0].frame
            t = np.array([o.frame - ref for o in obs], dtype=np.float64)
            y = np.stack([self._moved(o.box, o.frame, ref) for o in obs]).astype(np.float64)
            tc = t - t.mean()
            sxx = float((tc**2).sum())
            slope = (tc[:, None] * (y - y.mean(axis=0))).sum(axis=0) / sxx
            scatter = y - y.mean(axis=0) - tc[:, None] * slope
            stderr = np.sqrt((scatter**2).sum(axis=0) / (len(obs) - 2) / sxx)
            slope[np.abs(slope) < OWN_SIGNIFICANT * stderr] = 0.0
            size = max(float(box_sizes(obs[-1 if newest else 0].box)[0]), 1.0)
            v = np.clip(slope, -0.5 * size, 0.5 * size).astype(np.float32)
        self._velocities[(track.id, newest)] = (seen, v)
        return v

    def _carry(self, track: Track, obs: _Obs, frame: int) -> np.ndarray:
        """The box of ``obs`` carried to ``frame`` (later or earlier): with the camera's motion, plus the face's
        own motion at that end of the track; never smaller than the detection, as the camera shows it then, nor
        than the largest of the detections at that end (:meth:`_whole_face`)."""
        away = frame - obs.frame
        newest = away >= 0
        velocity = self._own_velocity(track, newest=newest)
        return _carried(self._moved(self._whole_face(track, obs, newest), obs.frame, frame), velocity, away)

    def _whole_face(self, track: Track, obs: _Obs, newest: bool) -> np.ndarray:
        """``obs``'s box, grown about its centre to the width and the height of the largest of the track's
        ``OWN_WINDOW`` detections at that end (each as the camera shows it at ``obs``'s frame).

        The frame's edge cuts a leaving face more and more: the detector's box then covers what it still
        sees of it (the top of a head), and shrinks. The face does not: carried from the last, shrunken box, a
        large face's box covered only part of what was still in the picture (half of a 290 px head whose top
        left across the bottom edge, report seed 6). Its size while more of it was in view is kept."""
        seen = len(track.observations)
        known = self._whole.get((track.id, newest))
        if known is not None and known[0] == seen:
            return known[1]
        end = track.observations[-OWN_WINDOW:] if newest else track.observations[:OWN_WINDOW]
        sizes = np.array([self._moved(o.box, o.frame, obs.frame) for o in end], dtype=np.float32)
        sizes = sizes[:, 2:] - sizes[:, :2]
        half = np.maximum(sizes.max(axis=0), obs.box[2:] - obs.box[:2]) / 2
        centre = (obs.box[:2] + obs.box[2:]) / 2
        box = np.concatenate([centre - half, centre + half]).astype(np.float32)
        self._whole[(track.id, newest)] = (seen, box)
        return box

    def _limit_shrink(self, track_id: int, box: np.ndarray) -> np.ndarray:
        previous = self._last_box.get(track_id)
        if previous is None:
            return box
        keep = 1.0 - self.max_shrink
        c = _centre(box)
        half = np.array([box[2] - box[0], box[3] - box[1]], dtype=np.float32) / 2
        floor = np.array([previous[2] - previous[0], previous[3] - previous[1]], dtype=np.float32) * keep / 2
        half = np.maximum(half, floor)
        return np.array([c[0] - half[0], c[1] - half[1], c[0] + half[0], c[1] + half[1]], dtype=np.float32)


def widen_at_edge(box: np.ndarray, frame_size: tuple[int, int], factor: float = EDGE_WIDEN) -> np.ndarray:
    """A copy of ``box``, widened ``factor`` times (about its centre) along each border of the ``frame_size``
    (width, height) picture that cuts it: wider when cut at the top or the bottom, taller when cut at a side."""
    w, h = frame_size
    out = np.array(box, copy=True)
    if box[1] <= EDGE_TOUCH or box[3] >= h - EDGE_TOUCH:
        c, half = (box[0] + box[2]) / 2, (box[2] - box[0]) * factor / 2
        out[0], out[2] = c - half, c + half
    if box[0] <= EDGE_TOUCH or box[2] >= w - EDGE_TOUCH:
        c, half = (box[1] + box[3]) / 2, (box[3] - box[1]) * factor / 2
        out[1], out[3] = c - half, c + half
    return out


def _warped(box: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The box around ``box``'s corners moved by the 3x3 camera motion ``m``."""
    corners = np.array([[box[0], box[1], 1.0], [box[2], box[1], 1.0], [box[0], box[3], 1.0], [box[2], box[3], 1.0]])
    xy = corners @ m[:2].T
    return np.concatenate([xy.min(0), xy.max(0)]).astype(np.float32)


def _unseen(box: np.ndarray, away: int) -> np.ndarray:
    """A box the detector did not see, ``away`` frames from the nearest detection: grown with the distance."""
    return grow_boxes(box, min(1.0 + GROW_PER_FRAME * away, MAX_GROW))


def _carried(box: np.ndarray, velocity: np.ndarray, away: int) -> np.ndarray:
    """``box`` moved ``away`` frames (negative: back in time) at ``velocity`` (per corner), and no smaller than
    it was: a face cut by the frame's edge has a detection that shrinks as it leaves, and the part outside is
    no smaller."""
    moved = box + velocity * away
    centre = (moved[:2] + moved[2:]) / 2
    half = np.maximum(moved[2:] - moved[:2], box[2:] - box[:2]) / 2
    return np.concatenate([centre - half, centre + half]).astype(np.float32)


def _observation(frame: int, face: Face) -> _Obs:
    box = face.box.astype(np.float32)
    wh = np.maximum(box[2:] - box[:2], 1e-3)
    return _Obs(
        frame=frame, box=box, landmarks=(face.landmarks - box[:2]) / wh, score=face.score, weak=face.source == "weak"
    )
