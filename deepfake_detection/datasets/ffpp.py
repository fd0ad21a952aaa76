"""The FaceForensics++ catalog: one row per video of an official-layout folder, with its split.

Layout (Rössler et al., FaceForensics++, ICCV 2019, and the official download script)::

    original_sequences/{youtube,actors}/{raw|c0,c23,c40}/videos/<id>.mp4
    manipulated_sequences/<Method>/{c0,c23,c40}/videos/<target>_<source>.mp4

`raw` is the lossless c0 encoding of the originals and is reported as `c0`. Any method folder present is
catalogued; the run config chooses which methods and compressions are used.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from deepfake_detection.datasets.catalog import SPLIT_FRACTIONS, catalog_from_entries, hashed_split
from deepfake_detection.media.probe import VideoLimits

log = logging.getLogger(__name__)

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter", "DeepFakeDetection")
COMPRESSIONS = ("c0", "c23", "c40")
SPLITS = ("train", "val", "test")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
ORIGINAL = "original"
# DeepFakeDetection actors have no official split: actor ids are hashed into these fractions.
ACTOR_SPLIT_FRACTIONS = SPLIT_FRACTIONS

_YOUTUBE_FAKE = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)$")
_ACTORS_FAKE = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)__(?P<scene>.+?)(__[A-Z0-9]+)?$")
_ACTORS_REAL = re.compile(r"^(?P<target>\d+)__(?P<scene>.+)$")


@dataclass(frozen=True)
class OfficialSplits:
    """The official pair lists: `pairs[split]` is a list of (target, source) id pairs."""

    pairs: dict[str, list[tuple[str, str]]]

    @classmethod
    def load(cls, splits_dir: str | Path | None = None) -> OfficialSplits:
        """Read train/val/test.json from `splits_dir`, or the copies shipped with the package."""
        pairs: dict[str, list[tuple[str, str]]] = {}
        for split in SPLITS:
            if splits_dir is None:
                text = resources.files("deepfake_detection.datasets.ffpp_splits").joinpath(f"{split}.json").read_text()
            else:
                text = (Path(splits_dir) / f"{split}.json").read_text()
            pairs[split] = [(str(a), str(b)) for a, b in json.loads(text)]
        return cls(pairs)

    def id_to_split(self) -> dict[str, str]:
        """Every identity to its split; raises if one id sits in two splits (the lists would leak)."""
        mapping: dict[str, str] = {}
        for split, pairs in self.pairs.items():
            for pair in pairs:
                for vid in pair:
                    if mapping.setdefault(vid, split) != split:
                        raise ValueError(f"id {vid} appears in both {mapping[vid]} and {split}")
        return mapping


def actor_split(actor_id: str, fractions: dict[str, float] = ACTOR_SPLIT_FRACTIONS) -> str:
    """Deterministic split of a DeepFakeDetection actor: a stable hash of the id, not Python's `hash`."""
    return hashed_split(actor_id, fractions)


@dataclass(frozen=True)
class VideoEntry:
    """A video found in the tree, before probing."""

    path: Path
    label: str
    method: str
    subset: str
    compression: str
    target_id: str
    source_id: str | None

    @property
    def video_id(self) -> str:
        return f"{self.method}/{self.subset}/{self.compression}/{self.path.stem}"


def scan(
    root: str | Path,
    methods: Iterable[str] | None = None,
    compressions: Iterable[str] | None = None,
) -> list[VideoEntry]:
    """Find the videos of an FF++ tree; `methods` may include "original"; None means everything."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"FaceForensics++ root {root} does not exist")
    wanted_methods = set(methods) if methods is not None else None
    wanted_comp = set(compressions) if compressions is not None else None
    entries: list[VideoEntry] = []
    for comp_dir in sorted(root.glob("original_sequences/*/*")):
        subset, comp = comp_dir.parent.name, _compression(comp_dir.name)
        if comp is None or not _wanted(ORIGINAL, comp, wanted_methods, wanted_comp):
            continue
        for path in _videos(comp_dir / "videos"):
            target, _ = _ids(path.stem, subset, fake=False)
            entries.append(VideoEntry(path, "real", ORIGINAL, subset, comp, target, None))
    for comp_dir in sorted(root.glob("manipulated_sequences/*/*")):
        method, comp = comp_dir.parent.name, _compression(comp_dir.name)
        if comp is None or not _wanted(method, comp, wanted_methods, wanted_comp):
            continue
        subset = "actors" if method == "DeepFakeDetection" else "youtube"
        for path in _videos(comp_dir / "videos"):
            target, source = _ids(path.stem, subset, fake=True)
            entries.append(VideoEntry(path, "fake", method, subset, comp, target, source))
    return entries


def build_catalog(
    root: str | Path,
    methods: Iterable[str] | None = None,
    compressions: Iterable[str] | None = None,
    splits: OfficialSplits | None = None,
    limits: VideoLimits | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Scan, assign splits and probe every video: one row per file (`datasets.catalog`), unreadable files carry
    `error`."""
    id_split = (splits or OfficialSplits.load()).id_to_split()
    entries = [
        {"video_id": e.video_id, "path": str(e.path), "label": e.label, "method": e.method, "subset": e.subset,
         "compression": e.compression, "target_id": e.target_id, "source_id": e.source_id,
         "split": _split(e, id_split)}
        for e in scan(root, methods, compressions)
    ]  # fmt: skip
    return catalog_from_entries(entries, limits, progress)


def _split(entry: VideoEntry, id_split: dict[str, str]) -> str | None:
    if entry.subset == "actors":
        return actor_split(entry.target_id)
    split = id_split.get(entry.target_id)
    if entry.source_id is not None and id_split.get(entry.source_id) != split:
        return None  # a pair not in the official lists: unassigned, and the contract will say so
    return split


def _wanted(method: str, comp: str, methods: set[str] | None, comps: set[str] | None) -> bool:
    return (methods is None or method in methods) and (comps is None or comp in comps)


def _compression(name: str) -> str | None:
    name = "c0" if name == "raw" else name
    return name if name in COMPRESSIONS else None


def _videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _ids(stem: str, subset: str, fake: bool) -> tuple[str, str | None]:
    """Target and source identity from a file name (`004`, `519_515`, `01__scene`, `01_02__scene__X`)."""
    if subset == "actors":
        m = _ACTORS_FAKE.match(stem) if fake else _ACTORS_REAL.match(stem)
        if m:
            return m.group("target"), (m.group("source") if fake else None)
    elif fake:
        m = _YOUTUBE_FAKE.match(stem)
        if m:
            return m.group("target"), m.group("source")
    else:
        return stem, None
    return stem, None
