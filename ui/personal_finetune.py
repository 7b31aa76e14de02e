"""Teach it your handwriting, from My drawings: a fine-tune of the model in use on MNIST plus your labelled
drawings (simplecnn.personal.finetune), queued on the training scheduler like any run, so it has the queue, the
live curve, Stop, rejoin (the Train page shows it too) and the board; then its before/after."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from simplecnn import settings
from simplecnn.figures import room as room_plots
from simplecnn.figures.charts import CurveLabels
from simplecnn.personal.finetune import FINETUNE, HOLD_OUT, FinetuneError, prepare
from simplecnn.personal.store import Drawing, DrawingStoreError, held_out
from simplecnn.training.events import BeforeAfter, RunStatus
from simplecnn.workshop.room import Participant
from simplecnn.workshop.scheduler import Run, SessionBusy
from ui import charts, fmt, i18n, models, nav, resources, session
from ui import personal as drawings_ui
from ui.i18n import error_text, status_text, t

BUDGETS = (15, 30, 60)  # seconds; 30 is Quick's
BUDGET_KEY, NOTICE = "personal_ft_budget", "personal_ft_notice"
STATIC = {"displayModeBar": False, "scrollZoom": False}


def _start() -> None:
    st.session_state.pop(NOTICE, None)
    store, problem = drawings_ui.open_store()
    loaded, model_problem = models.load_current()
    person = drawings_ui.owner(store)
    if store is None or loaded is None or person is None:
        st.session_state[NOTICE] = problem or model_problem or ""
        return
    try:
        inputs = prepare(
            loaded.model.state_dict(),  # the weights live in the model (ui.models keeps them once)
            loaded.digest,
            models.source_label(loaded.source),
            store.drawing_set(person.id),
            mnist_limit=settings.eval_limit(),  # tests score the before/after on fewer test images
        )
        limit = settings.eval_limit()  # tests: fewer test images, so a tiny budget still leaves time to train
        config = FINETUNE.replace(
            budget=float(st.session_state.get(BUDGET_KEY) or FINETUNE.budget),
            limit_test=min(FINETUNE.limit_test, limit) if limit else FINETUNE.limit_test,
        )
        run = resources.scheduler().submit(person.id, config, finetune=inputs)
    except SessionBusy as exc:
        st.session_state[NOTICE] = error_text(exc, status=status_text(exc.params["status"]))
    except (FinetuneError, DrawingStoreError, ValueError) as exc:
        st.session_state[NOTICE] = error_text(exc)
    else:
        session.set_current_run(run)


def _stop(run_id: str) -> None:
    sched, person = resources.scheduler(), session.participant()
    run = sched.get(run_id)
    if person is not None and run is not None and run.session == person.id:  # only the owner's page stops it
        sched.cancel(run_id)


def _use(path: str, run_id: str, accuracy: float | None) -> None:
    models.set_current_source(models.ModelSource("run", path, name=run_id, accuracy=accuracy))


def finetune_section(person: Participant, mine: list[Drawing]) -> None:
    """What a fine-tune would start from and learn, its budget and Start; the participant's fine-tune, live."""
    st.subheader(t("personal.ft.heading"))
    loaded, problem = models.load_current()
    if loaded is None:
        st.warning(t("personal.ft.no_model", problem=problem))
        return
    held = sum(held_out(d.pixels, HOLD_OUT) for d in mine)
    model = models.source_label(loaded.source)
    st.caption(t("personal.ft.what", model=model, learn=len(mine) - held, held=held))
    run = session.current_run()
    busy = run is not None and run.active
    has_data = resources.has_data()
    if not has_data:
        st.warning(resources.missing_data_message())
    st.segmented_control(
        t("personal.ft.budget"),
        BUDGETS,
        key=BUDGET_KEY,
        default=int(FINETUNE.budget or 30),
        required=True,
        format_func=i18n.choices(BUDGETS, lambda s: t("personal.ft.seconds", s=s)),
    )
    st.button(
        t("personal.ft.start"),
        key="personal_ft_start",
        type="primary",
        icon=":material/school:",
        on_click=_start,
        disabled=busy or not has_data or len(mine) - held <= 0,
        help=t("personal.ft.busy") if busy else None,
    )
    if NOTICE in st.session_state:
        st.error(t("personal.ft.cannot_start", problem=st.session_state.pop(NOTICE)))
    if run is not None and run.finetune is not None:
        with st.container(key="personal_ft_live"):
            st.fragment(_live, run_every=2.0 if run.active else None)(run.id, run.status)


