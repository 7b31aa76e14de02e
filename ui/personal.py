"""Your drawings (issue 28): the drawings store, whose drawings they are, Draw's "that's a 7" buttons, and the
My drawings list (delete, download, the room's class set). The store itself is `simplecnn.personal.store`.

A drawing is confirmed to the participant only after the store's `add()` returned (the row is committed), so
what a page says was saved survives a kill -9 of the server.
"""

from __future__ import annotations

import hashlib
import io
import time

import numpy as np
import streamlit as st

from simplecnn import settings
from simplecnn.personal import archive
from simplecnn.personal.finetune import HOLD_OUT
from simplecnn.personal.store import MAX_PER_PARTICIPANT, Drawing, DrawingStore, DrawingStoreError, held_out
from simplecnn.workshop.room import Participant
from ui import charts, nav
from ui import participant as participants
from ui.i18n import error_text, t

ROOM_ID = "room"  # one room per server process; the store keeps the room so a later multi-room host can split it
LABELLED = "personal_labelled"  # session: (drawing's key, store id, label) of the drawing on the canvas
NOTICE = "personal_notice"  # session: (kind, catalog key, values) shown once after an action
LIST_SIZE = 60  # drawings shown on My drawings (newest first); the downloads hold all of them
THUMB = 3  # a 28×28 drawing shown 84 px wide


@st.cache_resource(show_spinner=False)
def _store(path: str) -> DrawingStore:
    return DrawingStore(path)  # an error is not cached: the next page tries again


def open_store() -> tuple[DrawingStore | None, str | None]:
    """(the server's drawings store, None) or (None, why it cannot be used, in the visitor's words)."""
    try:
        return _store(str(settings.drawings_file())), None
    except DrawingStoreError as exc:
        return None, error_text(exc)


def owner(store: DrawingStore | None, create: bool = True) -> Participant | None:
    """This page's participant. After a server restart, the link's token finds them again through the store
    (Room.adopt), and so their drawings; with `create`, a new participant when none is found."""
    person = participants.current()
    token = participants.url_token() or st.session_state.get(participants.TOKEN_KEY)
    if person is None and token and store is not None:
        try:
            known = store.recall_participant(token)
        except DrawingStoreError:
            known = None
        if known is not None:
            participants.room().adopt(token, *known)
            person = participants.current()
    if person is None and create:
        person = participants.ensure()
    return person


def _notice() -> None:
    """The message an action left for this run (said once)."""
    kind, key, values = st.session_state.pop(NOTICE, ("", "", {}))
    if kind:
        getattr(st, kind)(t(key, **values))


def _problem(exc: DrawingStoreError) -> None:
    st.session_state[NOTICE] = ("error", "personal.problem", {"problem": error_text(exc)})


