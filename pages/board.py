"""Class board: every run on this server, live; a leaderboard; runs overlaid and compared; CSV; host controls.

Participants' names are their own text: they are shown only in dataframe cells, widget options and st.text,
never in markdown or HTML. The host controls appear only when SIMPLECNN_HOST_PASSWORD is set.
"""

from __future__ import annotations

import math

import streamlit as st

from simplecnn.data import TRAIN_SIZE
from simplecnn.figures import room as room_plots
from simplecnn.training.config import TrainConfig
from simplecnn.workshop.board import BoardRow, board_csv, board_rows, leaderboard, per_digit_accuracy, settings_diff
from simplecnn.workshop.host import SignIn
from simplecnn.workshop.room import CUSTOM, RoomRules
from simplecnn.workshop.scheduler import CancelReason, Quota, Run
from ui import charts, fmt, i18n, personal, personal_share, resources, session, visitor
from ui import participant as participants
from ui.i18n import status_text, t

sched, room = resources.scheduler(), participants.room()
PRESETS = ("quick", "tutorial", CUSTOM)
SELECT_KEY, HOST_NOTICE = "board_selected", "board_host_notice"
LANGUAGE_CHOICES = ("", *i18n.LANGUAGES)  # the room's default language; "" = each visitor's browser


def _columns() -> dict:
    """The board's headers in the visitor's language (rows keep stable field names)."""
    column = st.column_config
    # Who and how well first: on a 390 px phone the first columns are the ones in view. The accuracy has the
    # same two decimals as Train and Evaluate, and the test images it was measured on beside it.
    return {
        "participant": column.TextColumn(t("board.table.participant"), width="small"),
        "best": column.NumberColumn(t("board.table.best"), format="%.2f%%", width="small"),
        "progress": column.ProgressColumn(
            t("board.table.progress"), min_value=0.0, max_value=1.0, format="percent", width="small"
        ),
        "status": column.TextColumn(t("board.table.status")),
        "test_images": column.NumberColumn(t("board.table.test_images"), format="localized"),
        "preset": column.TextColumn(t("board.table.preset")),
        "model": column.TextColumn(t("networks.label")),
        "run": column.NumberColumn(t("board.table.run")),
        "time": column.TextColumn(t("board.table.time")),
        "epochs": column.NumberColumn(t("board.table.epochs")),
        "images": column.NumberColumn(t("board.table.images"), format="localized"),
        "rank": column.NumberColumn("#", width="small"),
    }


def _preset(name: str) -> str:
    if name == "finetune":  # a fine-tune of someone's drawings (issue 28)
        return t("personal.recipe.finetune")
    return t(f"board.preset.{name}") if name in PRESETS else name


def _label(row: BoardRow) -> str:
    return t("board.run_label", name=row.name or t("board.unnamed"), run=row.run_id.removeprefix("run-"))


def _status(row: BoardRow) -> str:
    return t("board.queued", position=row.queue_position) if row.queue_position else status_text(row.status)


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _name(row: BoardRow) -> str:
    """The participant's name; the visitor's own rows say so (plain text: names never go into Markdown)."""
    person = session.participant()
    name = row.name or t("board.unnamed")
    return t("board.yours", name=name) if person is not None and row.owner == person.id else name


def _table(rows: list[BoardRow]) -> list[dict]:
    return [
        {
            "participant": _name(r),
            "best": _percent(r.best_accuracy),
            "progress": r.progress,
            "status": _status(r),
            "test_images": r.test_images,
            "preset": _preset(r.preset),
            "model": fmt.network(r.model),
            "run": int(r.run_id.removeprefix("run-")),
            "time": fmt.duration(r.seconds) if r.seconds else "—",
            "epochs": r.epochs,
            "images": r.train_images,
        }
        for r in rows
    ]


def _board() -> None:
    session.keep_alive(session.current_run())  # a participant watching the board is still here
    rows = board_rows(sched, room)
    active = sum(r.status.active for r in rows)
    summary = [
        t("board.summary.runs", count=len(rows)),
        t("board.summary.active", count=active),
        t("board.summary.concurrent", count=sched.max_concurrent),
    ]
    if sched.paused:
        summary.append(t("board.summary.paused"))
    st.caption(" · ".join(summary))
    if not rows:
        st.info(t("board.empty"))
        return
    columns = _columns()
    st.dataframe(_table(rows), key="board_table", hide_index=True, column_config=columns)
    top = leaderboard(rows)
    if top:
        st.subheader(t("board.leaderboard"))
        st.dataframe(
            [
                {
                    "rank": i + 1,
                    "participant": _name(r),
                    "best": _percent(r.best_accuracy),
                    "preset": _preset(r.preset),
                    "time": fmt.duration(r.seconds),
                }
                for i, r in enumerate(top)
            ],
            key="board_leaderboard",
            hide_index=True,
            column_config=columns,
        )
    st.download_button(
        t("board.download"), data=board_csv(rows), file_name="class-board.csv", mime="text/csv", key="board_csv"
    )
    _compare(rows)


