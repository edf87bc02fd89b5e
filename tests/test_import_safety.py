"""``findme import`` against hostile or broken input: photo paths that leave the photo folder
(``..``, absolute paths, symlinks), sheets far over the row limit (memory and work stay small:
the reader stops at the limit), and a photo ZIP with a damaged member (that photo's row is
rejected, the rest imports)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from findme.cases.transfer import (
    MAX_ROWS,
    ImportFileError,
    PhotoSource,
    import_files,
    open_sheet,
    pack_photos,
)
from findme.config import Settings
from findme.workspace import Workspace
from tests.memory import SNIPPET

from .conftest import usable_photos

LIMIT = 10 * 2**20

# ----------------------------------------------------------------------------- photo folder


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """(the photo folder, a folder beside it holding a private file) with the escapes planted:
    ``link.jpg`` -> the private file, ``linked_dir`` -> the folder beside it, ``inside.jpg`` ->
    a photo inside (allowed)."""
    photos, private = tmp_path / "photos", tmp_path / "private"
    (photos / "sub").mkdir(parents=True)
    private.mkdir()
    (private / "secret.jpg").write_bytes(b"not for the import")
    (photos / "sub" / "ok.jpg").write_bytes(b"photo bytes")
    (photos / "link.jpg").symlink_to(private / "secret.jpg")
    (photos / "linked_dir").symlink_to(private)
    (photos / "inside.jpg").symlink_to(photos / "sub" / "ok.jpg")
    return photos, private


ESCAPES = ["../private/secret.jpg", "sub/../../private/secret.jpg", "link.jpg",
           "linked_dir/secret.jpg", "~/../../etc/passwd"]


def test_photo_names_resolve_only_inside_the_folder(folders: tuple[Path, Path]) -> None:
    photos, private = folders
    source = PhotoSource(folder=photos)
    for name in [*ESCAPES, str(private / "secret.jpg"), "/etc/passwd"]:
        with pytest.raises(ValueError, match="outside the photo folder"):
            source.read(name, LIMIT)
    assert source.read("sub/ok.jpg", LIMIT) == b"photo bytes"
    assert source.read(str(photos / "sub" / "ok.jpg"), LIMIT) == b"photo bytes"  # absolute, in
    assert source.read("inside.jpg", LIMIT) == b"photo bytes"  # a link that stays inside
    (photos / "loop.jpg").symlink_to(photos / "loop.jpg")
    with pytest.raises(ValueError, match="cannot be resolved"):  # one row's error, not a crash
        source.read("loop.jpg", LIMIT)


def test_queue_packing_leaves_escaping_photos_out(folders: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    """``findme import --queue`` packs the photos a sheet names: never a file outside DIR."""
    photos, private = folders
    rows = [{"photos": ";".join([*ESCAPES, str(private / "secret.jpg"), "sub/ok.jpg"])}]
    out = tmp_path / "packed.zip"
    assert pack_photos(rows, photos, out, LIMIT) == 1
    with zipfile.ZipFile(out) as z:
        assert z.namelist() == ["sub/ok.jpg"]
        assert b"not for the import" not in b"".join(z.read(n) for n in z.namelist())


@pytest.mark.heavy
def test_cli_import_rejects_a_real_photo_outside_the_folder(ws_settings: Settings,
                                                            celeb5: Path, tmp_path: Path) -> None:
    """End to end: a usable face photo outside ``--photos DIR`` (by ``..`` or a symlink) is not
    read: its row is rejected, a photo inside imports (dry run)."""
    outside, inside = usable_photos(sorted((celeb5 / "train" / "madonna").iterdir()),
                                    ws_settings, 2)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "mine.jpg").write_bytes(inside.read_bytes())
    (photos / "link.jpg").symlink_to(outside)
    rel = os.path.relpath(outside, photos)
    sheet = tmp_path / "cases.csv"
    sheet.write_text("ref,name,photos,consent\nA-1,In,mine.jpg,yes\nA-2,Dots,"
                     f"{rel},yes\nA-3,Link,link.jpg,yes\nA-4,Abs,{outside},yes\n")
    env = dict(os.environ, FINDME_DATA_DIR=str(ws_settings.data_dir))
    run = subprocess.run([sys.executable, "-m", "findme.cli", "import", str(sheet), "--photos",
                          str(photos), "--dry-run", "--json", "--quiet"], env=env,
                         capture_output=True, text=True, timeout=900)
    report = json.loads(run.stdout)
    status = {r["ref"]: (r["status"], " ".join(r["reasons"])) for r in report["rows"]}
    assert status["A-1"] == ("imported", "")
    for ref in ("A-2", "A-3", "A-4"):
        assert status[ref][0] == "rejected" and "outside the photo folder" in status[ref][1]


# ----------------------------------------------------------------------------- big sheets

PROBE = """
import json, resource, sys
from pathlib import Path
from findme.cases.transfer import ImportFileError, open_sheet, read_sheet
def cpu():
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime
path = Path(sys.argv[1])
base = peak_reset()
start = cpu()
try:
    rows = open_sheet(path.name, read_sheet(path))[0]
    outcome = f"{len(rows)} rows"
