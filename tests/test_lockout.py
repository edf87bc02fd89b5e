"""Sign-in lock-out under attack: bursts of parallel guesses, locked answers that tell nothing,
and strangers who cannot keep an admin out. Real SQLite, real bcrypt, real threads.

Time is moved in the database (:func:`_age`), never waited for, so nothing here depends on how
fast the machine is.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import bcrypt
import pytest
from sqlalchemy import select

from findme.cases import throttle, users
from findme.cases.records import Records, open_records
from findme.config import Settings
from tests.test_postgres import postgres_url  # noqa: F401 - a fixture

PW = "correct horse battery"


@pytest.fixture
def records(ws_settings: Settings):
    """Records with the production lock-out limits (5 attempts, 15 minutes, 30 per client)
    and cheap hashes."""
    r = open_records(replace(ws_settings, bcrypt_rounds=4, lockout_attempts=5,
                             lockout_minutes=15, signin_limit_client=30,
                             signin_window_minutes=15))
    yield r
    r.engine.dispose()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every password check bcrypt really performs, recorded (the real ``checkpw`` runs)."""
    seen: list[bytes] = []
    real = bcrypt.checkpw
    guard = threading.Lock()

    def counted(password: bytes, hashed: bytes) -> bool:
        with guard:
            seen.append(password)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counted)
    return seen


def _answer(records: Records, name: str, password: str, client: str | None = None) -> str:
    """What a sign-in answers: "signed in" or the refusal's message."""
    try:
        users.authenticate(records, name, password, client=client)
    except users.SignInFailed as exc:
        return str(exc)
    return "signed in"


def _burst(records: Records, attempts: list[tuple[str, str, str | None]]) -> list[str]:
    """All ``(name, password, client)`` attempts at once, one thread each, released together
    by a barrier; returns their answers in order."""
    gate = threading.Barrier(len(attempts))

    def one(attempt: tuple[str, str, str | None]) -> str:
        gate.wait()
        return _answer(records, *attempt)

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(one, attempts))


def _age(records: Records, minutes: float) -> None:
    """Move every sign-in record ``minutes`` into the past (as if that long had gone by)."""
    step = dt.timedelta(minutes=minutes)
    T = throttle.SignInThrottle
    with records.session() as s:
        for row in s.scalars(select(T)).all():
            row.window_start = row.window_start - step
        for user in s.scalars(select(users.User).where(users.User.locked_until.is_not(None))):
            user.locked_until = user.locked_until - step


def test_a_burst_of_40_sign_ins_gets_at_most_lockout_attempts_checks(records,
                                                                      checks) -> None:
    """40 wrong guesses at once, from 40 addresses: exactly ``lockout_attempts`` (5) hashes are
    checked; every other guess is refused before any check, all with one and the same answer
    that says how long to wait."""
    users.add_user(records, "anna", PW, "investigator")
    checks.clear()
    answers = _burst(records, [("anna", f"wrong guess {k}", f"10.0.0.{k}") for k in range(40)])
    assert len(checks) == 5, f"{len(checks)} password checks for a limit of 5"
    assert "signed in" not in answers
    refusals = [a for a in answers if a != "wrong user name or password"]
    assert len(set(refusals)) == 1 and "minute" in refusals[0], set(answers)
    assert answers.count("wrong user name or password") == 4
    fails = [e["detail"] for e in records.audit_log(actor="anna", action="signin.fail")]
    assert sorted(d for d in fails if d.startswith("attempt")) == [
        "attempt 1", "attempt 2", "attempt 3", "attempt 4", "attempt 5, locked"]


@pytest.mark.parametrize("where", [0, 20, 39])
def test_the_right_password_in_a_burst_gets_no_answer_of_its_own(records, checks,
                                                                  monkeypatch, where) -> None:
    """39 wrong guesses and the right password at once. The right password's check (if it gets
    one) is held until every wrong guess has been answered, the worst case for the old code
    (which locked the account meanwhile and then refused the right password with a message no
    wrong guess got). Now the right password either signs in (its check was one of the 5
    reserved) or is refused with exactly the answer the wrong guesses got; never more than 5
    checks before a success."""
    users.add_user(records, "anna", PW, "investigator")
    others_done = threading.Event()
    pending = [39]
    lock = threading.Lock()
    real = bcrypt.checkpw

    def held(password: bytes, hashed: bytes) -> bool:
        if password == PW.encode():
            others_done.wait(timeout=60)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", held)

    def answer(attempt: tuple[str, str, str | None]) -> str:
        got = _answer(records, *attempt)
        if attempt[1] != PW:
            with lock:
                pending[0] -= 1
                if pending[0] == 0:
                    others_done.set()
        return got

    attempts = [("anna", f"wrong guess {k}", None) for k in range(39)]
    attempts.insert(where, ("anna", PW, None))
    gate = threading.Barrier(40)

    def one(attempt: tuple[str, str, str | None]) -> str:
        gate.wait()
        return answer(attempt)

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(one, attempts))
    right = answers.pop(where)
    assert right == "signed in" or right in answers, (right, set(answers))
    fails = [e["detail"] for e in records.audit_log(actor="anna", action="signin.fail")]
    assert len([d for d in fails if d.startswith("attempt")]) <= 5, fails


