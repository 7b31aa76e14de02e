"""The Train page's form: presets and the recipe's fields, within the room's rules, kept per participant."""

from __future__ import annotations

import enum

import streamlit as st

from simplecnn.data import TEST_SIZE, TRAIN_SIZE
from simplecnn.device import available_devices
from simplecnn.training.config import RECIPES, TrainConfig
from simplecnn.workshop.room import CUSTOM, RoomRules, live_report_every, probe_digit
from ui import fmt, resources
from ui import participant as participants

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
PRESET_KEY, BASE_KEY, NOTICE_KEY = "train_preset", "train_base_recipe", "train_notice"
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


def expected_text(config: TrainConfig, estimate: float | None) -> str:
    """Only what there is a basis for: a budget is exact; otherwise this machine's measured pace, or "measuring…"."""
    if config.budgeted:
        return f"{fmt.duration(config.budget)}, exactly (a time budget: as many training images as fit)."
    if estimate is None:
        return "measuring… (a few seconds' calibration, or after the run that is training now)."
    images = (config.limit_train or TRAIN_SIZE) * config.epochs
    return f"{fmt.about(estimate)} · {config.epochs} epoch{'s' * (config.epochs != 1)}, {images:,} training images."


# ---- the form's state ----------------------------------------------------------------------------------------
def rules() -> RoomRules:
    return participants.room().rules


def preset_recipe(name: str | None) -> TrainConfig:
    """A preset's recipe within the room's caps."""
    for _, (_, recipe) in PRESETS.items():
        if recipe is not None and recipe.recipe == name:
            return rules().cap(recipe)
    return rules().cap(QUICK)


def _widget_value(config: TrainConfig, field: str) -> object:
    """A config field as its form widget holds it: enums (the LR schedule) as their plain text."""
    value = getattr(config, field)
    return value.value if isinstance(value, enum.Enum) else value


def _load_recipe(name: str) -> None:
    base = preset_recipe(name)
    st.session_state[BASE_KEY] = base.recipe
    for key, field in FIELDS.items():
        st.session_state[key] = _widget_value(base, field)


def on_preset() -> None:
    recipe = PRESETS.get(str(st.session_state.get(PRESET_KEY)), ("", None))[1]
    if recipe is not None:
        _load_recipe(recipe.recipe)


def allowed_labels() -> list[str]:
    allowed = [label for label, (rule, _) in PRESETS.items() if rule in rules().allowed_presets]
    return allowed or [QUICK_LABEL]


def prepare(person) -> None:
    """Before any widget: restore the participant's settings (a reload is a new session), then make the form
    obey the room's rules (an allowed preset; values within the caps, which are also the inputs' limits)."""
    for key, value in person.settings.items():  # also after a page switch, which drops widget values
        st.session_state.setdefault(key, value)
    allowed = allowed_labels()
    if st.session_state.get(PRESET_KEY) not in allowed:
        st.session_state[PRESET_KEY] = QUICK_LABEL if QUICK_LABEL in allowed else allowed[0]
        st.session_state.pop(BASE_KEY, None)
    if BASE_KEY not in st.session_state or any(key not in st.session_state for key in FIELDS):
        recipe = PRESETS[st.session_state[PRESET_KEY]][1]
        _load_recipe(recipe.recipe if recipe is not None else QUICK.recipe)
    capped = rules().cap(_form_values_config())
    for key, field in FIELDS.items():
        st.session_state[key] = _widget_value(capped, field)


def _form_values_config() -> TrainConfig:
    base = preset_recipe(st.session_state.get(BASE_KEY))
    return base.replace(**{field: st.session_state[key] for key, field in FIELDS.items()})


def changed_fields() -> list[str]:
    """Fields that differ from the selected preset (all of them count as custom under "Custom")."""
    recipe = PRESETS.get(str(st.session_state.get(PRESET_KEY)), ("", None))[1]
    if recipe is None:
        return list(FIELDS.values())
    base = rules().cap(recipe)
    return [field for key, field in FIELDS.items() if st.session_state.get(key) != getattr(base, field)]


def preset_rule() -> str:
    """The preset this run counts as under the room's rules: custom as soon as a field differs."""
    return CUSTOM if changed_fields() else PRESETS[st.session_state[PRESET_KEY]][0]


def form_config() -> TrainConfig:
    """The recipe the form describes (hidden fields such as pct_start come from the last preset loaded).

    Editing a field does not flip the preset control to "Custom" (a callback that changes another widget races
    with quick typing and can reset the form); the run is simply recorded as recipe "custom" then.
    """
    config = _form_values_config()
    name = config.recipe if preset_rule() != CUSTOM else CUSTOM
    return config.replace(recipe=name, report_every=live_report_every(config))


def watched_digit():
    """The digit to watch while the model learns: the visitor's last drawing, else the picked test image."""
    drawing = st.session_state.get(DRAWING_KEY)
    if drawing is not None:
        return drawing
    return probe_digit(resources.test_image(int(st.session_state.get(PROBE_INDEX, 0)) % resources.test_count()))


def settings_panel() -> None:
    """The Settings expander: every field of the recipe, within the room's caps."""
    caps = rules()
    with st.expander("Settings", expanded=st.session_state.get(PRESET_KEY) == "Custom"):
        c1, c2, c3 = st.columns(3)
        with c1:
            st.number_input("Epochs", min_value=1, max_value=caps.max_epochs or 200, step=1, key="tf_epochs")
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
            st.number_input(
                "Weight decay", min_value=0.0, max_value=1.0, step=1e-4, format="%.5f", key="tf_weight_decay"
            )
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
            cap = caps.max_train_images
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
