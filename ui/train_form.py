"""The Train page's form: presets and the recipe's fields, within the room's rules, kept per participant."""

from __future__ import annotations

import enum

import streamlit as st

from simplecnn.data import TEST_SIZE, TRAIN_SIZE
from simplecnn.device import available_devices
from simplecnn.model import ARCHITECTURES, count_parameters
from simplecnn.training.config import RECIPES, TrainConfig, for_architecture
from simplecnn.workshop.room import CUSTOM, RoomRules, live_report_every, probe_digit
from ui import fmt, i18n, resources
from ui import participant as participants
from ui.i18n import t

QUICK = RECIPES["quick"]  # a time-budgeted run: its estimate is exact by construction
QUICK_NAME, TUTORIAL_NAME = "quick", "tutorial"
# Preset (its room rule name, also the widget's value) -> recipe. Custom starts from the preset loaded last.
PRESETS: dict[str, TrainConfig | None] = {QUICK_NAME: QUICK, TUTORIAL_NAME: RECIPES["tutorial"], CUSTOM: None}
PRESET_KEY, BASE_KEY, NOTICE_KEY = "train_preset", "train_base_recipe", "train_notice"
PROBE_INDEX, DRAWING_KEY = "train_probe_index", "last_drawing_x"
MODEL_KEY = "tf_model"  # the network: not a recipe field of the form, since each preset is tuned per network
MODELS = tuple(ARCHITECTURES)  # simplecnn, lenet5
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
MAX_BATCH = 8192  # the form's own ceiling; the host's memory allowance usually sets a lower one
SAVED = (PRESET_KEY, BASE_KEY, PROBE_INDEX, MODEL_KEY, *FIELDS)  # kept per participant, so they survive a reload
SCHEDULES = ("step", "onecycle")


def preset_label(name: str) -> str:
    """A preset as the visitor reads it ('Quick · 30 s', 'Tutorial (15 epochs)', 'Custom')."""
    return t(f"train.preset.{name}", seconds=QUICK.budget, count=RECIPES["tutorial"].epochs)


def expected_text(config: TrainConfig, estimate: float | None) -> str:
    """Only what there is a basis for: a budget is exact; otherwise this machine's measured pace, or "measuring…"."""
    if config.budgeted:
        return t("train.expected.budget", duration=fmt.duration(config.budget))
    if estimate is None:
        return t("train.expected.measuring")
    images = (config.limit_train or TRAIN_SIZE) * config.epochs
    return t("train.expected.estimate", about=fmt.about(estimate), count=config.epochs, images=images)


# ---- the form's state ----------------------------------------------------------------------------------------
def rules() -> RoomRules:
    return participants.room().rules


def chosen_model() -> str:
    model = st.session_state.get(MODEL_KEY)
    return model if model in MODELS else MODELS[0]


def preset_recipe(name: str | None) -> TrainConfig:
    """A preset's recipe, tuned for the chosen network, within the room's caps."""
    for recipe in PRESETS.values():
        if recipe is not None and recipe.recipe == name:
            return rules().cap(for_architecture(recipe, chosen_model()))
    return rules().cap(for_architecture(QUICK, chosen_model()))


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
    recipe = PRESETS.get(str(st.session_state.get(PRESET_KEY)))
    if recipe is not None:
        _load_recipe(recipe.recipe)


def on_model() -> None:
    """Another network: the form takes the last preset's recipe as tuned for it (LeNet-5's Quick: lr 1e-2)."""
    _load_recipe(str(st.session_state.get(BASE_KEY) or QUICK.recipe))


def model_choice() -> None:
    """SimpleCNN (the tutorial's) or LeNet-5 (its part 2), with each one's parameter count."""
    labels = {m: t("networks.option", name=fmt.network(m), count=count_parameters(ARCHITECTURES[m]())) for m in MODELS}
    st.radio(
        t("networks.label"),
        MODELS,
        key=MODEL_KEY,
        horizontal=True,
        format_func=lambda m: labels.get(m, str(m)),
        on_change=on_model,
        help=t("networks.help"),
    )


def allowed_presets() -> list[str]:
    allowed = [name for name in PRESETS if name in rules().allowed_presets]
    return allowed or [QUICK_NAME]


def prepare(person) -> None:
    """Before any widget: restore the participant's settings (a reload is a new session), then make the form
    obey the room's rules (an allowed preset; values within the caps, which are also the inputs' limits)."""
    for key, value in person.settings.items():  # also after a page switch, which drops widget values
        st.session_state.setdefault(key, value)
    if st.session_state.get(MODEL_KEY) not in MODELS:
        st.session_state[MODEL_KEY] = MODELS[0]
    allowed = allowed_presets()
    if st.session_state.get(PRESET_KEY) not in allowed:
        st.session_state[PRESET_KEY] = QUICK_NAME if QUICK_NAME in allowed else allowed[0]
        st.session_state.pop(BASE_KEY, None)
    if BASE_KEY not in st.session_state or any(key not in st.session_state for key in FIELDS):
        recipe = PRESETS[st.session_state[PRESET_KEY]]
        _load_recipe(recipe.recipe if recipe is not None else QUICK.recipe)
    capped = rules().cap(_form_values_config())
    for key, field in FIELDS.items():
        st.session_state[key] = _widget_value(capped, field)


def _form_values_config() -> TrainConfig:
    base = preset_recipe(st.session_state.get(BASE_KEY))
    return base.replace(**{field: st.session_state[key] for key, field in FIELDS.items()})


