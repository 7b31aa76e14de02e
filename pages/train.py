"""Train: pick a preset (Quick by default), start a run on the shared scheduler, watch it live, keep the best.

The run belongs to the participant (a private token in the URL, see ui.participant), so a reload or the same
link in another tab or on a phone shows the same run, its curves and its Stop button. The live panel sits
right below the Start button, so after pressing it the progress bar is where the eye already is.
"""

from __future__ import annotations

import enum
from pathlib import Path

import streamlit as st

from simplecnn import room_plots
from simplecnn.config import RECIPES, TrainConfig
from simplecnn.data import TEST_SIZE, TRAIN_SIZE
from simplecnn.device import available_devices
from simplecnn.room import CUSTOM, RoomRuleError, RoomRules, live_report_every, probe_digit
from simplecnn.scheduler import Run, SessionBusy
from simplecnn.train import RunStatus
from ui import fmt, models, resources, router, session
from ui import participant as participants

router.ensure_app_router()

QUICK = RECIPES["quick"]  # a time-budgeted run: its estimate is exact by construction
QUICK_LABEL = f"Quick · {QUICK.budget:.0f} s"
TUTORIAL_LABEL = "Tutorial (15 epochs)"
# Preset label -> (room rule name, recipe). Custom starts from whatever preset was loaded last.
PRESETS: dict[str, tuple[str, TrainConfig | None]] = {
    QUICK_LABEL: ("quick", QUICK),
    TUTORIAL_LABEL: ("tutorial", RECIPES["tutorial"]),
    "Custom": (CUSTOM, None),
}
RULE_LABELS = {rule: label for label, (rule, _) in PRESETS.items()}
PRESET_KEY, BASE_KEY, NOTICE_KEY, RULES_SEEN = "train_preset", "train_base_recipe", "train_notice", "train_rules_v"
PROBE_INDEX, DRAWING_KEY = "train_probe_index", "last_drawing_x"
# Form widget key -> TrainConfig field.
FIELDS = {
    "tf_epochs": "epochs",
    "tf_batch_size": "batch_size",
    "tf_lr": "lr",
    "tf_schedule": "schedule",
    "tf_step_size": "step_size",
    "tf_gamma": "gamma",
    "tf_patience": "patience",
    "tf_seed": "seed",
    "tf_augment": "augment",
    "tf_weight_decay": "weight_decay",
    "tf_limit_train": "limit_train",
    "tf_limit_test": "limit_test",
    "tf_device": "device",
    "tf_budget": "budget",
}
SAVED = (PRESET_KEY, BASE_KEY, PROBE_INDEX, *FIELDS)  # kept per participant, so they survive a reload
SCHEDULES = {"step": "StepLR (per epoch)", "onecycle": "One-cycle (per batch)"}
sched = resources.scheduler()
room = participants.room()


def _expected_text(config: TrainConfig, estimate: float | None) -> str:
    """Only what there is a basis for: a budget is exact; otherwise this machine's measured pace, or "measuring…"."""
    if config.budgeted:
        return f"{fmt.duration(config.budget)}, exactly (a time budget: as many training images as fit)."
    if estimate is None:
        return "measuring… (a few seconds' calibration, or after the run that is training now)."
    images = (config.limit_train or TRAIN_SIZE) * config.epochs
    return f"{fmt.about(estimate)} · {config.epochs} epoch{'s' * (config.epochs != 1)}, {images:,} training images."


# ---- the form's state ----------------------------------------------------------------------------------------
def _rules() -> RoomRules:
    return room.rules


def _base(name: str | None) -> TrainConfig:
    """A preset's recipe within the room's caps."""
    for _, (_, recipe) in PRESETS.items():
        if recipe is not None and recipe.recipe == name:
            return _rules().cap(recipe)
    return _rules().cap(QUICK)


def _widget_value(config: TrainConfig, field: str) -> object:
    """A config field as its form widget holds it: enums (the LR schedule) as their plain text."""
    value = getattr(config, field)
    return value.value if isinstance(value, enum.Enum) else value


