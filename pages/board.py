"""Class board: every run on this server, live; a leaderboard; runs overlaid and compared; CSV; host controls.

Participants' names are their own text: they are shown only in dataframe cells, widget options and st.text,
never in markdown or HTML. The host controls appear only when SIMPLECNN_HOST_PASSWORD is set.
"""

from __future__ import annotations

import streamlit as st

from simplecnn.data import TRAIN_SIZE
from simplecnn.figures import room as room_plots
from simplecnn.workshop.board import BoardRow, board_csv, board_rows, leaderboard, per_digit_accuracy, settings_diff
from simplecnn.workshop.host import SignIn
from simplecnn.workshop.room import CUSTOM, RoomRules
from simplecnn.workshop.scheduler import Run
from ui import fmt, resources, session
from ui import participant as participants

sched, room = resources.scheduler(), participants.room()
PRESET_NAMES = {"quick": "Quick", "tutorial": "Tutorial (15 epochs)", CUSTOM: "Custom"}
SELECT_KEY, HOST_NOTICE = "board_selected", "board_host_notice"
COLUMNS = {
    "Participant": st.column_config.TextColumn(width="medium"),
    "Progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
    "Best test acc": st.column_config.NumberColumn(format="percent"),
}


def _label(row: BoardRow) -> str:
    return f"{row.name} · run {row.run_id.removeprefix('run-')}"


def _status(row: BoardRow) -> str:
    return f"queued #{row.queue_position}" if row.queue_position else row.status.label


def _table(rows: list[BoardRow]) -> list[dict]:
    return [
        {
            "Run": int(r.run_id.removeprefix("run-")),
            "Participant": r.name,
            "Preset": r.preset,
            "Status": _status(r),
            "Progress": r.progress,
            "Best test acc": r.best_accuracy,
            "Time": fmt.duration(r.seconds) if r.seconds else "—",
            "Epochs": r.epochs,
            "Training images": r.train_images,
        }
        for r in rows
    ]


def _board() -> None:
    session.keep_alive(session.current_run())  # a participant watching the board is still here
    rows = board_rows(sched, room)
    active = sum(r.status.active for r in rows)
    st.caption(
        f"{len(rows)} run{'s' * (len(rows) != 1)} · {active} queued or training · "
        f"{sched.max_concurrent} train{'s' * (sched.max_concurrent == 1)} at once"
        + (" · new starts paused by the host" if sched.paused else "")
    )
    if not rows:
        st.info("No runs yet. Start one on the Train page; it appears here for everyone.")
        return
    st.dataframe(_table(rows), key="board_table", hide_index=True, column_config=COLUMNS)
    top = leaderboard(rows)
    if top:
        st.subheader("Leaderboard")
        st.dataframe(
            [
                {
                    "#": i + 1,
                    "Participant": r.name,
                    "Best test acc": r.best_accuracy,
                    "Preset": r.preset,
                    "Time": fmt.duration(r.seconds),
                }
                for i, r in enumerate(top)
            ],
            key="board_leaderboard",
            hide_index=True,
            column_config=COLUMNS,
        )
    st.download_button(
        "Download the board (CSV)", data=board_csv(rows), file_name="class-board.csv", mime="text/csv", key="board_csv"
    )
    _compare(rows)


def _compare(rows: list[BoardRow]) -> None:
    st.subheader("Compare runs")
    by_id = {r.run_id: r for r in rows}
    st.session_state[SELECT_KEY] = [r for r in st.session_state.get(SELECT_KEY, []) if r in by_id]
    chosen = st.multiselect(
        "Runs to overlay (pick two for a side-by-side comparison)",
        list(by_id),
        format_func=lambda run_id: _label(by_id[run_id]),
        key=SELECT_KEY,
    )
    runs = [run for run in (sched.get(r) for r in chosen) if run is not None]
    if not runs:
        return
    st.plotly_chart(
        room_plots.overlay([(_label(by_id[r.id]), *r.curves()) for r in runs]),
        key="board_overlay",
        config={"displayModeBar": False, "scrollZoom": False},
    )
    if len(runs) == 2:
        _side_by_side(runs[0], runs[1], (_label(by_id[runs[0].id]), _label(by_id[runs[1].id])))


