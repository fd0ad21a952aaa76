"""Persons across a whole video: the face tracks of separate clip windows linked into people.

Clip windows are spread over the video (8 windows over 10 s leave ~1 s gaps), so two people can cross or
swap sides between windows, and a cut can put another person where the last one stood. Linking therefore
decides by identity whenever there is any doubt, and by the cheap cues only when there is none:

- a window whose faces each continue exactly one face of the window before, with as many faces in both, at the
  same place and size (centre within one face size, size within 1.5x) and with the same colours (HSV histogram
  correlation of the face crops >= 0.8), continues those persons: no descriptor is computed (most footage: one
  person, one shot; a video call or a panel: the same people in the same places);
- anything else (several faces, a jump, a cut) is decided by face descriptors (`faces.identity`, dlib's
  ResNet, ~0.1 s per face on these cores, computed only then): the window's tracks are assigned to every
  person seen so far by the Hungarian method on the distance to each person's mean descriptor (of its first and latest
  tracks), a match
  only below `max_distance` (0.6, dlib's same-person threshold); an unmatched track starts a new person.
  Where faces look alike (twins, a mirror), a small cost for moving far keeps each one where it was.

Two tracks of one window never become one person. Person ids are ordered by how many windows a person
appears in, then by face size (0 = the main person), and mean the same thing in the clip table, the
service's `faces` and the video-level rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepfake_detection.faces.boxes import Box
from deepfake_detection.faces.identity import SAME_PERSON_DISTANCE, face_descriptor
from deepfake_detection.media.picture import Picture

SAME_COLOURS = 0.8
POSITION_WEIGHT = 0.1  # at most this much is added to a descriptor distance for a face that moved far


@dataclass
class TrackObservation:
    """One face track of one clip window.

    `box`: the face in its middle key frame (original pixels); `face_size`: median side in pixels; `crop`: a
    face crop (uint8, H x W x 3) for the colour check; `chip`/`chip_box`: the full-resolution region around
    the face and the face box inside it, kept so a descriptor can be computed later, only if needed.
    """

    clip_index: int
    box: Box
    face_size: float
    crop: np.ndarray
    chip: np.ndarray
    chip_box: Box
    _descriptor: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_frame(
        cls, clip_index: int, frame: np.ndarray | Picture, box: Box, face_size: float, crop: np.ndarray
    ) -> TrackObservation:
        """The observation of `box` on `frame` (an RGB array or a `Picture`): the chip kept for a descriptor is
        the face with half its size around it, in the frame's own pixels (only that region is converted)."""
        picture = Picture.of(frame)
        h, w = picture.height, picture.width
        pad = max(box.width, box.height) * 0.5
        x0, y0 = int(max(0, box.x0 - pad)), int(max(0, box.y0 - pad))
        x1, y1 = int(min(w, box.x1 + pad)), int(min(h, box.y1 + pad))
        chip_box = Box(box.x0 - x0, box.y0 - y0, box.x1 - x0, box.y1 - y0, box.score)
        return cls(clip_index, box, face_size, crop, picture.region(x0, y0, x1, y1, x1 - x0, y1 - y0), chip_box)

    @property
    def descriptor(self) -> np.ndarray:
        if self._descriptor is None:
            self._descriptor = face_descriptor(self.chip, self.chip_box)
        return self._descriptor


def colour_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of the hue-saturation histograms of two RGB crops (1.0: the same colours)."""
    import cv2

    hists = []
    for image in (a, b):
        hsv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 16], [0, 180, 0, 256])
        hists.append(cv2.normalize(hist, hist).flatten())
    return float(cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_CORREL))


def _moved(previous: TrackObservation, current: TrackObservation) -> float:
    """How far a face moved between windows, in units of two face sizes, capped at 1."""
    (px, py), (cx, cy) = previous.box.center, current.box.center
    return min(1.0, float(np.hypot(px - cx, py - cy)) / (2 * max(previous.face_size, current.face_size, 1e-6)))


def _continues(previous: TrackObservation, current: TrackObservation) -> bool:
    (px, py), (cx, cy) = previous.box.center, current.box.center
    size = max(previous.face_size, current.face_size)
    ratio = max(previous.face_size, current.face_size) / max(min(previous.face_size, current.face_size), 1e-6)
    return (
        np.hypot(px - cx, py - cy) <= size
        and ratio <= 1.5
        and colour_similarity(previous.crop, current.crop) >= SAME_COLOURS
    )


def _continuations(observations: list[TrackObservation], previous: list[int], here: list[int]) -> dict[int, int] | None:
    """current -> previous observation when the window shows as many faces as the one before and each continues
    exactly one of them, and no two the same one (`_continues`); None when any doubt remains."""
    if not here or len(here) != len(previous):
        return None
    pairs = {}
    for i in here:
        candidates = [j for j in previous if _continues(observations[j], observations[i])]
        if len(candidates) != 1:
            return None
        pairs[i] = candidates[0]
    return pairs if len(set(pairs.values())) == len(pairs) else None


def link_persons(observations: list[TrackObservation], max_distance: float = SAME_PERSON_DISTANCE) -> list[int]:
    """The person id of each observation (same order), linking clip windows in time order."""
    from scipy.optimize import linear_sum_assignment

    members: list[list[int]] = []  # person -> observation positions
    labels = [-1] * len(observations)
    previous: list[int] = []
    for clip_index in sorted({o.clip_index for o in observations}):
        here = [i for i, o in enumerate(observations) if o.clip_index == clip_index]
        matched: set[int] = set()
        continued = _continuations(observations, previous, here)
        if continued is not None:
            for i, j in continued.items():
                labels[i] = labels[j]
                members[labels[i]].append(i)
                matched.add(i)
        elif members:
            centres = np.stack([np.mean([observations[m].descriptor for m in {g[0], g[-1]}], axis=0) for g in members])
            own = np.stack([observations[i].descriptor for i in here])
            distance = np.linalg.norm(own[:, None, :] - centres[None, :, :], axis=2)
            moved = np.array([[_moved(observations[g[-1]], observations[i]) for g in members] for i in here])
            cost = distance + POSITION_WEIGHT * moved  # look-alikes (twins, a mirror) stay where they were
            for row, col in zip(*linear_sum_assignment(cost), strict=True):
                if distance[row, col] < max_distance:
                    labels[here[row]] = int(col)
                    members[col].append(here[row])
                    matched.add(here[row])
        for i in here:
            if i not in matched:
                labels[i] = len(members)
                members.append([i])
        previous = here
    order = sorted(
        range(len(members)),
        key=lambda p: (-len(members[p]), -float(np.median([observations[m].face_size for m in members[p]])), p),
    )
    rank = {person: new for new, person in enumerate(order)}
    return [rank[label] for label in labels]