def changed_fields() -> list[str]:
    """Fields that differ from the selected preset (all of them count as custom under "Custom")."""
    recipe = PRESETS.get(str(st.session_state.get(PRESET_KEY)))
    if recipe is None:
        return list(FIELDS.values())
    base = rules().cap(for_architecture(recipe, chosen_model()))
    return [field for key, field in FIELDS.items() if st.session_state.get(key) != getattr(base, field)]


def preset_rule() -> str:
    """The preset this run counts as under the room's rules: custom as soon as a field differs."""
    return CUSTOM if changed_fields() else str(st.session_state[PRESET_KEY])


def form_config() -> TrainConfig:
    """The recipe the form describes (hidden fields such as pct_start come from the last preset loaded).

    Editing a field does not flip the preset control to "Custom" (a callback that changes another widget races
    with quick typing and can reset the form); the run is simply recorded as recipe "custom" then.
    """
    config = _form_values_config()
    name = config.recipe if preset_rule() != CUSTOM else CUSTOM
    return config.replace(recipe=name, report_every=live_report_every(config))


def batch_cap() -> int:
    """The largest batch size the host's memory allowance per run permits (the scheduler refuses larger); a
    value above it, left from before the host lowered the allowance, is brought down to it."""
    values = {field: st.session_state[key] for key, field in FIELDS.items() if key in st.session_state}
    probe = TrainConfig(augment=bool(values.get("augment", False)), limit_test=int(values.get("limit_test") or 0))
    cap = max(1, min(MAX_BATCH, resources.scheduler().largest_batch(probe)))
    if int(st.session_state.get("tf_batch_size") or 0) > cap:
        st.session_state["tf_batch_size"] = cap
    return cap


def watched_digit():
    """The digit to watch while the model learns: the visitor's last drawing, else the picked test image."""
    drawing = st.session_state.get(DRAWING_KEY)
    if drawing is not None:
        return drawing
    return probe_digit(resources.test_image(int(st.session_state.get(PROBE_INDEX, 0)) % resources.test_count()))


def settings_panel() -> None:
    """The Settings expander: every field of the recipe, within the room's caps."""
    caps = rules()
    with st.expander(t("train.settings"), expanded=st.session_state.get(PRESET_KEY) == CUSTOM):
        c1, c2, c3 = st.columns(3)
        with c1:
            st.number_input(
                t("train.field.epochs"), min_value=1, max_value=caps.max_epochs or 200, step=1, key="tf_epochs"
            )
            st.number_input(
                t("train.field.batch_size"),
                min_value=1,
                max_value=batch_cap(),
                step=32,
                key="tf_batch_size",
                help=t("security.batch_help", mb=resources.scheduler().memory_limit_mb),
            )
            st.number_input(
                t("train.field.lr"),
                min_value=1e-6,
                max_value=1.0,
                step=1e-4,
                format="%.5f",
                key="tf_lr",
                help=t("train.help.lr"),
            )
            st.number_input(
                t("train.field.weight_decay"),
                min_value=0.0,
                max_value=1.0,
                step=1e-4,
                format="%.5f",
                key="tf_weight_decay",
            )
        with c2:
            st.selectbox(
                t("train.field.schedule"),
                SCHEDULES,
                key=i18n.localized("tf_schedule"),
                format_func=i18n.choices(SCHEDULES, lambda v: t(f"train.schedule.{v}")),
            )
            step_disabled = st.session_state["tf_schedule"] != "step"
            st.number_input(
                t("train.field.step_size"),
                min_value=1,
                max_value=200,
                step=1,
                key="tf_step_size",
                disabled=step_disabled,
            )
            st.number_input(
                t("train.field.gamma"),
                min_value=0.01,
                max_value=1.0,
                step=0.05,
                format="%.2f",
                key="tf_gamma",
                disabled=step_disabled,
            )
            st.number_input(
                t("train.field.patience"),
                min_value=1,
                max_value=200,
                step=1,
                key="tf_patience",
                help=t("train.help.patience"),
            )
        with c3:
            cap = caps.max_train_images
            st.number_input(
                t("train.field.limit_train_all", count=TRAIN_SIZE)
                if not cap
                else t("train.field.limit_train_cap", count=cap),
                min_value=0 if not cap else 1,
                max_value=cap or TRAIN_SIZE,
                step=1000,
                key="tf_limit_train",
                help=t("train.help.limit_train"),
            )
            st.number_input(
                t("train.field.limit_test_all", count=TEST_SIZE),
                min_value=0,
                max_value=TEST_SIZE,
                step=1000,
                key="tf_limit_test",
            )
            st.number_input(
                t("train.field.budget_off"),
                min_value=0.0,
                max_value=3600.0,
                step=10.0,
                format="%.0f",
                key="tf_budget",
                help=t("train.help.budget"),
            )
            st.number_input(t("train.field.seed"), min_value=0, max_value=2**31 - 1, step=1, key="tf_seed")
            devices = available_devices()
            st.selectbox(
                t("train.field.device"),
                devices,
                key=i18n.localized("tf_device"),
                format_func=i18n.choices(devices, resources.device_choice),
            )
        st.toggle(t("train.field.augment"), key="tf_augment")
        if st.session_state.get(DRAWING_KEY) is not None:
            st.caption(t("train.probe.drawing"))
        else:
            st.number_input(
                t("train.probe.label"),
                min_value=0,
                max_value=9_999,
                step=1,
                key=PROBE_INDEX,
                help=t("train.probe.help"),
            )