def _setting(name: str) -> str:
    """A training setting's name as the Train form shows it."""
    return t(f"train.field.{name}")


def _value(value: object) -> str:
    """A setting's value: recipes and schedules in words, the rest as they are."""
    if isinstance(value, bool):
        return t("board.compare.yes") if value else t("board.compare.no")
    text = str(value.value if hasattr(value, "value") else value)
    if text in PRESETS:
        return _preset(text)
    return t(f"train.schedule.{text}") if text in ("step", "onecycle") else text


def _compare(rows: list[BoardRow]) -> None:
    st.subheader(t("board.compare.heading"))
    by_id = {r.run_id: r for r in rows}
    st.session_state[SELECT_KEY] = [r for r in st.session_state.get(SELECT_KEY, []) if r in by_id]
    chosen = st.multiselect(
        t("board.compare.pick"),
        list(by_id),
        format_func=i18n.choices(by_id, lambda run_id: _label(by_id[run_id])),
        key=SELECT_KEY,
        placeholder=t("board.compare.placeholder"),
    )
    runs = [run for run in (sched.get(r) for r in chosen) if run is not None]
    if not runs:
        return
    words = charts.labels(room_plots.OverlayLabels, "overlay")
    st.plotly_chart(
        room_plots.overlay([(_label(by_id[r.id]), *r.curves()) for r in runs], labels=words),
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
            [{"setting": _setting(name), "a": _value(x), "b": _value(y)} for name, x, y in diff],
            key="board_diff",
            hide_index=True,
            column_config={"setting": st.column_config.TextColumn(t("board.compare.setting")), "a": "A", "b": "B"},
        )
    else:
        st.caption(t("board.compare.same"))
    left, right = st.columns(2)
    for column, run, label in ((left, a, labels[0]), (right, b, labels[1])):
        column.text(label)
        column.metric(t("board.compare.best"), fmt.percent(run.best_accuracy), border=True)
        column.caption(f"{status_text(run.status)} · {fmt.duration(run.elapsed)}")
    digits_a, digits_b = per_digit_accuracy(a), per_digit_accuracy(b)
    if digits_a and digits_b:
        st.plotly_chart(
            room_plots.per_digit_pair(
                digits_a, digits_b, ("A", "B"), labels=charts.labels(room_plots.PairLabels, "pair")
            ),
            key="board_digits",
            config={"displayModeBar": False, "scrollZoom": False},
        )
    else:
        st.caption(t("board.compare.digits_later"))


# ---- host controls (callbacks change the room through simplecnn.workshop.room / the scheduler) ----------------
def _sign_in() -> None:
    """Wrong tries slow down this browser only (simplecnn.workshop.host): a visitor guessing in a loop never
    locks the host out of another browser."""
    gate, who = participants.host_gate(), visitor.client()
    result = gate.sign_in(st.session_state.get("host_password", ""), who)
    st.session_state["host_password"] = ""
    if result == SignIn.OK:
        st.session_state[participants.HOST_KEY] = True
        st.session_state.pop(HOST_NOTICE, None)
    elif result == SignIn.WAIT:
        st.session_state[HOST_NOTICE] = ("security.notice.wait", {"seconds": math.ceil(gate.wait_seconds(who))})
    else:
        st.session_state[HOST_NOTICE] = "wrong"


def _set_quota() -> None:
    state = st.session_state
    sched.set_quota(Quota(int(state["host_per_browser"]), int(state["host_per_address"])))


def _budget_controls() -> None:
    """What one visitor may cost: the memory of one run (the largest batch size follows) and runs queued."""
    c1, c2, c3 = st.columns(3)
    c1.number_input(
        t("security.host.run_memory"),
        0,
        1 << 20,
        int(sched.memory_limit_mb),
        step=128,
        key="host_run_memory",
        on_change=lambda: sched.set_memory_limit(st.session_state["host_run_memory"]),
    )
    c2.number_input(
        t("security.host.per_browser"), 0, 100, sched.quota.per_browser, key="host_per_browser", on_change=_set_quota
    )
    c3.number_input(
        t("security.host.per_address"), 0, 1000, sched.quota.per_address, key="host_per_address", on_change=_set_quota
    )
    if sched.memory_limit_mb:
        largest = sched.largest_batch(TrainConfig())
        st.caption(t("security.host.run_memory_caption", mb=sched.memory_limit_mb, batch=largest))
    else:
        st.caption(t("security.host.run_memory_unlimited"))