def _load_recipe(name: str) -> None:
    base = _base(name)
    st.session_state[BASE_KEY] = base.recipe
    for key, field in FIELDS.items():
        st.session_state[key] = _widget_value(base, field)


def _on_preset() -> None:
    recipe = PRESETS.get(str(st.session_state.get(PRESET_KEY)), ("", None))[1]
    if recipe is not None:
        _load_recipe(recipe.recipe)


def _allowed_labels() -> list[str]:
    allowed = [label for label, (rule, _) in PRESETS.items() if rule in _rules().allowed_presets]
    return allowed or [QUICK_LABEL]


def _prepare_form(person) -> None:
    """Before any widget: restore the participant's settings (a reload is a new session), then make the form
    obey the room's rules (an allowed preset; values within the caps, which are also the inputs' limits)."""
    for key, value in person.settings.items():  # also after a page switch, which drops widget values
        st.session_state.setdefault(key, value)
    allowed = _allowed_labels()
    if st.session_state.get(PRESET_KEY) not in allowed:
        st.session_state[PRESET_KEY] = QUICK_LABEL if QUICK_LABEL in allowed else allowed[0]
        st.session_state.pop(BASE_KEY, None)
    if BASE_KEY not in st.session_state or any(key not in st.session_state for key in FIELDS):
        recipe = PRESETS[st.session_state[PRESET_KEY]][1]
        _load_recipe(recipe.recipe if recipe is not None else QUICK.recipe)
    capped = _rules().cap(_form_values_config())
    for key, field in FIELDS.items():
        st.session_state[key] = _widget_value(capped, field)


def _form_values_config() -> TrainConfig:
    base = _base(st.session_state.get(BASE_KEY))
    return base.replace(**{field: st.session_state[key] for key, field in FIELDS.items()})


def _changed_fields() -> list[str]:
    """Fields that differ from the selected preset (all of them count as custom under "Custom")."""
    recipe = PRESETS.get(str(st.session_state.get(PRESET_KEY)), ("", None))[1]
    if recipe is None:
        return list(FIELDS.values())
    base = _rules().cap(recipe)
    return [field for key, field in FIELDS.items() if st.session_state.get(key) != getattr(base, field)]


def _preset_rule() -> str:
    """The preset this run counts as under the room's rules: custom as soon as a field differs."""
    return CUSTOM if _changed_fields() else PRESETS[st.session_state[PRESET_KEY]][0]


def _config() -> TrainConfig:
    """The recipe the form describes (hidden fields such as pct_start come from the last preset loaded).

    Editing a field does not flip the preset control to "Custom" (a callback that changes another widget races
    with quick typing and can reset the form); the run is simply recorded as recipe "custom" then.
    """
    config = _form_values_config()
    name = config.recipe if _preset_rule() != CUSTOM else CUSTOM
    return config.replace(recipe=name, report_every=live_report_every(config))


def _probe():
    """The digit to watch while the model learns: the visitor's last drawing, else the picked test image."""
    drawing = st.session_state.get(DRAWING_KEY)
    if drawing is not None:
        return drawing
    return probe_digit(resources.test_image(int(st.session_state.get(PROBE_INDEX, 0)) % resources.test_count()))


# ---- actions (callbacks) -------------------------------------------------------------------------------------
def _start() -> None:
    st.session_state.pop(NOTICE_KEY, None)
    person = participants.ensure()
    person.named = True  # starting a run confirms the name shown
    try:
        config = _config().validate()
        _rules().check(_preset_rule(), config)
        if sched.paused:
            st.session_state[NOTICE_KEY] = (
                "info",
                "The host has paused new starts: your run waits in the queue until they resume.",
            )
        sched.estimate_seconds(config)  # raises ValueError for a device this machine lacks
        run = sched.submit(person.id, config, probe=_probe() if resources.has_data() else None)
    except SessionBusy as exc:
        st.session_state[NOTICE_KEY] = ("warning", f"One run at a time: {exc}. Stop it first.")
    except (RoomRuleError, ValueError) as exc:
        st.session_state[NOTICE_KEY] = ("error", f"Cannot start: {exc}")
    else:
        session.set_current_run(run)


