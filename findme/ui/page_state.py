"""What a page keeps between reruns, owned by one workspace and one signed-in user.

Streamlit's ``st.session_state`` lives as long as the browser tab: a search made in the demo, a
prepared export or an evaluation would otherwise still be on screen (and acted on) after the
sidebar switches to *Real cases*, or after another person signs in at the same tab. Every page
therefore keeps its state in the one dict :func:`of` gives it: the dict belongs to the pair
(workspace data folder, user name), and a different pair gets a new, empty dict (the old one is
dropped, with any bytes it held). Widgets whose values must not outlive a submission take their
keys from a :class:`OneTimeForm`.

:func:`scoped` and :class:`OneTimeForm` take a plain mapping, so they are tested without
Streamlit; :func:`of` is the page's door.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from findme.ui.session import Context

T = TypeVar("T")

#: the one key of ``st.session_state`` that holds the pages' state
SESSION_KEY = "_page_state"


@dataclass
class _Owned:
    """The pages' state and the (workspace, user) pair it belongs to."""

    owner: tuple[str, str]
    values: dict[str, Any] = field(default_factory=dict)


def owner_of(data_dir: Path | str, username: str) -> tuple[str, str]:
    """The pair a page's state belongs to: the workspace's data folder (resolved, so two
    spellings of one folder are one workspace) and the user name."""
    return str(Path(data_dir).resolve()), username


def scoped(session: MutableMapping[str, Any], data_dir: Path | str,
           username: str) -> dict[str, Any]:
    """The dict of page state ``session`` holds for (``data_dir``, ``username``); when
    ``session`` holds state of another pair it is replaced by a new, empty dict first."""
    owner = owner_of(data_dir, username)
    held = session.get(SESSION_KEY)
    if not isinstance(held, _Owned) or held.owner != owner:
        held = _Owned(owner)
        session[SESSION_KEY] = held
    return held.values


def of(ctx: Context) -> dict[str, Any]:
    """The page state of the open workspace and the signed-in user (see :func:`scoped`):
    a page reads and writes its keys here, never in ``st.session_state`` itself."""
    import streamlit as st

    return scoped(st.session_state, ctx.settings.data_dir, ctx.user.username)


class OneTimeForm:
    """A form whose submission counts once: its widgets are keyed by a one-time token.

    ``key(widget)`` names a widget of the current token. :meth:`submit` runs the action of a
    submission at most once per token: once it succeeds, its result is kept (:attr:`done`) and a
    new token is issued, so every widget key changes and the form comes back empty; a second
    click on the old form (or a rerun of it) finds no widget of that token and does nothing. An
    action that raises leaves the token unspent (the person corrects the form and tries again).
    State lives in ``state`` (a page's dict from :func:`of`) under ``name``.
    """

    def __init__(self, state: MutableMapping[str, Any], name: str) -> None:
        self._state = state
        self.name = name
        if f"{name}.token" not in state:
            state[f"{name}.token"] = secrets.token_hex(6)

    @property
    def token(self) -> str:
        """The token the form's widgets carry now."""
        return self._state[f"{self.name}.token"]

    def key(self, widget: str) -> str:
        """The key of ``widget`` in the form of the current token."""
        return f"{self.name}.{widget}.{self.token}"

    @property
    def done(self) -> Any | None:
        """The result of the last successful submission (None before any)."""
        return self._state.get(f"{self.name}.done")

    def submit(self, token: str, action: Callable[[], T]) -> T | None:
        """Run ``action`` for the submission of form ``token`` (the token its widgets carried)
        unless that token is spent already; returns its result (None when spent). On success the
        result is kept as :attr:`done` and a new token is issued, before anything else can run;
        an exception from ``action`` propagates and leaves the token unspent."""
        spent: set[str] = self._state.setdefault(f"{self.name}.spent", set())
        if token in spent or token != self.token:
            return None
        spent.add(token)
        try:
            result = action()
        except BaseException:
            spent.discard(token)
            raise
        self._state[f"{self.name}.done"] = result
        self._state[f"{self.name}.token"] = secrets.token_hex(6)
        return result