except ImportFileError as exc:
    outcome = str(exc)
print(json.dumps({"outcome": outcome, "cpu_s": cpu() - start,
                  "peak_mb": (base + peak_grown(base)) / 2**20}))
"""


def _probe(path: Path) -> dict:
    """Read ``path`` as ``findme import`` does, in a fresh process: its outcome, peak RSS of the
    process (MB) and the CPU seconds the reading took."""
    run = subprocess.run([sys.executable, "-c", SNIPPET + PROBE, str(path)], capture_output=True,
                         text=True, timeout=900, cwd=Path(__file__).parent.parent)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def test_a_50_mb_csv_over_the_row_limit_is_refused_in_little_memory(tmp_path: Path) -> None:
    """A 50 MB CSV of a million rows: refused at the row limit. Peak memory of the whole
    process (Python + pandas + the 50 MB file) stays under 400 MB (it was 1.8 GB)."""
    path = tmp_path / "big.csv"
    line = "R-{:07d},Child number {:07d},photos/{:07d}.jpg,yes\n"
    with path.open("w") as f:
        f.write("ref,name,photos,consent\n")
        size, k = 0, 0
        while size < 49 * 2**20:
            text = line.format(k, k, k)
            f.write(text)
            size, k = size + len(text), k + 1
    found = _probe(path)
    assert f"at most {MAX_ROWS}" in found["outcome"], found
    assert found["peak_mb"] < 400, found


def test_a_100k_row_xlsx_is_refused_reading_only_to_the_limit(tmp_path: Path) -> None:
    """An XLSX of 100,000 rows is refused at the row limit while streamed: it costs no more
    CPU than reading a sheet of exactly ``MAX_ROWS`` rows (it cost 5 times as much: every row
    was read). CPU seconds of the reading, compared within one machine; no wall-clock time."""
    import openpyxl

    def sheet(path: Path, rows: int) -> Path:
        book = openpyxl.Workbook(write_only=True)
        ws = book.create_sheet()
        ws.append(["ref", "name", "photos", "consent", "age", "gender", "last_seen"])
        for k in range(rows):
            ws.append([f"R-{k}", "Child", "a.jpg", "yes", 7, "f", "the market"])
        book.save(path)
        return path

    big = _probe(sheet(tmp_path / "big.xlsx", 100_000))
    assert f"at most {MAX_ROWS}" in big["outcome"], big
    at_limit = _probe(sheet(tmp_path / "limit.xlsx", MAX_ROWS))
    assert at_limit["outcome"] == f"{MAX_ROWS} rows", at_limit
    assert big["cpu_s"] < 2 * at_limit["cpu_s"] + 1, (big, at_limit)
    assert big["peak_mb"] < 400, big


def _xlsx_with_garbage_after(rows: int, tmp_path: Path) -> Path:
    """An XLSX whose sheet holds ``rows`` good rows and then broken XML: only a reader that
    stops at the limit gets as far as saying "too many rows"."""
    import openpyxl

    path = tmp_path / "garbage.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["ref", "name", "photos"])
    for k in range(rows):
        book.active.append([f"R-{k}", "Child", "a.jpg"])
    book.save(path)
    src = zipfile.ZipFile(path)
    out = tmp_path / "garbage-cut.xlsx"
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row r=\"999999\"><c><<<broken")
            z.writestr(info, data)
    return out


def test_sheets_are_read_only_up_to_the_row_limit(tmp_path: Path) -> None:
    """Past the row limit nothing more is read: broken XML after row ``MAX_ROWS + 2`` of an
    XLSX, or a CSV field over the csv module's size limit there, never reaches the parser."""
    path = _xlsx_with_garbage_after(MAX_ROWS + 2, tmp_path)
    with pytest.raises(ImportFileError, match=f"at most {MAX_ROWS}"):
        open_sheet(path.name, path.read_bytes())
    text = ("ref,name\n" + "".join(f"R-{k},Child\n" for k in range(MAX_ROWS + 2))
            + "X," + "a" * 200_000 + "\n")
    with pytest.raises(ImportFileError, match=f"at most {MAX_ROWS}"):
        open_sheet("big.csv", text.encode())
    with pytest.raises(ImportFileError, match="not a readable"):  # below the limit: an error
        open_sheet("small.csv", b"ref,name\nR-1," + b"a" * 200_000 + b"\n")


