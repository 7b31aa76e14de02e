"""The Train page's live panel: the participant's run — progress and Stop, curves, the epoch table, the result."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from simplecnn.data import denormalize
from simplecnn.figures import room as room_plots
from simplecnn.figures.charts import CurveLabels
from simplecnn.training.events import RunStatus
from simplecnn.workshop.scheduler import CancelReason, Run
from ui import charts, fmt, i18n, models, nav, resources, session
from ui.i18n import status_text, t
from ui.train_form import PRESETS, preset_label


# ---- the run, live -----------------------------------------------------------------------------------------
def _ray_node(node: str) -> list[str]:
    """Where a run on the cluster trains; a local run needs no word about its machine."""
    prefix = "Ray node "
    return [t("common.device.ray_node", node=node.removeprefix(prefix))] if node.startswith(prefix) else []


def _epoch_columns() -> dict:
    """The epoch table's headers in the visitor's language (the rows keep stable field names)."""
    number = st.column_config.NumberColumn
    return {
        "epoch": number(t("train.table.epoch"), format="%d", width="small"),
        "train_loss": number(t("train.table.train_loss"), format="%.4f"),
        "train_acc": number(t("train.table.train_acc"), format="percent"),
        "test_loss": number(t("train.table.test_loss"), format="%.4f"),
        "test_acc": number(t("train.table.test_acc"), format="percent"),
        "lr": number(t("train.table.lr"), format="%.2e"),
        "best": st.column_config.TextColumn(t("train.table.best"), width="small", help=t("train.table.best_help")),
        "no_improvement": number(t("train.table.no_improvement"), format="%d"),
    }


def _eta_text(seconds: float | None) -> str:
    return t("train.measuring") if seconds is None else fmt.duration(seconds)


def _queued(run: Run) -> None:
    sched = resources.scheduler()
    position = sched.queue_position(run.id)
    paused = t("train.queue.paused") if sched.paused else ""
    st.info(
        t(
            "train.queue.info",
            position=position,
            eta=_eta_text(sched.estimated_start(run.id)),
            count=sched.max_concurrent,
            paused=paused,
        )
    )


def _progress(run: Run) -> None:
    cfg = run.config
    last = run.batches[-1] if run.batches else None
    if last:
        where = t(
            "train.progress.where",
            epoch=last.epoch,
            epochs=cfg.epochs,
            batch=last.batch,
            batches=last.batches_per_epoch,
        )
    else:
        where = t("train.progress.starting")
    if run.status == RunStatus.QUEUED:
        text = t("train.progress.queued")
    elif run.active:
        text = t(
            "train.progress.active",
            progress=run.progress,
            where=where,
            elapsed=fmt.duration(run.elapsed),
            eta=_eta_text(run.eta),
        )
    else:
        text = t(
            "train.progress.ended",
            progress=run.progress,
            status=status_text(run.status),
            elapsed=fmt.duration(run.elapsed),
        )
    bar, button = st.columns([5, 1], vertical_alignment="bottom")
    bar.progress(run.progress, text=text)
    if run.stopping:  # the click is seen at once; evaluating what it learned can take a few seconds
        button.button(t("train.stopping"), key="train_stopping", disabled=True, width="stretch")
    elif run.active:
        button.button(t("train.stop"), key="train_stop", on_click=_stop, args=(run.id,), width="stretch")


def _charts(run: Run) -> None:
    batches, epochs = run.curves()
    probe = run.probe_curve()
    left, right = st.columns(2)
    static = {"displayModeBar": False, "scrollZoom": False}
    loss = room_plots.live_curve("loss", batches, epochs, labels=charts.labels(CurveLabels, "loss_curve"))
    left.plotly_chart(loss, key="train_loss_chart", config=static)
    if probe["x"] or run.probe is not None:
        if run.probe is not None:  # the digit the chart follows, so the learner sees what is being read
            pixels = denormalize(run.probe.detach().cpu())[0, 0].numpy()
            caption = t("train.watched")
            right.image(charts.enlarge(pixels, 2), width=56, clamp=True, caption=caption, alt=caption)
        figure = room_plots.live_probe(probe, labels=charts.labels(room_plots.ProbeLabels, "probe"))
        right.plotly_chart(figure, key="train_probe_chart", config=static)
    else:
        figure = room_plots.live_curve("accuracy", batches, epochs, labels=charts.labels(CurveLabels, "accuracy_curve"))
        right.plotly_chart(figure, key="train_acc_chart", config=static)


def panel(was_status: RunStatus | None) -> None:
    run = session.current_run()
    person = session.participant()
    if run is None:
        if person is not None and person.run_id:
            st.info(t("train.run_forgotten"))
        return
    session.keep_alive(run)
    _progress(run)  # first: the bar is what must be in view right after "Start training", even on a phone
    cfg = run.config
    facts = [
        t("train.facts.run", run=run.id.removeprefix("run-")),
        preset_label(cfg.recipe) if cfg.recipe in PRESETS else cfg.recipe,
        t("common.epochs.count", count=cfg.epochs),
    ]
    if run.info is not None:
        facts += [
            resources.device_text(run.info.device.split(":")[0].lower()) + (" · bf16" if run.info.bf16 else ""),
            *_ray_node(run.info.node),
            t("train.facts.images", train=run.info.n_train, test=run.info.n_test),
            t("train.facts.batches", count=run.info.batches_per_epoch),
        ]
    st.caption(" · ".join(facts))
    if run.status == RunStatus.QUEUED:
        _queued(run)
    if run.status == RunStatus.QUEUED:
        return  # nothing to plot yet; keep waiting pages cheap for the server and the browser
    _charts(run)
    _epoch_table(run)
    if not run.active:
        _finished(run)
    if was_status is not None and was_status.active and run.status != was_status:
        st.rerun(scope="app")  # poll faster once it runs, stop polling when it ends


def _epoch_table(run: Run) -> None:
    if run.epochs:
        rows = [
            {
                "epoch": e.epoch,
                "train_loss": e.train_loss,
                "train_acc": e.train_accuracy,
                "test_loss": e.test_loss,
                "test_acc": e.test_accuracy,
                "lr": e.lr,
                "best": "⭐" if e.is_best else "",
                "no_improvement": e.epochs_without_improvement,
            }
            for e in run.epochs
        ]
        st.dataframe(rows, key="train_epochs_table", hide_index=True, column_config=_epoch_columns())
        st.caption(t("train.table.train_vs_test", count=f"{run.test_images or 0:,}"))
        if run.epochs[-1].early_stop:
            st.info(t("train.early_stop", count=run.config.patience, epoch=run.epochs[-1].epoch))
    elif run.status == RunStatus.RUNNING:
        st.caption(t("train.table.pending"))


def _finished(run: Run) -> None:
    best = run.best_accuracy
    if run.status == RunStatus.COMPLETED:
        best_epoch = max((e.epoch for e in run.epochs if e.is_best), default=0)
        st.success(t("train.done.completed", accuracy=fmt.percent(best), epoch=best_epoch))
    elif run.status == RunStatus.EARLY_STOPPED:
        st.success(t("train.done.early_stopped", count=run.config.patience, accuracy=fmt.percent(best)))
    elif run.status == RunStatus.STOPPED:
        count, reason = run.test_images or 0, run.cancel_reason
        by = t("train.done.by", reason=i18n.cancel_text(run)) if reason not in (None, CancelReason.REQUESTED) else ""
        done = t("train.done.stopped", by=by, images=f"{run.images:,}", accuracy=fmt.percent(best), count=f"{count:,}")
        st.success(done)
    elif run.status == RunStatus.CANCELLED:
        if run.checkpoint:
            kept = t("train.done.kept", accuracy=fmt.percent(best))
        else:
            kept = t("train.done.not_started") if run.started is None else t("train.done.no_epoch")
        st.warning(t("train.done.cancelled", reason=i18n.cancel_text(run), kept=kept))
    else:
        st.error(t("train.done.failed", problem=i18n.failure_text(run)))
    if run.status.succeeded and run.test_images:
        st.caption(t("train.done.test_set", count=f"{run.test_images:,}"))
    path = Path(run.checkpoint) if run.checkpoint else None
    if path is None or not path.is_file():
        return
    _result_model(str(path))
    st.download_button(
        t("train.download"),
        data=path.read_bytes(),
        file_name=f"simplecnn-{path.parent.name}.pt",
        mime="application/octet-stream",
        key="train_download",
    )


def _result_model(path: str) -> None:
    """The finished run is the participant's model (ui.models); Draw is one tap away, the shipped model too."""
    if models.current_source().path == path:
        st.success(t("train.model_in_use"))
        with st.container(horizontal=True, key="train_result_actions"):
            st.page_link(nav.page("draw"), label=t("train.try_draw"), icon=":material/draw:")
            st.button(t("train.switch_back"), key="train_switch_back", on_click=_use_shipped)
    else:
        st.button(t("train.use_model"), key="train_use_model", type="primary", on_click=_use_model, args=(path,))


def poll_every(run: Run | None) -> float | None:
    """How often the live panel polls: every redraw costs the server a script run that competes with training
    for the GIL, so a training run is redrawn every 2 s (3 s for a long one, which changes slowly) and a queued
    one every 3 s (30 waiting pages must cost the server little)."""
    sched = resources.scheduler()
    if run is None or not run.active:
        return None
    if run.status == RunStatus.QUEUED:
        return 3.0
    expected = sched.estimate_seconds(run.config) or 0.0
    return 2.0 if expected <= 300 else 3.0


def _stop(run_id: str) -> None:
    sched = resources.scheduler()
    person = session.participant()
    run = sched.get(run_id)
    if person is not None and run is not None and run.session == person.id:  # only the owner's page stops it
        sched.cancel(run_id)


def _use_model(path: str) -> None:
    models.set_current_source(models.ModelSource("run", path))


def _use_shipped() -> None:
    models.set_current_source(models.shipped_source())