def _side_by_side(a: Run, b: Run, labels: tuple[str, str]) -> None:
    st.text(f"A: {labels[0]}    B: {labels[1]}")
    diff = settings_diff(a.config, b.config)
    if diff:
        st.dataframe(
            [{"Setting": name, "A": str(x), "B": str(y)} for name, x, y in diff], key="board_diff", hide_index=True
        )
    else:
        st.caption("Same settings.")
    left, right = st.columns(2)
    for column, run, label in ((left, a, labels[0]), (right, b, labels[1])):
        column.text(label)
        column.metric("Best test accuracy", fmt.percent(run.best_accuracy), border=True)
        column.caption(f"{run.status.label} · {fmt.duration(run.elapsed)}")
    digits_a, digits_b = per_digit_accuracy(a), per_digit_accuracy(b)
    if digits_a and digits_b:
        st.plotly_chart(
            room_plots.per_digit_pair(digits_a, digits_b, ("A", "B")),
            key="board_digits",
            config={"displayModeBar": False, "scrollZoom": False},
        )
    else:
        st.caption("Accuracy per digit appears once both runs have finished an epoch.")


# ---- host controls (callbacks change the room through simplecnn.workshop.room / the scheduler) ----------------
def _sign_in() -> None:
    result = participants.host_gate().sign_in(st.session_state.get("host_password", ""))
    st.session_state["host_password"] = ""
    if result == SignIn.OK:
        st.session_state[participants.HOST_KEY] = True
        st.session_state.pop(HOST_NOTICE, None)
    elif result == SignIn.WAIT:
        st.session_state[HOST_NOTICE] = "Too many wrong tries: wait a few seconds and try again."
    else:
        st.session_state[HOST_NOTICE] = "Wrong password."


def _apply_rules() -> None:
    presets = tuple(p for p in PRESET_NAMES if p in st.session_state.get("host_presets", []))
    if not presets:
        st.session_state[HOST_NOTICE] = "Allow at least one preset."
        return
    room.set_rules(
        RoomRules(
            presets, int(st.session_state.get("host_max_epochs", 0)), int(st.session_state.get("host_max_images", 0))
        )
    )
    st.session_state[HOST_NOTICE] = "Rules applied: participants see them on the Train page."


def _host_controls() -> None:
    if not participants.is_host():
        with st.form("host_sign_in", border=False):
            st.text_input("Host password", type="password", key="host_password")
            st.form_submit_button("Sign in as host", on_click=_sign_in)
        return
    rules = room.rules
    st.multiselect(
        "Presets participants may use",
        list(PRESET_NAMES),
        default=list(rules.allowed_presets),
        format_func=PRESET_NAMES.__getitem__,
        key="host_presets",
    )
    c1, c2 = st.columns(2)
    c1.number_input("Most epochs per run (0 = no cap)", 0, 200, rules.max_epochs, key="host_max_epochs")
    c2.number_input(
        "Most training images per run (0 = no cap)",
        0,
        TRAIN_SIZE,
        rules.max_train_images,
        step=1000,
        key="host_max_images",
    )
    st.button("Apply rules", key="host_apply", on_click=_apply_rules, type="primary")
    c1, c2 = st.columns(2)
    c1.number_input(
        "Runs training at once",
        1,
        16,
        sched.max_concurrent,
        key="host_concurrency",
        on_change=lambda: sched.set_max_concurrent(st.session_state["host_concurrency"]),
    )
    c2.toggle(
        "Pause new starts",
        value=sched.paused,
        key="host_paused",
        on_change=lambda: sched.set_paused(st.session_state["host_paused"]),
    )
    st.fragment(_cancel_controls, run_every=3.0)()
    st.button("Clear the board (finished runs)", key="host_clear", on_click=room.clear_board)


def _cancel_controls() -> None:
    """One Cancel button per queued or training run; refreshed on its own, so runs that start after the host
    opened the page appear without a reload."""
    active = [r for r in sched.runs() if r.active]
    names = room.names()
    st.caption("Cancel a run:" if active else "No run is queued or training.")
    for run in active:
        label, button = st.columns([4, 1], vertical_alignment="center")
        label.text(f"{names.get(run.session, '?')} · run {run.id.removeprefix('run-')} · {run.status.label}")
        button.button(
            "Cancel",
            key=f"host_cancel_{run.id}",
            on_click=sched.cancel,
            args=(run.id, "cancelled by the host"),
            width="stretch",
        )


# ---- page --------------------------------------------------------------------------------------------------
st.title("Class board")
st.caption(
    "Every run on this server, live: who trains what, how far, how well. Names are as participants typed "
    "them on the Train page."
)
st.fragment(_board, run_every=3.0)()
if participants.host_gate().enabled:
    with st.expander("Host controls", expanded=participants.is_host()):
        _host_controls()
        if st.session_state.get(HOST_NOTICE):
            st.text(st.session_state[HOST_NOTICE])