def test_sheets_within_the_limit_read_in_full(tmp_path: Path) -> None:
    """Exactly ``MAX_ROWS`` rows (with an empty line among them and blank lines after) read;
    empty lines keep their row numbers; a cp1252 CSV still reads."""
    text = "ref,name\n" + "".join(f"R-{k},Child\n" if k != 5 else ",\n"
                                  for k in range(MAX_ROWS)) + ",\n,\n"
    rows, _, _ = open_sheet("full.csv", text.encode())
    assert len(rows) == MAX_ROWS and rows[5] == {} and rows[-1] == {"ref": f"R-{MAX_ROWS - 1}",
                                                                     "name": "Child"}
    rows, _, _ = open_sheet("latin.csv", "ref,name\nR-1,José\n".encode("cp1252"))
    assert rows == [{"ref": "R-1", "name": "José"}]


# ----------------------------------------------------------------------------- damaged ZIPs


def _damage(data: bytes, member: bytes) -> bytes:
    """``data`` (a ZIP) with bytes in the middle of the stored member holding ``member``
    changed: its CRC no longer matches."""
    at = data.index(member) + len(member) // 2
    return data[:at] + bytes(b ^ 0xFF for b in data[at:at + 64]) + data[at + 64:]


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_damaged_zip_member_is_one_photo_error(compression: int) -> None:
    good, bad = os.urandom(5000), os.urandom(5000)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        z.writestr("a.jpg", good)
        z.writestr("b.jpg", bad)
    data = buf.getvalue()
    if compression == zipfile.ZIP_STORED:
        data = _damage(data, bad)
    else:  # the deflated stream of b.jpg: from its local header to the central directory
        info = zipfile.ZipFile(io.BytesIO(data)).getinfo("b.jpg")
        start = info.header_offset + 30 + len(info.filename)
        data = data[:start + 100] + bytes(64) + data[start + 164:]
    source = PhotoSource(archive=zipfile.ZipFile(io.BytesIO(data)))
    assert source.read("a.jpg", LIMIT) == good
    with pytest.raises(ValueError, match="damaged"):
        source.read("b.jpg", LIMIT)


def test_a_damaged_sheet_inside_a_zip_is_a_file_error() -> None:
    sheet = ("ref,name,photos\n" + "R-1,Child,a.jpg\n" * 400).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("cases.csv", sheet)
    with pytest.raises(ImportFileError, match="damaged"):
        open_sheet("export.zip", _damage(buf.getvalue(), sheet))


@pytest.mark.heavy
def test_a_damaged_photo_in_the_zip_rejects_its_row_and_the_rest_imports(
        workspace: Workspace, celeb5: Path) -> None:
    first, second = usable_photos(sorted((celeb5 / "train" / "madonna").iterdir()),
                                  workspace.settings, 2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("one.jpg", first.read_bytes())
        z.writestr("two.jpg", second.read_bytes())
    photos = _damage(buf.getvalue(), first.read_bytes())
    sheet = b"ref,name,photos,consent\nD-1,One,one.jpg,yes\nD-2,Two,two.jpg,yes\n"
    report = import_files("cases.csv", sheet, photos, workspace.records, workspace.store,
                          workspace.settings, "tester")
    status = {r.ref: r for r in report.rows}
    assert status["D-1"].status == "rejected" and "damaged" in status["D-1"].reasons[0]
    assert status["D-2"].status == "imported"
    assert [c.ref for c in workspace.records.list_cases()] == ["D-2"]
