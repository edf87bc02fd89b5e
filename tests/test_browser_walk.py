"""Every role walks every page it may open, in real cases and in the demo workspace (issue 22).

Headless Debian Chromium (Playwright) against ``streamlit run app.py`` on 127.0.0.1. The data
folder holds a real missing case, a real found record and a real lead (made with the ``findme``
command before the dashboard starts, from portraits of people the demo does not use) and the
demo workspace (``findme demo``). Each of the five roles signs in, checks that the sidebar lists
exactly the pages its permissions allow, and opens each of them in *Real cases* and in *Demo*.
A page fails the walk when it shows

* a literal ``None`` to a person (a missing value printed as Python writes it),
* an exception box (``stException``),
* no heading within 15 s of the click (the issue's guard against a page that hangs; the run
  must also end within a minute before the page is read), the slowest pages are printed,
* anything of the demo under *Real cases*, or anything of the real cases under *Demo*.

Every defect of every page is collected first and reported together. The admin's walk saves one
full-page screenshot per page and workspace in ``tests/artifacts/walk/`` (the guide uses them:
``docs/screenshots.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from findme.cases import users
from findme.config import Settings
from findme.ui.session import NAV
from tests.conftest import usable_photos
from tests.live_app import ARTIFACTS, CHROMIUM_ARGS, running_app, sign_in

pytestmark = pytest.mark.heavy
PASSWORD = "correct horse battery"
ROLES = ("admin", "investigator", "reviewer", "viewer", "shelter")
PAGE_GUARD_S = 15.0
SETTLE_S = 60.0

#: distinctive words of the real cases (never in the demo)
REAL_MARKS = ("Zephyrine", "Walkreal", "Quillby", "Foundwalk")
#: distinctive words of the demo (never in real cases)
DEMO_MARKS = ("DEMO ·", "Demo city", "Demo camera", "Demo station", "Madonna", "Seinfeld",
              "Elton John", "Mindy Kaling", "Affleck", "Afflek", "ORL person")
#: a missing value printed as Python writes it ("None of the ..." is English, not a defect)
NONE = re.compile(r"(?<![\w-])None(?![\w-]| of\b)")


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _cli(env: dict[str, str], *args: str, stdin: str | None = None,
         timeout: float = 900) -> str:
    done = subprocess.run([sys.executable, "-m", "findme.cli", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def _prepare(settings: Settings, env: dict[str, str]) -> None:
    """Accounts for every role, real records and a lead, and the demo workspace."""
    for role in ROLES:
        _cli(env, "users", "add", f"walk-{role}", "--role", role, "--password-stdin",
             stdin=PASSWORD + "\n", timeout=120)
    portraits = sorted((settings.eval_dir / "distractors").glob("*.jpg"))
    missing, found = usable_photos(portraits[40:], settings, 2)
    _cli(env, "enroll", "--name", "Zephyrine Walkreal", "--age", "9", "--last-seen",
         "Quillby Lane", "--consent", "--actor", "walk-admin", str(missing))
    _cli(env, "enroll", "--found", "--name", "Foundwalk unknown", "--age-min", "6",
         "--age-max", "8", "--found-place", "Quillby market", "--institution",
         "Quillby Children's Home", "--lawful-basis", "CWC order 7/2026", "--actor",
         "walk-admin", str(found))
    _cli(env, "search", str(missing))  # a real lead for the review desk
    _cli(env, "demo")


def _settled(page, deadline: float) -> bool:
    """Wait (until ``deadline``, a monotonic time) for the page's script run to end; False if
    it did not."""
    try:
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                               state="attached",
                               timeout=max(1.0, deadline - time.monotonic()) * 1000)
        return True
    except Exception:  # noqa: BLE001 - the caller reports it as a defect
        return False


def _url_path(script: str) -> str:
    """The address path Streamlit gives a page script (``pages/6_CCTV_footage.py`` ->
    ``/CCTV_footage``; the main script is ``/``)."""
    return "/" if script == "app.py" else "/" + re.sub(r"^\d+_", "", Path(script).stem)


def _open(page, sidebar, label: str, heading: str, path: str,
          where: str) -> tuple[str | None, float]:
    """Click the sidebar link ``label`` and wait up to the guard for the page's ``heading``;
    return the defect (None when it showed) and the monotonic time of the click timed.

    A click the browser dropped is not a slow page: when the guard ends with the address still
    naming another page and no script run pending or running (the server never got the
    request: a link clicked while the previous page's one-second fragment redrew), the click is
    made once more and timed afresh. An address that names the page (its run began), or a run
    still going, is a slow page.
    """
    from playwright.sync_api import expect

    for attempt in (1, 2):
        start = time.monotonic()
        sidebar.get_by_role("link", name=label, exact=True).click()
        try:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(
                timeout=PAGE_GUARD_S * 1000)
            return None, start
        except AssertionError:
            pass
        address = urlparse(page.url).path.rstrip("/") or "/"
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        lost = not address.endswith(path) and state == "notRunning"
        print(f"{where}: no heading after click {attempt} ({address}, script {state})")
        if not lost or attempt == 2:
            return (f"{where}: no heading {heading!r} within {PAGE_GUARD_S} s (address "
                    f"{address}, script {state}, click {attempt})"), start
    raise AssertionError("unreachable: the second click returns")


def _excerpt(text: str, start: int, end: int) -> str:
    return "..." + text[max(0, start - 60):end + 40].replace("\n", " | ") + "..."


def _grids(page) -> str:
    """The text of the page's tables: their cells are drawn on a canvas, and the grid keeps
    the cells in view in its DOM too (for screen readers), once it has drawn them: a table
    whose ``aria-rowcount`` says it has rows is read when its first row is there."""
    texts = []
    for grid in page.locator('[data-testid="stDataFrame"]').all():
        table = grid.locator('table[role="grid"]').first
        try:
            table.wait_for(state="attached", timeout=10_000)
            if int(table.get_attribute("aria-rowcount") or "0") > 1:
                table.locator("tbody tr").first.wait_for(state="attached", timeout=10_000)
        except Exception:  # noqa: BLE001 - read what is there; the table control below fails
            pass
        texts.append(grid.text_content() or "")
    return "\n".join(texts)


def _inspect(page, where: str, workspace: str) -> list[str]:
    """What a person must never see on the page now shown, one line per defect."""
    defects = []
    text = page.locator('[data-testid="stApp"]').inner_text() + "\n" + _grids(page)
    for m in NONE.finditer(text):
        defects.append(f"{where}: a literal None: {_excerpt(text, m.start(), m.end())}")
    boxes = page.locator('[data-testid="stException"]')
    for k in range(boxes.count()):
        defects.append(f"{where}: an exception box: {boxes.nth(k).inner_text()[:300]}")
    real = workspace == "Real cases"
    for mark in DEMO_MARKS if real else REAL_MARKS:
        if mark in text:
            at = text.index(mark)
            defects.append(f"{where}: {'demo' if real else 'real'} content under {workspace}: "
                           f"{_excerpt(text, at, at + len(mark))}")
    return defects


def test_every_role_walks_every_page_in_both_workspaces(ws_settings: Settings, settings: Settings,
                                                        celeb5: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # signing in and switching; the page guard is its own
    data = ws_settings.data_dir
    (data / "eval").symlink_to(settings.eval_dir)  # the demo's public photos, read only
    env = dict(os.environ, FINDME_DATA_DIR=str(data),
               FINDME_SECRETS_FILE=str(data / "no-secrets.toml"))
    _prepare(ws_settings, env)
    shots = ARTIFACTS / "walk"
    shots.mkdir(parents=True, exist_ok=True)
    defects: list[str] = []
    times: list[tuple[float, float, str]] = []
    hosts: set[str] = set()

    with running_app(data) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        for role in ROLES:
            context = browser.new_context(viewport={"width": 1400, "height": 1300})
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.on("request", lambda r: hosts.add(r.url.split("/")[2])
                    if r.url.startswith("http") else None)
            page.goto(url)
            sign_in(page, f"walk-{role}", PASSWORD)
            sidebar = page.locator('[data-testid="stSidebar"]')

            links = [label for _, label, _ in NAV]
            paths = {label: _url_path(file) for file, label, _ in NAV}
            allowed = {label for _, label, perm in NAV
                       if perm is None or users.allowed(role, perm)}
            shown = {label for label in links
                     if sidebar.get_by_role("link", name=label, exact=True).count()}
            if shown != allowed:
                defects.append(f"{role}: the sidebar lists {sorted(shown)}, the role may open "
                               f"{sorted(allowed)}")

            for workspace in ("Real cases", "Demo"):
                sidebar.get_by_text(workspace, exact=True).click()
                banner = page.get_by_text(re.compile("^DEMO WORKSPACE:"))  # the page's banner
                if workspace == "Demo":
                    expect(banner).to_be_visible()
                else:
                    expect(banner).to_have_count(0)
                _settled(page, time.monotonic() + 60)
                for label in links:
                    if label not in shown:
                        continue
                    where = f"{role} / {workspace} / {label}"
                    heading = "Find Me AI" if label == "Overview" else label
                    late, start = _open(page, sidebar, label, heading, paths[label], where)
                    if late:
                        defects.append(late)
                        page.screenshot(path=str(shots / f"slow-{role}-{_slug(workspace)}-"
                                                 f"{_slug(label)}.png"), full_page=True)
                        continue
                    shown_after = time.monotonic() - start
                    if not _settled(page, start + SETTLE_S):
                        defects.append(f"{where}: still running {SETTLE_S} s after the click")
                    times.append((shown_after, time.monotonic() - start, where))
                    defects += _inspect(page, where, workspace)
                    # a control: the table of real records (missing, or found for a shelter)
                    # is read, so the None check sees table cells
                    if (workspace, label) == ("Real cases", "Cases") and not any(
                            name in _grids(page)
                            for name in ("Zephyrine Walkreal", "Foundwalk unknown")):
                        defects.append(f"{where}: the cases table's cells cannot be read, so "
                                       "the None check would not see them")
                    if role == "admin":
                        name = f"{'real' if workspace == 'Real cases' else 'demo'}-{_slug(label)}"
                        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                        if label == "Admin":
                            page.get_by_role("tab", name="System status").click()
                            _settled(page, time.monotonic() + PAGE_GUARD_S)
                            defects += _inspect(page, f"{where} / System status", workspace)
                            page.screenshot(path=str(shots / f"{name}-status.png"),
                                            full_page=True)
            context.close()
        browser.close()

    times.sort(reverse=True)
    print("\nslowest pages (seconds from the click to the heading / to the end of the run):")
    for heading_s, settled_s, where in times[:8]:
        print(f"  {heading_s:5.1f} / {settled_s:5.1f}  {where}")
    print(f"{len(times)} pages opened")
    assert hosts and all(h.startswith("127.0.0.1:") for h in hosts), hosts
    assert not defects, "\n".join(defects)


def test_the_api_docs_page_opens_in_chromium_without_internet(tmp_path: Path,
                                                              settings: Settings) -> None:
    """The REST API's own docs page (``/api/v1/docs``) renders every operation from this server
    alone, as the guide's API page shows it (``tests/artifacts/walk/api-docs.png``)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.api_server import new_data_dir, running_api

    hosts: set[str] = set()
    shots = ARTIFACTS / "walk"
    shots.mkdir(parents=True, exist_ok=True)
    with running_api(new_data_dir(tmp_path, settings.weights_dir)) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.on("request", lambda r: hosts.add(r.url.split("/")[2])
                if r.url.startswith("http") else None)
        page.goto(f"{url}/api/v1/docs")
        for path in ("/api/v1/cases", "/api/v1/search", "/api/v1/leads/{lead_id}/review"):
            expect(page.locator(f'.opblock-summary-path[data-path="{path}"]').first) \
                .to_be_visible(timeout=60_000)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / "api-docs.png"), full_page=True)
        browser.close()
    assert hosts and all(h.startswith("127.0.0.1:") for h in hosts), hosts