def _apply_rules() -> None:
    presets = tuple(p for p in PRESETS if p in st.session_state.get("host_presets", []))
    if not presets:
        st.session_state[HOST_NOTICE] = "no_preset"
        return
    room.set_rules(
        RoomRules(
            presets, int(st.session_state.get("host_max_epochs", 0)), int(st.session_state.get("host_max_images", 0))
        )
    )
    st.session_state[HOST_NOTICE] = "applied"


def _host_controls() -> None:
    if not participants.is_host():
        with st.form("host_sign_in", border=False):
            st.text_input(t("host.password"), type="password", key="host_password")
            st.form_submit_button(t("host.sign_in"), on_click=_sign_in)
        return
    rules = room.rules
    st.multiselect(
        t("host.presets"),
        list(PRESETS),
        default=list(rules.allowed_presets),
        format_func=i18n.choices(PRESETS, _preset),
        key=i18n.localized("host_presets"),
        placeholder=t("host.presets_placeholder"),
    )
    c1, c2 = st.columns(2)
    c1.number_input(t("host.max_epochs"), 0, 200, rules.max_epochs, key="host_max_epochs")
    c2.number_input(
        t("host.max_images"),
        0,
        TRAIN_SIZE,
        rules.max_train_images,
        step=1000,
        key="host_max_images",
    )
    st.button(t("host.apply"), key="host_apply", on_click=_apply_rules, type="primary")
    c1, c2 = st.columns(2)
    c1.number_input(
        t("host.concurrency"),
        1,
        16,
        sched.max_concurrent,
        key="host_concurrency",
        on_change=lambda: sched.set_max_concurrent(st.session_state["host_concurrency"]),
    )
    c2.toggle(
        t("host.pause"),
        value=sched.paused,
        key="host_paused",
        on_change=lambda: sched.set_paused(st.session_state["host_paused"]),
    )
    _budget_controls()
    st.selectbox(
        t("host.language"),
        LANGUAGE_CHOICES,
        index=LANGUAGE_CHOICES.index(room.language) if room.language in LANGUAGE_CHOICES else 0,
        format_func=i18n.choices(
            LANGUAGE_CHOICES, lambda code: t(f"common.language.{code}") if code else t("host.language_browser")
        ),
        key=i18n.localized("host_language"),
        on_change=lambda: room.set_language(st.session_state["host_language"]),
        help=t("host.language_help"),
    )
    st.fragment(_cancel_controls, run_every=3.0)()
    personal.host_pool()  # the room's class set: drawings of participants who said yes (issue 28)
    with st.popover(t("host.clear"), icon=":material/delete_sweep:"):  # asks before it clears
        st.markdown(t("host.clear_confirm"))
        st.button(t("host.clear_yes"), key="host_clear", on_click=room.clear_board, type="primary")


def _cancel_related(run_id: str) -> None:
    sched.cancel_related(run_id, CancelReason.HOST)


def _cancel_controls() -> None:
    """One Cancel button per queued or training run; refreshed on its own, so runs that start after the host
    opened the page appear without a reload."""
    active = [r for r in sched.runs() if r.active]
    names = room.names()
    st.caption(t("host.cancel_heading") if active else t("host.nothing_active"))
    for run in active:
        label, button, every = st.columns([4, 1, 1], vertical_alignment="center")
        name = names.get(run.session) or run.owner_name or "?"
        who = t("board.run_label", name=name, run=run.id.removeprefix("run-"))
        label.text(f"{who} · {status_text(run.status)}")
        with button.popover(t("host.cancel"), width="stretch"):  # asks before it ends someone's run
            st.markdown(t("host.cancel_confirm"))
            st.button(
                t("host.cancel_yes"),
                key=f"host_cancel_{run.id}",
                on_click=sched.cancel,
                args=(run.id, CancelReason.HOST),
                type="primary",
            )
        related = len(sched.related_runs(run.id))
        if related > 1:  # the same participant or browser: one press for all of them
            every.button(
                t("security.host.cancel_all", count=related),
                key=f"host_cancel_all_{run.id}",
                on_click=_cancel_related,
                args=(run.id,),
                help=t("security.host.cancel_all_help"),
                width="stretch",
            )


# ---- page --------------------------------------------------------------------------------------------------
if personal_share.shared_view():  # a read-only link to one run (?run=<key>, issue 28): that run only, no controls
    st.stop()
st.title(t("common.nav.board"))
st.caption(t("board.intro"))
st.fragment(_board, run_every=3.0)()
if participants.host_gate().enabled:
    with st.expander(t("host.heading"), expanded=participants.is_host()):
        _host_controls()
        notice = st.session_state.get(HOST_NOTICE)
        if notice:
            key, values = notice if isinstance(notice, tuple) else (f"host.notice.{notice}", {})
            st.text(t(key, **values))