# ---- Draw: one tap labels the drawing ---------------------------------------------------------------------------
def _key(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()[:20]


def _png(image: np.ndarray | None) -> bytes | None:
    if image is None:
        return None
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.round(arr.astype(np.float64) * (255 if arr.max() <= 1 else 1)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _label(digit: int, seen: np.ndarray, image: np.ndarray | None, predicted: int) -> None:
    store, problem = open_store()
    if store is None:
        st.session_state[NOTICE] = ("error", "personal.problem", {"problem": problem})
        return
    person = owner(store)
    assert person is not None
    key = _key(seen)
    done = st.session_state.get(LABELLED)
    try:
        if done is not None and done[0] == key and store.relabel(person.id, done[1], digit):
            st.session_state[LABELLED] = (key, done[1], digit)
        else:
            store.remember_participant(person.token, person.id, person.name)
            drawing = store.add(person.id, ROOM_ID, digit, seen, _png(image), predicted)
            st.session_state[LABELLED] = (key, drawing.id, digit)
    except DrawingStoreError as exc:
        _problem(exc)


def label_buttons(seen: np.ndarray, image: np.ndarray | None, predicted: int) -> None:
    """Ten digit buttons under the answer: one tap keeps this drawing with that label (right or wrong); a second
    tap on another digit changes the label. Draw calls this once it has an answer."""
    with st.container(key="personal_label"):
        st.caption(t("personal.label.ask"))
        with st.container(horizontal=True, gap="small", key="personal_label_row"):
            for digit in range(10):
                st.button(
                    str(digit),
                    key=f"personal_label_{digit}",
                    type="primary" if digit == predicted else "secondary",
                    on_click=_label,
                    args=(digit, seen, image, predicted),
                    help=t("personal.label.help", digit=digit),
                )
        done = st.session_state.get(LABELLED)
        if done is not None and done[0] == _key(seen):
            store, _ = open_store()
            person = participants.current()
            count = store.count(person.id) if store is not None and person is not None else 0
            st.success(t("personal.label.saved", digit=done[2], count=count))
            st.page_link(nav.page("my_drawings"), label=t("personal.label.see_all"), icon=":material/photo_library:")
        _notice()


# ---- My drawings -------------------------------------------------------------------------------------------------
def _delete(drawing_id: int) -> None:
    store, _ = open_store()
    person = participants.current()
    if store is None or person is None:
        return
    try:
        if store.delete(person.id, drawing_id):
            st.session_state[NOTICE] = ("success", "personal.mine.deleted", {})
    except DrawingStoreError as exc:
        _problem(exc)


def _delete_all() -> None:
    store, _ = open_store()
    person = participants.current()
    if store is None or person is None:
        return
    try:
        gone = store.delete_all(person.id)
        st.session_state[NOTICE] = ("success", "personal.mine.deleted_all", {"count": gone})
    except DrawingStoreError as exc:
        _problem(exc)


def _set_consent() -> None:
    store, _ = open_store()
    person = participants.current()
    if store is not None and person is not None:
        try:
            store.set_consent(person.id, ROOM_ID, bool(st.session_state.get("personal_consent")))
        except DrawingStoreError as exc:
            _problem(exc)


def drawings_section(store: DrawingStore, person: Participant) -> list[Drawing]:
    """The participant's drawings: the newest as pictures with their label and a delete button each; delete all;
    the two downloads; whether they go into the room's class set. Returns them (oldest first)."""
    _notice()
    try:
        mine = store.drawings(person.id)
        consents = store.consents(person.id, ROOM_ID)
    except DrawingStoreError as exc:
        st.error(t("personal.problem", problem=error_text(exc)))
        return []
    held = sum(held_out(d.pixels, HOLD_OUT) for d in mine)
    st.caption(t("personal.mine.count", count=len(mine), limit=MAX_PER_PARTICIPANT, held=held))
    if not mine:
        st.info(t("personal.mine.empty"))
        st.page_link(nav.page("draw"), label=t("personal.mine.go_draw"), icon=":material/draw:")
        return mine
    _downloads(store, person, mine)
    st.toggle(t("personal.mine.consent"), value=consents, key="personal_consent", on_change=_set_consent)
    with st.container(horizontal=True, gap="small", key="personal_grid"):
        for drawing in reversed(mine[-LIST_SIZE:]):
            _tile(drawing)
    if len(mine) > LIST_SIZE:
        st.caption(t("personal.mine.more", count=len(mine) - LIST_SIZE))
    with st.popover(t("personal.mine.delete_all"), icon=":material/delete_forever:"):
        st.warning(t("personal.mine.delete_all_sure", count=len(mine)))
        st.button(t("personal.mine.delete_all_yes"), key="personal_delete_all", type="primary", on_click=_delete_all)
    return mine


def _tile(drawing: Drawing) -> None:
    with st.container(border=True, width=112, key=f"personal_tile_{drawing.id}"):
        st.image(charts.enlarge(drawing.pixels / 255.0, THUMB), width=84, clamp=True)
        said = "" if drawing.predicted is None or drawing.predicted == drawing.label else f" ({drawing.predicted})"
        st.text(f"{drawing.label}{said}", help=t("personal.mine.tile_help"))
        st.button(
            "",
            icon=":material/delete:",
            key=f"personal_delete_{drawing.id}",
            on_click=_delete,
            args=(drawing.id,),
            help=t("personal.mine.delete"),
        )


def _downloads(store: DrawingStore, person: Participant, mine: list[Drawing]) -> None:
    person_id = person.id

    def zip_data() -> bytes:  # made when the button is pressed, not on every page run
        drawings = store.drawings(person_id)
        originals = {d.id: o for d in drawings if d.has_original and (o := store.original(person_id, d.id))}
        return archive.zip_bytes(drawings, originals, HOLD_OUT)

    stamp = time.strftime("%Y%m%d-%H%M")
    with st.container(horizontal=True, key="personal_downloads"):
        st.download_button(
            t("personal.mine.download_zip"),
            data=zip_data,
            file_name=f"my-drawings-{stamp}.zip",
            mime="application/zip",
            key="personal_zip",
            icon=":material/download:",
            on_click="ignore",
        )
        st.download_button(
            t("personal.mine.download_npz"),
            data=lambda: archive.npz_bytes(store.drawing_set(person_id)),
            file_name=f"my-drawings-{stamp}.npz",
            mime="application/octet-stream",
            key="personal_npz",
            icon=":material/download:",
            on_click="ignore",
        )


# ---- the host: the room's class set ----------------------------------------------------------------------------
def host_pool() -> None:
    """On the host controls: how many drawings the room's class set holds (only of participants who said yes),
    and its download (PNGs named by label, no names of people)."""
    store, problem = open_store()
    if store is None:
        st.caption(t("personal.problem", problem=problem))
        return
    try:
        drawings, people = store.pool_size(ROOM_ID)
    except DrawingStoreError as exc:
        st.caption(t("personal.problem", problem=error_text(exc)))
        return
    st.caption(t("personal.pool.size", count=drawings, people=people))
    st.download_button(
        t("personal.pool.download"),
        data=lambda: archive.set_zip_bytes(store.pooled(ROOM_ID)),
        file_name="class-set.zip",
        mime="application/zip",
        key="personal_pool_zip",
        disabled=not drawings,
        on_click="ignore",
    )
