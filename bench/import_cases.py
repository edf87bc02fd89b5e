"""Bulk import against one ``findme enroll`` per case, measured in the same run.

Builds a case list from ORL (one case per person, 2 photos each), then times, each in a fresh
empty data folder: ``findme enroll`` run once per case for the first ``--enroll`` cases (each
process loads TensorFlow and the models), and one ``findme import`` of all ``--cases`` cases
(models loaded once, faces embedded in batches). Prints seconds per case for both and the
ratio. Target (issue 15): import >= 5x faster per case.

Usage: .venv/bin/python bench/import_cases.py [--cases 40] [--enroll 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from findme.config import get_settings


def _fresh(root: Path, name: str, weights: Path) -> dict[str, str]:
    data = root / name
    data.mkdir()
    (data / "weights").symlink_to(weights)
    return dict(os.environ, FINDME_DATA_DIR=str(data))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--enroll", type=int, default=5)
    args = ap.parse_args()
    settings = get_settings()
    orl = settings.eval_dir / "orl"
    people = sorted(orl.iterdir(), key=lambda p: int(p.name[1:]))[:args.cases]
    findme = [sys.executable, "-m", "findme.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sheet = root / "cases.csv"
        with sheet.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["ref", "name", "photos", "consent"])
            for k, p in enumerate(people):
                w.writerow([f"B-{k}", f"Bench Child {k}", f"{p.name}/1.pgm;{p.name}/2.pgm",
                            "yes"])

        env = _fresh(root, "enroll", settings.weights_dir)
        start = time.perf_counter()
        for k, p in enumerate(people[:args.enroll]):
            subprocess.run([*findme, "enroll", str(p / "1.pgm"), str(p / "2.pgm"), "--name",
                            f"Bench Child {k}", "--consent"], env=env, check=True,
                           capture_output=True)
        per_enroll = (time.perf_counter() - start) / args.enroll

        env = _fresh(root, "import", settings.weights_dir)
        start = time.perf_counter()
        out = subprocess.run([*findme, "import", str(sheet), "--photos", str(orl), "--json",
                              "--quiet"], env=env, capture_output=True, text=True)
        per_import = (time.perf_counter() - start) / len(people)
        report = json.loads(out.stdout)

    print(f"findme enroll, one process per case ({args.enroll} cases): "
          f"{per_enroll:.2f} s per case")
    print(f"findme import, one process ({len(people)} cases, {report['imported']} imported, "
          f"{report['rejected']} rejected): {per_import:.2f} s per case")
    print(f"import is {per_enroll / per_import:.1f}x faster per case (target >= 5x)")


if __name__ == "__main__":
    main()
