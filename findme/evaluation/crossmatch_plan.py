"""Which photos of a labelled folder a cross-match evaluation registers, and on which side.

In: a folder with one sub-folder of photos per person (``train/`` and ``val/`` folders of people
are pooled by person), optionally a folder of never-registered people (one person per photo when
flat, or per sub-folder) and an optional ``ages.csv`` beside the people. Out: a :class:`Plan`:
the records to register (each a person, a side and its photos), the people registered on both
sides (the true reunions) and warnings about what the data cannot answer.

The split (:func:`make_plan`), seeded so a run can be repeated:

* a person with two or more photos is a **reunion**: their earliest photos (up to
  ``missing_photos``) become a missing report and their latest (``found_photos``) a found record,
  as a family's photos precede a child's intake photo. "Earliest" follows the ages or dates of
  ``ages.csv`` when every photo of that person has one, else a seeded shuffle. The photos
  between are spares: when the quality gate refuses every photo of a record, the next spare
  is registered instead (as a case worker brings another photo);
* a share ``one_side`` of those people (and everyone with one photo: one photo cannot be on both
  sides) are registered on **one side only**, alternating missing-only and found-only, so a
  reviewer's false pairs include people with no counterpart;
* each never-registered person becomes a **found-only stranger** (a child in care whose family
  filed no report here).

``ages.csv`` (optional, UTF-8, a header row): ``file,age_at_photo,taken_on``. ``file`` is the
photo's path relative to the folder (``s1/3.pgm``, ``train/madonna/x.jpg``); ``age_at_photo`` is
the person's age on it in years (e.g. ``7`` or ``7.5``); ``taken_on`` the date it was taken
(``YYYY-MM-DD``). Either may be empty. Both are registered with the photo (as a case worker
enters them); the evaluation also reports by the age gap they give (ages first, else dates).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from findme.search.calibration import IMAGE_SUFFIXES

AGES_FILE = "ages.csv"
MIN_REUNIONS = 2  # below this a precision or recall is no figure at all
FEW_REUNIONS = 10  # below this the figures are shown with a warning


@dataclass(frozen=True)
class PhotoAge:
    """What ``ages.csv`` says of one photo: the age on it in years and / or the date taken."""

    age: float | None = None
    taken: dt.date | None = None


@dataclass(frozen=True)
class PlannedRecord:
    """A record to register: whose photos (``person``), on which side (``missing``/``found``),
    the photos, whether the person is a never-registered stranger, and spare photos of the
    person that the other side does not use (registered instead, as a case worker would
    bring another photo, when the quality gate refuses all of ``photos``)."""

    person: str
    kind: str
    photos: tuple[Path, ...]
    stranger: bool = False
    spares: tuple[Path, ...] = ()  # tried in turn when the quality gate refuses every photo


@dataclass(frozen=True)
class Plan:
    """The records to register, the people on both sides, the ages read, warnings."""

    records: list[PlannedRecord]
    reunions: list[str]
    ages: dict[Path, PhotoAge] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    people: int = 0

    def count(self, kind: str, stranger: bool | None = None) -> int:
        """How many records of ``kind`` (optionally only strangers / only labelled people)."""
        return sum(r.kind == kind and (stranger is None or r.stranger == stranger)
                   for r in self.records)


def _natural(path: Path) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def _photos(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: (str(p.parent), _natural(p)))


def people_of(dataset: Path) -> dict[str, list[Path]]:
    """``{person: photos}`` of a labelled folder: every photo's person is its folder's name,
    so ``train/x`` and ``val/x`` pool into one person ``x``. Photos lying directly in
    ``dataset`` belong to nobody and are left out."""
    out: dict[str, list[Path]] = {}
    for path in _photos(dataset):
        if path.parent != dataset:
            out.setdefault(path.parent.name, []).append(path)
    return out


def people_sets(sets: dict[str, Path]) -> list[str]:
    """Names of the photo sets (``{name: folder}``) that hold people: a sub-folder of photos
    per person (flat folders of one portrait per person, like ``distractors``, are left out:
    they serve as never-registered people)."""
    return [name for name, folder in sets.items() if people_of(folder)]


def strangers_of(folder: Path) -> dict[str, list[Path]]:
    """``{stranger: photos}`` of a never-registered folder: a photo directly in it is one
    person, a sub-folder is one person with all its photos."""
    out: dict[str, list[Path]] = {}
    for path in _photos(folder):
        key = path.stem if path.parent == folder else path.parent.relative_to(folder).as_posix()
        out.setdefault(f"stranger:{key}", []).append(path)
    return out


def key(path: Path) -> Path:
    """A photo's key in the ages table: its absolute path, ``..`` folded, symlinks kept (a
    folder of links to photos elsewhere keeps its own names)."""
    return Path(os.path.abspath(path))


def read_ages(dataset: Path) -> tuple[dict[Path, PhotoAge], list[str]]:
    """``ages.csv`` of ``dataset`` (see the module docstring) as ``{photo path: PhotoAge}``,
    and warnings (rows naming no photo of the folder). ``({}, [])`` without the file; a bad
    value raises ValueError naming its line."""
    path = dataset / AGES_FILE
    if not path.is_file():
        return {}, []
    out: dict[Path, PhotoAge] = {}
    unknown = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames or not (
                {"age_at_photo", "taken_on"} & set(reader.fieldnames)):
            raise ValueError(f"{AGES_FILE}: the header must be file,age_at_photo,taken_on "
                             "(one of the last two may be left out)")
        for line, row in enumerate(reader, start=2):
            name = (row.get("file") or "").strip()
            if not name:
                continue
            photo = key(dataset / name)
            if key(dataset) not in photo.parents or not photo.is_file():
                unknown.append(name)
                continue
            out[photo] = PhotoAge(_age(row.get("age_at_photo"), line),
                                  _date(row.get("taken_on"), line))
    warnings = [f"{AGES_FILE}: {len(unknown)} row(s) name no photo of the folder (e.g. "
                f"{unknown[0]!r}); they are ignored"] if unknown else []
    return out, warnings


def _age(text: str | None, line: int) -> float | None:
    if not (text or "").strip():
        return None
    try:
        age = float(text)  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(f"{AGES_FILE} line {line}: age_at_photo {text!r} is not a number "
                         "of years") from None
    if not 0 <= age <= 120:
        raise ValueError(f"{AGES_FILE} line {line}: age_at_photo must be between 0 and 120")
    return age


def _date(text: str | None, line: int) -> dt.date | None:
    if not (text or "").strip():
        return None
    try:
        day = dt.date.fromisoformat(text.strip())  # type: ignore[union-attr]
    except ValueError:
        raise ValueError(f"{AGES_FILE} line {line}: taken_on {text!r} is not a date "
                         "(YYYY-MM-DD)") from None
    if day > dt.date.today():
        raise ValueError(f"{AGES_FILE} line {line}: taken_on is in the future")
    return day


def when(photo: Path, ages: dict[Path, PhotoAge]) -> float | None:
    """A photo's place in a person's life for ordering: its age, else its date as a year
    number (only compared within one person), else None."""
    a = ages.get(key(photo))
    if a is None:
        return None
    if a.age is not None:
        return a.age
    return a.taken.toordinal() / 365.25 if a.taken is not None else None


def gap_years(one: Path, other: Path, ages: dict[Path, PhotoAge]) -> float | None:
    """Years between two photos: their ages' difference when both carry an age, else their
    dates' difference when both carry a date, else None (always >= 0)."""
    a, b = ages.get(key(one)), ages.get(key(other))
    if a is None or b is None:
        return None
    if a.age is not None and b.age is not None:
        return abs(b.age - a.age)
    if a.taken is not None and b.taken is not None:
        return abs((b.taken - a.taken).days) / 365.25
    return None