def _stop(run_id: str) -> None:
    person = session.participant()
    run = sched.get(run_id)
    if person is not None and run is not None and run.session == person.id:  # only the owner's page stops it
        sched.cancel(run_id)


def _use_model(path: str, label: str) -> None:
    models.set_current_source(models.ModelSource("run", label, path))


def _rename() -> None:
    person = participants.ensure()
    room.rename(person, st.session_state.get("train_name", ""))


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


def _live(was_status: RunStatus | None) -> None:
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


def _live_every(run: Run | None) -> float | None:
    """How often the live panel polls: every redraw costs the server a script run that competes with training
    for the GIL, so a training run is redrawn every 2 s (3 s for a long one, which changes slowly) and a queued
    one every 3 s (30 waiting pages must cost the server little)."""
    if run is None or not run.active:
        return None
    if run.status == RunStatus.QUEUED:
        return 3.0
    expected = sched.estimate_seconds(run.config) or 0.0
    return 2.0 if expected <= 300 else 3.0


def _rules_panel(version: int) -> None:
    """The room's rules, refreshed every few seconds: a change by the host shows up without a reload."""
    if room.rules_version != version:
        st.rerun(scope="app")
    lines = _rules().describe(RULE_LABELS)
    if sched.paused:
        lines.append("New starts are paused by the host: runs wait in the queue")
    if lines:
        st.info("Room rules: " + " · ".join(lines) + ".")


# ---- page --------------------------------------------------------------------------------------------------
person = participants.ensure()
_prepare_form(person)

st.title("Train")
st.caption(
    f"Train SimpleCNN on MNIST on this server ({resources.device_description()}). Your run follows this "
    f"page's link: reload, switch pages or open it on your phone."
)
if not resources.has_data():
    st.warning(resources.missing_data_message() + " Without it, training will try to download MNIST (needs internet).")

if not person.named:  # asked once, with a random friendly default already filled in
    st.text_input(
        "Your name on the class board (press Enter to keep it)",
        value=person.name,
        key="train_name",
        max_chars=40,
        on_change=_rename,
    )
else:
    who, rename = st.columns([3, 2], vertical_alignment="bottom")
    who.text(f"You are {person.name} on the class board.")  # st.text: a name is text, never markdown
    with rename.popover("Change name", width="stretch"):
        st.text_input("Your name on the board", value=person.name, key="train_name", max_chars=40, on_change=_rename)
if st.session_state.get(participants.NEW_KEY):
    st.caption("This link's participant is not known to this server (it may have restarted): you have a new one.")

st.fragment(_rules_panel, run_every=5.0)(room.rules_version)

run = session.current_run()
busy = run is not None and run.active
allowed = _allowed_labels()
st.segmented_control(
    "Preset",
    allowed,
    key=PRESET_KEY,
    on_change=_on_preset,
    required=True,
    help=f"{QUICK_LABEL}: a short run with a one-cycle learning rate (≈98%+). Tutorial: the "
    "notebook's 15 epochs with StepLR. Custom: whatever you set under Settings.",
)
# Always exactly one caption here: an element that comes and goes above the form would make the browser
# re-create the inputs below it and drop whatever is being typed while the app reruns.
changed = _changed_fields()
if st.session_state.get(PRESET_KEY) == "Custom":
    st.caption("Custom: the settings below, as you set them.")
elif changed:
    st.caption(
        f"Changed from the {st.session_state[PRESET_KEY]} preset ({', '.join(changed)}): "
        f"this run is recorded as a custom recipe."
    )
else:
    st.caption(f"The {st.session_state[PRESET_KEY]} preset. Open Settings to make your own recipe.")

config: TrainConfig | None = None
estimate: float | None = None
problem = ""
try:
    config = _config().validate()
    estimate = sched.estimate_seconds(config)
except ValueError as exc:
    config, problem = None, str(exc)
