"""Train: pick a preset or your own recipe, start a run on the shared scheduler, watch it live, keep the best."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from simplecnn import plots
from simplecnn.config import RECIPES, TrainConfig
from simplecnn.device import available_devices
from simplecnn.scheduler import SessionBusy
from ui import fmt, models, resources, router, session

router.ensure_app_router()

PRESETS = {"Quick": "fast", "Tutorial (15 epochs)": "tutorial", "Custom": None}
PRESET_KEY, BASE_KEY, NOTICE_KEY = "train_preset", "train_base_recipe", "train_notice"
# Form widget key -> TrainConfig field.
FIELDS = {
    "tf_epochs": "epochs", "tf_batch_size": "batch_size", "tf_lr": "lr", "tf_schedule": "schedule",
    "tf_step_size": "step_size", "tf_gamma": "gamma", "tf_patience": "patience", "tf_seed": "seed",
    "tf_augment": "augment", "tf_weight_decay": "weight_decay", "tf_limit_train": "limit_train",
    "tf_limit_test": "limit_test", "tf_device": "device",
}
sched = resources.scheduler()


def _load_recipe(name: str) -> None:
    base = RECIPES[name]
    st.session_state[BASE_KEY] = name
    for key, field in FIELDS.items():
        st.session_state[key] = getattr(base, field)


def _on_preset() -> None:
    recipe = PRESETS.get(st.session_state.get(PRESET_KEY))
    if recipe:
        _load_recipe(recipe)


def _changed_fields() -> list[str]:
    """Fields that differ from the selected preset (all of them count as custom under "Custom")."""
    name = PRESETS.get(st.session_state.get(PRESET_KEY))
    if not name:
        return list(FIELDS.values())
    base = RECIPES[name]
    return [field for key, field in FIELDS.items() if st.session_state.get(key) != getattr(base, field)]


def _config() -> TrainConfig:
    """The recipe the form describes (hidden fields such as pct_start come from the last preset loaded).

    Editing a field does not flip the preset control to "Custom" (a callback that changes another widget races
    with quick typing and can reset the form); the run is simply recorded as recipe "custom" then.
    """
    base = RECIPES[st.session_state.get(BASE_KEY, "tutorial")]
    name = PRESETS.get(st.session_state.get(PRESET_KEY))
    preset = name if name and not _changed_fields() else "custom"
    values = {field: st.session_state[key] for key, field in FIELDS.items()}
    return base.replace(recipe=preset, **values).for_live_view()


def _start() -> None:
    st.session_state.pop(NOTICE_KEY, None)
    try:
        config = _config().validate()
        sched.estimate_seconds(config)  # raises ValueError for a device this machine lacks
        run = sched.submit(session.session_id(), config)
    except SessionBusy as exc:
        st.session_state[NOTICE_KEY] = ("warning", f"Only one run per session: {exc}. Stop it first.")
    except ValueError as exc:
        st.session_state[NOTICE_KEY] = ("error", f"Cannot start: {exc}")
    else:
        st.session_state[session.RUN_ID] = run.id


def _stop(run_id: str) -> None:
    sched.cancel(run_id)


def _use_model(path: str, label: str) -> None:
    models.set_current_source(models.ModelSource("run", label, path))


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


def _live(was_status: str | None) -> None:
    run = session.current_run()
    if run is None:
        if st.session_state.get(session.RUN_ID):
            st.info("This session's last run is no longer known to the server (it restarted, or the run "
                    "finished long ago). Its checkpoint, if any, is listed on the Evaluate page.")
        return
    session.keep_alive(run)
    cfg = run.config
    st.subheader(f"Run {run.id.removeprefix('run-')} · {cfg.recipe} · {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}")

    if run.status == "queued":
        position = sched.queue_position(run.id)
        start = sched.estimated_start(run.id)
        st.info(f"Queued: position {position} in line; estimated start in {fmt.duration(start)}. "
                f"This server trains {sched.max_concurrent} run{'s' * (sched.max_concurrent != 1)} at a time.")
    last = run.batches[-1] if run.batches else None
    where = f"epoch {last.epoch}/{cfg.epochs}, batch {last.batch}/{last.batches_per_epoch}" if last else "starting"
    if run.status == "queued":
        text = "waiting in the queue"
    elif run.active:
        text = f"{run.progress:.0%} · {where} · elapsed {fmt.duration(run.elapsed)} · ETA {fmt.duration(run.eta)}"
    else:
        text = f"{run.progress:.0%} · {run.status.replace('_', ' ')} after {fmt.duration(run.elapsed)}"
    bar, button = st.columns([5, 1], vertical_alignment="bottom")
    bar.progress(run.progress, text=text)
    if run.active:
        button.button("Stop", key="train_stop", on_click=_stop, args=(run.id,), width="stretch")
    if run.info is not None:
        st.caption(f"{run.info.device}{' · bf16 autocast' if run.info.bf16 else ''} · "
                   f"{run.info.n_train:,} training / {run.info.n_test:,} test images · "
                   f"{run.info.batches_per_epoch} batches per epoch")

    if run.status == "queued":
        return  # nothing to plot yet; keep waiting sessions cheap for the server and the browser
    batches, epochs = run.curves()
    left, right = st.columns(2)
    left.plotly_chart(plots.training_curve("loss", batches, epochs), key="train_loss_chart",
                      config={"displayModeBar": False})
    right.plotly_chart(plots.training_curve("accuracy", batches, epochs), key="train_acc_chart",
                       config={"displayModeBar": False})

    if run.epochs:
        rows = [{"Epoch": e.epoch, "Train loss": e.train_loss, "Train acc": e.train_accuracy,
                 "Test loss": e.test_loss, "Test acc": e.test_accuracy, "LR": e.lr,
                 "Best": "⭐" if e.is_best else "", "Epochs w/o improvement": e.epochs_without_improvement}
                for e in run.epochs]
        st.dataframe(rows, key="train_epochs_table", hide_index=True, column_config=EPOCH_COLUMNS)
        if run.epochs[-1].early_stop:
            st.info(f"Early stopping: {cfg.patience} epoch{'s' * (cfg.patience != 1)} without a better test "
                    f"accuracy, so training stopped after epoch {run.epochs[-1].epoch}.")
    elif run.status == "running":
        st.caption("The epoch table fills in as each epoch ends (train and test loss/accuracy).")

    if not run.active:
        _finished(run)
    if was_status in ("queued", "running") and run.status != was_status:
        st.rerun(scope="app")  # poll faster once it runs, stop polling when it ends


def _finished(run) -> None:
    best = max((e.test_accuracy for e in run.epochs), default=None)
    if run.status == "completed":
        st.success(f"Done — {run.message or 'completed'}.")
    elif run.status == "early_stopped":
        st.success(f"Done — {run.message or 'stopped early'}. Best test accuracy {fmt.percent(best)}.")
    elif run.status == "cancelled":
        st.warning(f"Stopped ({run.message or 'cancelled'})."
                   + (f" The best checkpoint so far ({fmt.percent(best)}) is kept." if run.checkpoint else
                      " It had not started, so there is no checkpoint." if run.started is None else
                      " No epoch had finished, so there is no checkpoint."))
    else:
        st.error(f"Training failed: {run.message or 'unknown error'}")
    path = Path(run.checkpoint) if run.checkpoint else None
    if path is None or not path.is_file():
        return
    label = f"This session's run ({fmt.percent(best)})"
    in_use = models.current_source().path == str(path)
    c1, c2 = st.columns(2)
    with c1:
        if in_use:
            st.success("Evaluate and Draw use this model in this session.")
        else:
            st.button("Use this model in Evaluate and Draw", key="train_use_model", type="primary",
                      on_click=_use_model, args=(str(path), label))
    with c2:
        st.download_button("Download best checkpoint", data=path.read_bytes(),
                           file_name=f"simplecnn-{path.parent.name}.pt", mime="application/octet-stream",
                           key="train_download")
    st.caption(f"Saved at `{path}`")


# ---- page --------------------------------------------------------------------------------------------------
if PRESET_KEY not in st.session_state:
    st.session_state[PRESET_KEY] = "Tutorial (15 epochs)"
if BASE_KEY not in st.session_state or any(key not in st.session_state for key in FIELDS):
    _load_recipe(PRESETS.get(st.session_state[PRESET_KEY]) or "tutorial")

st.title("Train")
st.markdown("Train SimpleCNN on MNIST. Runs train in the background: you can switch pages and come back.")
st.caption(f"Hardware: {resources.device_description()}")

if not resources.has_data():
    st.warning(resources.missing_data_message() + " Without it, training will try to download MNIST (needs internet).")

# The session's run (live while it trains) comes first, so it is in view after pressing Start, even on a phone.
run = session.current_run()
active = run is not None and run.active
with st.container(key="train_live"):  # one block: what the live panel adds or drops never shifts the form
    # Queued runs have nothing to plot: poll them less often so 30 waiting sessions cost the server little.
    st.fragment(_live, run_every=None if not active else 1.0 if run.status == "running" else 3.0)(
        run.status if run is not None else None)
    if run is not None:
        st.divider()

st.subheader("New run" if run is not None else "Recipe")
st.segmented_control("Preset", list(PRESETS), key=PRESET_KEY, on_change=_on_preset, required=True,
                     persist_state="session",
                     help="Quick: 1 epoch with a one-cycle learning rate (≈98.5%+). Tutorial: the notebook's "
                          "15 epochs with StepLR. Custom: whatever you set below.")
# Always exactly one caption here: an element that comes and goes above the form would make the browser
# re-create the inputs below it and drop whatever is being typed while the app reruns.
changed = _changed_fields()
if st.session_state.get(PRESET_KEY) == "Custom":
    st.caption("Custom: the settings below, as you set them.")
elif changed:
    st.caption(f"Changed from the {st.session_state[PRESET_KEY]} preset ({', '.join(changed)}): "
               f"this run is recorded as a custom recipe.")
else:
    st.caption(f"The {st.session_state[PRESET_KEY]} preset. Change any field to make your own recipe.")

with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    with c1:
        st.number_input("Epochs", min_value=1, max_value=200, step=1, key="tf_epochs", persist_state="session")
        st.number_input("Batch size", min_value=1, max_value=8192, step=32, key="tf_batch_size",
                        persist_state="session")
        st.number_input("Learning rate", min_value=1e-6, max_value=1.0, step=1e-4, format="%.5f", key="tf_lr",
                        persist_state="session", help="Adam's learning rate (the peak rate for one-cycle).")
        st.number_input("Weight decay", min_value=0.0, max_value=1.0, step=1e-4, format="%.5f",
                        key="tf_weight_decay", persist_state="session")
    with c2:
        st.selectbox("LR schedule", ["step", "onecycle"], key="tf_schedule", persist_state="session",
                     format_func={"step": "StepLR (per epoch)", "onecycle": "One-cycle (per batch)"}.get)
        step_disabled = st.session_state["tf_schedule"] != "step"
        st.number_input("StepLR step (epochs)", min_value=1, max_value=200, step=1, key="tf_step_size",
                        persist_state="session", disabled=step_disabled)
        st.number_input("StepLR gamma", min_value=0.01, max_value=1.0, step=0.05, format="%.2f",
                        key="tf_gamma", persist_state="session", disabled=step_disabled)
        st.number_input("Early-stopping patience (epochs)", min_value=1, max_value=200, step=1,
                        key="tf_patience", persist_state="session",
                        help="Stop after this many epochs without a better test accuracy.")
    with c3:
        st.number_input("Training images (0 = all 60,000)", min_value=0, max_value=60_000, step=1000,
                        key="tf_limit_train", persist_state="session",
                        help="Train on the first N images only: a quick run to try things out.")
        st.number_input("Test images (0 = all 10,000)", min_value=0, max_value=10_000, step=1000,
                        key="tf_limit_test", persist_state="session")
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="tf_seed", persist_state="session")
        st.selectbox("Device", available_devices(), key="tf_device", persist_state="session")
    st.toggle("Augmentation (random rotation, shift, scale)", key="tf_augment", persist_state="session")

    run = session.current_run()
    busy = run is not None and run.active
    try:
        config = _config().validate()
        estimate = sched.estimate_seconds(config)
    except ValueError as exc:
        config, estimate = None, None
        st.error(f"Check the form: {exc}")
    if estimate is not None:
        images = (config.limit_train or 60_000) * config.epochs
        st.markdown(f"**Expected time on this machine:** {fmt.about(estimate)} "
                    f"({config.epochs} epoch{'s' if config.epochs != 1 else ''}, {images:,} training images).")
    st.button("Start training", key="train_start", type="primary", on_click=_start,
              disabled=busy or config is None,
              help="A run is in progress in this session." if busy else None)

notice = st.session_state.get(NOTICE_KEY)
if notice:
    getattr(st, notice[0])(notice[1])