def test_locked_names_answer_alike_known_or_unknown_whatever_the_password(records) -> None:
    """Five wrong passwords lock a real account and an unknown name alike; from then on the
    right password, a wrong one and any password for the unknown name get the same answer
    (with the minutes to wait), so neither the password nor the name's existence shows."""
    users.add_user(records, "ana", PW, "reviewer")
    fifth = {}
    for name in ("ana", "ghost"):
        got = [_answer(records, name, "not the password") for _ in range(5)]
        assert got[:4] == ["wrong user name or password"] * 4, got
        fifth[name] = got[4]
    assert fifth["ana"] == fifth["ghost"] and "minute" in fifth["ana"], fifth
    later = {_answer(records, "ana", PW), _answer(records, "ana", "not the password"),
             _answer(records, "ghost", PW), _answer(records, "ghost", "still wrong!")}
    assert len(later) == 1 and "minute" in later.pop()
    _age(records, 16)  # the 15-minute lock is over
    assert _answer(records, "ana", PW) == "signed in"


def test_a_sign_in_clears_the_failures_and_frees_the_clients_reservation(records) -> None:
    """Four wrong guesses, then the right password: the count starts again (four more wrong
    guesses do not lock). 60 sign-ins from one address never use up its allowance of
    failures: a success gives its reservation back."""
    users.add_user(records, "ana", PW, "reviewer")
    for _ in range(2):
        for _ in range(4):
            assert _answer(records, "ana", "not the password", "10.0.0.1").startswith("wrong")
        assert _answer(records, "ana", PW, "10.0.0.1") == "signed in"
    small = open_records(replace(records.settings, signin_limit_client=3))
    try:
        assert all(_answer(small, "ana", PW, "10.0.0.2") == "signed in" for _ in range(60))
    finally:
        small.engine.dispose()


def _hammer(records: Records, client: str, times: int) -> set[str]:
    return {_answer(records, "boss", f"guess {client} {k}", client) for k in range(times)}


def test_strangers_cannot_keep_an_admin_locked_out(records, checks) -> None:
    """A stranger at 10.6.6.6 guesses the admin's password non-stop. The first five guesses
    lock the name for everyone (15 minutes); after that the stranger's address waits longer
    each time (15, 30, 60 ... minutes), while the name's count starts again once a lock is
    over, so one address can lock the admin out once, not again. The admin, from another
    address, signs in as soon as that one lock ends, every time. Two more strangers each lock
    the name once more: the admin waits at most 15 minutes per attacking address."""
    users.add_user(records, "boss", PW, "admin")
    checks.clear()
    locked = _hammer(records, "10.6.6.6", 40)
    assert len(checks) == 5
    assert _answer(records, "boss", PW, "10.1.1.1") in locked  # locked for the admin too
    for _ in range(6):  # an hour and a half of non-stop guessing from the same address
        _age(records, 15.5)
        _hammer(records, "10.6.6.6", 20)
        assert _answer(records, "boss", PW, "10.1.1.1") == "signed in"
    assert len(checks) <= 5 + 4 + 6, len(checks)  # 5, then one per doubling wait at most
    for stranger in ("10.7.7.7", "10.8.8.8"):
        _hammer(records, stranger, 40)
        assert _answer(records, "boss", PW, "10.1.1.1") != "signed in"
        _age(records, 15.5)
        assert _answer(records, "boss", PW, "10.1.1.1") == "signed in"


def test_one_address_guessing_many_names_is_stopped_first(records, checks) -> None:
    """Past ``signin_limit_client`` (30) failures in the window, an address is refused for
    every name at once: no hash checked, no audit row, and the names it tried are not locked
    for anyone else; a new window lets it try again."""
    users.add_user(records, "dave", PW, "viewer")
    for k in range(30):
        assert _answer(records, f"guess{k}", "wrong password!", "10.1.1.1").startswith("wrong")
    checks.clear()
    rows = len(records.audit_log())
    refused = {_answer(records, name, PW, "10.1.1.1") for name in ("dave", "guess0", "zed")}
    assert len(refused) == 1 and "try again in" in refused.pop()
    assert not checks and len(records.audit_log()) == rows, "a refused attempt writes nothing"
    assert _answer(records, "dave", PW, "10.2.2.2") == "signed in"
    _age(records, 16)
    assert _answer(records, "dave", PW, "10.1.1.1") == "signed in"


def test_a_password_reset_lifts_the_lock(records) -> None:
    """An admin's password reset ends a lock at once (no waiting)."""
    users.add_user(records, "ana", PW, "reviewer")
    users.add_user(records, "boss", PW, "admin")
    for _ in range(5):
        _answer(records, "ana", "not the password", "10.0.0.8")
    assert "minute" in _answer(records, "ana", PW, "10.0.0.9")
    users.reset_password(records, "ana", "a brand new password", actor="boss")
    assert _answer(records, "ana", "a brand new password", "10.0.0.9") == "signed in"


@pytest.mark.heavy
def test_a_burst_on_postgres_gets_at_most_lockout_attempts_checks(postgres_url: str,  # noqa: F811
                                                                  ws_settings: Settings,
                                                                  checks) -> None:
    """The same 40-guess burst against a real PostgreSQL server (row locks instead of SQLite's
    one writer): 5 checks, one answer for all refusals; the right password then gets it too."""
    from tests.test_postgres import _fresh

    _fresh(postgres_url)
    r = open_records(replace(ws_settings, database_url=postgres_url, bcrypt_rounds=4,
                             lockout_attempts=5, lockout_minutes=15))
    try:
        users.add_user(r, "anna", PW, "investigator")
        checks.clear()
        answers = _burst(r, [("anna", f"wrong guess {k}", f"10.0.0.{k % 7}") for k in range(40)])
        assert len(checks) == 5, f"{len(checks)} password checks for a limit of 5"
        refusals = {a for a in answers if a != "wrong user name or password"}
        assert len(refusals) == 1 and _answer(r, "anna", PW, "10.0.1.1") in refusals
    finally:
        r.engine.dispose()
