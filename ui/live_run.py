"""The Train page's live panel: the participant's run — progress and Stop, curves, the epoch table, the result."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from simplecnn.figures import room as room_plots
from simplecnn.training.events import RunStatus
from simplecnn.workshop.scheduler import Run
from ui import fmt, models, resources, session

# ---- the run, live -----------------------------------------------------------------------------------------
EPOCH_COLUMNS = {
    "Epoch": st.column_config.NumberColumn(format="%d", width="small"),
    "Train loss": st.column_config.NumberColumn(format="%.4f"),
    "Train acc": st.column_config.NumberColumn(format="percent"),
    "Test loss": st.column_config.NumberColumn(format="%.4f"),
    "Test acc": st.column_config.NumberColumn(format="percent"),
    "LR": st.column_config.NumberColumn(format="%.2e"),
    "Best": st.column_config.TextColumn(width="small", help="⭐ = best test accuracy so far (the kept checkpoint)"),
    "Epochs w/o improvement": st.column_config.NumberColumn(format="%d"),
}


def _eta_text(seconds: float | None) -> str:
    return "measuring…" if seconds is None else fmt.duration(seconds)


def _queued(run: Run) -> None:
    sched = resources.scheduler()
    position = sched.queue_position(run.id)
    paused = " The host has paused new starts for now." if sched.paused else ""
    st.info(
        f"Queued: position {position} in line; estimated start in {_eta_text(sched.estimated_start(run.id))}. "
        f"This server trains {sched.max_concurrent} run{'s' * (sched.max_concurrent != 1)} at a time.{paused} "
        f"Keep this page open: a queued run whose page has been away for {sched.away_after:.0f} s when its "
        f"turn comes is skipped so the line keeps moving."
    )


def _progress(run: Run) -> None:
    cfg = run.config
    last = run.batches[-1] if run.batches else None
    where = f"epoch {last.epoch}/{cfg.epochs}, batch {last.batch}/{last.batches_per_epoch}" if last else "starting"
    if run.status == RunStatus.QUEUED:
        text = "waiting in the queue"
    elif run.active:
        text = f"{run.progress:.0%} · {where} · elapsed {fmt.duration(run.elapsed)} · ETA {_eta_text(run.eta)}"
    else:
        text = f"{run.progress:.0%} · {run.status.label} after {fmt.duration(run.elapsed)}"
    bar, button = st.columns([5, 1], vertical_alignment="bottom")
    bar.progress(run.progress, text=text)
    if run.active:
        button.button("Stop", key="train_stop", on_click=_stop, args=(run.id,), width="stretch")


def _charts(run: Run) -> None:
    batches, epochs = run.curves()
    probe = run.probe_curve()
    left, right = st.columns(2)
    static = {"displayModeBar": False, "scrollZoom": False}
    left.plotly_chart(room_plots.live_curve("loss", batches, epochs), key="train_loss_chart", config=static)
    if probe["x"] or run.probe is not None:
        right.plotly_chart(room_plots.live_probe(probe, "the watched digit"), key="train_probe_chart", config=static)
    else:
        right.plotly_chart(room_plots.live_curve("accuracy", batches, epochs), key="train_acc_chart", config=static)


def panel(was_status: RunStatus | None) -> None:
    run = session.current_run()
    person = session.participant()
    if run is None:
        if person is not None and person.run_id:
            st.info(
                "Your last run is no longer known to the server (it restarted, or the run finished long "
                "ago). Its checkpoint, if any, is listed on the Evaluate page."
            )
        return
    session.keep_alive(run)
    _progress(run)  # first: the bar is what must be in view right after "Start training", even on a phone
    cfg = run.config
    facts = [f"Run {run.id.removeprefix('run-')}", cfg.recipe, f"{cfg.epochs} epoch{'s' * (cfg.epochs != 1)}"]
    if run.info is not None:
        facts += [
            run.info.device + (" · bf16 autocast" if run.info.bf16 else ""),
            f"{run.info.n_train:,} training / {run.info.n_test:,} test images",
            f"{run.info.batches_per_epoch} batches per epoch",
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
                "Epoch": e.epoch,
                "Train loss": e.train_loss,
                "Train acc": e.train_accuracy,
                "Test loss": e.test_loss,
                "Test acc": e.test_accuracy,
                "LR": e.lr,
                "Best": "⭐" if e.is_best else "",
                "Epochs w/o improvement": e.epochs_without_improvement,
            }
            for e in run.epochs
        ]
        st.dataframe(rows, key="train_epochs_table", hide_index=True, column_config=EPOCH_COLUMNS)
        if run.epochs[-1].early_stop:
            st.info(
                f"Early stopping: {run.config.patience} epoch{'s' * (run.config.patience != 1)} without a "
                f"better test accuracy, so training stopped after epoch {run.epochs[-1].epoch}."
            )
    elif run.status == RunStatus.RUNNING:
        st.caption("The epoch table fills in as each epoch ends (train and test loss/accuracy).")


def _finished(run: Run) -> None:
    best = run.best_accuracy
    if run.status == RunStatus.COMPLETED:
        st.success(f"Done — {run.message or RunStatus.COMPLETED.label}.")
    elif run.status == RunStatus.EARLY_STOPPED:
        st.success(f"Done — {run.message or 'stopped early'}. Best test accuracy {fmt.percent(best)}.")
    elif run.status == RunStatus.CANCELLED:
        st.warning(
            f"Stopped ({run.message or RunStatus.CANCELLED.label})."
            + (
                f" The best checkpoint so far ({fmt.percent(best)}) is kept."
                if run.checkpoint
                else " It had not started, so there is no checkpoint."
                if run.started is None
                else " No epoch had finished, so there is no checkpoint."
            )
        )
    else:
        st.error(f"Training failed: {run.message or 'unknown error'}")
    path = Path(run.checkpoint) if run.checkpoint else None
    if path is None or not path.is_file():
        return
    label = f"Your run {run.id.removeprefix('run-')} ({fmt.percent(best)})"
    in_use = models.current_source().path == str(path)
    c1, c2 = st.columns(2)
    with c1:
        if in_use:
            st.success("Evaluate and Draw use this model in this tab.")
        else:
            st.button(
                "Use this model in Evaluate and Draw",
                key="train_use_model",
                type="primary",
                on_click=_use_model,
                args=(str(path), label),
            )
    with c2:
        st.download_button(
            "Download best checkpoint",
            data=path.read_bytes(),
            file_name=f"simplecnn-{path.parent.name}.pt",
            mime="application/octet-stream",
            key="train_download",
        )


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


def _use_model(path: str, label: str) -> None:
    models.set_current_source(models.ModelSource("run", label, path))