def _live(run_id: str, was: RunStatus) -> None:
    run = resources.scheduler().get(run_id)
    if run is None:
        return
    session.keep_alive(run)
    if run.status == RunStatus.QUEUED:
        text = t("personal.ft.queued", position=resources.scheduler().queue_position(run.id))
    elif run.active:
        text = t("personal.ft.running", elapsed=fmt.duration(run.elapsed), budget=fmt.duration(run.config.budget or 0))
    else:
        text = t("personal.ft.ended", status=status_text(run.status), elapsed=fmt.duration(run.elapsed))
    bar, button = st.columns([5, 1], vertical_alignment="bottom")
    bar.progress(run.progress, text=text)
    if run.active:
        button.button(t("personal.ft.stop"), key="personal_ft_stop", on_click=_stop, args=(run.id,), width="stretch")
    if run.status != RunStatus.QUEUED:
        batches, epochs = run.curves()
        curve = room_plots.live_curve(
            "accuracy", batches, epochs, height=220, labels=charts.labels(CurveLabels, "accuracy_curve")
        )
        st.plotly_chart(curve, key="personal_ft_curve", config=STATIC)
    if not run.active:
        _result(run)
    if was.active and run.status != was:
        st.rerun(scope="app")  # poll while it runs, stop polling when it ends


def _result(run: Run) -> None:
    if run.status == RunStatus.FAILED:
        st.error(t("personal.ft.failed", problem=i18n.failure_text(run)))
    elif run.status == RunStatus.CANCELLED and not run.checkpoint:
        st.warning(t("personal.ft.cancelled", reason=i18n.cancel_text(run)))
    if run.before_after is not None:
        before_after(run.before_after, pictures=True)
    path = Path(run.checkpoint) if run.checkpoint else None
    if path is None or not path.is_file():
        return
    number = run.id.removeprefix("run-")
    if models.current_source().path == str(path):
        st.success(t("personal.ft.in_use"))
        st.page_link(nav.page("draw"), label=t("personal.ft.try_it"), icon=":material/draw:")
    else:
        st.button(
            t("personal.ft.use"),
            key="personal_ft_use",
            type="primary",
            on_click=_use,
            args=(str(path), number, run.best_accuracy),
        )


def before_after(result: BeforeAfter, pictures: bool) -> None:
    """The model before and after: on the held-out drawings, on MNIST's test images; with `pictures` (the owner's
    page only), the held-out drawings whose answer changed."""
    held, mnist = st.columns(2)
    if result.held_before is not None and result.held_after is not None:
        held.metric(
            t("personal.ba.held", count=result.held_out),
            f"{result.held_before:.0%} → {result.held_after:.0%}",
            delta=t("personal.ba.points", points=100 * (result.held_after - result.held_before)),
            border=True,
        )
    else:
        held.metric(t("personal.ba.held", count=0), "—", border=True, help=t("personal.ba.none_held"))
    if result.mnist_before is not None and result.mnist_after is not None:
        mnist.metric(
            t("personal.ba.mnist", count=result.mnist_images),
            f"{result.mnist_before:.2%} → {result.mnist_after:.2%}",
            delta=t("personal.ba.points", points=100 * (result.mnist_after - result.mnist_before)),
            border=True,
            help=t("personal.ba.mnist_help"),
        )
    if pictures:
        _changed(result)


def _changed(result: BeforeAfter) -> None:
    if not result.changed:
        st.caption(t("personal.ba.none_changed"))
        return
    store, _ = drawings_ui.open_store()
    person = session.participant()
    try:
        kept = {str(d.id): d for d in store.drawings(person.id)} if store is not None and person is not None else {}
    except DrawingStoreError:
        kept = {}
    fixed = sum(after == label for _, label, _, after in result.changed)
    st.caption(t("personal.ba.changed", count=len(result.changed), fixed=fixed))
    with st.container(horizontal=True, gap="small", key="personal_ba_changed"):
        for name, label, was, now in result.changed:
            with st.container(border=True, width=112):
                if name in kept:
                    st.image(charts.enlarge(kept[name].pixels / 255.0, 3), width=84, clamp=True)
                st.text(f"{label}: {was} → {now} {'✓' if now == label else '✗'}")