go, what = st.columns([1, 3], vertical_alignment="center")
go.button(
    "Start training",
    key="train_start",
    type="primary",
    on_click=_start,
    disabled=busy or config is None,
    width="stretch",
    help="Your run is in progress." if busy else None,
)
if config is None:
    what.error(f"Check the settings: {problem}")
else:
    what.markdown(f"**Expected time on this machine:** {_expected_text(config, estimate)}")
notice = st.session_state.get(NOTICE_KEY)
if notice:
    getattr(st, notice[0])(notice[1])

# The participant's run, live: right below the button, so after Start the progress bar is in view.
with st.container(key="train_live"):  # one block: what the live panel adds or drops never shifts the form
    st.fragment(_live, run_every=_live_every(run))(run.status if run is not None else None)

rules = _rules()
with st.expander("Settings", expanded=st.session_state.get(PRESET_KEY) == "Custom"):
    c1, c2, c3 = st.columns(3)
    with c1:
        st.number_input("Epochs", min_value=1, max_value=rules.max_epochs or 200, step=1, key="tf_epochs")
        st.number_input("Batch size", min_value=1, max_value=8192, step=32, key="tf_batch_size")
        st.number_input(
            "Learning rate",
            min_value=1e-6,
            max_value=1.0,
            step=1e-4,
            format="%.5f",
            key="tf_lr",
            help="Adam's learning rate (the peak rate for one-cycle).",
        )
        st.number_input("Weight decay", min_value=0.0, max_value=1.0, step=1e-4, format="%.5f", key="tf_weight_decay")
    with c2:
        st.selectbox("LR schedule", list(SCHEDULES), key="tf_schedule", format_func=SCHEDULES.__getitem__)
        step_disabled = st.session_state["tf_schedule"] != "step"
        st.number_input(
            "StepLR step (epochs)", min_value=1, max_value=200, step=1, key="tf_step_size", disabled=step_disabled
        )
        st.number_input(
            "StepLR gamma",
            min_value=0.01,
            max_value=1.0,
            step=0.05,
            format="%.2f",
            key="tf_gamma",
            disabled=step_disabled,
        )
        st.number_input(
            "Early-stopping patience (epochs)",
            min_value=1,
            max_value=200,
            step=1,
            key="tf_patience",
            help="Stop after this many epochs without a better test accuracy.",
        )
    with c3:
        cap = rules.max_train_images
        st.number_input(
            f"Training images (0 = all {TRAIN_SIZE:,})"
            if not cap
            else f"Training images (the room allows up to {cap:,})",
            min_value=0 if not cap else 1,
            max_value=cap or TRAIN_SIZE,
            step=1000,
            key="tf_limit_train",
            help="Train on the first N images only: a quick run to try things out.",
        )
        st.number_input(
            f"Test images (0 = all {TEST_SIZE:,})", min_value=0, max_value=TEST_SIZE, step=1000, key="tf_limit_test"
        )
        st.number_input(
            "Time budget in seconds (0 = off)",
            min_value=0.0,
            max_value=3600.0,
            step=10.0,
            format="%.0f",
            key="tf_budget",
            help="Train for this wall time, the final evaluation included: the LR "
            "schedule follows the clock, so the run ends on time with the learning rate annealed.",
        )
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="tf_seed")
        st.selectbox("Device", available_devices(), key="tf_device")
    st.toggle("Augmentation (random rotation, shift, scale)", key="tf_augment")
    if st.session_state.get(DRAWING_KEY) is not None:
        st.caption("Watched while it learns: your last drawing on the Draw page.")
    else:
        st.number_input(
            "Digit to watch while it learns (test image number)",
            min_value=0,
            max_value=9_999,
            step=1,
            key=PROBE_INDEX,
            help="Draw a digit on the Draw page to watch your own instead.",
        )

st.caption(
    "This page's address is your private link: open it on another device to follow and stop your run. "
    "Anyone with it can stop your run, so keep it to yourself."
)
person.settings = {key: st.session_state[key] for key in SAVED if key in st.session_state}