def _ordered(photos: list[Path], ages: dict[Path, PhotoAge], rng: random.Random) -> list[Path]:
    """Oldest photo first when every photo has an age or date, else a seeded shuffle."""
    keys = [when(p, ages) for p in photos]
    if photos and all(k is not None for k in keys):
        return [p for _, p in sorted(zip(keys, photos, strict=True), key=lambda kp: kp[0])]
    shuffled = list(photos)
    rng.shuffle(shuffled)
    return shuffled


def make_plan(dataset: Path, distractors: Path | None = None, seed: int = 0,
              missing_photos: int = 3, found_photos: int = 1,
              one_side: float = 0.25) -> Plan:
    """The split of the module docstring. Raises FileNotFoundError for a folder without
    people, ValueError for bad options or too few people to pair (fewer than
    :data:`MIN_REUNIONS` people with two or more photos); warns (``Plan.warnings``) when the
    figures will be thin or cannot show false pairs with people who have no counterpart."""
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise FileNotFoundError(f"{dataset} is not a folder")
    if missing_photos < 1 or found_photos < 1:
        raise ValueError("a missing report and a found record need at least one photo each")
    if not 0.0 <= one_side < 1.0:
        raise ValueError("the share of people on one side only must be at least 0 and below 1")
    people = people_of(dataset)
    if not people:
        raise FileNotFoundError(f"{dataset}: needs one sub-folder of photos per person")
    ages, warnings = read_ages(dataset)
    rng = random.Random(seed)
    names = sorted(people)
    rng.shuffle(names)
    pairable = [n for n in names if len(people[n]) >= 2]
    single = [n for n in names if len(people[n]) < 2]
    n_one_side = min(round(one_side * len(pairable)), max(0, len(pairable) - MIN_REUNIONS))
    one_sided, reunions = pairable[:n_one_side], pairable[n_one_side:]
    if len(reunions) < MIN_REUNIONS:
        raise ValueError(
            f"{dataset.name}: too few people to pair: {len(pairable)} of {len(people)} have two "
            f"or more photos (one photo cannot be on both sides); at least {MIN_REUNIONS} are "
            "needed")
    records: list[PlannedRecord] = []
    for name in reunions:
        photos = _ordered(people[name], ages, rng)
        n_found = min(found_photos, len(photos) - 1)
        n_missing = min(missing_photos, len(photos) - n_found)
        middle = photos[n_missing:len(photos) - n_found]  # spares: each side its nearer half
        half = len(middle) // 2
        records.append(PlannedRecord(name, "missing", tuple(photos[:n_missing]),
                                     spares=tuple(middle[:half])))
        records.append(PlannedRecord(name, "found", tuple(photos[-n_found:]),
                                     spares=tuple(reversed(middle[half:]))))
    for k, name in enumerate(one_sided + single):
        kind = "missing" if k % 2 == 0 else "found"
        photos = _ordered(people[name], ages, rng)
        n = missing_photos if kind == "missing" else found_photos
        records.append(PlannedRecord(name, kind, tuple(photos[:n]), spares=tuple(photos[n:])))
    if distractors is not None:
        for name, photos in strangers_of(Path(distractors)).items():
            records.append(PlannedRecord(name, "found", tuple(photos[:found_photos]), True,
                                         tuple(photos[found_photos:])))
    if single:
        warnings.append(f"{len(single)} person(s) have one photo: one photo cannot be on both "
                        "sides, so they are registered on one side only")
    if len(reunions) < FEW_REUNIONS:
        warnings.append(f"only {len(reunions)} people are registered on both sides: precision "
                        "and recall rest on few reunions (see their intervals)")
    if not one_sided and not single and distractors is None:
        warnings.append("nobody is registered on one side only: false pairs can only mix up "
                        "reunited people (give never-registered people or a one-side share)")
    return Plan(records, reunions, ages, warnings, len(people))
